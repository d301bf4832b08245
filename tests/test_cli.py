"""The ``solvency`` command line: exit codes and messages (CliRunner, no subprocess)."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from circuits.errors import (
    FormatError,
    InputError,
    ParameterError,
    ProofError,
    VerificationError,
    WitnessError,
)
from cli.exit_codes import (
    EXIT_FORMAT,
    EXIT_INPUT,
    EXIT_OTHER,
    EXIT_USAGE,
    EXIT_VERIFICATION,
    exit_code_for,
    reports_errors,
)
from cli.main import app
from verifier import BatchVerificationError

runner = CliRunner()

EXPECTED_CODES = [
    (VerificationError, EXIT_VERIFICATION),
    (FormatError, EXIT_FORMAT),
    (ParameterError, EXIT_INPUT),
    (WitnessError, EXIT_INPUT),
    (InputError, EXIT_INPUT),
    (ProofError, EXIT_OTHER),
]


def test_exit_code_values_are_the_documented_ones():
    assert (EXIT_VERIFICATION, EXIT_USAGE, EXIT_FORMAT, EXIT_INPUT) == (1, 2, 3, 4)
    assert EXIT_OTHER not in (0, 1, 2, 3, 4)


@pytest.mark.parametrize(("error_class", "code"), EXPECTED_CODES)
def test_exit_code_for_each_error_class(error_class, code):
    assert exit_code_for(error_class("boom")) == code


def test_subclasses_inherit_their_parent_code():
    assert exit_code_for(BatchVerificationError([0, 3])) == EXIT_VERIFICATION

    class TruncatedProof(FormatError):
        pass

    assert exit_code_for(TruncatedProof("short")) == EXIT_FORMAT


def _app_raising(exc: BaseException) -> typer.Typer:
    """A one-command app whose command raises ``exc`` under :func:`reports_errors`."""
    test_app = typer.Typer()

    @test_app.command()
    @reports_errors
    def fail(count: int = 1) -> None:
        assert count == 1
        raise exc

    return test_app


@pytest.mark.parametrize(("error_class", "code"), EXPECTED_CODES)
def test_reports_errors_prints_one_line_and_exits_with_the_mapped_code(error_class, code):
    result = runner.invoke(_app_raising(error_class("the reason\nspans lines")))
    assert result.exit_code == code
    # One line: the newline is shown as a visible escape (cli.output.shown), not printed.
    assert result.stderr == "error: the reason\\nspans lines\n"
    assert result.stdout == ""
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_reports_errors_names_the_class_when_the_message_is_empty():
    result = runner.invoke(_app_raising(WitnessError()))
    assert result.exit_code == EXIT_INPUT
    assert result.stderr == "error: WitnessError\n"


def test_reports_errors_keeps_the_command_signature():
    result = runner.invoke(_app_raising(VerificationError("x")), ["--count", "2"])
    assert result.exit_code == 1  # the assert in the body failed: the option reached it
    assert isinstance(result.exception, AssertionError)
    result = runner.invoke(_app_raising(VerificationError("x")), ["--count", "nope"])
    assert result.exit_code == EXIT_USAGE


def test_reports_errors_lets_typer_exit_through():
    result = runner.invoke(_app_raising(typer.Exit(7)))
    assert result.exit_code == 7
    assert result.stderr == ""


def test_reports_errors_does_not_catch_other_exceptions():
    result = runner.invoke(_app_raising(ValueError("a bug")))
    assert isinstance(result.exception, ValueError)
    assert "error:" not in result.stderr


def test_demo_small_run_verifies_and_rejects_the_tampered_proof():
    result = runner.invoke(app, ["dev", "range-demo", "--values", "4", "--m", "2", "--n", "8"])
    assert result.exit_code == 0, result.output
    assert "all 2 proof(s) verified" in result.stdout
    assert "batch verification passed" in result.stdout
    assert "tampered proof rejected" in result.stdout
    assert "names the bad proof(s): [1]" in result.stdout
    assert result.stderr == ""


def test_demo_reference_backend():
    result = runner.invoke(
        app, ["dev", "range-demo", "--values", "2", "--m", "2", "--n", "8", "--backend", "reference"]
    )
    assert result.exit_code == 0, result.output
    assert "backend reference" in result.stdout
    assert "tampered proof rejected" in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--values", "3", "--m", "3"], EXIT_INPUT, "error: aggregation size m=3"),
        (["--values", "4", "--m", "2", "--n", "7"], EXIT_INPUT, "error: bit size n=7"),
        (["--values", "6", "--m", "4"], EXIT_USAGE, "not a multiple of --m"),
        (["--backend", "nope"], EXIT_USAGE, "nope"),
    ],
)
def test_demo_rejects_bad_parameters(args, code, message):
    result = runner.invoke(app, ["dev", "range-demo", *args])
    assert result.exit_code == code
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_demo_unknown_backend_from_environment():
    result = runner.invoke(
        app, ["dev", "range-demo", "--values", "2", "--m", "2", "--n", "8"], env={"SOLVENCY_BACKEND": "x"}
    )
    assert result.exit_code == EXIT_INPUT
    assert result.stderr.startswith("error: unknown backend 'x'")
