r"""Range-proof verification as one multi-scalar "mega-check" (``notes/30-range-proof.md``).

For a proof with challenges ``y, z, x, w, u_k`` (replayed with the shared schedule
:mod:`circuits.schedule`) and a random weight ``c``, the verifier checks::

    0 == A + x*S + c*x*T_1 + c*x^2*T_2 + sum_k (u_k^2 L_k + u_k^-2 R_k)
         + sum_j c*z^{2+j} V_j + (w*(t_x - a*b) + c*(delta(y,z) - t_x)) B
         + (-e_blinding - c*t_x_blinding) B_blinding
         + sum_i (-z - a*s_i) G_i + sum_i (z + y^-i (z^{2+j(i)} 2^{i mod n} - b/s_i)) H_i

which is the inner-product check plus ``c`` times the ``t(x)`` check. Each proof
becomes :class:`ProofTerms` (its scalars, scaled by a batch weight); batch
verification (:mod:`verifier.batch`) adds the terms of many proofs and runs one
MSM over the merged generators.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from circuits.backends import GroupBackend
from circuits.backends.base import RawPoint
from circuits.constants import GROUP_ORDER
from circuits.errors import ParameterError, VerificationError
from circuits.generators import BulletproofGens, PedersenGens
from circuits.group import batch_invert, msm_raw, random_scalar
from circuits.proofs import RangeProof
from circuits.relations import RangeStatement
from circuits.schedule import (
    challenge_u,
    challenge_w,
    challenge_x,
    challenges_y_z,
    ipp_domain_sep,
    range_transcript,
)

# Other packages import verify_range from the package root (``verifier``); verifier.batch uses
# ProofTerms, proof_terms and check_terms.
__all__: list[str] = []

_r = GROUP_ORDER


def delta(n: int, m: int, y: int, z: int) -> int:
    r"""Return ``delta(y, z) = (z - z^2) <1, y^{nm}> - sum_j z^{3+j} <1, 2^n>`` mod r."""
    nm = n * m
    sum_y = nm % _r if y == 1 else (pow(y, nm, _r) - 1) * pow(y - 1, -1, _r) % _r
    zz = z * z % _r
    sum_z = 0
    zj = zz * z % _r
    for _ in range(m):
        sum_z += zj
        zj = zj * z % _r
    return ((z - zz) * sum_y - sum_z * ((1 << n) - 1)) % _r


def challenge_products(u: Sequence[int], u_inv: Sequence[int]) -> list[int]:
    r"""Return ``s_i = prod_k u_k^{b(i,k)}`` for ``i < 2^k`` (``notes/20-inner-product.md``).

    ``b(i,k) = +1`` when bit ``lg(N)-1-k`` of ``i`` is set, else ``-1``. Built by
    doubling: ``s[2^t + i] = s[i] * u_{lg(N)-1-t}^2`` for ``i < 2^t``.
    """
    lg_n = len(u)
    s0 = 1
    for ui in u_inv:
        s0 = s0 * ui % _r
    s = [s0]
    for t in range(lg_n):
        u_sq = u[lg_n - 1 - t] ** 2 % _r
        s += [x * u_sq % _r for x in s]
    return s


def _powers(base: int, start: int, count: int) -> list[int]:
    """Return ``[start * base^i mod r for i < count]`` by doubling (count a power of two)."""
    out = [start % _r]
    step = base % _r
    while len(out) < count:
        out += [x * step % _r for x in out]
        step = step * step % _r
    return out[:count]


@dataclass
class ProofTerms:
    """One proof's weighted contribution to a (batch) mega-check.

    ``g`` and ``h`` are the coefficients of ``G_vec[0:nm]`` and ``H_vec[0:nm]``,
    not yet reduced mod r (:func:`check_terms` reduces after merging);
    ``points``/``scalars`` hold the proof- and statement-specific terms.
    """

    backend: GroupBackend
    B: int
    B_blinding: int
    g: list[int]
    h: list[int]
    points: list[RawPoint]
    scalars: list[int]


def proof_terms(statement: RangeStatement, proof: RangeProof, weight: int = 1) -> ProofTerms:
    """Replay the transcript and return the weighted mega-check terms of one proof.

    Raises:
        VerificationError: the proof's shape does not match the statement, or the
            transcript meets an identity point or a zero challenge.
        ParameterError: statement and proof come from different backends.
    """
    n, m = statement.n, statement.m
    nm = n * m
    lg_nm = nm.bit_length() - 1
    ipp = proof.ipp_proof
    if len(ipp.L_vec) != lg_nm or len(ipp.R_vec) != lg_nm:
        raise VerificationError(
            f"proof has {len(ipp.L_vec)} inner-product rounds, statement needs {lg_nm}"
        )
    be = statement.commitments[0].backend
    for P in (proof.A, proof.S, proof.T_1, proof.T_2, *ipp.L_vec, *ipp.R_vec):
        if P.backend is not be:
            raise ParameterError("proof and statement come from different backends")

    t = range_transcript(statement)
    y, z = challenges_y_z(t, proof.A, proof.S)
    x = challenge_x(t, proof.T_1, proof.T_2)
    w = challenge_w(t, proof.t_x, proof.t_x_blinding, proof.e_blinding)
    ipp_domain_sep(t, nm)
    u = [challenge_u(t, L, R) for L, R in zip(ipp.L_vec, ipp.R_vec, strict=True)]

    c = random_scalar()
    weight %= _r
    a, b = ipp.a, ipp.b
    inv = batch_invert([*u, y])
    u_inv, y_inv = inv[:lg_nm], inv[lg_nm]
    s = challenge_products(u, u_inv)

    weight_z = weight * z % _r
    weight_a = weight * a % _r
    # g and h stay unreduced here: check_terms reduces once after merging a batch.
    g = [-weight_z - weight_a * si for si in s]
    # h_i = weight*z + weight*y^-i * (z^{2+j} 2^{i mod n} - b * s_{nm-1-i}),  j = i // n
    zz = z * z % _r
    z_two = [zj << k for zj in _powers(z, zz, m) for k in range(n)]
    h = [
        weight_z + yr * (zt - b * s_rev)
        for yr, zt, s_rev in zip(_powers(y_inv, weight, nm), z_two, reversed(s), strict=True)
    ]

    rc = weight * c % _r
    points: list[RawPoint] = [proof.A.raw, proof.S.raw, proof.T_1.raw, proof.T_2.raw]
    scalars = [weight, weight * x % _r, rc * x % _r, rc * x % _r * x % _r]
    for L, R, uk, uk_inv in zip(ipp.L_vec, ipp.R_vec, u, u_inv, strict=True):
        points.append(L.raw)
        scalars.append(weight * uk % _r * uk % _r)
        points.append(R.raw)
        scalars.append(weight * uk_inv % _r * uk_inv % _r)
    zj = rc * zz % _r
    for V in statement.commitments:
        points.append(V.raw)
        scalars.append(zj)
        zj = zj * z % _r
    B_scalar = (weight * w % _r * (proof.t_x - a * b) + rc * (delta(n, m, y, z) - proof.t_x)) % _r
    B_blinding_scalar = (-weight * proof.e_blinding - rc * proof.t_x_blinding) % _r
    return ProofTerms(be, B_scalar, B_blinding_scalar, g, h, points, scalars)


def check_terms(terms: Sequence[ProofTerms]) -> bool:
    """Merge the terms of several proofs into one MSM; return whether it is the identity."""
    be = terms[0].backend
    width = max(len(t.g) for t in terms)
    g = [0] * width
    h = [0] * width
    B_scalar = 0
    B_blinding_scalar = 0
    points: list[RawPoint] = []
    scalars: list[int] = []
    for t in terms:
        k = len(t.g)
        g[:k] = [x + y for x, y in zip(g[:k], t.g, strict=True)]
        h[:k] = [x + y for x, y in zip(h[:k], t.h, strict=True)]
        B_scalar += t.B
        B_blinding_scalar += t.B_blinding
        points += t.points
        scalars += t.scalars
    pc_gens = PedersenGens.default(be)
    bp_gens = BulletproofGens.default(be)
    all_points = [pc_gens.B.raw, pc_gens.B_blinding.raw, *bp_gens.G_raw(width), *bp_gens.H_raw(width), *points]
    all_scalars = [B_scalar % _r, B_blinding_scalar % _r, *(x % _r for x in g), *(x % _r for x in h), *scalars]
    return be.is_identity(msm_raw(be, all_points, all_scalars))


def verify_range(statement: RangeStatement, proof: RangeProof) -> None:
    """Verify one range proof against its statement. Returns ``None`` or raises.

    Raises:
        VerificationError: the proof is false for this statement.
        ParameterError: inconsistent parameters or backends.
    """
    if not check_terms([proof_terms(statement, proof)]):
        raise VerificationError("range proof does not verify")
