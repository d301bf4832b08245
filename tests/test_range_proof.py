"""Aggregated range proofs: round trips, prover errors, tampering, Frozen Heart, parsing properties.

Organised in four parts:

* a round-trip grid over ``n x m`` with the prover and the verifier in separate
  scopes that share nothing but bytes;
* tamper tests that change one thing at a time and assert the **exact** exception
  class (``type(exc) is X``), for every point, every scalar and every commitment;
* the Frozen Heart guard: a proof is bound to its commitments, ``n``, ``m``, their
  order and the context;
* hypothesis properties of ``from_bytes``: only ``FormatError``, and a successful
  parse re-encodes to the same bytes;
* the two curve backends accept each other's proofs after a bytes hop.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from dataclasses import dataclass
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuits.backends import get_backend
from circuits.constants import (
    ALLOWED_BITSIZES,
    FIELD_MODULUS,
    GROUP_ORDER,
    POINT_SIZE,
    RANGEPROOF_FORMAT_VERSION,
    SCALAR_SIZE,
)
from circuits.errors import FormatError, ParameterError, ProofError, VerificationError, WitnessError
from circuits.generators import PedersenGens
from circuits.group import Point
from circuits.proofs import MAX_IPP_ROUNDS, InnerProductProof, RangeProof
from circuits.relations import Opening, RangeStatement
from prover import create_range_proof, prove_range
from verifier import is_valid, verify_range

r = GROUP_ORDER
SEED = b"tests/test_range_proof.py"
IDENTITY = bytes([0xC0]) + bytes(POINT_SIZE - 1)
RANGE_FIXED = 1 + 4 * POINT_SIZE + 3 * SCALAR_SIZE + 2 * SCALAR_SIZE  # 353
ROUND = 2 * POINT_SIZE  # 96
FUZZ = settings(max_examples=200, deadline=None, database=None)


# ---------------------------------------------------------------------------
# Deterministic inputs (SHAKE256 of a fixed seed; never the `random` module)
# ---------------------------------------------------------------------------


def shake_rng(tag: str):
    """A deterministic ``rng(size)``: SHAKE256(SEED || tag || LE64(counter))."""
    counter = itertools.count()
    return lambda size: hashlib.shake_256(SEED + tag.encode() + next(counter).to_bytes(8, "little")).digest(size)


def derived_int(tag: str, modulus: int) -> int:
    return int.from_bytes(hashlib.shake_256(SEED + b"|int|" + tag.encode()).digest(64), "little") % modulus


def openings(tag: str, values) -> list[Opening]:
    return [Opening(v, derived_int(f"{tag}/blinding/{j}", r - 1) + 1) for j, v in enumerate(values)]


def values_for(n: int, m: int) -> list[int]:
    """``2^n - 1``, ``0``, ``1``, then hash-derived values in ``[0, 2^n)``."""
    edges = [(1 << n) - 1, 0, 1]
    return [edges[j] if j < len(edges) else derived_int(f"value/{n}/{j}", 1 << n) for j in range(m)]


def random_point(tag: str, backend=None) -> Point:
    return Point.generator(backend or get_backend("fast")) * (derived_int(f"point/{tag}", r - 1) + 1)


def _sqrt_mod_p(a: int) -> int | None:
    y = pow(a, (FIELD_MODULUS + 1) // 4, FIELD_MODULUS)
    return y if y * y % FIELD_MODULUS == a % FIELD_MODULUS else None


def _encode_x(x: int, sign: bool = False) -> bytes:
    data = bytearray(x.to_bytes(POINT_SIZE, "big"))
    data[0] |= 0x80 | (0x20 if sign else 0)
    return bytes(data)


def not_on_curve_encoding() -> bytes:
    """Smallest ``x`` with ``x^3 + 4`` a non-square mod p: no point has this x."""
    x = next(x for x in itertools.count(1) if _sqrt_mod_p(x**3 + 4) is None)
    return _encode_x(x)


def not_in_subgroup_encoding() -> bytes:
    """Smallest ``x`` on the curve: on E(F_p), but (overwhelmingly) not in the order-r subgroup."""
    x = next(x for x in itertools.count(1) if _sqrt_mod_p(x**3 + 4) is not None)
    return _encode_x(x)


BAD_POINT_ENCODINGS = {
    "not_in_subgroup": not_in_subgroup_encoding(),
    "not_on_curve": not_on_curve_encoding(),
    "x_equal_to_p": _encode_x(FIELD_MODULUS),
    "x_all_ones": bytes([0x9F]) + b"\xff" * (POINT_SIZE - 1),
    "no_compression_flag": bytes(POINT_SIZE),
    "identity_with_sign_flag": bytes([0xE0]) + bytes(POINT_SIZE - 1),
    "identity_with_trailing_bit": IDENTITY[:-1] + b"\x01",
}
BAD_SCALAR_ENCODINGS = {
    "equal_to_order": r.to_bytes(SCALAR_SIZE, "little"),
    "order_plus_one": (r + 1).to_bytes(SCALAR_SIZE, "little"),
    "all_ones": b"\xff" * SCALAR_SIZE,
}


# ---------------------------------------------------------------------------
# Prover and verifier scopes: they share only bytes
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Wire:
    """Everything that crosses from the prover to the verifier."""

    commitments: tuple[bytes, ...]
    proof: bytes
    n: int
    context: bytes

    def but(self, **changes) -> Wire:
        return dataclasses.replace(self, **changes)


def prover_side(values, n: int, *, context: bytes = b"", tag: str = "", backend_name: str = "fast") -> Wire:
    statement, proof = prove_range(
        openings(tag, values), n, context=context, backend=get_backend(backend_name), rng=shake_rng(tag)
    )
    return Wire(tuple(V.to_bytes() for V in statement.commitments), proof.to_bytes(), n, context)


def parse_wire(wire: Wire, backend_name: str = "fast") -> tuple[RangeStatement, RangeProof]:
    be = get_backend(backend_name)
    commitments = tuple(Point.from_bytes(V, be) for V in wire.commitments)
    return RangeStatement(commitments, wire.n, wire.context), RangeProof.from_bytes(wire.proof, be)


def verifier_side(wire: Wire, backend_name: str = "fast") -> None:
    statement, proof = parse_wire(wire, backend_name)
    return verify_range(statement, proof)


def raises_exactly(cls, fn, *args):
    """Run ``fn(*args)``; assert it raises exactly ``cls`` (not a subclass, not a superclass)."""
    with pytest.raises(ProofError) as excinfo:
        fn(*args)
    assert type(excinfo.value) is cls, f"expected {cls.__name__}, got {type(excinfo.value).__name__}: {excinfo.value}"
    return excinfo.value


# ---------------------------------------------------------------------------
# Round-trip grid
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("m", [1, 2, 4, 8])
@pytest.mark.parametrize("n", [8, 16, 32, 64, 128])
def test_round_trip_grid(n, m):
    wire = prover_side(values_for(n, m), n, context=f"grid {n}x{m}".encode(), tag=f"grid/{n}/{m}")
    rounds = (n * m).bit_length() - 1
    assert len(wire.proof) == RangeProof.size_for(rounds) == RANGE_FIXED + ROUND * rounds
    assert len(wire.commitments) == m
    assert verifier_side(wire) is None
    statement, proof = parse_wire(wire)
    assert proof.serialized_size() == len(wire.proof)
    assert proof.to_bytes() == wire.proof
    assert is_valid(statement, proof) is True


def test_round_trip_m1024_n8():
    m, n = 1024, 8
    wire = prover_side([j % 256 for j in range(m)], n, context=b"large m", tag="m1024")
    assert len(wire.proof) == RANGE_FIXED + ROUND * 13  # lg(8192) = 13 rounds
    assert verifier_side(wire) is None
    # The large statement is bound too: swapping two commitments far apart breaks it.
    swapped = list(wire.commitments)
    swapped[3], swapped[1000] = swapped[1000], swapped[3]
    raises_exactly(VerificationError, verifier_side, wire.but(commitments=tuple(swapped)))


@pytest.mark.parametrize("n", ALLOWED_BITSIZES)
@pytest.mark.parametrize("edge", ["zero", "one", "max"])
def test_edge_values_prove_and_verify(n, edge):
    v = {"zero": 0, "one": 1, "max": (1 << n) - 1}[edge]
    assert verifier_side(prover_side([v], n, tag=f"edge/{edge}/{n}")) is None


@pytest.mark.parametrize("n", ALLOWED_BITSIZES)
@pytest.mark.parametrize("edge", ["two_to_the_n", "minus_one_mod_r"])
def test_out_of_range_values_are_witness_errors(n, edge):
    v = {"two_to_the_n": 1 << n, "minus_one_mod_r": r - 1}[edge]
    raises_exactly(WitnessError, prove_range, [Opening(3, 5), Opening(v, 7)], n)


def test_negative_value_is_a_witness_error():
    raises_exactly(WitnessError, Opening, -1, 5)


def test_non_canonical_blinding_is_a_witness_error():
    raises_exactly(WitnessError, Opening, 1, r)


def test_out_of_range_value_in_position_m_minus_1_is_caught():
    vals = [0] * 7 + [256]
    raises_exactly(WitnessError, prove_range, openings("pos", vals), 8)


# ---------------------------------------------------------------------------
# Prover errors
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("m", [0, 3, 5, 6])
def test_prover_rejects_m_not_a_power_of_two(m):
    raises_exactly(ParameterError, prove_range, openings("m", [1] * m), 8)


@pytest.mark.parametrize("n", [0, 7, 9, 24, 63, 65, 256])
def test_prover_rejects_n_not_allowed(n):
    raises_exactly(ParameterError, prove_range, openings("n", [1]), n)


def test_create_range_proof_for_existing_statement_verifies():
    ops = openings("create", [5, 6])
    statement, _ = prove_range(ops, 8, context=b"ctx", rng=shake_rng("create"))
    proof = create_range_proof(statement, ops, rng=shake_rng("create2"))
    assert verify_range(statement, proof) is None


def test_create_range_proof_rejects_non_matching_opening():
    ops = openings("create", [5, 6])
    statement, _ = prove_range(ops, 8, context=b"ctx", rng=shake_rng("create"))
    wrong_value = [ops[0], Opening(7, ops[1].v_blinding)]
    wrong_blinding = [ops[0], Opening(6, (ops[1].v_blinding + 1) % r)]
    swapped = [ops[1], ops[0]]
    for bad in (wrong_value, wrong_blinding, swapped):
        raises_exactly(WitnessError, create_range_proof, statement, bad)


def test_create_range_proof_rejects_wrong_count():
    ops = openings("count", [5, 6])
    statement, _ = prove_range(ops, 8, rng=shake_rng("count"))
    raises_exactly(WitnessError, create_range_proof, statement, ops[:1])
    raises_exactly(WitnessError, create_range_proof, statement, [*ops, ops[0]])
    raises_exactly(WitnessError, create_range_proof, statement, [])


def test_create_range_proof_rejects_value_out_of_range_for_statement_n():
    ops = openings("n16", [300])
    statement16, _ = prove_range(ops, 16, rng=shake_rng("n16"))
    statement8 = RangeStatement(statement16.commitments, 8)
    raises_exactly(WitnessError, create_range_proof, statement8, ops)


def test_zero_opening_is_a_witness_error():
    raises_exactly(WitnessError, prove_range, [Opening(0, 0)], 8)


# ---------------------------------------------------------------------------
# Tamper tests on one n = 8, m = 4 proof
# ---------------------------------------------------------------------------

BASE_N, BASE_VALUES, BASE_CONTEXT = 8, [0, 1, 128, 255], b"round A"
BASE_ROUNDS = 5  # lg(8 * 4)
OFFSETS = {"A": 1, "S": 49, "T_1": 97, "T_2": 145}
for _k in range(BASE_ROUNDS):
    OFFSETS[f"L_vec[{_k}]"] = 289 + ROUND * _k
    OFFSETS[f"R_vec[{_k}]"] = 289 + ROUND * _k + POINT_SIZE
POINT_FIELDS = list(OFFSETS)
SCALAR_OFFSETS = {
    "t_x": 193,
    "t_x_blinding": 225,
    "e_blinding": 257,
    "a": 289 + ROUND * BASE_ROUNDS,
    "b": 289 + ROUND * BASE_ROUNDS + SCALAR_SIZE,
}
SCALAR_FIELDS = list(SCALAR_OFFSETS)


@cache
def base_wire() -> Wire:
    return prover_side(BASE_VALUES, BASE_N, context=BASE_CONTEXT, tag="base")


def splice(data: bytes, offset: int, replacement: bytes) -> bytes:
    return data[:offset] + replacement + data[offset + len(replacement) :]


def replace_point(proof: RangeProof, field: str, point: Point) -> RangeProof:
    """The in-memory twin of splicing: swap one point of a parsed proof."""
    if field in ("A", "S", "T_1", "T_2"):
        return dataclasses.replace(proof, **{field: point})
    vec, k = field[:5], int(field[6:-1])
    ipp = proof.ipp_proof
    points = list(getattr(ipp, vec))
    points[k] = point
    return dataclasses.replace(proof, ipp_proof=dataclasses.replace(ipp, **{vec: tuple(points)}))


def test_layout_offsets_match_the_parsed_proof():
    wire = base_wire()
    _, proof = parse_wire(wire)
    for field, offset in OFFSETS.items():
        point = getattr(proof, field) if field in ("A", "S", "T_1", "T_2") else None
        if point is None:
            point = getattr(proof.ipp_proof, field[:5])[int(field[6:-1])]
        assert wire.proof[offset : offset + POINT_SIZE] == point.to_bytes(), field
    for field, offset in SCALAR_OFFSETS.items():
        owner = proof.ipp_proof if field in ("a", "b") else proof
        assert int.from_bytes(wire.proof[offset : offset + SCALAR_SIZE], "little") == getattr(owner, field), field
    assert wire.proof[0] == RANGEPROOF_FORMAT_VERSION
    assert len(wire.proof) == SCALAR_OFFSETS["b"] + SCALAR_SIZE


def test_base_proof_verifies():
    assert verifier_side(base_wire()) is None


@pytest.mark.parametrize("field", POINT_FIELDS)
def test_point_replaced_by_other_valid_point(field):
    wire = base_wire()
    other = random_point(f"replace/{field}").to_bytes()
    raises_exactly(VerificationError, verifier_side, wire.but(proof=splice(wire.proof, OFFSETS[field], other)))
    # In memory, without the bytes hop.
    statement, proof = parse_wire(wire)
    raises_exactly(VerificationError, verify_range, statement, replace_point(proof, field, random_point(field)))


@pytest.mark.parametrize("field", POINT_FIELDS)
def test_point_negated(field):
    wire = base_wire()
    offset = OFFSETS[field]
    negated = splice(wire.proof, offset, bytes([wire.proof[offset] ^ 0x20]))  # flip the sign of y
    raises_exactly(VerificationError, verifier_side, wire.but(proof=negated))


@pytest.mark.parametrize("field", POINT_FIELDS)
def test_point_replaced_by_identity(field):
    wire = base_wire()
    tampered = wire.but(proof=splice(wire.proof, OFFSETS[field], IDENTITY))
    statement, proof = parse_wire(tampered)  # the identity is a valid encoding ...
    error = raises_exactly(VerificationError, verify_range, statement, proof)  # ... rejected by the transcript
    assert "identity" in str(error)
    statement, proof = parse_wire(wire)
    identity = Point.identity(proof.A.backend)
    raises_exactly(VerificationError, verify_range, statement, replace_point(proof, field, identity))


@pytest.mark.parametrize("bad", list(BAD_POINT_ENCODINGS))
@pytest.mark.parametrize("field", POINT_FIELDS)
def test_point_with_invalid_encoding_is_a_format_error(field, bad):
    wire = base_wire()
    tampered = splice(wire.proof, OFFSETS[field], BAD_POINT_ENCODINGS[bad])
    error = raises_exactly(FormatError, RangeProof.from_bytes, tampered, get_backend("fast"))
    assert str(error).startswith(f"{field}:"), str(error)


@pytest.mark.parametrize("field", SCALAR_FIELDS)
@pytest.mark.parametrize("delta", [1, -1, r - 2])
def test_scalar_changed(field, delta):
    wire = base_wire()
    offset = SCALAR_OFFSETS[field]
    k = int.from_bytes(wire.proof[offset : offset + SCALAR_SIZE], "little")
    tampered = splice(wire.proof, offset, ((k + delta) % r).to_bytes(SCALAR_SIZE, "little"))
    raises_exactly(VerificationError, verifier_side, wire.but(proof=tampered))


@pytest.mark.parametrize("field", SCALAR_FIELDS)
def test_scalar_zero(field):
    wire = base_wire()
    tampered = splice(wire.proof, SCALAR_OFFSETS[field], bytes(SCALAR_SIZE))
    raises_exactly(VerificationError, verifier_side, wire.but(proof=tampered))


@pytest.mark.parametrize("field", SCALAR_FIELDS)
def test_scalar_plus_one_in_memory(field):
    statement, proof = parse_wire(base_wire())
    if field in ("a", "b"):
        ipp = dataclasses.replace(proof.ipp_proof, **{field: (getattr(proof.ipp_proof, field) + 1) % r})
        tampered = dataclasses.replace(proof, ipp_proof=ipp)
    else:
        tampered = dataclasses.replace(proof, **{field: (getattr(proof, field) + 1) % r})
    raises_exactly(VerificationError, verify_range, statement, tampered)
    assert is_valid(statement, tampered) is False


@pytest.mark.parametrize("bad", list(BAD_SCALAR_ENCODINGS))
@pytest.mark.parametrize("field", SCALAR_FIELDS)
def test_scalar_non_canonical_is_a_format_error(field, bad):
    wire = base_wire()
    tampered = splice(wire.proof, SCALAR_OFFSETS[field], BAD_SCALAR_ENCODINGS[bad])
    error = raises_exactly(FormatError, RangeProof.from_bytes, tampered, get_backend("fast"))
    assert str(error).startswith(f"{field}:"), str(error)


@pytest.mark.parametrize("field", ["a", "b"])
def test_in_memory_non_canonical_ipp_scalar_is_rejected(field):
    statement, proof = parse_wire(base_wire())
    with pytest.raises(FormatError):
        ipp = dataclasses.replace(proof.ipp_proof, **{field: getattr(proof.ipp_proof, field) + r})
        verify_range(statement, dataclasses.replace(proof, ipp_proof=ipp))


@pytest.mark.parametrize("j", range(4))
def test_commitment_replaced_by_other_point(j):
    wire = base_wire()
    other = PedersenGens.default(get_backend("fast")).commit(BASE_VALUES[j], 12345).to_bytes()
    for replacement in (other, random_point(f"V{j}").to_bytes()):
        commitments = list(wire.commitments)
        commitments[j] = replacement
        raises_exactly(VerificationError, verifier_side, wire.but(commitments=tuple(commitments)))


@pytest.mark.parametrize("j", range(4))
def test_commitment_replaced_by_identity(j):
    wire = base_wire()
    commitments = list(wire.commitments)
    commitments[j] = IDENTITY
    error = raises_exactly(VerificationError, verifier_side, wire.but(commitments=tuple(commitments)))
    assert "identity" in str(error)


@pytest.mark.parametrize(("i", "j"), [(0, 1), (2, 3), (0, 3), (1, 2)])
def test_commitments_swapped(i, j):
    wire = base_wire()
    commitments = list(wire.commitments)
    commitments[i], commitments[j] = commitments[j], commitments[i]
    raises_exactly(VerificationError, verifier_side, wire.but(commitments=tuple(commitments)))


@pytest.mark.parametrize("j", range(4))
def test_commitment_dropped_is_a_parameter_error(j):
    """Dropping one of four leaves m = 3, which RangeStatement refuses before any curve work."""
    wire = base_wire()
    commitments = wire.commitments[:j] + wire.commitments[j + 1 :]
    error = raises_exactly(ParameterError, verifier_side, wire.but(commitments=commitments))
    assert isinstance(error, ProofError)
    assert "power of two" in str(error)


def test_commitment_duplicated_instead_of_another():
    wire = base_wire()
    commitments = (wire.commitments[0], wire.commitments[0], *wire.commitments[2:])
    raises_exactly(VerificationError, verifier_side, wire.but(commitments=commitments))


@pytest.mark.parametrize("bad", list(BAD_POINT_ENCODINGS))
def test_commitment_with_invalid_encoding_is_a_format_error(bad):
    wire = base_wire()
    commitments = (BAD_POINT_ENCODINGS[bad], *wire.commitments[1:])
    raises_exactly(FormatError, verifier_side, wire.but(commitments=commitments))


@pytest.mark.parametrize("change", ["truncated", "extended"])
def test_commitment_wrong_length_is_a_format_error(change):
    wire = base_wire()
    V0 = wire.commitments[0]
    V0 = V0[:-1] if change == "truncated" else V0 + b"\x00"
    raises_exactly(FormatError, verifier_side, wire.but(commitments=(V0, *wire.commitments[1:])))


@pytest.mark.parametrize(
    "change",
    ["truncated_by_one_byte", "extended_by_one_byte", "empty", "version_only", "version_0", "version_2", "version_255"],
)
def test_proof_bytes_malformed(change):
    proof = base_wire().proof
    tampered = {
        "truncated_by_one_byte": proof[:-1],
        "extended_by_one_byte": proof + b"\x00",
        "empty": b"",
        "version_only": proof[:1],
        "version_0": b"\x00" + proof[1:],
        "version_2": b"\x02" + proof[1:],
        "version_255": b"\xff" + proof[1:],
    }[change]
    raises_exactly(FormatError, verifier_side, base_wire().but(proof=tampered))


@pytest.mark.parametrize("cut", range(1, 96))
def test_proof_truncated_inside_the_last_round_or_scalars(cut):
    proof = base_wire().proof
    raises_exactly(FormatError, RangeProof.from_bytes, proof[:-cut], get_backend("fast"))


def test_whole_round_removed_or_added_parses_but_does_not_verify():
    wire = base_wire()
    a_offset = SCALAR_OFFSETS["a"]
    last_round = wire.proof[a_offset - ROUND : a_offset]
    fewer = wire.proof[: a_offset - ROUND] + wire.proof[a_offset:]
    more = wire.proof[:a_offset] + last_round + wire.proof[a_offset:]
    for tampered in (fewer, more):
        error = raises_exactly(VerificationError, verifier_side, wire.but(proof=tampered))
        assert "rounds" in str(error)


def test_too_many_rounds_is_a_format_error():
    data = b"\x01" + bytes(RangeProof.size_for(MAX_IPP_ROUNDS + 1) - 1)
    raises_exactly(FormatError, RangeProof.from_bytes, data, get_backend("fast"))
    raises_exactly(FormatError, InnerProductProof.from_bytes, bytes(64 + ROUND * (MAX_IPP_ROUNDS + 1)))


@pytest.mark.parametrize("data", ["not bytes", None, 12345, [1, 2, 3]])
def test_from_bytes_of_non_bytes_is_a_format_error(data):
    raises_exactly(FormatError, RangeProof.from_bytes, data, get_backend("fast"))
    raises_exactly(FormatError, InnerProductProof.from_bytes, data, get_backend("fast"))
    raises_exactly(FormatError, Point.from_bytes, data, get_backend("fast"))


def test_from_bytes_accepts_bytearray_and_memoryview():
    proof = base_wire().proof
    for data in (bytearray(proof), memoryview(proof)):
        assert RangeProof.from_bytes(data, get_backend("fast")).to_bytes() == proof


# ---------------------------------------------------------------------------
# Frozen Heart: the proof is bound to the whole statement
# ---------------------------------------------------------------------------


def test_proof_does_not_verify_for_other_commitments():
    wire = base_wire()
    other = prover_side([5, 6, 7, 8], BASE_N, context=BASE_CONTEXT, tag="other")
    assert verifier_side(other) is None
    raises_exactly(VerificationError, verifier_side, wire.but(commitments=other.commitments))
    raises_exactly(VerificationError, verifier_side, other.but(commitments=wire.commitments))
    # Same values, fresh blindings: still another statement.
    same_values = prover_side(BASE_VALUES, BASE_N, context=BASE_CONTEXT, tag="same values")
    assert same_values.commitments != wire.commitments
    raises_exactly(VerificationError, verifier_side, wire.but(commitments=same_values.commitments))


def test_proof_does_not_verify_for_other_n():
    wire8 = base_wire()
    wire16 = prover_side(BASE_VALUES, 16, context=BASE_CONTEXT, tag="base")
    assert wire16.commitments == wire8.commitments  # a Pedersen commitment does not depend on n
    assert verifier_side(wire16) is None
    raises_exactly(VerificationError, verifier_side, wire16.but(n=8))
    raises_exactly(VerificationError, verifier_side, wire8.but(n=16))
    for n in (32, 64, 128):
        raises_exactly(VerificationError, verifier_side, wire8.but(n=n))


def test_proof_does_not_verify_for_other_n_with_the_same_number_of_rounds():
    """n = 8, m = 2 and n = 16, m = 1 both have lg(nm) = 4 rounds: only the transcript tells them apart."""
    wire = prover_side([200, 100], 8, context=BASE_CONTEXT, tag="same rounds")
    raises_exactly(VerificationError, verifier_side, wire.but(n=16, commitments=wire.commitments[:1]))
    raises_exactly(VerificationError, verifier_side, wire.but(n=16, commitments=wire.commitments[1:]))
    wire16 = prover_side([200], 16, context=BASE_CONTEXT, tag="same rounds 16")
    two = (wire16.commitments[0], wire.commitments[1])
    raises_exactly(VerificationError, verifier_side, wire16.but(n=8, commitments=two))


@pytest.mark.parametrize("context", [b"round B", b"", b"round A\x00", b"round", b"ROUND A"])
def test_proof_does_not_verify_for_other_context(context):
    wire = base_wire()
    raises_exactly(VerificationError, verifier_side, wire.but(context=context))


def test_context_is_bound_both_ways():
    wire_b = prover_side(BASE_VALUES, BASE_N, context=b"round B", tag="base")
    assert wire_b.commitments == base_wire().commitments
    assert verifier_side(wire_b) is None
    raises_exactly(VerificationError, verifier_side, wire_b.but(context=b"round A"))


def test_proof_does_not_verify_with_half_the_commitments():
    wire = base_wire()
    for half in (wire.commitments[:2], wire.commitments[2:], wire.commitments[::2]):
        raises_exactly(VerificationError, verifier_side, wire.but(commitments=half))
    raises_exactly(VerificationError, verifier_side, wire.but(commitments=wire.commitments[:1]))


def test_proof_does_not_verify_with_extra_commitments():
    wire = base_wire()
    other = prover_side([9, 9, 9, 9], BASE_N, context=BASE_CONTEXT, tag="extra")
    raises_exactly(VerificationError, verifier_side, wire.but(commitments=wire.commitments + other.commitments))


@pytest.mark.parametrize("order", [p for p in itertools.permutations(range(4)) if p != (0, 1, 2, 3)])
def test_proof_does_not_verify_for_reordered_commitments(order):
    wire = base_wire()
    raises_exactly(VerificationError, verifier_side, wire.but(commitments=tuple(wire.commitments[i] for i in order)))


# ---------------------------------------------------------------------------
# Determinism of the prover (given its rng)
# ---------------------------------------------------------------------------


def test_proving_is_deterministic_given_the_rng():
    ops = openings("det", [1, 2])
    _, p1 = prove_range(ops, 16, rng=shake_rng("det"), threads=2)
    _, p2 = prove_range(ops, 16, rng=shake_rng("det"), threads=1)
    _, p3 = prove_range(ops, 16, rng=shake_rng("det other"))
    _, p4 = prove_range(ops, 16)
    _, p5 = prove_range(ops, 16)
    assert p1.to_bytes() == p2.to_bytes()
    assert len({p1.to_bytes(), p3.to_bytes(), p4.to_bytes(), p5.to_bytes()}) == 4


# ---------------------------------------------------------------------------
# Hypothesis: from_bytes raises only FormatError, and parse => re-encode
# ---------------------------------------------------------------------------


def _check_parse(parser, data: bytes) -> bool:
    """Parse untrusted bytes: FormatError only; a success re-encodes byte for byte. Return success."""
    try:
        proof = parser(data, get_backend("fast"))
    except FormatError as exc:
        assert type(exc) is FormatError
        return False
    assert proof.to_bytes() == data
    assert proof.serialized_size() == len(data)
    return True


@cache
def small_proof() -> bytes:
    """n = 8, m = 1: 3 rounds, 641 bytes."""
    return prover_side([77], 8, tag="fuzz").proof


@cache
def small_ipp() -> bytes:
    return small_proof()[1 + 4 * POINT_SIZE + 3 * SCALAR_SIZE :]


def near_valid_lengths(fixed: int):
    return st.integers(0, 8).flatmap(lambda k: st.binary(min_size=fixed + ROUND * k, max_size=fixed + ROUND * k))


@FUZZ
@given(st.binary(max_size=1500))
def test_range_proof_from_random_bytes(data):
    _check_parse(RangeProof.from_bytes, data)


@FUZZ
@given(near_valid_lengths(RANGE_FIXED))
def test_range_proof_from_random_bytes_of_valid_length(data):
    _check_parse(RangeProof.from_bytes, bytes([RANGEPROOF_FORMAT_VERSION]) + data[1:])


@FUZZ
@given(st.data())
def test_range_proof_from_mutated_valid_proof(data):
    proof = bytearray(small_proof())
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(proof) - 1))
        proof[i] = data.draw(st.integers(0, 255))
    _check_parse(RangeProof.from_bytes, bytes(proof))


@FUZZ
@given(st.binary(max_size=800))
def test_ipp_from_random_bytes(data):
    _check_parse(InnerProductProof.from_bytes, data)


@FUZZ
@given(near_valid_lengths(2 * SCALAR_SIZE))
def test_ipp_from_random_bytes_of_valid_length(data):
    _check_parse(InnerProductProof.from_bytes, data)


@FUZZ
@given(st.data())
def test_ipp_from_mutated_valid_proof(data):
    ipp = bytearray(small_ipp())
    i = data.draw(st.integers(0, len(ipp) - 1))
    ipp[i] = data.draw(st.integers(0, 255))
    _check_parse(InnerProductProof.from_bytes, bytes(ipp))


@pytest.mark.parametrize("mask", [0x01, 0x20, 0x80])
def test_every_single_bit_flip_is_a_format_error_or_round_trips(mask):
    """Exhaustive over positions: hypothesis rarely hits the mutations that still parse, so enumerate them."""
    proof = small_proof()
    flipped = [splice(proof, i, bytes([proof[i] ^ mask])) for i in range(len(proof))]
    parsed = [_check_parse(RangeProof.from_bytes, data) for data in flipped]
    point_starts = [1 + POINT_SIZE * k for k in range(4)] + [289 + POINT_SIZE * k for k in range(6)]
    if mask == 0x20:  # flipping the sign flag of a point gives its negation: still a valid encoding
        assert all(parsed[i] for i in point_starts)
    if mask == 0x80:  # the compression flag of every point is mandatory
        assert not any(parsed[i] for i in point_starts)
    if mask == 0x01:  # low bits of every scalar are free
        assert all(parsed[offset] for offset in (193, 225, 257, 577, 609))
    assert not parsed[0]  # the version byte
    assert any(parsed) and not all(parsed)


# ---------------------------------------------------------------------------
# Cross-backend: the wire format is the contract
# ---------------------------------------------------------------------------


def test_reference_proof_verifies_on_fast_backend():
    wire = prover_side([200], 8, context=b"cross", tag="ref->fast", backend_name="reference")
    assert verifier_side(wire, "fast") is None
    assert verifier_side(wire, "reference") is None
    raises_exactly(VerificationError, verifier_side, wire.but(context=b"cross!"), "fast")


def test_fast_proof_verifies_on_reference_backend():
    wire = prover_side([0, 255], 8, context=b"cross", tag="fast->ref", backend_name="fast")
    assert verifier_side(wire, "reference") is None
    swapped = (wire.commitments[1], wire.commitments[0])
    raises_exactly(VerificationError, verifier_side, wire.but(commitments=swapped), "reference")


def test_both_backends_make_identical_proofs_from_the_same_rng():
    fast = prover_side([42], 8, context=b"same", tag="identical", backend_name="fast")
    reference = prover_side([42], 8, context=b"same", tag="identical", backend_name="reference")
    assert fast == reference


def test_mixing_backends_without_a_bytes_hop_is_a_parameter_error():
    wire = base_wire()
    statement, _ = parse_wire(wire, "fast")
    _, proof = parse_wire(wire, "reference")
    raises_exactly(ParameterError, verify_range, statement, proof)
    # is_valid turns only VerificationError into False: malformed input still raises.
    raises_exactly(ParameterError, is_valid, statement, proof)
