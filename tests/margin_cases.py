"""Shared pieces of the margin-account tests (format version 4): schedules, rounds, verdicts, prover inputs.

The bundles are written by the independent writer ``bundle_factory.make_margin_bundle`` (honest, or as a
cheating prover with witness overrides); ``solvency prove --margin`` is driven through the CLI with the
inputs of ``docs/FORMAT.md`` §14.1. Verdicts are checked as in ``tests/test_adversarial_bundles.py``:
through the library (exact exception class and ``section``) on the backend asked for, and through
``solvency verify --json`` / ``solvency check --json`` (exit code, ``failure_section``, ``failure_kind``).
The pure-Python ``reference`` backend decodes a point in about 17 ms, so a v4 bundle of two assets takes it
some 10 s: it runs the library only, and grids of cases run it on their first case unless ``-m slow``
(:func:`grid`); the CLI runs on the ``fast`` backend.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from bundle_factory import EXCHANGE, FIRST_PART, ROUND, MadeBundle, spec_margin_context
from click.testing import Result
from typer.testing import CliRunner

from circuits.backends import get_backend
from circuits.errors import FormatError, ProofError, VerificationError
from circuits.group import Point
from circuits.proofs import RangeProof
from circuits.relations import RangeStatement
from cli.exit_codes import EXIT_FORMAT, EXIT_OK, EXIT_VERIFICATION
from cli.main import app
from verifier import verify_range
from verifier.bundle import verify_bundle
from verifier.package import check_package

__all__ = [
    "BACKENDS",
    "BTC_TIERS",
    "FLAT_80",
    "JUNK_TIERS",
    "accepted",
    "check_accepted",
    "check_rejected",
    "cli",
    "grid",
    "margin_proof_failures",
    "prove_margin",
    "rejected",
    "write_package",
]

runner = CliRunner()

BACKENDS = ["fast", "reference"]
EXIT = {VerificationError: EXIT_VERIFICATION, FormatError: EXIT_FORMAT}
KIND = {VerificationError: "false", FormatError: "malformed"}

# Schedules in value units of a round with value_decimals = 2 (cents).
#: An illiquid coin: 50% up to $1,000, 20% to $5,000, 5% to $10,000, then nothing (at most $1,550 counts).
JUNK_TIERS = [(100_000, 50), (500_000, 20), (1_000_000, 5), (None, 0)]
#: Bitcoin: 95% up to $500,000, then 90%.
BTC_TIERS = [(50_000_000, 95), (None, 90)]
#: A flat 80%.
FLAT_80: list[tuple[int | None, int]] = [(None, 80)]


# --- verdicts ----------------------------------------------------------------------------------


def cli(backend_name: str, *args: object) -> tuple[int, dict[str, Any]]:
    """Run ``solvency ARGS --json`` on ``backend_name``; return the exit code and the JSON verdict."""
    result = runner.invoke(app, [str(a) for a in args], env={"SOLVENCY_BACKEND": backend_name})
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, json.loads(result.stdout)


def cli_failure(code: int, payload: dict[str, Any], exc_type: type[ProofError], section: str) -> None:
    """The CLI's exit code and JSON verdict name exactly ``exc_type`` at ``section``."""
    assert code == payload["exit_code"] == EXIT[exc_type], payload
    assert payload["ok"] is False
    assert payload["failure_section"] == section, payload["failure"]
    assert payload["failure_kind"] == KIND[exc_type]


def rejected(bundle: Path, backend_name: str, exc_type: type[ProofError], section: str) -> ProofError:
    """``verify_bundle`` raises exactly ``exc_type`` at ``section``; ``solvency verify --json`` agrees."""
    with pytest.raises(ProofError) as info:
        verify_bundle(bundle, backend=get_backend(backend_name))
    exc = info.value
    assert type(exc) is exc_type, f"{type(exc).__name__}: {exc}"
    assert exc.section == section, str(exc)
    if backend_name == "fast":
        cli_failure(*cli(backend_name, "verify", bundle, "--json", "--quiet"), exc_type, section)
    return exc


def accepted(bundle: Path, backend_name: str) -> None:
    """``verify_bundle`` passes and ``solvency verify --json`` exits 0."""
    report = verify_bundle(bundle, backend=get_backend(backend_name))
    assert report.ok and report.format_version == 4
    if backend_name == "fast":
        code, payload = cli(backend_name, "verify", bundle, "--json", "--quiet")
        assert (code, payload["ok"]) == (EXIT_OK, True), payload


def write_package(made: MadeBundle, customer: str, dest: Path) -> Path:
    dest.write_text(json.dumps(made.packages[customer]))
    return dest


def check_accepted(package: Path, bundle: Path, backend_name: str, customer_id: str) -> None:
    """``check_package`` passes and ``solvency check --json`` exits 0."""
    report = check_package(package, bundle, backend=get_backend(backend_name), customer_id=customer_id)
    assert report.ok
    if backend_name == "fast":
        args = ["check", package, "--bundle", bundle, "--json", "--customer-id", customer_id]
        code, payload = cli(backend_name, *args)
        assert (code, payload["ok"]) == (EXIT_OK, True), payload


def check_rejected(
    package: Path, bundle: Path, backend_name: str, customer_id: str, exc_type: type[ProofError], section: str
) -> ProofError:
    """``check_package`` raises exactly ``exc_type`` at ``section``; ``solvency check --json`` agrees."""
    with pytest.raises(ProofError) as info:
        check_package(package, bundle, backend=get_backend(backend_name), customer_id=customer_id)
    exc = info.value
    assert type(exc) is exc_type, f"{type(exc).__name__}: {exc}"
    assert exc.section == section, str(exc)
    if backend_name == "fast":
        args = ["check", package, "--bundle", bundle, "--json", "--customer-id", customer_id]
        cli_failure(*cli(backend_name, *args), exc_type, section)
    return exc


def grid(cases: Sequence[Any], ids: Sequence[str] | None = None) -> list[Any]:
    """``(case..., backend_name)`` params: every case on ``fast``, the first on ``reference``, the rest of
    ``reference`` marked ``slow`` (both backends still agree on every verdict under ``-m slow``)."""
    out = []
    for i, case in enumerate(cases):
        values = case if isinstance(case, tuple) else (case,)
        name = ids[i] if ids is not None else "-".join(str(v) for v in values)
        out.append(pytest.param(*values, "fast", id=f"fast-{name}"))
        marks = () if i == 0 else (pytest.mark.slow,)
        out.append(pytest.param(*values, "reference", id=f"reference-{name}", marks=marks))
    return out


def margin_proof_failures(made: MadeBundle, backend_name: str = "fast") -> list[tuple[int, int]]:
    """``(group, part)`` of every margin proof of ``made`` that does not verify (the factory's own contexts).

    A check at the level of the range relation, independent of the verifier: it reads each part's proof
    from ``margin.proofs.bin`` and verifies it over the group's value list the factory computed.
    """
    assert made.margin is not None
    be = get_backend(backend_name)
    mo = made.margin
    data = (made.path / "margin.proofs.bin").read_bytes()[16:]
    G = mo.group_size
    failures = []
    for g in range(len(mo.records) // G):
        body = data[g * mo.proofs_record_size : (g + 1) * mo.proofs_record_size]
        values = [V for rec in mo.records[g * G : (g + 1) * G] for V in rec.points]
        offset = position = 0
        for p, size in enumerate(mo.parts):
            length = 353 + 96 * (6 + size.bit_length() - 1)
            proof = RangeProof.from_bytes(body[position : position + length], be)
            ctx = spec_margin_context(
                made.manifest["exchange"], made.manifest["round"], mo.digest, mo.root, len(mo.records), g,
                p + FIRST_PART, offset, size,
            )
            points = tuple(Point.from_bytes(V.to_bytes(), be) for V in values[offset : offset + size])
            try:
                verify_range(RangeStatement(points, 64, ctx), proof)
            except VerificationError:
                failures.append((g, p))
            position += length
            offset += size
    return failures


# --- the prover's inputs (docs/FORMAT.md §14.1) ----------------------------------------------------


def prove_margin(
    root: Path,
    rows: Sequence[tuple[str, str, str, str, str]],
    margin: dict[str, Any],
    reserves: dict[str, tuple[int, str]],
    *extra: object,
    round_label: str = ROUND,
) -> tuple[Result, Path, Path]:
    """Run ``solvency prove --margin`` on ``rows`` (customer_id, asset, amount, debt, collateral_loan).

    ``reserves`` maps each symbol to ``(decimals, reserves)``. Returns the result, the bundle path and the
    packages directory (neither exists if the prover refused).
    """
    root.mkdir(parents=True, exist_ok=True)
    ledger = root / "ledger.csv"
    with ledger.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(("customer_id", "asset", "amount", "debt", "collateral_loan"))
        writer.writerows(rows)
    (root / "margin.json").write_text(json.dumps(margin), encoding="utf-8")
    doc = {
        "exchange": EXCHANGE,
        "round": round_label,
        "assets": [{"symbol": s, "decimals": d, "reserves": r} for s, (d, r) in reserves.items()],
    }
    (root / "reserves.json").write_text(json.dumps(doc), encoding="utf-8")
    secret = root / "master.key"
    if not secret.exists():
        assert runner.invoke(app, ["keygen", str(secret)]).exit_code == EXIT_OK
    bundle, packages = root / "bundle", root / "packages"
    args = [
        "prove", "--ledger", ledger, "--reserves", root / "reserves.json", "--margin", root / "margin.json",
        "--secret", secret, "--out", bundle, "--packages", packages, "--packages-format", "dir", "--chunk", "2",
        "--quiet", *extra,
    ]
    return runner.invoke(app, [str(a) for a in args]), bundle, packages
