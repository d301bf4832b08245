"""Batch verification: one MSM for many proofs, and the error names the bad ones.

``BatchVerificationError.bad_indices`` must be
exactly the positions of the false proofs, whatever made them false (a failed
check found by bisection, or an identity point met while replaying the transcript).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from functools import cache

import pytest

from circuits.backends import get_backend
from circuits.constants import GROUP_ORDER
from circuits.errors import ParameterError, ProofError, VerificationError
from circuits.group import Point
from circuits.proofs import RangeProof
from circuits.relations import Opening, RangeStatement
from prover import prove_range
from verifier import BatchVerificationError, verify_batch, verify_range

r = GROUP_ORDER
SEED = b"tests/test_batch.py"


def shake_rng(tag: str):
    """A deterministic ``rng(size)``: SHAKE256(SEED || tag || LE64(counter))."""
    counter = itertools.count()
    return lambda size: hashlib.shake_256(SEED + tag.encode() + next(counter).to_bytes(8, "little")).digest(size)


def blinding(tag: str, j: int) -> int:
    return int.from_bytes(hashlib.shake_256(SEED + f"{tag}/{j}".encode()).digest(64), "little") % (r - 1) + 1


def make(n: int, m: int, tag: str, backend_name: str = "fast") -> tuple[RangeStatement, RangeProof]:
    """Prove m values in [0, 2^n), then hop through bytes as a verifier would receive them."""
    be = get_backend(backend_name)
    values = [(j * 37 + len(tag)) % (1 << n) for j in range(m)]
    ops = [Opening(v, blinding(tag, j)) for j, v in enumerate(values)]
    statement, proof = prove_range(ops, n, context=tag.encode(), backend=be, rng=shake_rng(tag))
    commitments = tuple(Point.from_bytes(V.to_bytes(), be) for V in statement.commitments)
    return RangeStatement(commitments, n, statement.context), RangeProof.from_bytes(proof.to_bytes(), be)


MIXED_SHAPES = [(8, 1), (8, 4), (16, 2), (64, 1)]


@cache
def mixed_batch() -> tuple[tuple[RangeStatement, ...], tuple[RangeProof, ...]]:
    pairs = [make(n, m, f"mixed/{n}/{m}") for n, m in MIXED_SHAPES]
    return tuple(s for s, _ in pairs), tuple(p for _, p in pairs)


def t_x_plus_one(proof: RangeProof) -> RangeProof:
    """A well-formed but false proof: the check fails in the combined MSM (found by bisection)."""
    return dataclasses.replace(proof, t_x=(proof.t_x + 1) % r)


def identity_T_1(proof: RangeProof) -> RangeProof:
    """A false proof rejected while replaying the transcript (identity point)."""
    return dataclasses.replace(proof, T_1=Point.identity(proof.T_1.backend))


def swap_commitments(statement: RangeStatement) -> RangeStatement:
    V = statement.commitments
    return RangeStatement((V[1], V[0], *V[2:]), statement.n, statement.context)


def batch_error(statements, proofs) -> BatchVerificationError:
    with pytest.raises(ProofError) as excinfo:
        verify_batch(list(statements), list(proofs))
    assert type(excinfo.value) is BatchVerificationError
    assert isinstance(excinfo.value, VerificationError)
    return excinfo.value


def test_each_proof_verifies_alone():
    statements, proofs = mixed_batch()
    for statement, proof in zip(statements, proofs, strict=True):
        assert verify_range(statement, proof) is None


def test_good_batch_of_mixed_n_and_m():
    statements, proofs = mixed_batch()
    assert verify_batch(list(statements), list(proofs)) is None


def test_batch_of_one_and_in_any_order():
    statements, proofs = mixed_batch()
    assert verify_batch(statements[:1], proofs[:1]) is None
    assert verify_batch(list(reversed(statements)), list(reversed(proofs))) is None
    assert verify_batch([*statements, *statements], [*proofs, *proofs]) is None  # repeats are fine


@pytest.mark.parametrize("bad", range(len(MIXED_SHAPES)))
@pytest.mark.parametrize("tamper", [t_x_plus_one, identity_T_1])
def test_one_bad_proof_is_located(bad, tamper):
    statements, proofs = mixed_batch()
    proofs = list(proofs)
    proofs[bad] = tamper(proofs[bad])
    error = batch_error(statements, proofs)
    assert error.bad_indices == [bad]


def test_identity_point_is_reported_with_its_reason():
    statements, proofs = mixed_batch()
    proofs = list(proofs)
    proofs[2] = identity_T_1(proofs[2])
    error = batch_error(statements, proofs)
    assert error.bad_indices == [2]
    assert "identity" in error.reasons[2]


@pytest.mark.parametrize(("i", "j"), [(0, 1), (1, 3), (0, 3), (2, 3)])
def test_two_bad_proofs_are_both_located(i, j):
    statements, proofs = mixed_batch()
    proofs = list(proofs)
    proofs[i] = t_x_plus_one(proofs[i])
    proofs[j] = identity_T_1(proofs[j]) if (i + j) % 2 else t_x_plus_one(proofs[j])
    assert batch_error(statements, proofs).bad_indices == [i, j]


def test_all_bad():
    statements, proofs = mixed_batch()
    proofs = [t_x_plus_one(p) for p in proofs]
    assert batch_error(statements, proofs).bad_indices == [0, 1, 2, 3]


def test_swapped_commitments_are_located():
    statements, proofs = mixed_batch()
    statements = list(statements)
    statements[1] = swap_commitments(statements[1])  # (8, 4)
    assert batch_error(statements, proofs).bad_indices == [1]


def test_identity_commitment_is_located():
    statements, proofs = mixed_batch()
    statements = list(statements)
    s = statements[3]
    statements[3] = RangeStatement((Point.identity(s.commitments[0].backend),), s.n, s.context)
    error = batch_error(statements, proofs)
    assert error.bad_indices == [3]
    assert "identity" in error.reasons[3]


def test_statement_of_another_proof_is_located():
    """Proofs 0 and 3 exchanged (different shapes): both are reported."""
    statements, proofs = mixed_batch()
    proofs = list(proofs)
    proofs[0], proofs[3] = proofs[3], proofs[0]
    assert batch_error(statements, proofs).bad_indices == [0, 3]


def test_proofs_of_same_shape_exchanged_are_located():
    s1, p1 = make(8, 2, "same shape 1")
    s2, p2 = make(8, 2, "same shape 2")
    assert batch_error([s1, s2, s1], [p2, p1, p1]).bad_indices == [0, 1]


def test_random_weights_stop_opposite_errors_from_cancelling():
    """a and b are not absorbed into the transcript: with a+1 and a-1 on two copies of one proof,
    the error terms are exact opposites, so an unweighted sum would accept. Random weights must not."""
    statements, proofs = mixed_batch()
    proof = proofs[1]
    plus = dataclasses.replace(proof, ipp_proof=dataclasses.replace(proof.ipp_proof, a=(proof.ipp_proof.a + 1) % r))
    minus = dataclasses.replace(proof, ipp_proof=dataclasses.replace(proof.ipp_proof, a=(proof.ipp_proof.a - 1) % r))
    assert batch_error([statements[1]] * 2, [plus, minus]).bad_indices == [0, 1]


def test_mismatched_lengths_are_a_parameter_error():
    statements, proofs = mixed_batch()
    for s, p in ((statements, proofs[:3]), (statements[:1], proofs), ([], proofs[:1]), (statements[:1], [])):
        with pytest.raises(ProofError) as excinfo:
            verify_batch(list(s), list(p))
        assert type(excinfo.value) is ParameterError


def test_empty_batch_is_a_parameter_error():
    with pytest.raises(ProofError) as excinfo:
        verify_batch([], [])
    assert type(excinfo.value) is ParameterError


def test_batch_mixing_backends_is_a_parameter_error():
    statements, proofs = mixed_batch()
    s_ref, p_ref = make(8, 1, "ref in fast batch", "reference")
    with pytest.raises(ProofError) as excinfo:
        verify_batch([*statements, s_ref], [*proofs, p_ref])
    assert type(excinfo.value) is ParameterError


def test_reference_backend_batch_of_two_tiny_proofs():
    s1, p1 = make(8, 1, "ref 1", "reference")
    s2, p2 = make(8, 2, "ref 2", "reference")
    assert verify_batch([s1, s2], [p1, p2]) is None
    assert batch_error([s1, s2], [p1, t_x_plus_one(p2)]).bad_indices == [1]
    assert batch_error([s1, s2], [identity_T_1(p1), p2]).bad_indices == [0]
