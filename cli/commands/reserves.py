"""``solvency reserves message | sign``: the control messages wallets sign, and signing them with local keys."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from circuits.errors import InputError
from cli.options import JsonOpt
from cli.output import out, print_json, shown

__all__ = ["message", "sign"]


def message(
    wallets: Annotated[Path, typer.Option("--wallets", help="Wallet list JSON (proofs may be unsigned).")],
    address: Annotated[
        str | None,
        typer.Option("--address", help="Print only this address's message, as raw bytes, for a signer to read."),
    ] = None,
    chain: Annotated[
        str | None, typer.Option("--chain", help="With --address: the chain, if it is on several.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the control message each wallet must sign (docs/FORMAT.md §12.2), built from the list's statement.

    Sign these bytes with the wallet's own signer (hardware, MPC): Bitcoin signed-message (BIP-137), BIP-322
    simple, or Ethereum personal_sign (EIP-191), and put the signature in the row's proof.
    """
    from prover.wallets import load_wallet_list

    wallet_list, _ = load_wallet_list(wallets, signed=False)
    pairs = sorted({(w.chain, w.address) for w in wallet_list.wallets})
    if address is not None:
        chosen = [p for p in pairs if p[1] == address and (chain is None or p[0] == chain)]
        if not chosen:
            raise InputError(f"--address {address}: not in {wallets.name}", section="--address")
        if len(chosen) > 1:
            raise InputError(f"--address {address} is on several chains; add --chain", section="--chain")
        data = wallet_list.message(*chosen[0])
        if as_json:
            print_json({"chain": chosen[0][0], "address": address, "message": data.decode("utf-8")})
        else:
            # The exact bytes a signer reads: built from validated text fields, which hold no control character.
            out.print(data.decode("utf-8"), markup=False, highlight=False, end="")
        return
    if as_json:
        print_json(
            {
                "messages": [
                    {"chain": c, "address": a, "message": wallet_list.message(c, a).decode("utf-8")} for c, a in pairs
                ]
            }
        )
        return
    for c, a in pairs:
        out.print(f"[bold]{shown(c)} {shown(a)}[/]")
        out.print(shown(wallet_list.message(c, a).decode("utf-8")))
        out.print("")


def sign(
    wallets: Annotated[Path, typer.Option("--wallets", help="Wallet list JSON whose proofs lack signatures.")],
    keys: Annotated[Path, typer.Option("--keys", help="Keys file (zk-solvency-wallet-keys, mode 0600).")],
    out_path: Annotated[Path, typer.Option("--out", help="Signed wallet list to write (must not exist).")],
) -> None:
    """Sign every unsigned row of a wallet list with local keys (for tests and demos), then check every proof."""
    from prover.signing import load_keys, sign_wallets
    from prover.wallets import load_wallet_list, load_wallets, write_wallet_list

    if os.path.lexists(out_path):
        raise InputError(f"{out_path}: already exists; refusing to overwrite", section="--out")
    wallet_list, _ = load_wallet_list(wallets, signed=False)
    signed = sign_wallets(wallet_list, load_keys(keys))
    write_wallet_list(out_path, signed)
    try:
        load_wallets(out_path)
    except InputError:
        out_path.unlink(missing_ok=True)
        raise
    done = sum(1 for a, b in zip(wallet_list.wallets, signed.wallets, strict=True) if a != b)
    total = len(signed.wallets)
    out.print(f"signed {done:,} of {total:,} wallets; every proof of control checks; wrote {shown(out_path)}")


