"""Decimal amount strings to integer base units, shared by the ledger and reserves loaders.

An amount is written the way a person would write it in the asset's display unit
(``"0.5"`` BTC) and is stored in base units (``50_000_000`` satoshi):
``base = integer_part * 10^decimals + fraction_padded``. Only the plain form is
accepted: ``0`` or digits without a leading zero, optionally followed by ``.`` and
at least one digit. There is no sign, exponent, thousands separator or whitespace,
and no more fractional digits than the asset has decimals (``"1.10"`` for a
1-decimal asset is refused rather than silently rounded).

No zk proof in here: this is input parsing.

>>> parse_amount("0.5", 8)
50000000
>>> parse_amount("12", 0)
12
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["format_amount", "parse_amount"]

_AMOUNT_RE: Final[re.Pattern[str]] = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]+))?")
# Longest value echoed back in an error message (the rest is elided).
_ECHO_CHARS: Final[int] = 40


def quote_value(text: str) -> str:
    """Return ``text`` double-quoted for an error message, shortened if long, controls escaped."""
    shown = text if len(text) <= _ECHO_CHARS else text[:_ECHO_CHARS] + "..."
    escaped = shown.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(c if c.isprintable() else repr(c)[1:-1] for c in escaped)
    return f'"{escaped}"'


def parse_amount(text: str, decimals: int, *, max_bits: int | None = None, noun: str = "amount") -> int:
    """Return the base units of the decimal string ``text`` for an asset with ``decimals`` decimals.

    Args:
        text: the amount as written, e.g. ``"1.25"``.
        decimals: the asset's number of decimals (``0 <= decimals``).
        max_bits: if given, the value must be below ``2^max_bits`` base units.
        noun: what the value is called in the "too large" reason (``"amount"``, ``"reserves"``).

    Raises:
        ValueError: with a human-readable reason, one of ``"empty amount"``,
            ``"negative amount ..."``, ``"not a plain decimal number ..."``,
            ``"too many decimals: ..."`` or ``"<noun> of 2^<max_bits> base units or more ..."``.
    """
    if decimals < 0:
        raise ValueError(f"decimals must be non-negative, got {decimals}")
    if text == "":
        raise ValueError("empty amount")
    match = _AMOUNT_RE.fullmatch(text)
    if match is None:
        if text.startswith("-") and _AMOUNT_RE.fullmatch(text[1:]) is not None:
            raise ValueError(f"negative amount: {quote_value(text)}")
        raise ValueError(
            f"not a plain decimal number: {quote_value(text)} "
            "(expected digits with an optional '.digits'; no sign, exponent, spaces or leading zeros)"
        )
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > decimals:
        raise ValueError(f"too many decimals: {quote_value(text)} has more than {decimals} decimals")
    # Cheap guard before any big conversion: a whole part of k digits (no leading zero)
    # means at least 10^(k-1+decimals) base units.
    magnitude = len(whole) - 1 + decimals if whole != "0" else 0
    if max_bits is not None:
        if magnitude >= len(str(1 << max_bits)):
            raise ValueError(f"{noun} of 2^{max_bits} base units or more: {quote_value(text)}")
    elif magnitude > 4000:
        raise ValueError(f"{noun} too large: {quote_value(text)}")
    value: int = int(whole) * 10**decimals + (int(fraction) * 10 ** (decimals - len(fraction)) if fraction else 0)
    if max_bits is not None and value >> max_bits:
        raise ValueError(f"{noun} of 2^{max_bits} base units or more: {quote_value(text)}")
    return value


def format_amount(base_units: int, decimals: int) -> str:
    """Return the plain decimal string of ``base_units`` (inverse of :func:`parse_amount`).

    Trailing fractional zeros are dropped, so the result is the shortest plain form.

    >>> format_amount(50000000, 8)
    '0.5'
    >>> format_amount(7, 0)
    '7'
    """
    if base_units < 0:
        raise ValueError("negative amount")
    if decimals == 0:
        return str(base_units)
    whole, fraction = divmod(base_units, 10**decimals)
    if fraction == 0:
        return str(whole)
    return f"{whole}.{fraction:0{decimals}d}".rstrip("0")
