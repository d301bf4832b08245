"""Run the browser check's JavaScript tests (``web/test/*.test.mjs``) under Node, one pytest test per file.

The JS module mirrors ``circuits/`` and ``verifier/``; its tests replay the frozen vectors of
``tests/vectors/`` (the same files the Python tests replay) and ``tests/vectors/web_v1.json``
(written by ``tests/vectors/web_vectors.py`` from the Python code). Node and ``node_modules``
(``npm ci``) are required: without them these tests fail, they never skip.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
WEB_TESTS = sorted((ROOT / "web" / "test").glob("*.test.mjs"))
NEEDED_PACKAGES = ("@noble/curves", "@noble/hashes")


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the browser check's JS tests need Node (v20)")
    for package in NEEDED_PACKAGES:
        if not (ROOT / "node_modules" / package / "package.json").is_file():
            pytest.fail(f"node_modules/{package} is missing: run `npm ci` in the repository root")
    return node


def test_web_tests_exist() -> None:
    """The JS test files are there (a glob that matches nothing would test nothing)."""
    names = {path.name for path in WEB_TESTS}
    for required in (
        "points.test.mjs",
        "generators.test.mjs",
        "transcript.test.mjs",
        "range_proof_vectors.test.mjs",
        "range_proof_tamper.test.mjs",
        "merkle.test.mjs",
        "bundles.test.mjs",
        "chunk64.test.mjs",
        "bytes_errors.test.mjs",
    ):
        assert required in names


@pytest.mark.parametrize("path", WEB_TESTS, ids=[path.name for path in WEB_TESTS])
def test_web_js(path: Path) -> None:
    """``node --test`` passes for one test file of ``web/test/``."""
    proc = subprocess.run(
        [_node(), "--test", "--test-reporter=tap", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        failing = [line for line in proc.stdout.splitlines() if line.lstrip().startswith("not ok")]
        pytest.fail(
            f"node --test {path.name} exited {proc.returncode}\n"
            + "\n".join(failing[-40:])
            + f"\n--- stdout (tail) ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-3000:]}"
        )
    assert "# fail 0" in proc.stdout


def _load_web_vectors() -> ModuleType:
    """Import tests/vectors/web_vectors.py by path (tests/vectors is not a package)."""
    spec = importlib.util.spec_from_file_location("web_vectors", ROOT / "tests" / "vectors" / "web_vectors.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_web_vectors_regenerate_identically() -> None:
    """``web_v1.json`` is what the Python code computes today (the JS tests replay it)."""
    module = _load_web_vectors()
    assert module.render(module.web_vectors()) == module.OUT_PATH.read_text(encoding="utf-8")
