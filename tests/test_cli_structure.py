"""The shape of the ``solvency`` command line (issue 8, C.3 and C.7).

* ``verify``, ``check`` and ``inspect`` run through the installed entry point
  (``cli.main:app``, read from the package metadata) without loading :mod:`prover`.
* The product API is declared at the package roots and the CLI uses it.
* ``range-demo`` is a developer command: ``solvency dev range-demo``.
* Every command's ``--help`` shows every option name whole at 80 columns, and at
  any width (Click's plain formatter wraps text, never names).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import prover
import verifier
from cli.exit_codes import EXIT_FORMAT, EXIT_OK, EXIT_USAGE
from cli.main import app

ROOT = Path(__file__).resolve().parent.parent
VECTORS = Path(__file__).parent / "vectors"
BUNDLE = VECTORS / "bundle_v1"
PACKAGE = VECTORS / "package_v1.json"

# Runs the console script `solvency` exactly as installed (the entry point named in the package
# metadata), then writes the top-level names of every loaded module to the file argv[1].
_ENTRY_POINT_SCRIPT = """
import atexit, json, sys
from importlib.metadata import entry_points
out = sys.argv[1]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted({m.split(".")[0] for m in sys.modules}))))
(script,) = [e for e in entry_points(group="console_scripts") if e.name == "solvency"]
assert script.value == "cli.main:app", script.value
sys.argv = ["solvency", *sys.argv[2:]]
script.load()(prog_name="solvency")
"""


def _run_entry_point(tmp_path: Path, *args: str) -> tuple[int, set[str], str]:
    loaded = tmp_path / "modules.json"
    env = {**os.environ, "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _ENTRY_POINT_SCRIPT, str(loaded), *args],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    return done.returncode, set(json.loads(loaded.read_text())), done.stdout + done.stderr


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["verify", str(BUNDLE), "--quiet"], EXIT_OK),
        (["verify", str(BUNDLE), "--json"], EXIT_OK),
        (["verify", str(VECTORS / "no-such-bundle")], EXIT_FORMAT),
        (["check", str(PACKAGE), "--bundle", str(BUNDLE)], EXIT_OK),
        (["check", str(PACKAGE), "--bundle", str(BUNDLE), "--json"], EXIT_OK),
        (["inspect", str(BUNDLE)], EXIT_OK),
        (["inspect", str(BUNDLE), "--json"], EXIT_OK),
    ],
    ids=["verify", "verify-json", "verify-missing", "check-bundle", "check-bundle-json", "inspect", "inspect-json"],
)
def test_public_commands_never_load_prover(tmp_path: Path, args: list[str], code: int) -> None:
    returncode, loaded, output = _run_entry_point(tmp_path, *args)
    assert returncode == code, output
    assert "cli" in loaded and "verifier" in loaded  # the command really ran
    assert "prover" not in loaded


def test_the_check_without_bundle_never_loads_prover(tmp_path: Path) -> None:
    returncode, loaded, output = _run_entry_point(tmp_path, "check", str(PACKAGE))
    assert returncode not in (EXIT_USAGE, EXIT_FORMAT), output
    assert "verifier" in loaded and "prover" not in loaded


def test_loading_the_app_loads_no_library_above_circuits(tmp_path: Path) -> None:
    returncode, loaded, output = _run_entry_point(tmp_path, "--help")
    assert returncode == EXIT_OK, output
    assert "prover" not in loaded and "verifier" not in loaded


def test_the_product_api_is_declared_at_the_package_roots() -> None:
    assert {"write_bundle", "ProveOptions"} <= set(prover.__all__)
    assert {"verify_bundle", "check_package", "inspect_bundle"} <= set(verifier.__all__)
    from prover.bundle import ProveOptions, write_bundle
    from verifier.bundle import verify_bundle
    from verifier.package import check_package

    assert (prover.write_bundle, prover.ProveOptions) == (write_bundle, ProveOptions)
    assert (verifier.verify_bundle, verifier.check_package) == (verify_bundle, check_package)


def test_the_commands_import_only_the_package_roots() -> None:
    """The CLI calls the product API: no ``from prover.bundle`` or ``from verifier.package`` imports."""
    for path in sorted((ROOT / "cli").rglob("*.py")):
        text = path.read_text()
        for forbidden in ("from verifier.bundle import", "from verifier.package import", "from prover.bundle import"):
            assert forbidden not in text, f"{path.relative_to(ROOT)} imports {forbidden!r}"


def test_range_demo_is_a_developer_command() -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["range-demo", "--help"]).exit_code == EXIT_USAGE
    result = runner.invoke(app, ["dev", "range-demo", "--help"])
    assert result.exit_code == EXIT_OK and "--values" in result.stdout
    top = runner.invoke(app, ["--help"]).stdout
    assert "range-demo" not in top and "dev" in top


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = [(path, command)]
    if hasattr(command, "list_commands"):  # a group (typer vendors its own click: no isinstance)
        ctx = command.context_class(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None
            found += _commands(sub, (*path, name))
    return found


COMMANDS = _commands(typer.main.get_command(app))


def test_every_command_is_listed() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert names == {
        "", "demo", "keygen", "gen-ledger", "prove", "verify", "check", "check-page", "inspect", "dev",
        "dev range-demo", "reserves", "reserves message", "reserves sign", "packages", "packages export",
    }


def _option_names(command: Any) -> list[str]:
    return [name for param in command.params if param.param_type_name == "option" for name in
            (*param.opts, *param.secondary_opts)] + ["--help"]


@pytest.mark.parametrize("columns", ["80", "40", None], ids=["80-columns", "40-columns", "no-COLUMNS"])
@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) or "solvency" for p, _ in COMMANDS])
def test_help_shows_every_option_name_whole(path: tuple[str, ...], command: Any, columns: str | None) -> None:
    env = {"COLUMNS": columns} if columns is not None else {"COLUMNS": ""}
    result = CliRunner().invoke(app, [*path, "--help"], env=env, terminal_width=int(columns or 80))
    assert result.exit_code == EXIT_OK, result.output
    tokens = set(result.stdout.replace(",", " ").replace("/", " ").split())
    for name in _option_names(command):
        assert name in tokens, f"{' '.join(path)} --help: {name} is not shown whole:\n{result.stdout}"
    assert "…" not in result.stdout
    if columns == "80":
        assert max(len(line) for line in result.stdout.splitlines()) <= 80, result.stdout


def test_help_of_the_real_process_at_80_columns(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}
    done = subprocess.run([sys.executable, "-m", "cli", "prove", "--help"], cwd=ROOT, capture_output=True,
                          text=True, env=env, timeout=120, check=False)
    assert done.returncode == EXIT_OK, done.stderr
    assert "--disclose-liabilities " in done.stdout and "…" not in done.stdout
