"""Bounds of the bundle and package formats (``docs/FORMAT.md`` §6-§8).

Every limit a parser enforces and a writer must respect is written here once:
file sizes, counts, the JSON nesting and integer limits, label lengths and the
bit widths of the two range relations.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "MAX_ASSETS",
    "MAX_DECIMALS",
    "MAX_ID_BYTES",
    "MAX_LABEL_BYTES",
    "MAX_MANIFEST_BYTES",
    "MAX_PACKAGE_BYTES",
    "NODE_BITS",
    "RANGE_BITS",
    "SOLVENCY_BITS",
    "SYMBOL_RE",
]

#: Largest ``manifest.json`` a verifier reads.
MAX_MANIFEST_BYTES: Final[int] = 16 << 20
#: Largest customer package a verifier reads.
MAX_PACKAGE_BYTES: Final[int] = 4 << 20
#: Assets per bundle (and entries per package).
MAX_ASSETS: Final[int] = 256
#: Leaves per asset (the data-file header counts in 32 bits).
MAX_LEAVES: Final[int] = (1 << 32) - 1
#: Largest chunk size ``m`` (leaves per range proof).
MAX_CHUNK: Final[int] = 1024
#: Largest ``decimals`` of an asset.
MAX_DECIMALS: Final[int] = 30
#: Largest numerator or denominator of ``min_ratio``.
MAX_RATIO_TERM: Final[int] = (1 << 32) - 1
#: Longest customer id, in UTF-8 bytes.
MAX_ID_BYTES: Final[int] = 256
#: Longest exchange name or round label, in UTF-8 bytes.
MAX_LABEL_BYTES: Final[int] = 256
#: Bound on JSON nesting, checked before parsing: nothing deeper is parsed, and everything up to half
#: of it is accepted (a manifest or package needs 5 levels).
MAX_JSON_DEPTH: Final[int] = 32
#: Digits allowed in a JSON integer (numbers are below 2^53; larger values are decimal strings).
MAX_JSON_INT_DIGITS: Final[int] = 20
#: Bit width of every leaf's range proof: balances are in ``[0, 2^64)``.
RANGE_BITS: Final[int] = 64
#: Bit width of the solvency proof: the surplus ``den*R - num*L`` is in ``[0, 2^128)``.
SOLVENCY_BITS: Final[int] = 128
#: Bit width of each node proof (format version 3): every subtree sum above the chunk level is in
#: ``[0, 2^128)`` (at most 2^32 leaves of at most 2^64 each, so the bound never binds an honest tree).
NODE_BITS: Final[int] = 128
#: An asset symbol: ASCII upper-case letters, digits, ``_`` and ``-``, at most 16 characters.
SYMBOL_RE: Final[re.Pattern[str]] = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,15}")
