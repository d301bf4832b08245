r"""Inner-product argument prover (the paper §3, protocol 2; ``notes/20-inner-product.md``).

Proves knowledge of ``a, b`` with ``P = <a, G> + <b, H'> + <a, b>*Q`` in
``lg(N)`` rounds, where ``H'_i = hfac_i * H_i`` (the range proof passes
``hfac_i = y^{-i}``).

Implementation strategy (measured; see the notes' "Measured costs"): a scalar
multiplication costs ~130 us on the fast backend, but a point inside a large MSM
only ~12 us. So the generators are never folded one point at a time. Instead:

* The *current* generators are kept implicitly as fixed combinations of a set of
  *base* points: ``G_cur[i] = sum_q gc[q*N_cur + i] * G_base[q*N_cur + i]``. A round's
  ``L`` and ``R`` are then each ONE MSM over the base points with coefficients
  ``a_lo[i] * gc[j]`` (challenge products), and L and R run on two threads.
* Once the current length has shrunk by ``2^refold_every`` against the base,
  the current generators are materialised (one small MSM per generator) and
  become the new base, so later rounds touch far fewer points.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from circuits.backends import GroupBackend
from circuits.backends.base import RawPoint
from circuits.constants import GROUP_ORDER
from circuits.group import Point, inner_product
from circuits.proofs import InnerProductProof
from circuits.schedule import challenge_u
from circuits.transcript import Transcript

# Only prover.range_proof calls the inner-product argument; no other package imports from here.
__all__: list[str] = []

#: Rounds between explicit refolds of the generators (chosen by bench/ipp_bench.py).
DEFAULT_REFOLD_EVERY = 4

_r = GROUP_ORDER


def _refold(
    backend: GroupBackend,
    base: list[RawPoint],
    coeffs: list[int],
    n_cur: int,
    pool: ThreadPoolExecutor | None,
) -> list[RawPoint]:
    """Materialise ``cur[i] = sum_q coeffs[q*n_cur+i] * base[q*n_cur+i]`` for ``i < n_cur``."""

    def fold(lo: int, hi: int) -> list[RawPoint]:
        return [backend.msm(base[i::n_cur], coeffs[i::n_cur]) for i in range(lo, hi)]

    if pool is None or n_cur < 2:
        return fold(0, n_cur)
    half = n_cur // 2
    upper = pool.submit(fold, half, n_cur)
    return fold(0, half) + upper.result()


def prove_inner_product(
    transcript: Transcript,
    Q: Point,
    G: Sequence[RawPoint],
    H: Sequence[RawPoint],
    hfac: Sequence[int],
    a: Sequence[int],
    b: Sequence[int],
    *,
    pool: ThreadPoolExecutor | None = None,
    refold_every: int = DEFAULT_REFOLD_EVERY,
) -> InnerProductProof:
    r"""Create an inner-product proof for ``a``, ``b`` over ``G`` and ``H'_i = hfac_i*H_i``.

    The caller has already run :func:`circuits.schedule.ipp_domain_sep`. Each
    round absorbs ``L``, ``R`` and squeezes ``u`` via :func:`circuits.schedule.challenge_u`.
    ``pool`` (two threads) runs the L and R MSMs of a round concurrently.
    """
    backend = Q.backend
    n = len(a)
    assert n > 0 and n & (n - 1) == 0, "length is checked by the range statement"
    assert len(b) == n and len(G) == n and len(H) == n and len(hfac) == n
    a_vec = list(a)
    b_vec = list(b)
    g_base = list(G)
    h_base = list(H)
    gc = [1] * n
    hc = list(hfac)
    n_base = n
    n_cur = n
    L_vec: list[Point] = []
    R_vec: list[Point] = []
    q_raw = Q.raw
    while n_cur > 1:
        h = n_cur // 2
        a_lo, a_hi = a_vec[:h], a_vec[h:]
        b_lo, b_hi = b_vec[:h], b_vec[h:]
        c_L = inner_product(a_lo, b_hi)
        c_R = inner_product(a_hi, b_lo)
        # Coefficients over the base points; block q covers base[q*n_cur : (q+1)*n_cur].
        L_pts: list[RawPoint] = []
        L_sc: list[int] = []
        R_pts: list[RawPoint] = []
        R_sc: list[int] = []
        for start in range(0, n_base, n_cur):
            mid, end = start + h, start + n_cur
            L_pts += g_base[mid:end]
            L_sc += [x * f % _r for x, f in zip(a_lo, gc[mid:end], strict=True)]
            L_pts += h_base[start:mid]
            L_sc += [x * f % _r for x, f in zip(b_hi, hc[start:mid], strict=True)]
            R_pts += g_base[start:mid]
            R_sc += [x * f % _r for x, f in zip(a_hi, gc[start:mid], strict=True)]
            R_pts += h_base[mid:end]
            R_sc += [x * f % _r for x, f in zip(b_lo, hc[mid:end], strict=True)]
        L_pts.append(q_raw)
        L_sc.append(c_L)
        R_pts.append(q_raw)
        R_sc.append(c_R)
        if pool is not None:
            R_future = pool.submit(backend.msm, R_pts, R_sc)
            L = Point(backend.msm(L_pts, L_sc), backend)
            R = Point(R_future.result(), backend)
        else:
            L = Point(backend.msm(L_pts, L_sc), backend)
            R = Point(backend.msm(R_pts, R_sc), backend)
        L_vec.append(L)
        R_vec.append(R)
        u = challenge_u(transcript, L, R)
        u_inv = pow(u, -1, _r)
        a_vec = [(x * u + y * u_inv) % _r for x, y in zip(a_lo, a_hi, strict=True)]
        b_vec = [(x * u_inv + y * u) % _r for x, y in zip(b_lo, b_hi, strict=True)]
        for start in range(0, n_base, n_cur):
            mid, end = start + h, start + n_cur
            gc[start:mid] = [f * u_inv % _r for f in gc[start:mid]]
            gc[mid:end] = [f * u % _r for f in gc[mid:end]]
            hc[start:mid] = [f * u % _r for f in hc[start:mid]]
            hc[mid:end] = [f * u_inv % _r for f in hc[mid:end]]
        n_cur = h
        if n_cur > 1 and n_base >= n_cur << refold_every:
            g_base = _refold(backend, g_base, gc, n_cur, pool)
            h_base = _refold(backend, h_base, hc, n_cur, pool)
            gc = [1] * n_cur
            hc = [1] * n_cur
            n_base = n_cur
    return InnerProductProof(tuple(L_vec), tuple(R_vec), a_vec[0], b_vec[0])
