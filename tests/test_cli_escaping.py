"""Terminal injection, output side (issue 8, A.3): one escaping function, :func:`cli.output.shown`.

Everything the CLI prints that came from a bundle, a package, an input file or an
error message goes through ``shown``: control, format (bidi), separator and
surrogate characters become visible escapes, and rich markup prints as typed.
"""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest
import typer
from bundle_factory import load_manifest, resign
from typer.testing import CliRunner

from circuits.errors import FormatError, VerificationError
from cli.exit_codes import EXIT_FORMAT, EXIT_VERIFICATION, reports_errors
from cli.main import app
from cli.output import shown

ROOT = Path(__file__).resolve().parent.parent
VECTORS = Path(__file__).parent / "vectors"
BUNDLE = VECTORS / "bundle_v1"
PACKAGE = VECTORS / "package_v1.json"
#: ESC (a cursor/erase sequence), a newline with a fake digest line, a bidi override, a line separator.
HOSTILE = "Evil\x1b[2J\x1b[1A\ndigest 00000000\u202etxet desrever\u2028[red]x[/red] :smile:"
RAW = ("\x1b", "\n", "\u202e", "\u2028", "\r")


def _one_line_escaped(text: str) -> None:
    assert "\x1b" not in text and "\u202e" not in text and "\u2028" not in text


def test_shown_escapes_control_format_and_markup() -> None:
    text = shown(HOSTILE)
    for ch in RAW:
        assert ch not in text
    assert "\\x1b[2J" in text and "\\n" in text and "\\u202e" in text and "\\u2028" in text
    assert "\\[red]" in text  # rich markup escaped: printed as typed
    assert shown("plain Ünïcödé €") == "plain Ünïcödé €"  # ordinary text is untouched
    assert shown("\ud800") == "\\ud800"  # a lone surrogate
    assert shown("\u200b\u2066") == "\\u200b\\u2066"  # zero width space, bidi isolate (Cf)


def test_an_error_message_prints_escaped_on_one_line() -> None:
    test_app = typer.Typer()

    @test_app.command()
    @reports_errors
    def fail(count: int = 1) -> None:
        raise VerificationError(HOSTILE, section="x")

    result = CliRunner().invoke(test_app, [])
    assert result.exit_code == EXIT_VERIFICATION
    assert result.stderr.count("\n") == 1 and result.stderr.endswith("\n")  # exactly one line
    line = result.stderr.removesuffix("\n")
    for ch in RAW:
        assert ch not in line
    assert line == "error: " + HOSTILE.replace("\x1b", "\\x1b").replace("\n", "\\n").replace(
        "\u202e", "\\u202e").replace("\u2028", "\\u2028")
    assert ":smile:" in line and "[red]x[/red]" in line  # neither an emoji nor markup was rendered


@pytest.mark.parametrize("field", ["exchange", "round"])
def test_a_forged_manifest_cannot_rewrite_the_terminal(tmp_path: Path, field: str) -> None:
    """The manifest's text fields carry ESC, newlines and a bidi override; every command's output is escaped."""
    bundle = tmp_path / "bundle"
    shutil.copytree(BUNDLE, bundle)
    manifest = load_manifest(bundle)
    manifest[field] = HOSTILE
    resign(bundle, manifest)
    package = json.loads(PACKAGE.read_text())
    package[field] = HOSTILE
    package["bundle_digest"] = load_manifest(bundle)["bundle_digest"]
    (tmp_path / "p.json").write_text(json.dumps(package))
    runs = [
        ["verify", str(bundle), "--quiet"],
        ["verify", str(bundle), "--json"],
        ["inspect", str(bundle)],
        ["inspect", str(bundle), "--json"],
        ["check", str(tmp_path / "p.json")],
        ["check", str(tmp_path / "p.json"), "--bundle", str(bundle)],
        ["check", str(tmp_path / "p.json"), "--bundle", str(bundle), "--json"],
    ]
    for argv in runs:
        result = CliRunner().invoke(app, argv)
        assert result.exception is None or isinstance(result.exception, SystemExit), (argv, result.exception)
        output = result.stdout + result.stderr
        for ch in ("\x1b", "\u202e", "\u2028"):
            assert ch not in output, (argv, output)
        assert "\ndigest 00000000" not in output, (argv, output)  # the fake digest line never starts a line
        if result.stderr:
            assert len(result.stderr.splitlines()) == 1, (argv, result.stderr)


def test_a_malformed_file_error_is_escaped(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text('{"format": "zk-solvency-package\\u001b[2J\\u202e"}')
    result = CliRunner().invoke(app, ["check", str(tmp_path / "p.json")])
    assert result.exit_code == EXIT_FORMAT
    _one_line_escaped(result.stderr)
    assert len(result.stderr.splitlines()) == 1


# Interpolations the CLI prints without `shown`: numbers, hex digests and the backend's own name,
# never text that came from a file. A new print of raw text fails this test.
SAFE_EXPRESSIONS = {
    "be.name", "customers", "exit_code_for(exc)", "result.manifest.digest.hex()", "len(result.manifest.assets)",
    "values", "n", "m", "count", "len(wire[0][0][0])", "wire[0][0][0].hex()[:24]", "section",
}


def test_every_printed_interpolation_goes_through_shown() -> None:
    unsafe = []
    for path in sorted((ROOT / "cli").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr not in ("print", "echo", "add_row", "add_column"):
                continue
            for arg in node.args:
                for sub in ast.walk(arg):
                    if not isinstance(sub, ast.FormattedValue) or sub.format_spec is not None:
                        continue
                    value = sub.value
                    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "shown":
                        continue
                    if ast.unparse(value) not in SAFE_EXPRESSIONS:
                        unsafe.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(value)}")
    assert not unsafe, "\n".join(unsafe)
    # `section` in verify.py is itself built with shown().
    # (its bracket is escaped as `\\[`, so rich does not read `[eth-rpc]` as a style tag).
    assert 'section = f" \\\\[{shown(exc.section)}]"' in (ROOT / "cli" / "commands" / "verify.py").read_text()


def test_typer_echo_is_not_used_for_untrusted_text() -> None:
    """Plain typer.echo would bypass the consoles; the CLI prints through cli.output only."""
    for path in sorted((ROOT / "cli").rglob("*.py")):
        assert "typer.echo(" not in path.read_text(), path
    assert FormatError  # the error hierarchy is what the CLI prints from
