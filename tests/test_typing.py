"""mypy strict covers the prover and the CLI too (issue 8, C.6): the prover holds every secret.

The gate runs ``mypy`` with ``[tool.mypy]`` of pyproject.toml; these tests keep that configuration
honest: every package (``circuits``, ``prover``, ``verifier``, ``cli``) is among the checked files
under ``strict``, and prover/ and cli/ hold no ``type: ignore`` at all (none today, not even one
naming an error code). cli/ does not use ``typing.Any`` either: its JSON values are ``object``.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_strict_checks_every_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert config["strict"] is True
    assert {"circuits", "prover", "verifier", "cli"} <= set(config["files"])


@pytest.mark.parametrize("package", ["prover", "cli"])
def test_package_has_no_type_ignore(package: str) -> None:
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"#\s*type:\s*ignore", line)
    ]
    assert found == []


def test_cli_does_not_use_any() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in sorted((ROOT / "cli").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if (isinstance(node, ast.Name) and node.id == "Any")
        or (isinstance(node, ast.Attribute) and node.attr == "Any")
        or (isinstance(node, ast.alias) and node.name == "Any")
    ]
    assert found == []
