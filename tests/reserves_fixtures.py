"""Small signed wallet lists and version 2 bundles for the proof-of-reserves tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from circuits.wallets import WalletList
from prover import ProveOptions, write_bundle
from prover.keys import keygen, load_secret
from prover.ledger import load_ledger
from prover.reserves import load_reserves
from prover.signing import sign_wallets
from prover.synth import generate_ledger
from prover.synth_wallets import synthetic_wallet_list
from prover.wallets import ProvenReserves, load_wallets, write_wallet_list

CREATED = "2026-12-01T00:00:00Z"


def signed_list(work: Path, *, customers: int = 12, assets: tuple[str, ...] = ("BTC", "ETH", "USDT"), seed: int = 5
                ) -> tuple[Path, Path, WalletList, list[bytes]]:
    """Write a ledger and a signed wallet list covering it into ``work``; return (ledger, wallets, list, keys)."""
    ledger, reserves = generate_ledger(customers, list(assets), seed, work)
    unsigned, keys = synthetic_wallet_list(load_reserves(reserves), seed)
    signed = sign_wallets(unsigned, keys)
    path = work / "wallets.json"
    write_wallet_list(path, signed)
    return ledger, path, signed, keys


def prove_v2(work: Path, wallets_path: Path, ledger: Path, *, include_attested: bool = False, name: str = "bundle"
             ) -> tuple[Path, ProvenReserves]:
    """Prove a version 2 bundle from a wallet list; return the bundle path and the proven reserves."""
    proven = load_wallets(wallets_path, include_attested=include_attested)
    key = work / f"{name}.key"
    keygen(key)
    write_bundle(
        load_ledger(ledger, proven.reserves), proven.reserves, load_secret(key), work / name, work / f"{name}-pkg",
        ProveOptions(chunk=4, jobs=1, created=CREATED), wallets=proven,
    )
    return work / name, proven


def edit_json(path: Path, mutate: Any) -> None:
    """Load a JSON file, apply ``mutate`` to the object, write it back indented."""
    doc = json.loads(path.read_text())
    mutate(doc)
    path.write_text(json.dumps(doc, indent=1))
