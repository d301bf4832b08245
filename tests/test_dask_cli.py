"""``solvency prove`` on Dask through the CLI: the same bundle as the local pool, even when a worker dies.

Real processes only: a ``dask scheduler`` and ``dask worker`` subprocesses started with the master
secret file (``tests/dask_cluster.py``), or the ``LocalCluster`` of ``--cluster local:N``. With the
same run nonce and ``created``, the bundle and packages must be byte-identical to the default local
process pool's, and a worker SIGKILLed while the run proves must not change a byte.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from dask_cluster import dask_cluster
from typer.testing import CliRunner

from cli.exit_codes import EXIT_INPUT, EXIT_OK, EXIT_USAGE
from cli.main import app

runner = CliRunner()
CREATED = "2026-12-03T00:00:00Z"
NONCE = "5a" * 32
MASTER = bytes(range(40, 72))


def _inputs(root: Path, customers: int = 40) -> None:
    rows = ["customer_id,asset,amount"] + [f"d{i:03d},BTC,{i % 9}.{i:02d}" for i in range(customers)]
    (root / "ledger.csv").write_text("\n".join(rows) + "\n")
    (root / "reserves.json").write_text(json.dumps({
        "exchange": "Dask Exchange", "round": "r-dask",
        "assets": [{"symbol": "BTC", "decimals": 8, "reserves": "1000"}],
    }))
    (root / "master.key").write_bytes(MASTER)
    (root / "master.key").chmod(0o600)


def _prove(root: Path, name: str, *extra: str) -> None:
    result = runner.invoke(app, [
        "prove", "--ledger", str(root / "ledger.csv"), "--reserves", str(root / "reserves.json"),
        "--secret", str(root / "master.key"), "--out", str(root / f"{name}-bundle"),
        "--packages", str(root / f"{name}-packages"), "--packages-format", "dir", "--chunk", "2",
        "--run-nonce", NONCE, "--created", CREATED, "--quiet", "--workdir", str(root / f"{name}-work"), *extra,
    ])
    assert result.exit_code == EXIT_OK, result.output


def _tree(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


@pytest.fixture(scope="module")
def pooled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default executor's outputs (local process pool)."""
    root = tmp_path_factory.mktemp("pooled")
    _inputs(root)
    _prove(root, "pool", "--jobs", "2")
    return root


def test_a_local_cluster_writes_the_pools_bundle(pooled: Path, tmp_path: Path) -> None:
    _inputs(tmp_path)
    _prove(tmp_path, "cluster", "--cluster", "local:2")
    assert _tree(tmp_path / "cluster-bundle") == _tree(pooled / "pool-bundle")
    assert _tree(tmp_path / "cluster-packages") == _tree(pooled / "pool-packages")


def test_a_worker_killed_mid_run_does_not_change_a_byte(pooled: Path, tmp_path: Path) -> None:
    _inputs(tmp_path)
    results = tmp_path / "remote-work" / "results"
    with dask_cluster(tmp_path / "cluster", [tmp_path / "master.key"] * 2) as cluster:
        killed: list[int] = []

        def kill_when_proving() -> None:
            # 32 leaves in chunks of 2: 16 commit tasks, then 16 chunk proofs and 15 node proofs.
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if results.is_dir() and len(list(results.iterdir())) >= 20:
                    cluster.kill_worker(0)
                    killed.append(0)
                    return
                time.sleep(0.02)

        killer = threading.Thread(target=kill_when_proving, daemon=True)
        killer.start()
        _prove(tmp_path, "remote", "--scheduler", cluster.address)
        killer.join(5)
    assert killed == [0], "the worker was not killed while the run proved"
    assert _tree(tmp_path / "remote-bundle") == _tree(pooled / "pool-bundle")
    assert _tree(tmp_path / "remote-packages") == _tree(pooled / "pool-packages")


def test_a_cluster_whose_workers_hold_another_master_is_refused(tmp_path: Path) -> None:
    _inputs(tmp_path)
    other = tmp_path / "other.key"
    other.write_bytes(bytes(32))
    other.chmod(0o600)
    with dask_cluster(tmp_path / "cluster", [other]) as cluster:
        result = runner.invoke(app, [
            "prove", "--ledger", str(tmp_path / "ledger.csv"), "--reserves", str(tmp_path / "reserves.json"),
            "--secret", str(tmp_path / "master.key"), "--out", str(tmp_path / "b"), "--packages",
            str(tmp_path / "p"), "--quiet", "--scheduler", cluster.address,
        ])
    assert result.exit_code == EXIT_INPUT, result.output
    assert "master" in result.stderr and not (tmp_path / "b").exists()
    assert MASTER.hex() not in result.output and bytes(32).hex() not in result.output


@pytest.mark.parametrize(
    "flags", [["--cluster", "local:0"], ["--cluster", "remote:2"], ["--scheduler", "http://x:1"],
              ["--scheduler", "tcp://127.0.0.1:1", "--cluster", "local:2"]],
)
def test_bad_cluster_flags_are_usage_errors(tmp_path: Path, flags: list[str]) -> None:
    _inputs(tmp_path)
    result = runner.invoke(app, [
        "prove", "--ledger", str(tmp_path / "ledger.csv"), "--reserves", str(tmp_path / "reserves.json"),
        "--secret", str(tmp_path / "master.key"), "--out", str(tmp_path / "b"), "--packages", str(tmp_path / "p"),
        *flags,
    ])
    assert result.exit_code == EXIT_USAGE, result.output
