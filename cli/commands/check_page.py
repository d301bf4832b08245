"""``solvency check-page``: write the customer check page (one self-contained HTML file); never loads prover."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated

import typer

from circuits.atomic import write_atomic
from circuits.errors import InputError
from cli.output import out, shown

__all__ = ["check_page"]


def check_page(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Directory to write check.html to (created if missing).")
    ],
) -> None:
    """Write the customer check page, DIR/check.html: the customer check in a browser, nothing sent anywhere.

    Host it anywhere or open it from disk. The customer picks their package and, optionally, the bundle
    files; the page checks them on their device and says what was proven and what was not, as
    `solvency check` does. Its Content-Security-Policy forbids every network request.
    """
    from verifier.check_page import CHECK_PAGE_NAME
    from verifier.check_page import check_page as page_bytes

    page = page_bytes()
    target = out_dir / CHECK_PAGE_NAME
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(target, page)
    except OSError as exc:
        raise InputError(f"{target}: cannot write the check page ({exc.strerror or exc})", section="--out") from exc
    digest = hashlib.sha256(page).hexdigest()
    out.print(f"wrote {shown(target)} ({len(page):,} bytes, sha256 {shown(digest)})")
