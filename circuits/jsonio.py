r"""JSON as the formats use it (``docs/FORMAT.md`` §6): canonical encoding, a bounded loader, a strict reader.

* :func:`canonical_json`: sorted keys, no whitespace, ASCII escapes, no floats.
* :func:`load_json`: parses untrusted bytes with a size limit, a nesting limit
  checked before parsing, integers only (at most ``MAX_JSON_INT_DIGITS`` digits).
* :class:`Fields`: reads one JSON object field by field, each checked by type and
  range, and refuses unknown fields. Every :class:`~circuits.errors.FormatError` it
  raises carries the field path (``"manifest.assets[0].reserves"``) as ``section``.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final, NoReturn

from circuits.errors import FormatError
from circuits.limits import MAX_JSON_DEPTH, MAX_JSON_INT_DIGITS
from circuits.text import check_text

__all__ = ["Fields", "canonical_json", "load_json"]

_HEX32_RE: Final[re.Pattern[str]] = re.compile(r"[0-9a-f]{64}")
_HEX48_RE: Final[re.Pattern[str]] = re.compile(r"[0-9a-f]{96}")
_UINT_RE: Final[re.Pattern[str]] = re.compile(r"0|[1-9][0-9]{0,77}")
_KEY_RE: Final[re.Pattern[str]] = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_JSON_STRING_RE: Final[re.Pattern[bytes]] = re.compile(rb'"[^"]*"')
_NOT_QUOTES_OR_BRACKETS: Final[bytes] = bytes(sorted(set(range(256)) - set(b'"[]{}')))


def canonical_json(obj: Any) -> bytes:
    """Return the canonical JSON encoding (§6): sorted keys, no whitespace, ASCII escapes, no floats."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def _reject_float(value: str) -> Any:
    raise ValueError(f"non-integer number {value}")


def _parse_int(value: str) -> int:
    if len(value.lstrip("-")) > MAX_JSON_INT_DIGITS:
        raise ValueError(f"integer of {len(value)} digits (large numbers are decimal strings)")
    return int(value)


def _check_nesting(data: bytes, what: str) -> None:
    """Refuse JSON nested deeper than ``MAX_JSON_DEPTH``, before parsing it, in linear time.

    The C JSON parser recurses once per level; a document of a few hundred thousand
    ``[`` would exhaust the C stack (py_ecc raises the interpreter's recursion limit
    to 100000, so ``RecursionError`` does not come first).

    The bracket skeleton is computed with C-speed passes and little memory:
    escaped backslashes, then escaped quotes are removed (left to right, as JSON
    reads them); everything but quotes and brackets is deleted; adjacent quote pairs
    are removed (which keeps the parity of every later quote); strings that still
    hold brackets, rare in a real manifest, are removed with a regex. Each reduction
    pass then deletes innermost ``[]`` pairs, then innermost ``{}`` pairs: at most two
    levels per pass, because ``bytes.replace`` does not rescan what it produced. So
    the depth is at most twice the passes that changed something, plus what is left
    unmatched; the check refuses anything where that bound exceeds ``MAX_JSON_DEPTH``,
    so it accepts every document at most ``MAX_JSON_DEPTH // 2`` deep.
    """
    skeleton = data.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_QUOTES_OR_BRACKETS)
    skeleton = skeleton.replace(b'""', b"")
    if b'"' in skeleton:
        skeleton = _JSON_STRING_RE.sub(b"", skeleton)
    passes = 0
    while skeleton and 2 * passes <= MAX_JSON_DEPTH:
        reduced = skeleton.replace(b"[]", b"").replace(b"{}", b"")
        if reduced == skeleton:
            break  # unbalanced: json.loads reports it, and the depth is bounded below
        skeleton, passes = reduced, passes + 1
    if 2 * passes + len(skeleton) > MAX_JSON_DEPTH:
        raise FormatError(
            f"{what}: JSON nested deeper than {MAX_JSON_DEPTH} levels (or unbalanced)", section=what
        )


class _Object(dict[str, Any]):
    """A parsed JSON object that remembers the first key it held twice (JSON would keep the last silently)."""

    duplicate: str | None = None


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                obj.duplicate = key
                break
            seen.add(key)
    return obj


def _key_path(where: str, key: str) -> str:
    return f"{where}.{key}" if _KEY_RE.fullmatch(key) else f"{where}[{json.dumps(key)}]"


def _first_duplicate(value: Any, where: str) -> str | None:
    """Return the path of the first key held twice by an object in ``value`` (document order), or ``None``."""
    if isinstance(value, _Object):
        if value.duplicate is not None:
            return _key_path(where, value.duplicate)
        for key, item in value.items():
            found = _first_duplicate(item, _key_path(where, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _first_duplicate(item, f"{where}[{i}]")
            if found is not None:
                return found
    return None


def load_json(data: object, limit: int, what: str) -> tuple[Any, bytes]:
    """Parse UTF-8 JSON of at most ``limit`` bytes with integers only (no floats, NaN or Infinity).

    Returns the parsed value and the input as ``bytes``. The type, size and nesting
    depth are checked before anything is copied or parsed, and integers are limited to
    ``MAX_JSON_INT_DIGITS`` digits (whatever the interpreter's own limit). An object
    holding the same key twice is refused (JSON parsers disagree on which one counts),
    naming the key's path (``"package.entries"``, ``"package.entries[0].amount"``).

    Raises:
        FormatError: with ``section`` ``what``, or the duplicated key's path.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise FormatError(f"{what}: expected bytes, got {type(data).__name__}", section=what)
    size = memoryview(data).nbytes
    if size > limit:
        raise FormatError(f"{what}: larger than {limit} bytes", section=what)
    raw = bytes(data)
    _check_nesting(raw, what)
    try:
        value = json.loads(
            raw.decode("utf-8"),
            parse_float=_reject_float,
            parse_constant=_reject_float,
            parse_int=_parse_int,
            object_pairs_hook=_object,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise FormatError(f"{what}: not valid JSON ({exc})", section=what) from exc
    duplicate = _first_duplicate(value, what)
    if duplicate is not None:
        raise FormatError(
            f"{duplicate}: duplicate key (a JSON object may hold each key once)",
            section=duplicate,
            field=_field_of(duplicate),
        )
    return value, raw


def _field_of(path: str) -> str | None:
    """Return the field part of a JSON path section (``"manifest.assets[0].reserves"`` -> ``"assets[0].reserves"``)."""
    field = path.partition(".")[2]
    return field or None


class Fields:
    """Strict reader of one JSON object: every key must be read, each checked by type.

    ``where`` is the object's field path; every error names the failing field's path
    in its message and as ``section``.
    """

    def __init__(self, obj: Any, where: str) -> None:
        """Wrap the JSON value ``obj`` found at ``where``.

        Raises:
            FormatError: ``obj`` is not an object.
        """
        if not isinstance(obj, dict):
            self._fail(where, "expected an object")
        self._obj: dict[str, Any] = obj
        self._seen: set[str] = set()
        self.where = where

    @staticmethod
    def _fail(section: str, message: str) -> NoReturn:
        raise FormatError(f"{section}: {message}", section=section, field=_field_of(section))

    def fail(self, key: str | None, message: str) -> NoReturn:
        """Raise FormatError for ``key`` of this object (the object itself if ``None``)."""
        self._fail(self.where if key is None else f"{self.where}.{key}", message)

    def _get(self, key: str) -> Any:
        if key not in self._obj:
            self.fail(key, "missing")
        self._seen.add(key)
        return self._obj[key]

    def integer(self, key: str, lo: int, hi: int) -> int:
        """Return the JSON integer ``key`` in ``[lo, hi]``."""
        value = self._get(key)
        if type(value) is not int or not lo <= value <= hi:
            self.fail(key, f"expected an integer in [{lo}, {hi}]")
        return value

    def uint_str(self, key: str, hi_exclusive: int) -> int:
        """Return the decimal string ``key`` (no sign, no leading zero) as an integer below ``hi_exclusive``."""
        value = self._get(key)
        if not isinstance(value, str) or not _UINT_RE.fullmatch(value) or int(value) >= hi_exclusive:
            self.fail(key, f"expected a decimal string in [0, {hi_exclusive})")
        return int(value)

    def text(self, key: str, max_bytes: int, pattern: re.Pattern[str] | None = None) -> str:
        """Return the non-empty string ``key`` of at most ``max_bytes`` UTF-8 bytes, matching ``pattern``."""
        value = self._get(key)
        if not isinstance(value, str) or not value or len(value.encode("utf-8", "surrogatepass")) > max_bytes:
            self.fail(key, f"expected a non-empty string of at most {max_bytes} bytes")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            where = f"{self.where}.{key}"
            raise FormatError(f"{where}: not valid Unicode", section=where, field=_field_of(where)) from exc
        if pattern is not None and not pattern.fullmatch(value):
            self.fail(key, f"{value[:40]!r} does not match {pattern.pattern}")
        return value

    def label(self, key: str, max_bytes: int) -> str:
        """Return the text field ``key`` (exchange, round, customer id): :func:`circuits.text.check_text`."""
        return check_text(self._get(key), max_bytes, f"{self.where}.{key}")

    def const(self, key: str, expected: object) -> None:
        """Require ``key`` to be exactly ``expected`` (same value and JSON type)."""
        if self._get(key) != expected or type(self._obj[key]) is not type(expected):
            self.fail(key, f"expected {expected!r}")

    def hexbytes(self, key: str, size: int) -> bytes:
        """Return ``key``, ``size`` (32 or 48) bytes written in lowercase hex."""
        value = self._get(key)
        pattern = _HEX32_RE if size == 32 else _HEX48_RE if size == 48 else None
        if not isinstance(value, str) or pattern is None or not pattern.fullmatch(value):
            self.fail(key, f"expected {size} bytes of lowercase hex")
        return bytes.fromhex(value)

    def hex32_items(self, key: str, max_len: int) -> tuple[bytes, ...]:
        """Return the list ``key`` of at most ``max_len`` 32-byte lowercase hex strings."""
        out = []
        for i, item in enumerate(self.items(key, max_len)):
            if not isinstance(item, str) or not _HEX32_RE.fullmatch(item):
                self._fail(f"{self.where}.{key}[{i}]", "expected 32 bytes of lowercase hex")
            out.append(bytes.fromhex(item))
        return tuple(out)

    def obj(self, key: str) -> Fields:
        """Return a reader of the object ``key``."""
        return Fields(self._get(key), f"{self.where}.{key}")

    def items(self, key: str, max_len: int) -> list[Any]:
        """Return the list ``key`` of at most ``max_len`` items."""
        value = self._get(key)
        if not isinstance(value, list) or len(value) > max_len:
            self.fail(key, f"expected a list of at most {max_len} items")
        return value

    def has(self, key: str) -> bool:
        """Return whether the object holds ``key`` (an optional field)."""
        return key in self._obj

    def raw(self, key: str) -> Any:
        """Return the unchecked JSON value ``key`` (the caller validates it)."""
        return self._get(key)

    def done(self) -> None:
        """Require every key of the object to have been read.

        Raises:
            FormatError: naming the object (``section``) and the first unknown key.
        """
        extra = sorted(set(self._obj) - self._seen)
        if extra:
            self.fail(None, f"unknown field {extra[0]!r}")
