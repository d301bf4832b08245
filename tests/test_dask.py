"""DaskExecutor on real clusters: a LocalCluster (``--cluster local:2``) and `dask scheduler` + `dask worker` processes.

Every result must be byte-identical to running the task in this process. The master
secret never leaves a worker's own file on the remote cluster (the coordinator checks
key ids), and never shows in any process's output.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from circuits.errors import FormatError, ParameterError
from circuits.relations import Opening
from prover.dask_executor import DaskExecutor
from prover.dask_worker import dask_setup
from prover.executor import LocalPoolExecutor
from prover.tasks import LeafRef, TaskParams, chunk_task, commit_task, key_id, node_task
from tests.dask_cluster import ClusterError, DaskCluster, TlsFiles, dask_cluster, make_tls_files

CHUNK = 4
CHUNKS = 8
MAX_NM = 64 * CHUNK
ROOT_HASH = bytes(range(32))


def _write_secret(path: Path, master: bytes, mode: int = 0o600) -> Path:
    path.write_bytes(master)
    path.chmod(mode)
    return path


def _tasks(master: bytes, symbol: str = "BTC") -> list[bytes]:
    """Real tasks of one asset: a commit and a chunk task per chunk, node tasks, and one task twice."""
    params = TaskParams(key_id(master), "Example Exchange", "2026-12", b"\x07" * 32, symbol, CHUNK * CHUNKS, CHUNK)
    out = []
    for k in range(CHUNKS):
        leaves = [
            LeafRef(f"customer-{k}-{i}", 0, 1000 * k + i) if i < CHUNK - 1 else LeafRef(None, k, 0)
            for i in range(CHUNK)
        ]
        out.append(commit_task(params, k, leaves))
        out.append(chunk_task(params, k, ROOT_HASH, leaves))
    for split in range(1, CHUNKS):
        out.append(node_task(params, split, ROOT_HASH, Opening(10 * split, 3 + split), Opening(7 * split, 5 + split)))
    out.append(out[3])  # the same task twice: computed once, reported at both indices
    return out


def _run(executor: DaskExecutor | LocalPoolExecutor, tasks: list[bytes]) -> list[bytes]:
    results: dict[int, bytes] = {}

    def on_result(index: int, result: bytes) -> None:
        assert index not in results
        results[index] = result

    executor.run(tasks, on_result)
    assert sorted(results) == list(range(len(tasks)))
    return [results[i] for i in range(len(tasks))]


def _assert_master_hidden(master: bytes, text: bytes) -> None:
    for form in (master, master.hex().encode(), repr(master).encode(), base64.b64encode(master)):
        assert form not in text


@pytest.fixture(scope="module")
def master() -> bytes:
    return secrets.token_bytes(32)


@pytest.fixture(scope="module")
def tasks(master: bytes) -> list[bytes]:
    return _tasks(master)


@pytest.fixture(scope="module")
def expected(master: bytes, tasks: list[bytes]) -> list[bytes]:
    """The results of the tasks run in this process (LocalPoolExecutor with one job)."""
    executor = LocalPoolExecutor(master, jobs=1, backend_name=None, max_nm=MAX_NM)
    try:
        return _run(executor, tasks)
    finally:
        executor.close()


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory: pytest.TempPathFactory, master: bytes) -> Path:
    return _write_secret(tmp_path_factory.mktemp("secret") / "master.key", master)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, secret_file: Path) -> Iterator[DaskCluster]:
    """A scheduler and two workers started with the master secret file (shared by this module's tests)."""
    with dask_cluster(tmp_path_factory.mktemp("cluster"), [secret_file, secret_file]) as running:
        yield running


@pytest.fixture
def start_cluster(tmp_path: Path) -> Iterator[object]:
    """Start clusters of one's own (killed at teardown, whatever happens)."""
    started: list[DaskCluster] = []

    def start(secret_files: list[Path | None], tls: TlsFiles | None = None) -> DaskCluster:
        running = DaskCluster(tmp_path / f"cluster-{len(started)}", tls=tls)
        started.append(running)
        running.start_scheduler()
        if secret_files:
            running.start_workers(secret_files)
        return running

    try:
        yield start
    finally:
        for running in started:
            running.close()


def test_local_cluster_gives_the_in_process_results(master, tasks, expected, capfd):
    with DaskExecutor(master, local_workers=2, backend_name=None, max_nm=MAX_NM) as executor:
        assert executor.scheduler_address.startswith("tcp://127.0.0.1:")
        assert master.hex() not in repr(executor)
        assert _run(executor, tasks) == expected
    captured = capfd.readouterr()
    _assert_master_hidden(master, (captured.out + captured.err).encode())


def test_remote_cluster_gives_the_in_process_results(master, tasks, expected, cluster):
    with DaskExecutor(master, scheduler=cluster.address, backend_name=None, max_nm=MAX_NM) as executor:
        assert repr(executor) == f"DaskExecutor(scheduler={cluster.address!r}, local=False, master=<hidden>)"
        assert _run(executor, tasks) == expected
        assert _run(executor, tasks[:1]) == expected[:1]
        executor.run([], lambda _i, _r: pytest.fail("no task, no result"))


def test_a_task_error_is_raised_as_its_own_class(master, tasks, cluster):
    other = _tasks(secrets.token_bytes(32), symbol="ETH")
    with DaskExecutor(master, scheduler=cluster.address, backend_name=None, max_nm=MAX_NM, retries=0) as executor:
        with pytest.raises(FormatError, match="not a zk-solvency task") as caught:
            _run(executor, [*tasks[:4], b"ZKSTASK0" + bytes(40), *tasks[4:8]])
        assert caught.value.section == "task"
        with pytest.raises(ParameterError, match="another master secret"):
            _run(executor, [*tasks[:2], other[0]])
        # The executor is still usable after a failed run.
        assert len(_run(executor, tasks[:2])) == 2


def test_in_flight_tasks_are_bounded(master, tasks, expected, cluster):
    """The scheduler never holds more than the in-flight limit (plus one future being released)."""
    limit = 3
    seen: list[int] = []

    def zks_tasks(dask_scheduler) -> int:  # run on the scheduler
        return sum(1 for key in dask_scheduler.tasks if str(key).startswith("zks-"))

    results: dict[int, bytes] = {}

    def on_result(index: int, result: bytes) -> None:
        seen.append(cluster.client.run_on_scheduler(zks_tasks))
        results[index] = result

    with DaskExecutor(
        master, scheduler=cluster.address, backend_name=None, max_nm=MAX_NM, max_in_flight=limit
    ) as executor:
        executor.run(tasks, on_result)
    assert [results[i] for i in range(len(tasks))] == expected
    assert len(seen) == len(tasks)
    assert max(seen) <= limit + 1 < len(tasks)


def test_a_worker_killed_mid_run_loses_no_task_and_the_results_are_identical(
    master, tasks, expected, secret_file, start_cluster
):
    running = start_cluster([secret_file, secret_file])
    killed: list[int] = []
    after_kill: list[int] = []
    results: dict[int, bytes] = {}

    def on_result(index: int, result: bytes) -> None:
        results[index] = result
        if killed:
            after_kill.append(index)
        elif len(results) == 2:
            busy = [address for address, keys in running.client.processing().items() if keys]
            assert busy, "no worker is processing a task: the kill would not land mid-run"
            killed.append(running.worker_index(busy[0]))
            running.kill_worker(killed[0])

    with DaskExecutor(master, scheduler=running.address, backend_name=None, max_nm=MAX_NM) as executor:
        executor.run(tasks, on_result)
    assert killed and after_kill
    assert running.workers[killed[0]].poll() is not None
    assert len(running.client.nthreads()) == 1
    assert [results[i] for i in range(len(tasks))] == expected


def test_workers_without_the_master_are_refused_by_address(master, tmp_path, start_cluster):
    other = _write_secret(tmp_path / "other.key", secrets.token_bytes(32), mode=0o644)
    running = start_cluster([other, None])
    addresses = sorted(running.client.nthreads())
    with pytest.raises(ParameterError) as caught:
        DaskExecutor(master, scheduler=running.address, backend_name=None, max_nm=MAX_NM)
    message = str(caught.value)
    for address in addresses:
        assert address in message
    assert "holds another master secret" in message
    assert "holds no master secret" in message
    assert key_id(master).hex() not in message
    assert master.hex() not in message
    assert b"chmod 600" in (running.workdir / "worker-0.err").read_bytes()


def test_a_tls_cluster_admits_only_holders_of_its_certificates(master, tasks, expected, secret_file, tmp_path,
                                                                start_cluster):
    tls = make_tls_files(tmp_path / "tls")
    running = start_cluster([secret_file], tls=tls)
    assert running.address.startswith("tls://127.0.0.1:")
    with DaskExecutor(
        master, scheduler=running.address, security=tls.security(), backend_name=None, max_nm=MAX_NM
    ) as executor:
        assert _run(executor, tasks[:6]) == expected[:6]
    stranger = make_tls_files(tmp_path / "another-ca")
    with pytest.raises(ParameterError, match="cannot connect"):
        DaskExecutor(
            master, scheduler=running.address, security=stranger.security(), backend_name=None, max_nm=MAX_NM,
            connect_timeout=2,
        )
    with pytest.raises(ParameterError, match="cannot connect"):
        DaskExecutor(
            master, scheduler=running.address.replace("tls://", "tcp://"), backend_name=None, max_nm=MAX_NM,
            connect_timeout=2,
        )


def test_a_scheduler_without_workers_is_refused(master, start_cluster):
    running = start_cluster([])
    with pytest.raises(ParameterError, match="fewer than 1 worker"):
        DaskExecutor(master, scheduler=running.address, backend_name=None, max_nm=MAX_NM, connect_timeout=1)


def test_no_scheduler_is_refused(master):
    with pytest.raises(ParameterError, match="cannot connect"):
        DaskExecutor(master, scheduler="tcp://127.0.0.1:9", backend_name=None, max_nm=MAX_NM, connect_timeout=1)
    for address in ("127.0.0.1:8786", "ws://127.0.0.1:8786", "tcp://"):
        with pytest.raises(ParameterError, match="tls://HOST:PORT or tcp://HOST:PORT"):
            DaskExecutor(master, scheduler=address, backend_name=None, max_nm=MAX_NM)
    with pytest.raises(ParameterError, match="needs a TLS client certificate"):
        DaskExecutor(master, scheduler="tls://127.0.0.1:9", backend_name=None, max_nm=MAX_NM)
    with pytest.raises(ParameterError, match="exactly one"):
        DaskExecutor(master, backend_name=None, max_nm=MAX_NM)


def test_a_bad_secret_file_stops_the_worker(tmp_path, start_cluster):
    short = _write_secret(tmp_path / "short.key", b"\x01" * 31)
    running = start_cluster([])
    with pytest.raises(ClusterError, match="exactly 32 bytes"):
        running.start_workers([short])
    assert dask_setup.params[0].opts == ["--zk-solvency-master"]


def test_the_master_never_appears_in_the_cluster_logs(master, tasks, cluster):
    with DaskExecutor(master, scheduler=cluster.address, backend_name=None, max_nm=MAX_NM, retries=1) as executor:
        _run(executor, tasks[:4])
        with pytest.raises(FormatError):
            _run(executor, [b"not a task"])
    logs = cluster.logs()
    assert b"Compute Failed" in logs  # the logs were captured, task failure included
    _assert_master_hidden(master, logs)
