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
import time
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

if TYPE_CHECKING:
    from verifier.report import AssetReport

__all__ = [
    "StageProgress",
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


class StageProgress:
    """A ``progress(stage, done, total)`` callback that times each stage, for ETAs and a throughput summary.

    On a terminal it drives rich bars with the elapsed time and an ETA (the stage's rate so
    far applied to what is left); elsewhere (a log, a pipe, a cluster job) it writes one plain
    line per stage at most every ``log_every`` seconds, with the same ETA, and a last line when
    a stage that ran for a second or more completes. :meth:`summary` is the one-line throughput
    report of every stage seen.
    """

    def __init__(self, bars: Progress | None, log: Console | None, log_every: float = 30.0) -> None:
        """Draw on ``bars`` (a terminal), or log plain lines to ``log``, or neither (quiet)."""
        self._bars = bars
        self._log = log
        self._log_every = log_every
        self._tasks: dict[str, TaskID] = {}
        self._started: dict[str, float] = {}
        self._last: dict[str, tuple[float, int, int]] = {}
        self._logged: dict[str, float] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        """Record that ``done`` of ``total`` units of ``stage`` are finished."""
        now = time.monotonic()
        self._started.setdefault(stage, now)
        self._last[stage] = (now, done, total)
        if self._bars is not None:
            if stage not in self._tasks:
                self._tasks[stage] = self._bars.add_task(stage, total=total)
            self._bars.update(self._tasks[stage], completed=done, total=total)
        elif self._log is not None:
            # A stage that ends within a second gets no line of its own (the summary still counts
            # it), so a quick refused command prints only its error.
            finished = done >= total and (now - self._started[stage] >= 1.0 or stage in self._logged)
            if finished or now - self._logged.get(stage, self._started[stage]) >= self._log_every:
                self._logged[stage] = now
                self._log.print(self.line(stage), markup=False, highlight=False)

    def eta(self, stage: str) -> float | None:
        """Seconds left in ``stage`` at its rate so far, or ``None`` before any unit finished."""
        if stage not in self._last:
            return None
        now, done, total = self._last[stage]
        elapsed = now - self._started[stage]
        if done <= 0 or elapsed <= 0:
            return None
        return max(0.0, (total - done) * elapsed / done)

    def line(self, stage: str) -> str:
        """One plain progress line: ``prove 120/1,024 (11.7%), 2.0/s, 61.0 s elapsed, ETA 7m 32s``."""
        now, done, total = self._last[stage]
        elapsed = now - self._started[stage]
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = self.eta(stage)
        left = "ETA ?" if eta is None else ("done" if done >= total else f"ETA {_duration(eta)}")
        share = 100.0 * done / total if total else 100.0
        return f"{stage} {done:,}/{total:,} ({share:.1f}%), {rate:,.1f}/s, {elapsed:.1f} s elapsed, {left}"

    def summary(self) -> str:
        """Return ``stage N in T s (R/s); ...`` for every stage seen, in the order they started."""
        parts = []
        for stage in sorted(self._started, key=self._started.__getitem__):
            now, done, _ = self._last[stage]
            elapsed = now - self._started[stage]
            rate = f", {done / elapsed:,.1f}/s" if elapsed > 0 and done else ""
            parts.append(f"{stage} {done:,} in {elapsed:.1f} s{rate}")
        return "; ".join(parts)


def _duration(seconds: float) -> str:
    s = round(seconds)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h {m:02d}m" if h else (f"{m}m {s:02d}s" if m else f"{s}s")


@contextmanager
def progress_bars(enabled: bool) -> Iterator[StageProgress]:
    """Yield a :class:`StageProgress`: rich bars with ETA on a terminal, plain timed lines otherwise.

    Disabled (``--quiet``, JSON output) it only times the stages. A log or a pipe gets no bar
    residue: plain lines at most every 30 s per stage, each with the stage's ETA.
    """
    if not enabled:
        yield StageProgress(None, None)
        return
    if not err.is_terminal:
        yield StageProgress(None, err)
        return
    columns = (
        TextColumn("{task.description:>8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bars:
        yield StageProgress(bars, None)


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
