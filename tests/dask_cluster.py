"""A real Dask cluster on 127.0.0.1 for the tests: `dask scheduler` and `dask worker` subprocesses.

Nothing is mocked: the scheduler and every worker are the ``dask`` command of this
virtual environment, started as in production (``dask worker ADDR --nthreads 1
--preload prover.dask_worker --zk-solvency-master FILE``). Each process writes its
stdout and stderr to files in the cluster's directory (:meth:`DaskCluster.logs`).

With ``tls=`` (:func:`make_tls_files`, a dedicated CA made with the ``openssl`` command),
the scheduler listens on ``tls://127.0.0.1`` and requires every peer (worker or client)
to present a certificate of that CA (Dask's mutual TLS).

Each ``dask worker`` runs in its own session (its own process group): the command's
process is the nanny, which spawns the worker process as its child, in the same group.
:meth:`DaskCluster.kill_worker` sends SIGKILL to the whole group, so the worker process
dies mid-task *and* its nanny cannot restart it: the cluster loses that worker for good,
which is what a crashed machine looks like to the scheduler.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from distributed import Client
from distributed.security import Security

ROOT = Path(__file__).resolve().parent.parent
DASK = Path(sys.executable).with_name("dask")
STARTUP_TIMEOUT = 30.0


class ClusterError(RuntimeError):
    """The test cluster did not start."""


@dataclass(frozen=True)
class TlsFiles:
    """A CA and one certificate and key it signed (used by every role, as Dask's own temporary security does)."""

    ca_file: Path
    cert: Path
    key: Path

    def args(self) -> list[str]:
        """The ``dask scheduler`` / ``dask worker`` options."""
        return ["--tls-ca-file", str(self.ca_file), "--tls-cert", str(self.cert), "--tls-key", str(self.key)]

    def security(self) -> Security:
        """The client's :class:`~distributed.security.Security`."""
        return Security(  # type: ignore[no-untyped-call]
            tls_ca_file=str(self.ca_file), tls_client_cert=str(self.cert), tls_client_key=str(self.key),
            require_encryption=True,
        )


def make_tls_files(directory: Path) -> TlsFiles:
    """Make a fresh CA and a certificate it signed in ``directory`` (EC P-256 keys, valid two days)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert = (directory / n for n in ("ca.key", "ca.pem", "node.key", "node.csr", "node.pem"))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for args in (
        ["req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=zk-solvency test CA"],
        ["req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=dask"],
        ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert, "-days", "2"],
    ):
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=30)
    for path in (ca_key, key):
        path.chmod(0o600)
    return TlsFiles(ca, cert, key)


class DaskCluster:
    """A scheduler and workers, each a subprocess; use as a context manager (everything is killed on exit)."""

    def __init__(self, workdir: Path, *, tls: TlsFiles | None = None) -> None:
        self.workdir = workdir
        self.tls = tls
        workdir.mkdir(parents=True, exist_ok=True)
        self.address = ""
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.client: Client | None = None
        self._log_files: list[Path] = []

    # -- processes ---------------------------------------------------------

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        out, err = self.workdir / f"{name}.out", self.workdir / f"{name}.err"
        self._log_files += [out, err]
        with out.open("wb") as stdout, err.open("wb") as stderr:
            return subprocess.Popen(
                [str(DASK), *args], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                start_new_session=True,
            )

    def _fail(self, what: str, proc: subprocess.Popen[bytes] | None = None) -> ClusterError:
        tail = ""
        if proc is not None:
            index = 0 if proc is self.scheduler else 1 + self.workers.index(proc)
            name = "scheduler" if index == 0 else f"worker-{index - 1}"
            tail = (self.workdir / f"{name}.err").read_text(errors="replace")[-20000:]
        return ClusterError(f"{what}\n{tail}")

    def start_scheduler(self) -> None:
        """Start ``dask scheduler`` on a free port and wait for its scheduler file."""
        scheduler_file = self.workdir / "scheduler.json"
        scheduler_file.unlink(missing_ok=True)  # a stale file would name a dead scheduler
        self.scheduler = self._spawn(
            "scheduler",
            ["scheduler", "--host", "tls://127.0.0.1" if self.tls else "127.0.0.1", "--port", "0",
             "--scheduler-file", str(scheduler_file), "--no-dashboard", *(self.tls.args() if self.tls else [])],
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if self.scheduler.poll() is not None:
                raise self._fail("dask scheduler exited", self.scheduler)
            with contextlib.suppress(OSError, ValueError, KeyError):
                self.address = json.loads(scheduler_file.read_text())["address"]
                break
            if time.monotonic() > deadline:
                raise self._fail("dask scheduler did not write its scheduler file", self.scheduler)
            time.sleep(0.05)
        self.client = Client(  # type: ignore[no-untyped-call]
            self.address, timeout=STARTUP_TIMEOUT, set_as_default=False,
            security=self.tls.security() if self.tls else None,
        )

    def start_workers(self, secrets: list[Path | None], *, backend: str | None = None) -> list[int]:
        """Start one worker per entry (with that master secret file, or no preload for ``None``); wait for all.

        Returns the indices of the new workers (for :meth:`kill_worker`).
        """
        assert self.client is not None, "start the scheduler first"
        before = len(self.client.nthreads())  # type: ignore[no-untyped-call]
        first = len(self.workers)
        for offset, secret in enumerate(secrets):
            name = f"worker-{first + offset}"
            args = ["worker", self.address, "--nthreads", "1", "--nworkers", "1", "--host", "127.0.0.1",
                    "--no-dashboard", "--local-directory", str(self.workdir / name),
                    *(self.tls.args() if self.tls else [])]
            if secret is not None:
                args += ["--preload", "prover.dask_worker", "--zk-solvency-master", str(secret)]
                if backend is not None:
                    args += ["--zk-solvency-backend", backend]
            self.workers.append(self._spawn(name, args))
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while len(self.client.nthreads()) < before + len(secrets):  # type: ignore[no-untyped-call]
            for proc in self.workers[first:]:
                if proc.poll() is not None:
                    raise self._fail("dask worker exited", proc)
            if time.monotonic() > deadline:
                raise self._fail("dask workers did not register in time")
            time.sleep(0.05)
        return list(range(first, len(self.workers)))

    def worker_index(self, address: str) -> int:
        """Return the index of the worker registered at ``address`` (by the process group of its pid)."""
        assert self.client is not None
        pids: dict[str, int] = self.client.run(os.getpid, workers=[address])
        group = os.getpgid(pids[address])
        return next(i for i, proc in enumerate(self.workers) if proc.pid == group)

    def kill_worker(self, index: int) -> None:
        """SIGKILL worker ``index``: its nanny and its worker process (one process group)."""
        proc = self.workers[index]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def close(self) -> None:
        """Kill every process of the cluster (SIGKILL to each process group) and reap it."""
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close(timeout=2)  # type: ignore[no-untyped-call]
            self.client = None
        procs = [*self.workers, *([self.scheduler] if self.scheduler is not None else [])]
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)

    def logs(self) -> bytes:
        """Return everything the scheduler and the workers wrote to stdout and stderr so far."""
        return b"".join(path.read_bytes() for path in self._log_files if path.exists())

    def __enter__(self) -> DaskCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def dask_cluster(
    workdir: Path, secrets: list[Path | None], *, backend: str | None = None, tls: TlsFiles | None = None
) -> Iterator[DaskCluster]:
    """Start a scheduler and ``len(secrets)`` workers in ``workdir``; kill them all on exit."""
    cluster = DaskCluster(workdir, tls=tls)
    try:
        cluster.start_scheduler()
        if secrets:
            cluster.start_workers(secrets, backend=backend)
        yield cluster
    finally:
        cluster.close()
