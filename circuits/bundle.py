r"""The proof bundle and customer package formats, version 1 (``docs/FORMAT.md``).

Everything both the prover (writer) and the verifier (reader) must agree on about
a bundle lives here, once: constants, canonical JSON, the bundle digest, data-file
headers and records, the Merkle tree, the leaf id, the range-proof contexts and
the solvency commitment. Parsing functions take untrusted bytes or JSON values and
return validated types, raising :class:`~circuits.errors.FormatError` with the
section and field that failed (``docs/FORMAT.md`` §6-§8).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from circuits.constants import GROUP_ORDER, POINT_SIZE, PROTOCOL_LABEL
from circuits.errors import FormatError
from circuits.generators import PedersenGens, generator_set_id
from circuits.group import Point, msm_raw
from circuits.proofs import RangeProof

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_FORMAT_VERSION",
    "HEADER_SIZE",
    "LEAF_RECORD_SIZE",
    "MAGIC_LEAVES",
    "MAGIC_RANGE_PROOFS",
    "MAGIC_SOLVENCY",
    "MANIFEST_NAME",
    "MAX_MANIFEST_BYTES",
    "PACKAGE_FORMAT",
    "RANGE_BITS",
    "SOLVENCY_BITS",
    "AssetEntry",
    "FileEntry",
    "Manifest",
    "MerkleAccumulator",
    "MerkleTree",
    "Package",
    "PackageEntry",
    "bundle_digest",
    "canonical_json",
    "check_header",
    "chunk_context",
    "data_file_names",
    "encode_header",
    "frame",
    "iter_leaf_records",
    "leaf_hash",
    "leaf_id",
    "node_hash",
    "range_record_size",
    "solvency_commitment",
    "solvency_context",
    "verify_merkle_path",
]

BUNDLE_FORMAT: Final[str] = "zk-solvency-bundle"
BUNDLE_FORMAT_VERSION: Final[int] = 1
PACKAGE_FORMAT: Final[str] = "zk-solvency-package"
PACKAGE_FORMAT_VERSION: Final[int] = 1
MANIFEST_NAME: Final[str] = "manifest.json"
MAX_MANIFEST_BYTES: Final[int] = 16 << 20
MAX_PACKAGE_BYTES: Final[int] = 4 << 20
MAX_ASSETS: Final[int] = 256
MAX_LEAVES: Final[int] = (1 << 32) - 1
MAX_CHUNK: Final[int] = 1024
MAX_DECIMALS: Final[int] = 30
MAX_RATIO_TERM: Final[int] = (1 << 32) - 1
MAX_ID_BYTES: Final[int] = 256
MAX_LABEL_BYTES: Final[int] = 256
#: Bound on JSON nesting, checked before parsing: nothing deeper is parsed, and everything up to half
#: of it is accepted (a manifest or package needs 5 levels).
MAX_JSON_DEPTH: Final[int] = 32
#: Digits allowed in a JSON integer (numbers are below 2^53; larger values are decimal strings).
MAX_JSON_INT_DIGITS: Final[int] = 20
RANGE_BITS: Final[int] = 64
SOLVENCY_BITS: Final[int] = 128
SYMBOL_RE: Final[re.Pattern[str]] = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,15}")
_HEX32_RE: Final[re.Pattern[str]] = re.compile(r"[0-9a-f]{64}")
_HEX48_RE: Final[re.Pattern[str]] = re.compile(r"[0-9a-f]{96}")
_TIME_RE: Final[re.Pattern[str]] = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_UINT_RE: Final[re.Pattern[str]] = re.compile(r"0|[1-9][0-9]{0,77}")

MAGIC_LEAVES: Final[bytes] = b"ZKSLEAF1"
MAGIC_RANGE_PROOFS: Final[bytes] = b"ZKSRNGP1"
MAGIC_SOLVENCY: Final[bytes] = b"ZKSSOLV1"
HEADER_SIZE: Final[int] = 16
LEAF_ID_SIZE: Final[int] = 32
LEAF_RECORD_SIZE: Final[int] = LEAF_ID_SIZE + POINT_SIZE

_DIGEST_TAG: Final[bytes] = b"zk-solvency bundle v1\x00"
_LEAF_TAG: Final[bytes] = b"\x00zk-solvency leaf v1"
_NODE_TAG: Final[bytes] = b"\x01"
_LEAF_ID_TAG: Final[bytes] = b"zk-solvency leaf id v1"
_CHUNK_TAG: Final[bytes] = b"zk-solvency chunk v1"
_SOLVENCY_TAG: Final[bytes] = b"zk-solvency solvency v1"


# ---------------------------------------------------------------------------
# Encodings and hashes


def frame(data: bytes) -> bytes:
    """Return ``LE32(len(data)) || data``."""
    return struct.pack("<I", len(data)) + data


def canonical_json(obj: Any) -> bytes:
    """Return the canonical JSON encoding (§6): sorted keys, no whitespace, ASCII escapes, no floats."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def bundle_digest(manifest: Mapping[str, Any]) -> bytes:
    """Return ``SHA256("zk-solvency bundle v1" || 0x00 || canonical(manifest without bundle_digest))``."""
    body = {k: v for k, v in manifest.items() if k != "bundle_digest"}
    return hashlib.sha256(_DIGEST_TAG + canonical_json(body)).digest()


def leaf_id(round_label: str, symbol: str, customer_id: str, leaf_salt: bytes) -> bytes:
    """Return the keyed leaf id of a customer's leaf (§8)."""
    return hashlib.sha256(
        _LEAF_ID_TAG
        + frame(round_label.encode())
        + frame(symbol.encode())
        + frame(customer_id.encode())
        + leaf_salt
    ).digest()


def leaf_hash(leaf_id_bytes: bytes, index: int, commitment: bytes) -> bytes:
    """Return the Merkle leaf hash (§5); ``commitment`` is the 48-byte point encoding."""
    return hashlib.sha256(_LEAF_TAG + leaf_id_bytes + struct.pack("<Q", index) + commitment).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the Merkle interior node hash (§5)."""
    return hashlib.sha256(_NODE_TAG + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


class MerkleAccumulator:
    """Streaming RFC 6962 Merkle root: push leaf hashes in order, then :meth:`root`.

    Memory is ``O(log n)``: a stack of perfect subtrees (like a binary counter).
    """

    def __init__(self) -> None:
        """Start an empty tree."""
        self._stack: list[tuple[int, bytes]] = []
        self.count = 0

    def push(self, h: bytes) -> None:
        """Append one leaf hash."""
        size, node = 1, h
        while self._stack and self._stack[-1][0] == size:
            _, left = self._stack.pop()
            node = node_hash(left, node)
            size *= 2
        self._stack.append((size, node))
        self.count += 1

    def root(self) -> bytes:
        """Return the root; the RFC 6962 shape folds the perfect subtrees right to left."""
        if not self._stack:
            raise FormatError("Merkle tree of zero leaves")
        acc = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            acc = node_hash(left, acc)
        return acc


class MerkleTree:
    """A whole RFC 6962 tree kept in memory (prover side), for roots and audit paths."""

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        """Build every subtree hash for ``leaf_hashes``."""
        if not leaf_hashes:
            raise FormatError("Merkle tree of zero leaves")
        self._leaves = list(leaf_hashes)
        self._memo: dict[tuple[int, int], bytes] = {}
        self.root = self._mth(0, len(self._leaves))

    def _mth(self, start: int, size: int) -> bytes:
        if size == 1:
            return self._leaves[start]
        key = (start, size)
        h = self._memo.get(key)
        if h is None:
            k = _largest_power_of_two_below(size)
            h = node_hash(self._mth(start, k), self._mth(start + k, size - k))
            self._memo[key] = h
        return h

    def path(self, index: int) -> list[bytes]:
        """Return the audit path of leaf ``index``, leaf-level sibling first (RFC 6962 §2.1.1)."""
        out: list[bytes] = []
        start, size, m = 0, len(self._leaves), index
        while size > 1:
            k = _largest_power_of_two_below(size)
            if m < k:
                out.append(self._mth(start + k, size - k))
                size = k
            else:
                out.append(self._mth(start, k))
                start, size, m = start + k, size - k, m - k
        out.reverse()
        return out


def verify_merkle_path(h: bytes, index: int, tree_size: int, path: Sequence[bytes]) -> bytes:
    """Return the root implied by leaf hash ``h`` at ``index`` (RFC 9162 §2.1.3.2).

    Raises:
        FormatError: the path has the wrong length for ``index`` and ``tree_size``.
    """
    if not 0 <= index < tree_size:
        raise FormatError("leaf index outside the tree")
    fn, sn, r = index, tree_size - 1, h
    for p in path:
        if sn == 0:
            raise FormatError("Merkle path is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise FormatError("Merkle path is too short")
    return r


def chunk_context(
    exchange: str, round_label: str, symbol: str, leaf_count: int, m: int, k: int, merkle_root: bytes
) -> bytes:
    """Return the context bound into the range proof of chunk ``k`` (§4)."""
    return (
        _CHUNK_TAG
        + frame(exchange.encode())
        + frame(round_label.encode())
        + frame(symbol.encode())
        + struct.pack("<QQQ", leaf_count, m, k)
        + merkle_root
    )


def solvency_context(
    exchange: str,
    round_label: str,
    symbol: str,
    decimals: int,
    reserves: int,
    num: int,
    den: int,
    leaf_count: int,
    merkle_root: bytes,
    liabilities_commitment: bytes,
) -> bytes:
    """Return the context bound into an asset's solvency proof (§4)."""
    return (
        _SOLVENCY_TAG
        + frame(exchange.encode())
        + frame(round_label.encode())
        + frame(symbol.encode())
        + struct.pack("<Q", decimals)
        + reserves.to_bytes(16, "little")
        + struct.pack("<QQQ", num, den, leaf_count)
        + merkle_root
        + liabilities_commitment
    )


def solvency_commitment(pc_gens: PedersenGens, reserves: int, num: int, den: int, C_L: Point) -> Point:
    """Return ``V_s = (den*R)*B - num*C_L`` (§3.3)."""
    be = pc_gens.B.backend
    return Point(
        msm_raw(be, [pc_gens.B.raw, C_L.raw], [den * reserves % GROUP_ORDER, (-num) % GROUP_ORDER]), be
    )


def range_record_size(m: int) -> int:
    """Return the size of one chunk proof of ``m`` 64-bit values."""
    return RangeProof.size_for((RANGE_BITS * m).bit_length() - 1)


# ---------------------------------------------------------------------------
# Data files


def data_file_names(symbol: str) -> dict[str, str]:
    """Return the names of an asset's data files, by manifest section (§2)."""
    return {
        "leaves": f"{symbol}.leaves.bin",
        "range_proofs": f"{symbol}.rangeproofs.bin",
        "solvency": f"{symbol}.solvency.bin",
    }


def encode_header(magic: bytes, count: int, record_size: int) -> bytes:
    """Return the 16-byte data-file header (§3)."""
    return magic + struct.pack("<II", count, record_size)


def check_header(header: bytes, magic: bytes, count: int, record_size: int, section: str) -> None:
    """Check a data file's 16-byte header against the values the manifest implies (§3).

    The total length (``HEADER_SIZE + count * record_size``) is the manifest's
    ``size``, which the reader checks separately.

    Raises:
        FormatError: naming ``section``, on any mismatch.
    """
    if header == encode_header(magic, count, record_size):
        return
    if len(header) < HEADER_SIZE:
        raise FormatError(f"{section}: file shorter than its header", section=section)
    if header[:8] != magic:
        raise FormatError(f"{section}: bad magic {header[:8]!r}, expected {magic!r}", section=section)
    got_count, got_size = struct.unpack_from("<II", header, 8)
    raise FormatError(
        f"{section}: header says {got_count} records of {got_size} bytes, manifest implies {count} of {record_size}",
        section=section,
    )


def iter_leaf_records(body: bytes, start: int = 0) -> Iterator[tuple[int, bytes, bytes]]:
    """Yield ``(index, leaf_id, commitment_bytes)`` from leaf records (no point validation)."""
    for offset in range(0, len(body), LEAF_RECORD_SIZE):
        yield (
            start + offset // LEAF_RECORD_SIZE,
            body[offset : offset + LEAF_ID_SIZE],
            body[offset + LEAF_ID_SIZE : offset + LEAF_RECORD_SIZE],
        )


# ---------------------------------------------------------------------------
# Manifest and package schema


class _Fields:
    """Strict reader of one JSON object: every key must be read, each checked by type."""

    def __init__(self, obj: Any, where: str) -> None:
        if not isinstance(obj, dict):
            raise FormatError(f"{where}: expected an object")
        self._obj: dict[str, Any] = obj
        self._seen: set[str] = set()
        self.where = where

    def _get(self, key: str) -> Any:
        if key not in self._obj:
            raise FormatError(f"{self.where}.{key}: missing")
        self._seen.add(key)
        return self._obj[key]

    def integer(self, key: str, lo: int, hi: int) -> int:
        value = self._get(key)
        if type(value) is not int or not lo <= value <= hi:
            raise FormatError(f"{self.where}.{key}: expected an integer in [{lo}, {hi}]")
        return value

    def uint_str(self, key: str, hi_exclusive: int) -> int:
        value = self._get(key)
        if not isinstance(value, str) or not _UINT_RE.fullmatch(value) or int(value) >= hi_exclusive:
            raise FormatError(f"{self.where}.{key}: expected a decimal string in [0, {hi_exclusive})")
        return int(value)

    def text(self, key: str, max_bytes: int, pattern: re.Pattern[str] | None = None) -> str:
        value = self._get(key)
        if not isinstance(value, str) or not value or len(value.encode("utf-8", "surrogatepass")) > max_bytes:
            raise FormatError(f"{self.where}.{key}: expected a non-empty string of at most {max_bytes} bytes")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise FormatError(f"{self.where}.{key}: not valid Unicode") from exc
        if pattern is not None and not pattern.fullmatch(value):
            raise FormatError(f"{self.where}.{key}: {value[:40]!r} does not match {pattern.pattern}")
        return value

    def const(self, key: str, expected: object) -> None:
        if self._get(key) != expected or type(self._obj[key]) is not type(expected):
            raise FormatError(f"{self.where}.{key}: expected {expected!r}")

    def hexbytes(self, key: str, size: int) -> bytes:
        value = self._get(key)
        pattern = _HEX32_RE if size == 32 else _HEX48_RE if size == 48 else None
        if not isinstance(value, str) or pattern is None or not pattern.fullmatch(value):
            raise FormatError(f"{self.where}.{key}: expected {size} bytes of lowercase hex")
        return bytes.fromhex(value)

    def obj(self, key: str) -> _Fields:
        return _Fields(self._get(key), f"{self.where}.{key}")

    def items(self, key: str, max_len: int) -> list[Any]:
        value = self._get(key)
        if not isinstance(value, list) or len(value) > max_len:
            raise FormatError(f"{self.where}.{key}: expected a list of at most {max_len} items")
        return value

    def raw(self, key: str) -> Any:
        return self._get(key)

    def done(self) -> None:
        extra = sorted(set(self._obj) - self._seen)
        if extra:
            raise FormatError(f"{self.where}: unknown field {extra[0]!r}")


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
    def parse(cls, f: _Fields, expected_name: str) -> FileEntry:
        """Validate one ``files`` entry."""
        name = f.text("name", 64)
        if name != expected_name:
            raise FormatError(f"{f.where}.name: expected {expected_name!r}")
        entry = cls(name, f.integer("size", HEADER_SIZE, 1 << 50), f.hexbytes("sha256", 32))
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

    @property
    def chunk_count(self) -> int:
        """Number of range-proof chunks."""
        return self.leaf_count // self.chunk_size

    def to_json(self) -> dict[str, Any]:
        """Return the manifest representation."""
        disclosed = None
        if self.disclosed_liabilities is not None:
            amount, blinding = self.disclosed_liabilities
            disclosed = {"amount": str(amount), "blinding": blinding.to_bytes(32, "little").hex()}
        return {
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
            "files": {
                "leaves": self.leaves.to_json(),
                "range_proofs": self.range_proofs.to_json(),
                "solvency": self.solvency.to_json(),
            },
        }

    @classmethod
    def parse(cls, f: _Fields) -> AssetEntry:
        """Validate one ``assets`` entry (types, ranges, names, sizes)."""
        symbol = f.text("symbol", 16, SYMBOL_RE)
        decimals = f.integer("decimals", 0, MAX_DECIMALS)
        reserves = f.uint_str("reserves", 1 << SOLVENCY_BITS)
        ratio = f.obj("min_ratio")
        num = ratio.integer("num", 1, MAX_RATIO_TERM)
        den = ratio.integer("den", 1, MAX_RATIO_TERM)
        ratio.done()
        if num < den or math.gcd(num, den) != 1:
            raise FormatError(f"{ratio.where}: num/den must be >= 1 and in lowest terms")
        chunk = f.integer("chunk_size", 1, MAX_CHUNK)
        if chunk & (chunk - 1):
            raise FormatError(f"{f.where}.chunk_size: not a power of two")
        leaf_count = f.integer("leaf_count", chunk, MAX_LEAVES)
        if leaf_count % chunk:
            raise FormatError(f"{f.where}.leaf_count: not a multiple of chunk_size")
        f.const("range_bits", RANGE_BITS)
        root = f.hexbytes("merkle_root", 32)
        c_l = f.hexbytes("liabilities_commitment", 48)
        raw_disclosed = f.raw("disclosed_liabilities")
        disclosed: tuple[int, int] | None = None
        if raw_disclosed is not None:
            d = _Fields(raw_disclosed, f"{f.where}.disclosed_liabilities")
            amount = d.uint_str("amount", 1 << 96)
            blinding = int.from_bytes(d.hexbytes("blinding", 32), "little")
            if blinding >= GROUP_ORDER:
                raise FormatError(f"{d.where}.blinding: scalar is not canonical")
            d.done()
            disclosed = (amount, blinding)
        files = f.obj("files")
        names = data_file_names(symbol)
        leaves = FileEntry.parse(files.obj("leaves"), names["leaves"])
        range_proofs = FileEntry.parse(files.obj("range_proofs"), names["range_proofs"])
        solvency = FileEntry.parse(files.obj("solvency"), names["solvency"])
        files.done()
        f.done()
        expected = {
            "leaves": HEADER_SIZE + leaf_count * LEAF_RECORD_SIZE,
            "range_proofs": HEADER_SIZE + (leaf_count // chunk) * range_record_size(chunk),
            "solvency": HEADER_SIZE + RangeProof.size_for(SOLVENCY_BITS.bit_length() - 1),
        }
        for section, entry in (("leaves", leaves), ("range_proofs", range_proofs), ("solvency", solvency)):
            if entry.size != expected[section]:
                raise FormatError(f"{f.where}.files.{section}.size: expected {expected[section]}")
        return cls(
            symbol, decimals, reserves, num, den, leaf_count, chunk, root, c_l, disclosed, leaves, range_proofs,
            solvency,
        )


@dataclass(frozen=True)
class Manifest:
    """A validated ``manifest.json`` (§6)."""

    exchange: str
    round: str
    created: str
    assets: tuple[AssetEntry, ...]
    digest: bytes

    def to_json(self) -> dict[str, Any]:
        """Return the manifest object including ``bundle_digest``."""
        body = self.body_json()
        body["bundle_digest"] = self.digest.hex()
        return body

    def body_json(self) -> dict[str, Any]:
        """Return the manifest object without ``bundle_digest``."""
        return {
            "format": BUNDLE_FORMAT,
            "format_version": BUNDLE_FORMAT_VERSION,
            "protocol": PROTOCOL_LABEL.decode(),
            "generators": generator_set_id().hex(),
            "exchange": self.exchange,
            "round": self.round,
            "created": self.created,
            "assets": [a.to_json() for a in self.assets],
        }

    def to_bytes(self) -> bytes:
        """Return the exact bytes of ``manifest.json``."""
        return canonical_json(self.to_json()) + b"\n"

    @classmethod
    def build(cls, exchange: str, round_label: str, created: str, assets: Iterable[AssetEntry]) -> Manifest:
        """Assemble a manifest and compute its digest (writer side)."""
        draft = cls(exchange, round_label, created, tuple(sorted(assets, key=lambda a: a.symbol)), b"")
        return cls(draft.exchange, draft.round, draft.created, draft.assets, bundle_digest(draft.body_json()))

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        """Parse and validate ``manifest.json`` bytes (§6, §7 step 1).

        Raises:
            FormatError: too large, not UTF-8 JSON, not canonical, schema or digest mismatch.
        """
        obj, raw = _load_json(data, MAX_MANIFEST_BYTES, "manifest")
        if not isinstance(obj, dict):
            raise FormatError("manifest: expected a JSON object")
        if canonical_json(obj) + b"\n" != raw:
            raise FormatError("manifest: not in canonical form (docs/FORMAT.md §6)")
        f = _Fields(obj, "manifest")
        f.const("format", BUNDLE_FORMAT)
        f.const("format_version", BUNDLE_FORMAT_VERSION)
        f.const("protocol", PROTOCOL_LABEL.decode())
        f.const("generators", generator_set_id().hex())
        exchange = f.text("exchange", MAX_LABEL_BYTES)
        round_label = f.text("round", MAX_LABEL_BYTES)
        created = f.text("created", 32, _TIME_RE)
        raw_assets = f.items("assets", MAX_ASSETS)
        if not raw_assets:
            raise FormatError("manifest.assets: empty")
        assets = tuple(AssetEntry.parse(_Fields(a, f"manifest.assets[{i}]")) for i, a in enumerate(raw_assets))
        symbols = [a.symbol for a in assets]
        if symbols != sorted(set(symbols)):
            raise FormatError("manifest.assets: symbols must be unique and sorted")
        digest = f.hexbytes("bundle_digest", 32)
        f.done()
        if bundle_digest(obj) != digest:
            raise FormatError("manifest.bundle_digest: does not match the manifest contents")
        return cls(exchange, round_label, created, assets, digest)


def _reject_float(value: str) -> Any:
    raise ValueError(f"non-integer number {value}")


def _parse_int(value: str) -> int:
    if len(value.lstrip("-")) > MAX_JSON_INT_DIGITS:
        raise ValueError(f"integer of {len(value)} digits (large numbers are decimal strings)")
    return int(value)


_JSON_STRING_RE: Final[re.Pattern[bytes]] = re.compile(rb'"[^"]*"')
_NOT_QUOTES_OR_BRACKETS: Final[bytes] = bytes(sorted(set(range(256)) - set(b'"[]{}')))


def _check_nesting(data: bytes, what: str) -> None:
    """Refuse JSON nested deeper than ``MAX_JSON_DEPTH``, before parsing it, in linear time.

    The C JSON parser recurses once per level; a document of a few hundred thousand
    ``[`` would exhaust the C stack (py_ecc raises the interpreter's recursion limit
    to 100000, so ``RecursionError`` does not come first).

    The bracket skeleton is computed with C-speed passes and little memory:
    escaped backslashes, then escaped quotes are removed (left to right, as JSON
    reads them); everything but quotes and brackets is deleted; adjacent quote pairs
    are removed (which keeps the parity of every later quote); strings that still
    hold brackets, rare in a real manifest, are removed with a regex. Each reduction
    pass then deletes innermost ``[]`` pairs, then innermost ``{}`` pairs: at most two
    levels per pass, because ``bytes.replace`` does not rescan what it produced. So
    the depth is at most twice the passes that changed something, plus what is left
    unmatched; the check refuses anything where that bound exceeds ``MAX_JSON_DEPTH``,
    so it accepts every document at most ``MAX_JSON_DEPTH // 2`` deep.
    """
    skeleton = data.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_QUOTES_OR_BRACKETS)
    skeleton = skeleton.replace(b'""', b"")
    if b'"' in skeleton:
        skeleton = _JSON_STRING_RE.sub(b"", skeleton)
    passes = 0
    while skeleton and 2 * passes <= MAX_JSON_DEPTH:
        reduced = skeleton.replace(b"[]", b"").replace(b"{}", b"")
        if reduced == skeleton:
            break  # unbalanced: json.loads reports it, and the depth is bounded below
        skeleton, passes = reduced, passes + 1
    if 2 * passes + len(skeleton) > MAX_JSON_DEPTH:
        raise FormatError(f"{what}: JSON nested deeper than {MAX_JSON_DEPTH} levels (or unbalanced)")


def _load_json(data: object, limit: int, what: str) -> tuple[Any, bytes]:
    """Parse UTF-8 JSON of at most ``limit`` bytes with integers only (no floats, NaN or Infinity).

    Returns the parsed value and the input as ``bytes``. The type, size and nesting
    depth are checked before anything is copied or parsed, and integers are limited to
    ``MAX_JSON_INT_DIGITS`` digits (whatever the interpreter's own limit).

    Raises:
        FormatError: naming ``what``.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise FormatError(f"{what}: expected bytes, got {type(data).__name__}")
    size = memoryview(data).nbytes
    if size > limit:
        raise FormatError(f"{what}: larger than {limit} bytes")
    raw = bytes(data)
    _check_nesting(raw, what)
    try:
        value = json.loads(
            raw.decode("utf-8"), parse_float=_reject_float, parse_constant=_reject_float, parse_int=_parse_int
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise FormatError(f"{what}: not valid JSON ({exc})") from exc
    return value, raw


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
    def parse(cls, f: _Fields) -> PackageEntry:
        """Validate one package entry."""
        asset = f.text("asset", 16, SYMBOL_RE)
        decimals = f.integer("decimals", 0, MAX_DECIMALS)
        amount = f.uint_str("amount", 1 << RANGE_BITS)
        blinding = int.from_bytes(f.hexbytes("blinding", 32), "little")
        if blinding >= GROUP_ORDER:
            raise FormatError(f"{f.where}.blinding: scalar is not canonical")
        salt = f.hexbytes("leaf_salt", 32)
        lid = f.hexbytes("leaf_id", 32)
        leaf_count = f.integer("leaf_count", 1, MAX_LEAVES)
        index = f.integer("leaf_index", 0, leaf_count - 1)
        root = f.hexbytes("merkle_root", 32)
        raw_path = f.items("merkle_path", 64)
        path = []
        for i, p in enumerate(raw_path):
            if not isinstance(p, str) or not _HEX32_RE.fullmatch(p):
                raise FormatError(f"{f.where}.merkle_path[{i}]: expected 32 bytes of lowercase hex")
            path.append(bytes.fromhex(p))
        f.done()
        return cls(asset, decimals, amount, blinding, salt, lid, index, leaf_count, root, tuple(path))


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
        f = _Fields(_load_json(data, MAX_PACKAGE_BYTES, "package")[0], "package")
        f.const("format", PACKAGE_FORMAT)
        f.const("format_version", PACKAGE_FORMAT_VERSION)
        exchange = f.text("exchange", MAX_LABEL_BYTES)
        round_label = f.text("round", MAX_LABEL_BYTES)
        digest = f.hexbytes("bundle_digest", 32)
        customer_id = f.text("customer_id", MAX_ID_BYTES)
        raw_entries = f.items("entries", MAX_ASSETS)
        if not raw_entries:
            raise FormatError("package.entries: empty")
        entries = tuple(PackageEntry.parse(_Fields(e, f"package.entries[{i}]")) for i, e in enumerate(raw_entries))
        if len({e.asset for e in entries}) != len(entries):
            raise FormatError("package.entries: an asset appears twice")
        f.done()
        return cls(exchange, round_label, digest, customer_id, entries)
