"""Cross-check of the ``fast`` and ``reference`` backends: byte-identical results.

The two backends are independent code (arkworks in Rust, py_ecc in Python). The
same operations on the same inputs must give the same compressed encodings, so
an auditor can replay anything the fast backend computes on the readable one.
Inputs are derived deterministically from SHA-512 (no ``random``).

Also here: the RFC 9380 known answers for ``hash_to_curve``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest
from py_ecc.optimized_bls12_381 import normalize

from circuits import group
from circuits.backends import GroupBackend, get_backend
from circuits.backends.base import RawPoint
from circuits.backends.reference import pippenger
from circuits.constants import FIELD_MODULUS, GENS_DST, GROUP_ORDER, POINT_SIZE
from circuits.errors import FormatError
from circuits.generators import BulletproofGens, PedersenGens
from circuits.group import Point, msm_raw

R = GROUP_ORDER
FAST = get_backend("fast")
REF = get_backend("reference")


def derived_scalars(tag: str, count: int) -> list[int]:
    """``count`` deterministic scalars in ``[0, r)``: SHA-512(tag || LE32(i)) mod r."""
    return [
        int.from_bytes(hashlib.sha512(tag.encode() + i.to_bytes(4, "little")).digest(), "little") % R
        for i in range(count)
    ]


def both(raw_fast: RawPoint, raw_ref: RawPoint) -> tuple[bytes, bytes]:
    return FAST.compress(raw_fast), REF.compress(raw_ref)


def assert_same(raw_fast: RawPoint, raw_ref: RawPoint) -> bytes:
    fast_bytes, ref_bytes = both(raw_fast, raw_ref)
    assert fast_bytes == ref_bytes
    return fast_bytes


# ---------------------------------------------------------------------------
# Basic operations
# ---------------------------------------------------------------------------


def test_identity_and_generator_agree() -> None:
    assert assert_same(FAST.identity(), REF.identity()) == bytes([0xC0]) + bytes(47)
    assert assert_same(FAST.generator(), REF.generator()).hex().startswith("97f1d3a7")
    assert FAST.is_identity(FAST.identity()) and REF.is_identity(REF.identity())
    assert not FAST.is_identity(FAST.generator()) and not REF.is_identity(REF.generator())


@pytest.mark.parametrize(
    "k",
    [0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 255, 256, 2**64 - 1, 2**64, 2**128 + 1, R - 2, R - 1],
)
def test_generator_multiples_agree(k: int) -> None:
    assert_same(FAST.mul(FAST.generator(), k), REF.mul(REF.generator(), k))


def test_random_generator_multiples_agree() -> None:
    for k in derived_scalars("generator multiples", 12):
        assert_same(FAST.mul(FAST.generator(), k), REF.mul(REF.generator(), k))


def test_add_neg_mul_agree() -> None:
    ks = derived_scalars("add neg mul", 12)
    for a, b, c in zip(ks[0::3], ks[1::3], ks[2::3], strict=True):
        pf, qf = FAST.mul(FAST.generator(), a), FAST.mul(FAST.generator(), b)
        pr, qr = REF.mul(REF.generator(), a), REF.mul(REF.generator(), b)
        assert_same(pf, pr)
        assert_same(FAST.add(pf, qf), REF.add(pr, qr))
        assert_same(FAST.add(pf, pf), REF.add(pr, pr))  # doubling
        assert_same(FAST.neg(pf), REF.neg(pr))
        assert_same(FAST.add(pf, FAST.neg(pf)), REF.add(pr, REF.neg(pr)))  # cancels to O
        assert_same(FAST.mul(pf, c), REF.mul(pr, c))
        assert_same(FAST.mul(FAST.add(pf, qf), c), REF.mul(REF.add(pr, qr), c))
        assert not FAST.eq(pf, qf)
        assert not REF.eq(pr, qr)
        assert FAST.eq(pf, pf) and REF.eq(pr, pr)


def test_point_wrapper_operations_agree() -> None:
    a, b, c = derived_scalars("wrapper", 3)
    Gf, Gr = Point.generator(FAST), Point.generator(REF)
    for op in (
        lambda G: G * a + G * b,
        lambda G: G * a - G * b,
        lambda G: -(G * c),
        lambda G: (G * a) * c,
    ):
        assert op(Gf).to_bytes() == op(Gr).to_bytes()


# ---------------------------------------------------------------------------
# MSM (the reference is Pippenger; exercise several window widths)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def msm_bases() -> tuple[list[RawPoint], list[RawPoint]]:
    """130 distinct bases on each backend: the G generators (checked equal below)."""
    fast_points = BulletproofGens.default(FAST).G_raw(130)
    ref_points = BulletproofGens.default(REF).G_raw(130)
    return fast_points, ref_points


def _msm_both(bases: tuple[list[RawPoint], list[RawPoint]], indices: Sequence[int], scalars: Sequence[int]) -> bytes:
    fast_points = [bases[0][i] for i in indices]
    ref_points = [bases[1][i] for i in indices]
    return assert_same(msm_raw(FAST, fast_points, scalars), msm_raw(REF, ref_points, scalars))


def test_msm_sizes_0_to_40_agree(msm_bases: tuple[list[RawPoint], list[RawPoint]]) -> None:
    for size in range(41):
        scalars = derived_scalars(f"msm size {size}", size)
        _msm_both(msm_bases, range(size), scalars)


def test_msm_size_130_agrees(msm_bases: tuple[list[RawPoint], list[RawPoint]]) -> None:
    # 130 points: a 6-bit Pippenger window in the reference backend.
    scalars = derived_scalars("msm size 130", 130)
    _msm_both(msm_bases, range(130), scalars)


def test_msm_edge_scalars_agree(msm_bases: tuple[list[RawPoint], list[RawPoint]]) -> None:
    edge = [0, 1, 2, R - 1, R - 2, 2**254 - 1, 2**253, (1 << 64) - 1, 1 << 128, (R - 1) // 2]
    _msm_both(msm_bases, range(len(edge)), edge)
    _msm_both(msm_bases, range(20), [0] * 20)
    _msm_both(msm_bases, range(20), [R - 1] * 20)


def test_msm_repeated_and_opposite_points_agree(msm_bases: tuple[list[RawPoint], list[RawPoint]]) -> None:
    # Repeated bases share buckets (doubling inside ``add``); opposite terms cancel.
    indices = [0, 0, 1, 1, 1, 2, 0]
    _msm_both(msm_bases, indices, derived_scalars("repeated", len(indices)))
    k = derived_scalars("cancel", 1)[0]
    assert _msm_both(msm_bases, [3, 3], [k, R - k]) == bytes([0xC0]) + bytes(47)


def test_reference_pippenger_matches_naive_sum(msm_bases: tuple[list[RawPoint], list[RawPoint]]) -> None:
    # Independent of the fast backend: Pippenger against a double-and-add sum.
    for size in (1, 2, 3, 7, 33):
        points = msm_bases[1][:size]
        scalars = derived_scalars(f"naive {size}", size)
        naive = REF.identity()
        for k, P in zip(scalars, points, strict=True):
            naive = REF.add(naive, REF.mul(P, k))
        assert REF.eq(pippenger(points, scalars), naive)


def test_msm_threaded_split_agrees(monkeypatch: pytest.MonkeyPatch) -> None:
    # The two-thread split path of ``msm_raw`` (GIL-releasing backends) is the same sum.
    monkeypatch.setattr(group, "PARALLEL_MSM_THRESHOLD", 16)
    points = BulletproofGens.default(FAST).G_raw(65)
    scalars = derived_scalars("threads", 65)
    serial = msm_raw(FAST, points, scalars, threads=1)
    parallel = msm_raw(FAST, points, scalars, threads=2)
    assert FAST.compress(parallel) == FAST.compress(serial)
    ref_points = BulletproofGens.default(REF).G_raw(65)
    assert FAST.compress(parallel) == REF.compress(msm_raw(REF, ref_points, scalars, threads=2))


# ---------------------------------------------------------------------------
# hash_to_curve and generators
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "msg",
    [b"", b"abc", b"abcdef0123456789", b"\x00", b"q128_" + b"q" * 128, b"a512_" + b"a" * 512],
    ids=["empty", "abc", "hex16", "zero-byte", "q128", "a512"],
)
@pytest.mark.parametrize(
    "dst",
    [
        b"QUUX-V01-CS02-with-BLS12381G1_XMD:SHA-256_SSWU_RO_",
        GENS_DST,
        b"x",
        b"D" * 255,
    ],
    ids=["rfc-quux", "gens-dst", "one-byte", "255-bytes"],
)
def test_hash_to_curve_agrees(msg: bytes, dst: bytes) -> None:
    fast_point = Point.hash_to_curve(msg, dst, FAST)
    ref_point = Point.hash_to_curve(msg, dst, REF)
    assert fast_point.to_bytes() == ref_point.to_bytes()
    assert not fast_point.is_identity()


def test_hash_to_curve_oversize_dst_agrees() -> None:
    dst = b"L" * 256
    assert Point.hash_to_curve(b"abc", dst, FAST).to_bytes() == Point.hash_to_curve(b"abc", dst, REF).to_bytes()


def test_fast_backend_applies_rfc_oversize_dst_rule() -> None:
    # RFC 9380 §5.3.3: a DST longer than 255 bytes is replaced by SHA-256("H2C-OVERSIZE-DST-" || DST).
    dst = b"L" * 256
    short = hashlib.sha256(b"H2C-OVERSIZE-DST-" + dst).digest()
    expected = Point.hash_to_curve(b"abc", short, REF).to_bytes()
    assert Point.hash_to_curve(b"abc", dst, FAST).to_bytes() == expected


#: RFC 9380 appendix J.9.1, suite BLS12381G1_XMD:SHA-256_SSWU_RO_ (affine P.x, P.y, big-endian).
RFC9380_DST = b"QUUX-V01-CS02-with-BLS12381G1_XMD:SHA-256_SSWU_RO_"
RFC9380_G1_RO = [
    (
        b"",
        "052926add2207b76ca4fa57a8734416c8dc95e24501772c814278700eed6d1e4e8cf62d9c09db0fac349612b759e79a1",
        "08ba738453bfed09cb546dbb0783dbb3a5f1f566ed67bb6be0e8c67e2e81a4cc68ee29813bb7994998f3eae0c9c6a265",
    ),
    (
        b"abc",
        "03567bc5ef9c690c2ab2ecdf6a96ef1c139cc0b2f284dca0a9a7943388a49a3aee664ba5379a7655d3c68900be2f6903",
        "0b9c15f3fe6e5cf4211f346271d7b01c8f3b28be689c8429c85b67af215533311f0b8dfaaa154fa6b88176c229f2885d",
    ),
    (
        b"abcdef0123456789",
        "11e0b079dea29a68f0383ee94fed1b940995272407e3bb916bbf268c263ddd57a6a27200a784cbc248e84f357ce82d98",
        "03a87ae2caf14e8ee52e51fa2ed8eefe80f02457004ba4d486d6aa1f517c0889501dc7413753f9599b099ebcbbd2d709",
    ),
]


def _xy_fast(point: Point) -> tuple[str, str]:
    xy = bytes(point.raw.to_xy_bytes_be())
    return xy[:POINT_SIZE].hex(), xy[POINT_SIZE:].hex()


def _xy_reference(point: Point) -> tuple[str, str]:
    x, y = normalize(point.raw)
    return int(x).to_bytes(POINT_SIZE, "big").hex(), int(y).to_bytes(POINT_SIZE, "big").hex()


@pytest.mark.parametrize(("msg", "x_hex", "y_hex"), RFC9380_G1_RO, ids=["empty", "abc", "hex16"])
def test_hash_to_curve_rfc9380_known_answers(msg: bytes, x_hex: str, y_hex: str) -> None:
    assert _xy_fast(Point.hash_to_curve(msg, RFC9380_DST, FAST)) == (x_hex, y_hex)
    assert _xy_reference(Point.hash_to_curve(msg, RFC9380_DST, REF)) == (x_hex, y_hex)
    # The compressed encoding is x with the flag bits (compression, and sign of y).
    y = int(y_hex, 16)
    flags = 0x80 | (0x20 if y > (FIELD_MODULUS - 1) // 2 else 0)
    expected = bytes([int(x_hex[:2], 16) | flags]) + bytes.fromhex(x_hex[2:])
    assert Point.hash_to_curve(msg, RFC9380_DST, FAST).to_bytes() == expected


def test_pedersen_generators_agree() -> None:
    fast_gens, ref_gens = PedersenGens.default(FAST), PedersenGens.default(REF)
    assert fast_gens.B.to_bytes() == ref_gens.B.to_bytes()
    assert fast_gens.B_blinding.to_bytes() == ref_gens.B_blinding.to_bytes()
    v, v_blinding = derived_scalars("pedersen", 2)
    assert fast_gens.commit(v, v_blinding).to_bytes() == ref_gens.commit(v, v_blinding).to_bytes()


def test_bulletproof_generators_agree() -> None:
    fast_gens, ref_gens = BulletproofGens.default(FAST), BulletproofGens.default(REF)
    assert [P.to_bytes() for P in fast_gens.G(8)] == [P.to_bytes() for P in ref_gens.G(8)]
    assert [P.to_bytes() for P in fast_gens.H(8)] == [P.to_bytes() for P in ref_gens.H(8)]


def test_msm_bases_agree(msm_bases: tuple[list[RawPoint], list[RawPoint]]) -> None:
    assert [FAST.compress(P) for P in msm_bases[0]] == [REF.compress(P) for P in msm_bases[1]]


# ---------------------------------------------------------------------------
# Decoding the same bytes
# ---------------------------------------------------------------------------


def _encode_x(x: int, sign: bool) -> bytes:
    raw = bytearray(x.to_bytes(POINT_SIZE, "big"))
    raw[0] |= 0x80 | (0x20 if sign else 0)
    return bytes(raw)


def _decoding_corpus() -> list[bytes]:
    corpus = [bytes([0xC0]) + bytes(47), bytes([0xE0]) + bytes(47), bytes(48), b"", b"\xc0"]
    G = Point.generator(FAST)
    for k in [*derived_scalars("decoding", 6), 1, 2, R - 1]:
        data = (G * k).to_bytes()
        corpus.append(data)
        corpus.append(bytes([data[0] ^ 0x20]) + data[1:])  # the negation
        corpus.append(bytes([data[0] & 0x7F]) + data[1:])  # no compression flag
        corpus.append(data[:-1] + bytes([data[-1] ^ 1]))  # another x: usually off curve or subgroup
    for x in range(12):
        corpus.append(_encode_x(x, False))
        corpus.append(_encode_x(x, True))
    for x in (FIELD_MODULUS - 1, FIELD_MODULUS, FIELD_MODULUS + 1):
        corpus.append(_encode_x(x, False))
    return corpus


def _decode(data: bytes, backend: GroupBackend) -> bytes | None:
    try:
        return Point.from_bytes(data, backend).to_bytes()
    except FormatError as exc:
        assert type(exc) is FormatError
        return None


def test_decoding_agrees() -> None:
    accepted = 0
    for data in _decoding_corpus():
        fast_result, ref_result = _decode(data, FAST), _decode(data, REF)
        assert fast_result == ref_result, data.hex()
        if fast_result is not None:
            assert fast_result == data
            accepted += 1
    assert accepted >= 10  # the corpus exercises both outcomes
