"""``solvency check``: a customer checks their package (with ``--bundle``, the bundle too); never loads prover.

The verdict is ``PASS`` (exit 0) only when everything it states was checked in
this run: with ``--bundle``, every proof of the customer's assets (format 3: their
chunk and their path in the sum tree, read by offset). Without ``--bundle``, with
``--own-chunk-only`` (formats 1 and 2; ignored, with a note, for format 3), or for a
format-3 bundle whose leaves file is absent, it is ``PARTIAL`` (exit 6): every check
that ran passed, and the verdict says in plain words what was NOT checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from circuits.backends import get_backend
from circuits.errors import ProofError
from cli.exit_codes import EXIT_PARTIAL, exit_code_for
from cli.options import BackendOpt, DigestOpt, JsonOpt, QuietOpt, parse_digest
from cli.output import out, print_json, progress_bars, shown
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
    own_chunk_only: Annotated[
        bool,
        typer.Option(
            "--own-chunk-only",
            help="Quick partial check (exit 6): verify only the chunk proof holding your leaf; solvency is then "
            "NOT checked here. Ignored for a format-3 bundle, whose check reads only your chunk and path anyway.",
        ),
    ] = False,
    quiet: QuietOpt = False,
) -> None:
    """Customer check: your balances are committed and counted, and (with --bundle) the exchange is solvent."""
    from verifier import check_package

    published = parse_digest(digest)
    if own_chunk_only and bundle is None:
        raise typer.BadParameter("needs --bundle", param_hint="--own-chunk-only")
    try:
        with progress_bars(bundle is not None and not own_chunk_only and not quiet and not as_json) as progress:
            report = check_package(
                package, bundle, backend=get_backend(backend), customer_id=customer_id, published_digest=published,
                own_chunk_only=own_chunk_only, progress=lambda d, t: progress("check", d, t),
            )
    except ProofError as exc:
        if not as_json:
            raise
        print_json(verdict_json(exc.report, exc))
        raise typer.Exit(exit_code_for(exc)) from None
    if as_json:
        print_json(verdict_json(report))
    else:
        if own_chunk_only and report.scope == "sum-tree":
            out.print("note: --own-chunk-only is not needed for a format-3 bundle and was ignored")
        if report.status == "pass":
            out.print("[green bold]PASS[/]: everything listed as proven below was checked in this run")
        else:
            out.print(
                "[yellow bold]PARTIAL[/]: every check that ran passed, but this run did NOT check everything "
                "(see the PARTIAL CHECK line below)"
            )
        for line in report.proven:
            out.print(f"  [green]proven[/]: {shown(line)}")
        for line in report.not_proven:
            out.print(f"  [yellow]not proven[/]: {shown(line)}")
    if report.status == "partial":
        raise typer.Exit(EXIT_PARTIAL)
