"""``solvency demo``: the whole pipeline, explained, in a temporary directory."""

from __future__ import annotations

import csv
import itertools
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from circuits.backends import get_backend
from circuits.errors import InputError, ProofError
from cli.exit_codes import exit_code_for
from cli.options import BackendOpt
from cli.output import asset_table, out, progress_bars, shown
from cli.reserves_text import verdict_sentence

__all__ = ["demo"]


def demo(
    customers: Annotated[int, typer.Option("--customers", min=1, help="Synthetic customers.")] = 300,
    assets: Annotated[str, typer.Option("--assets", help="Comma-separated asset symbols.")] = "BTC,ETH,USDT",
    keep: Annotated[Path | None, typer.Option("--keep", help="Keep the demo files in this new directory.")] = None,
    backend: BackendOpt = None,
) -> None:
    """End-to-end demonstration: gen-ledger, keygen, prove, verify and a customer check, explained."""
    from prover import ProveOptions, write_bundle
    from prover.keys import keygen as make_key
    from prover.keys import load_secret
    from prover.ledger import load_ledger
    from prover.reserves import load_reserves
    from prover.synth import generate_ledger
    from prover.synth_wallets import generate_wallets
    from prover.wallets import load_wallets, write_wallet_list
    from verifier import check_package, verify_bundle

    be = get_backend(backend)
    if keep is not None and os.path.lexists(keep):
        raise InputError(f"{keep} already exists", section="--keep")
    work = Path(tempfile.mkdtemp(prefix="zk-solvency-demo-")) if keep is None else keep
    try:
        work.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{keep}: cannot create the directory ({exc.strerror})", section="--keep") from exc
    try:
        out.print(f"[bold]zk-solvency demo[/] in {shown(work)} (backend {be.name})\n")
        out.print("[bold]1. The exchange's private inputs[/] (solvency gen-ledger, solvency keygen)")
        symbols = [s.strip() for s in assets.split(",") if s.strip()]
        ledger_path, reserves_path = generate_ledger(customers, symbols, 7, work)
        wallets_path, _ = generate_wallets(load_reserves(reserves_path), 7, work)
        make_key(work / "master.key")
        proven = load_wallets(wallets_path)
        spec = proven.reserves
        out.print(f"   a synthetic ledger of {customers} customers holding {shown(', '.join(symbols))},")
        n_wallets = len(proven.wallets.wallets)
        out.print(f"   {n_wallets:,} wallets on Bitcoin regtest and the local chain eip155:31337, each signing")
        out.print("   the control message of this round (BIP-322, BIP-137, 2-of-3 multisig, EIP-191); every proof")
        out.print("   was checked,")
        out.print("   and a 32-byte master secret from which every blinding is derived (HKDF, fresh per round).")

        out.print("\n[bold]2. Prove[/] (solvency prove --wallets): commit to every balance, prove each is in")
        out.print("   [0, 2^64), and prove R - sum(liabilities) >= 0 without revealing the sum, R summed from the")
        out.print("   signed wallets")
        with progress_bars(True) as progress:
            rows = load_ledger(ledger_path, spec)
            result = write_bundle(
                rows, spec, load_secret(work / "master.key"), work / "bundle", work / "packages",
                ProveOptions(backend_name=be.name), progress=progress, wallets=proven,
            )
        out.print(f"   bundle digest {result.manifest.digest.hex()} ({result.seconds:.1f} s); publish it")

        out.print("\n[bold]3. A regulator verifies[/] (solvency verify bundle): needs no secret and no prover code")
        started = time.perf_counter()
        report = verify_bundle(work / "bundle", backend=be)
        out.print(asset_table(report.assets))
        out.print(f"   [green bold]PASS[/] in {time.perf_counter() - started:.2f} s: {shown(verdict_sentence(report))}")

        first = proven.wallets.assets[0].symbol
        out.print(f"\n[bold]3b. Reserves must be real[/]: the same exchange, signing only one of its {shown(first)} "
                  "wallets")
        keep_one = next(w for w in proven.wallets.wallets if w.asset == first)
        short = work / "wallets-short.json"
        write_wallet_list(
            short, proven.wallets.with_wallets(w for w in proven.wallets.wallets if w.asset != first or w == keep_one)
        )
        try:
            short_proven = load_wallets(short)
            write_bundle(
                load_ledger(ledger_path, short_proven.reserves), short_proven.reserves,
                load_secret(work / "master.key"), work / "bundle-short", work / "packages-short",
                ProveOptions(backend_name=be.name), wallets=short_proven,
            )
        except InputError as exc:
            out.print(f"   refused with exit code {exit_code_for(exc)}: {shown(exc)}")
        else:
            raise InputError("an exchange whose wallets hold less than its liabilities was not refused")

        out.print(
            "\n[bold]4. A customer checks their package[/] "
            "(solvency check PACKAGE --bundle bundle --customer-id ID --digest DIGEST)"
        )
        with open(work / "packages" / "index.csv", encoding="utf-8", newline="") as index:
            customer_id, package_name = next(itertools.islice(csv.reader(index), 1, None))
        checked = check_package(
            work / "packages" / package_name, work / "bundle", backend=be, customer_id=customer_id,
            published_digest=result.manifest.digest,
        )
        for line in checked.proven:
            out.print(f"   [green]proven[/]: {shown(line)}")
        for line in checked.not_proven:
            out.print(f"   [yellow]not proven[/]: {shown(line)}")

        out.print("\n[bold]5. Tampering is caught[/]: one flipped byte in a copy of the bundle")
        tampered = work / "tampered"
        shutil.copytree(work / "bundle", tampered)
        target = sorted(tampered.glob("*.rangeproofs.bin"))[0]
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 1
        target.write_bytes(bytes(data))
        try:
            verify_bundle(tampered, backend=be)
        except ProofError as exc:
            out.print(f"   rejected with exit code {exit_code_for(exc)}: {shown(exc)}")
        else:
            raise InputError("the tampered bundle was accepted")
        out.print("\n[green bold]demo complete[/]: try `solvency verify`, `solvency check` and `solvency inspect`"
                  + (f" on {shown(work)}" if keep is not None else " with --keep DIR to keep the files"))
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)
