"""The prover's tasks on a Dask cluster (:class:`DaskExecutor`, an :class:`prover.executor.Executor`).

Two ways to get a cluster:

* ``DaskExecutor(master, local_workers=N, ...)`` (``solvency prove --cluster local:N``)
  starts a :class:`distributed.LocalCluster` of ``N`` single-threaded worker
  processes on 127.0.0.1. The master secret reaches them through a worker plugin,
  over loopback connections of this machine only.
* ``DaskExecutor(master, scheduler="tls://HOST:PORT", ...)`` (``--scheduler``)
  connects to a running scheduler whose workers were started with the secret
  (:mod:`prover.dask_worker`). The master is never sent over the network: on
  connect, the executor asks every worker for the key id of the secret it holds
  (:func:`prover.tasks.installed_key_id`) and refuses a worker that holds none or
  another one (:class:`~circuits.errors.ParameterError` naming the worker).

Every task is submitted under the key ``zks-<task digest>`` (:func:`prover.tasks.task_digest`),
so identical tasks are computed once. At most ``max_in_flight`` tasks (default four per
worker thread) are known to the scheduler at a time, and a result's future is released as
soon as ``on_result`` has it, so memory does not grow with the number of tasks. A worker that
dies mid-task is replaced by the scheduler: its tasks run again elsewhere (up to
``distributed.scheduler.allowed-failures`` times per task); ``retries`` reruns a task that
raised. Tasks are deterministic, so a rerun gives the same bytes. A task that raises a
:class:`~circuits.errors.ProofError` raises the same class, with its fields, from :meth:`run`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, Final, Protocol

import distributed
from distributed import Worker, WorkerPlugin
from distributed.security import Security

from circuits.errors import ParameterError
from prover.dask_worker import warm
from prover.tasks import install_master, installed_key_id, key_id, prepare_worker, run_task, task_digest

__all__ = ["DaskExecutor"]

logger = logging.getLogger(__name__)

#: Called as ``on_result(index of the task, result bytes)``.
OnResult = Callable[[int, bytes], None]

_KEY_PREFIX: Final[str] = "zks-"
_PLUGIN_NAME: Final[str] = "zk-solvency-master"

# ---------------------------------------------------------------------------
# The part of distributed's API used here, typed. distributed ships py.typed, but its
# Client, LocalCluster, Future, as_completed and Security methods are unannotated, and
# mypy strict refuses to call them from typed code; they are reached through ``Any``
# (``_dd``) and used through these protocols, so that every call made here is checked.

_dd: Any = distributed


class _Future(Protocol):
    """A :class:`distributed.Future` of a task's result bytes."""

    @property
    def key(self) -> str: ...

    def result(self) -> bytes: ...

    def release(self) -> None: ...


class _AsCompleted(Protocol):
    """A :class:`distributed.as_completed` iterator that futures can be added to while it runs."""

    def add(self, future: _Future) -> None: ...

    def clear(self) -> None: ...

    def __iter__(self) -> Iterator[_Future]: ...


class _Client(Protocol):
    """A :class:`distributed.Client`."""

    @property
    def loop(self) -> object: ...

    @property
    def scheduler(self) -> Any: ...

    def submit(self, func: Callable[[bytes], bytes], task: bytes, *, key: str, pure: bool, retries: int) -> _Future: ...

    def run(self, function: Callable[..., object], *args: object, on_error: str = ...) -> dict[str, object]: ...

    def nthreads(self) -> dict[str, int]: ...

    def wait_for_workers(self, n_workers: int, timeout: float | None = None) -> None: ...

    def register_plugin(self, plugin: WorkerPlugin, name: str | None = None) -> object: ...

    def close(self) -> object: ...


class _Cluster(Protocol):
    """A :class:`distributed.LocalCluster`."""

    def close(self) -> object: ...



class _MasterPlugin(WorkerPlugin):
    """Installs the master secret in each worker of a local cluster (and in each worker restarted later)."""

    idempotent = False

    def __init__(self, master: bytes, backend_name: str | None, max_nm: int) -> None:
        self._master = bytes(master)
        self._backend_name = backend_name
        self._max_nm = max_nm

    def __repr__(self) -> str:
        return "_MasterPlugin(master=<hidden>)"

    def setup(self, worker: Worker) -> None:
        """Install the secret and memoize the generators in this worker process."""
        install_master(self._master)
        prepare_worker(self._backend_name, self._max_nm)


def _task_key(task: bytes) -> str:
    return _KEY_PREFIX + task_digest(task)


class DaskExecutor:
    """Tasks on a Dask cluster: a local one of ``local_workers`` processes, or the one at ``scheduler``."""

    def __init__(
        self,
        master: bytes,
        *,
        scheduler: str | None = None,
        local_workers: int | None = None,
        backend_name: str | None,
        max_nm: int,
        security: Security | None = None,
        connect_timeout: float = 30.0,
        max_in_flight: int | None = None,
        retries: int = 3,
    ) -> None:
        """Start or connect to the cluster and check that its workers hold ``master``.

        Exactly one of ``scheduler`` (an address such as ``tls://10.0.0.5:8786``) and
        ``local_workers`` is given. ``security`` (:class:`distributed.security.Security`)
        holds the TLS certificates the scheduler requires, if any. ``connect_timeout``
        bounds the wait for the scheduler and for its first worker, in seconds.

        Raises:
            ParameterError: both or neither of ``scheduler`` and ``local_workers``; the
                scheduler cannot be reached or has no worker within ``connect_timeout``;
                a worker holds no master secret or another one.
        """
        if (scheduler is None) == (local_workers is None):
            raise ParameterError("give exactly one of a scheduler address and a number of local workers")
        if local_workers is not None and local_workers < 1:
            raise ParameterError("a local cluster has at least one worker")
        if max_in_flight is not None and max_in_flight < 1:
            raise ParameterError("at least one task must be in flight")
        if retries < 0:
            raise ParameterError("retries is at least 0")
        self._key_id = key_id(master)
        self._max_in_flight = max_in_flight
        self._retries = retries
        self._cluster: _Cluster | None = None
        self._client: _Client | None = None
        try:
            if local_workers is not None:
                self._cluster = _dd.LocalCluster(
                    n_workers=local_workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    scheduler_port=0,
                    dashboard_address=None,
                    security=security,
                )
                self._client = _dd.Client(self._cluster, set_as_default=False, security=security)
                self._live().register_plugin(_MasterPlugin(master, backend_name, max_nm), name=_PLUGIN_NAME)
                self._wait_for_workers(local_workers, connect_timeout)
            else:
                assert scheduler is not None  # checked above: exactly one of the two
                self._client = self._connect(scheduler, security, connect_timeout)
                self._wait_for_workers(1, connect_timeout)
                self._check_workers()
                self._live().run(warm, backend_name, max_nm)
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _connect(scheduler: str, security: Security | None, timeout: float) -> _Client:
        scheme, _, location = scheduler.rpartition("://")
        if scheme not in ("tcp", "tls") or not location:
            raise ParameterError(
                f"a dask scheduler address is tls://HOST:PORT or tcp://HOST:PORT, not {scheduler!r}", section="cluster"
            )
        if scheme == "tls":
            args: dict[str, object] = (security or _dd.security.Security()).get_connection_args("client")
            if args.get("ssl_context") is None:
                raise ParameterError(
                    f"{scheduler}: a tls:// scheduler needs a TLS client certificate, key and CA "
                    "(distributed.security.Security, or the distributed.comm.tls configuration)",
                    section="cluster",
                )
        try:
            client: _Client = _dd.Client(scheduler, security=security, timeout=timeout, set_as_default=False)
            return client
        except (OSError, TimeoutError, ValueError) as exc:
            raise ParameterError(
                f"cannot connect to the dask scheduler at {scheduler}: {exc}", section="cluster"
            ) from None

    def _wait_for_workers(self, n_workers: int, timeout: float) -> None:
        try:
            self._live().wait_for_workers(n_workers, timeout=timeout)
        except TimeoutError:
            raise ParameterError(
                f"the dask scheduler at {self.scheduler_address} has fewer than {n_workers} worker(s) "
                f"after {timeout:g} s",
                section="cluster",
            ) from None

    def _check_workers(self) -> None:
        """Refuse the cluster unless every worker holds the master secret of this coordinator."""
        held = self._live().run(installed_key_id, on_error="return")
        problems = []
        for address in sorted(held):
            found = held[address]
            if isinstance(found, BaseException):
                problems.append(f"{address} cannot run zk-solvency tasks ({type(found).__name__}: {found})")
            elif found is None:
                problems.append(
                    f"{address} holds no master secret (start it with --preload prover.dask_worker "
                    "--zk-solvency-master FILE)"
                )
            elif found != self._key_id:
                problems.append(f"{address} holds another master secret (its key id differs)")
        if problems:
            raise ParameterError("dask worker " + "; dask worker ".join(problems), section="cluster")

    def _live(self) -> _Client:
        """Return the Dask client (connected for as long as this executor is open)."""
        if self._client is None:
            raise ParameterError("the dask executor is closed", section="cluster")
        return self._client

    @property
    def scheduler_address(self) -> str:
        """The scheduler's address (``tcp://127.0.0.1:PORT`` for a local cluster)."""
        rpc = self._live().scheduler
        assert rpc is not None  # a connected client has its scheduler
        return str(rpc.address)

    def __repr__(self) -> str:
        where = "closed" if self._client is None else self.scheduler_address
        return f"DaskExecutor(scheduler={where!r}, local={self._cluster is not None}, master=<hidden>)"

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _in_flight_limit(self) -> int:
        if self._max_in_flight is not None:
            return self._max_in_flight
        threads = self._live().nthreads()
        return 4 * max(1, sum(threads.values()))

    def run(self, tasks: Sequence[bytes], on_result: OnResult) -> None:
        """Run every task on the cluster; ``on_result(i, result)`` as results arrive (any order).

        Raises:
            ProofError: the first task error, as the class the task raised.
        """
        if not tasks:
            return
        client = self._live()
        limit = self._in_flight_limit()
        pending: dict[str, tuple[_Future, list[int]]] = {}
        completed: _AsCompleted = _dd.as_completed(loop=client.loop)
        next_task = 0

        def submit_more() -> None:
            nonlocal next_task
            while next_task < len(tasks) and len(pending) < limit:
                task = bytes(tasks[next_task])
                key = _task_key(task)
                if key in pending:
                    pending[key][1].append(next_task)
                else:
                    future = client.submit(run_task, task, key=key, pure=True, retries=self._retries)
                    pending[key] = (future, [next_task])
                    completed.add(future)
                next_task += 1

        try:
            submit_more()
            for done in completed:
                _, indices = pending.pop(done.key)
                try:
                    result = done.result()
                finally:
                    done.release()
                for index in indices:
                    on_result(index, result)
                submit_more()
        except BaseException:
            # Released, not cancelled: the scheduler forgets the tasks nobody wants, and sends no
            # "cancelled" report that could reach a later run submitting the same key.
            completed.clear()
            for future, _ in pending.values():
                future.release()
            pending.clear()
            raise

    def close(self) -> None:
        """Close the client and any local cluster (the workers of a remote cluster keep running)."""
        client, self._client = self._client, None
        cluster, self._cluster = self._cluster, None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
