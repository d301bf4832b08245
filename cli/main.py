"""The ``solvency`` command: parse, call the library, print (the entry point is ``cli.main:app``).

Product commands, one module each under :mod:`cli.commands`:

* ``solvency demo``: the end-to-end demonstration in a temporary directory.
* ``solvency keygen | gen-ledger | prove``: the exchange's side (loads :mod:`prover`).
* ``solvency reserves message | sign``: the control messages wallets sign, and local signing.
* ``solvency packages export``: one customer's package, or the directory of them, out of the package
  store ``prove`` writes (loads :mod:`prover`).
* ``solvency verify | check | inspect``: the public side (loads :mod:`verifier`, never :mod:`prover`).
* ``solvency check-page``: writes the customer check page, the customer check in a browser.

Developer commands live under ``solvency dev``: ``solvency dev range-demo`` runs the
cryptographic core alone.

Every command imports the library inside its function, so loading this module
loads neither :mod:`prover` nor :mod:`verifier`. Help is Click's plain formatter
(``rich_markup_mode=None``): it wraps descriptions to the terminal but never cuts
an option name. Exit codes are those of :mod:`cli.exit_codes`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypedDict

import typer

from cli.commands.check import check
from cli.commands.check_page import check_page
from cli.commands.demo import demo
from cli.commands.gen_ledger import gen_ledger
from cli.commands.inspect import inspect
from cli.commands.keygen import keygen
from cli.commands.packages import export as packages_export
from cli.commands.prove import prove
from cli.commands.range_demo import range_demo
from cli.commands.reserves import message as reserves_message
from cli.commands.reserves import sign as reserves_sign
from cli.commands.verify import verify
from cli.exit_codes import reports_errors

__all__ = ["app"]



class _Settings(TypedDict):
    """The keyword arguments both ``typer.Typer`` apps share (mypy checks them against its signature)."""

    no_args_is_help: bool
    add_completion: bool
    rich_markup_mode: Literal["markdown", "rich", None]
    pretty_exceptions_show_locals: bool


_SETTINGS: _Settings = {
    "no_args_is_help": True,
    "add_completion": False,
    "rich_markup_mode": None,
    # Tracebacks of unexpected errors must not print local variables: they may hold openings.
    "pretty_exceptions_show_locals": False,
}

app = typer.Typer(name="solvency", **_SETTINGS)
dev = typer.Typer(name="dev", help="Developer commands (not part of the product).", **_SETTINGS)
reserves = typer.Typer(
    name="reserves", help="Proof of reserves: the messages wallets sign, and local signing.", **_SETTINGS
)


@app.callback()
def main() -> None:
    """zk-solvency: Pedersen commitments and aggregated range proofs for proofs of solvency."""


_PRODUCT: tuple[tuple[str, Callable[..., None]], ...] = (
    ("demo", demo),
    ("keygen", keygen),
    ("gen-ledger", gen_ledger),
    ("prove", prove),
    ("verify", verify),
    ("check", check),
    ("check-page", check_page),
    ("inspect", inspect),
)
for _name, _command in _PRODUCT:
    app.command(_name)(reports_errors(_command))
reserves.command("message")(reports_errors(reserves_message))
reserves.command("sign")(reports_errors(reserves_sign))
app.add_typer(reserves)
packages = typer.Typer(
    name="packages", help="The private customer packages: export them from the package store.", **_SETTINGS
)
packages.command("export")(reports_errors(packages_export))
app.add_typer(packages)
dev.command("range-demo")(reports_errors(range_demo))
app.add_typer(dev)

if __name__ == "__main__":
    app(prog_name="solvency")
