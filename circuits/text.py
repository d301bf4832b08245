r"""The text fields of the formats: exchange, round, customer id (``docs/FORMAT.md`` §6, §8).

A text field is a non-empty string of valid Unicode scalar values, at most
``max_bytes`` bytes in UTF-8, holding no code point of Unicode 14.0.0 general
category Cc (controls), Cf (format, including the bidi overrides and isolates and
the zero-width characters), Zl, Zp (line and paragraph separators) or Cs
(surrogates). Such characters can rewrite a terminal (ESC sequences, newlines) or
reorder what a reader sees (U+202E), so a forged manifest could print a fake line.

The forbidden set is the frozen table :data:`FORBIDDEN_RANGES` below, computed
once from Python 3.11's ``unicodedata`` (Unicode 14.0.0) and checked against it by
``tests/test_text.py``: every implementation applies the same table whatever its
own Unicode version. A code point unassigned in 14.0.0 (category Cn) is allowed,
even if a later version makes it a format character.

The same check runs at input (the prover's ledger and reserves: ``InputError``)
and at parse time (manifest and package: ``FormatError``, the field as ``section``).
"""

from __future__ import annotations

import re
from typing import Final

from circuits.errors import FormatError

__all__ = ["FORBIDDEN_RANGES", "UNICODE_VERSION", "check_text", "text_problem"]

#: The Unicode version the table was computed from.
UNICODE_VERSION: Final[str] = "14.0.0"

#: Inclusive code-point ranges of general category Cc, Cf, Zl, Zp or Cs in Unicode 14.0.0 (merged, sorted).
FORBIDDEN_RANGES: Final[tuple[tuple[int, int], ...]] = (
    (0x0000, 0x001F),  # Cc: C0 controls (NUL .. US, including TAB, LF, CR, ESC)
    (0x007F, 0x009F),  # Cc: DEL, C1 controls
    (0x00AD, 0x00AD),  # Cf: SOFT HYPHEN
    (0x0600, 0x0605),  # Cf: ARABIC NUMBER SIGN .. ARABIC NUMBER MARK ABOVE
    (0x061C, 0x061C),  # Cf: ARABIC LETTER MARK
    (0x06DD, 0x06DD),  # Cf: ARABIC END OF AYAH
    (0x070F, 0x070F),  # Cf: SYRIAC ABBREVIATION MARK
    (0x0890, 0x0891),  # Cf: ARABIC POUND MARK ABOVE, ARABIC PIASTRE MARK ABOVE
    (0x08E2, 0x08E2),  # Cf: ARABIC DISPUTED END OF AYAH
    (0x180E, 0x180E),  # Cf: MONGOLIAN VOWEL SEPARATOR
    (0x200B, 0x200F),  # Cf: ZERO WIDTH SPACE .. RIGHT-TO-LEFT MARK
    (0x2028, 0x202E),  # Zl LINE SEPARATOR, Zp PARAGRAPH SEPARATOR, Cf: LRE .. RIGHT-TO-LEFT OVERRIDE
    (0x2060, 0x2064),  # Cf: WORD JOINER .. INVISIBLE PLUS
    (0x2066, 0x206F),  # Cf: LEFT-TO-RIGHT ISOLATE .. NOMINAL DIGIT SHAPES
    (0xD800, 0xDFFF),  # Cs: surrogates
    (0xFEFF, 0xFEFF),  # Cf: ZERO WIDTH NO-BREAK SPACE (BOM)
    (0xFFF9, 0xFFFB),  # Cf: INTERLINEAR ANNOTATION ANCHOR .. TERMINATOR
    (0x110BD, 0x110BD),  # Cf: KAITHI NUMBER SIGN
    (0x110CD, 0x110CD),  # Cf: KAITHI NUMBER SIGN ABOVE
    (0x13430, 0x13438),  # Cf: EGYPTIAN HIEROGLYPH VERTICAL JOINER .. END SEGMENT
    (0x1BCA0, 0x1BCA3),  # Cf: SHORTHAND FORMAT LETTER OVERLAP .. UP STEP
    (0x1D173, 0x1D17A),  # Cf: MUSICAL SYMBOL BEGIN BEAM .. END PHRASE
    (0xE0001, 0xE0001),  # Cf: LANGUAGE TAG
    (0xE0020, 0xE007F),  # Cf: TAG SPACE .. CANCEL TAG
)

#: One character class of every forbidden range.
FORBIDDEN_RE: Final[re.Pattern[str]] = re.compile(
    "[" + "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in FORBIDDEN_RANGES) + "]"
)


def text_problem(value: object, max_bytes: int) -> str | None:
    """Return why ``value`` is not a valid text field of at most ``max_bytes`` UTF-8 bytes, or ``None``.

    The reason never repeats the forbidden character itself, only its code point.
    """
    if not isinstance(value, str):
        return f"expected a string, found {type(value).__name__}"
    if not value:
        return "must not be empty"
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return "not valid Unicode text (a lone surrogate)"
    if size > max_bytes:
        return f"longer than {max_bytes} UTF-8 bytes ({size})"
    found = FORBIDDEN_RE.search(value)
    if found is not None:
        return (
            f"holds U+{ord(found.group()):04X} at character {found.start()}: control, format, bidi and "
            "separator characters (Unicode categories Cc, Cf, Zl, Zp) are not allowed"
        )
    return None


def check_text(value: object, max_bytes: int, where: str) -> str:
    """Return ``value`` if it is a valid text field (see the module docstring).

    Raises:
        FormatError: with ``section`` ``where`` (a field path such as ``"manifest.exchange"``).
    """
    problem = text_problem(value, max_bytes)
    if problem is not None:
        raise FormatError(f"{where}: {problem}", section=where, field=where.partition(".")[2] or None)
    assert isinstance(value, str)
    return value
