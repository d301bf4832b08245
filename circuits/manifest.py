"""``manifest.json``, the bundle's table of contents (``docs/FORMAT.md`` §6, §7 step 1, §14.3).

:class:`Manifest` (with its :class:`AssetEntry` and :class:`FileEntry` items) is
built by the prover (:meth:`Manifest.build`, :meth:`Manifest.to_bytes`) and parsed
from untrusted bytes by the verifier (:meth:`Manifest.from_bytes`): canonical form,
exact schema, bounds, file names and sizes, and the bundle digest are all checked
at parse time, and every error names the failing field as ``section``.

Format version 4 (margin accounts, §14.3) adds the top-level ``margin`` object
(:class:`~circuits.margin.MarginParams`, the records' root and the two margin files) and,
per asset, ``debt_commitment``, ``disclosed_debt`` and ``disclosed_collateral``.
"""

from __future__ import annotations

import datetime
import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from circuits.constants import GROUP_ORDER, PROTOCOL_LABEL
from circuits.datafiles import (
    HEADER_SIZE,
    LEAF_RECORD_SIZE,
    SOLVENCY_RECORD_SIZE,
    data_file_names,
    node_proof_record_size,
    range_record_size,
)
from circuits.errors import FormatError, ParameterError
from circuits.generators import generator_set_id
from circuits.jsonio import Fields, canonical_json, load_json
from circuits.limits import (
    MAX_ASSETS,
    MAX_CHUNK,
    MAX_DECIMALS,
    MAX_LABEL_BYTES,
    MAX_LEAVES,
    MAX_MANIFEST_BYTES,
    MAX_RATIO_TERM,
    RANGE_BITS,
    SOLVENCY_BITS,
    SYMBOL_RE,
)
from circuits.margin import MARGIN_PROOFS_NAME, MARGIN_RECORDS_NAME, MarginParams
from circuits.sumtree import NODE_RECORD_SIZE

__all__ = [
    "BUNDLE_FORMAT_VERSION",
    "BUNDLE_FORMAT_VERSION_MARGIN",
    "MANIFEST_NAME",
    "WALLETS_FILE",
    "AssetEntry",
    "FileEntry",
    "Manifest",
    "bundle_digest",
    "created_problem",
]

BUNDLE_FORMAT: Final[str] = "zk-solvency-bundle"
#: The version this code writes without margin accounts (the sum tree, §5.2); versions 1 and 2 are still read.
BUNDLE_FORMAT_VERSION: Final[int] = 3
#: The version written with margin accounts (§14): version 3 plus the margin section.
BUNDLE_FORMAT_VERSION_MARGIN: Final[int] = 4
#: The version of a bundle with a wallet list and the plain leaf tree (§12).
BUNDLE_FORMAT_VERSION_WALLETS: Final[int] = 2
#: The version of a bundle whose reserves are declared by the exchange (no wallet list).
BUNDLE_FORMAT_VERSION_DECLARED: Final[int] = 1
#: How an asset's reserves ``R`` were obtained: typed in (version 1), or summed from the wallet list's
#: verified wallets, with or without its attested entries (version 2).
RESERVES_BASES: Final[tuple[str, ...]] = ("declared", "wallets", "wallets+attested")
WALLETS_FILE: Final[str] = "wallets.json"
MANIFEST_NAME: Final[str] = "manifest.json"
#: Every version this code reads.
_VERSIONS: Final[tuple[int, ...]] = (
    BUNDLE_FORMAT_VERSION_DECLARED, BUNDLE_FORMAT_VERSION_WALLETS, BUNDLE_FORMAT_VERSION, BUNDLE_FORMAT_VERSION_MARGIN,
)

_DIGEST_TAG: Final[bytes] = b"zk-solvency bundle v1\x00"
#: ``YYYY-MM-DDTHH:MM:SSZ`` in ASCII digits (``\d`` would also match Arabic-Indic and other digits).
_CREATED_RE: Final[re.Pattern[str]] = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z")


def created_problem(value: object) -> str | None:
    """Return why ``value`` is not a strict RFC 3339 UTC time ``YYYY-MM-DDTHH:MM:SSZ``, or ``None``.

    ASCII digits only, upper-case ``T`` and ``Z``, no fraction, no offset; a real date
    of the proleptic Gregorian calendar in years 0001-9999, hours 00-23, minutes and
    seconds 00-59 (no leap second).
    """
    if not isinstance(value, str):
        return f"expected a string, found {type(value).__name__}"
    found = _CREATED_RE.fullmatch(value)
    if found is None:
        return "expected a UTC time YYYY-MM-DDTHH:MM:SSZ (ASCII digits, no fraction, no offset)"
    year, month, day, hour, minute, second = (int(x) for x in found.groups())
    try:
        datetime.datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        return f"not a real UTC time ({exc})"
    return None


def _has_sum_tree(version: int) -> bool:
    return version in (BUNDLE_FORMAT_VERSION, BUNDLE_FORMAT_VERSION_MARGIN)


def _disclosed_json(disclosed: tuple[int, int] | None) -> dict[str, str] | None:
    if disclosed is None:
        return None
    amount, blinding = disclosed
    return {"amount": str(amount), "blinding": blinding.to_bytes(32, "little").hex()}


def _parse_disclosed(f: Fields, key: str) -> tuple[int, int] | None:
    """``null`` or ``{"amount": "<decimal string in [0, 2^96)>", "blinding": "<H2S scalar>"}`` (§6.3, §14.3)."""
    raw = f.raw(key)
    if raw is None:
        return None
    d = Fields(raw, f"{f.where}.{key}")
    amount = d.uint_str("amount", 1 << 96)
    blinding = int.from_bytes(d.hexbytes("blinding", 32), "little")
    if blinding >= GROUP_ORDER:
        d.fail("blinding", "scalar is not canonical")
    d.done()
    return amount, blinding


def bundle_digest(manifest: Mapping[str, Any]) -> bytes:
    """Return the bundle digest of ``manifest`` (its member ``bundle_digest`` left out; ``docs/FORMAT.md`` §6.3)."""
    body = {k: v for k, v in manifest.items() if k != "bundle_digest"}
    return hashlib.sha256(_DIGEST_TAG + canonical_json(body)).digest()


@dataclass(frozen=True)
class FileEntry:
    """A data file of the bundle: name, size and SHA-256 (§6)."""

    name: str
    size: int
    sha256: bytes

    def to_json(self) -> dict[str, Any]:
        """Return the manifest representation."""
        return {"name": self.name, "size": self.size, "sha256": self.sha256.hex()}

    @classmethod
    def parse(cls, f: Fields, expected_name: str, min_size: int = HEADER_SIZE) -> FileEntry:
        """Validate one ``files`` entry."""
        name = f.text("name", 64)
        if name != expected_name:
            f.fail("name", f"expected {expected_name!r}")
        entry = cls(name, f.integer("size", min_size, 1 << 50), f.hexbytes("sha256", 32))
        f.done()
        return entry


@dataclass(frozen=True)
class AssetEntry:
    """One asset of the manifest (§6)."""

    symbol: str
    decimals: int
    reserves: int
    num: int
    den: int
    leaf_count: int
    chunk_size: int
    merkle_root: bytes
    liabilities_commitment: bytes
    disclosed_liabilities: tuple[int, int] | None
    leaves: FileEntry
    range_proofs: FileEntry
    solvency: FileEntry
    reserves_basis: str = "declared"
    #: Versions 3 and 4: the sum tree's nodes (§3.4) and the sum nodes' range proofs (§3.5).
    nodes: FileEntry | None = None
    node_proofs: FileEntry | None = None
    #: Version 4 only (§14.3): ``C_D``, the sum of the ``D`` of every margin slot naming the asset (48 bytes,
    #: the identity allowed; decoded by the verifier), and the optional openings of the debt and of the pledged
    #: collateral totals (``(amount, blinding)``).
    debt_commitment: bytes | None = None
    disclosed_debt: tuple[int, int] | None = None
    disclosed_collateral: tuple[int, int] | None = None

    @property
    def chunk_count(self) -> int:
        """Number of range-proof chunks."""
        return self.leaf_count // self.chunk_size

    @property
    def has_sum_tree(self) -> bool:
        """Whether the asset has the nodes and node-proofs files of versions 3 and 4."""
        return self.nodes is not None and self.node_proofs is not None

    @property
    def has_margin(self) -> bool:
        """Whether the asset has a debt commitment (version 4)."""
        return self.debt_commitment is not None

    def to_json(self, version: int = BUNDLE_FORMAT_VERSION_DECLARED) -> dict[str, Any]:
        """Return the manifest representation (in a manifest of ``version``)."""
        disclosed = _disclosed_json(self.disclosed_liabilities)
        margin: dict[str, Any] = {}
        if self.debt_commitment is not None:
            margin = {
                "debt_commitment": self.debt_commitment.hex(),
                "disclosed_debt": _disclosed_json(self.disclosed_debt),
                "disclosed_collateral": _disclosed_json(self.disclosed_collateral),
            }
        basis = {} if version == BUNDLE_FORMAT_VERSION_DECLARED else {"reserves_basis": self.reserves_basis}
        tree: dict[str, Any] = {}
        if self.nodes is not None and self.node_proofs is not None:
            tree = {"nodes": self.nodes.to_json(), "node_proofs": self.node_proofs.to_json()}
        return {
            **basis,
            "symbol": self.symbol,
            "decimals": self.decimals,
            "reserves": str(self.reserves),
            "min_ratio": {"num": self.num, "den": self.den},
            "leaf_count": self.leaf_count,
            "chunk_size": self.chunk_size,
            "range_bits": RANGE_BITS,
            "merkle_root": self.merkle_root.hex(),
            "liabilities_commitment": self.liabilities_commitment.hex(),
            "disclosed_liabilities": disclosed,
            **margin,
            "files": {
                "leaves": self.leaves.to_json(),
                "range_proofs": self.range_proofs.to_json(),
                "solvency": self.solvency.to_json(),
                **tree,
            },
        }

    @classmethod
    def parse(cls, f: Fields, version: int = BUNDLE_FORMAT_VERSION_DECLARED) -> AssetEntry:
        """Validate one ``assets`` entry (types, ranges, names, sizes) of a manifest of ``version``.

        In versions 3 and 4 ``reserves_basis`` may be ``"declared"``; whether that agrees with the
        manifest's wallet list is checked by :meth:`Manifest.from_bytes`. In version 4 the
        asset also has ``debt_commitment``, ``disclosed_debt`` and ``disclosed_collateral`` (§14.3).
        """
        basis = "declared"
        if version != BUNDLE_FORMAT_VERSION_DECLARED:
            allowed = RESERVES_BASES if _has_sum_tree(version) else RESERVES_BASES[1:]
            basis = f.text("reserves_basis", 32)
            if basis not in allowed:
                f.fail("reserves_basis", f"expected one of {', '.join(allowed)}")
        symbol = f.text("symbol", 16, SYMBOL_RE)
        decimals = f.integer("decimals", 0, MAX_DECIMALS)
        reserves = f.uint_str("reserves", 1 << SOLVENCY_BITS)
        ratio = f.obj("min_ratio")
        num = ratio.integer("num", 1, MAX_RATIO_TERM)
        den = ratio.integer("den", 1, MAX_RATIO_TERM)
        ratio.done()
        if num < den or math.gcd(num, den) != 1:
            ratio.fail(None, "num/den must be >= 1 and in lowest terms")
        chunk = f.integer("chunk_size", 1, MAX_CHUNK)
        if chunk & (chunk - 1):
            f.fail("chunk_size", "not a power of two")
        leaf_count = f.integer("leaf_count", chunk, MAX_LEAVES)
        if leaf_count % chunk:
            f.fail("leaf_count", "not a multiple of chunk_size")
        f.const("range_bits", RANGE_BITS)
        root = f.hexbytes("merkle_root", 32)
        c_l = f.hexbytes("liabilities_commitment", 48)
        disclosed = _parse_disclosed(f, "disclosed_liabilities")
        debt_commitment = disclosed_debt = disclosed_collateral = None
        if version == BUNDLE_FORMAT_VERSION_MARGIN:
            debt_commitment = f.hexbytes("debt_commitment", 48)
            disclosed_debt = _parse_disclosed(f, "disclosed_debt")
            disclosed_collateral = _parse_disclosed(f, "disclosed_collateral")
        files = f.obj("files")
        names = data_file_names(symbol)
        leaves = FileEntry.parse(files.obj("leaves"), names["leaves"])
        range_proofs = FileEntry.parse(files.obj("range_proofs"), names["range_proofs"])
        solvency = FileEntry.parse(files.obj("solvency"), names["solvency"])
        nodes = node_proofs = None
        if _has_sum_tree(version):
            nodes = FileEntry.parse(files.obj("nodes"), names["nodes"])
            node_proofs = FileEntry.parse(files.obj("node_proofs"), names["node_proofs"])
        files.done()
        f.done()
        chunks = leaf_count // chunk
        expected = {
            "leaves": HEADER_SIZE + leaf_count * LEAF_RECORD_SIZE,
            "range_proofs": HEADER_SIZE + chunks * range_record_size(chunk),
            "solvency": HEADER_SIZE + SOLVENCY_RECORD_SIZE,
            "nodes": HEADER_SIZE + (2 * chunks - 1) * NODE_RECORD_SIZE,
            "node_proofs": HEADER_SIZE + (chunks - 1) * node_proof_record_size(),
        }
        roles = (("leaves", leaves), ("range_proofs", range_proofs), ("solvency", solvency),
                 ("nodes", nodes), ("node_proofs", node_proofs))
        for section, entry in roles:
            if entry is not None and entry.size != expected[section]:
                f.fail(f"files.{section}.size", f"expected {expected[section]}")
        return cls(
            symbol, decimals, reserves, num, den, leaf_count, chunk, root, c_l, disclosed, leaves, range_proofs,
            solvency, basis, nodes, node_proofs, debt_commitment, disclosed_debt, disclosed_collateral,
        )


@dataclass(frozen=True)
class Manifest:
    """A validated ``manifest.json`` (§6)."""

    exchange: str
    round: str
    created: str
    assets: tuple[AssetEntry, ...]
    digest: bytes
    wallets: FileEntry | None = None
    #: 1, 2, 3 or 4; ``None`` (older callers) means 2 with a wallet list and 1 without.
    format_version: int | None = None
    #: Version 4 only (§14.3): the margin parameters, the margin records' Merkle root and the two margin files.
    margin: MarginParams | None = None
    margin_root: bytes | None = None
    margin_records: FileEntry | None = None
    margin_proofs: FileEntry | None = None

    @property
    def version(self) -> int:
        """The format version: 4 (margin), 3 (sum tree), 2 (wallet list, leaf tree) or 1 (declared, leaf tree)."""
        if self.format_version is not None:
            return self.format_version
        return BUNDLE_FORMAT_VERSION_WALLETS if self.wallets is not None else BUNDLE_FORMAT_VERSION_DECLARED

    def to_json(self) -> dict[str, Any]:
        """Return the manifest object including ``bundle_digest``."""
        body = self.body_json()
        body["bundle_digest"] = self.digest.hex()
        return body

    def body_json(self) -> dict[str, Any]:
        """Return the manifest object without ``bundle_digest``."""
        wallets = {} if self.wallets is None else {"wallets": self.wallets.to_json()}
        margin: dict[str, Any] = {}
        if self.margin is not None and self.margin_root is not None:
            if self.margin_records is None or self.margin_proofs is None:
                raise ParameterError("a margin section needs its records and proofs files")
            files = {"records": self.margin_records.to_json(), "proofs": self.margin_proofs.to_json()}
            margin = {"margin": self.margin.to_json(self.margin_root, files)}
        return {
            "format": BUNDLE_FORMAT,
            "format_version": self.version,
            "protocol": PROTOCOL_LABEL.decode(),
            "generators": generator_set_id().hex(),
            "exchange": self.exchange,
            "round": self.round,
            "created": self.created,
            "assets": [a.to_json(self.version) for a in self.assets],
            **wallets,
            **margin,
        }

    def to_bytes(self) -> bytes:
        """Return the exact bytes of ``manifest.json``."""
        return canonical_json(self.to_json()) + b"\n"

    @classmethod
    def build(
        cls,
        exchange: str,
        round_label: str,
        created: str,
        assets: Iterable[AssetEntry],
        wallets: FileEntry | None = None,
        version: int | None = None,
        *,
        margin: MarginParams | None = None,
        margin_root: bytes | None = None,
        margin_records: FileEntry | None = None,
        margin_proofs: FileEntry | None = None,
    ) -> Manifest:
        """Assemble a manifest and compute its digest (writer side).

        ``version`` 3 (what the prover writes) needs every asset's nodes and node-proofs
        files; the wallet list is optional and every asset's basis must be ``"declared"``
        exactly when there is none. ``None``: version 2 with ``wallets`` (every asset a
        wallet basis), version 1 without (declared reserves); kept for the test factories.
        ``version`` 4 is version 3 plus ``margin``, ``margin_root``, the two margin files
        and every asset's ``debt_commitment`` (§14.3); ``margin.assets`` must be the
        manifest's assets (symbols and decimals, in order).

        Raises:
            ParameterError: ``created`` is not a strict UTC time (:func:`created_problem`),
                an asset's basis does not fit the version, or the margin section does not.
        """
        problem = created_problem(created)
        if problem is not None:
            raise ParameterError(f"created {created!r}: {problem}", section="created")
        ordered = tuple(sorted(assets, key=lambda a: a.symbol))
        for a in ordered:
            if (a.reserves_basis == "declared") != (wallets is None):
                raise ParameterError(f"asset {a.symbol}: reserves basis {a.reserves_basis!r} without a wallet list")
            if a.has_sum_tree != (version is not None and _has_sum_tree(version)):
                raise ParameterError(f"asset {a.symbol}: the nodes files belong to versions 3 and 4 exactly")
            if a.has_margin != (version == BUNDLE_FORMAT_VERSION_MARGIN):
                raise ParameterError(f"asset {a.symbol}: a debt commitment belongs to version 4 exactly")
        section = (margin, margin_root, margin_records, margin_proofs)
        if version == BUNDLE_FORMAT_VERSION_MARGIN:
            if margin is None or margin_root is None or margin_records is None or margin_proofs is None:
                raise ParameterError("version 4 needs the margin parameters, root and files")
            if [(m.symbol, m.decimals) for m in margin.assets] != [(a.symbol, a.decimals) for a in ordered]:
                raise ParameterError("the margin parameters must list the manifest's assets (symbols, decimals)")
            if len(margin_root) != 32:
                raise ParameterError("margin_root must be 32 bytes")
            for entry, name, size in (
                (margin_records, MARGIN_RECORDS_NAME, margin.records_file_size),
                (margin_proofs, MARGIN_PROOFS_NAME, margin.proofs_file_size),
            ):
                if (entry.name, entry.size) != (name, size):
                    raise ParameterError(f"margin file {entry.name!r}: expected {name!r} of {size} bytes (§14.3)")
        elif any(x is not None for x in section):
            raise ParameterError("a margin section belongs to version 4 exactly")
        draft = cls(exchange, round_label, created, ordered, b"", wallets, version, *section)
        return cls(
            draft.exchange, draft.round, draft.created, draft.assets, bundle_digest(draft.body_json()), wallets,
            version, *section,
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        """Parse and validate ``manifest.json`` bytes (§6, §7 step 1).

        Raises:
            FormatError: too large, not UTF-8 JSON, not canonical, schema or digest mismatch.
        """
        obj, raw = load_json(data, MAX_MANIFEST_BYTES, "manifest")
        if not isinstance(obj, dict):
            raise FormatError("manifest: expected a JSON object", section="manifest")
        if canonical_json(obj) + b"\n" != raw:
            raise FormatError("manifest: not in canonical form (docs/FORMAT.md §6)", section="manifest")
        f = Fields(obj, "manifest")
        f.const("format", BUNDLE_FORMAT)
        version = f.raw("format_version")
        if type(version) is not int or version not in _VERSIONS:
            f.fail("format_version", "expected 1, 2, 3 or 4")
        f.const("protocol", PROTOCOL_LABEL.decode())
        f.const("generators", generator_set_id().hex())
        exchange = f.label("exchange", MAX_LABEL_BYTES)
        round_label = f.label("round", MAX_LABEL_BYTES)
        created = f.raw("created")
        problem = created_problem(created)
        if problem is not None:
            f.fail("created", problem)
        raw_assets = f.items("assets", MAX_ASSETS)
        if not raw_assets:
            f.fail("assets", "empty")
        assets = tuple(
            AssetEntry.parse(Fields(a, f"manifest.assets[{i}]"), version) for i, a in enumerate(raw_assets)
        )
        symbols = [a.symbol for a in assets]
        if symbols != sorted(set(symbols)):
            f.fail("assets", "symbols must be unique and sorted")
        wallets = None
        if version == BUNDLE_FORMAT_VERSION_WALLETS or (_has_sum_tree(version) and "wallets" in obj):
            wallets = FileEntry.parse(f.obj("wallets"), WALLETS_FILE, 2)
        if _has_sum_tree(version):
            for i, a in enumerate(assets):
                if (a.reserves_basis == "declared") != (wallets is None):
                    f.fail(
                        f"assets[{i}].reserves_basis",
                        "must be \"declared\" exactly when the manifest has no wallet list",
                    )
        margin = margin_root = margin_records = margin_proofs = None
        if version == BUNDLE_FORMAT_VERSION_MARGIN:
            g = f.obj("margin")
            margin, margin_root = MarginParams.parse(g, [(a.symbol, a.decimals) for a in assets])
            files = g.obj("files")
            margin_records = FileEntry.parse(files.obj("records"), MARGIN_RECORDS_NAME)
            margin_proofs = FileEntry.parse(files.obj("proofs"), MARGIN_PROOFS_NAME)
            files.done()
            g.done()
            if margin_records.size != margin.records_file_size:
                files.fail("records.size", f"expected {margin.records_file_size}")
            if margin_proofs.size != margin.proofs_file_size:
                files.fail("proofs.size", f"expected {margin.proofs_file_size}")
        digest = f.hexbytes("bundle_digest", 32)
        f.done()
        if bundle_digest(obj) != digest:
            f.fail("bundle_digest", "does not match the manifest contents")
        return cls(
            exchange, round_label, created, assets, digest, wallets, version, margin, margin_root, margin_records,
            margin_proofs,
        )
