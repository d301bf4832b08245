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
from circuits.jsonio import Fields, canonical_json, load_json
from circuits.limits import (
    MAX_ASSETS,
    MAX_DECIMALS,
    MAX_ID_BYTES,
    MAX_LABEL_BYTES,
    MAX_LEAVES,
    MAX_PACKAGE_BYTES,
    RANGE_BITS,
    SYMBOL_RE,
)

__all__ = ["Package", "PackageEntry"]

PACKAGE_FORMAT: Final[str] = "zk-solvency-package"
PACKAGE_FORMAT_VERSION: Final[int] = 1


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
            "asset": self.asset,
            "decimals": self.decimals,
            "amount": str(self.amount),
            "blinding": self.blinding.to_bytes(32, "little").hex(),
            "leaf_salt": self.leaf_salt.hex(),
            "leaf_id": self.leaf_id.hex(),
            "leaf_index": self.leaf_index,
            "leaf_count": self.leaf_count,
            "merkle_root": self.merkle_root.hex(),
            "merkle_path": [p.hex() for p in self.merkle_path],
        }

    @classmethod
    def parse(cls, f: Fields) -> PackageEntry:
        """Validate one package entry."""
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
        root = f.hexbytes("merkle_root", 32)
        path = f.hex32_items("merkle_path", 64)
        f.done()
        return cls(asset, decimals, amount, blinding, salt, lid, index, leaf_count, root, path)


@dataclass(frozen=True)
class Package:
    """A customer's private inclusion package (§8)."""

    exchange: str
    round: str
    bundle_digest: bytes
    customer_id: str
    entries: tuple[PackageEntry, ...]

    def __repr__(self) -> str:
        return f"Package(round={self.round!r}, entries={len(self.entries)}, <secret>)"

    def to_json(self) -> dict[str, Any]:
        """Return the package object."""
        return {
            "format": PACKAGE_FORMAT,
            "format_version": PACKAGE_FORMAT_VERSION,
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
        f.const("format_version", PACKAGE_FORMAT_VERSION)
        exchange = f.label("exchange", MAX_LABEL_BYTES)
        round_label = f.label("round", MAX_LABEL_BYTES)
        digest = f.hexbytes("bundle_digest", 32)
        customer_id = f.label("customer_id", MAX_ID_BYTES)
        raw_entries = f.items("entries", MAX_ASSETS)
        if not raw_entries:
            f.fail("entries", "empty")
        entries = tuple(PackageEntry.parse(Fields(e, f"package.entries[{i}]")) for i, e in enumerate(raw_entries))
        if len({e.asset for e in entries}) != len(entries):
            f.fail("entries", "an asset appears twice")
        f.done()
        return cls(exchange, round_label, digest, customer_id, entries)
