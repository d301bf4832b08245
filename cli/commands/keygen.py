"""``solvency keygen``: create the exchange's master secret."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.output import out, shown

__all__ = ["keygen"]


def keygen(path: Annotated[Path, typer.Argument(help="Where to write the 32-byte master secret.")]) -> None:
    """Create a master secret (mode 0600). Refuses to overwrite an existing file."""
    from prover.keys import keygen as make_key

    make_key(path)
    out.print(f"wrote a new 32-byte master secret to {shown(path)} (mode 0600); keep it offline")
