"""The reserves file: the public per-asset reserves the exchange proves it covers.

Format (issue 3, "Inputs")::

    {"exchange": "Example Exchange", "round": "2026-11-24T00:00:00Z",
     "assets": [{"symbol": "BTC", "decimals": 8, "reserves": "1234.5"}]}

Every failure raises :class:`~circuits.errors.InputError` whose message is
``<file>: <field>: <reason>`` and whose ``section`` is ``"<file>:<field>"``, for
example ``reserves.json: assets[1].reserves: too many decimals: "1.123" has more
than 2 decimals for ETH``. Field paths use the input order (``assets[1]`` is the
second entry as written); the loaded :class:`Reserves` lists assets sorted by symbol,
the order of the bundle manifest (``docs/FORMAT.md`` §6).

No zk proof in here: this is input parsing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NoReturn

from circuits.errors import InputError
from circuits.limits import MAX_ASSETS, MAX_DECIMALS, MAX_LABEL_BYTES, SOLVENCY_BITS, SYMBOL_RE
from circuits.text import text_problem
from prover.amounts import parse_amount, quote_value

__all__ = ["AssetSpec", "Reserves", "load_reserves"]

# Reserves are below 2^128 base units (docs/FORMAT.md §6, §7).
RESERVES_BITS: Final[int] = SOLVENCY_BITS
# A reserves file is small (at most 256 assets); refuse anything absurdly large before parsing.
MAX_RESERVES_FILE_BYTES: Final[int] = 1 << 20

_TOP_KEYS: Final[frozenset[str]] = frozenset({"exchange", "round", "assets"})
_ASSET_KEYS: Final[frozenset[str]] = frozenset({"symbol", "decimals", "reserves"})


@dataclass(frozen=True)
class AssetSpec:
    """One asset of the reserves file.

    Attributes:
        symbol: the ticker, matching :data:`circuits.limits.SYMBOL_RE`.
        decimals: number of decimal places of the display unit, in ``[0, 30]``.
        reserves: the reserves in base units (``decimal * 10^decimals``), below ``2^128``.
    """

    symbol: str
    decimals: int
    reserves: int


@dataclass(frozen=True)
class Reserves:
    """A validated reserves file.

    Attributes:
        exchange: the exchange name, a text field of at most 256 UTF-8 bytes (:mod:`circuits.text`).
        round: the round label (e.g. an ISO timestamp), a text field of at most 256 UTF-8 bytes.
        assets: the assets sorted by symbol, symbols unique, 1 to 256 of them.
    """

    exchange: str
    round: str
    assets: tuple[AssetSpec, ...]

    @property
    def symbols(self) -> tuple[str, ...]:
        """The asset symbols, in order."""
        return tuple(a.symbol for a in self.assets)

    def asset(self, symbol: str) -> AssetSpec:
        """Return the asset ``symbol``; raises ``KeyError`` if it is not listed."""
        for spec in self.assets:
            if spec.symbol == symbol:
                return spec
        raise KeyError(symbol)


class _Fail:
    """Builds the InputError for one file: ``<file>: <field>: <reason>``, section ``<file>:<field>``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, field: str, reason: str) -> InputError:
        return InputError(f"{self.name}: {field}: {reason}", section=f"{self.name}:{field}")


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _no_duplicate_keys(fail: _Fail) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise fail("file", f"duplicate key {quote_value(key)}")
            result[key] = value
        return result

    return hook


def _reject_constant(fail: _Fail) -> Callable[[str], NoReturn]:
    def hook(name: str) -> NoReturn:
        raise fail("file", f"{name} is not valid JSON")

    return hook


def _check_keys(fail: _Fail, where: str, obj: Any, allowed: frozenset[str]) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise fail(where, f"expected an object, found {_type_name(obj)}")
    unknown = sorted(set(obj) - allowed)
    if unknown:
        prefix = f"{where}." if where != "file" else ""
        raise fail(f"{prefix}{unknown[0]}", "unknown key")
    missing = sorted(allowed - set(obj))
    if missing:
        prefix = f"{where}." if where != "file" else ""
        raise fail(f"{prefix}{missing[0]}", "missing")
    return obj


def _label(fail: _Fail, field: str, value: Any) -> str:
    """Validate the exchange or round label as a text field (:func:`circuits.text.text_problem`)."""
    if not isinstance(value, str):
        raise fail(field, f"expected a string, found {_type_name(value)}")
    problem = text_problem(value, MAX_LABEL_BYTES)
    if problem is not None:
        raise fail(field, problem)
    return value


def _assets(fail: _Fail, value: Any) -> Iterator[AssetSpec]:
    if not isinstance(value, list):
        raise fail("assets", f"expected an array, found {_type_name(value)}")
    if not value:
        raise fail("assets", "at least one asset is required")
    if len(value) > MAX_ASSETS:
        raise fail("assets", f"at most {MAX_ASSETS} assets are allowed, found {len(value)}")
    seen: dict[str, int] = {}
    for i, item in enumerate(value):
        where = f"assets[{i}]"
        entry = _check_keys(fail, where, item, _ASSET_KEYS)
        symbol = entry["symbol"]
        if not isinstance(symbol, str):
            raise fail(f"{where}.symbol", f"expected a string, found {_type_name(symbol)}")
        if SYMBOL_RE.fullmatch(symbol) is None:
            raise fail(
                f"{where}.symbol",
                f"{quote_value(symbol)} is not a valid symbol (1-16 of A-Z, 0-9, '_', '-', starting with A-Z or 0-9)",
            )
        if symbol in seen:
            raise fail(f"{where}.symbol", f"duplicate symbol {symbol} (also assets[{seen[symbol]}])")
        seen[symbol] = i
        decimals = entry["decimals"]
        if type(decimals) is not int:  # bool is a subclass of int, and is refused here
            raise fail(f"{where}.decimals", f"expected an integer, found {_type_name(decimals)}")
        if not 0 <= decimals <= MAX_DECIMALS:
            raise fail(f"{where}.decimals", f"{decimals} is outside [0, {MAX_DECIMALS}]")
        text = entry["reserves"]
        if not isinstance(text, str):
            raise fail(f"{where}.reserves", f"expected a decimal string, found {_type_name(text)}")
        try:
            reserves = parse_amount(text, decimals, max_bits=RESERVES_BITS, noun="reserves")
        except ValueError as exc:
            raise fail(f"{where}.reserves", f"{exc} for {symbol}") from None
        yield AssetSpec(symbol=symbol, decimals=decimals, reserves=reserves)


def load_reserves(path: Path) -> Reserves:
    """Read and validate the reserves file at ``path``.

    Raises:
        InputError: naming the file and the field, for an unreadable or malformed file
            (with the JSON line and column), unknown or missing keys, an empty or
            over-long exchange or round, a bad or duplicate symbol, decimals outside
            ``[0, 30]``, reserves that are not a plain decimal string, have too many
            decimals, or are ``2^128`` base units or more, and no or more than 256 assets.
    """
    path = Path(path)
    fail = _Fail(path.name)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_RESERVES_FILE_BYTES + 1)
    except OSError as exc:
        raise fail("file", f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_RESERVES_FILE_BYTES:
        raise fail("file", f"larger than {MAX_RESERVES_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise fail("file", f"invalid UTF-8 at byte {exc.start} (line {line})") from None
    try:
        document = json.loads(
            text,
            object_pairs_hook=_no_duplicate_keys(fail),
            parse_constant=_reject_constant(fail),
        )
    except json.JSONDecodeError as exc:
        raise fail("file", f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise fail("file", "malformed JSON: nested too deeply") from None
    top = _check_keys(fail, "file", document, _TOP_KEYS)
    exchange = _label(fail, "exchange", top["exchange"])
    round_label = _label(fail, "round", top["round"])
    assets = tuple(sorted(_assets(fail, top["assets"]), key=lambda a: a.symbol))
    return Reserves(exchange=exchange, round=round_label, assets=assets)
