"""``solvency packages export``: one customer's package, or the directory of them, out of a package store.

The store is the SQLite file ``solvency prove`` writes (``docs/FORMAT.md`` §13); ``--all`` writes
byte for byte the directory ``solvency prove --packages-format dir`` writes (§9). A store that
is not one is malformed (exit 3); an unknown customer or an existing ``--out`` is exit 4.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.output import out, shown

__all__ = ["export"]


def export(
    store: Annotated[Path, typer.Option("--store", help="Package store: the SQLite file solvency prove wrote.")],
    out_path: Annotated[
        Path,
        typer.Option("--out", help="The file (--customer-id) or directory (--all) to write; must not exist."),
    ],
    customer_id: Annotated[
        str | None, typer.Option("--customer-id", help="Write this customer's package (mode 0600).")
    ] = None,
    export_all: Annotated[
        bool,
        typer.Option("--all", help="Write every package, index.csv and run.json to a new directory (mode 0700)."),
    ] = False,
) -> None:
    """Export one customer's package (--customer-id) or all of them (--all) from a package store."""
    from prover.store import PackageStore

    if (customer_id is None) == (not export_all):
        raise typer.BadParameter("give exactly one of --customer-id and --all", param_hint="--customer-id / --all")
    with PackageStore.open(store) as packages:
        if customer_id is not None:
            packages.export_one(customer_id, out_path)
            out.print(f"wrote the package of customer {shown(customer_id)} to {shown(out_path)}")
        else:
            count = packages.export_all(out_path)
            out.print(f"wrote {count:,} packages, index.csv and run.json to {shown(out_path)}")
