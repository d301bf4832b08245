"""The customer ledger: one row per (customer, asset) balance, streamed into compact columns.

Format (issue 3, "Inputs"): a CSV file (RFC 4180 quoting, UTF-8, an optional BOM)
whose first line is exactly ``customer_id,asset,amount``, then one row per customer
and asset:

* ``customer_id``: a non-empty UTF-8 string of at most 256 bytes without control,
  format, bidi or separator characters (:mod:`circuits.text`; so no line break);
  quote it if it holds a comma or a quote;
* ``asset``: a symbol listed in the reserves file;
* ``amount``: a plain non-negative decimal string with at most the asset's decimals,
  below ``2^64`` base units (see :mod:`prover.amounts`).

Margin columns (issue 11, ``docs/FORMAT.md`` §14.1): after ``amount`` the header may
name, in any order, the optional columns ``debt`` and ``collateral_<type>`` (``<type>``
matching :data:`circuits.limits.MARGIN_TYPES_RE`, at most
:data:`circuits.limits.MAX_COLLATERAL_TYPES` of them), each at most once; any other
column name is refused (field ``header``). Every row then has that many fields. A
margin cell is a plain decimal like ``amount`` (same decimals and ``2^64`` rules),
and an empty cell is ``0``. The collateral of one row, all types together, must not
exceed its ``amount`` (the equity), else the row is refused naming the collateral
column at which the running sum (in header order) first exceeds it. ``amount`` is
the customer's equity in the asset. Whether the margin file matches the columns
(every ``<type>`` one of its ``collateral_types``) is checked by
:func:`prover.margin_inputs.margin_accounts`; a ledger with margin columns and no
margin file is refused by :func:`prover.margin_inputs.require_spot_ledger`.

A (customer, asset) pair appears at most once, and there is at least one data row.
Completely blank lines are skipped. Line numbers in messages are physical lines of
the file (a quoted field may span several); a record is reported at its first line.

Every failure raises :class:`~circuits.errors.InputError` with the message
``<file>:<line>: <field>: <reason>`` and ``section="<file>:<line>:<field>"``, where
``field`` is ``customer_id``, ``asset``, ``amount``, a margin column (``debt``,
``collateral_loan``), ``header``, ``row`` (column count, CSV syntax, encoding) or
``file``. Per-row problems are reported as they are read, in file order; duplicate
rows are found once the whole file has been read, so a bad row anywhere is reported
before a duplicate.

Memory: nothing is kept per row as a Python object. Each asset becomes an
:class:`AssetColumn` of numpy arrays plus one ``bytes`` blob of customer ids;
duplicates are found by sorting 128-bit BLAKE2b keys of the ids with numpy and
comparing the ids themselves wherever two keys are equal. Margin fields are kept only
for the rows where one is non-zero, as a sparse :class:`MarginColumn` per asset
(numpy arrays of row indices, debts and collateral), so a spot-only ledger, or the
spot rows of a margin ledger, cost nothing more than before.

No zk proof in here: this is input parsing.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Final, NamedTuple, TextIO

import numpy as np
import numpy.typing as npt

from circuits.errors import InputError
from circuits.limits import MARGIN_TYPES_RE, MAX_COLLATERAL_TYPES, MAX_ID_BYTES, RANGE_BITS
from circuits.text import text_problem
from prover.amounts import format_amount, parse_amount, quote_value
from prover.reserves import Reserves

__all__ = ["AssetColumn", "Ledger", "MarginColumn", "MarginRow", "load_ledger"]

LEDGER_HEADER: Final[tuple[str, str, str]] = ("customer_id", "asset", "amount")
#: The optional margin columns: ``debt`` and ``collateral_<type>`` (docs/FORMAT.md §14.1).
DEBT_COLUMN: Final[str] = "debt"
COLLATERAL_PREFIX: Final[str] = "collateral_"
# Balances are below 2^64 base units: each leaf gets a 64-bit range proof (docs/FORMAT.md §1).
AMOUNT_BITS: Final[int] = RANGE_BITS
# ``progress`` is called after this many data rows (and once at the end).
PROGRESS_EVERY: Final[int] = 1 << 16
# A longer physical line is refused before it is held in memory (a row is at most ~300 bytes).
MAX_LINE_CHARS: Final[int] = 1 << 20
_KEY_BYTES: Final[int] = 16
_KEY_BLOCK: Final[int] = 1 << 16


def _keys(ids: bytes, offsets: npt.NDArray[np.int64]) -> npt.NDArray[np.uint64]:
    """Return an ``(n, 2)`` array of 128-bit BLAKE2b keys of the ``n`` ids (as two uint64 words).

    Works in blocks of :data:`_KEY_BLOCK` rows so the transient Python objects stay bounded.
    """
    count = len(offsets) - 1
    keys = np.empty((count, 2), dtype=np.uint64)
    view = memoryview(ids)
    blake2b = hashlib.blake2b
    for block in range(0, count, _KEY_BLOCK):
        bounds = offsets[block : min(block + _KEY_BLOCK, count) + 1].tolist()
        blob = b"".join(
            [blake2b(view[start:end], digest_size=_KEY_BYTES).digest() for start, end in itertools.pairwise(bounds)]
        )
        keys[block : block + len(bounds) - 1] = np.frombuffer(blob, dtype="<u8").reshape(-1, 2)
    return keys


def _sort_keys(keys: npt.NDArray[np.uint64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64]]:
    """Return ``(order, sorted_keys)`` sorting the rows of ``keys`` lexicographically (stable)."""
    order = np.lexsort((keys[:, 1], keys[:, 0])).astype(np.int64)
    return order, keys[order]


def _equal_runs(sorted_keys: npt.NDArray[np.uint64]) -> Iterator[tuple[int, int]]:
    """Yield ``(start, end)`` of each run of two or more equal rows in ``sorted_keys``."""
    if len(sorted_keys) < 2:
        return
    same = np.all(sorted_keys[1:] == sorted_keys[:-1], axis=1)
    positions = np.flatnonzero(same)
    if positions.size == 0:
        return
    # Consecutive positions belong to one run; a gap starts a new one.
    breaks = np.flatnonzero(np.diff(positions) != 1)
    starts = np.concatenate(([positions[0]], positions[breaks + 1]))
    ends = np.concatenate((positions[breaks], [positions[-1]])) + 2
    yield from zip(starts.tolist(), ends.tolist(), strict=True)


@dataclass(frozen=True, eq=False)
class AssetColumn:
    """The ledger rows of one asset, in file order, as compact arrays.

    Attributes:
        symbol: the asset symbol.
        decimals: the asset's decimals (from the reserves file).
        amounts: ``uint64`` array of balances in base units, one per row.
        ids: the UTF-8 customer ids of the rows, concatenated.
        offsets: ``int64`` array of ``len + 1`` offsets into ``ids``: row ``i``'s id is
            ``ids[offsets[i]:offsets[i + 1]]``.

    Within a column customer ids are unique (the loader refuses duplicates).
    """

    symbol: str
    decimals: int
    amounts: npt.NDArray[np.uint64]
    ids: bytes
    offsets: npt.NDArray[np.int64]

    def __post_init__(self) -> None:
        """Check the array shapes and types (an internal invariant of the loader)."""
        if self.amounts.dtype != np.uint64 or self.amounts.ndim != 1:
            raise ValueError("amounts must be a 1-D uint64 array")
        if self.offsets.dtype != np.int64 or self.offsets.shape != (len(self.amounts) + 1,):
            raise ValueError("offsets must be an int64 array of length len(amounts) + 1")
        if self.offsets[0] != 0 or self.offsets[-1] != len(self.ids) or np.any(np.diff(self.offsets) <= 0):
            raise ValueError("offsets must start at 0, end at len(ids) and strictly increase")

    def __len__(self) -> int:
        """The number of rows (customers holding this asset)."""
        return len(self.amounts)

    def __repr__(self) -> str:
        return f"AssetColumn(symbol={self.symbol!r}, decimals={self.decimals}, rows={len(self)})"

    def customer_id_bytes(self, i: int) -> bytes:
        """Return the UTF-8 customer id of row ``i``."""
        return self.ids[int(self.offsets[i]) : int(self.offsets[i + 1])]

    def customer_id(self, i: int) -> str:
        """Return the customer id of row ``i``."""
        return self.customer_id_bytes(i).decode("utf-8")

    def amount(self, i: int) -> int:
        """Return the balance of row ``i`` in base units, as a Python int."""
        return int(self.amounts[i])

    def rows(self) -> Iterator[tuple[str, int]]:
        """Yield ``(customer_id, amount)`` for every row, in file order."""
        bounds = self.offsets.tolist()
        for i, amount in enumerate(self.amounts.tolist()):
            yield self.ids[bounds[i] : bounds[i + 1]].decode("utf-8"), amount

    def total(self) -> int:
        """Return the exact sum of the amounts (a Python int; no uint64 overflow).

        The low and high 32-bit halves are summed separately: each half-sum is below
        ``2^32 * len`` and so fits a uint64 for fewer than ``2^32`` rows.
        """
        if len(self.amounts) == 0:
            return 0
        assert len(self.amounts) < 1 << 32, "more rows than a leaf count can hold"
        low = int(np.sum(self.amounts & np.uint64(0xFFFFFFFF), dtype=np.uint64))
        high = int(np.sum(self.amounts >> np.uint64(32), dtype=np.uint64))
        return (high << 32) + low

    @cached_property
    def _index(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64]]:
        """``(order, sorted_keys)``: the rows sorted by the 128-bit key of their id."""
        return _sort_keys(_keys(self.ids, self.offsets))

    def find(self, customer_id: str) -> int | None:
        """Return the row of ``customer_id`` in this column, or ``None`` if it holds none.

        ``O(log n)`` after a one-off index build (a sort of the ids' 128-bit keys).
        """
        target = customer_id.encode("utf-8")
        key = np.frombuffer(hashlib.blake2b(target, digest_size=_KEY_BYTES).digest(), dtype="<u8")
        order, sorted_keys = self._index
        lo = int(np.searchsorted(sorted_keys[:, 0], key[0], side="left"))
        hi = int(np.searchsorted(sorted_keys[:, 0], key[0], side="right"))
        for position in range(lo, hi):
            row = int(order[position])
            if self.customer_id_bytes(row) == target:
                return row
        return None

    def _duplicates(self) -> list[tuple[int, int]]:
        """Return ``(first_row, later_row)`` for each repeated id (rows in file order)."""
        order, sorted_keys = self._index
        found: list[tuple[int, int]] = []
        for start, end in _equal_runs(sorted_keys):
            # Equal keys: compare the ids themselves (a BLAKE2b collision is not a duplicate).
            first: dict[bytes, int] = {}
            for row in sorted(order[start:end].tolist()):
                ident = self.customer_id_bytes(row)
                if ident in first:
                    found.append((first[ident], row))
                else:
                    first[ident] = row
        return found


@dataclass(frozen=True, eq=False)
class MarginColumn:
    """The margin fields of one asset's rows, kept only for rows where one is non-zero (sparse).

    Attributes:
        rows: ``int64`` array of row indices into the asset's :class:`AssetColumn`,
            strictly increasing (file order).
        debt: ``uint64`` array, the debt of each of those rows in base units.
        collateral: ``uint64`` array of shape ``(len(rows), K)``: the collateral pledged
            per type, in base units, the types being :attr:`Ledger.collateral_types`
            (ASCII order); ``K`` may be 0 (a ``debt`` column only).

    Every row listed has a non-zero debt or collateral, and its collateral (all types)
    is at most the row's amount.
    """

    rows: npt.NDArray[np.int64]
    debt: npt.NDArray[np.uint64]
    collateral: npt.NDArray[np.uint64]

    def __post_init__(self) -> None:
        """Check the array shapes and types (an internal invariant of the loader)."""
        n = len(self.rows)
        if self.rows.dtype != np.int64 or self.rows.ndim != 1 or np.any(np.diff(self.rows) <= 0):
            raise ValueError("rows must be a strictly increasing 1-D int64 array")
        if self.debt.dtype != np.uint64 or self.debt.shape != (n,):
            raise ValueError("debt must be a uint64 array of len(rows)")
        if self.collateral.dtype != np.uint64 or self.collateral.ndim != 2 or self.collateral.shape[0] != n:
            raise ValueError("collateral must be a (len(rows), K) uint64 array")

    def __len__(self) -> int:
        """The number of rows with a non-zero debt or collateral."""
        return len(self.rows)

    def __repr__(self) -> str:
        return f"MarginColumn(rows={len(self)}, types={self.collateral.shape[1]})"


class MarginRow(NamedTuple):
    """One ledger row with a non-zero debt or collateral (:meth:`Ledger.margin_rows`).

    Attributes:
        customer_id: the row's customer.
        asset: the row's asset symbol.
        row: the row's index in ``ledger.columns[asset]``.
        equity: the row's ``amount``, in base units.
        debt: the row's debt, in base units.
        collateral: per type of :attr:`Ledger.collateral_types`, the pledged base units.
    """

    customer_id: str
    asset: str
    row: int
    equity: int
    debt: int
    collateral: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class Ledger:
    """A validated ledger.

    Attributes:
        path: the file it was read from.
        columns: one :class:`AssetColumn` per reserves asset, in the reserves order
            (sorted by symbol); an asset nobody holds has an empty column.
        customers: the number of distinct customer ids.
        margin_columns: the optional margin columns of the header (``debt``,
            ``collateral_<type>``), in file order; empty for a spot-only ledger.
        collateral_types: the ``<type>`` of each ``collateral_<type>`` column, in ASCII
            order (the order of :attr:`MarginColumn.collateral`).
        margin: one :class:`MarginColumn` per asset (reserves order) when the ledger
            has margin columns, else empty: the rows with a non-zero debt or collateral.
        header_line: the physical line of the header (for messages about it).
    """

    path: Path
    columns: dict[str, AssetColumn]
    customers: int
    margin_columns: tuple[str, ...] = ()
    collateral_types: tuple[str, ...] = ()
    margin: dict[str, MarginColumn] = field(default_factory=dict)
    header_line: int = 1

    @property
    def has_margin_columns(self) -> bool:
        """Whether the header names any margin column (even if every margin cell is empty or 0)."""
        return bool(self.margin_columns)

    @property
    def margin_row_count(self) -> int:
        """The number of rows with a non-zero debt or collateral, over all assets."""
        return sum(len(m) for m in self.margin.values())

    def margin_rows(self) -> Iterator[MarginRow]:
        """Yield every row with a non-zero debt or collateral: assets in reserves order, rows in file order."""
        for symbol, margin in self.margin.items():
            column = self.columns[symbol]
            collateral = margin.collateral.tolist()
            for i, (row, debt) in enumerate(zip(margin.rows.tolist(), margin.debt.tolist(), strict=True)):
                yield MarginRow(column.customer_id(row), symbol, row, column.amount(row), debt, tuple(collateral[i]))

    def __repr__(self) -> str:
        sizes = ", ".join(f"{s}={len(c)}" for s, c in self.columns.items())
        return f"Ledger(path={str(self.path)!r}, customers={self.customers}, rows: {sizes})"

    @property
    def rows(self) -> int:
        """The number of data rows (leaves before padding), over all assets."""
        return sum(len(c) for c in self.columns.values())

    def customer_ids(self) -> Iterator[str]:
        """Yield every distinct customer id once, sorted by code point.

        Builds a transient set of all ids (one object per customer) while iterating.
        """
        distinct: set[bytes] = set()
        for column in self.columns.values():
            bounds = column.offsets.tolist()
            data = column.ids
            distinct.update(data[a:b] for a, b in itertools.pairwise(bounds))
        # UTF-8 byte order is code point order.
        for ident in sorted(distinct):
            yield ident.decode("utf-8")

    def holdings(self, customer_id: str) -> dict[str, int]:
        """Return ``{symbol: row}`` for every asset ``customer_id`` holds (reserves order)."""
        found: dict[str, int] = {}
        for symbol, column in self.columns.items():
            row = column.find(customer_id)
            if row is not None:
                found[symbol] = row
        return found


class _Fail:
    """Builds the InputError ``<file>:<line>: <field>: <reason>``, section ``<file>:<line>:<field>``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, line: int, field: str, reason: str) -> InputError:
        return InputError(
            f"{self.name}:{line}: {field}: {reason}", section=f"{self.name}:{line}:{field}", file=self.name, field=field
        )


class _ColumnBuilder:
    """Growable typed buffers for one asset while the file is read (no object per row).

    ``margin_rows`` and ``margin_values`` hold only the rows with a non-zero margin
    cell: the row index, then ``1 + K`` values per row (debt, collateral per type).
    """

    __slots__ = ("amounts", "ids", "lines", "margin_rows", "margin_values", "offsets")

    def __init__(self) -> None:
        self.amounts = array("Q")
        self.lines = array("Q")
        self.ids = bytearray()
        self.offsets = array("q", [0])
        self.margin_rows = array("q")
        self.margin_values = array("Q")


class _MarginHeader(NamedTuple):
    """The optional columns of a header: names in file order, the value slot of each, the collateral types."""

    names: tuple[str, ...]
    slots: tuple[int, ...]  # 0 = debt, 1 + k = collateral type k (ASCII order)
    types: tuple[str, ...]


def _margin_header(extra: list[str], line: int, fail: _Fail) -> _MarginHeader:
    """Validate the header's columns after ``amount``: ``debt`` and ``collateral_<type>``, each at most once."""
    seen: set[str] = set()
    types: list[str] = []
    for name in extra:
        if name in seen:
            raise fail(line, "header", f"column {quote_value(name)} appears twice")
        seen.add(name)
        if name == DEBT_COLUMN:
            continue
        kind = name.removeprefix(COLLATERAL_PREFIX)
        if kind == name or MARGIN_TYPES_RE.fullmatch(kind) is None:
            raise fail(
                line,
                "header",
                f"unknown column {quote_value(name)} (after {','.join(LEDGER_HEADER)} only {DEBT_COLUMN} and "
                f"{COLLATERAL_PREFIX}<type> may follow, <type> matching {MARGIN_TYPES_RE.pattern})",
            )
        types.append(kind)
    if len(types) > MAX_COLLATERAL_TYPES:
        raise fail(line, "header", f"{len(types)} collateral columns, at most {MAX_COLLATERAL_TYPES} types")
    ordered = tuple(sorted(types))
    slots = tuple(0 if n == DEBT_COLUMN else 1 + ordered.index(n.removeprefix(COLLATERAL_PREFIX)) for n in extra)
    return _MarginHeader(tuple(extra), slots, ordered)


def _margin_cells(
    row: list[str], header: _MarginHeader, amount: int, decimals: int, asset: str, line: int, fail: _Fail
) -> list[int]:
    """Parse the margin cells of one row: ``[debt, collateral per type]``; empty cells are 0.

    Raises:
        InputError: a bad cell (field: its column), or collateral above the row's amount
            (field: the collateral column at which the running sum first exceeds it).
    """
    values = [0] * (1 + len(header.types))
    pledged = 0
    for name, slot, text in zip(header.names, header.slots, row[3:], strict=True):
        if text == "":
            continue
        if _is_bad_utf8(text):
            raise fail(line, name, "invalid UTF-8")
        try:
            value = parse_amount(text, decimals, max_bits=AMOUNT_BITS)
        except ValueError as exc:
            raise fail(line, name, f"{exc} for {asset}") from None
        values[slot] = value
        if slot:
            pledged += value
            if pledged > amount:
                raise fail(
                    line,
                    name,
                    f"collateral (all types) of {format_amount(pledged, decimals)} {asset} exceeds the row's "
                    f"amount {format_amount(amount, decimals)} (collateral is pledged out of the equity)",
                )
    return values


def _bounded_lines(f: TextIO, fail: _Fail) -> Iterator[str]:
    """Yield the physical lines of ``f``, refusing any longer than :data:`MAX_LINE_CHARS`."""
    number = 0
    while True:
        line = f.readline(MAX_LINE_CHARS)
        if not line:
            return
        number += 1
        if len(line) >= MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
            raise fail(number, "row", f"line longer than {MAX_LINE_CHARS} characters")
        yield line


def _is_bad_utf8(text: str) -> bool:
    """True if ``text`` holds surrogate escapes, i.e. the file bytes were not valid UTF-8."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def load_ledger(
    path: Path,
    reserves: Reserves,
    *,
    progress: Callable[[int], None] | None = None,
) -> Ledger:
    """Stream the ledger CSV at ``path`` into per-asset columns, validating every row.

    Args:
        path: the CSV file.
        reserves: the validated reserves; they define the known assets and their decimals.
        progress: called with the number of data rows read so far, every
            :data:`PROGRESS_EVERY` rows and once at the end.

    Raises:
        InputError: ``<file>:<line>: <field>: <reason>`` for an unreadable file, a wrong
            header, malformed CSV, a wrong number of fields, invalid UTF-8, an empty or
            over-long customer id, an unknown asset, a bad, negative, over-precise or
            ``>= 2^64`` amount, a duplicate (customer, asset) row (naming both lines),
            or a ledger without data rows; an unknown or repeated margin column, a bad
            margin cell (as ``amount``), or collateral above the row's amount.
    """
    path = Path(path)
    fail = _Fail(path.name)
    specs = {spec.symbol: spec for spec in reserves.assets}
    builders = {symbol: _ColumnBuilder() for symbol in specs}
    rows = 0
    try:
        handle = path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="")
    except OSError as exc:
        raise fail(1, "file", f"cannot read: {exc.strerror or exc}") from None
    with handle:
        reader = csv.reader(_bounded_lines(handle, fail), strict=True)
        previous = 0  # physical lines consumed before the current record
        header_seen = False
        header_line = 1
        margin = _MarginHeader((), (), ())
        width = len(LEDGER_HEADER)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise fail(previous + 1, "row", f"malformed CSV: {exc}") from None
            except OSError as exc:
                raise fail(previous + 1, "file", f"cannot read: {exc.strerror or exc}") from None
            line = previous + 1
            previous = reader.line_num
            if not row:
                continue  # a blank line
            if not header_seen:
                if any(_is_bad_utf8(cell) for cell in row):
                    raise fail(line, "header", "invalid UTF-8")
                if tuple(row[:3]) != LEDGER_HEADER:
                    raise fail(
                        line,
                        "header",
                        f"expected exactly {','.join(LEDGER_HEADER)} (optionally followed by {DEBT_COLUMN} and "
                        f"{COLLATERAL_PREFIX}<type> columns), found {quote_value(','.join(row))}",
                    )
                margin = _margin_header(row[3:], line, fail)
                width = len(row)
                header_seen = True
                header_line = line
                continue
            if len(row) != width:
                names = ",".join((*LEDGER_HEADER, *margin.names))
                raise fail(line, "row", f"expected {width} fields ({names}), found {len(row)}")
            if margin.names:
                customer_id, asset, amount_text = row[0], row[1], row[2]
            else:
                customer_id, asset, amount_text = row

            try:
                id_bytes = customer_id.encode("utf-8")
            except UnicodeEncodeError:
                raise fail(line, "customer_id", "invalid UTF-8") from None
            problem = text_problem(customer_id, MAX_ID_BYTES)
            if problem is not None:
                raise fail(line, "customer_id", problem if id_bytes else "empty customer id")

            builder = builders.get(asset)
            if builder is None:
                if _is_bad_utf8(asset):
                    raise fail(line, "asset", "invalid UTF-8")
                listed = ", ".join(list(specs)[:10]) + (", ..." if len(specs) > 10 else "")
                raise fail(line, "asset", f"unknown asset {quote_value(asset)} (the reserves list {listed})")

            if _is_bad_utf8(amount_text):
                raise fail(line, "amount", "invalid UTF-8")
            try:
                amount = parse_amount(amount_text, specs[asset].decimals, max_bits=AMOUNT_BITS)
            except ValueError as exc:
                raise fail(line, "amount", f"{exc} for {asset}") from None

            if margin.names and any(row[3:]):
                cells = _margin_cells(row, margin, amount, specs[asset].decimals, asset, line, fail)
                if any(cells):
                    builder.margin_rows.append(len(builder.amounts))
                    builder.margin_values.extend(cells)
            builder.amounts.append(amount)
            builder.lines.append(line)
            builder.ids += id_bytes
            builder.offsets.append(len(builder.ids))
            rows += 1
            if progress is not None and rows % PROGRESS_EVERY == 0:
                progress(rows)

    if not header_seen:
        raise fail(1, "header", f"empty ledger: the file is empty (expected the header {','.join(LEDGER_HEADER)})")
    if rows == 0:
        raise fail(previous + 1, "row", "empty ledger: no data rows after the header")

    columns: dict[str, AssetColumn] = {}
    margins: dict[str, MarginColumn] = {}
    line_numbers: dict[str, array[int]] = {}
    for symbol in specs:
        builder = builders.pop(symbol)  # free each builder's buffers as soon as they are copied
        columns[symbol] = AssetColumn(
            symbol=symbol,
            decimals=specs[symbol].decimals,
            amounts=np.frombuffer(builder.amounts, dtype=np.uint64).copy(),
            ids=bytes(builder.ids),
            offsets=np.frombuffer(builder.offsets, dtype=np.int64).copy(),
        )
        if margin.names:
            values = np.frombuffer(builder.margin_values, dtype=np.uint64).reshape(-1, 1 + len(margin.types))
            margins[symbol] = MarginColumn(
                rows=np.frombuffer(builder.margin_rows, dtype=np.int64).copy(),
                debt=values[:, 0].copy(),
                collateral=values[:, 1:].copy(),
            )
        line_numbers[symbol] = builder.lines
        del builder

    # Report the duplicate whose second occurrence comes first in the file.
    worst: tuple[int, int, str, int] | None = None
    for symbol, column in columns.items():
        lines = line_numbers[symbol]
        for first, later in column._duplicates():
            candidate = (lines[later], lines[first], symbol, later)
            if worst is None or candidate < worst:
                worst = candidate
    if worst is not None:
        later_line, first_line, symbol, later_row = worst
        raise fail(
            later_line,
            "customer_id",
            f"duplicate (customer, asset) row: customer {quote_value(columns[symbol].customer_id(later_row))} "
            f"already has a {symbol} row at line {first_line} (lines {first_line} and {later_line})",
        )
    del line_numbers

    if progress is not None:
        progress(rows)
    return Ledger(
        path=path,
        columns=columns,
        customers=_count_distinct(columns),
        margin_columns=margin.names,
        collateral_types=margin.types,
        margin=margins,
        header_line=header_line,
    )


def _count_distinct(columns: dict[str, AssetColumn]) -> int:
    """Count distinct customer ids over all columns by their 128-bit keys.

    Ids are unique within a column, so only equal keys across columns matter; two
    different ids share a 128-bit BLAKE2b key with probability about ``n^2 / 2^129``.
    """
    keys = [column._index[1] for column in columns.values() if len(column)]
    if not keys:
        return 0
    _, merged = _sort_keys(np.concatenate(keys))
    return int(1 + np.count_nonzero(np.any(merged[1:] != merged[:-1], axis=1)))
