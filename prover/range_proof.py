r"""Aggregated Bulletproofs range proof: the prover (the paper §4.1-4.3; ``notes/30-range-proof.md``).

Relation (``notes/30-range-proof.md``)::

    PK{ (v_j, v_blinding_j)_{j<m} : V_j = v_j*B + v_blinding_j*B_blinding, 0 <= v_j < 2^n }

The m values are proved by one prover "in the role of all m parties" (the
single-party form of the MPC), so the proof is identical to an MPC-produced one.
The Fiat-Shamir schedule is :mod:`circuits.schedule`, shared with the verifier.
Names follow the notes: ``a_L, a_R, a_blinding, s_L, s_R, s_blinding, t_1_blinding,
t_2_blinding``; paper ``alpha, rho, tau_1, tau_2, tau_x, mu`` are renamed there.

Prover randomness is derived from ``transcript.rng_seed(witness, entropy)`` with
fresh entropy from ``rng`` (default :func:`secrets.token_bytes`), then expanded
with SHAKE256; tests pass a deterministic ``rng`` for reproducible vectors.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache

from circuits.backends import GroupBackend, get_backend
from circuits.constants import GROUP_ORDER
from circuits.errors import WitnessError
from circuits.generators import BulletproofGens, PedersenGens
from circuits.group import Point, inner_product, msm_raw
from circuits.proofs import RangeProof
from circuits.relations import Opening, RangeStatement, check_bitsize_and_aggregation
from circuits.schedule import (
    challenge_w,
    challenge_x,
    challenges_y_z,
    ipp_domain_sep,
    range_transcript,
)
from prover.inner_product import DEFAULT_REFOLD_EVERY, prove_inner_product

__all__ = ["create_range_proof"]

#: A source of uniformly random bytes, called as ``rng(32)``.
RandomSource = Callable[[int], bytes]

_r = GROUP_ORDER


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="prove")


def _expand_scalars(seed: bytes, count: int) -> list[int]:
    """Expand a 32-byte seed into ``count`` scalars (64 bytes each, reduced mod r)."""
    stream = hashlib.shake_256(b"zk-solvency prover rng v1" + seed).digest(64 * count)
    return [int.from_bytes(stream[64 * i : 64 * i + 64], "little") % _r for i in range(count)]


def _witness_bytes(openings: Sequence[Opening]) -> bytes:
    return b"".join(o.v.to_bytes(16, "little") + o.v_blinding.to_bytes(32, "little") for o in openings)


def _check_openings(n: int, openings: Sequence[Opening]) -> None:
    for j, o in enumerate(openings):
        if not isinstance(o, Opening):
            raise WitnessError(f"opening {j} is not an Opening")
        if o.v >= 1 << n:
            raise WitnessError(f"value {j} is outside [0, 2^{n})")


def _check_not_identity(commitments: Sequence[Point]) -> None:
    for j, V in enumerate(commitments):
        if V.is_identity():
            raise WitnessError(
                f"opening {j} commits to the identity (value 0 with blinding 0); the transcript rejects "
                "identity commitments, so pad with a random blinding"
            )


def prove_range(
    openings: Sequence[Opening],
    n: int,
    *,
    context: bytes = b"",
    backend: GroupBackend | None = None,
    rng: RandomSource | None = None,
    threads: int = 2,
) -> tuple[RangeStatement, RangeProof]:
    """Commit to ``openings`` and prove every value lies in ``[0, 2^n)``.

    Returns the public statement (commitments, n, context) and the proof.

    Raises:
        ParameterError: ``n`` unsupported or ``len(openings)`` not a power of two.
        WitnessError: a value is outside ``[0, 2^n)`` or an opening is malformed.
    """
    be = backend or get_backend()
    check_bitsize_and_aggregation(n, len(openings))
    _check_openings(n, openings)
    pc_gens = PedersenGens.default(be)
    commitments = tuple(pc_gens.commit(o.v, o.v_blinding) for o in openings)
    _check_not_identity(commitments)
    statement = RangeStatement(commitments, n, context)
    return statement, _prove(statement, openings, pc_gens, rng, threads)


def create_range_proof(
    statement: RangeStatement,
    openings: Sequence[Opening],
    *,
    rng: RandomSource | None = None,
    threads: int = 2,
) -> RangeProof:
    """Prove an existing statement; first checks every opening against its commitment.

    Raises:
        WitnessError: wrong number of openings, a value out of range, or an
            opening that does not open its commitment.
    """
    if len(openings) != statement.m:
        raise WitnessError(f"{len(openings)} openings for {statement.m} commitments")
    _check_openings(statement.n, openings)
    be = statement.commitments[0].backend
    pc_gens = PedersenGens.default(be)
    _check_not_identity(statement.commitments)
    for j, (o, V) in enumerate(zip(openings, statement.commitments, strict=True)):
        if pc_gens.commit(o.v, o.v_blinding) != V:
            raise WitnessError(f"opening {j} does not open commitment V_{j}")
    return _prove(statement, openings, pc_gens, rng, threads)


def _prove(
    statement: RangeStatement,
    openings: Sequence[Opening],
    pc_gens: PedersenGens,
    rng: RandomSource | None,
    threads: int,
) -> RangeProof:
    be = pc_gens.B.backend
    n, m = statement.n, statement.m
    nm = n * m
    bp_gens = BulletproofGens.default(be)
    G = bp_gens.G_raw(nm)
    H = bp_gens.H_raw(nm)
    B, B_blinding = pc_gens.B, pc_gens.B_blinding
    pool = _pool() if threads > 1 and be.releases_gil else None

    transcript = range_transcript(statement)
    entropy = (rng or secrets.token_bytes)(32)
    seed = transcript.rng_seed(_witness_bytes(openings), entropy)
    rand = _expand_scalars(seed, 2 * nm + 4)
    s_L, s_R = rand[:nm], rand[nm : 2 * nm]
    a_blinding, s_blinding, t_1_blinding, t_2_blinding = rand[2 * nm :]

    # a_L: the n-bit decompositions, party j at indices j*n .. j*n+n-1; a_R = a_L - 1.
    a_L = [(o.v >> i) & 1 for o in openings for i in range(n)]
    # A = a_blinding*B_blinding + <a_L, G> + <a_R, H>: a_L, a_R are 0/1 and 0/-1, so only additions.
    add = be.add
    acc = be.mul(B_blinding.raw, a_blinding)
    neg_h = be.identity()
    for bit, g, h in zip(a_L, G, H, strict=True):
        if bit:
            acc = add(acc, g)
        else:
            neg_h = add(neg_h, h)
    A = Point(add(acc, be.neg(neg_h)), be)
    S = Point(msm_raw(be, [B_blinding.raw, *G, *H], [s_blinding, *s_L, *s_R], threads=threads), be)

    y, z = challenges_y_z(transcript, A, S)

    # l(x) = (a_L - z) + s_L x ;  r(x) = y^i (a_R + z + s_R x) + z^{2+j} 2^{i mod n}
    zz = z * z % _r
    y_pow = [1] * nm
    for i in range(1, nm):
        y_pow[i] = y_pow[i - 1] * y % _r
    z_two = [0] * nm  # z^{2+j} * 2^{i mod n}
    zj = zz
    for j in range(m):
        for i in range(n):
            z_two[j * n + i] = (zj << i) % _r
        zj = zj * z % _r
    l_0 = [(bit - z) % _r for bit in a_L]
    l_1 = s_L
    r_0 = [(yp * (bit - 1 + z) + zt) % _r for yp, bit, zt in zip(y_pow, a_L, z_two, strict=True)]
    r_1 = [yp * s % _r for yp, s in zip(y_pow, s_R, strict=True)]
    t_1 = (inner_product(l_0, r_1) + inner_product(l_1, r_0)) % _r
    t_2 = inner_product(l_1, r_1)
    T_1 = pc_gens.commit(t_1, t_1_blinding)
    T_2 = pc_gens.commit(t_2, t_2_blinding)

    x = challenge_x(transcript, T_1, T_2)

    l_vec = [(a + x * s) % _r for a, s in zip(l_0, l_1, strict=True)]
    r_vec = [(a + x * s) % _r for a, s in zip(r_0, r_1, strict=True)]
    t_x = inner_product(l_vec, r_vec)
    zj = zz
    v_blinding_sum = 0
    for o in openings:
        v_blinding_sum += zj * o.v_blinding
        zj = zj * z % _r
    t_x_blinding = (t_2_blinding * x * x + t_1_blinding * x + v_blinding_sum) % _r
    e_blinding = (a_blinding + s_blinding * x) % _r

    w = challenge_w(transcript, t_x, t_x_blinding, e_blinding)
    Q = w * B
    ipp_domain_sep(transcript, nm)
    y_inv = pow(y, -1, _r)
    y_inv_pow = [1] * nm
    for i in range(1, nm):
        y_inv_pow[i] = y_inv_pow[i - 1] * y_inv % _r
    ipp_proof = prove_inner_product(
        transcript, Q, G, H, y_inv_pow, l_vec, r_vec, pool=pool, refold_every=DEFAULT_REFOLD_EVERY
    )
    return RangeProof(
        A=A,
        S=S,
        T_1=T_1,
        T_2=T_2,
        t_x=t_x,
        t_x_blinding=t_x_blinding,
        e_blinding=e_blinding,
        ipp_proof=ipp_proof,
    )
