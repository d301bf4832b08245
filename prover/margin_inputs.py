r"""Margin inputs (issue 11): the round's margin file and the ledger's margin accounts, checked before proving.

Two steps, both before any proof (``docs/FORMAT.md`` §14.1, ``circuits/notes/42-margin.md``):

1. :func:`load_margin_file` reads ``margin.json`` (``solvency prove --margin``): the value
   decimals ``q``, the collateral types, the optional slot count ``S``, and per asset of the
   round its price and one haircut schedule per collateral type, written as decimal strings
   in the quote currency with at most ``q`` decimals and converted here to integer **value
   units** (``10^-q`` of the quote currency). It returns a :class:`MarginFile`.
2. :func:`margin_accounts` groups the ledger's margin rows (:meth:`prover.ledger.Ledger.margin_rows`)
   into accounts and checks every account with :mod:`circuits.margin`'s integer math
   (:func:`~circuits.margin.collateral_value`, the tier lines of
   :func:`~circuits.margin.tier_lines`, i.e. :func:`~circuits.margin.scaled_haircut`, and
   :func:`~circuits.margin.account_excess`). It returns :class:`MarginAccounts`.

A customer is a **margin account** if any of its rows has a non-zero debt or collateral;
each of its rows with a non-zero debt or collateral becomes one of its **slots** (its other
rows stay spot rows). An account is refused, never dropped, when

* it touches more assets than ``S`` (``slots`` of the file; default: the most any account
  touches, so only an explicit ``slots`` can be too small);
* condition (M) fails: its haircut collateral value ``Σ H/100`` is below its debt value
  ``Σ P*d/10^dec`` (exact; printed in quote units with ``q`` decimals, the haircut value
  rounded down and the debt value up);
* a proof for it could not be complete: a collateral value ``V >= 2^56`` value units (then a
  tier slack could reach ``2^64``), or an excess ``x >= 2^128`` (it is proved as two 64-bit limbs).

Errors (:class:`~circuits.errors.InputError`, exit 4):

* the margin file: ``margin.json: line L: FIELD: reason``, ``section="margin.json:FIELD"``,
  ``file`` and ``field`` set (as ``wallets.json``), ``FIELD`` the JSON path as written
  (``assets[1].haircuts.loan[2].ratio``; ``file`` for an unreadable or non-JSON file);
* an account: ``ledger.csv: customer ID: reason``, ``section="ledger.csv:customer ID"``,
  ``field="customer ID"``;
* a collateral column of the ledger whose type the margin file does not list:
  ``ledger.csv:L: header: ...`` (the ledger's own format, :mod:`prover.ledger`);
* a ledger with margin columns proved without a margin file: :func:`require_spot_ledger`.

What the prover consumes (:class:`MarginAccounts`):

* ``params``: the :class:`~circuits.margin.MarginParams` of the round, ``S`` resolved and
  ``accounts`` (``M``) the next power of two of the account count (at least 1); replace it
  (:func:`dataclasses.replace`) to pad further;
* ``accounts``: one :class:`MarginAccount` per margin customer, sorted by customer id (code
  point order): ``customer_id`` and its real ``slots`` (:class:`AccountSlot`, ascending asset
  position), each with the asset ``symbol``, its position ``asset`` in ``params.assets``, the
  ledger ``row`` in ``ledger.columns[symbol]``, ``equity`` (the row's amount), ``debt``,
  ``collateral`` per type (``params.collateral_types`` order), the values ``V_k``, the scaled
  haircuts ``H_k``, ``unpledged`` (``w``); :meth:`AccountSlot.amounts` gives the
  :class:`~circuits.margin.SlotAmounts` for the leaf the prover assigns; ``excess`` is ``x``;
* ``debt`` and ``collateral``: per asset, the total debt and pledged collateral (base units).

How ``solvency prove`` uses it::

    margin_file = load_margin_file(margin_path, reserves.assets)  # with --margin: before the ledger is read
    ledger = load_ledger(ledger_path, reserves)
    accounts = margin_accounts(ledger, margin_file)  # with --margin
    require_spot_ledger(ledger)                      # without --margin

The prover assigns each slot's leaf (:meth:`AccountSlot.amounts`), adds the dummy slots and
accounts, and subtracts ``accounts.debt`` from each asset's liabilities for the solvency check.

No zk proof in here: this is input parsing and the prover's pre-check.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NoReturn

from circuits.errors import FormatError, InputError
from circuits.jsonio import Fields, load_json
from circuits.limits import (
    MARGIN_TYPES_RE,
    MAX_ASSETS,
    MAX_COLLATERAL_TYPES,
    MAX_MARGIN_ACCOUNTS,
    MAX_MARGIN_ASSET_DECIMALS,
    MAX_MARGIN_SLOTS,
    MAX_PRICE_EXCLUSIVE,
    MAX_TIER_BOUNDARY,
    MAX_TIERS,
    MAX_VALUE_DECIMALS,
    SYMBOL_RE,
)
from circuits.margin import (
    AssetMargin,
    MarginParams,
    SlotAmounts,
    Tier,
    account_excess,
    collateral_value,
    tier_lines,
)
from prover.amounts import parse_amount, quote_value
from prover.json_lines import line_of
from prover.ledger import COLLATERAL_PREFIX, Ledger
from prover.reserves import AssetSpec

__all__ = [
    "MarginFile",
    "load_margin_file",
    "margin_accounts",
    "require_spot_ledger",
]

#: A margin file is small (256 assets x 3 types x 8 tiers); refuse anything larger before parsing.
MAX_MARGIN_FILE_BYTES: Final[int] = 1 << 22
#: A collateral value at or above this (value units) is refused: every tier slack stays below ``2^64``.
MAX_COLLATERAL_VALUE_EXCLUSIVE: Final[int] = MAX_TIER_BOUNDARY
#: An account excess at or above this is refused: ``x = lo + 2^64*hi`` with two 64-bit limbs.
MAX_EXCESS_EXCLUSIVE: Final[int] = 1 << 128
_WHERE: Final[str] = "margin"
_PRICE_BITS: Final[int] = MAX_PRICE_EXCLUSIVE.bit_length() - 1
_BOUNDARY_BITS: Final[int] = MAX_TIER_BOUNDARY.bit_length() - 1
assert 1 << _PRICE_BITS == MAX_PRICE_EXCLUSIVE and 1 << _BOUNDARY_BITS == MAX_TIER_BOUNDARY


# ---------------------------------------------------------------------------
# The margin file


@dataclass(frozen=True)
class MarginFile:
    """A validated ``margin.json`` (``docs/FORMAT.md`` §14.1), amounts in integer value units.

    Attributes:
        name: the file name (for messages).
        value_decimals: ``q``; the value unit is ``10^-q`` of the quote currency.
        collateral_types: 1 to 3 type names, in ASCII order.
        slots: the file's ``slots`` (``S``), or ``None`` for the default (the most assets any
            margin account touches).
        assets: every asset of the round, in the reserves (manifest) order, with its decimals,
            its price and one schedule per collateral type (``collateral_types`` order).
    """

    name: str
    value_decimals: int
    collateral_types: tuple[str, ...]
    slots: int | None
    assets: tuple[AssetMargin, ...]

    def params(self, slots: int, accounts: int) -> MarginParams:
        """Return the round's :class:`~circuits.margin.MarginParams` with ``S = slots`` and ``M = accounts``."""
        return MarginParams(
            value_decimals=self.value_decimals,
            collateral_types=self.collateral_types,
            slots=slots,
            accounts=accounts,
            assets=self.assets,
        )


def _fail(f: Fields, key: str | None, reason: str) -> NoReturn:
    f.fail(key, reason)


def _decimal(f: Fields, key: str, q: int, bits: int, what: str) -> int:
    """Return the decimal string ``key`` (at most ``q`` decimals) in value units, in ``[1, 2^bits)``."""
    text = f.raw(key)
    if not isinstance(text, str):
        _fail(f, key, f'expected a decimal string (a {what} in the quote currency, e.g. "97000.5")')
    try:
        value = parse_amount(text, q, max_bits=bits, noun=what)
    except ValueError as exc:
        reason = str(exc).replace("base units", "value units").replace("amount", what)
        _fail(f, key, f"{reason} (value_decimals is {q})")
    if value == 0:
        _fail(f, key, f"a {what} of zero: it must be positive")
    return value


def _schedule(h: Fields, name: str, q: int) -> tuple[Tier, ...]:
    """Read the schedule of collateral type ``name`` from the ``haircuts`` object ``h``."""
    where = f"{h.where}.{name}"
    raw = h.raw(name) if h.has(name) else _fail(h, name, "missing: every collateral type needs a schedule")
    if not isinstance(raw, list):
        _fail(h, name, "expected a list of tiers")
    if not 1 <= len(raw) <= MAX_TIERS:
        _fail(h, name, f"{len(raw)} tiers: a schedule has 1 to {MAX_TIERS}")
    tiers: list[Tier] = []
    previous_bound, previous_text, previous_ratio = 0, "0", 100
    for t, item in enumerate(raw):
        g = Fields(item, f"{where}[{t}]")
        last = t == len(raw) - 1
        if last:
            if g.has("up_to"):
                g.fail("up_to", "the last tier has no up_to: it covers every value above the previous boundary")
            bound = None
        else:
            if not g.has("up_to"):
                g.fail("up_to", "missing: every tier but the last has an up_to boundary")
            bound = _decimal(g, "up_to", q, _BOUNDARY_BITS, "boundary")
            if bound <= previous_bound:
                g.fail(
                    "up_to",
                    f"{quote_value(g.raw('up_to'))} is not above the previous boundary {quote_value(previous_text)}: "
                    "boundaries strictly increase along the tiers",
                )
            previous_bound, previous_text = bound, g.raw("up_to")
        ratio = g.integer("ratio", 0, 100)
        if ratio > previous_ratio:
            g.fail("ratio", f"{ratio} is above the previous tier's {previous_ratio}: ratios must not increase")
        previous_ratio = ratio
        g.done()
        tiers.append(Tier(bound, ratio))
    return tuple(tiers)


def _collateral_types(f: Fields) -> tuple[str, ...]:
    raw = f.raw("collateral_types")
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_COLLATERAL_TYPES:
        _fail(f, "collateral_types", f"expected a list of 1 to {MAX_COLLATERAL_TYPES} collateral type names")
    for i, name in enumerate(raw):
        if not isinstance(name, str) or MARGIN_TYPES_RE.fullmatch(name) is None:
            _fail(f, f"collateral_types[{i}]", f"expected a name matching {MARGIN_TYPES_RE.pattern}")
        if name in raw[:i]:
            _fail(f, f"collateral_types[{i}]", f"duplicate collateral type {name!r}")
        if i and name < raw[i - 1]:
            _fail(f, f"collateral_types[{i}]", f"{name!r} after {raw[i - 1]!r}: the types are in ASCII order")
    return tuple(raw)


def _parse(obj: Any, assets: Sequence[AssetSpec], name: str) -> MarginFile:
    """Validate the parsed document; every problem raises FormatError with the field's path as ``section``."""
    f = Fields(obj, _WHERE)
    q = f.integer("value_decimals", 0, MAX_VALUE_DECIMALS)
    types = _collateral_types(f)
    slots: int | None = None
    if f.has("slots"):
        slots = f.integer("slots", 1, MAX_MARGIN_SLOTS)
        if slots > len(assets):
            f.fail("slots", f"{slots} slots, more than the {len(assets)} assets of the round")
    specs = {spec.symbol: spec for spec in assets}
    raw_assets = f.raw("assets")
    if not isinstance(raw_assets, list) or len(raw_assets) > MAX_ASSETS:
        f.fail("assets", f"expected a list of at most {MAX_ASSETS} asset entries")
    found: dict[str, tuple[int, AssetMargin]] = {}
    for i, item in enumerate(raw_assets):
        g = Fields(item, f"{_WHERE}.assets[{i}]")
        symbol = g.raw("symbol")
        if not isinstance(symbol, str) or symbol not in specs:
            shown = quote_value(symbol) if isinstance(symbol, str) else "a non-string"
            listed = ", ".join(list(specs)[:10]) + (", ..." if len(specs) > 10 else "")
            g.fail("symbol", f"unknown asset {shown} (the reserves list {listed})")
        assert SYMBOL_RE.fullmatch(symbol)
        if symbol in found:
            g.fail("symbol", f"duplicate asset {symbol} (also assets[{found[symbol][0]}])")
        decimals = specs[symbol].decimals
        if decimals > MAX_MARGIN_ASSET_DECIMALS:
            g.fail(
                "symbol",
                f"{symbol} has {decimals} decimals: an asset of a round with margin accounts has at most "
                f"{MAX_MARGIN_ASSET_DECIMALS}",
            )
        price = _decimal(g, "price", q, _PRICE_BITS, "price")
        h = g.obj("haircuts")
        schedules = tuple(_schedule(h, kind, q) for kind in types)
        h.done()
        g.done()
        found[symbol] = (i, AssetMargin(symbol, decimals, price, schedules))
    missing = [symbol for symbol in specs if symbol not in found]
    if missing:
        f.fail(
            "assets",
            f"no entry for {', '.join(missing[:10])}{', ...' if len(missing) > 10 else ''} "
            "(every asset of the round needs a price and a schedule per collateral type)",
        )
    f.done()
    return MarginFile(
        name=name,
        value_decimals=q,
        collateral_types=types,
        slots=slots,
        assets=tuple(found[spec.symbol][1] for spec in assets),
    )


def _located(name: str, text: str, exc: FormatError) -> InputError:
    """``<file>: line <L>: <field>: <reason>`` from a FormatError whose section is the field's path."""
    section = exc.section or _WHERE
    reason = str(exc)
    if reason.startswith(f"{section}: "):
        reason = reason[len(section) + 2 :]
    field = section.partition(".")[2] or "file"
    line = line_of(text, field) if field != "file" else None
    where = f"line {line}: " if line is not None else ""
    return InputError(f"{name}: {where}{field}: {reason}", section=f"{name}:{field}", file=name, field=field)


def load_margin_file(path: Path, assets: Sequence[AssetSpec]) -> MarginFile:
    """Read and validate ``margin.json`` (``docs/FORMAT.md`` §14.1) against the round's ``assets``.

    Args:
        path: the file.
        assets: the round's assets (``Reserves.assets``: symbols and decimals, manifest order).

    Raises:
        InputError: ``margin.json: line L: FIELD: reason`` for an unreadable, oversized or
            non-JSON file, an unknown or missing key, ``value_decimals`` outside ``[0, 18]``,
            bad, unsorted, duplicate or too many (> 3) collateral types, ``slots`` outside
            ``[1, 16]`` or above the asset count, an unknown, duplicate or missing asset, an
            asset with more than 18 decimals, a price or boundary that is not a decimal string
            with at most ``q`` decimals, a zero price or one of ``2^64`` value units or more,
            a schedule missing for a type or of 0 or more than 8 tiers, a ratio outside
            ``[0, 100]`` or above the previous tier's, a boundary of zero, ``>= 2^56`` value
            units, or not above the previous one, a last tier with ``up_to`` or another
            tier without it.
    """
    path = Path(path)
    name = path.name
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_MARGIN_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(
            f"{name}: file: cannot read: {exc.strerror or exc}", section=f"{name}:file", file=name, field="file"
        ) from None
    data = data.removeprefix(b"\xef\xbb\xbf")
    text = data.decode("utf-8", "replace")
    try:
        obj, _ = load_json(data, MAX_MARGIN_FILE_BYTES, _WHERE)
        return _parse(obj, assets, name)
    except FormatError as exc:
        raise _located(name, text, exc) from None


# ---------------------------------------------------------------------------
# The accounts


@dataclass(frozen=True, repr=False)
class AccountSlot:
    """One real slot of a margin account: a ledger row with a non-zero debt or collateral (secret amounts).

    Attributes:
        symbol: the asset.
        asset: its position in ``MarginParams.assets`` (manifest order).
        row: the row's index in ``ledger.columns[symbol]``.
        equity: ``e``, the row's amount (base units).
        debt: ``d`` (base units).
        collateral: ``c_k`` per collateral type (``MarginParams.collateral_types`` order).
        values: ``V_k = floor(P*c_k/10^dec)`` (value units).
        haircuts: ``H_k = 100*h_k(V_k)`` (hundredths of a value unit).
    """

    symbol: str
    asset: int
    row: int
    equity: int
    debt: int
    collateral: tuple[int, ...]
    values: tuple[int, ...]
    haircuts: tuple[int, ...]

    def __repr__(self) -> str:
        return f"AccountSlot(symbol={self.symbol!r}, asset={self.asset}, row={self.row}, <secret>)"

    @property
    def unpledged(self) -> int:
        """``w = e - Σ_k c_k``, the equity not pledged (never negative: the ledger refuses more)."""
        return self.equity - sum(self.collateral)

    def amounts(self, leaf: int) -> SlotAmounts:
        """Return the slot as :class:`~circuits.margin.SlotAmounts` naming ``leaf`` (the prover's leaf index)."""
        return SlotAmounts(
            self.asset, leaf, self.equity, self.debt, self.unpledged, self.collateral, self.values, self.haircuts
        )


@dataclass(frozen=True, repr=False)
class MarginAccount:
    """A margin customer whose account passed every check.

    Attributes:
        customer_id: the customer.
        slots: its real slots, by ascending asset position (1 to ``S`` of them).
        excess: ``x = Δ*Σ H - 100*Σ P*(Δ/δ)*d`` (:func:`circuits.margin.account_excess`), in ``[0, 2^128)``.
    """

    customer_id: str
    slots: tuple[AccountSlot, ...]
    excess: int

    def __repr__(self) -> str:
        return f"MarginAccount(customer_id={self.customer_id!r}, slots={[s.symbol for s in self.slots]}, <secret>)"


@dataclass(frozen=True, eq=False, repr=False)
class MarginAccounts:
    """The round's margin accounts, every one checked, and the parameters to prove them under.

    Attributes:
        params: the round's parameters; ``slots`` resolved, ``accounts`` the next power of two
            of ``len(accounts)`` (at least 1).
        accounts: the accounts, sorted by customer id (code point order).
        debt: per asset (manifest order), the total debt in base units.
        collateral: per asset, the total pledged collateral (all types) in base units.
    """

    params: MarginParams
    accounts: tuple[MarginAccount, ...]
    debt: dict[str, int]
    collateral: dict[str, int]

    def __len__(self) -> int:
        """The number of (real) margin accounts."""
        return len(self.accounts)

    def __iter__(self) -> Iterator[MarginAccount]:
        return iter(self.accounts)

    def __repr__(self) -> str:
        return f"MarginAccounts(accounts={len(self)}, slots={self.params.slots}, records={self.params.accounts})"

    def find(self, customer_id: str) -> MarginAccount | None:
        """Return ``customer_id``'s account, or ``None`` for a spot-only customer (binary search)."""
        lo, hi = 0, len(self.accounts)
        key = customer_id.encode("utf-8")
        while lo < hi:
            mid = (lo + hi) // 2
            if self.accounts[mid].customer_id.encode("utf-8") < key:
                lo = mid + 1
            else:
                hi = mid
        if lo < len(self.accounts) and self.accounts[lo].customer_id == customer_id:
            return self.accounts[lo]
        return None


def require_spot_ledger(ledger: Ledger) -> None:
    """Refuse a ledger with margin columns when no margin file is given (``solvency prove`` without ``--margin``).

    Raises:
        InputError: ``ledger.csv:L: header: ...`` (the header's line), even if every margin cell is empty:
            the columns say the ledger has margin accounts, and proving it as spot-only would drop them.
    """
    if not ledger.has_margin_columns:
        return
    name = ledger.path.name
    line = ledger.header_line
    raise InputError(
        f"{name}:{line}: header: the margin columns {', '.join(ledger.margin_columns)} need the round's margin "
        "parameters (solvency prove --margin margin.json, docs/FORMAT.md §14.1)",
        section=f"{name}:{line}:header",
        file=name,
        field="header",
    )


def _quote_units(value_units_times: int, scale: int, q: int, *, up: bool) -> str:
    """Format ``value_units_times / scale`` value units in quote units with ``q`` decimals (floor or ceiling)."""
    units = -(-value_units_times // scale) if up else value_units_times // scale
    sign = "-" if units < 0 else ""
    whole, fraction = divmod(abs(units), 10**q)
    return f"{sign}{whole}.{fraction:0{q}d}" if q else f"{sign}{whole}"


def _account_error(name: str, customer_id: str, reason: str) -> InputError:
    field = f"customer {customer_id}"
    return InputError(f"{name}: {field}: {reason}", section=f"{name}:{field}", file=name, field=field)


def _next_power_of_two(n: int) -> int:
    return 1 << max(0, n - 1).bit_length()


def margin_accounts(ledger: Ledger, margin_file: MarginFile) -> MarginAccounts:
    """Group the ledger's margin rows into accounts, check each, and return them with the round's parameters.

    Args:
        ledger: the loaded ledger (:func:`prover.ledger.load_ledger`, same reserves as the margin file).
        margin_file: the loaded margin file (:func:`load_margin_file`).

    Raises:
        InputError: a ledger collateral column whose type the margin file does not list
            (``ledger.csv:L: header: ...``); more than ``2^24`` margin accounts; and, naming the first
            failing account in customer id order (``ledger.csv: customer ID: ...``), an account touching
            more assets than ``slots``, a collateral value of ``2^56`` value units or more, an account
            whose haircut collateral value is below its debt value (condition (M)), or whose excess is
            ``2^128`` or more.
    """
    name = ledger.path.name
    types = margin_file.collateral_types
    for kind in ledger.collateral_types:
        if kind not in types:
            line = ledger.header_line
            raise InputError(
                f"{name}:{line}: header: column {COLLATERAL_PREFIX}{kind}: collateral type {kind!r} is not one of "
                f"{margin_file.name}'s collateral_types ({', '.join(types)})",
                section=f"{name}:{line}:header",
                file=name,
                field="header",
            )
    symbols = [a.symbol for a in margin_file.assets]
    if symbols != list(ledger.columns):
        raise InputError(
            f"{name}: file: the ledger's assets ({', '.join(ledger.columns)}) are not the margin file's "
            f"({', '.join(symbols)}): load both against the same reserves",
            section=f"{name}:file",
            file=name,
            field="file",
        )
    position = {symbol: i for i, symbol in enumerate(symbols)}
    to_file_type = [types.index(kind) for kind in ledger.collateral_types]

    # Group the rows per customer (one Python object per margin row only).
    grouped: dict[str, list[tuple[int, int, int, int, tuple[int, ...]]]] = {}
    debt_total = dict.fromkeys(symbols, 0)
    collateral_total = dict.fromkeys(symbols, 0)
    for row in ledger.margin_rows():
        collateral = [0] * len(types)
        for j, amount in enumerate(row.collateral):
            collateral[to_file_type[j]] = amount
        grouped.setdefault(row.customer_id, []).append(
            (position[row.asset], row.row, row.equity, row.debt, tuple(collateral))
        )
        debt_total[row.asset] += row.debt
        collateral_total[row.asset] += sum(collateral)
    if len(grouped) > MAX_MARGIN_ACCOUNTS:
        raise InputError(
            f"{name}: file: {len(grouped):,} margin accounts, more than {MAX_MARGIN_ACCOUNTS:,} (2^24)",
            section=f"{name}:file",
            file=name,
            field="file",
        )
    ids = sorted(grouped, key=lambda c: c.encode("utf-8"))
    widest = max((len(grouped[c]) for c in ids), default=1)
    slots = margin_file.slots if margin_file.slots is not None else widest
    params = margin_file.params(slots, _next_power_of_two(len(ids)))

    q = params.value_decimals
    delta = 10**params.d_max
    lines = [[tier_lines(schedule) for schedule in a.haircuts] for a in params.assets]
    accounts: list[MarginAccount] = []
    for customer_id in ids:
        rows = sorted(grouped[customer_id])
        if len(rows) > slots:
            touched = ", ".join(symbols[r[0]] for r in rows)
            raise _account_error(
                name,
                customer_id,
                f"touches {len(rows)} assets ({touched}), more than the {slots} slots of {margin_file.name}",
            )
        account_slots: list[AccountSlot] = []
        for asset, row_index, equity, debt, pledged in rows:
            spec = params.assets[asset]
            values = tuple(collateral_value(spec.price, c, spec.decimals) for c in pledged)
            for k, value in enumerate(values):
                if value >= MAX_COLLATERAL_VALUE_EXCLUSIVE:
                    raise _account_error(
                        name,
                        customer_id,
                        f"the {types[k]} collateral in {spec.symbol} is worth "
                        f"{_quote_units(value, 1, q, up=False)}, 2^56 value units or more (the largest a "
                        "collateral value may be for its proof to exist)",
                    )
            haircuts = tuple(min(a + r * v for a, r in lines[asset][k]) for k, v in enumerate(values))
            account_slots.append(AccountSlot(spec.symbol, asset, row_index, equity, debt, pledged, values, haircuts))
        excess = account_excess(params, [s.amounts(0) for s in account_slots])
        if excess < 0:
            haircut = sum(sum(s.haircuts) for s in account_slots)
            owed = sum(
                params.assets[s.asset].price * 10 ** (params.d_max - params.assets[s.asset].decimals) * s.debt
                for s in account_slots
            )
            raise _account_error(
                name,
                customer_id,
                f"haircut collateral value {_quote_units(haircut, 100, q, up=False)} is below debt value "
                f"{_quote_units(owed, delta, q, up=True)}",
            )
        if excess >= MAX_EXCESS_EXCLUSIVE:
            raise _account_error(
                name,
                customer_id,
                "the haircut collateral value exceeds the debt value by 2^128 or more of the proof's units "
                "(the largest excess a proof can show; split the account)",
            )
        accounts.append(MarginAccount(customer_id, tuple(account_slots), excess))
    return MarginAccounts(params=params, accounts=tuple(accounts), debt=debt_total, collateral=collateral_total)
