"""Synthetic ledgers and reserves for demos, tests and benchmarks (``solvency gen-ledger``).

This module makes **test data, not protocol values**. It is the one library module
allowed to use ``numpy.random`` (a seeded ``Generator(PCG64(seed))``), because the
same seed must give byte-identical files, so that demos, tests and benchmarks are
reproducible (for a given numpy version). Nothing secret is drawn here: blindings
and salts come from :mod:`prover.keys`, the master secret from :mod:`secrets`.
``tests/test_architecture.py`` grants this file, and only this file, that exemption.

What the data looks like:

* customer ids ``cust-000123``, plus a few decorated with non-ASCII letters, an
  emoji, a comma or double quotes, to exercise CSV quoting and UTF-8 handling;
* most customers hold 1-3 assets (55% one, 30% two, 12% three, 3% four), earlier
  assets in the list being somewhat more popular; every asset has at least one holder;
* heavy-tailed (log-normal) balances around a typical holding per asset, each capped
  near the largest real exchange accounts (``_CAPS``: 20,000 BTC, 300,000 ETH, 10^9 USDT
  or USDC, 5,000,000 SOL, 10^6 typical holdings of any other asset), about 1% zero
  balances, in random row order, so totals read like a real exchange's;
* with ``edge_cases=True`` (``gen-ledger --edge-cases``, for tests) also a few maximal
  balances (``2^64 - 1`` base units), which no real ledger holds but the format allows;
* reserves = liabilities * a ratio drawn from [1.02, 1.30], rounded up, so the
  exchange is solvent for every asset;
* with ``margin_share=F > 0`` (``gen-ledger --margin-share F``, issue 11) that share of
  the customers become margin accounts shaped like Binance loans: collateral pledged out
  of an asset they hold (30-100% of it, a non-stablecoin preferred), a debt in another
  asset (a stablecoin three times as likely) sized from a loan-to-value drawn in
  [0.2, 0.9) of the haircut collateral value, so every account satisfies condition (M),
  and 10-100% of the borrowed funds kept as equity in the debt asset; a quarter also
  pledge part of a third asset they hold. The ledger then has the columns ``debt`` and
  ``collateral_loan`` (empty cells for zero), ``margin.json`` is written next to it
  (:func:`margin_document`: value decimals 2, the collateral type ``loan``, prices near
  real ones, 4-tier schedules, steeper for assets that look illiquid), and the reserves
  cover the net liabilities ``equity - debt`` (at least one base unit). The margin draws
  come from their own generator (``PCG64([seed, 1])``), so the spot balances are those
  of the same seed without margin, and ``margin_share=0`` writes exactly what it always
  did (no margin columns, no ``margin.json``).

Decimals: BTC 8, USDT 6, USDC 6, SOL 9, ETH **9** (gwei) and 8 for anything else.
ETH's native 18 decimals would cap a single balance at ``2^64`` wei, about 18.4 ETH,
because every balance gets a 64-bit range proof; with 9 decimals the cap is about
18.4 billion ETH. An exchange with real 18-decimal balances must choose its own
unit the same way.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, TextIO

import numpy as np
from numpy.random import PCG64, Generator

from circuits.errors import InputError
from circuits.limits import MAX_ASSETS, MAX_LABEL_BYTES, MAX_TIER_BOUNDARY, SOLVENCY_BITS, SYMBOL_RE
from circuits.margin import Tier, collateral_value, scaled_haircut
from circuits.text import text_problem
from prover.amounts import format_amount
from prover.ledger import COLLATERAL_PREFIX, DEBT_COLUMN, LEDGER_HEADER

__all__ = ["MARGIN_FILE_NAME", "cap_base_units", "generate_ledger"]

_DECIMALS: Final[dict[str, int]] = {"BTC": 8, "ETH": 9, "USDT": 6, "USDC": 6, "SOL": 9}
_DEFAULT_DECIMALS: Final[int] = 8
# Median holding in display units; the log-normal spread gives the heavy tail.
_TYPICAL: Final[dict[str, float]] = {"BTC": 0.02, "ETH": 0.5, "USDT": 300.0, "USDC": 250.0, "SOL": 8.0}
_DEFAULT_TYPICAL: Final[float] = 50.0
_SIGMA: Final[float] = 2.2
# Largest balance of one customer, in display units: about the largest real exchange accounts.
_CAPS: Final[dict[str, float]] = {"BTC": 20_000.0, "ETH": 300_000.0, "USDT": 1e9, "USDC": 1e9, "SOL": 5e6}
_DEFAULT_CAP_TYPICALS: Final[float] = 1e6  # any other asset: at most 10^6 typical holdings
_HOLDINGS_P: Final[tuple[float, ...]] = (0.55, 0.30, 0.12, 0.03)  # P(hold 1, 2, 3, 4 assets)
_MAX_AMOUNT: Final[int] = (1 << 64) - 1
#: The margin file gen-ledger writes next to the ledger when ``margin_share > 0``.
MARGIN_FILE_NAME: Final[str] = "margin.json"
_MARGIN_STREAM: Final[int] = 1  # the margin draws' generator is PCG64([seed, _MARGIN_STREAM])
_VALUE_DECIMALS: Final[int] = 2
_COLLATERAL_TYPE: Final[str] = "loan"
_STABLECOINS: Final[frozenset[str]] = frozenset({"USDT", "USDC"})
# Prices in the quote currency (about December 2026's); other symbols get a price drawn from [0.05, 50).
_PRICES: Final[dict[str, float]] = {"BTC": 97_000.0, "ETH": 3_500.0, "SOL": 180.0, "USDT": 1.0, "USDC": 1.0}
_PRICE_JITTER: Final[float] = 0.03  # non-stablecoin prices move by up to 3% with the seed
# 4-tier loan schedules: (boundary in quote units, ratio %); the last tier has no boundary.
_SCHEDULES: Final[dict[str, tuple[tuple[int | None, int], ...]]] = {
    "BTC": ((1_000_000, 95), (5_000_000, 90), (20_000_000, 80), (None, 60)),
    "ETH": ((1_000_000, 95), (5_000_000, 90), (20_000_000, 80), (None, 60)),
    "SOL": ((250_000, 85), (1_000_000, 75), (5_000_000, 60), (None, 40)),
    "USDT": ((10_000_000, 100), (50_000_000, 99), (200_000_000, 98), (None, 95)),
    "USDC": ((10_000_000, 100), (50_000_000, 99), (200_000_000, 98), (None, 95)),
}
_ILLIQUID_SCHEDULE: Final[tuple[tuple[int | None, int], ...]] = ((25_000, 70), (100_000, 50), (500_000, 30), (None, 10))
# A pledge is kept below this collateral value (value units), far inside the proof's 2^56 bound.
_MAX_PLEDGE_VALUE: Final[int] = MAX_TIER_BOUNDARY >> 8
_MAX_CUSTOMERS: Final[int] = 100_000_000
# Suffixes that make a few ids exercise quoting and UTF-8 (written as escapes to keep this file ASCII).
_DECORATIONS: Final[tuple[str, ...]] = (
    " Zo\u00eb \u00c5str\u00f6m",  # Latin-1 letters
    ", Jr.",  # a comma: the field must be quoted
    ' "the whale"',  # double quotes: doubled inside a quoted field
    " \u5c71\u7530\u592a\u90ce",  # CJK
    " \u041a\u043e\u0432\u0430\u043b\u044c",  # Cyrillic
    " \U0001f680",  # an emoji (4 UTF-8 bytes)
)


def _fail(field: str, reason: str) -> InputError:
    return InputError(f"gen-ledger: {field}: {reason}", section=f"gen-ledger:{field}")


def _check_arguments(
    customers: int, assets: Sequence[str], seed: int, exchange: str, round_label: str, margin_share: float
) -> None:
    if type(customers) is not int or not 1 <= customers <= _MAX_CUSTOMERS:
        raise _fail("customers", f"must be an integer in [1, {_MAX_CUSTOMERS}], got {customers!r}")
    if type(seed) is not int or seed < 0:
        raise _fail("seed", f"must be a non-negative integer, got {seed!r}")
    if not assets:
        raise _fail("assets", "at least one asset is required")
    if len(assets) > MAX_ASSETS:
        raise _fail("assets", f"at most {MAX_ASSETS} assets, got {len(assets)}")
    for symbol in assets:
        if not isinstance(symbol, str) or SYMBOL_RE.fullmatch(symbol) is None:
            raise _fail("assets", f"{symbol!r} is not a valid symbol (1-16 of A-Z, 0-9, '_', '-')")
    if len(set(assets)) != len(assets):
        raise _fail("assets", "duplicate symbol")
    for field, label in (("exchange", exchange), ("round", round_label)):
        problem = text_problem(label, MAX_LABEL_BYTES)
        if problem is not None:
            raise _fail(field, problem)
    if type(margin_share) not in (int, float) or not 0 <= margin_share <= 1:
        raise _fail("margin-share", f"must be a number in [0, 1], got {margin_share!r}")
    if margin_share > 0 and len(assets) < 2:
        raise _fail("margin-share", "margin accounts need at least 2 assets (collateral in one, debt in another)")


def _write_atomic(path: Path, fill: Callable[[TextIO], None]) -> None:
    """Write ``path`` through ``fill`` into a temporary file in the same directory, then rename it.

    Raises:
        InputError: the file cannot be created or replaced (``section`` ``--out``).
    """
    try:
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror})", section="--out") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            fill(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write ({exc.strerror})", section="--out") from exc
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _customer_ids(customers: int, rng: Generator) -> list[str]:
    width = max(6, len(str(customers - 1)))
    ids = [f"cust-{i:0{width}d}" for i in range(customers)]
    decorated = rng.choice(customers, size=min(customers, len(_DECORATIONS)), replace=False)
    for i, suffix in zip(decorated.tolist(), _DECORATIONS, strict=False):
        ids[i] += suffix
    return ids


def _holdings(customers: int, n_assets: int, rng: Generator) -> np.ndarray:
    """Return a ``customers x n_assets`` boolean matrix: who holds what."""
    counts = rng.choice(len(_HOLDINGS_P), size=customers, p=_HOLDINGS_P) + 1
    counts = np.minimum(counts, n_assets)
    # Weighted sampling without replacement (Efraimidis-Spirakis): keep the k largest u^(1/w).
    weights = 1.0 / (1.0 + 0.25 * np.arange(n_assets))
    scores = rng.random((customers, n_assets)) ** (1.0 / weights)
    rank = np.argsort(np.argsort(-scores, axis=1, kind="stable"), axis=1, kind="stable")
    holds = rank < counts[:, None]
    for a in np.flatnonzero(~holds.any(axis=0)).tolist():
        holds[int(rng.integers(customers)), a] = True
    return holds


def cap_base_units(symbol: str) -> int:
    """Return the largest balance ``gen-ledger`` gives one customer of ``symbol``, in base units."""
    cap = _CAPS.get(symbol, _TYPICAL.get(symbol, _DEFAULT_TYPICAL) * _DEFAULT_CAP_TYPICALS)
    unit: int = 10 ** _DECIMALS.get(symbol, _DEFAULT_DECIMALS)
    return int(cap) * unit


def _amounts(symbols: Sequence[str], asset_of_row: np.ndarray, rng: Generator, edge_cases: bool) -> np.ndarray:
    """Return the balance of each row in base units (uint64): heavy-tailed and capped, about 1% zero.

    With ``edge_cases`` a few rows (one per 2,000, at least one) hold the maximal ``2^64 - 1`` instead.
    """
    rows = len(asset_of_row)
    medians = np.array(
        [_TYPICAL.get(s, _DEFAULT_TYPICAL) * 10.0 ** _DECIMALS.get(s, _DEFAULT_DECIMALS) for s in symbols]
    )
    caps = np.array([cap_base_units(s) for s in symbols], dtype=np.uint64)
    values = rng.lognormal(mean=np.log(medians[asset_of_row]), sigma=_SIGMA)
    amounts: np.ndarray = np.minimum(np.floor(np.minimum(values, 1e18)).astype(np.uint64), caps[asset_of_row])
    if rows >= 4:
        zeros = max(1, rows // 100)
        maximal = max(1, rows // 2000) if edge_cases else 0
        special = rng.choice(rows, size=zeros + maximal, replace=False)
        amounts[special[:zeros]] = 0
        amounts[special[zeros:]] = np.uint64(_MAX_AMOUNT)
    return amounts


def _margin_round(symbols: Sequence[str], rng: Generator) -> tuple[list[int], list[tuple[Tier, ...]]]:
    """Return each asset's price (value units) and loan schedule (boundaries in value units)."""
    scale = 10**_VALUE_DECIMALS
    prices: list[int] = []
    schedules: list[tuple[Tier, ...]] = []
    for symbol in symbols:
        if symbol in _STABLECOINS:
            price = 1.0
        elif symbol in _PRICES:
            price = _PRICES[symbol] * (1.0 + float(rng.uniform(-_PRICE_JITTER, _PRICE_JITTER)))
        else:
            price = float(10.0 ** rng.uniform(np.log10(0.05), np.log10(50.0)))
        prices.append(max(1, round(price * scale)))
        table = _SCHEDULES.get(symbol, _ILLIQUID_SCHEDULE)
        schedules.append(tuple(Tier(None if b is None else b * scale, r) for b, r in table))
    return prices, schedules


def _fixed(units: int) -> str:
    """Value units as a quote-currency decimal string with exactly ``_VALUE_DECIMALS`` decimals."""
    whole, fraction = divmod(units, 10**_VALUE_DECIMALS)
    return f"{whole}.{fraction:0{_VALUE_DECIMALS}d}"


def _margin_document(symbols: Sequence[str], prices: Sequence[int], schedules: Sequence[tuple[Tier, ...]]) -> Any:
    """The ``margin.json`` object (``docs/FORMAT.md`` §14.1) of the round."""
    return {
        "value_decimals": _VALUE_DECIMALS,
        "collateral_types": [_COLLATERAL_TYPE],
        "assets": [
            {
                "symbol": symbol,
                "price": _fixed(price),
                "haircuts": {
                    _COLLATERAL_TYPE: [
                        {"ratio": t.ratio} if t.up_to is None else {"up_to": _fixed(t.up_to), "ratio": t.ratio}
                        for t in schedule
                    ]
                },
            }
            for symbol, price, schedule in zip(symbols, prices, schedules, strict=True)
        ],
    }


def _pick(rng: Generator, choices: Sequence[int], weights: Sequence[float]) -> int:
    p = np.asarray(weights, dtype=float)
    return int(choices[int(rng.choice(len(choices), p=p / p.sum()))])


def _margin_accounts(
    customers: int,
    share: float,
    symbols: Sequence[str],
    decimals: Sequence[int],
    rows: tuple[list[int], list[int], list[int]],
    prices: Sequence[int],
    schedules: Sequence[tuple[Tier, ...]],
    rng: Generator,
) -> tuple[list[int], list[int]]:
    """Turn ``share`` of the customers into Binance-loan margin accounts; return each row's debt and collateral.

    ``rows`` are the (customer, asset, amount) lists of every row, customers ascending; a
    margin account's kept borrowed funds are added to its amounts, appending a row when it
    held none of the debt asset. Every account satisfies condition (M): the debt value is
    a loan-to-value below 0.9 of the haircut collateral value, rounded down.
    """
    cust, asset, amount = rows
    n = len(amount)
    debt = [0] * n
    collateral = [0] * n
    starts = np.searchsorted(np.asarray(cust, dtype=np.int64), np.arange(customers + 1)).tolist()
    stable = [symbol in _STABLECOINS for symbol in symbols]
    held: dict[int, dict[int, int]] = {}
    eligible = []
    for u in range(customers):
        held[u] = {asset[r]: r for r in range(starts[u], starts[u + 1])}
        if any(0 < amount[r] < _MAX_AMOUNT for r in held[u].values()):
            eligible.append(u)
    count = min(len(eligible), round(share * customers))
    chosen = sorted(eligible[i] for i in rng.choice(len(eligible), size=count, replace=False).tolist())
    for u in chosen:
        mine = held[u]
        usable = [a for a, r in mine.items() if 0 < amount[r] < _MAX_AMOUNT]
        first = _pick(rng, usable, [1.0 if stable[a] else 3.0 for a in usable])
        others = [b for b in range(len(symbols)) if b != first]
        owed = _pick(rng, others, [3.0 if stable[b] else 1.0 for b in others])
        pledged = [first]
        third = [a for a in usable if a not in (first, owed)]
        if third and rng.random() < 0.25:
            pledged.append(_pick(rng, third, [1.0] * len(third)))
        haircut = 0
        for i, a in enumerate(pledged):
            r = mine[a]
            fraction = float(rng.uniform(0.3, 1.0) if i == 0 else rng.uniform(0.2, 0.8))
            largest = _MAX_PLEDGE_VALUE * 10 ** decimals[a] // prices[a]
            collateral[r] = max(1, min(int(amount[r] * fraction), amount[r], largest))
            haircut += scaled_haircut(schedules[a], collateral_value(prices[a], collateral[r], decimals[a]))
        ltv_ppm = int(rng.integers(200_000, 900_000))
        owed_units = haircut * ltv_ppm * 10 ** decimals[owed] // (100 * 1_000_000 * prices[owed])
        owed_units = min(owed_units, 1 << 63)
        kept = owed_units * int(rng.integers(100_000, 1_000_001)) // 1_000_000
        if owed in mine:
            r = mine[owed]
            amount[r] += kept if amount[r] + kept <= _MAX_AMOUNT else 0
        else:
            r = len(amount)
            cust.append(u)
            asset.append(owed)
            amount.append(kept)
            debt.append(0)
            collateral.append(0)
        debt[r] = owed_units
    return debt, collateral


def generate_ledger(
    customers: int,
    assets: Sequence[str],
    seed: int,
    out_dir: Path,
    *,
    exchange: str = "Example Exchange",
    round_label: str | None = None,
    edge_cases: bool = False,
    margin_share: float = 0.0,
) -> tuple[Path, Path]:
    """Write a synthetic ``out_dir/ledger.csv`` and a covering ``out_dir/reserves.json``.

    With ``margin_share > 0`` the ledger has margin columns and ``out_dir/margin.json``
    (:data:`MARGIN_FILE_NAME`) is written too; with ``0`` a ``margin.json`` left in
    ``out_dir`` by an earlier run is removed, so the directory holds one consistent round.

    Deterministic: the same arguments give byte-identical files. Each file is written
    atomically (a temporary file in ``out_dir``, then a rename); ``out_dir`` is
    created if missing.

    Args:
        customers: number of customers (at least 1).
        assets: the asset symbols, in the order written to the reserves file.
        seed: a non-negative integer seeding ``numpy.random.PCG64``.
        out_dir: the directory to write into.
        exchange: the exchange name for the reserves file.
        round_label: the round label; defaults to ``"2026-11-24T00:00:00Z#<seed>"``.
        edge_cases: also write a few maximal balances (``2^64 - 1`` base units), for tests.
        margin_share: the share ``F`` in ``[0, 1]`` of customers made margin accounts (module
            docstring); needs at least 2 assets when positive.

    Returns:
        ``(ledger_path, reserves_path)``.

    Raises:
        InputError: for an invalid argument (customer count, seed, symbols, labels, margin share).
    """
    label = f"2026-11-24T00:00:00Z#{seed}" if round_label is None else round_label
    symbols = list(assets)
    _check_arguments(customers, symbols, seed, exchange, label, margin_share)
    rng = Generator(PCG64(seed))

    ids = _customer_ids(customers, rng)
    holds = _holdings(customers, len(symbols), rng)
    customer_of_row, asset_of_row = np.nonzero(holds)
    amounts = _amounts(symbols, asset_of_row, rng, edge_cases)
    decimals = [_DECIMALS.get(s, _DEFAULT_DECIMALS) for s in symbols]
    c_rows, a_rows, v_rows = customer_of_row.tolist(), asset_of_row.tolist(), amounts.tolist()
    margin: Any = None
    if margin_share > 0:
        margin_rng = Generator(PCG64([seed, _MARGIN_STREAM]))
        prices, schedules = _margin_round(symbols, margin_rng)
        d_rows, k_rows = _margin_accounts(
            customers, margin_share, symbols, decimals, (c_rows, a_rows, v_rows), prices, schedules, margin_rng
        )
        margin = _margin_document(symbols, prices, schedules)
    ratios_ppm = rng.integers(1_020_000, 1_300_001, size=len(symbols)).tolist()
    order = rng.permutation(len(v_rows))

    liabilities = [0] * len(symbols)
    for a, amount in zip(a_rows, v_rows, strict=True):
        liabilities[a] += amount
    if margin is not None:
        for a, owed in zip(a_rows, d_rows, strict=True):
            liabilities[a] -= owed
        liabilities = [max(1, net) for net in liabilities]  # the reserves cover the net liabilities

    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out {out_dir}: cannot create the directory ({exc.strerror})", section="--out") from exc
    ledger_path = out_dir / "ledger.csv"
    reserves_path = out_dir / "reserves.json"
    margin_path = out_dir / MARGIN_FILE_NAME

    def write_ledger(f: TextIO) -> None:
        writer = csv.writer(f, lineterminator="\n")
        if margin is None:
            writer.writerow(LEDGER_HEADER)
            for row in order.tolist():
                a = a_rows[row]
                writer.writerow((ids[c_rows[row]], symbols[a], format_amount(v_rows[row], decimals[a])))
            return
        writer.writerow((*LEDGER_HEADER, DEBT_COLUMN, COLLATERAL_PREFIX + _COLLATERAL_TYPE))
        for row in order.tolist():
            a = a_rows[row]
            owed, pledged = d_rows[row], k_rows[row]
            writer.writerow(
                (
                    ids[c_rows[row]],
                    symbols[a],
                    format_amount(v_rows[row], decimals[a]),
                    format_amount(owed, decimals[a]) if owed else "",
                    format_amount(pledged, decimals[a]) if pledged else "",
                )
            )

    entries = []
    for a, symbol in enumerate(symbols):
        reserves = -(-liabilities[a] * ratios_ppm[a] // 1_000_000)  # rounded up
        if reserves >> SOLVENCY_BITS:
            raise _fail("customers", f"too many customers: reserves of {symbol} reach 2^{SOLVENCY_BITS}")
        entries.append({"symbol": symbol, "decimals": decimals[a], "reserves": format_amount(reserves, decimals[a])})
    document = {"exchange": exchange, "round": label, "assets": entries}

    def write_reserves(f: TextIO) -> None:
        f.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")

    _write_atomic(ledger_path, write_ledger)
    _write_atomic(reserves_path, write_reserves)
    if margin is None:
        try:
            margin_path.unlink(missing_ok=True)
        except OSError as exc:
            raise InputError(f"{margin_path}: cannot remove ({exc.strerror})", section="--out") from exc
    else:

        def write_margin(f: TextIO) -> None:
            f.write(json.dumps(margin, indent=2) + "\n")

        _write_atomic(margin_path, write_margin)
    return ledger_path, reserves_path
