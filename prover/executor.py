"""Where the prover's tasks run: this process, a local process pool, or a Dask cluster.

An :class:`Executor` takes task byte strings (:mod:`prover.tasks`) and hands each
result back through ``on_result(index, result)`` as soon as it is done, in any order.
The coordinator stores every result under the task's digest before it uses it, so a
run can be resumed (``solvency prove --resume``). Every executor's workers hold the
master secret: the local pool's are forked from this process, with the secret
installed by the pool's initializer (never sent per task); a Dask cluster's workers
are started with it (:mod:`prover.dask_executor`).

The local pool keeps at most ``4 * jobs`` tasks in flight, so memory does not grow
with the number of tasks.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Protocol

from prover.tasks import install_master, prepare_worker, run_task

__all__ = [
    "LocalPoolExecutor",
]

#: Called as ``on_result(index of the task, result bytes)``.
OnResult = Callable[[int, bytes], None]


class Executor(Protocol):
    """Runs tasks somewhere and reports each result."""

    def run(self, tasks: Sequence[bytes], on_result: OnResult) -> None:
        """Run every task; call ``on_result(i, result)`` once per task; raise the first task error."""
        ...

    def close(self) -> None:
        """Release workers and connections."""
        ...


def default_jobs() -> int:
    """Return the number of usable cores."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _init(master: bytes, backend_name: str | None, max_nm: int) -> None:
    install_master(master)
    prepare_worker(backend_name, max_nm)


class LocalPoolExecutor:
    """Tasks on ``jobs`` local worker processes (forked where possible), or in this process if ``jobs == 1``."""

    def __init__(self, master: bytes, *, jobs: int | None, backend_name: str | None, max_nm: int) -> None:
        """Prepare (lazily) a pool of ``jobs`` workers [default: all cores] holding ``master``."""
        self._master = bytes(master)
        self._jobs = jobs or default_jobs()
        self._backend_name = backend_name
        self._max_nm = max_nm
        self._pool: ProcessPoolExecutor | None = None

    def __repr__(self) -> str:
        return f"LocalPoolExecutor(jobs={self._jobs}, master=<hidden>)"

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            methods = multiprocessing.get_all_start_methods()
            ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            self._pool = ProcessPoolExecutor(
                self._jobs, mp_context=ctx, initializer=_init,
                initargs=(self._master, self._backend_name, self._max_nm),
            )
        return self._pool

    def run(self, tasks: Sequence[bytes], on_result: OnResult) -> None:
        """Run every task; results arrive as they complete (any order)."""
        if not tasks:
            return
        if self._jobs == 1 or len(tasks) == 1:
            _init(self._master, self._backend_name, self._max_nm)
            for i, task in enumerate(tasks):
                on_result(i, run_task(task))
            return
        pool = self._ensure_pool()
        limit = 4 * self._jobs
        pending: dict[Future[bytes], int] = {}
        next_task = 0
        try:
            while next_task < len(tasks) or pending:
                while next_task < len(tasks) and len(pending) < limit:
                    pending[pool.submit(run_task, tasks[next_task])] = next_task
                    next_task += 1
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    index = pending.pop(fut)
                    on_result(index, fut.result())
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise

    def close(self) -> None:
        """Shut the pool down."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
