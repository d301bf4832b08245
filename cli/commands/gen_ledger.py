"""``solvency gen-ledger``: write a synthetic ledger and reserves for demonstrations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from circuits.errors import InputError
from cli.output import out, shown

__all__ = ["gen_ledger"]


def gen_ledger(
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out", help="Directory for ledger.csv, reserves.json, wallets.json (signed) and wallet-keys.json."
        ),
    ],
    customers: Annotated[int, typer.Option("--customers", min=1, help="Number of customers.")] = 1000,
    assets: Annotated[str, typer.Option("--assets", help="Comma-separated asset symbols.")] = "BTC,ETH,USDT",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic data.")] = 1,
    edge_cases: Annotated[
        bool, typer.Option("--edge-cases", help="Also write a few maximal balances (2^64-1 base units), for tests.")
    ] = False,
    margin_share: Annotated[
        float,
        typer.Option(
            "--margin-share",
            min=0.0,
            max=1.0,
            help="Share of customers made margin accounts (debt and loan collateral; also writes margin.json).",
        ),
    ] = 0.0,
    margin_assets: Annotated[
        int,
        typer.Option(
            "--margin-assets",
            min=2,
            max=3,
            help="Most assets one margin account touches: 2 (a loan: collateral and debt asset) or 3.",
        ),
    ] = 2,
) -> None:
    """Write a realistic synthetic ledger, its reserves, and signed wallets holding them (synthetic chains).

    With --margin-share F that share of customers get Binance-style loans and margin.json is written.
    """
    from prover.reserves import load_reserves
    from prover.synth import MARGIN_FILE_NAME, generate_ledger
    from prover.synth_wallets import generate_wallets

    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir} exists and is not a directory", section="--out")
    symbols = [s.strip() for s in assets.split(",") if s.strip()]
    ledger, reserves = generate_ledger(
        customers, symbols, seed, out_dir, edge_cases=edge_cases, margin_share=margin_share, margin_assets=margin_assets
    )
    wallets, keys = generate_wallets(load_reserves(reserves), seed, out_dir)
    margin = f", {shown(out_dir / MARGIN_FILE_NAME)} (prices and loan haircuts)" if margin_share > 0 else ""
    out.print(
        f"wrote {shown(ledger)}, {shown(reserves)}{margin:s}, {shown(wallets)} (signed wallets on Bitcoin regtest "
        f"and the local chain eip155:31337) and {shown(keys)} (the synthetic wallet keys, mode 0600)"
    )
