"""``solvency inspect``: summarise a bundle without verifying its proofs; never loads prover.

The summary is printed in every case; then, if a listed file is missing, has the
wrong size or SHA-256, or an unlisted file is present, the command fails with
exit 3 (:class:`~circuits.errors.FormatError` naming the first such file).
"""

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
    """Summarise a bundle WITHOUT verifying its proofs; exit 3 if a file is missing, extra or altered."""
    from verifier import inspect_bundle
    from verifier.inspect import file_error

    summary = inspect_bundle(bundle)
    if as_json:
        print_json(summary)
    else:
        out.print("[yellow]inspect does not verify proofs; run `solvency verify`[/]")
        out.print_json(json.dumps(summary, ensure_ascii=True))
    error = file_error(summary)
    if error is not None:
        raise error
