"""Bounds of the bundle and package formats (``docs/FORMAT.md`` §6-§8).

Every limit a parser enforces and a writer must respect is written here once:
file sizes, counts, the JSON nesting and integer limits, label lengths and the
bit widths of the two range relations.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "MARGIN_TYPES_RE",
    "MAX_ASSETS",
    "MAX_COLLATERAL_TYPES",
    "MAX_DECIMALS",
    "MAX_ID_BYTES",
    "MAX_LABEL_BYTES",
    "MAX_MANIFEST_BYTES",
    "MAX_MARGIN_ACCOUNTS",
    "MAX_MARGIN_ASSET_DECIMALS",
    "MAX_MARGIN_SLOTS",
    "MAX_PACKAGE_BYTES",
    "MAX_PRICE_EXCLUSIVE",
    "MAX_TIERS",
    "MAX_TIER_BOUNDARY",
    "MAX_VALUE_DECIMALS",
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

# Margin accounts (format version 4; ``docs/FORMAT.md`` §14.1-§14.3, ``notes/42-margin.md``).

#: Slots per margin account (``S``): assets one account may name.
MAX_MARGIN_SLOTS: Final[int] = 16
#: Collateral types (``K``): Binance's three are ``loan``, ``margin``, ``portfolio_margin``.
MAX_COLLATERAL_TYPES: Final[int] = 3
#: Tiers of one haircut schedule (``T``).
MAX_TIERS: Final[int] = 8
#: Largest ``value_decimals`` ``q`` (the value unit is ``10^-q`` of the quote currency).
MAX_VALUE_DECIMALS: Final[int] = 18
#: Largest ``decimals`` of an asset of a round with margin accounts (``δ = 10^d < 2^60``, ``notes/42`` step 4).
MAX_MARGIN_ASSET_DECIMALS: Final[int] = 18
#: Tier boundaries are below this (value units), so every tier line's ``A_t < 100 * 2^56 < 2^63``.
MAX_TIER_BOUNDARY: Final[int] = 1 << 56
#: Prices are integers in ``[1, 2^64)`` value units per whole unit of the asset.
MAX_PRICE_EXCLUSIVE: Final[int] = 1 << 64
#: Largest margin record count ``M`` (a power of two, dummy accounts included).
MAX_MARGIN_ACCOUNTS: Final[int] = 1 << 24
#: Most accounts whose value lists one proofs record aggregates (``G``, ``MarginParams.group_size``).
MARGIN_GROUP_MAX: Final[int] = 8
#: A collateral type name: ASCII lower-case letters and ``_``, at most 16 characters, a letter first.
MARGIN_TYPES_RE: Final[re.Pattern[str]] = re.compile(r"[a-z][a-z_]{0,15}")
