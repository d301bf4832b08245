"""Prove many independent range statements on several cores.

Each proof is independent, so they are spread over worker *processes*: the
native MSM releases the GIL, but the Python scalar work around it does not, and
two threads reach only ~1.6-1.8x on two cores. Workers are forked where the
platform allows, so they inherit the parent's memoized generators; elsewhere
(spawn) each worker derives them once on start-up. Workers return proof bytes,
which the parent parses with full validation (it does not trust a worker more
than a file).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from circuits.backends import get_backend
from circuits.errors import ParameterError
from circuits.generators import BulletproofGens, PedersenGens
from circuits.group import Point
from circuits.group import _pool as _group_pool
from circuits.proofs import RangeProof
from circuits.relations import Opening, RangeStatement
from prover.range_proof import RandomSource, prove_range
from prover.range_proof import _pool as _prover_pool

# Other packages import RangeJob and prove_ranges from the package root (``prover``).
__all__: list[str] = []

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True)
class RangeJob:
    """One aggregated range proof to make: ``openings`` (m of them), ``n`` bits, ``context``."""

    openings: tuple[Opening, ...]
    n: int
    context: bytes = b""


def _default_jobs() -> int:
    """Return the number of usable cores."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _worker_init(backend_name: str, max_nm: int) -> None:
    # A forked child inherits the parent's memoized thread pools, whose threads
    # did not survive the fork: drop them so nothing waits on a dead thread.
    _group_pool.cache_clear()
    _prover_pool.cache_clear()
    be = get_backend(backend_name)
    PedersenGens.default(be)
    BulletproofGens.default(be).G_raw(max_nm)


def map_in_workers(
    fn: Callable[[T], U],
    items: Sequence[T],
    *,
    backend_name: str,
    max_nm: int,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[U]:
    """Return ``[fn(item) for item in items]`` computed in worker processes, in order.

    ``fn`` must be a module-level function. Workers are forked where possible
    (inheriting the memoized generators), each with generators for ``max_nm``
    bits ready. ``progress(k)`` is called after the k-th result (in order).
    With one worker or one item, runs in this process.
    """
    n_workers = min(workers or _default_jobs(), len(items))
    _worker_init(backend_name, max_nm)
    if n_workers <= 1:
        out = []
        for k, item in enumerate(items):
            out.append(fn(item))
            if progress:
                progress(k + 1)
        return out
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ProcessPoolExecutor(
        n_workers, mp_context=ctx, initializer=_worker_init, initargs=(backend_name, max_nm)
    ) as ex:
        futures = [ex.submit(fn, item) for item in items]
        results = []
        for k, fut in enumerate(futures):
            results.append(fut.result())
            if progress:
                progress(k + 1)
    return results


def _worker_prove(backend_name: str, job: RangeJob) -> tuple[list[bytes], bytes]:
    statement, proof = prove_range(
        job.openings, job.n, context=job.context, backend=get_backend(backend_name), threads=1
    )
    return [V.to_bytes() for V in statement.commitments], proof.to_bytes()


def prove_ranges(
    jobs: Sequence[RangeJob],
    *,
    backend_name: str | None = None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    rng: RandomSource | None = None,
) -> list[tuple[RangeStatement, RangeProof]]:
    """Prove every job; return ``(statement, proof)`` pairs in job order.

    ``workers`` defaults to all cores; with one worker (or one job) everything
    runs in this process. ``progress(k)`` is called as each proof completes.
    ``rng`` is only honoured in-process (tests); workers use :mod:`secrets`.

    Raises:
        ParameterError / WitnessError: as :func:`prover.range_proof.prove_range`.
    """
    be = get_backend(backend_name)
    if not jobs:
        return []
    n_workers = min(workers or _default_jobs(), len(jobs))
    if n_workers < 1:
        raise ParameterError("workers must be at least 1")
    if n_workers == 1 or rng is not None:
        out = []
        for k, job in enumerate(jobs):
            out.append(prove_range(job.openings, job.n, context=job.context, backend=be, rng=rng))
            if progress:
                progress(k + 1)
        return out

    max_nm = max(job.n * len(job.openings) for job in jobs)
    results = map_in_workers(
        partial(_worker_prove, be.name), jobs, backend_name=be.name, max_nm=max_nm, workers=n_workers,
        progress=progress,
    )
    # Workers are parsed like any other source: every point and scalar is validated.
    return [
        (
            RangeStatement(tuple(Point.from_bytes(V, be) for V in commitments), job.n, job.context),
            RangeProof.from_bytes(blob, be),
        )
        for job, (commitments, blob) in zip(jobs, results, strict=True)
    ]
