"""Replay the frozen range-proof vectors (``tests/vectors/range_proof_v1.json``) forever.

Proofs generated with protocol v1 must keep verifying, and keep failing the way
they failed, in every later version (``circuits/notes/60-wire-format.md``, versioning policy).
Outcomes: ``true`` verifies, ``false`` raises exactly ``VerificationError`` from the
verifier, ``null`` raises ``FormatError`` or ``ParameterError`` while parsing.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from circuits.backends import get_backend
from circuits.constants import PROTOCOL_LABEL
from circuits.errors import FormatError, ParameterError, VerificationError
from circuits.group import Point
from circuits.proofs import RangeProof
from circuits.relations import RangeStatement
from verifier import verify_batch, verify_range

VECTORS_DIR = Path(__file__).resolve().parent / "vectors"
VECTORS_FILE = VECTORS_DIR / "range_proof_v1.json"
DOC = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
CASES = DOC["cases"]
VALID = [case for case in CASES if case["output"] is True]
INCORRECT = [case for case in CASES if case["output"] is False]
MALFORMED = [case for case in CASES if case["output"] is None]


def _load_generator():
    """Import tests/vectors/range_vectors.py by path (tests/vectors is not a package)."""
    spec = importlib.util.spec_from_file_location("range_vectors", VECTORS_DIR / "range_vectors.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse(case, backend):
    """The verifier's boundary: bytes -> (RangeStatement, RangeProof), validating everything."""
    inp = case["input"]
    commitments = tuple(Point.from_bytes(bytes.fromhex(c), backend) for c in inp["commitments"])
    statement = RangeStatement(commitments, inp["n"], bytes.fromhex(inp["context"]))
    proof = RangeProof.from_bytes(bytes.fromhex(inp["proof"]), backend)
    return statement, proof


def _ids(cases):
    return [case["name"] for case in cases]


def test_file_header_and_shape():
    assert DOC["version"] == 1
    assert DOC["protocol"] == PROTOCOL_LABEL.decode("ascii")
    names = _ids(CASES)
    assert len(set(names)) == len(names)
    for case in CASES:
        assert set(case) == {"name", "input", "output"}
        assert set(case["input"]) == {"n", "context", "commitments", "proof"}
        assert case["output"] in (True, False, None)
    # The cases the vector format promises are all there.
    for required in (
        "n8_m1_value_0",
        "n8_m1_value_255",
        "n16_m2",
        "n64_m4",
        "n128_m1_value_max",
        "n64_m8",
        "t_x_plus_one",
        "commitments_reordered",
        "context_changed",
        "n_changed",
        "commitment_replaced",
        "point_identity_A",
        "a_plus_one",
        "scalar_equal_to_order",
        "trailing_byte",
        "truncated_by_one_byte",
        "wrong_version",
        "point_not_in_subgroup_S",
        "point_not_on_curve_T_1",
        "empty_proof",
        "commitment_not_on_curve",
    ):
        assert required in names


@pytest.mark.parametrize("case", VALID, ids=_ids(VALID))
def test_valid_case_verifies(case, fast):
    statement, proof = parse(case, fast)
    assert verify_range(statement, proof) is None
    assert proof.to_bytes().hex() == case["input"]["proof"]


@pytest.mark.parametrize("case", INCORRECT, ids=_ids(INCORRECT))
def test_incorrect_case_raises_verification_error(case, fast):
    statement, proof = parse(case, fast)  # well formed: parsing must succeed
    with pytest.raises(VerificationError) as excinfo:
        verify_range(statement, proof)
    assert type(excinfo.value) is VerificationError


@pytest.mark.parametrize("case", MALFORMED, ids=_ids(MALFORMED))
def test_malformed_case_is_rejected_while_parsing(case, fast):
    with pytest.raises((FormatError, ParameterError)) as excinfo:
        parse(case, fast)
    assert type(excinfo.value) in (FormatError, ParameterError)


SMALLEST_VALID = sorted(VALID, key=lambda case: case["input"]["n"] * len(case["input"]["commitments"]))[:3]


@pytest.mark.parametrize("case", SMALLEST_VALID, ids=_ids(SMALLEST_VALID))
def test_smallest_valid_cases_verify_on_reference_backend(case):
    reference = get_backend("reference")
    statement, proof = parse(case, reference)
    assert verify_range(statement, proof) is None
    assert [V.to_bytes().hex() for V in statement.commitments] == case["input"]["commitments"]


def test_valid_cases_batch_verify_together(fast):
    statements, proofs = zip(*(parse(case, fast) for case in VALID), strict=True)
    assert verify_batch(list(statements), list(proofs)) is None


def test_regeneration_is_identical():
    """Proving is deterministic given the rng, so the frozen file regenerates byte for byte."""
    generator = _load_generator()
    doc = generator.range_proof_vectors()
    assert doc == DOC
    assert generator.render(doc) == VECTORS_FILE.read_text(encoding="utf-8")
