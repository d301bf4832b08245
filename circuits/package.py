"""The customer's private inclusion package (``docs/FORMAT.md`` §8).

:class:`Package` (with one :class:`PackageEntry` per asset the customer holds) is
written by the prover and parsed from untrusted bytes by the customer check
(:meth:`Package.from_bytes`); every error names the failing field as ``section``.
A package holds the customer's amounts, blindings and salts: nothing here logs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from circuits.constants import GROUP_ORDER
from circuits.errors import ParameterError
from circuits.jsonio import Fields, canonical_json, load_json
from circuits.limits import (
    MAX_ASSETS,
    MAX_CHUNK,
    MAX_DECIMALS,
    MAX_ID_BYTES,
    MAX_LABEL_BYTES,
    MAX_LEAVES,
    MAX_PACKAGE_BYTES,
    RANGE_BITS,
    SYMBOL_RE,
)
from circuits.sumtree import chunk_path

__all__ = [
    "NodePathItem",
    "Package",
    "PackageEntry",
    "SumTreeEntry",
]

PACKAGE_FORMAT: Final[str] = "zk-solvency-package"
PACKAGE_FORMAT_VERSION: Final[int] = 1
#: Package format version 2: entries locate the leaf in a format-3 sum tree (§8, "Package format version 2").
PACKAGE_FORMAT_VERSION_SUM_TREE: Final[int] = 2


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


@dataclass(frozen=True)
class Package:
    """A customer's private inclusion package (§8)."""

    exchange: str
    round: str
    bundle_digest: bytes
    customer_id: str
    entries: tuple[AnyEntry, ...]
    format_version: int = PACKAGE_FORMAT_VERSION

    def __post_init__(self) -> None:
        kind = PackageEntry if self.format_version == PACKAGE_FORMAT_VERSION else SumTreeEntry
        if self.format_version not in (PACKAGE_FORMAT_VERSION, PACKAGE_FORMAT_VERSION_SUM_TREE) or not all(
            isinstance(e, kind) for e in self.entries
        ):
            raise ParameterError(f"package format version {self.format_version!r} with entries of another kind")

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
        if type(version) is not int or version not in (PACKAGE_FORMAT_VERSION, PACKAGE_FORMAT_VERSION_SUM_TREE):
            f.fail("format_version", f"expected {PACKAGE_FORMAT_VERSION} or {PACKAGE_FORMAT_VERSION_SUM_TREE}")
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
        f.done()
        return cls(exchange, round_label, digest, customer_id, entries, version)
