#!/usr/bin/env python3
"""Deterministic known-answer vectors for the aggregated range proof (``range_proof_v1.json``).

Every case is ``{"name", "input": {"n", "context", "commitments", "proof"}, "output"}``
in consensus-specs style:

* ``true``:  the proof verifies (``verify_range`` returns ``None``);
* ``false``: the input is well formed but the proof is incorrect (``VerificationError``);
* ``null``:  the input is malformed (``FormatError`` or ``ParameterError`` while parsing
  the commitments or the proof, or building the ``RangeStatement``).

``context``, each commitment and ``proof`` are hex of the canonical encodings
(48-byte compressed points, ``RangeProof.to_bytes``). Nothing here is random:
the prover's entropy comes from :func:`shake_rng` and the blindings from
:func:`derived_blinding`, both SHAKE256 of a fixed seed and a tag. The prover
binds its randomness to the transcript and the witness, so fixing its entropy
makes every proof reproducible, and regeneration must give an identical file.

The file is frozen forever (``circuits/notes/60-wire-format.md``, versioning policy): run this script only to create it,
and only ``--check`` afterwards.

Usage (from the repository root)::

    python tests/vectors/range_vectors.py           # write range_proof_v1.json
    python tests/vectors/range_vectors.py --check   # exit 1 if regeneration differs
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from circuits.backends import GroupBackend, get_backend
from circuits.constants import FIELD_MODULUS, GROUP_ORDER, POINT_SIZE, PROTOCOL_LABEL, SCALAR_SIZE
from circuits.errors import FormatError, ParameterError, VerificationError
from circuits.generators import PedersenGens
from circuits.group import Point
from circuits.proofs import RangeProof
from circuits.relations import Opening, RangeStatement
from prover import prove_range
from verifier import verify_range

Json = dict[str, Any]

#: Where the frozen file lives.
VECTORS_PATH = Path(__file__).resolve().parent / "range_proof_v1.json"
#: The vectors are computed with this backend; the reference backend must agree.
BACKEND = "fast"
#: Every deterministic input is derived from this seed.
SEED = b"zk-solvency range_proof_v1 vectors"

# Byte offsets inside RangeProof.to_bytes() (layout in circuits/proofs.py).
OFFSET_A = 1
OFFSET_S = OFFSET_A + POINT_SIZE
OFFSET_T_1 = OFFSET_S + POINT_SIZE
OFFSET_T_2 = OFFSET_T_1 + POINT_SIZE
OFFSET_T_X = OFFSET_T_2 + POINT_SIZE
OFFSET_IPP = OFFSET_T_X + 3 * SCALAR_SIZE

IDENTITY_BYTES = bytes([0xC0]) + bytes(POINT_SIZE - 1)


# ---------------------------------------------------------------------------
# Deterministic inputs (never the `random` module)
# ---------------------------------------------------------------------------


def shake_rng(tag: str) -> Callable[[int], bytes]:
    """A deterministic ``rng(size) -> bytes``: SHAKE256(SEED || tag || LE64(counter)), counter = 0, 1, ..."""
    counter = itertools.count()

    def rng(size: int) -> bytes:
        block = SEED + b"|rng|" + tag.encode() + next(counter).to_bytes(8, "little")
        return hashlib.shake_256(block).digest(size)

    return rng


def derived_blinding(tag: str, j: int) -> int:
    """A non-zero blinding scalar: 64 bytes of SHAKE256(SEED || tag || LE32(j)) reduced mod r."""
    for attempt in itertools.count():
        block = SEED + b"|blinding|" + tag.encode() + j.to_bytes(4, "little") + attempt.to_bytes(4, "little")
        k = int.from_bytes(hashlib.shake_256(block).digest(64), "little") % GROUP_ORDER
        if k:
            return k
    raise AssertionError("unreachable")


def openings_for(tag: str, values: list[int]) -> list[Opening]:
    """Openings of ``values`` with blindings derived from ``tag``."""
    return [Opening(v, derived_blinding(tag, j)) for j, v in enumerate(values)]


def _sqrt_mod_p(a: int) -> int | None:
    """A square root of ``a`` mod p, or None (p = 3 mod 4)."""
    y = pow(a, (FIELD_MODULUS + 1) // 4, FIELD_MODULUS)
    return y if y * y % FIELD_MODULUS == a % FIELD_MODULUS else None


def _compressed(x: int, y_is_larger: bool) -> bytes:
    """ZCash compressed encoding of an (x, sign) pair, valid or not."""
    data = bytearray(x.to_bytes(POINT_SIZE, "big"))
    data[0] |= 0x80 | (0x20 if y_is_larger else 0)
    return bytes(data)


def point_not_on_curve() -> bytes:
    """The compressed encoding with the smallest ``x >= 1`` for which ``x^3 + 4`` is not a square."""
    for x in itertools.count(1):
        if _sqrt_mod_p(x**3 + 4) is None:
            return _compressed(x, False)
    raise AssertionError("unreachable")


def point_not_in_subgroup() -> bytes:
    """An on-curve point outside the order-r subgroup: the smallest ``x >= 1`` on the curve."""
    for x in itertools.count(1):
        y = _sqrt_mod_p(x**3 + 4)
        if y is not None:
            return _compressed(x, y > FIELD_MODULUS - y)
    raise AssertionError("unreachable")


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------


def _case(name: str, n: int, context: bytes, commitments: list[bytes], proof: bytes, output: bool | None) -> Json:
    return {
        "name": name,
        "input": {
            "n": n,
            "context": context.hex(),
            "commitments": [c.hex() for c in commitments],
            "proof": proof.hex(),
        },
        "output": output,
    }


def _prove(tag: str, values: list[int], n: int, context: bytes, backend: GroupBackend) -> tuple[list[bytes], bytes]:
    statement, proof = prove_range(openings_for(tag, values), n, context=context, backend=backend, rng=shake_rng(tag))
    return [V.to_bytes() for V in statement.commitments], proof.to_bytes()


def _splice(data: bytes, offset: int, replacement: bytes) -> bytes:
    return data[:offset] + replacement + data[offset + len(replacement) :]


def _scalar_plus_one(data: bytes, offset: int) -> bytes:
    k = int.from_bytes(data[offset : offset + SCALAR_SIZE], "little")
    return _splice(data, offset, ((k + 1) % GROUP_ORDER).to_bytes(SCALAR_SIZE, "little"))


def outcome(case: Json, backend: GroupBackend) -> bool | None:
    """Parse and verify one case; return the outcome as the vector file spells it."""
    inp = case["input"]
    try:
        commitments = tuple(Point.from_bytes(bytes.fromhex(c), backend) for c in inp["commitments"])
        statement = RangeStatement(commitments, inp["n"], bytes.fromhex(inp["context"]))
        proof = RangeProof.from_bytes(bytes.fromhex(inp["proof"]), backend)
    except (FormatError, ParameterError):
        return None
    try:
        verify_range(statement, proof)
    except VerificationError:
        return False
    return True


def range_proof_vectors() -> Json:
    """Build the ``range_proof_v1.json`` document (deterministic)."""
    be = get_backend(BACKEND)
    cases: list[Json] = []

    # --- valid -------------------------------------------------------------
    valid = [
        ("n8_m1_value_0", 8, [0], b""),
        ("n8_m1_value_255", 8, [255], b""),
        ("n16_m2", 16, [1, 65535], b"asset BTC"),
        ("n64_m4", 64, [0, 1, 2**32, 2**64 - 1], b"round 7"),
        ("n128_m1_value_max", 128, [2**128 - 1], b"surplus"),
        ("n64_m8", 64, [3**k for k in range(8)], b"round 8 / chunk 0"),
    ]
    for name, n, values, context in valid:
        commitments, proof = _prove(name, values, n, context, be)
        cases.append(_case(name, n, context, commitments, proof, True))

    # --- base proof for the negative cases: n = 8, m = 4 -------------------
    n, context, values = 8, b"round A", [0, 17, 200, 255]
    base_openings = openings_for("base", values)
    V, P = _prove("base", values, n, context, be)
    rounds = 5  # lg(8 * 4)
    offset_L = [OFFSET_IPP + 2 * POINT_SIZE * k for k in range(rounds)]
    offset_a = OFFSET_IPP + 2 * POINT_SIZE * rounds
    offset_b = offset_a + SCALAR_SIZE
    cases.append(_case("base_n8_m4", n, context, V, P, True))

    # --- incorrect: well formed, VerificationError -------------------------
    other = PedersenGens.default(be).commit(100, derived_blinding("replacement", 0)).to_bytes()
    n16_commitments, n16_proof = _prove("base", values, 16, context, be)
    assert n16_commitments == V, "Pedersen commitments do not depend on n"
    two_commitments, two_proof = _prove("base", values[:2], 8, context, be)
    L_0 = P[offset_L[0] : offset_L[0] + POINT_SIZE]
    R_0 = P[offset_L[0] + POINT_SIZE : offset_L[0] + 2 * POINT_SIZE]
    incorrect = [
        ("t_x_plus_one", n, context, V, _scalar_plus_one(P, OFFSET_T_X)),
        ("t_x_blinding_plus_one", n, context, V, _scalar_plus_one(P, OFFSET_T_X + SCALAR_SIZE)),
        ("e_blinding_plus_one", n, context, V, _scalar_plus_one(P, OFFSET_T_X + 2 * SCALAR_SIZE)),
        ("a_plus_one", n, context, V, _scalar_plus_one(P, offset_a)),
        ("b_plus_one", n, context, V, _scalar_plus_one(P, offset_b)),
        ("commitments_reordered", n, context, [V[1], V[0], *V[2:]], P),
        ("context_changed", n, b"round B", V, P),
        ("context_empty", n, b"", V, P),
        ("n_changed", n, context, V, n16_proof),  # a proof for n = 16 (6 rounds), statement n = 8 (5 rounds)
        ("n_changed_other_way", 16, context, V, P),
        ("n_changed_same_rounds", 16, context, two_commitments[:1], two_proof),  # n=8,m=2 proof vs n=16,m=1
        ("commitment_replaced", n, context, [*V[:2], other, V[3]], P),
        ("commitment_identity", n, context, [IDENTITY_BYTES, *V[1:]], P),
        ("commitments_halved", n, context, V[:2], P),
        ("point_identity_A", n, context, V, _splice(P, OFFSET_A, IDENTITY_BYTES)),
        ("point_identity_T_2", n, context, V, _splice(P, OFFSET_T_2, IDENTITY_BYTES)),
        ("point_identity_L_vec_0", n, context, V, _splice(P, offset_L[0], IDENTITY_BYTES)),
        ("point_S_replaced", n, context, V, _splice(P, OFFSET_S, other)),
        ("point_negated_T_1", n, context, V, _splice(P, OFFSET_T_1, bytes([P[OFFSET_T_1] ^ 0x20]))),
        ("points_L_R_swapped", n, context, V, _splice(P, offset_L[0], R_0 + L_0)),
        ("ipp_round_removed", n, context, V, P[: offset_L[-1]] + P[offset_a:]),
    ]
    for name, case_n, case_context, case_V, case_P in incorrect:
        cases.append(_case(name, case_n, case_context, case_V, case_P, False))

    # --- malformed: FormatError / ParameterError before verification -------
    r_bytes = GROUP_ORDER.to_bytes(SCALAR_SIZE, "little")
    x_too_large = _compressed(FIELD_MODULUS, False)
    malformed = [
        ("scalar_equal_to_order", n, context, V, _splice(P, OFFSET_T_X, r_bytes)),
        ("scalar_all_ones_b", n, context, V, _splice(P, offset_b, b"\xff" * SCALAR_SIZE)),
        ("trailing_byte", n, context, V, P + b"\x00"),
        ("truncated_by_one_byte", n, context, V, P[:-1]),
        ("wrong_version", n, context, V, bytes([2]) + P[1:]),
        ("empty_proof", n, context, V, b""),
        ("point_not_in_subgroup_S", n, context, V, _splice(P, OFFSET_S, point_not_in_subgroup())),
        ("point_not_on_curve_T_1", n, context, V, _splice(P, OFFSET_T_1, point_not_on_curve())),
        ("point_x_not_reduced_R_vec_0", n, context, V, _splice(P, offset_L[0] + POINT_SIZE, x_too_large)),
        ("point_uncompressed_flag_A", n, context, V, _splice(P, OFFSET_A, bytes([P[OFFSET_A] & 0x7F]))),
        ("point_identity_with_sign_bit_A", n, context, V, _splice(P, OFFSET_A, bytes([0xE0]) + bytes(47))),
        ("commitment_not_on_curve", n, context, [*V[:3], point_not_on_curve()], P),
        ("commitment_not_in_subgroup", n, context, [point_not_in_subgroup(), *V[1:]], P),
        ("commitment_truncated", n, context, [V[0][:-1], *V[1:]], P),
        ("commitments_count_not_power_of_two", n, context, V[:3], P),
        ("no_commitments", n, context, [], P),
        ("n_not_allowed", 7, context, V, P),
        ("n_too_large", 256, context, V, P),
    ]
    for name, case_n, case_context, case_V, case_P in malformed:
        cases.append(_case(name, case_n, case_context, case_V, case_P, None))

    # Self-check: every case has the outcome it claims, and the base openings
    # really open the base commitments (so the negatives are negatives of a valid proof).
    pc_gens = PedersenGens.default(be)
    assert [pc_gens.commit(o.v, o.v_blinding).to_bytes() for o in base_openings] == V
    names = [case["name"] for case in cases]
    assert len(set(names)) == len(names), "case names must be unique"
    for case in cases:
        got = outcome(case, be)
        assert got is case["output"], f"{case['name']}: expected {case['output']}, got {got}"

    return {"version": 1, "protocol": PROTOCOL_LABEL.decode("ascii"), "cases": cases}


def render(doc: Json) -> str:
    """The canonical text of the vector file (indent 1, sorted keys, trailing newline)."""
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write ``range_proof_v1.json``, or with ``--check`` compare; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed file; write nothing")
    args = parser.parse_args(argv)
    text = render(range_proof_vectors())
    if args.check:
        if not VECTORS_PATH.exists() or VECTORS_PATH.read_text(encoding="utf-8") != text:
            sys.stderr.write(f"DIFFERS  {VECTORS_PATH.name}\n")
            return 1
        sys.stdout.write(f"ok       {VECTORS_PATH.name}\n")
        return 0
    VECTORS_PATH.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote    {VECTORS_PATH.name}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
