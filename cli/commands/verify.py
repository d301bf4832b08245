"""``solvency verify``: verify a whole bundle. Never loads :mod:`prover`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from circuits.atomic import write_atomic
from circuits.backends import get_backend
from circuits.errors import InputError, ProofError
from cli.exit_codes import exit_code_for
from cli.options import BackendOpt, DigestOpt, JsonOpt, QuietOpt, parse_digest
from cli.output import asset_table, out, print_json, progress_bars, shown
from cli.reserves_text import (
    chain_lines,
    margin_lines,
    not_proven_sentence,
    parse_eth_rpc,
    reserves_failures,
    verdict_sentence,
)
from cli.verdict import verdict_json

__all__ = ["verify"]


def verify(
    bundle: Annotated[Path, typer.Argument(help="Bundle directory.")],
    as_json: JsonOpt = False,
    backend: BackendOpt = None,
    quiet: QuietOpt = False,
    digest: DigestOpt = None,
    eth_rpc: Annotated[
        list[str] | None,
        typer.Option(
            "--eth-rpc",
            help="Check the Ethereum block hash and every stated balance against this JSON-RPC node: URL "
            "(the wallet list's only Ethereum chain) or CHAIN=URL, e.g. eip155:1=http://127.0.0.1:8545. "
            "Repeatable.",
        ),
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="Also write a self-contained HTML report for regulators to this file (written on failure too: "
            "it then says failed and where).",
        ),
    ] = None,
) -> None:
    """Verify a bundle: digests, encodings, Merkle roots, sums, every range proof, every solvency proof.

    For a bundle with a wallet list (format version 2) it also checks every proof of control and sums the
    reserves itself.
    """
    from verifier import verify_bundle
    from verifier.report import BundleReport
    from verifier.report_html import bundle_report_html

    be = get_backend(backend)
    published = parse_digest(digest)
    nodes = parse_eth_rpc(eth_rpc or [])
    started = time.perf_counter()
    try:
        with progress_bars(not quiet and not as_json) as progress:
            report = verify_bundle(
                bundle,
                backend=be,
                progress=lambda d, t: progress("verify", d, t),
                published_digest=published,
                eth_rpc=nodes,
            )
    except ProofError as exc:
        if html is not None:
            failed = exc.report if isinstance(exc.report, BundleReport) else BundleReport(
                ok=False, exchange="", round="", created="", bundle_digest=""
            )
            _write_html(html, bundle_report_html(failed, error=exc))
        if as_json:
            print_json(verdict_json(exc.report, exc))
            raise typer.Exit(exit_code_for(exc)) from None
        if isinstance(exc.report, BundleReport) and exc.report.assets:
            out.print(asset_table(exc.report.assets))
            for line in reserves_failures(exc.report):
                out.print(line)
        section = f" \\[{shown(exc.section)}]" if exc.section else ""  # \[: a literal bracket, not rich markup
        out.print(f"[red bold]FAIL[/]{section}: {shown(exc)}")
        if html is not None:
            out.print(f"HTML report (failed) written to {shown(html)}")
        raise
    elapsed = time.perf_counter() - started
    if html is not None:
        _write_html(html, bundle_report_html(
            report, proven=verdict_sentence(report), not_proven=not_proven_sentence(report)
        ))
    if as_json:
        payload = verdict_json(report)
        payload["seconds"] = round(elapsed, 3)
        print_json(payload)
        return
    out.print(f"bundle {shown(bundle)}: exchange {shown(report.exchange)}, round {shown(report.round)}")
    out.print(f"digest {shown(report.bundle_digest)}")
    out.print(asset_table(report.assets))
    for line in chain_lines(report):
        out.print(line)
    for line in margin_lines(report):
        out.print(line)
    out.print(f"[green bold]PASS[/]: {shown(verdict_sentence(report))} ({elapsed:.2f} s)")
    out.print(f"not proven: {shown(not_proven_sentence(report))}")
    out.print(f"throughput: {shown(progress.summary())} (chunks of leaves and their proofs)")
    if html is not None:
        out.print(f"HTML report written to {shown(html)}")


def _write_html(path: Path, page: str) -> None:
    """Write the HTML report atomically (a temporary file beside it, then a rename).

    Raises:
        InputError: the file cannot be written (exit 4).
    """
    try:
        write_atomic(path, page.encode("utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot write the HTML report ({exc.strerror or exc})", section="--html") from exc
