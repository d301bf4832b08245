"""``solvency prove``: commit to every balance, prove ranges and solvency, write the bundle and packages."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Annotated

import typer

from circuits.backends import get_backend
from circuits.errors import ProofError
from cli.options import BackendOpt, QuietOpt, backend_name, parse_ratio
from cli.output import err, out, progress_bars, shown

__all__ = ["prove"]


def prove(
    ledger: Annotated[Path, typer.Option("--ledger", help="CSV: customer_id,asset,amount.")],
    secret: Annotated[Path, typer.Option("--secret", help="Master secret from `solvency keygen`.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Bundle directory to create (must not exist).")],
    packages: Annotated[
        Path,
        typer.Option(
            "--packages",
            help="Private package store to create: a SQLite database (docs/FORMAT.md §13), or a directory "
            "with --packages-format dir.",
        ),
    ],
    wallets: Annotated[
        Path | None,
        typer.Option(
            "--wallets",
            help="Wallet list JSON with proofs of control (docs/FORMAT.md §12): reserves are summed from it.",
        ),
    ] = None,
    reserves: Annotated[
        Path | None,
        typer.Option("--reserves", help="Declared reserves JSON instead of --wallets (unproven)."),
    ] = None,
    include_attested: Annotated[
        bool,
        typer.Option("--include-attested", help="Count the wallet list's attested (unsigned) entries in R."),
    ] = False,
    chunk: Annotated[int, typer.Option("--chunk", help="Leaves per aggregated range proof (power of two).")] = 64,
    pad_to: Annotated[int | None, typer.Option("--pad-to", help="Pad every asset to this many leaves.")] = None,
    min_ratio: Annotated[str, typer.Option("--min-ratio", help="Prove reserves >= RATIO x liabilities.")] = "1",
    disclose_liabilities: Annotated[
        bool,
        typer.Option(
            "--disclose-liabilities",
            help="Publish total liabilities and their opening (with --margin also the total debt).",
        ),
    ] = False,
    margin: Annotated[
        Path | None,
        typer.Option(
            "--margin",
            help="Margin parameters JSON (prices, haircut schedules; docs/FORMAT.md §14.1): prove the ledger's "
            "debt and collateral columns (format 4).",
        ),
    ] = None,
    disclose_collateral: Annotated[
        bool,
        typer.Option("--disclose-collateral", help="With --margin: publish each asset's pledged collateral total."),
    ] = False,
    margin_pad_to: Annotated[
        int | None,
        typer.Option("--margin-pad-to", help="With --margin: the margin record count (a power of two)."),
    ] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", min=1, help="Worker processes [default: all cores].")] = None,
    verify_after: Annotated[
        bool, typer.Option("--verify/--no-verify", help="Verify the bundle after writing it (self-check).")
    ] = True,
    packages_format: Annotated[
        str, typer.Option("--packages-format", help="sqlite (one database) or dir (one file per customer).")
    ] = "sqlite",
    workdir: Annotated[
        Path | None,
        typer.Option("--workdir", help="Private work directory of this run [default: OUT.work]; removed on success."),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option("--resume", help="Continue the crashed run whose work directory this is (same inputs)."),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="Run the tasks on this Dask scheduler (tcp://HOST:PORT); its workers must hold the master "
            "secret (README: distributed proving).",
        ),
    ] = None,
    cluster: Annotated[
        str | None, typer.Option("--cluster", help="local:N: start a Dask LocalCluster of N worker processes.")
    ] = None,
    created: Annotated[
        str | None,
        typer.Option("--created", help="The bundle's creation time YYYY-MM-DDTHH:MM:SSZ [default: now]."),
    ] = None,
    backend: BackendOpt = None,
    quiet: QuietOpt = False,
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
    from prover import ProveOptions, write_bundle
    from prover.keys import load_secret
    from prover.ledger import load_ledger
    from prover.margin_inputs import load_margin_file, margin_accounts, require_spot_ledger
    from prover.reserves import load_reserves
    from prover.wallets import load_wallets

    if (wallets is None) == (reserves is None):
        raise typer.BadParameter("give exactly one of --wallets (proven reserves) and --reserves (declared)")
    if packages_format not in ("sqlite", "dir"):
        raise typer.BadParameter("expected sqlite or dir", param_hint="--packages-format")
    if resume is not None and workdir is not None and resume != workdir:
        raise typer.BadParameter("--resume names the work directory; do not also give another --workdir",
                                 param_hint="--resume")
    if scheduler is not None and cluster is not None:
        raise typer.BadParameter("give at most one of --scheduler and --cluster", param_hint="--cluster")
    local_workers = None
    if cluster is not None:
        found = re.fullmatch(r"local:([1-9][0-9]{0,3})", cluster)
        if found is None:
            raise typer.BadParameter("expected local:N (N worker processes, 1 to 9999)", param_hint="--cluster")
        local_workers = int(found.group(1))
    if scheduler is not None and not re.fullmatch(r"(tcp|tls)://[^\s/]+:[0-9]{1,5}", scheduler):
        raise typer.BadParameter("expected tcp://HOST:PORT (or tls://HOST:PORT)", param_hint="--scheduler")
    if include_attested and wallets is None:
        raise typer.BadParameter("--include-attested needs --wallets", param_hint="--include-attested")
    if margin is None and (disclose_collateral or margin_pad_to is not None):
        raise typer.BadParameter(
            "needs --margin", param_hint="--disclose-collateral" if disclose_collateral else "--margin-pad-to"
        )
    ratio = parse_ratio(min_ratio)
    if run_nonce is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", run_nonce):
        raise typer.BadParameter("expected 64 hex digits (run_nonce of the run's run.json)", param_hint="--run-nonce")
    options = ProveOptions(
        chunk=chunk, pad_to=pad_to, min_ratio=ratio, disclose_liabilities=disclose_liabilities, jobs=jobs,
        backend_name=backend_name(backend), run_nonce=None if run_nonce is None else bytes.fromhex(run_nonce),
        created=created, packages_format="dir" if packages_format == "dir" else "sqlite",
        workdir=resume if resume is not None else workdir, resume=resume is not None,
        disclose_collateral=disclose_collateral, margin_pad_to=margin_pad_to,
    )
    master = load_secret(secret)
    proven = None
    if wallets is not None:
        proven = load_wallets(wallets, include_attested=include_attested)
        spec = proven.reserves
        for asset in spec.assets:
            attested = proven.wallets.attested_total(asset.symbol) if include_attested else 0
            count = sum(1 for w in proven.wallets.wallets if w.asset == asset.symbol)
            out.print(
                f"{shown(asset.symbol)}: {count:,} wallets, every proof of control checked"
                + (f", plus {attested:,} attested base units" if attested else "")
            )
    else:
        assert reserves is not None
        spec = load_reserves(reserves)
    margin_file = None if margin is None else load_margin_file(margin, spec.assets)
    executor = None
    if scheduler is not None or local_workers is not None:
        from prover.dask_executor import DaskExecutor

        executor = DaskExecutor(
            master, scheduler=scheduler, local_workers=local_workers, backend_name=options.backend_name,
            max_nm=max(64 * chunk, 256, 64 * 256 if margin is not None else 0),
        )
    work = options.workdir or out_dir.with_name(out_dir.name + ".work")
    try:
        with progress_bars(not quiet) as progress:
            rows = load_ledger(ledger, spec, progress=lambda n: progress("read", n, n))
            accounts = None
            if margin_file is None:
                require_spot_ledger(rows)
            else:
                accounts = margin_accounts(rows, margin_file)
            try:
                result = write_bundle(
                    rows, spec, master, out_dir, packages, options, progress=progress, wallets=proven,
                    executor=executor, margin=accounts,
                )
            except BaseException:
                if os.path.isdir(work) and not out_dir.exists():
                    err.print(f"the work directory {shown(work)} is kept: continue with --resume {shown(work)}")
                raise
    finally:
        if executor is not None:
            executor.close()
    margin_note = ""
    if result.margin_records:
        margin_note = f", {result.margin_accounts:,} margin accounts in {result.margin_records:,} records"
    out.print(
        f"wrote bundle {shown(out_dir)} ({len(result.manifest.assets)} assets{shown(margin_note)}, format "
        f"{shown(result.manifest.version)}, digest {result.manifest.digest.hex()}) and {result.packages:,} "
        f"customer packages to {shown(packages)} in {result.seconds:.1f} s"
    )
    if result.tasks_reused:
        out.print(f"resumed: {result.tasks_reused:,} tasks reused from {shown(work)}")
    out.print(f"throughput: {shown(progress.summary())}")
    if verify_after:
        from verifier import verify_bundle

        try:
            verify_bundle(out_dir, backend=get_backend(options.backend_name))
        except ProofError as exc:
            shutil.rmtree(out_dir, ignore_errors=True)
            if packages.is_dir():
                shutil.rmtree(packages, ignore_errors=True)
            else:
                packages.unlink(missing_ok=True)
            raise type(exc)(
                f"self-check failed, outputs removed: {exc}", section=exc.section, file=exc.file, field=exc.field
            ) from exc
        out.print("self-check: the bundle verifies")
    if packages_format == "dir":
        out.print(
            f"publish the bundle and its digest; send each customer their package from {shown(packages)} "
            "(index.csv maps customer ids to files) over a private channel; keep its run.json (the run nonce) "
            "with the master secret to reproduce this run"
        )
    else:
        out.print(
            f"publish the bundle and its digest; send each customer their package from the store "
            f"{shown(packages)} (solvency packages export --store {shown(packages)} --customer-id ID --out FILE) "
            "over a private channel; keep the store (its run record holds the run nonce) with the master "
            "secret to reproduce this run"
        )
