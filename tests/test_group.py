"""Group and field laws, canonical encodings and error classes of :mod:`circuits.group`.

Every law runs on every backend (the ``backend`` fixture). Property tests use a
per-backend example budget: the ``reference`` backend is ~40x slower than
``fast``, so it gets a handful of examples, and the bulk fuzzing of decoders runs
on ``fast`` only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from py_ecc.bls.point_compression import compress_G1, decompress_G1
from py_ecc.optimized_bls12_381 import is_inf, multiply

from circuits.backends import GroupBackend, get_backend
from circuits.constants import FIELD_MODULUS, GROUP_ORDER, POINT_SIZE, SCALAR_SIZE
from circuits.errors import FormatError, ParameterError
from circuits.group import (
    Point,
    batch_invert,
    inner_product,
    msm,
    msm_raw,
    random_scalar,
    scalar_from_bytes,
    scalar_from_int,
    scalar_to_bytes,
)

P_MOD = FIELD_MODULUS
R = GROUP_ORDER

#: Compressed encoding of the standard G1 generator (ZCash serialization).
GENERATOR_HEX = "97f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb"
IDENTITY_BYTES = bytes([0xC0]) + bytes(47)

#: Property-test examples per backend (reference is pure Python).
EXAMPLES = {"fast": 100, "reference": 8}


def budget(backend: GroupBackend, examples: int | None = None) -> Callable[[Any], Any]:
    """Hypothesis settings sized for ``backend``; no example database on disk."""
    return settings(
        max_examples=examples if examples is not None else EXAMPLES[backend.name],
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


scalars = st.one_of(
    st.sampled_from([0, 1, 2, R - 1, R - 2, (R - 1) // 2]),
    st.integers(min_value=0, max_value=R - 1),
)
nonzero_scalars = st.integers(min_value=1, max_value=R - 1)


def assert_format_error(data: object, backend: GroupBackend) -> None:
    """``Point.from_bytes(data)`` raises exactly :class:`FormatError`."""
    with pytest.raises(FormatError) as info:
        Point.from_bytes(data, backend)  # type: ignore[arg-type]
    assert type(info.value) is FormatError


def assert_scalar_format_error(data: object) -> None:
    """``scalar_from_bytes(data)`` raises exactly :class:`FormatError`."""
    with pytest.raises(FormatError) as info:
        scalar_from_bytes(data)  # type: ignore[arg-type]
    assert type(info.value) is FormatError


def encode_x(x: int, *, sign: bool = False, compressed: bool = True, infinity: bool = False) -> bytes:
    """Build a 48-byte encoding of ``x`` with the given flag bits (no validation)."""
    flags = (0x80 if compressed else 0) | (0x40 if infinity else 0) | (0x20 if sign else 0)
    raw = bytearray(x.to_bytes(POINT_SIZE, "big"))
    raw[0] |= flags
    return bytes(raw)


def is_square_mod_p(v: int) -> bool:
    """Euler's criterion in F_p."""
    v %= P_MOD
    return v == 0 or pow(v, (P_MOD - 1) // 2, P_MOD) == 1


def first_x_off_curve() -> int:
    """The smallest x such that x^3 + 4 has no square root in F_p."""
    return next(x for x in range(1, 1000) if not is_square_mod_p(x**3 + 4))


def first_point_outside_subgroup() -> tuple[bytes, bytes]:
    """Both compressed encodings of the first on-curve point with small x outside G1.

    py_ecc's ``decompress_G1`` does not check subgroup membership, so it is used
    to find ``P`` with ``r * P != O``; the encodings carry the compression flag and
    each of the two sign bits.
    """
    for x in range(1, 1000):
        try:
            point = decompress_G1(int.from_bytes(encode_x(x), "big"))  # type: ignore[arg-type]
        except ValueError:
            continue
        if not is_inf(multiply(point, R)):
            first = int(compress_G1(point)).to_bytes(POINT_SIZE, "big")
            return first, bytes([first[0] ^ 0x20]) + first[1:]
    raise AssertionError("no small x gives a point outside the subgroup")


# ---------------------------------------------------------------------------
# Group laws (both backends)
# ---------------------------------------------------------------------------


def test_generator_encoding_is_the_standard_one(backend: GroupBackend) -> None:
    G = Point.generator(backend)
    assert G.to_bytes().hex() == GENERATOR_HEX
    assert not G.is_identity()


def test_associativity(backend: GroupBackend) -> None:
    G = Point.generator(backend)

    @budget(backend)
    @given(scalars, scalars, scalars)
    def check(a: int, b: int, c: int) -> None:
        P, Q, S = G * a, G * b, G * c
        assert (P + Q) + S == P + (Q + S)

    check()


def test_commutativity(backend: GroupBackend) -> None:
    G = Point.generator(backend)

    @budget(backend)
    @given(scalars, scalars)
    def check(a: int, b: int) -> None:
        P, Q = G * a, G * b
        assert P + Q == Q + P
        assert (P + Q).to_bytes() == (Q + P).to_bytes()

    check()


def test_identity(backend: GroupBackend) -> None:
    G = Point.generator(backend)
    identity = Point.identity(backend)
    assert identity.is_identity()
    assert G * 0 == identity
    assert G * 1 == G
    assert identity * 12345 == identity
    assert -identity == identity
    assert identity + identity == identity

    @budget(backend)
    @given(scalars)
    def check(a: int) -> None:
        P = G * a
        assert P + identity == P
        assert identity + P == P
        assert P.is_identity() == (a == 0)

    check()


def test_inverse(backend: GroupBackend) -> None:
    G = Point.generator(backend)
    identity = Point.identity(backend)

    @budget(backend)
    @given(scalars, scalars)
    def check(a: int, b: int) -> None:
        P, Q = G * a, G * b
        assert P + (-P) == identity
        assert P - P == identity
        assert -P + P == identity
        assert (-P).to_bytes() != P.to_bytes() or P.is_identity()
        assert P == -(-P)  # noqa: B002
        assert P - Q == P + (-Q)
        assert -P == G * ((R - a) % R)

    check()


def test_doubling_matches_addition(backend: GroupBackend) -> None:
    G = Point.generator(backend)

    @budget(backend)
    @given(scalars)
    def check(a: int) -> None:
        P = G * a
        assert P + P == P * 2
        assert P + P + P == 3 * P

    check()


def test_scalar_mult_distributes_over_scalar_addition(backend: GroupBackend) -> None:
    G = Point.generator(backend)

    @budget(backend)
    @given(scalars, scalars, scalars)
    def check(k: int, a: int, b: int) -> None:
        P = G * k
        assert P * (a + b) == P * a + P * b
        assert P * ((a * b) % R) == (P * b) * a

    check()


def test_scalar_mult_distributes_over_point_addition(backend: GroupBackend) -> None:
    G = Point.generator(backend)

    @budget(backend)
    @given(scalars, scalars, scalars)
    def check(k: int, a: int, b: int) -> None:
        P, Q = G * a, G * b
        assert (P + Q) * k == P * k + Q * k

    check()


def test_scalar_mult_reduces_mod_r(backend: GroupBackend) -> None:
    G = Point.generator(backend)
    assert G * R == Point.identity(backend)
    assert G * (R + 1) == G
    assert G * -1 == -G

    @budget(backend)
    @given(scalars, st.integers(min_value=-3, max_value=3))
    def check(a: int, wrap: int) -> None:
        P = G * 7
        assert P * (a + wrap * R) == P * a
        assert P * -a == -(P * a)

    check()


def test_msm_matches_sum_of_products(backend: GroupBackend) -> None:
    G = Point.generator(backend)

    @budget(backend)
    @given(st.lists(st.tuples(scalars, scalars), min_size=1, max_size=6))
    def check(pairs: list[tuple[int, int]]) -> None:
        points = [G * base for base, _ in pairs]
        ks = [k for _, k in pairs]
        expected = Point.identity(backend)
        for k, P in zip(ks, points, strict=True):
            expected = expected + P * k
        assert msm(ks, points) == expected
        assert msm(ks, points, threads=1) == expected

    check()


def test_msm_of_one_term_is_a_product(backend: GroupBackend) -> None:
    G = Point.generator(backend)
    for k in (0, 1, 2, R - 1):
        assert msm([k], [G]) == G * k


def test_msm_with_repeated_and_opposite_points(backend: GroupBackend) -> None:
    G = Point.generator(backend)
    P = G * 5
    # Repeated points land in the same bucket (doubling inside ``add``); P and -P cancel.
    assert msm([3, 4, 7], [P, P, -P]) == Point.identity(backend)
    assert msm([R - 1, 1], [P, P]) == Point.identity(backend)
    assert msm([1, 1], [P, P]) == P * 2


def test_msm_of_zero_points(backend: GroupBackend) -> None:
    assert backend.is_identity(msm_raw(backend, [], []))
    with pytest.raises(ParameterError) as info:
        msm([], [])
    assert type(info.value) is ParameterError


def test_msm_length_mismatch(backend: GroupBackend) -> None:
    G = Point.generator(backend)
    with pytest.raises(ParameterError) as info:
        msm([1, 2], [G])
    assert type(info.value) is ParameterError
    with pytest.raises(ParameterError) as info:
        msm_raw(backend, [G.raw], [])
    assert type(info.value) is ParameterError


def test_points_are_immutable_and_hashable(backend: GroupBackend) -> None:
    G = Point.generator(backend)
    with pytest.raises(AttributeError):
        G._raw = None  # type: ignore[misc]
    assert hash(G * 3) == hash(G + G + G)
    assert len({G * 3, G + G + G, G * 4}) == 2
    assert repr(G) == f"Point({GENERATOR_HEX})"
    assert (G == 5) is False


# ---------------------------------------------------------------------------
# Mixing backends
# ---------------------------------------------------------------------------


def test_points_from_different_backends_cannot_be_combined() -> None:
    P = Point.generator(get_backend("fast"))
    Q = Point.generator(get_backend("reference"))
    operations: list[Callable[[], object]] = [
        lambda: P + Q,
        lambda: Q + P,
        lambda: P - Q,
        lambda: P == Q,
        lambda: msm([1, 1], [P, Q]),
        lambda: msm([1, 1], [Q, P]),
    ]
    for op in operations:
        with pytest.raises(ParameterError) as info:
            op()
        assert type(info.value) is ParameterError


# ---------------------------------------------------------------------------
# Point encodings (both backends)
# ---------------------------------------------------------------------------


def test_point_round_trip(backend: GroupBackend) -> None:
    G = Point.generator(backend)

    @budget(backend)
    @given(scalars)
    def check(a: int) -> None:
        P = G * a
        data = P.to_bytes()
        assert len(data) == POINT_SIZE
        assert data[0] & 0x80
        Q = Point.from_bytes(data, backend)
        assert Q == P
        assert Q.to_bytes() == data

    check()


def test_identity_encoding_round_trips(backend: GroupBackend) -> None:
    identity = Point.identity(backend)
    assert identity.to_bytes() == IDENTITY_BYTES
    decoded = Point.from_bytes(IDENTITY_BYTES, backend)
    assert decoded.is_identity()
    assert decoded.to_bytes() == IDENTITY_BYTES


def test_point_decoding_accepts_bytes_like(backend: GroupBackend) -> None:
    data = (Point.generator(backend) * 9).to_bytes()
    assert Point.from_bytes(bytearray(data), backend).to_bytes() == data
    assert Point.from_bytes(memoryview(data), backend).to_bytes() == data


@pytest.mark.parametrize("length", [0, 1, 47, 49, 96])
def test_point_rejects_wrong_length(backend: GroupBackend, length: int) -> None:
    valid = (Point.generator(backend) * 3).to_bytes()
    data = (valid * 3)[:length]
    assert_format_error(data, backend)


def test_point_rejects_valid_encoding_with_trailing_or_missing_byte(backend: GroupBackend) -> None:
    valid = (Point.generator(backend) * 3).to_bytes()
    assert_format_error(valid + b"\x00", backend)
    assert_format_error(valid[:-1], backend)
    assert_format_error(IDENTITY_BYTES + b"\x00", backend)
    assert_format_error(IDENTITY_BYTES[:-1], backend)


@pytest.mark.parametrize("data", ["00" * 48, None, 5, [0xC0] + [0] * 47], ids=["str", "none", "int", "list"])
def test_point_rejects_non_bytes(backend: GroupBackend, data: object) -> None:
    assert_format_error(data, backend)


def test_point_rejects_missing_compression_flag(backend: GroupBackend) -> None:
    valid = (Point.generator(backend) * 3).to_bytes()
    assert_format_error(bytes([valid[0] & 0x7F]) + valid[1:], backend)
    # The generator's x, uncompressed flags, either sign.
    gx = int(GENERATOR_HEX, 16) & ((1 << 381) - 1)
    assert_format_error(encode_x(gx, compressed=False), backend)
    assert_format_error(encode_x(gx, compressed=False, sign=True), backend)
    # Infinity without the compression flag (the uncompressed-style identity prefix).
    assert_format_error(bytes([0x40]) + bytes(47), backend)
    assert_format_error(bytes(48), backend)


@pytest.mark.parametrize("byte_index", range(POINT_SIZE))
def test_point_rejects_infinity_with_nonzero_x_bits(backend: GroupBackend, byte_index: int) -> None:
    # Every one of the 381 x bits, set alone under the infinity flag, is rejected.
    bits = range(5) if byte_index == 0 else range(8)
    for bit in bits:
        data = bytearray(IDENTITY_BYTES)
        data[byte_index] |= 1 << bit
        assert_format_error(bytes(data), backend)


def test_point_rejects_infinity_with_sign_bit(backend: GroupBackend) -> None:
    assert_format_error(bytes([0xE0]) + bytes(47), backend)
    assert_format_error(bytes([0xE0]) + bytes(46) + b"\x01", backend)


def test_point_rejects_infinity_flag_on_a_valid_point(backend: GroupBackend) -> None:
    valid = (Point.generator(backend) * 3).to_bytes()
    assert_format_error(bytes([valid[0] | 0x40]) + valid[1:], backend)


@pytest.mark.parametrize("sign", [False, True])
@pytest.mark.parametrize(
    "x",
    [P_MOD, P_MOD + 1, P_MOD + 4, (1 << 381) - 1],
    ids=["p", "p+1", "p+4", "2^381-1"],
)
def test_point_rejects_x_not_reduced(backend: GroupBackend, x: int, sign: bool) -> None:
    # x = p + 4 would reduce to 4, an on-curve x: only the x < p check rejects it.
    assert x < 1 << 381
    assert_format_error(encode_x(x, sign=sign), backend)


@pytest.mark.parametrize("sign", [False, True])
def test_point_rejects_x_not_on_curve(backend: GroupBackend, sign: bool) -> None:
    x = first_x_off_curve()
    assert not is_square_mod_p(x**3 + 4)
    assert_format_error(encode_x(x, sign=sign), backend)


def test_point_rejects_x_not_on_curve_near_p(backend: GroupBackend) -> None:
    x = next(x for x in range(P_MOD - 1, P_MOD - 1000, -1) if not is_square_mod_p(x**3 + 4))
    assert_format_error(encode_x(x), backend)


def test_point_rejects_point_outside_prime_order_subgroup(backend: GroupBackend) -> None:
    for data in first_point_outside_subgroup():
        assert data[0] & 0x80 and not data[0] & 0x40
        assert_format_error(data, backend)
        # The rejection comes from the subgroup check, not an earlier one.
        with pytest.raises(FormatError, match="subgroup"):
            Point.from_bytes(data, backend)


def test_point_rejects_x_zero(backend: GroupBackend) -> None:
    # (0, +-2) is on the curve (a point of order 3), so it is outside the subgroup.
    assert is_square_mod_p(4)
    for sign in (False, True):
        data = encode_x(0, sign=sign)
        assert_format_error(data, backend)
        # Rejected by the subgroup check on both backends (py_ecc alone reads x = 0 as infinity).
        with pytest.raises(FormatError, match="subgroup"):
            Point.from_bytes(data, backend)
        T = Point.from_bytes_without_subgroup_check(data, backend)
        assert T.to_bytes() == data and not T.is_identity()


def test_point_accepts_both_signs_of_a_valid_x(backend: GroupBackend) -> None:
    P = Point.generator(backend) * 11
    data = P.to_bytes()
    flipped = bytes([data[0] ^ 0x20]) + data[1:]
    Q = Point.from_bytes(flipped, backend)
    assert Q == -P
    assert Q.to_bytes() == flipped


# ---------------------------------------------------------------------------
# Decoder fuzzing: success implies canonical round trip; failure is FormatError
# ---------------------------------------------------------------------------


def _decode_or_format_error(data: bytes, backend: GroupBackend) -> None:
    try:
        P = Point.from_bytes(data, backend)
    except FormatError as exc:
        assert type(exc) is FormatError
    else:
        assert P.to_bytes() == data


def _flag_heavy_bytes() -> st.SearchStrategy[bytes]:
    """48 bytes with the compression flag set: gets past the cheap checks."""
    return st.binary(min_size=POINT_SIZE, max_size=POINT_SIZE).map(lambda b: bytes([b[0] | 0x80]) + b[1:])


def _mutated_valid_encodings(backend: GroupBackend) -> st.SearchStrategy[bytes]:
    G = Point.generator(backend)

    def mutate(k: int, bit: int) -> bytes:
        data = bytearray((G * k).to_bytes())
        if bit >= 0:
            data[bit // 8] ^= 1 << (bit % 8)
        return bytes(data)

    return st.builds(mutate, scalars, st.integers(min_value=-1, max_value=8 * POINT_SIZE - 1))


def test_point_from_arbitrary_bytes(fast: GroupBackend) -> None:
    @budget(fast, 300)
    @given(st.binary(min_size=0, max_size=100))
    def check(data: bytes) -> None:
        _decode_or_format_error(data, fast)

    check()


def test_point_from_arbitrary_flagged_bytes(fast: GroupBackend) -> None:
    @budget(fast, 300)
    @given(st.one_of(_flag_heavy_bytes(), _mutated_valid_encodings(fast)))
    def check(data: bytes) -> None:
        _decode_or_format_error(data, fast)

    check()


def test_point_from_arbitrary_flagged_bytes_reference() -> None:
    reference = get_backend("reference")

    @budget(reference, 10)
    @given(st.one_of(_flag_heavy_bytes(), _mutated_valid_encodings(reference)))
    def check(data: bytes) -> None:
        _decode_or_format_error(data, reference)

    check()


# ---------------------------------------------------------------------------
# Scalars
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [R, R + 1, 2 * R, (1 << 256) - 1],
    ids=["r", "r+1", "2r", "2^256-1"],
)
def test_scalar_rejects_non_canonical(value: int) -> None:
    assert_scalar_format_error(value.to_bytes(SCALAR_SIZE, "little"))


@pytest.mark.parametrize("length", [0, 1, 31, 33, 48, 64])
def test_scalar_rejects_wrong_length(length: int) -> None:
    assert_scalar_format_error(bytes(length))


@pytest.mark.parametrize("data", ["00" * 32, None, 0], ids=["str", "none", "int"])
def test_scalar_rejects_non_bytes(data: object) -> None:
    assert_scalar_format_error(data)


@pytest.mark.parametrize("value", [0, 1, R - 1, (1 << 252) + 7])
def test_scalar_accepts_canonical(value: int) -> None:
    data = value.to_bytes(SCALAR_SIZE, "little")
    assert scalar_from_bytes(data) == value
    assert scalar_from_bytes(bytearray(data)) == value
    assert scalar_to_bytes(value) == data


def test_scalar_encoding_is_little_endian() -> None:
    assert scalar_to_bytes(1) == b"\x01" + bytes(31)
    assert scalar_from_bytes(b"\x00\x01" + bytes(30)) == 256


@pytest.mark.parametrize("value", [-1, R, R + 1, 1 << 256])
def test_scalar_to_bytes_rejects_out_of_range(value: int) -> None:
    with pytest.raises(ParameterError) as info:
        scalar_to_bytes(value)
    assert type(info.value) is ParameterError


@settings(max_examples=300, deadline=None, database=None)
@given(st.binary(min_size=SCALAR_SIZE, max_size=SCALAR_SIZE))
def test_scalar_from_any_32_bytes(data: bytes) -> None:
    try:
        k = scalar_from_bytes(data)
    except FormatError as exc:
        assert type(exc) is FormatError
        assert int.from_bytes(data, "little") >= R
    else:
        assert 0 <= k < R
        assert scalar_to_bytes(k) == data


@settings(max_examples=200, deadline=None, database=None)
@given(st.binary(min_size=0, max_size=80))
def test_scalar_from_any_bytes(data: bytes) -> None:
    try:
        k = scalar_from_bytes(data)
    except FormatError as exc:
        assert type(exc) is FormatError
    else:
        assert len(data) == SCALAR_SIZE
        assert scalar_to_bytes(k) == data


@settings(max_examples=200, deadline=None, database=None)
@given(st.integers(min_value=-(1 << 600), max_value=1 << 600))
def test_scalar_from_int_reduces(k: int) -> None:
    reduced = scalar_from_int(k)
    assert 0 <= reduced < R
    assert (reduced - k) % R == 0


def test_random_scalar_is_canonical_and_nonzero() -> None:
    values = {random_scalar() for _ in range(32)}
    assert all(0 < v < R for v in values)
    assert len(values) == 32


# ---------------------------------------------------------------------------
# Field helpers
# ---------------------------------------------------------------------------


@settings(max_examples=100, deadline=None, database=None)
@given(st.lists(st.integers(min_value=1, max_value=R - 1), min_size=0, max_size=12))
def test_batch_invert_matches_pow(values: list[int]) -> None:
    inverses = batch_invert(values)
    assert inverses == [pow(v, -1, R) for v in values]
    assert all(v * w % R == 1 for v, w in zip(values, inverses, strict=True))


@settings(max_examples=50, deadline=None, database=None)
@given(st.lists(st.integers(min_value=1, max_value=R - 1).map(lambda v: v + R), min_size=1, max_size=6))
def test_batch_invert_accepts_unreduced_inputs(values: list[int]) -> None:
    assert batch_invert(values) == [pow(v, -1, R) for v in values]


@pytest.mark.parametrize("values", [[0], [1, 0], [5, R, 7], [R * 3]])
def test_batch_invert_rejects_zero(values: list[int]) -> None:
    with pytest.raises(ParameterError) as info:
        batch_invert(values)
    assert type(info.value) is ParameterError


def test_batch_invert_of_nothing() -> None:
    assert batch_invert([]) == []


@settings(max_examples=100, deadline=None, database=None)
@given(
    st.integers(min_value=0, max_value=10).flatmap(
        lambda n: st.tuples(
            st.lists(st.integers(min_value=0, max_value=R - 1), min_size=n, max_size=n),
            st.lists(st.integers(min_value=0, max_value=R - 1), min_size=n, max_size=n),
        )
    )
)
def test_inner_product_matches_naive(vectors: tuple[list[int], list[int]]) -> None:
    a, b = vectors
    expected = 0
    for x, y in zip(a, b, strict=True):
        expected = (expected + x * y) % R
    assert inner_product(a, b) == expected
    assert inner_product(a, b) == inner_product(b, a)


def test_inner_product_small_cases() -> None:
    assert inner_product([], []) == 0
    assert inner_product([3], [4]) == 12
    assert inner_product([1, 2, 3], [4, 5, 6]) == 32
    assert inner_product([R - 1], [R - 1]) == 1
