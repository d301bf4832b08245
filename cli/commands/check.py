"""``solvency check``: a customer checks their package (with ``--bundle``, the bundle too); never loads prover."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from circuits.backends import get_backend
from circuits.errors import ProofError
from cli.exit_codes import exit_code_for
from cli.options import BackendOpt, DigestOpt, JsonOpt, parse_digest
from cli.output import out, print_json, shown
from cli.verdict import verdict_json

__all__ = ["check"]


def check(
    package: Annotated[Path, typer.Argument(help="Your customer package (JSON).")],
    bundle: Annotated[Path | None, typer.Option("--bundle", help="The published bundle directory.")] = None,
    as_json: JsonOpt = False,
    backend: BackendOpt = None,
    digest: DigestOpt = None,
    customer_id: Annotated[
        str | None,
        typer.Option("--customer-id", help="Your customer id at the exchange; fail if the package is not yours."),
    ] = None,
) -> None:
    """Customer check: your balances are committed, included in the Merkle root, and (with --bundle) proven."""
    from verifier import check_package

    published = parse_digest(digest)
    try:
        report = check_package(
            package, bundle, backend=get_backend(backend), customer_id=customer_id, published_digest=published
        )
    except ProofError as exc:
        if not as_json:
            raise
        print_json(verdict_json(exc.report, exc))
        raise typer.Exit(exit_code_for(exc)) from None
    if as_json:
        print_json(verdict_json(report))
        return
    out.print("[green bold]PASS[/]")
    for line in report.proven:
        out.print(f"  [green]proven[/]: {shown(line)}")
    for line in report.not_proven:
        out.print(f"  [yellow]not proven[/]: {shown(line)}")
