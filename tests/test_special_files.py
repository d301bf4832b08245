"""A.4: bundle and package files are opened only as regular files inside the bundle.

Every open is ``O_NOFOLLOW | O_NONBLOCK`` and then ``fstat`` must say "regular file"
(``verifier/reading.py:open_regular``). A FIFO named ``manifest.json``, a data file or
the package makes ``verify``, ``inspect`` and ``check`` exit 3 at once, naming the file;
a symlinked data file is refused without ever looking at its target (its size never
appears in the error).

The CLI runs in a subprocess with a timeout, so a regression (a blocking open) fails
the test instead of hanging the suite. The timeout is a hang detector, not a speed
assertion: a normal run takes about a second.

Decision: the bundle directory itself may be a symlink (the user names that path; only
the files inside it must be regular files), so ``verify LINK`` works.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cli.exit_codes import EXIT_FORMAT, EXIT_OK

ROOT = Path(__file__).resolve().parent.parent
VECTORS = Path(__file__).parent / "vectors"
CUSTOMER = "cust-000003, Jr."
#: Generous: a hang is what this catches, and the machine may be loaded.
HANG_TIMEOUT = 120

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and symlinks (POSIX)")


def solvency(*args: object) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [sys.executable, "-m", "cli", *(str(a) for a in args)],
            cwd=ROOT, capture_output=True, text=True, timeout=HANG_TIMEOUT, check=False,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"solvency {' '.join(map(str, args))} blocked (no result after {HANG_TIMEOUT} s)")


def as_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(VECTORS / "bundle_v1", copy)
    return copy


@pytest.fixture
def package(tmp_path: Path) -> Path:
    copy = tmp_path / "package.json"
    shutil.copyfile(VECTORS / "package_v1.json", copy)
    return copy


def _fifo(path: Path) -> None:
    path.unlink(missing_ok=True)
    os.mkfifo(path)


# --- FIFOs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["manifest.json", "BTC.leaves.bin", "BTC.rangeproofs.bin", "ETH.solvency.bin"])
def test_verify_exits_3_on_a_fifo_in_the_bundle(bundle: Path, name: str) -> None:
    _fifo(bundle / name)
    result = solvency("verify", bundle, "--json", "--quiet")
    assert result.returncode == EXIT_FORMAT, result.stdout + result.stderr
    payload = as_json(result)
    assert payload["failure_section"] == ("manifest" if name == "manifest.json" else name)
    assert name in payload["failure"]


@pytest.mark.parametrize("name", ["manifest.json", "BTC.leaves.bin", "ETH.solvency.bin"])
def test_inspect_exits_3_on_a_fifo_in_the_bundle(bundle: Path, name: str) -> None:
    _fifo(bundle / name)
    result = solvency("inspect", bundle)
    assert result.returncode == EXIT_FORMAT, result.stdout + result.stderr
    assert name in result.stderr and "FIFO" in result.stderr


@pytest.mark.parametrize("name", ["manifest.json", "BTC.leaves.bin", "BTC.rangeproofs.bin", "BTC.solvency.bin"])
def test_check_exits_3_on_a_fifo_in_the_bundle(bundle: Path, package: Path, name: str) -> None:
    _fifo(bundle / name)
    result = solvency("check", package, "--bundle", bundle, "--json")
    assert result.returncode == EXIT_FORMAT, result.stdout + result.stderr
    assert as_json(result)["failure_section"] == ("manifest" if name == "manifest.json" else name)


def test_check_exits_3_on_a_fifo_package(tmp_path: Path) -> None:
    path = tmp_path / "package.json"
    _fifo(path)
    for extra in ([], ["--bundle", VECTORS / "bundle_v1"]):
        result = solvency("check", path, *extra, "--json")
        assert result.returncode == EXIT_FORMAT, result.stdout + result.stderr
        payload = as_json(result)
        assert payload["failure_section"] == "package" and "FIFO" in payload["failure"]


# --- symlinks -------------------------------------------------------------------------------


def _link_out(bundle: Path, name: str, target: Path) -> None:
    (bundle / name).unlink()
    (bundle / name).symlink_to(target)


def test_a_data_file_symlinked_to_an_identical_copy_outside_is_refused(bundle: Path, tmp_path: Path) -> None:
    """Even a byte-identical target is refused: the verifier never follows a symlink out of the bundle."""
    outside = tmp_path / "outside.bin"
    shutil.copyfile(bundle / "BTC.leaves.bin", outside)
    _link_out(bundle, "BTC.leaves.bin", outside)
    result = solvency("verify", bundle, "--json", "--quiet")
    assert result.returncode == EXIT_FORMAT, result.stdout + result.stderr
    payload = as_json(result)
    assert payload["failure_section"] == "BTC.leaves.bin" and "symbolic link" in payload["failure"]
    result = solvency("check", VECTORS / "package_v1.json", "--bundle", bundle, "--json")
    assert result.returncode == EXIT_FORMAT and as_json(result)["failure_section"] == "BTC.leaves.bin"
    result = solvency("inspect", bundle, "--json")
    assert result.returncode == EXIT_FORMAT and "BTC.leaves.bin" in result.stderr


@pytest.mark.parametrize("command", ["verify", "check", "inspect"])
def test_the_error_never_mentions_the_symlink_targets_size(bundle: Path, tmp_path: Path, command: str) -> None:
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"s" * 123457)
    _link_out(bundle, "BTC.leaves.bin", secret)
    args = {"verify": ["verify", bundle, "--json", "--quiet"],
            "check": ["check", VECTORS / "package_v1.json", "--bundle", bundle, "--json"],
            "inspect": ["inspect", bundle, "--json"]}[command]
    result = solvency(*args)
    assert result.returncode == EXIT_FORMAT, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "BTC.leaves.bin" in output and "symbolic link" in output
    assert "123457" not in output and "123,457" not in output


def test_a_symlinked_manifest_is_refused(bundle: Path, tmp_path: Path) -> None:
    outside = tmp_path / "manifest-copy.json"
    shutil.copyfile(bundle / "manifest.json", outside)
    _link_out(bundle, "manifest.json", outside)
    for args in (["verify", bundle, "--json", "--quiet"], ["check", VECTORS / "package_v1.json", "--bundle", bundle,
                                                           "--json"]):
        result = solvency(*args)
        assert result.returncode == EXIT_FORMAT, result.stdout + result.stderr
        payload = as_json(result)
        assert payload["failure_section"] == "manifest" and "manifest.json is a symbolic link" in payload["failure"]
    result = solvency("inspect", bundle)
    assert result.returncode == EXIT_FORMAT and "manifest.json" in result.stderr


def test_a_symlinked_package_is_refused(package: Path, tmp_path: Path) -> None:
    link = tmp_path / "link.json"
    link.symlink_to(package)
    result = solvency("check", link, "--json")
    assert result.returncode == EXIT_FORMAT, result.stdout + result.stderr
    payload = as_json(result)
    assert payload["failure_section"] == "package" and "symbolic link" in payload["failure"]


def test_a_symlinked_bundle_directory_is_accepted(bundle: Path, tmp_path: Path) -> None:
    """The decision: the directory the user names may be a symlink; the files inside it may not."""
    link = tmp_path / "bundle-link"
    link.symlink_to(bundle, target_is_directory=True)
    assert solvency("verify", link, "--quiet").returncode == EXIT_OK
    assert solvency("check", VECTORS / "package_v1.json", "--bundle", link, "--customer-id", CUSTOMER).returncode == (
        EXIT_OK
    )
