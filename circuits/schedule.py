r"""The Fiat-Shamir schedule of the range proof, written once for both sides.

Prover (:mod:`prover.range_proof`) and verifier (:mod:`verifier.range_proof`)
call exactly these functions in exactly this order, so the two sides cannot
drift apart. Each transcript label equals the variable it carries; the full
table is in ``circuits/notes/50-transcript.md``.

Order::

    range_transcript(statement)          dom-sep, n, m, gens, context, V_0..V_{m-1}
    y, z = challenges_y_z(t, A, S)
    x    = challenge_x(t, T_1, T_2)
    w    = challenge_w(t, t_x, t_x_blinding, e_blinding)
    ipp_domain_sep(t, n*m)
    u_k  = challenge_u(t, L_k, R_k)      for k = 0 .. lg(n*m)-1
"""

from __future__ import annotations

from typing import Final

from circuits.generators import generator_set_id
from circuits.group import Point
from circuits.relations import RangeStatement
from circuits.transcript import Transcript

__all__ = [
    "challenge_u",
    "challenge_w",
    "challenge_x",
    "challenges_y_z",
    "ipp_domain_sep",
    "range_transcript",
]

#: Application label of range-proof transcripts.
RANGE_APP_LABEL: Final[bytes] = b"zk-solvency range proof"
_RANGEPROOF_DOMAIN: Final[bytes] = b"rangeproof v1"
_IPP_DOMAIN: Final[bytes] = b"ipp v1"


def range_transcript(statement: RangeStatement) -> Transcript:
    """Start the transcript of ``statement``: binds version, n, m, generators, context and every V_j.

    Raises:
        VerificationError: if a commitment is the identity.
    """
    t = Transcript(RANGE_APP_LABEL)
    t.append_message(b"dom-sep", _RANGEPROOF_DOMAIN)
    t.append_u64(b"n", statement.n)
    t.append_u64(b"m", statement.m)
    t.append_message(b"gens", generator_set_id())
    t.append_message(b"context", statement.context)
    for V in statement.commitments:
        t.validate_and_append_point(b"V", V)
    return t


def challenges_y_z(t: Transcript, A: Point, S: Point) -> tuple[int, int]:
    """Absorb ``A``, ``S`` and squeeze ``y``, ``z``."""
    t.validate_and_append_point(b"A", A)
    t.validate_and_append_point(b"S", S)
    return t.challenge_scalar(b"y"), t.challenge_scalar(b"z")


def challenge_x(t: Transcript, T_1: Point, T_2: Point) -> int:
    """Absorb ``T_1``, ``T_2`` and squeeze ``x``."""
    t.validate_and_append_point(b"T_1", T_1)
    t.validate_and_append_point(b"T_2", T_2)
    return t.challenge_scalar(b"x")


def challenge_w(t: Transcript, t_x: int, t_x_blinding: int, e_blinding: int) -> int:
    """Absorb ``t_x``, ``t_x_blinding``, ``e_blinding`` and squeeze ``w`` (so ``Q = w*B``)."""
    t.append_scalar(b"t_x", t_x)
    t.append_scalar(b"t_x_blinding", t_x_blinding)
    t.append_scalar(b"e_blinding", e_blinding)
    return t.challenge_scalar(b"w")


def ipp_domain_sep(t: Transcript, n: int) -> None:
    """Start the inner-product argument over vectors of length ``n``."""
    t.append_message(b"dom-sep", _IPP_DOMAIN)
    t.append_u64(b"n", n)


def challenge_u(t: Transcript, L: Point, R: Point) -> int:
    """Absorb one round's ``L``, ``R`` and squeeze ``u``."""
    t.validate_and_append_point(b"L", L)
    t.validate_and_append_point(b"R", R)
    return t.challenge_scalar(b"u")
