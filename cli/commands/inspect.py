"""``solvency inspect``: summarise a bundle without verifying its proofs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.options import JsonOpt
from cli.output import out, print_json

__all__ = ["inspect"]


def inspect(
    bundle: Annotated[Path, typer.Argument(help="Bundle directory.")],
    as_json: JsonOpt = False,
) -> None:
    """Summarise a bundle WITHOUT verifying its proofs."""
    from verifier import inspect_bundle

    summary = inspect_bundle(bundle)
    if as_json:
        print_json(summary)
        return
    out.print("[yellow]inspect does not verify proofs; run `solvency verify`[/]")
    out.print_json(json.dumps(summary, ensure_ascii=True))
