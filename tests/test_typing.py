"""mypy strict covers the prover (issue 8, C.6): it holds every secret.

The gate runs ``mypy`` with ``[tool.mypy]`` of pyproject.toml; these tests keep that configuration
honest: ``prover`` is among the checked files under ``strict``, and prover/ holds no blanket
``type: ignore`` (only ones naming an error code, and none at all today).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_strict_checks_the_prover() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert config["strict"] is True
    assert {"circuits", "prover", "verifier"} <= set(config["files"])


def test_prover_has_no_type_ignore() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "prover").rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"#\s*type:\s*ignore", line)
    ]
    assert found == []
