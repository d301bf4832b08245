"""The customer's private inclusion package (``docs/FORMAT.md`` §8, §14.6).

:class:`Package` (with one :class:`PackageEntry` per asset the customer holds) is
written by the prover and parsed from untrusted bytes by the customer check
(:meth:`Package.from_bytes`); every error names the failing field as ``section``.
A package holds the customer's amounts, blindings and salts: nothing here logs them.

Package format 3 (bundles of format version 4, §14.6) is format 2 plus the key ``margin``:
``null``, or the customer's margin account (:class:`MarginEntry`, with one
:class:`MarginSlotEntry` per slot and one :class:`CollateralEntry` per collateral type).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from circuits.constants import GROUP_ORDER
from circuits.errors import ParameterError
from circuits.jsonio import Fields, canonical_json, load_json
from circuits.limits import (
    MARGIN_TYPES_RE,
    MAX_ASSETS,
    MAX_CHUNK,
    MAX_COLLATERAL_TYPES,
    MAX_DECIMALS,
    MAX_ID_BYTES,
    MAX_LABEL_BYTES,
    MAX_LEAVES,
    MAX_MARGIN_ACCOUNTS,
    MAX_MARGIN_SLOTS,
    MAX_PACKAGE_BYTES,
    RANGE_BITS,
    SYMBOL_RE,
)
from circuits.margin import SlotAmounts, SlotBlindings
from circuits.relations import Opening
from circuits.sumtree import chunk_path

__all__ = [
    "PACKAGE_FORMAT_VERSION_MARGIN",
    "PACKAGE_FORMAT_VERSION_SUM_TREE",
    "CollateralEntry",
    "MarginEntry",
    "MarginSlotEntry",
    "NodePathItem",
    "Package",
    "PackageEntry",
    "SumTreeEntry",
]

PACKAGE_FORMAT: Final[str] = "zk-solvency-package"
PACKAGE_FORMAT_VERSION: Final[int] = 1
#: Package format version 2: entries locate the leaf in a format-3 sum tree (§8, "Package format version 2").
PACKAGE_FORMAT_VERSION_SUM_TREE: Final[int] = 2
#: Package format version 3 (bundles of format version 4): version 2 plus the ``margin`` key (§14.6).
PACKAGE_FORMAT_VERSION_MARGIN: Final[int] = 3
_VERSIONS: Final[tuple[int, ...]] = (
    PACKAGE_FORMAT_VERSION, PACKAGE_FORMAT_VERSION_SUM_TREE, PACKAGE_FORMAT_VERSION_MARGIN,
)
#: A claimed haircut ``H`` is below ``2^72`` (``notes/42`` step 3); amounts and values are below ``2^64``.
_MAX_HAIRCUT_EXCLUSIVE: Final[int] = 1 << 72


def _leaf_json(e: PackageEntry | SumTreeEntry) -> dict[str, Any]:
    """The keys both entry versions share, in their order: the leaf's opening, salt, id and position."""
    return {
        "asset": e.asset,
        "decimals": e.decimals,
        "amount": str(e.amount),
        "blinding": e.blinding.to_bytes(32, "little").hex(),
        "leaf_salt": e.leaf_salt.hex(),
        "leaf_id": e.leaf_id.hex(),
        "leaf_index": e.leaf_index,
        "leaf_count": e.leaf_count,
    }


def _parse_leaf(f: Fields) -> tuple[str, int, int, int, bytes, bytes, int, int]:
    """Validate the fields both entry versions share: asset, decimals, amount, blinding, salt, id, count, index."""
    asset = f.text("asset", 16, SYMBOL_RE)
    decimals = f.integer("decimals", 0, MAX_DECIMALS)
    amount = f.uint_str("amount", 1 << RANGE_BITS)
    blinding = int.from_bytes(f.hexbytes("blinding", 32), "little")
    if blinding >= GROUP_ORDER:
        f.fail("blinding", "scalar is not canonical")
    salt = f.hexbytes("leaf_salt", 32)
    lid = f.hexbytes("leaf_id", 32)
    leaf_count = f.integer("leaf_count", 1, MAX_LEAVES)
    index = f.integer("leaf_index", 0, leaf_count - 1)
    return asset, decimals, amount, blinding, salt, lid, leaf_count, index


@dataclass(frozen=True)
class PackageEntry:
    """One asset of a customer package (§8). Holds secrets: never log it."""

    asset: str
    decimals: int
    amount: int
    blinding: int
    leaf_salt: bytes
    leaf_id: bytes
    leaf_index: int
    leaf_count: int
    merkle_root: bytes
    merkle_path: tuple[bytes, ...]

    def __repr__(self) -> str:
        return f"PackageEntry(asset={self.asset!r}, leaf_index={self.leaf_index}, <secret>)"

    def to_json(self) -> dict[str, Any]:
        """Return the package representation."""
        return {
            **_leaf_json(self),
            "merkle_root": self.merkle_root.hex(),
            "merkle_path": [p.hex() for p in self.merkle_path],
        }

    @classmethod
    def parse(cls, f: Fields) -> PackageEntry:
        """Validate one package entry."""
        asset, decimals, amount, blinding, salt, lid, leaf_count, index = _parse_leaf(f)
        root = f.hexbytes("merkle_root", 32)
        path = f.hex32_items("merkle_path", 64)
        f.done()
        return cls(asset, decimals, amount, blinding, salt, lid, index, leaf_count, root, path)


@dataclass(frozen=True)
class NodePathItem:
    """One sibling on a chunk's path to the root: its commitment (48 bytes, identity allowed) and hash."""

    commitment: bytes
    hash: bytes


@dataclass(frozen=True)
class SumTreeEntry:
    """One asset of a package of format version 2, for a bundle of format version 3 (§8). Secret.

    ``chunk_path`` is the leaf's audit path inside its chunk (exactly ``lg(chunk_size)`` hashes);
    ``node_path`` the siblings of the chunk node and of its ancestors below the root, chunk level
    first (exactly ``depth(k)`` items, ``k = leaf_index // chunk_size``; ``notes/41-sum-tree.md``).
    The points are decoded by the check, which holds a backend; here they are only 48 bytes of hex.
    """

    asset: str
    decimals: int
    amount: int
    blinding: int
    leaf_salt: bytes
    leaf_id: bytes
    leaf_index: int
    leaf_count: int
    chunk_size: int
    merkle_root: bytes
    liabilities_commitment: bytes
    chunk_path: tuple[bytes, ...]
    node_path: tuple[NodePathItem, ...]

    def __repr__(self) -> str:
        return f"SumTreeEntry(asset={self.asset!r}, leaf_index={self.leaf_index}, <secret>)"

    @property
    def chunk(self) -> int:
        """The number ``k`` of the chunk holding the leaf."""
        return self.leaf_index // self.chunk_size

    def to_json(self) -> dict[str, Any]:
        """Return the package representation (§8, package format version 2)."""
        return {
            **_leaf_json(self),
            "chunk_size": self.chunk_size,
            "merkle_root": self.merkle_root.hex(),
            "liabilities_commitment": self.liabilities_commitment.hex(),
            "chunk_path": [p.hex() for p in self.chunk_path],
            "node_path": [{"commitment": n.commitment.hex(), "hash": n.hash.hex()} for n in self.node_path],
        }

    @classmethod
    def parse(cls, f: Fields) -> SumTreeEntry:
        """Validate one entry of a version-2 package: every rule of §8 that needs no curve arithmetic.

        The path lengths are fixed by ``leaf_index``, ``leaf_count`` and ``chunk_size``; a path of
        another length is malformed (section ``...chunk_path`` or ``...node_path``).
        """
        asset, decimals, amount, blinding, salt, lid, leaf_count, index = _parse_leaf(f)
        m = f.integer("chunk_size", 1, MAX_CHUNK)
        if m & (m - 1) or leaf_count % m:
            f.fail("chunk_size", "must be a power of two dividing leaf_count")
        root = f.hexbytes("merkle_root", 32)
        c_l = f.hexbytes("liabilities_commitment", 48)
        cpath = f.hex32_items("chunk_path", MAX_CHUNK.bit_length())
        if len(cpath) != m.bit_length() - 1:
            f.fail("chunk_path", f"expected {m.bit_length() - 1} hashes (lg of chunk_size)")
        depth = len(chunk_path(leaf_count // m, index // m))
        raw = f.items("node_path", 64)
        if len(raw) != depth:
            f.fail("node_path", f"expected {depth} siblings (the chunk's depth in the tree)")
        items = []
        for i, item in enumerate(raw):
            g = Fields(item, f"{f.where}.node_path[{i}]")
            items.append(NodePathItem(g.hexbytes("commitment", 48), g.hexbytes("hash", 32)))
            g.done()
        f.done()
        return cls(
            asset, decimals, amount, blinding, salt, lid, index, leaf_count, m, root, c_l, cpath, tuple(items)
        )


#: An entry of either package format version.
AnyEntry = PackageEntry | SumTreeEntry


def _scalar_hex(k: int) -> str:
    return k.to_bytes(32, "little").hex()


def _scalar(f: Fields, key: str) -> int:
    value = int.from_bytes(f.hexbytes(key, 32), "little")
    if value >= GROUP_ORDER:
        f.fail(key, "scalar is not canonical")
    return value


@dataclass(frozen=True)
class CollateralEntry:
    """One collateral type of a margin slot (§14.6): pledged base units, value ``V`` and haircut ``H``. Secret."""

    type: str
    amount: int
    value: int
    value_blinding: int
    haircut: int
    haircut_blinding: int

    def __repr__(self) -> str:
        return f"CollateralEntry(type={self.type!r}, <secret>)"

    def to_json(self) -> dict[str, Any]:
        """Return the package representation."""
        return {
            "type": self.type,
            "amount": str(self.amount),
            "value": str(self.value),
            "value_blinding": _scalar_hex(self.value_blinding),
            "haircut": str(self.haircut),
            "haircut_blinding": _scalar_hex(self.haircut_blinding),
        }

    @classmethod
    def parse(cls, f: Fields) -> CollateralEntry:
        """Validate one collateral item."""
        kind = f.text("type", 16, MARGIN_TYPES_RE)
        amount = f.uint_str("amount", 1 << RANGE_BITS)
        value = f.uint_str("value", 1 << RANGE_BITS)
        value_blinding = _scalar(f, "value_blinding")
        haircut = f.uint_str("haircut", _MAX_HAIRCUT_EXCLUSIVE)
        haircut_blinding = _scalar(f, "haircut_blinding")
        f.done()
        return cls(kind, amount, value, value_blinding, haircut, haircut_blinding)


@dataclass(frozen=True)
class MarginSlotEntry:
    """One slot of the customer's margin record (§14.6), in record order. Secret.

    A real slot names one of the package's entries (``asset``, ``leaf_index``); a dummy
    slot names a zero leaf and has every amount 0.
    """

    asset: str
    leaf_index: int
    dummy: bool
    debt: int
    debt_blinding: int
    unpledged: int
    unpledged_blinding: int
    collateral: tuple[CollateralEntry, ...]

    def __repr__(self) -> str:
        return f"MarginSlotEntry(asset={self.asset!r}, leaf_index={self.leaf_index}, <secret>)"

    def to_json(self) -> dict[str, Any]:
        """Return the package representation."""
        return {
            "asset": self.asset,
            "leaf_index": self.leaf_index,
            "dummy": self.dummy,
            "debt": str(self.debt),
            "debt_blinding": _scalar_hex(self.debt_blinding),
            "unpledged": str(self.unpledged),
            "unpledged_blinding": _scalar_hex(self.unpledged_blinding),
            "collateral": [c.to_json() for c in self.collateral],
        }

    def is_zero(self) -> bool:
        """Whether every amount of the slot is 0 (as a dummy slot's must be)."""
        return not (self.debt or self.unpledged or any(c.amount or c.value or c.haircut for c in self.collateral))

    def amounts(self, asset: int, equity: int) -> SlotAmounts:
        """Return the slot's :class:`~circuits.margin.SlotAmounts`; ``asset`` its position, ``equity`` its leaf's."""
        return SlotAmounts(
            asset, self.leaf_index, equity, self.debt, self.unpledged,
            tuple(c.amount for c in self.collateral), tuple(c.value for c in self.collateral),
            tuple(c.haircut for c in self.collateral),
        )  # fmt: skip

    def blindings(self) -> SlotBlindings:
        """Return the slot's :class:`~circuits.margin.SlotBlindings`."""
        return SlotBlindings(
            self.debt_blinding, self.unpledged_blinding, tuple(c.value_blinding for c in self.collateral),
            tuple(c.haircut_blinding for c in self.collateral),
        )  # fmt: skip

    @classmethod
    def parse(cls, f: Fields) -> MarginSlotEntry:
        """Validate one slot: types and ranges, collateral types distinct and in ASCII order."""
        asset = f.text("asset", 16, SYMBOL_RE)
        leaf_index = f.integer("leaf_index", 0, MAX_LEAVES - 1)
        dummy = f.raw("dummy")
        if type(dummy) is not bool:
            f.fail("dummy", "expected true or false")
        debt = f.uint_str("debt", 1 << RANGE_BITS)
        debt_blinding = _scalar(f, "debt_blinding")
        unpledged = f.uint_str("unpledged", 1 << RANGE_BITS)
        unpledged_blinding = _scalar(f, "unpledged_blinding")
        raw = f.items("collateral", MAX_COLLATERAL_TYPES)
        collateral = tuple(CollateralEntry.parse(Fields(c, f"{f.where}.collateral[{i}]")) for i, c in enumerate(raw))
        types = [c.type for c in collateral]
        if not types or types != sorted(set(types)):
            f.fail("collateral", f"expected 1 to {MAX_COLLATERAL_TYPES} distinct types in ASCII order")
        f.done()
        return cls(asset, leaf_index, dummy, debt, debt_blinding, unpledged, unpledged_blinding, collateral)


@dataclass(frozen=True)
class MarginEntry:
    """The customer's margin account (package format 3, §14.6): where its record is, and its openings. Secret.

    ``merkle_path`` is the record's §5.1 audit path in the records tree (exactly ``lg(record_count)``
    hashes); ``slots`` are the record's ``S`` slots in record order; ``lo`` opens ``Lo``.
    """

    record_index: int
    record_count: int
    record_id: bytes
    margin_salt: bytes
    merkle_path: tuple[bytes, ...]
    slots: tuple[MarginSlotEntry, ...]
    lo: int
    lo_blinding: int

    def __repr__(self) -> str:
        return f"MarginEntry(record_index={self.record_index}, slots={len(self.slots)}, <secret>)"

    @property
    def collateral_types(self) -> tuple[str, ...]:
        """The collateral types the slots name (the same for every slot)."""
        return tuple(c.type for c in self.slots[0].collateral)

    def to_json(self) -> dict[str, Any]:
        """Return the package representation."""
        return {
            "record_index": self.record_index,
            "record_count": self.record_count,
            "record_id": self.record_id.hex(),
            "margin_salt": self.margin_salt.hex(),
            "merkle_path": [p.hex() for p in self.merkle_path],
            "slots": [s.to_json() for s in self.slots],
            "lo": str(self.lo),
            "lo_blinding": _scalar_hex(self.lo_blinding),
        }

    def lo_opening(self) -> Opening:
        """Return the opening of ``Lo``."""
        return Opening(self.lo, self.lo_blinding)

    @classmethod
    def parse(cls, f: Fields, entries: Sequence[AnyEntry]) -> MarginEntry:
        """Validate the ``margin`` object of a package whose entries are ``entries`` (§14.6).

        Every rule that needs no curve arithmetic and no manifest: the record's position and
        path length, slots in record order (assets strictly increasing) with the same collateral
        types, every real slot naming one of ``entries`` (asset and leaf index), every dummy slot 0.
        """
        count = f.integer("record_count", 1, MAX_MARGIN_ACCOUNTS)
        if count & (count - 1):
            f.fail("record_count", "not a power of two")
        index = f.integer("record_index", 0, count - 1)
        record_id = f.hexbytes("record_id", 32)
        salt = f.hexbytes("margin_salt", 32)
        path = f.hex32_items("merkle_path", 64)
        if len(path) != count.bit_length() - 1:
            f.fail("merkle_path", f"expected {count.bit_length() - 1} hashes (lg of record_count)")
        raw = f.items("slots", MAX_MARGIN_SLOTS)
        if not raw:
            f.fail("slots", "empty")
        slots = tuple(MarginSlotEntry.parse(Fields(s, f"{f.where}.slots[{i}]")) for i, s in enumerate(raw))
        symbols = [s.asset for s in slots]
        if symbols != sorted(set(symbols)):
            f.fail("slots", "slot assets must be distinct and in record (symbol) order")
        held = {(e.asset, e.leaf_index) for e in entries}
        for i, slot in enumerate(slots):
            if [c.type for c in slot.collateral] != [c.type for c in slots[0].collateral]:
                f.fail(f"slots[{i}].collateral", "every slot has the same collateral types")
            if slot.dummy and not slot.is_zero():
                f.fail(f"slots[{i}]", "a dummy slot has every amount 0")
            if not slot.dummy and (slot.asset, slot.leaf_index) not in held:
                f.fail(f"slots[{i}]", "a real slot names one of the package's entries (asset and leaf_index)")
        lo = f.uint_str("lo", 1 << RANGE_BITS)
        lo_blinding = _scalar(f, "lo_blinding")
        f.done()
        return cls(index, count, record_id, salt, path, slots, lo, lo_blinding)


@dataclass(frozen=True)
class Package:
    """A customer's private inclusion package (§8)."""

    exchange: str
    round: str
    bundle_digest: bytes
    customer_id: str
    entries: tuple[AnyEntry, ...]
    format_version: int = PACKAGE_FORMAT_VERSION
    #: Package format 3 only: the customer's margin account, ``None`` for a customer without one.
    margin: MarginEntry | None = None

    def __post_init__(self) -> None:
        kind = PackageEntry if self.format_version == PACKAGE_FORMAT_VERSION else SumTreeEntry
        if self.format_version not in _VERSIONS or not all(isinstance(e, kind) for e in self.entries):
            raise ParameterError(f"package format version {self.format_version!r} with entries of another kind")
        if self.margin is not None and self.format_version != PACKAGE_FORMAT_VERSION_MARGIN:
            raise ParameterError("a margin account belongs to package format 3")

    def __repr__(self) -> str:
        return f"Package(round={self.round!r}, entries={len(self.entries)}, <secret>)"

    def to_json(self) -> dict[str, Any]:
        """Return the package object."""
        return {
            "format": PACKAGE_FORMAT,
            "format_version": self.format_version,
            "exchange": self.exchange,
            "round": self.round,
            "bundle_digest": self.bundle_digest.hex(),
            "customer_id": self.customer_id,
            "entries": [e.to_json() for e in self.entries],
            **(
                {"margin": None if self.margin is None else self.margin.to_json()}
                if self.format_version == PACKAGE_FORMAT_VERSION_MARGIN
                else {}
            ),
        }

    def to_bytes(self) -> bytes:
        """Return the canonical JSON bytes of the package."""
        return canonical_json(self.to_json()) + b"\n"

    @classmethod
    def from_bytes(cls, data: bytes) -> Package:
        """Parse and validate a package (JSON, not required to be canonical).

        Raises:
            FormatError: on any malformed field, naming it.
        """
        f = Fields(load_json(data, MAX_PACKAGE_BYTES, "package")[0], "package")
        f.const("format", PACKAGE_FORMAT)
        version = f.raw("format_version")
        if type(version) is not int or version not in _VERSIONS:
            f.fail("format_version", f"expected one of {', '.join(map(str, _VERSIONS))}")
        kind: type[PackageEntry] | type[SumTreeEntry] = (
            PackageEntry if version == PACKAGE_FORMAT_VERSION else SumTreeEntry
        )
        exchange = f.label("exchange", MAX_LABEL_BYTES)
        round_label = f.label("round", MAX_LABEL_BYTES)
        digest = f.hexbytes("bundle_digest", 32)
        customer_id = f.label("customer_id", MAX_ID_BYTES)
        raw_entries = f.items("entries", MAX_ASSETS)
        if not raw_entries:
            f.fail("entries", "empty")
        entries: tuple[AnyEntry, ...] = tuple(
            kind.parse(Fields(e, f"package.entries[{i}]")) for i, e in enumerate(raw_entries)
        )
        if len({e.asset for e in entries}) != len(entries):
            f.fail("entries", "an asset appears twice")
        margin = None
        if version == PACKAGE_FORMAT_VERSION_MARGIN and f.raw("margin") is not None:
            margin = MarginEntry.parse(f.obj("margin"), entries)
        f.done()
        return cls(exchange, round_label, digest, customer_id, entries, version, margin)
