"""Fuzzing of every decoder: arbitrary or mutated bytes raise only the project's FormatError.

Targets (decoder -> strategy): points (both backends) and scalars from boundary-heavy
bytes; range and inner-product proofs from field-aware mutations of real proofs
(a valid point or a bad one dropped on a field, truncation at a field boundary,
extension by a round, splices of two proofs); ``Manifest.from_bytes`` and
``Package.from_bytes`` from random JSON, schema-aware mutations of a real manifest
or package (re-signed, so the schema checks run) and text-level mutations
(non-UTF-8, NaN, floats, duplicate keys, huge numbers, deep nesting, long strings);
``check_header``, ``iter_leaf_records`` + ``decode_leaf`` and ``verify_merkle_path``
against independent oracles; and data files and packages through the verifier (a
tiny bundle whose data file is replaced and re-signed; a fuzzed package checked
against it), where ``VerificationError`` may also escape.

The property: a call returns a validated value (which re-encodes to the input where
an encoding is canonical) or raises the project's error. Anything else (ValueError,
IndexError, RecursionError, MemoryError, ...) fails the test with its repr.

Settings: ``derandomize=True`` in the default suite, so every run draws the same
examples (the suite cannot turn red by luck, and a failure reproduces by rerunning);
``database=None``, so concurrent checkouts never share or write ``.hypothesis/``;
``deadline=None``, since per-example timing on a shared 2-core machine means nothing.
The ``-m fuzz`` variants run each target with ``FUZZ_EXAMPLES`` examples (default
50x the default budget) and ``derandomize=False``, so each long run explores new
inputs (failures print a ``@reproduce_failure`` blob).

"Rejected before anything is allocated": the huge-count tests trace Python
allocations with :mod:`tracemalloc` and bound the peak (memory, never wall time).
The native curve backend's own allocations are invisible to tracemalloc; no count
ever reaches it in these tests.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import math
import os
import re
import struct
import subprocess
import sys
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import pytest
from bundle_factory import AssetSpec, MadeBundle, make_bundle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from py_ecc.bls.point_compression import decompress_G1
from py_ecc.optimized_bls12_381 import is_inf, multiply

import circuits.manifest as cm
from circuits.backends import GroupBackend, get_backend
from circuits.constants import FIELD_MODULUS, GROUP_ORDER, POINT_SIZE, SCALAR_SIZE
from circuits.datafiles import (
    HEADER_SIZE,
    LEAF_RECORD_SIZE,
    MAGIC_LEAVES,
    MAGIC_RANGE_PROOFS,
    MAGIC_SOLVENCY,
    check_header,
    encode_header,
    iter_leaf_records,
)
from circuits.errors import FormatError, ProofError, VerificationError
from circuits.group import Point, scalar_from_bytes, scalar_to_bytes
from circuits.limits import MAX_MANIFEST_BYTES, MAX_PACKAGE_BYTES
from circuits.manifest import Manifest
from circuits.merkle import MerkleTree, verify_merkle_path
from circuits.package import Package
from circuits.proofs import InnerProductProof, RangeProof
from verifier.bundle import verify_bundle
from verifier.package import check_package, read_package
from verifier.reading import decode_leaf, read_manifest

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[1]
R = GROUP_ORDER
IDENTITY = bytes([0xC0]) + bytes(47)
MiB = 1 << 20

#: Examples per target in a ``-m fuzz`` run (``FUZZ_EXAMPLES``), else this multiple of the default budget.
LONG_FACTOR = 50


def long_examples(default: int) -> int:
    """The example budget of the long (``-m fuzz``) variant of a target."""
    return int(os.environ.get("FUZZ_EXAMPLES", "0")) or default * LONG_FACTOR


# ---------------------------------------------------------------------------
# The property: a validated value, or the project's error; never anything else


def outcome(call: Callable[[], T], allowed: tuple[type[ProofError], ...] = (FormatError,)) -> T | ProofError:
    """Return ``call()`` or the allowed project error it raised; fail the test on any other exception."""
    try:
        return call()
    except allowed as exc:
        assert type(exc).__module__ == "circuits.errors", f"{type(exc)!r} is not one of the project's errors"
        return exc
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        names = "/".join(cls.__name__ for cls in allowed)
        raise AssertionError(f"only {names} may escape, got {type(exc).__name__}: {exc!r}"[:2000]) from exc


def rejected(result: object) -> bool:
    """Whether an :func:`outcome` is an error."""
    return isinstance(result, ProofError)


# ---------------------------------------------------------------------------
# Fixtures: a tiny bundle (for data files and the customer check) and a richer one
# (two assets, a disclosed opening, a two-entry package: for the schema fuzzing)


@dataclass(frozen=True)
class Ctx:
    """Everything the strategies mutate: valid encodings from real bundles."""

    tiny: MadeBundle
    work: Path
    rich: MadeBundle
    tiny_files: dict[str, bytes]
    tiny_names: dict[str, str]
    tiny_manifest: bytes
    rich_manifest: bytes
    rich_package: dict[str, Any]
    tiny_package: dict[str, Any]
    valid_points: tuple[bytes, ...]
    bad_points: tuple[bytes, ...]
    proofs: tuple[bytes, ...]


ROLES = ("leaves", "range_proofs", "solvency")


def encode_x(x: int, flags: int = 0x80) -> bytes:
    raw = bytearray(x.to_bytes(POINT_SIZE, "big"))
    raw[0] |= flags
    return bytes(raw)


@cache
def point_outside_subgroup() -> bytes:
    """The encoding of an on-curve point with a small x that is not in G1 (py_ecc does no subgroup check)."""
    for x in range(1, 1000):
        try:
            point = decompress_G1(int.from_bytes(encode_x(x), "big"))
        except ValueError:
            continue
        if not is_inf(multiply(point, R)):
            return encode_x(x)
    raise AssertionError("no small x outside the subgroup")


def x_off_curve() -> int:
    """The smallest x with x^3 + 4 not a square mod p: no curve point has it."""
    return next(x for x in range(1, 1000) if pow(x**3 + 4, (FIELD_MODULUS - 1) // 2, FIELD_MODULUS) != 1)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Ctx:
    root = tmp_path_factory.mktemp("fuzz")
    tiny = make_bundle(root / "tiny", [AssetSpec("XRP", {"alice": 5, "bob": 7}, reserves=20, decimals=0, chunk=2)])
    work = root / "work"
    work.mkdir()
    for f in tiny.path.iterdir():
        (work / f.name).write_bytes(f.read_bytes())
    rich = make_bundle(
        root / "rich",
        [
            AssetSpec("BTC", {"alice": 3, "bob": 4, "carol": 5}, reserves=20, chunk=2, ratio=(3, 2), disclose=True),
            AssetSpec("ETH", {"alice": 10**18, "dave": 1}, reserves=2 * 10**18, decimals=18, chunk=1),
        ],
        seed=b"rich",
    )
    asset = tiny.manifest["assets"][0]
    names = {role: asset["files"][role]["name"] for role in ROLES}
    files = {role: (tiny.path / names[role]).read_bytes() for role in ROLES}
    leaves = [leaf.V for leaves in (*tiny.leaves.values(), *rich.leaves.values()) for leaf in leaves]
    G = Point.generator(get_backend("fast"))
    valid = (*leaves, G.to_bytes(), (-G).to_bytes(), IDENTITY)
    bad = (
        point_outside_subgroup(),
        encode_x(x_off_curve()),
        encode_x(FIELD_MODULUS),
        encode_x(0),
        bytes([0xC0, 1]) + bytes(46),
        bytes([0xE0]) + bytes(47),
        G.to_bytes()[:1].replace(b"\x97", b"\x17") + G.to_bytes()[1:],
    )
    rich_proofs = (rich.path / "ETH.rangeproofs.bin").read_bytes()  # m = 1: 6 rounds, where XRP's have 7
    (record_size,) = struct.unpack_from("<I", rich_proofs, 12)
    return Ctx(
        tiny=tiny,
        work=work,
        rich=rich,
        tiny_files=files,
        tiny_names=names,
        tiny_manifest=(tiny.path / "manifest.json").read_bytes(),
        rich_manifest=(rich.path / "manifest.json").read_bytes(),
        rich_package=rich.packages["alice"],
        tiny_package=tiny.packages["alice"],
        valid_points=valid,
        bad_points=bad,
        proofs=(files["range_proofs"][16:], files["solvency"][16:], rich_proofs[16 : 16 + record_size]),
    )


# ---------------------------------------------------------------------------
# Byte-level mutation engine


SCALAR_EDGES = tuple(
    v.to_bytes(SCALAR_SIZE, "little") for v in (0, 1, R - 1, R, R + 1, 2 * R, (1 << 255) - 1, (1 << 256) - 1)
)


@st.composite
def mutated(
    draw: st.DrawFn,
    bases: Sequence[bytes],
    *,
    boundaries: Callable[[int], Sequence[int]] = lambda n: (),
    pieces: Sequence[bytes] = (),
    max_ops: int = 3,
) -> bytes:
    """A base input after 1..max_ops mutations; positions are biased towards ``boundaries`` (field starts).

    Ops: flip a bit, set a byte, truncate, extend, delete or duplicate a slice,
    insert random bytes or a ``piece``, overwrite with a ``piece`` (a valid point on
    a point field), splice with another base.
    """
    data = bytearray(draw(st.sampled_from(bases)))
    for _ in range(draw(st.integers(1, max_ops))):
        n = len(data)
        marks = [b for b in boundaries(n) if b <= n]
        pos = draw(st.sampled_from(marks)) if marks and draw(st.booleans()) else draw(st.integers(0, n))
        op = draw(st.sampled_from(("flip", "set", "truncate", "extend", "delete", "dup", "insert", "put", "splice")))
        if op in ("flip", "set") and pos < n:
            if op == "flip":
                data[pos] ^= 1 << draw(st.integers(0, 7))
            else:
                data[pos] = draw(st.integers(0, 255))
        elif op == "truncate":
            del data[pos:]
        elif op == "extend":
            data += draw(st.binary(min_size=1, max_size=120))
        elif op == "delete":
            del data[pos : pos + draw(st.sampled_from((1, 4, 32, 48, 96, 200)))]
        elif op == "dup":
            end = min(n, pos + draw(st.sampled_from((1, 32, 48, 96))))
            data[pos:pos] = data[pos:end]
        elif op == "insert":
            random_bytes = st.binary(min_size=1, max_size=8)
            data[pos:pos] = draw(st.sampled_from(pieces)) if pieces and draw(st.booleans()) else draw(random_bytes)
        elif op == "put" and pieces:
            piece = draw(st.sampled_from(pieces))
            data[pos : pos + len(piece)] = piece
        elif op == "splice":
            other = draw(st.sampled_from(bases))
            cut = draw(st.sampled_from(marks)) if marks else draw(st.integers(0, len(other)))
            data = data[:pos] + bytearray(other[cut:])
    return bytes(data)


def proof_boundaries(n: int) -> list[int]:
    """Field starts of a range proof of length ``n`` (and the IPP inside it)."""
    fixed = [0, 1, *(1 + 48 * i for i in range(1, 5)), *(193 + 32 * i for i in range(1, 4))]
    rounds = max(0, (n - 353) // 96)
    ipp = [289 + 48 * i for i in range(2 * rounds + 1)]
    return fixed + ipp + [289 + 96 * rounds + 32, n]


# ---------------------------------------------------------------------------
# Points and scalars


def point_inputs(c: Ctx) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=60),
        st.binary(min_size=POINT_SIZE, max_size=POINT_SIZE).map(lambda b: bytes([b[0] | 0x80]) + b[1:]),
        st.integers(FIELD_MODULUS - 2**20, 2**381 - 1).map(encode_x),
        mutated(c.valid_points + c.bad_points, boundaries=lambda n: (0, 1, 47, 48), max_ops=2),
        st.sampled_from(c.valid_points + c.bad_points),
    )


def check_point(backend: GroupBackend, data: bytes) -> None:
    """Both decoders: only FormatError; an accepted point re-encodes; G1 membership implies on-curve."""
    full = outcome(lambda: Point.from_bytes(data, backend))
    loose = outcome(lambda: Point.from_bytes_without_subgroup_check(data, backend))
    if not rejected(loose):
        assert loose.to_bytes() == data
    if not rejected(full):
        assert full.to_bytes() == data
        assert not rejected(loose) and loose == full
        assert outcome(lambda: Point.from_bytes(memoryview(data), backend)) == full
    if data == point_outside_subgroup():
        assert rejected(full) and not rejected(loose)


def scalar_inputs(c: Ctx) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.integers(R - 2**16, 2**256 - 1).map(lambda v: v.to_bytes(SCALAR_SIZE, "little")),
        st.integers(0, R - 1).map(lambda v: v.to_bytes(SCALAR_SIZE, "little")),
        mutated(SCALAR_EDGES, boundaries=lambda n: (0, 31, 32), max_ops=2),
    )


def check_scalar(data: bytes) -> None:
    for form in (data, bytearray(data), memoryview(data)):
        k = outcome(lambda form=form: scalar_from_bytes(form))
        if rejected(k):
            assert len(data) != SCALAR_SIZE or int.from_bytes(data, "little") >= R
        else:
            assert scalar_to_bytes(k) == data


# ---------------------------------------------------------------------------
# Range proofs and inner-product proofs


def proof_inputs(c: Ctx) -> st.SearchStrategy[bytes]:
    pieces = c.valid_points[:4] + c.bad_points + SCALAR_EDGES[2:5] + (c.valid_points[0] + c.valid_points[1],)
    return st.one_of(
        mutated(c.proofs, boundaries=proof_boundaries, pieces=pieces),
        st.binary(max_size=1200).map(lambda b: b"\x01" + b),
    )


def check_proof(data: bytes) -> None:
    fast = get_backend("fast")
    proof = outcome(lambda: RangeProof.from_bytes(data, fast))
    if not rejected(proof):
        assert proof.to_bytes() == data and proof.serialized_size() == len(data)
    tail = data[289:]
    ipp = outcome(lambda: InnerProductProof.from_bytes(tail, fast))
    if not rejected(ipp):
        assert ipp.to_bytes() == tail
    elif not rejected(proof):
        raise AssertionError("a range proof parsed but its inner-product proof did not")


# ---------------------------------------------------------------------------
# JSON: random values, schema-aware mutations of real objects, text-level mutations


def canonical(obj: Any) -> bytes:
    """docs/FORMAT.md §6, written here from the spec (not circuits.jsonio.canonical_json)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def signed(obj: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in obj.items() if k != "bundle_digest"}
    return {**body, "bundle_digest": hashlib.sha256(b"zk-solvency bundle v1\x00" + canonical(body)).hexdigest()}


INTERESTING_INTS = (0, 1, -1, 2, 30, 31, 64, 65, 1023, 1024, 1025, 2**32 - 1, 2**32, 2**53, 2**63, 2**64, 10**77)
INTERESTING_TEXT = (
    "",
    "0",
    "-1",
    "01",
    "1" * 79,
    "0" * 64,
    "F" * 64,
    "BTC",
    "btc",
    "A" * 17,
    "\u0661\u0662",
    "\ud800",
    "\u00e9",
    "A" * 300,
    "zk-solvency-bundle",
    "zk-solvency-package",
    "2026-01-31T00:05:00Z",
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(INTERESTING_INTS),
    st.integers(),
    st.sampled_from(INTERESTING_TEXT),
    st.text(max_size=12),
)
json_keys = st.one_of(
    st.sampled_from(
        ("format", "format_version", "assets", "entries", "symbol", "files", "size", "name", "merkle_path", "x")
    ),
    st.text(max_size=6),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(json_keys, inner, max_size=4)),
    max_leaves=12,
)


def paths(obj: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path into a JSON value (dict keys and list indices)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield (*prefix, k)
            yield from paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield (*prefix, i)
            yield from paths(v, (*prefix, i))


def retyped(value: Any) -> list[Any]:
    """Same information, other JSON types (and off-by-one neighbours of numbers)."""
    out: list[Any] = [None, [value], {"v": value}, str(value), True]
    if isinstance(value, int) and not isinstance(value, bool):
        out += [value - 1, value + 1, -value, 2**64 + value, 10**4000, str(value)]
    if isinstance(value, str):
        out += [value.upper(), value + "0", value[:-1], value * 40, value.encode("utf-8", "surrogatepass").hex()]
        if value.isdigit():
            out += [int(value), "0" + value, "+" + value]
    return out


@st.composite
def mutated_json(draw: st.DrawFn, base: dict[str, Any], *, resign: bool) -> Any:
    """Apply 1..3 schema-aware edits to a deep copy of ``base`` (replace, retype, drop, add, nest, grow)."""
    obj = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(list(paths(obj)) or [()]))
        parent: Any = obj
        for key in where[:-1]:
            parent = parent[key]
        key = where[-1] if where else None
        op = draw(st.sampled_from(("replace", "retype", "drop", "add", "nest", "grow", "swap")))
        if key is None:
            obj = draw(json_values)
            break
        if op == "replace":
            parent[key] = draw(json_values)
        elif op == "retype":
            parent[key] = draw(st.sampled_from(retyped(parent[key])))
        elif op == "drop":
            del parent[key]
        elif op == "add":
            if isinstance(parent, dict):
                parent[draw(json_keys)] = draw(json_values)
            else:
                parent.insert(key, copy.deepcopy(parent[key]) if draw(st.booleans()) else draw(json_values))
        elif op == "nest":
            value = parent[key]
            for _ in range(draw(st.sampled_from((1, 2, 50)))):
                value = [value]
            parent[key] = value
        elif op == "grow" and isinstance(parent[key], list) and parent[key]:
            parent[key] = parent[key] * draw(st.sampled_from((2, 65, 257)))
        elif op == "swap" and isinstance(parent, list) and len(parent) > 1:
            parent.reverse()
        if not isinstance(obj, dict):
            break
    if resign and isinstance(obj, dict) and draw(st.integers(0, 9)):
        obj = signed(obj)
    return obj


def encode_json(draw: st.DrawFn, obj: Any, *, canonical_first: bool) -> bytes:
    """Canonical bytes (mostly, if ``canonical_first``) or another legal JSON rendering."""
    style = draw(st.integers(0, 9)) if canonical_first else draw(st.integers(3, 9))
    if style < 7 and canonical_first:
        return canonical(obj) + b"\n"
    if style == 7:
        return json.dumps(obj, indent=1).encode()
    if style == 8:
        return json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return json.dumps(obj, sort_keys=draw(st.booleans())).encode()


JSON_VALUE_RE = re.compile(rb'(?<=[:\[,])("(?:[^"\\]|\\.)*"|-?\d+|true|false|null)')
TEXT_TOKENS = (
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"1.5",
    b"1e400",
    b"-0",
    b"1E2",
    b"0.0",
    b"9" * 4301,
    b"9" * 5000,
    b'"\\ud800"',
    b'"\\u0000"',
    b'"\xff"',
    b'"\xc3\x28"',
    b'"\xed\xa0\x80"',
    b'"' + b"A" * 100_000 + b'"',
    # Nesting stays below ~2000 here: deeper input can overflow the C stack (a segfault would kill
    # the whole run), so it is tested in a subprocess below (test_deeply_nested_json_*).
    b"[" * 1500,
    b"[" * 999 + b"]" * 999,
    b'{"a":' * 900 + b"1" + b"}" * 900,
    b"{}",
    b"[]",
)


@st.composite
def text_mutated(draw: st.DrawFn, base: bytes) -> bytes:
    """Text-level edits of real JSON bytes: a value replaced by a token, a duplicate key, raw byte edits."""
    data = base
    for _ in range(draw(st.integers(1, 2))):
        op = draw(st.sampled_from(("token", "token", "dupkey", "bytes", "bom")))
        spans = [m.span() for m in JSON_VALUE_RE.finditer(data)]
        if op == "token" and spans:
            start, end = draw(st.sampled_from(spans))
            data = data[:start] + draw(st.sampled_from(TEXT_TOKENS)) + data[end:]
        elif op == "dupkey":
            keys = re.findall(rb'"([a-z_]+)":', data)
            key = draw(st.sampled_from(keys)) if keys else b"format"
            data = b'{"' + key + b'":' + draw(st.sampled_from((b"0", b'"x"', b"null", b"{}"))) + b"," + data[1:]
        elif op == "bytes":
            data = draw(mutated((data,), pieces=(b"\xff", b"\xc0\x80", b"\\", b'"', b"\x00", b"\n")))
        else:
            data = b"\xef\xbb\xbf" + data
    return data


def manifest_inputs(c: Ctx) -> st.SearchStrategy[bytes]:
    base = json.loads(c.rich_manifest)

    @st.composite
    def structured(draw: st.DrawFn) -> bytes:
        return encode_json(draw, draw(mutated_json(base, resign=True)), canonical_first=True)

    @st.composite
    def random_json(draw: st.DrawFn) -> bytes:
        return encode_json(draw, draw(json_values), canonical_first=True)

    return st.one_of(
        structured(),
        text_mutated(c.rich_manifest),
        random_json(),
        st.binary(max_size=64),
        st.just(c.rich_manifest),
    )


def check_manifest(data: bytes) -> None:
    m = outcome(lambda: Manifest.from_bytes(data))
    if not rejected(m):
        assert m.to_bytes() == data
        assert json.loads(data) == m.to_json()


def package_inputs(base_package: dict[str, Any]) -> st.SearchStrategy[bytes]:
    base_bytes = json.dumps(base_package).encode()

    @st.composite
    def structured(draw: st.DrawFn) -> bytes:
        return encode_json(draw, draw(mutated_json(base_package, resign=False)), canonical_first=False)

    @st.composite
    def random_json(draw: st.DrawFn) -> bytes:
        return encode_json(draw, draw(json_values), canonical_first=False)

    return st.one_of(structured(), text_mutated(base_bytes), random_json(), st.just(base_bytes))


def check_package_bytes(data: bytes) -> None:
    p = outcome(lambda: Package.from_bytes(data))
    if not rejected(p):
        assert Package.from_bytes(p.to_bytes()) == p
        assert json.loads(data) == p.to_json()  # accepts exactly the objects it writes


# ---------------------------------------------------------------------------
# Data-file pieces: headers, leaf records, Merkle paths

MAGICS = (MAGIC_LEAVES, MAGIC_RANGE_PROOFS, MAGIC_SOLVENCY)
u32 = st.one_of(st.sampled_from((0, 1, 2, 80, 1025, 2**31, 2**32 - 1)), st.integers(0, 2**32 - 1))


@st.composite
def header_inputs(draw: st.DrawFn) -> tuple[bytes, bytes, int, int]:
    magic, count, size = draw(st.sampled_from(MAGICS)), draw(u32), draw(u32)
    good = encode_header(magic, count, size)
    header = draw(
        st.one_of(
            st.just(good),
            mutated((good, *(encode_header(m, count, size) for m in MAGICS)), boundaries=lambda n: (0, 7, 8, 12, 16)),
            st.binary(max_size=24),
        )
    )
    return header, magic, count, size


def check_header_input(args: tuple[bytes, bytes, int, int]) -> None:
    header, magic, count, size = args
    result = outcome(lambda: check_header(header, magic, count, size, "X.leaves.bin"))
    if header == encode_header(magic, count, size):
        assert result is None
    else:
        assert rejected(result) and result.section == "X.leaves.bin"


def leaves_inputs(c: Ctx) -> st.SearchStrategy[tuple[bytes, int]]:
    body = c.tiny_files["leaves"][16:]
    pieces = c.valid_points[:3] + c.bad_points
    bodies = st.one_of(
        mutated((body,), boundaries=lambda n: [o for i in range(0, n + 1, 80) for o in (i, i + 32)], pieces=pieces),
        st.binary(max_size=300),
    )
    return st.tuples(bodies, st.one_of(st.just(0), st.integers(0, 2**40)))


def check_leaves(args: tuple[bytes, int]) -> None:
    body, start = args
    fast = get_backend("fast")
    records = outcome(lambda: list(iter_leaf_records(body, start)), allowed=())
    assert len(records) == math.ceil(len(body) / LEAF_RECORD_SIZE)
    assert [i for i, _, _ in records] == list(range(start, start + len(records)))
    assert b"".join(lid + enc for _, lid, enc in records) == body
    for i, _, encoding in records:
        V = outcome(lambda i=i, encoding=encoding: decode_leaf(i, encoding, fast, "X.leaves.bin"))
        if rejected(V):
            assert V.section == f"X.leaves.bin record {i}"
        else:
            assert V.to_bytes() == encoding and not V.is_identity()


def expected_path_length(index: int, size: int) -> int:
    """RFC 6962 §2.1.1 audit-path length, by the recursive definition (an oracle)."""
    if size <= 1:
        return 0
    k = 1 << ((size - 1).bit_length() - 1)
    return 1 + (expected_path_length(index, k) if index < k else expected_path_length(index - k, size - k))


@st.composite
def merkle_inputs(draw: st.DrawFn) -> tuple[bytes, int, int, list[bytes], bytes | None]:
    """A real audit path (sometimes tampered) or arbitrary (leaf, index, size, path); plus the true root."""
    if draw(st.booleans()):
        n = draw(st.integers(1, 40))
        hashes = [hashlib.sha256(struct.pack("<Q", i)).digest() for i in range(n)]
        tree = MerkleTree(hashes)
        i = draw(st.integers(0, n - 1))
        path, index, size, leaf = tree.path(i), i, n, hashes[i]
        op = draw(st.sampled_from(("none", "index", "size", "drop", "add", "flip")))
        if op == "index":
            index = draw(st.integers(-2, n + 2))
        elif op == "size":
            size = draw(st.integers(-1, 2 * n + 1))
        elif op == "drop" and path:
            path = path[:-1]
        elif op == "add":
            path = [*path, bytes(32)]
        elif op == "flip" and path:
            path = [bytes([path[0][0] ^ 1]) + path[0][1:], *path[1:]]
        true_root = tree.root if op == "none" else None
        return leaf, index, size, path, true_root
    size = draw(st.one_of(st.integers(-2, 64), st.integers(0, 2**64), st.sampled_from((2**32 - 1, 2**63))))
    index = draw(st.one_of(st.integers(-2, 64), st.integers(0, 2**64)))
    path = draw(st.lists(st.binary(min_size=32, max_size=32), max_size=70))
    return draw(st.binary(min_size=32, max_size=32)), index, size, path, None


def check_merkle(args: tuple[bytes, int, int, list[bytes], bytes | None]) -> None:
    leaf, index, size, path, true_root = args
    root = outcome(lambda: verify_merkle_path(leaf, index, size, path))
    ok = 0 <= index < size and len(path) == expected_path_length(index, size)
    assert rejected(root) != ok, f"index={index} size={size} len={len(path)}: {root!r}"
    if true_root is not None:
        assert root == true_root


# ---------------------------------------------------------------------------
# Data files and packages through the verifier


def datafile_inputs(c: Ctx) -> st.SearchStrategy[tuple[str, bytes, bool]]:
    pieces = c.valid_points[:3] + c.bad_points + SCALAR_EDGES[2:5] + (b"\xff\xff\xff\xff", bytes(4))

    def boundaries(role: str) -> Callable[[int], list[int]]:
        size = 80 if role == "leaves" else len(c.tiny_files[role]) - 16

        def marks(n: int) -> list[int]:
            heads = [0, 8, 12, 16]
            if role == "leaves":
                return heads + [o for i in range(16, n + 1, size) for o in (i, i + 32)]
            return heads + [16 + b for b in proof_boundaries(size)]

        return marks

    def keep_length(role: str) -> Callable[[tuple[bytes, bool]], bytes]:
        n = len(c.tiny_files[role])
        return lambda drawn: drawn[0][:n].ljust(n, b"\0") if drawn[1] else drawn[0]

    def contents(role: str) -> st.SearchStrategy[bytes]:
        # Mostly cut or padded back to the original length: past the manifest's size rule, into the reader.
        raw = mutated((c.tiny_files[role],), boundaries=boundaries(role), pieces=pieces)
        return st.tuples(raw, st.integers(0, 3).map(bool)).map(keep_length(role))

    return st.sampled_from(ROLES).flatmap(
        lambda role: st.tuples(st.just(role), contents(role), st.integers(0, 9).map(bool))
    )


def check_datafile(c: Ctx, args: tuple[str, bytes, bool]) -> None:
    role, content, resize = args
    name = c.tiny_names[role]
    manifest = json.loads(c.tiny_manifest)
    entry = manifest["assets"][0]["files"][role]
    if resize:  # a resized file is otherwise caught by the manifest's size rule, not by the reader
        entry["size"] = len(content)
    entry["sha256"] = hashlib.sha256(content).hexdigest()
    try:
        (c.work / name).write_bytes(content)
        (c.work / "manifest.json").write_bytes(canonical(signed(manifest)) + b"\n")
        report = outcome(lambda: verify_bundle(c.work), allowed=(FormatError, VerificationError))
    finally:
        (c.work / name).write_bytes(c.tiny_files[role])
        (c.work / "manifest.json").write_bytes(c.tiny_manifest)
    if rejected(report):
        assert isinstance(report.section, str) and report.section
        assert report.report.ok is False  # type: ignore[attr-defined]
    else:
        assert content == c.tiny_files[role], "a tampered data file verified"
        assert report.ok


def check_customer(c: Ctx, tmp: Path, data: bytes) -> None:
    path = tmp / "package.json"
    path.write_bytes(data)
    report = outcome(lambda: check_package(path, c.tiny.path), allowed=(FormatError, VerificationError))
    if rejected(report):
        assert isinstance(report.section, str) and report.section
    else:
        assert Package.from_bytes(data) == Package.from_bytes(json.dumps(c.tiny_package).encode())
        assert report.ok


# ---------------------------------------------------------------------------
# The target table: one default and one long test per target


@dataclass(frozen=True)
class Target:
    """A decoder to fuzz: ``strategy(ctx)`` draws an input, ``check(ctx, tmp, input)`` asserts the property."""

    name: str
    strategy: Callable[[Ctx], st.SearchStrategy[Any]]
    check: Callable[[Ctx, Path, Any], None]
    examples: int


TARGETS = [
    Target("point-fast", point_inputs, lambda c, t, d: check_point(get_backend("fast"), d), 400),
    Target("point-reference", point_inputs, lambda c, t, d: check_point(get_backend("reference"), d), 40),
    Target("scalar", scalar_inputs, lambda c, t, d: check_scalar(d), 200),
    Target("proof", proof_inputs, lambda c, t, d: check_proof(d), 400),
    Target("manifest", manifest_inputs, lambda c, t, d: check_manifest(d), 800),
    Target("package", lambda c: package_inputs(c.rich_package), lambda c, t, d: check_package_bytes(d), 800),
    Target("header", lambda c: header_inputs(), lambda c, t, d: check_header_input(d), 300),
    Target("leaves", leaves_inputs, lambda c, t, d: check_leaves(d), 300),
    Target("merkle_path", lambda c: merkle_inputs(), lambda c, t, d: check_merkle(d), 400),
    Target("datafile", datafile_inputs, lambda c, t, d: check_datafile(c, d), 300),
    Target("customer", lambda c: package_inputs(c.tiny_package), check_customer, 250),
]


def run_target(target: Target, c: Ctx, tmp: Path, examples: int, *, derandomize: bool) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=derandomize,
        database=None,
        print_blob=not derandomize,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )
    @given(target.strategy(c))
    def run(value: Any) -> None:
        target.check(c, tmp, value)

    run()


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_fuzz(target: Target, ctx: Ctx, tmp_path: Path) -> None:
    run_target(target, ctx, tmp_path, target.examples, derandomize=True)


@pytest.mark.fuzz
@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_fuzz_long(target: Target, ctx: Ctx, tmp_path: Path) -> None:
    run_target(target, ctx, tmp_path, long_examples(target.examples), derandomize=False)


# ---------------------------------------------------------------------------
# The fixtures and oracles above can fail


def test_the_valid_inputs_are_accepted(ctx: Ctx, tmp_path: Path) -> None:
    """Sanity of the bases the strategies mutate: every one is accepted as is."""
    check_manifest(ctx.rich_manifest)
    assert not rejected(outcome(lambda: Manifest.from_bytes(ctx.tiny_manifest)))
    check_package_bytes(json.dumps(ctx.rich_package).encode())
    assert not rejected(outcome(lambda: Package.from_bytes(json.dumps(ctx.rich_package).encode())))
    for proof in ctx.proofs:
        assert not rejected(outcome(lambda proof=proof: RangeProof.from_bytes(proof)))
    for data in ctx.valid_points:
        check_point(get_backend("fast"), data)
        assert not rejected(outcome(lambda data=data: Point.from_bytes(data)))
    for data in ctx.bad_points:
        assert rejected(outcome(lambda data=data: Point.from_bytes(data)))
    assert verify_bundle(ctx.work).ok
    check_customer(ctx, tmp_path, json.dumps(ctx.tiny_package).encode())
    for role in ROLES:
        check_datafile(ctx, (role, ctx.tiny_files[role], False))


def test_a_tampered_data_file_is_caught_by_the_datafile_check(ctx: Ctx) -> None:
    data = bytearray(ctx.tiny_files["leaves"])
    data[20] ^= 1  # a leaf id bit: still well formed, but the Merkle root changes
    check_datafile(ctx, ("leaves", bytes(data), False))
    manifest = json.loads(ctx.tiny_manifest)
    manifest["assets"][0]["files"]["leaves"]["sha256"] = hashlib.sha256(bytes(data)).hexdigest()
    (ctx.work / "XRP.leaves.bin").write_bytes(bytes(data))
    (ctx.work / "manifest.json").write_bytes(canonical(signed(manifest)) + b"\n")
    try:
        with pytest.raises(VerificationError):
            verify_bundle(ctx.work)
    finally:
        (ctx.work / "XRP.leaves.bin").write_bytes(ctx.tiny_files["leaves"])
        (ctx.work / "manifest.json").write_bytes(ctx.tiny_manifest)


def raiser(exc: BaseException) -> Callable[[], None]:
    def call() -> None:
        raise exc

    return call


def test_outcome_rejects_foreign_exceptions() -> None:
    for exc in (ValueError("bare"), RecursionError(), MemoryError(), VerificationError("false")):
        with pytest.raises(AssertionError, match=type(exc).__name__):
            outcome(raiser(exc))
    assert isinstance(outcome(raiser(FormatError("bad"))), FormatError)
    assert isinstance(outcome(raiser(VerificationError("no")), (FormatError, VerificationError)), VerificationError)


@pytest.mark.parametrize(
    ("index", "size", "length"), [(0, 1, 0), (0, 2, 1), (4, 5, 1), (0, 5, 3), (6, 7, 2), (2**32 - 2, 2**32 - 1, 31)]
)
def test_expected_path_length_oracle(index: int, size: int, length: int) -> None:
    assert expected_path_length(index, size) == length


# ---------------------------------------------------------------------------
# Non-bytes input: bytes-like is accepted, anything else is a FormatError (every decoder alike)


JSON_DECODERS = [Manifest.from_bytes, Package.from_bytes]


@pytest.mark.parametrize("decode", JSON_DECODERS, ids=["manifest", "package"])
@pytest.mark.parametrize("value", ["{}", None, 7, ["{}"]], ids=["str", "none", "int", "list"])
def test_json_decoders_reject_non_bytes_with_format_error(decode: Callable[[Any], Any], value: object) -> None:
    with pytest.raises(FormatError) as info:
        decode(value)
    assert type(info.value) is FormatError


def test_json_decoders_accept_bytes_like(ctx: Ctx) -> None:
    """Like points, scalars and proofs: a memoryview or bytearray of a valid encoding decodes."""
    package = json.dumps(ctx.rich_package).encode()
    for form in (bytearray, memoryview):
        assert outcome(lambda form=form: Manifest.from_bytes(form(ctx.rich_manifest))).to_bytes() == ctx.rich_manifest
        assert outcome(lambda form=form: Package.from_bytes(form(package))) == Package.from_bytes(package)


# ---------------------------------------------------------------------------
# Huge declared counts: rejected with FormatError, with a small peak of traced memory


#: Peak traced memory of any verifier call: ``read_manifest`` reads with ``f.read(MAX_MANIFEST_BYTES + 1)``,
#: and CPython's ``BufferedReader.read(n)`` allocates its n-byte result up front, whatever the file's size.
VERIFIER_PEAK = MAX_MANIFEST_BYTES + 2 * MiB


def peak_traced(call: Callable[[], object]) -> tuple[object, int]:
    """Run ``call`` under tracemalloc; return its outcome (value or FormatError) and the peak traced bytes."""
    tracemalloc.start()
    try:
        result = outcome(call)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


@pytest.fixture
def bundle(ctx: Ctx, tmp_path: Path) -> Path:
    """A fresh copy of the tiny bundle (already verified once, so generator caches are warm)."""
    out = tmp_path / "bundle"
    out.mkdir()
    for f in ctx.tiny.path.iterdir():
        (out / f.name).write_bytes(f.read_bytes())
    assert verify_bundle(out).ok
    return out


def write_manifest(bundle: Path, manifest: dict[str, Any]) -> None:
    (bundle / "manifest.json").write_bytes(canonical(signed(manifest)) + b"\n")


def rewrite_header(bundle: Path, name: str, count: int | None = None, record_size: int | None = None) -> None:
    """Patch a data file's header fields and re-sign its SHA-256 (size unchanged)."""
    path = bundle / name
    data = bytearray(path.read_bytes())
    old_count, old_size = struct.unpack_from("<II", data, 8)
    new_count = old_count if count is None else count
    struct.pack_into("<II", data, 8, new_count, old_size if record_size is None else record_size)
    path.write_bytes(bytes(data))
    manifest = json.loads((bundle / "manifest.json").read_bytes())
    for entry in manifest["assets"][0]["files"].values():
        if entry["name"] == name:
            entry["sha256"] = hashlib.sha256(bytes(data)).hexdigest()
    write_manifest(bundle, manifest)


@pytest.mark.parametrize(
    ("name", "count", "record_size"),
    [
        ("XRP.leaves.bin", 2**32 - 1, None),
        ("XRP.leaves.bin", None, 2**32 - 1),
        ("XRP.rangeproofs.bin", 2**32 - 1, None),
        ("XRP.rangeproofs.bin", None, 2**32 - 1),
        ("XRP.solvency.bin", 2**32 - 1, 2**32 - 1),
    ],
)
def test_data_file_header_declaring_a_huge_count_is_rejected_before_reading(
    bundle: Path, name: str, count: int | None, record_size: int | None
) -> None:
    rewrite_header(bundle, name, count, record_size)
    result, peak = peak_traced(lambda: verify_bundle(bundle))
    assert rejected(result) and result.section == name and "header says" in str(result)
    assert peak < VERIFIER_PEAK, f"peak {peak} bytes for a header declaring ~{(2**32 - 1) * 80 >> 30} GiB"


def test_header_declaring_a_huge_count_is_rejected_by_the_customer_check(bundle: Path, ctx: Ctx) -> None:
    rewrite_header(bundle, "XRP.leaves.bin", 2**32 - 1)
    package = dict(ctx.tiny_package, bundle_digest=json.loads((bundle / "manifest.json").read_bytes())["bundle_digest"])
    path = bundle.parent / "package.json"
    path.write_text(json.dumps(package))
    result, peak = peak_traced(lambda: check_package(path, bundle))
    assert rejected(result) and result.section == "XRP.leaves.bin"
    assert peak < VERIFIER_PEAK


@pytest.mark.parametrize("consistent_sizes", [False, True], ids=["tiny-sizes", "implied-sizes"])
def test_manifest_declaring_a_huge_leaf_count_is_rejected_before_reading(bundle: Path, consistent_sizes: bool) -> None:
    manifest = json.loads((bundle / "manifest.json").read_bytes())
    asset = manifest["assets"][0]
    asset["chunk_size"] = 1
    asset["leaf_count"] = 2**32 - 1
    if consistent_sizes:  # sizes the huge count implies (~320 GiB of leaves); the files stay tiny
        asset["files"]["leaves"]["size"] = HEADER_SIZE + (2**32 - 1) * LEAF_RECORD_SIZE
        asset["files"]["range_proofs"]["size"] = HEADER_SIZE + (2**32 - 1) * RangeProof.size_for(6)
    write_manifest(bundle, manifest)
    result, peak = peak_traced(lambda: verify_bundle(bundle))
    assert rejected(result)
    if consistent_sizes:
        assert result.section == "XRP.leaves.bin" and "size" in str(result)
    else:
        assert result.section.startswith("manifest.assets[0].files.leaves.size")
    assert peak < VERIFIER_PEAK


def spy_asset_parse(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = cm.AssetEntry.parse.__func__  # type: ignore[attr-defined]

    def parse(cls: type[cm.AssetEntry], f: Any) -> cm.AssetEntry:
        calls.append(1)
        return original(cls, f)

    monkeypatch.setattr(cm.AssetEntry, "parse", classmethod(parse))
    return calls


def test_manifest_with_ten_thousand_assets_is_rejected_before_parsing_any(
    ctx: Ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = json.loads(ctx.rich_manifest)
    manifest["assets"] = manifest["assets"][:1] * 10_000
    data = canonical(signed(manifest)) + b"\n"
    assert MAX_PACKAGE_BYTES < len(data) < MAX_MANIFEST_BYTES
    calls = spy_asset_parse(monkeypatch)
    result, peak = peak_traced(lambda: Manifest.from_bytes(data))
    assert rejected(result) and "at most 256" in str(result)
    assert calls == []
    assert peak < 8 * len(data), f"peak {peak} for {len(data)} input bytes"  # the parsed JSON, nothing per asset


def test_manifest_with_a_million_assets_is_rejected(ctx: Ctx, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = json.loads(ctx.rich_manifest)
    manifest["assets"] = [0] * 10**6
    data = canonical(signed(manifest)) + b"\n"
    calls = spy_asset_parse(monkeypatch)
    result, peak = peak_traced(lambda: Manifest.from_bytes(data))
    assert rejected(result) and "at most 256" in str(result)
    assert calls == []
    assert peak < 32 * MiB


def test_oversized_manifest_is_rejected_before_parsing() -> None:
    data = b" " * (MAX_MANIFEST_BYTES + 1)
    result, peak = peak_traced(lambda: Manifest.from_bytes(data))
    assert rejected(result) and "larger than" in str(result)
    assert peak < 1 * MiB


def test_manifest_file_of_a_gigabyte_is_read_only_up_to_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    with open(path, "wb") as f:
        f.truncate(1 << 30)  # sparse: costs no disk
    result, peak = peak_traced(lambda: read_manifest(path))
    assert rejected(result) and result.section == "manifest"
    assert peak < MAX_MANIFEST_BYTES + 2 * MiB


def test_package_file_of_a_gigabyte_is_read_only_up_to_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "package.json"
    with open(path, "wb") as f:
        f.truncate(1 << 30)
    result, peak = peak_traced(lambda: read_package(path))
    assert rejected(result) and "larger than" in str(result)
    assert peak < MAX_PACKAGE_BYTES + 2 * MiB


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("entries", [0] * 10**6),
        ("merkle_path", [""] * 10**6),
        ("merkle_path", ["00" * 32] * 65),
        ("merkle_path", ["00" * 32] * 10**6),  # 66 MB: over the size limit
    ],
    ids=["entries-1e6", "path-1e6-empty", "path-65", "path-1e6-hex"],
)
def test_package_with_huge_lists_is_rejected(ctx: Ctx, field: str, value: list[Any]) -> None:
    package = copy.deepcopy(ctx.rich_package)
    if field == "entries":
        package["entries"] = value
    else:
        package["entries"][0]["merkle_path"] = value
    data = json.dumps(package).encode()
    result, peak = peak_traced(lambda: Package.from_bytes(data))
    assert rejected(result)
    assert ("at most" in str(result)) or ("larger than" in str(result))
    assert peak < 32 * MiB


# Deep nesting runs in a subprocess: if the JSON parser overflows the C stack, that is a
# segfault, which must show up as this test failing rather than as the whole run dying. The
# ``reference`` case loads the reference backend first, as ``SOLVENCY_BACKEND=reference`` does:
# importing py_ecc raises the interpreter's recursion limit to 100000 (py_ecc/__init__.py).
NESTED = {  # name -> Python expression of the input (100 KB to 200 KB)
    "open-lists": 'b"[" * 100_000',
    "open-objects": """b'{"a":' * 100_000""",
    "closed-lists": 'b"[" * 100_000 + b"]" * 100_000',
    "in-assets": """b'{"assets":' + b"[" * 100_000""",
}
ISOLATED_DECODE = """
import sys, tracemalloc
from circuits.backends import get_backend
from circuits.manifest import Manifest
from circuits.package import Package
from circuits.errors import FormatError
get_backend(sys.argv[1])
for decoder in (Manifest, Package):
    for name, data in {cases}:
        print(decoder.__name__, name, end=" ", flush=True)
        tracemalloc.start()
        try:
            decoder.from_bytes(data)
        except FormatError as exc:
            print("FormatError", tracemalloc.get_traced_memory()[1], str(exc).replace(" ", "_"), flush=True)
        else:
            print("accepted", flush=True)
        tracemalloc.stop()
"""


def run_isolated(*command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command in a fresh process; the timeout only guards against a hang."""
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT, env=env, check=False)


@pytest.mark.parametrize("backend", ["fast", "reference"])
def test_deeply_nested_json_is_a_format_error(backend: str) -> None:
    """100,000 nesting levels (100 KB, far below the size limits): FormatError, small memory, no crash."""
    cases = "[" + ", ".join(f"({name!r}, {expr})" for name, expr in NESTED.items()) + "]"
    proc = run_isolated(sys.executable, "-c", ISOLATED_DECODE.format(cases=cases), backend)
    assert proc.returncode == 0, f"exit {proc.returncode} (-11: segfault) after:\n{proc.stdout}{proc.stderr[-2000:]}"
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 * len(NESTED)
    for line in lines:
        _decoder, _name, word, peak, message = line.split(" ")
        assert word == "FormatError", line
        assert "JSON" in message or "nest" in message, line
        assert int(peak) < 4 * MiB, line


@pytest.mark.parametrize("backend", ["fast", "reference"])
def test_cli_verify_of_a_deeply_nested_manifest_exits_with_a_format_error(tmp_path: Path, backend: str) -> None:
    (tmp_path / "manifest.json").write_bytes(b"[" * 100_000)
    env = {**os.environ, "SOLVENCY_BACKEND": backend}
    proc = run_isolated(sys.executable, "-m", "cli.main", "verify", str(tmp_path), env=env)
    assert proc.returncode == 3, f"exit {proc.returncode} (-11: segfault): {proc.stderr[-2000:]}"


@pytest.mark.parametrize("decode", [RangeProof.from_bytes, InnerProductProof.from_bytes], ids=["range", "ipp"])
@pytest.mark.parametrize("form", [bytes, bytearray, memoryview])
def test_huge_proof_is_rejected_before_copying(decode: Callable[[Any], Any], form: Callable[[bytes], Any]) -> None:
    """A 16 MiB candidate proof (at most 17 rounds fit in 2 KiB) is rejected by length, without a copy."""
    data = form(b"\x01" + bytes(16 * MiB))
    result, peak = peak_traced(lambda: decode(data))
    assert rejected(result)
    assert peak < 1 * MiB, f"peak {peak} bytes: the input was copied before its length was checked"


@pytest.mark.parametrize("form", [bytes, bytearray, memoryview])
def test_huge_point_is_rejected_before_copying(form: Callable[[bytes], Any]) -> None:
    data = form(b"\x80" + bytes(16 * MiB))
    result, peak = peak_traced(lambda: Point.from_bytes(data))
    assert rejected(result)
    assert peak < 1 * MiB, f"peak {peak} bytes: the input was copied before its length was checked"


# ---------------------------------------------------------------------------
# The atheris harness (fuzz/) stays runnable: its dispatch, without atheris, on the seed corpus


def load_harness(monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, ModuleType]:
    monkeypatch.syspath_prepend(str(ROOT / "fuzz"))
    modules = []
    for name in ("fuzz_decoders", "make_corpus"):
        spec = importlib.util.spec_from_file_location(name, ROOT / "fuzz" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, name, module)
        spec.loader.exec_module(module)
        modules.append(module)
    return modules[0], modules[1]


def test_harness_dispatch_runs_on_the_seed_corpus(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    had_atheris = "atheris" in sys.modules
    harness, corpus = load_harness(monkeypatch)
    assert ("atheris" in sys.modules) == had_atheris, "importing the harness imported atheris"
    fx = harness.make_tiny_bundle(tmp_path)
    monkeypatch.setattr(harness, "fixture", lambda: fx)
    seeds = corpus.seed_inputs(fx)
    assert set(seeds) == set(harness.TARGETS)
    for target, inputs in seeds.items():
        assert inputs
        for data in inputs:
            assert harness.dispatch(target, data) is True, f"{target}: a valid seed was rejected"
            assert harness.dispatch(target, data[: len(data) // 2]) is False, f"{target}: half a seed was accepted"
            assert harness.dispatch(target, b"") is False
    assert verify_bundle(fx.work).ok, "the datafile target did not restore the bundle"
    assert corpus.write_corpus(tmp_path / "corpus", fx) == sum(len(v) for v in seeds.values())


def test_harness_lets_foreign_exceptions_through(monkeypatch: pytest.MonkeyPatch) -> None:
    harness, _ = load_harness(monkeypatch)

    def boom(data: bytes, backend: object = None) -> None:
        raise IndexError("decoder bug")

    monkeypatch.setattr(RangeProof, "from_bytes", boom)
    with pytest.raises(IndexError):
        harness.dispatch("proof", bytes(353))
    monkeypatch.setattr(Manifest, "from_bytes", lambda data: raiser(FormatError("bad"))())
    assert harness.dispatch("manifest", b"{}") is False
