r"""How the ``solvency`` commands print: consoles, JSON, progress bars, the asset table, and escaping.

Everything printed that came from a bundle, a package, an input file or an error
message goes through :func:`shown`, the one escaping function of the CLI: control,
format, line/paragraph separator, surrogate and unassigned code points are shown
as visible ``\\n``, ``\\xNN``, ``\\uNNNN`` or ``\\UNNNNNNNN`` escapes (so a forged manifest
cannot move the cursor, start a new line or reorder text with a bidi override),
and rich markup is escaped (so ``[red]`` prints as typed). JSON output is written
with ``ensure_ascii``, which escapes the same characters by construction.

Importing this module loads neither :mod:`prover` nor :mod:`verifier`.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from verifier.report import AssetReport

__all__ = [
    "asset_table",
    "err",
    "out",
    "print_json",
    "progress_bars",
    "shown",
]

#: Standard output and standard error. Markup is on (our own ``[bold]`` tags), emoji codes and
#: highlighting are off, and lines are never wrapped (a long digest stays one copyable line).
out: Final = Console(highlight=False, soft_wrap=True, emoji=False)
err: Final = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)

#: General categories shown as escapes: Cc control, Cf format (bidi overrides, zero-width
#: characters), Zl/Zp line and paragraph separators, Cs surrogates, Cn unassigned.
_ESCAPED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Cn"})


_SHORT: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(ch: str) -> str:
    if unicodedata.category(ch) not in _ESCAPED_CATEGORIES:
        return ch
    if ch in _SHORT:
        return _SHORT[ch]
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def shown(value: object) -> str:
    r"""Return ``str(value)`` safe to print with the consoles of this module.

    Control, format, separator, surrogate and unassigned characters become visible
    escapes, and rich markup is escaped, so the result prints as one line showing
    exactly the characters it holds.

    >>> print(shown("a\x1b[2Jb\n\u202e[red]"))
    a\x1b[2Jb\n\u202e\[red]
    """
    return escape("".join(_visible(ch) for ch in str(value)))


def print_json(obj: object) -> None:
    """Print ``obj`` as indented JSON with sorted keys; non-ASCII is escaped (``ensure_ascii``).

    Raises:
        TypeError: ``obj`` holds a value JSON cannot represent (a bug of the caller).
    """
    out.print(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=True), markup=False, highlight=False)


@contextmanager
def progress_bars(enabled: bool) -> Iterator[Callable[[str, int, int], None]]:
    """Yield a ``progress(stage, done, total)`` callback drawing rich bars on stderr.

    A no-op if disabled or if stderr is not a terminal (a log or a pipe gets no bar residue).
    """
    if not enabled or not err.is_terminal:
        yield lambda stage, done, total: None
        return
    columns = (TextColumn("{task.description:>8}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bars:
        tasks: dict[str, TaskID] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(stage, total=total)
            bars.update(tasks[stage], completed=done, total=total)

        yield update


def asset_table(assets: Sequence[AssetReport]) -> Table:
    """Return the per-asset table of a bundle verification (every cell from the bundle is escaped).

    With a wallet list (format version 2) it also shows, per asset, the wallets, the verified on-chain
    reserves, the attested reserves and the basis the solvency proof used.
    """
    table = Table(title_justify="left")
    wallets = any(a.reserves_basis != "declared" for a in assets)
    columns = ["asset", "leaves"]
    if wallets:
        columns += ["wallets", "verified on-chain", "attested", "basis"]
    columns += ["reserves", "liabilities ≤ reserves", "ratio proven"]
    for column in columns:
        table.add_column(column, justify="right" if column not in ("asset", "basis") else "left")
    for a in assets:
        num, den = a.min_ratio
        row = [shown(a.symbol), f"{a.leaf_count:,}"]
        if wallets:
            verified = "-" if a.reserves_verified is None else shown(a.format_amount(a.reserves_verified))
            attested = "-" if a.reserves_attested is None else shown(a.format_amount(a.reserves_attested))
            row += [f"{a.wallet_count:,}", verified, attested, shown(a.reserves_basis)]
        row += [
            shown(a.format_amount(a.reserves)),
            "[green]yes[/]" if a.ok else "[red]no[/]",
            f"≥ {num / den:g}" if a.ok else "-",
        ]
        table.add_row(*row)
    return table
