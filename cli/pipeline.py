"""The product commands: keygen, gen-ledger, prove, verify, check, inspect, demo.

Each command parses its options, calls :mod:`prover` or :mod:`verifier`, and prints.
Errors are :class:`~circuits.errors.ProofError` subclasses mapped to exit codes by
:func:`cli.exit_codes.reports_errors`: 0 ok, 1 verification failed, 2 usage,
3 malformed bundle or package, 4 bad input or insolvent.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from circuits.backends import BACKEND_ENV, get_backend
from circuits.errors import InputError, ProofError
from cli.exit_codes import exit_code_for, reports_errors

__all__ = ["parse_ratio", "register"]

_out = Console(highlight=False, soft_wrap=True)
_err = Console(stderr=True, highlight=False, soft_wrap=True)

BackendOpt = Annotated[
    str | None, typer.Option("--backend", help=f"Curve backend fast|reference [default: ${BACKEND_ENV} or fast].")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of a report.")]


def _parse_digest(text: str | None) -> bytes | None:
    if text is None:
        return None
    if not re.fullmatch(r"[0-9a-fA-F]{64}", text):
        raise typer.BadParameter("expected the 64 hex digits of the published bundle digest")
    return bytes.fromhex(text)


DigestOpt = Annotated[
    str | None,
    typer.Option(
        "--digest",
        help="The bundle digest the exchange published (64 hex digits); fail unless the bundle has it.",
    ),
]

_RATIO_RE = re.compile(r"[0-9]+(\.[0-9]+)?")


def parse_ratio(text: str) -> tuple[int, int]:
    """Parse ``--min-ratio`` (a decimal such as ``1.05``) into ``(num, den)`` in lowest terms.

    Raises:
        InputError: not a plain decimal, below 1, or terms of 2^32 or more.
    """
    if not _RATIO_RE.fullmatch(text):
        raise InputError(f"--min-ratio {text!r} is not a plain decimal such as 1.05", section="--min-ratio")
    ratio = Fraction(text)
    if ratio < 1:
        raise InputError("--min-ratio must be at least 1 (reserves must cover liabilities)", section="--min-ratio")
    if ratio.numerator >= 1 << 32 or ratio.denominator >= 1 << 32:
        raise InputError("--min-ratio has too many digits", section="--min-ratio")
    return ratio.numerator, ratio.denominator


def _backend_name(name: str | None) -> str:
    return get_backend(name).name


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int, int], None]]:
    """Yield a ``progress(stage, done, total)`` callback drawing rich bars on stderr."""
    if not enabled:
        yield lambda stage, done, total: None
        return
    columns = (TextColumn("{task.description:>8}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=_err, transient=True) as bars:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(stage, total=total)
            bars.update(tasks[stage], completed=done, total=total)

        yield update


def _print_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, sort_keys=True))


def _asset_table(assets: list[Any]) -> Table:
    table = Table(title_justify="left")
    for column in ("asset", "leaves", "reserves", "liabilities ≤ reserves", "ratio proven"):
        table.add_column(column, justify="right" if column != "asset" else "left")
    for a in assets:
        proven = a.solvency_ok and a.range_proofs_ok and a.sum_ok and a.merkle_root_ok
        num, den = a.min_ratio
        table.add_row(
            a.symbol,
            f"{a.leaf_count:,}",
            a.format_amount(a.reserves),
            "[green]yes[/]" if proven else "[red]no[/]",
            f"≥ {num / den:g}" if proven else "-",
        )
    return table


def keygen(path: Annotated[Path, typer.Argument(help="Where to write the 32-byte master secret.")]) -> None:
    """Create a master secret (mode 0600). Refuses to overwrite an existing file."""
    from prover.keys import keygen as make_key

    make_key(path)
    _out.print(f"wrote a new 32-byte master secret to {escape(str(path))} (mode 0600); keep it offline")


def gen_ledger(
    out: Annotated[Path, typer.Option("--out", help="Directory for ledger.csv and reserves.json.")],
    customers: Annotated[int, typer.Option("--customers", min=1, help="Number of customers.")] = 1000,
    assets: Annotated[str, typer.Option("--assets", help="Comma-separated asset symbols.")] = "BTC,ETH,USDT",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic data.")] = 1,
    edge_cases: Annotated[
        bool, typer.Option("--edge-cases", help="Also write a few maximal balances (2^64-1 base units), for tests.")
    ] = False,
) -> None:
    """Write a realistic synthetic ledger and reserves (heavy-tailed amounts, 1-3 assets per customer)."""
    from prover.synth import generate_ledger

    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} exists and is not a directory", section="--out")
    symbols = [s.strip() for s in assets.split(",") if s.strip()]
    ledger, reserves = generate_ledger(customers, symbols, seed, out, edge_cases=edge_cases)
    _out.print(f"wrote {escape(str(ledger))} and {escape(str(reserves))}")


def prove(
    ledger: Annotated[Path, typer.Option("--ledger", help="CSV: customer_id,asset,amount.")],
    reserves: Annotated[Path, typer.Option("--reserves", help="Reserves JSON.")],
    secret: Annotated[Path, typer.Option("--secret", help="Master secret from `solvency keygen`.")],
    out: Annotated[Path, typer.Option("--out", help="Bundle directory to create (must not exist).")],
    packages: Annotated[Path, typer.Option("--packages", help="Private directory for customer packages.")],
    chunk: Annotated[int, typer.Option("--chunk", help="Leaves per aggregated range proof (power of two).")] = 64,
    pad_to: Annotated[int | None, typer.Option("--pad-to", help="Pad every asset to this many leaves.")] = None,
    min_ratio: Annotated[str, typer.Option("--min-ratio", help="Prove reserves >= RATIO x liabilities.")] = "1",
    disclose_liabilities: Annotated[
        bool, typer.Option("--disclose-liabilities", help="Publish total liabilities and their opening.")
    ] = False,
    jobs: Annotated[int | None, typer.Option("--jobs", min=1, help="Worker processes [default: all cores].")] = None,
    verify_after: Annotated[
        bool, typer.Option("--verify/--no-verify", help="Verify the bundle after writing it (self-check).")
    ] = True,
    backend: BackendOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
    run_nonce: Annotated[
        str | None,
        typer.Option(
            "--run-nonce",
            help="Reproduce an earlier run: the 64 hex digits of run_nonce in its packages' run.json "
            "[default: a fresh random nonce].",
        ),
    ] = None,
) -> None:
    """Prove solvency: commit to every balance, prove ranges and reserves >= liabilities, write the bundle."""
    from prover.bundle import ProveOptions, write_bundle
    from prover.keys import load_secret
    from prover.ledger import load_ledger
    from prover.reserves import load_reserves

    ratio = parse_ratio(min_ratio)
    if run_nonce is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", run_nonce):
        raise typer.BadParameter("expected 64 hex digits (run_nonce of the run's run.json)", param_hint="--run-nonce")
    options = ProveOptions(
        chunk=chunk, pad_to=pad_to, min_ratio=ratio, disclose_liabilities=disclose_liabilities, jobs=jobs,
        backend_name=_backend_name(backend), run_nonce=None if run_nonce is None else bytes.fromhex(run_nonce),
    )
    master = load_secret(secret)
    spec = load_reserves(reserves)
    with _progress(not quiet) as progress:
        rows = load_ledger(ledger, spec, progress=lambda n: progress("read", n, n))
        result = write_bundle(rows, spec, master, out, packages, options, progress=progress)
    _out.print(
        f"wrote bundle {escape(str(out))} ({len(result.manifest.assets)} assets, digest "
        f"{result.manifest.digest.hex()}) and {result.packages:,} customer packages to "
        f"{escape(str(packages))} in {result.seconds:.1f} s"
    )
    if verify_after:
        from verifier.bundle import verify_bundle

        try:
            verify_bundle(out, backend=get_backend(options.backend_name))
        except ProofError as exc:
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(packages, ignore_errors=True)
            raise type(exc)(f"self-check failed, outputs removed: {exc}") from exc
        _out.print("self-check: the bundle verifies")
    _out.print(
        "publish the bundle and its digest; send each customer their package from "
        f"{escape(str(packages))} (index.csv maps customer ids to files) over a private channel; keep its "
        "run.json (the run nonce) with the master secret to reproduce this run"
    )


def verify(
    bundle: Annotated[Path, typer.Argument(help="Bundle directory.")],
    as_json: JsonOpt = False,
    backend: BackendOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    digest: DigestOpt = None,
) -> None:
    """Verify a bundle: digests, encodings, Merkle roots, sums, every range proof, every solvency proof."""
    from verifier.bundle import verify_bundle

    be = get_backend(backend)
    published = _parse_digest(digest)
    started = time.perf_counter()
    try:
        with _progress(not quiet and not as_json) as progress:
            report = verify_bundle(
                bundle, backend=be, progress=lambda d, t: progress("verify", d, t), published_digest=published
            )
    except ProofError as exc:
        partial = getattr(exc, "report", None)
        if as_json:
            payload = partial.to_json() if partial is not None else {"ok": False}
            payload.update(
                ok=False, failure=str(exc), failure_section=exc.section,
                failure_kind="false" if exit_code_for(exc) == 1 else "malformed", exit_code=exit_code_for(exc),
            )
            _print_json(payload)
            raise typer.Exit(exit_code_for(exc)) from None
        if partial is not None and partial.assets:
            _out.print(_asset_table(partial.assets))
        section = f" [{exc.section}]" if exc.section else ""
        _out.print(f"[red bold]FAIL[/]{escape(section)}: {escape(str(exc))}")
        raise
    elapsed = time.perf_counter() - started
    if as_json:
        payload = report.to_json()
        payload["seconds"] = round(elapsed, 3)
        _print_json(payload)
        return
    _out.print(f"bundle {escape(str(bundle))}: exchange {escape(report.exchange)!s}, round {escape(report.round)}")
    _out.print(f"digest {report.bundle_digest}")
    _out.print(_asset_table(report.assets))
    _out.print(
        f"[green bold]PASS[/]: every balance is committed and in [0, 2^64), and reserves cover liabilities "
        f"at the ratio shown, for every asset ({elapsed:.2f} s)"
    )
    _out.print(
        "not proven: that the exchange holds these reserves (attested separately), and that no customer was "
        "left out (each customer must check their own package)"
    )


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
    from verifier.package import check_package

    published = _parse_digest(digest)
    try:
        report = check_package(
            package, bundle, backend=get_backend(backend), customer_id=customer_id, published_digest=published
        )
    except ProofError as exc:
        partial = getattr(exc, "report", None)
        if not as_json:
            raise
        payload = partial.to_json() if partial is not None else {"ok": False}
        payload.update(ok=False, failure=str(exc), failure_section=exc.section, exit_code=exit_code_for(exc))
        _print_json(payload)
        raise typer.Exit(exit_code_for(exc)) from None
    if as_json:
        _print_json(report.to_json())
        return
    _out.print("[green bold]PASS[/]")
    for line in report.proven:
        _out.print(f"  [green]proven[/]: {escape(line)}")
    for line in report.not_proven:
        _out.print(f"  [yellow]not proven[/]: {escape(line)}")


def inspect(
    bundle: Annotated[Path, typer.Argument(help="Bundle directory.")],
    as_json: JsonOpt = False,
) -> None:
    """Summarise a bundle WITHOUT verifying its proofs."""
    from verifier.inspect import inspect_bundle

    summary = inspect_bundle(bundle)
    if as_json:
        _print_json(summary)
        return
    _out.print("[yellow]inspect does not verify proofs; run `solvency verify`[/]")
    _out.print_json(json.dumps(summary))


def demo(
    customers: Annotated[int, typer.Option("--customers", min=1, help="Synthetic customers.")] = 300,
    assets: Annotated[str, typer.Option("--assets", help="Comma-separated asset symbols.")] = "BTC,ETH,USDT",
    keep: Annotated[Path | None, typer.Option("--keep", help="Keep the demo files in this new directory.")] = None,
    backend: BackendOpt = None,
) -> None:
    """End-to-end demonstration: gen-ledger, keygen, prove, verify and a customer check, explained."""
    from prover.bundle import ProveOptions, write_bundle
    from prover.keys import keygen as make_key
    from prover.keys import load_secret
    from prover.ledger import load_ledger
    from prover.reserves import load_reserves
    from prover.synth import generate_ledger
    from verifier.bundle import verify_bundle
    from verifier.package import check_package

    be = get_backend(backend)
    if keep is not None and os.path.lexists(keep):
        raise InputError(f"{keep} already exists", section="--keep")
    work = Path(tempfile.mkdtemp(prefix="zk-solvency-demo-")) if keep is None else keep
    try:
        work.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{keep}: cannot create the directory ({exc.strerror})", section="--keep") from exc
    try:
        _out.print(f"[bold]zk-solvency demo[/] in {escape(str(work))} (backend {be.name})\n")
        _out.print("[bold]1. The exchange's private inputs[/] (solvency gen-ledger, solvency keygen)")
        symbols = [s.strip() for s in assets.split(",") if s.strip()]
        ledger_path, reserves_path = generate_ledger(customers, symbols, 7, work)
        make_key(work / "master.key")
        _out.print(f"   a synthetic ledger of {customers} customers holding {', '.join(symbols)}, attested reserves,")
        _out.print("   and a 32-byte master secret from which every blinding is derived (HKDF, fresh per round).")

        _out.print("\n[bold]2. Prove[/] (solvency prove): commit to every balance, prove each is in [0, 2^64),")
        _out.print("   and prove reserves - sum(liabilities) >= 0 without revealing the sum")
        spec = load_reserves(reserves_path)
        with _progress(True) as progress:
            rows = load_ledger(ledger_path, spec)
            result = write_bundle(
                rows, spec, load_secret(work / "master.key"), work / "bundle", work / "packages",
                ProveOptions(backend_name=be.name), progress=progress,
            )
        _out.print(f"   bundle digest {result.manifest.digest.hex()} ({result.seconds:.1f} s); publish it")

        _out.print("\n[bold]3. A regulator verifies[/] (solvency verify bundle): needs no secret and no prover code")
        started = time.perf_counter()
        report = verify_bundle(work / "bundle", backend=be)
        _out.print(_asset_table(report.assets))
        _out.print(f"   [green bold]PASS[/] in {time.perf_counter() - started:.2f} s")

        _out.print(
            "\n[bold]4. A customer checks their package[/] (solvency check PACKAGE --bundle bundle --digest DIGEST)"
        )
        first = sorted((work / "packages").glob("*.json"))[0]
        checked = check_package(first, work / "bundle", backend=be, published_digest=result.manifest.digest)
        for line in checked.proven:
            _out.print(f"   [green]proven[/]: {escape(line)}")
        for line in checked.not_proven:
            _out.print(f"   [yellow]not proven[/]: {escape(line)}")

        _out.print("\n[bold]5. Tampering is caught[/]: one flipped byte in a copy of the bundle")
        tampered = work / "tampered"
        shutil.copytree(work / "bundle", tampered)
        target = sorted(tampered.glob("*.rangeproofs.bin"))[0]
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 1
        target.write_bytes(bytes(data))
        try:
            verify_bundle(tampered, backend=be)
        except ProofError as exc:
            _out.print(f"   rejected with exit code {exit_code_for(exc)}: {escape(str(exc))}")
        else:
            raise InputError("the tampered bundle was accepted")
        _out.print("\n[green bold]demo complete[/]: try `solvency verify`, `solvency check` and `solvency inspect`"
                   + (f" on {escape(str(work))}" if keep is not None else " with --keep DIR to keep the files"))
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


def register(app: typer.Typer) -> None:
    """Add the pipeline commands to ``app``, each reporting errors as exit codes."""
    for name, fn in (
        ("demo", demo),
        ("keygen", keygen),
        ("gen-ledger", gen_ledger),
        ("prove", prove),
        ("verify", verify),
        ("check", check),
        ("inspect", inspect),
    ):
        app.command(name)(reports_errors(fn))
