"""``solvency prove --resume``: a run killed mid-way continues from its finished tasks.

A real ``solvency prove`` process is killed with SIGKILL while it proves (no clean-up runs), and the
same command with ``--resume WORKDIR`` finishes it. Because every blinding, salt and proof's
randomness is derived from the master secret and the run nonce (kept in the work directory), the
resumed run writes exactly the bundle and packages of a clean run with the same nonce and
``created``, byte for byte, and reuses the tasks the killed run finished. The work directory
refuses to be resumed with other inputs or another master, and a leftover one is not silently
reused or overwritten.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.exit_codes import EXIT_INPUT, EXIT_OK
from cli.main import app

runner = CliRunner()
CREATED = "2026-12-03T00:00:00Z"
NONCE = "ab" * 32


def _write_inputs(root: Path, customers: int = 48) -> tuple[Path, Path, Path]:
    ledger = root / "ledger.csv"
    rows = ["customer_id,asset,amount"]
    rows += [f"c{i:04d},BTC,{i % 7}.{i:03d}" for i in range(customers)]
    rows += [f"c{i:04d},ETH,{i % 5}.5" for i in range(0, customers, 2)]
    ledger.write_text("\n".join(rows) + "\n")
    reserves = root / "reserves.json"
    reserves.write_text(json.dumps({
        "exchange": "Resume Exchange", "round": "r-resume",
        "assets": [{"symbol": "BTC", "decimals": 8, "reserves": "1000"},
                   {"symbol": "ETH", "decimals": 9, "reserves": "1000"}],
    }))
    secret = root / "master.key"
    secret.write_bytes(bytes(range(32)))
    secret.chmod(0o600)
    return ledger, reserves, secret


def _args(root: Path, out: str, packages: str, *extra: str, secret: Path | None = None) -> list[str]:
    return [
        "prove", "--ledger", str(root / "ledger.csv"), "--reserves", str(root / "reserves.json"),
        "--secret", str(secret or root / "master.key"), "--out", str(root / out),
        "--packages", str(root / packages),
        "--packages-format", "dir", "--chunk", "2", "--run-nonce", NONCE, "--created", CREATED, "--quiet",
        *extra,
    ]


def _tree(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean run's outputs (same nonce and created as the crashed one)."""
    root = tmp_path_factory.mktemp("clean")
    _write_inputs(root)
    result = runner.invoke(app, _args(root, "bundle", "packages", "--jobs", "2"))
    assert result.exit_code == EXIT_OK, result.output
    assert not (root / "bundle.work").exists(), "a successful run removes its work directory"
    return root


def test_a_killed_run_resumes_to_the_identical_bundle(clean: Path, tmp_path: Path) -> None:
    _write_inputs(tmp_path)
    work = tmp_path / "work"
    command = [sys.executable, "-m", "cli", *_args(tmp_path, "bundle", "packages", "--workdir", str(work),
                                                   "--jobs", "2")]
    proc = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    results = work / "results"
    deadline = time.monotonic() + 120
    try:
        # Kill once the commit pass is done and some proofs are stored: mid-way through proving.
        while time.monotonic() < deadline and proc.poll() is None:
            if results.is_dir() and len(os.listdir(results)) >= 58:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be killed: make it longer"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    finished = len([name for name in os.listdir(results) if not name.startswith(".")])  # not a half-written temp
    assert not (tmp_path / "bundle").exists() and not (tmp_path / "packages").exists()
    assert not [p for p in tmp_path.iterdir() if "-tmp-" in p.name and p.name.startswith(".bundle")]

    resumed = runner.invoke(app, _args(tmp_path, "bundle", "packages", "--resume", str(work)))
    assert resumed.exit_code == EXIT_OK, resumed.output
    assert f"resumed: {finished:,} tasks reused" in resumed.output
    assert _tree(tmp_path / "bundle") == _tree(clean / "bundle")
    assert _tree(tmp_path / "packages") == _tree(clean / "packages")
    assert not work.exists()


def test_a_leftover_work_directory_is_not_reused_silently(tmp_path: Path) -> None:
    _write_inputs(tmp_path)
    (tmp_path / "bundle.work").mkdir()
    result = runner.invoke(app, _args(tmp_path, "bundle", "packages"))
    assert result.exit_code == EXIT_INPUT
    assert "--resume" in result.stderr and not (tmp_path / "bundle").exists()


def _crashed(tmp_path: Path) -> Path:
    """A work directory as a run leaves it when it dies after creating it (a failing executor)."""
    _write_inputs(tmp_path)
    work = tmp_path / "work"
    from prover.bundle import ProveOptions, write_bundle
    from prover.ledger import load_ledger
    from prover.reserves import load_reserves

    class _Dies:
        def run(self, tasks: object, on_result: object) -> None:
            raise KeyboardInterrupt

        def close(self) -> None:
            pass

    spec = load_reserves(tmp_path / "reserves.json")
    with pytest.raises(KeyboardInterrupt):
        write_bundle(load_ledger(tmp_path / "ledger.csv", spec), spec, bytes(range(32)), tmp_path / "bundle",
                     tmp_path / "packages", ProveOptions(chunk=2, workdir=work), executor=_Dies())
    assert (work / "run.json").is_file() and not (tmp_path / "bundle").exists()
    return work


def test_resume_refuses_other_inputs(tmp_path: Path) -> None:
    work = _crashed(tmp_path)
    with (tmp_path / "ledger.csv").open("a") as f:
        f.write("zed,BTC,1\n")
    result = runner.invoke(app, _args(tmp_path, "bundle", "packages", "--resume", str(work)))
    assert result.exit_code == EXIT_INPUT and "differ from the run being resumed" in result.stderr


def test_resume_refuses_another_master(tmp_path: Path) -> None:
    work = _crashed(tmp_path)
    other = tmp_path / "other.key"
    other.write_bytes(bytes(range(1, 33)))
    result = runner.invoke(app, _args(tmp_path, "bundle", "packages", "--resume", str(work), secret=other))
    assert result.exit_code == EXIT_INPUT and "another master secret" in result.stderr


def test_resume_refuses_a_directory_that_is_not_a_work_directory(tmp_path: Path) -> None:
    _write_inputs(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    result = runner.invoke(app, _args(tmp_path, "bundle", "packages", "--resume", str(tmp_path / "elsewhere")))
    assert result.exit_code == EXIT_INPUT and "not a work directory" in result.stderr


class _DiesAt:
    """Runs tasks in this process until the ``fail_at``-th call of ``run`` (0-based), then dies."""

    def __init__(self, master: bytes, fail_at: int) -> None:
        from prover.executor import LocalPoolExecutor

        self.inner = LocalPoolExecutor(master, jobs=1, backend_name=None, max_nm=256)
        self.calls = 0
        self.fail_at = fail_at

    def run(self, tasks: object, on_result: object) -> None:
        if self.calls == self.fail_at:
            raise KeyboardInterrupt
        self.calls += 1
        self.inner.run(tasks, on_result)  # type: ignore[arg-type]

    def close(self) -> None:
        self.inner.close()


def _crashed_at(tmp_path: Path, fail_at: int) -> Path:
    """A work directory after a run died at executor pass ``fail_at`` (0 commit, 1 chunk proofs, 2 nodes)."""
    _write_inputs(tmp_path)
    from prover.bundle import ProveOptions, write_bundle
    from prover.ledger import load_ledger
    from prover.reserves import load_reserves

    spec = load_reserves(tmp_path / "reserves.json")
    work = tmp_path / "work"
    with pytest.raises(KeyboardInterrupt):
        write_bundle(load_ledger(tmp_path / "ledger.csv", spec), spec, bytes(range(32)), tmp_path / "bundle",
                     tmp_path / "packages", ProveOptions(chunk=2, workdir=work, run_nonce=bytes.fromhex(NONCE),
                                                         created=CREATED), executor=_DiesAt(bytes(range(32)), fail_at))
    return work


def test_a_tampered_commit_result_in_the_work_directory_is_caught(tmp_path: Path) -> None:
    work = _crashed_at(tmp_path, 1)
    victim = sorted((work / "results").iterdir())[3]
    data = bytearray(victim.read_bytes())
    data[40] ^= 1  # inside the first leaf's commitment
    victim.write_bytes(bytes(data))
    result = runner.invoke(app, _args(tmp_path, "bundle", "packages", "--resume", str(work)))
    assert result.exit_code == EXIT_INPUT, result.output
    assert "self-check failed" in result.stderr and not (tmp_path / "bundle").exists()


def test_a_tampered_proof_result_in_the_work_directory_is_caught_by_the_self_check(tmp_path: Path) -> None:
    work = _crashed_at(tmp_path, 2)
    sizes = {p: p.stat().st_size for p in (work / "results").iterdir()}
    proof = next(p for p, size in sorted(sizes.items()) if size == 353 + 96 * 7)  # a chunk proof of m = 2
    data = bytearray(proof.read_bytes())
    data[-5] ^= 1
    proof.write_bytes(bytes(data))
    result = runner.invoke(app, _args(tmp_path, "bundle", "packages", "--resume", str(work)))
    assert result.exit_code in (1, 3), result.output
    assert "self-check failed, outputs removed" in result.stderr
    assert not (tmp_path / "bundle").exists() and not (tmp_path / "packages").exists()
