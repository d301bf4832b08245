"""Find the line of a JSON value from its field path, for error messages naming file, line and field.

Python's :mod:`json` reports positions only for syntax errors; a field that is well
formed JSON but invalid (``wallets[17].proof.signature``) is located here by
scanning the text once more, only when an error is reported.
"""

from __future__ import annotations

import json
import re
from typing import Final

__all__: list[str] = []

_PART_RE: Final[re.Pattern[str]] = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[([0-9]+)\]")
_WS: Final[str] = " \t\n\r"
_DECODER: Final[json.JSONDecoder] = json.JSONDecoder()


def _parts(field: str) -> list[str | int]:
    out: list[str | int] = []
    for m in _PART_RE.finditer(field):
        out.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
    return out


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WS:
        i += 1
    return i


def _skip_value(text: str, i: int) -> int:
    """Return the index just after the JSON value starting at ``i``."""
    _, end = _DECODER.raw_decode(text, i)
    return end


def _find(text: str, i: int, parts: list[str | int]) -> int | None:
    """Return the index where the value at ``parts`` (relative to the value at ``i``) starts."""
    i = _skip_ws(text, i)
    if not parts:
        return i
    head, rest = parts[0], parts[1:]
    if i >= len(text):
        return None
    if isinstance(head, int) and text[i] == "[":
        i = _skip_ws(text, i + 1)
        k = 0
        while i < len(text) and text[i] != "]":
            if k == head:
                return _find(text, i, rest)
            i = _skip_ws(text, _skip_value(text, i))
            if i < len(text) and text[i] == ",":
                i = _skip_ws(text, i + 1)
            k += 1
        return None
    if isinstance(head, str) and text[i] == "{":
        i = _skip_ws(text, i + 1)
        while i < len(text) and text[i] == '"':
            key, i = _DECODER.raw_decode(text, i)
            i = _skip_ws(text, i)
            if i >= len(text) or text[i] != ":":
                return None
            i = _skip_ws(text, i + 1)
            if key == head:
                return _find(text, i, rest)
            i = _skip_ws(text, _skip_value(text, i))
            if i < len(text) and text[i] == ",":
                i = _skip_ws(text, i + 1)
        return None
    return None


def line_of(text: str, field: str) -> int | None:
    """Return the 1-based line where the value at ``field`` (``"wallets[3].balance"``) starts, or ``None``.

    A field that is missing is located at its enclosing object. ``None`` if the text
    is not JSON or no enclosing value exists.
    """
    text = text.removeprefix("\ufeff")
    parts = _parts(field)
    try:
        for n in range(len(parts), -1, -1):
            position = _find(text, 0, parts[:n])
            if position is not None:
                return text.count("\n", 0, position) + 1
    except (ValueError, IndexError):
        return None
    return None
