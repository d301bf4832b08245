"""The architecture rules of the project, checked mechanically.

* Dependencies flow one way: ``cli -> {prover, verifier} -> circuits``; loading a
  package never loads the layers above it or its sibling (subprocess, fresh interpreter).
* The import-linter contracts in ``pyproject.toml`` hold.
* Library code neither prints nor uses the ``random`` module.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LIBRARY_PACKAGES = ("circuits", "prover", "verifier")

# Imports `target` and every module below it, then prints the top-level packages of
# this project that ended up loaded.
_LOADED_SCRIPT = """
import importlib, pkgutil, sys
target = sys.argv[1]
package = importlib.import_module(target)
for info in pkgutil.walk_packages(package.__path__, target + "."):
    importlib.import_module(info.name)
print(" ".join(sorted({m.split(".")[0] for m in sys.modules} & {"circuits", "prover", "verifier", "cli"})))
"""


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def test_importing_verifier_does_not_load_prover():
    """``import verifier`` loads no module of ``prover``."""
    code = "import verifier, sys; assert not any(m.split('.')[0]=='prover' for m in sys.modules)"
    result = _run([sys.executable, "-c", code])
    assert result.returncode == 0, result.stderr


def test_importing_circuits_loads_no_higher_layer():
    code = (
        "import circuits, sys; "
        "assert not any(m.split('.')[0] in ('prover', 'verifier', 'cli') for m in sys.modules)"
    )
    result = _run([sys.executable, "-c", code])
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("package", "allowed"),
    [
        ("circuits", {"circuits"}),
        ("verifier", {"circuits", "verifier"}),
        ("prover", {"circuits", "prover"}),
    ],
)
def test_every_module_of_a_package_loads_only_its_layer_and_below(package, allowed):
    result = _run([sys.executable, "-c", _LOADED_SCRIPT, package])
    assert result.returncode == 0, result.stderr
    loaded = set(result.stdout.split())
    assert package in loaded
    assert loaded <= allowed, f"importing all of {package} loaded {sorted(loaded - allowed)}"


def _lint_imports() -> str:
    beside = Path(sys.executable).with_name("lint-imports")
    found = str(beside) if beside.exists() else shutil.which("lint-imports")
    if found is None:
        pytest.fail("lint-imports not found (pip install -e '.[test]' installs import-linter)")
    return found


def test_import_linter_contracts_hold():
    result = subprocess.run(
        [_lint_imports(), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _library_modules() -> list[Path]:
    return sorted(path for package in LIBRARY_PACKAGES for path in (ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", LIBRARY_PACKAGES)
def test_library_package_exists(package):
    assert any((ROOT / package).rglob("*.py")), f"{package}/ has no Python modules"


# The one exemption from the "no randomness" rule: prover/synth.py writes *synthetic test data*
# (gen-ledger), reproducible from a seed, so it may import numpy.random (a seeded PCG64). It must
# still not use the `random` module or print, and no protocol value comes from it (blindings and
# salts are HKDF-derived in prover/keys.py; the master secret comes from `secrets`).
NUMPY_RANDOM_ALLOWED = frozenset({Path("prover/synth.py")})


def _violations(path: Path, root: Path = ROOT, *, allow_numpy_random: bool = False) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        where = f"{path.relative_to(root)}:{getattr(node, 'lineno', '?')}"
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("print", "pprint")
        ):
            found.append(f"{where}: {node.func.id}() in library code (use the CLI or logging)")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "random" or alias.name.startswith("random."):
                    found.append(f"{where}: import {alias.name} (use secrets)")
                elif alias.name.startswith("numpy.random") and not allow_numpy_random:
                    found.append(f"{where}: import {alias.name} (use secrets)")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            names = {alias.name for alias in node.names}
            if node.module.split(".")[0] == "random" or (
                node.module.startswith("numpy.random") and not allow_numpy_random
            ):
                found.append(f"{where}: from {node.module} import ... (use secrets)")
            elif node.module in ("numpy", "builtins") and names & {"random", "print"}:
                found.append(f"{where}: from {node.module} import {sorted(names)} (forbidden name)")
    return found


def test_library_code_neither_prints_nor_uses_random():
    modules = _library_modules()
    assert modules
    violations = [
        v
        for path in modules
        for v in _violations(path, allow_numpy_random=path.relative_to(ROOT) in NUMPY_RANDOM_ALLOWED)
    ]
    assert not violations, "\n".join(violations)


def test_the_numpy_random_exemption_is_narrow(tmp_path):
    """The exemption admits numpy.random only: `random` and print stay forbidden even there."""
    assert all((ROOT / path).is_file() for path in NUMPY_RANDOM_ALLOWED)
    bad = tmp_path / "synth_like.py"
    bad.write_text(
        "import numpy.random\nfrom numpy.random import PCG64\nimport random\nfrom random import choice\nprint('x')\n",
        encoding="utf-8",
    )
    assert len(_violations(bad, root=tmp_path, allow_numpy_random=True)) == 3
    assert len(_violations(bad, root=tmp_path)) == 5


def test_the_scan_catches_what_it_should(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import random\nimport numpy.random\nfrom random import randrange\n"
        "from numpy import random as r\nprint('x')\nlogger.info('fine')\n",
        encoding="utf-8",
    )
    assert len(_violations(bad, root=tmp_path)) == 5


# Modules whose __all__ must list exactly the names imported from them by other top-level packages
# (tests, fuzz and bench included; private `_names` a white-box test reaches for are not API): every
# module of circuits/, prover/ and verifier/. A cli/ module's __all__ lists what any other module
# imports from it (the other cli modules and the tests). Package roots (`__init__.py`) declare the
# product API instead and are not checked here; `cli/__main__.py` is the `python -m cli` script.
ALL_CHECKED = sorted(
    p
    for top in ("circuits", "prover", "verifier", "cli")
    for p in (ROOT / top).rglob("*.py")
    if p.name not in ("__init__.py", "__main__.py")
)
_IMPORTERS = ("circuits", "prover", "verifier", "cli", "tests", "fuzz", "bench")


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _declared_all(path: Path) -> set[str] | None:
    """The names of ``path``'s ``__all__``, or ``None`` if it declares none."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            return set(ast.literal_eval(value))
    return None


def _imports() -> dict[str, set[tuple[str, str]]]:
    """Map each module imported with ``from M import ...`` to its (importing module, name) pairs."""
    used: dict[str, set[tuple[str, str]]] = {}
    for top in _IMPORTERS:
        for path in (ROOT / top).rglob("*.py"):
            importer = _module_name(path)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    used.setdefault(node.module, set()).update((importer, a.name) for a in node.names)
    return used


def _counts(importer: str, module: str) -> bool:
    """Whether an import by ``importer`` from ``module`` is one ``module``'s __all__ must list."""
    if module.split(".")[0] == "cli":
        return importer != module
    return importer.split(".")[0] != module.split(".")[0]


def test_every_all_lists_exactly_what_other_packages_import():
    used = _imports()
    assert {"prover", "verifier", "cli"} <= {_module_name(p).split(".")[0] for p in ALL_CHECKED}
    wrong = []
    for path in ALL_CHECKED:
        module = _module_name(path)
        imported = {
            name for importer, name in used.get(module, set()) if _counts(importer, module) and not name.startswith("_")
        }
        declared = _declared_all(path)
        if declared is None:
            wrong.append(f"{module}: declares no __all__")
        elif imported != declared:
            wrong.append(f"{module}: add {sorted(imported - declared)}, remove {sorted(declared - imported)}")
    assert not wrong, "\n".join(wrong)


def test_the_all_check_counts_the_right_importers():
    """Imports within a library package do not count; within cli/, every other module's do."""
    assert not _counts("verifier.bundle", "verifier.reading")
    assert _counts("tests.test_schema", "verifier.reading")
    assert _counts("cli.main", "cli.exit_codes")
    assert not _counts("cli.exit_codes", "cli.exit_codes")


def test_circuits_bundle_is_gone():
    """C.2: the eight concerns of circuits/bundle.py live in their own modules, with no re-export shim."""
    assert not (ROOT / "circuits" / "bundle.py").exists()
    gone = "circuits" + ".bundle"
    for path in (p for top in _IMPORTERS for p in (ROOT / top).rglob("*.py")):
        assert gone not in path.read_text(encoding="utf-8"), path
