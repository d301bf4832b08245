r"""Margin accounts (format version 4): parameters, tier lines, records, the value list, contexts.

The math, its soundness and every bound are ``circuits/notes/42-margin.md``; the bytes are
``docs/FORMAT.md`` §14. This module is secret-free shared code: the prover fills
:class:`SlotAmounts` and :class:`SlotBlindings` with the customer's amounts and blindings and
calls the arithmetic here; the verifier parses :class:`MarginRecord` and derives the same
:func:`value_list`; both build their range statements with :class:`MarginPartStatement`.

* :class:`MarginParams` (with :class:`AssetMargin` and :class:`Tier`): the round's public
  margin parameters, validated at construction (:class:`~circuits.errors.ParameterError`),
  their :meth:`~MarginParams.digest` (§14.2) and the manifest ``margin`` object
  (:meth:`~MarginParams.to_json`, :meth:`~MarginParams.parse`, §14.3).
* :func:`tier_lines`, :func:`scaled_haircut`, :func:`collateral_value`, :func:`account_excess`,
  :func:`split_excess`: the integer arithmetic of ``notes/42``.
* :class:`MarginSlot`, :class:`MarginRecord`: a record of ``margin.records.bin`` (§14.4),
  :func:`margin_leaf_hash`, :func:`margin_record_id`.
* :func:`value_list` (points, from a record and its leaves) and :func:`value_openings` (their
  openings, from the amounts and blindings): the ``Q`` values of an account, in the same order.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Final

from circuits.backends import GroupBackend
from circuits.constants import GROUP_ORDER, POINT_SIZE
from circuits.datafiles import HEADER_SIZE, range_record_size
from circuits.encoding import frame
from circuits.errors import FormatError, ParameterError, WitnessError
from circuits.generators import PedersenGens
from circuits.group import Point, msm_raw
from circuits.jsonio import Fields
from circuits.limits import (
    MARGIN_GROUP_MAX,
    MARGIN_TYPES_RE,
    MAX_ASSETS,
    MAX_CHUNK,
    MAX_COLLATERAL_TYPES,
    MAX_MARGIN_ACCOUNTS,
    MAX_MARGIN_ASSET_DECIMALS,
    MAX_MARGIN_SLOTS,
    MAX_PRICE_EXCLUSIVE,
    MAX_TIER_BOUNDARY,
    MAX_TIERS,
    MAX_VALUE_DECIMALS,
    RANGE_BITS,
    SYMBOL_RE,
)
from circuits.relations import Opening, RangeStatement

__all__ = [
    "MAGIC_MARGIN_PROOFS",
    "MAGIC_MARGIN_RECORDS",
    "MARGIN_PROOFS_NAME",
    "MARGIN_RECORDS_NAME",
    "AssetMargin",
    "MarginParams",
    "MarginPartStatement",
    "MarginRecord",
    "MarginSlot",
    "SlotAmounts",
    "SlotBlindings",
    "Tier",
    "account_excess",
    "collateral_value",
    "commit_record",
    "dummy_slot",
    "margin_leaf_hash",
    "margin_leaf_id",
    "margin_record_id",
    "scaled_haircut",
    "slot_amounts",
    "split_excess",
    "tier_lines",
    "value_labels",
    "value_list",
    "value_openings",
]

_PARAMS_TAG: Final[bytes] = b"zk-solvency margin params v4"
_RECORD_HASH_TAG: Final[bytes] = b"\x04zk-solvency margin record v4"
_ID_TAG: Final[bytes] = b"zk-solvency margin id v1"
_LEAF_ID_TAG: Final[bytes] = b"zk-solvency margin leaf id v4"
_CONTEXT_TAG: Final[bytes] = b"zk-solvency margin v4"
#: Magic bytes of ``margin.records.bin`` and ``margin.proofs.bin`` (§14.4).
MAGIC_MARGIN_RECORDS: Final[bytes] = b"ZKSMRGN1"
MAGIC_MARGIN_PROOFS: Final[bytes] = b"ZKSMRGP1"
#: The two margin data files' names (§14.3 ``margin.files``).
MARGIN_RECORDS_NAME: Final[str] = "margin.records.bin"
MARGIN_PROOFS_NAME: Final[str] = "margin.proofs.bin"

_ID_SIZE: Final[int] = 32
_SLOT_HEAD: Final[int] = 6  # LE16(asset) || LE32(leaf)
_U64: Final[int] = 1 << 64
_INV_2_64: Final[int] = pow(_U64, -1, GROUP_ORDER)


def _is_int(value: object) -> bool:
    return type(value) is int


def _pow10(d: int) -> int:
    return int(10**d)


# ---------------------------------------------------------------------------
# Parameters


@dataclass(frozen=True)
class Tier:
    """One tier of a haircut schedule: ``ratio`` percent of the value up to ``up_to`` (value units).

    ``up_to`` is the tier's upper boundary ``b_t``; ``None`` marks the last tier (``b_T = ∞``).
    """

    up_to: int | None
    ratio: int


@dataclass(frozen=True)
class AssetMargin:
    """An asset's public margin parameters: decimals, price (value units per whole unit) and schedules.

    ``haircuts[k]`` is the schedule of collateral type ``k`` (in ``MarginParams.collateral_types``
    order). Validated by :class:`MarginParams`.
    """

    symbol: str
    decimals: int
    price: int
    haircuts: tuple[tuple[Tier, ...], ...]


def _check_schedule(schedule: Sequence[Tier], where: str) -> None:
    """Validate one schedule (§14.1): 1..8 tiers, boundaries increasing in ``[1, 2^56)``, ratios not increasing.

    Raises:
        ParameterError: naming the tier (``where[t].up_to`` / ``where[t].ratio``).
    """
    if not isinstance(schedule, tuple) or not 1 <= len(schedule) <= MAX_TIERS:
        raise ParameterError(f"{where}: a schedule has 1 to {MAX_TIERS} tiers", section=where)
    previous_bound, previous_ratio = 0, 100
    for t, tier in enumerate(schedule):
        at = f"{where}[{t}]"
        if not isinstance(tier, Tier):
            raise ParameterError(f"{at}: not a Tier", section=at)
        if not _is_int(tier.ratio) or not 0 <= tier.ratio <= 100:
            raise ParameterError(f"{at}.ratio: a ratio is an integer percentage in [0, 100]", section=f"{at}.ratio")
        if tier.ratio > previous_ratio:
            raise ParameterError(
                f"{at}.ratio: ratios must not increase along the tiers ({tier.ratio} > {previous_ratio})",
                section=f"{at}.ratio",
            )
        last = t == len(schedule) - 1
        if last:
            if tier.up_to is not None:
                raise ParameterError(f"{at}.up_to: the last tier has no boundary", section=f"{at}.up_to")
        else:
            if tier.up_to is None or not _is_int(tier.up_to) or not 1 <= tier.up_to < MAX_TIER_BOUNDARY:
                raise ParameterError(
                    f"{at}.up_to: every tier but the last has a boundary in [1, 2^56) value units",
                    section=f"{at}.up_to",
                )
            if tier.up_to <= previous_bound:
                raise ParameterError(
                    f"{at}.up_to: boundaries must increase strictly ({tier.up_to} <= {previous_bound})",
                    section=f"{at}.up_to",
                )
            previous_bound = tier.up_to
        previous_ratio = tier.ratio


def tier_lines(schedule: Sequence[Tier]) -> tuple[tuple[int, int], ...]:
    """Return the schedule's tier lines ``(A_t, r_t)``: ``100*h(V) = A_t + r_t*V`` on tier ``t`` (``notes/42``).

    ``A_1 = 0`` and ``A_t = Σ_{j<t} r_j (b_j - b_{j-1}) - r_t b_{t-1}`` (``b_0 = 0``); every
    ``A_t`` is in ``[0, 100*b_{T-1}]`` because the ratios do not increase.

    Raises:
        ParameterError: the schedule is not valid (:class:`MarginParams`' rules).
    """
    schedule = tuple(schedule)
    _check_schedule(schedule, "schedule")
    lines = []
    below = 0  # Σ_{j<t} r_j (b_j - b_{j-1})
    lower = 0  # b_{t-1}
    for tier in schedule:
        lines.append((below - tier.ratio * lower, tier.ratio))
        if tier.up_to is not None:
            below += tier.ratio * (tier.up_to - lower)
            lower = tier.up_to
    return tuple(lines)


def scaled_haircut(schedule: Sequence[Tier], value: int) -> int:
    """Return ``100*h(V) = min_t (A_t + r_t*V)``, the haircut value of ``V`` in hundredths of a value unit.

    The lemma of ``notes/42`` (concavity) makes the minimum over the tier lines equal to the
    piecewise definition ``Σ_t r_t * clip(V - b_{t-1}, 0, b_t - b_{t-1})``.

    Raises:
        ParameterError: ``value`` is not a non-negative integer, or the schedule is invalid.
    """
    if not _is_int(value) or value < 0:
        raise ParameterError("a collateral value is a non-negative integer")
    return min(a + r * value for a, r in tier_lines(schedule))


def collateral_value(price: int, amount: int, decimals: int) -> int:
    """Return ``V = floor(P*c / 10^d)``: the value of ``c`` base units, rounded down (value units)."""
    if not (_is_int(price) and _is_int(amount) and _is_int(decimals)) or amount < 0 or decimals < 0:
        raise ParameterError("price, amount and decimals are non-negative integers")
    return price * amount // _pow10(decimals)


@dataclass(frozen=True, kw_only=True)
class MarginParams:
    """The round's public margin parameters (``docs/FORMAT.md`` §14.2, §14.3), validated at construction.

    ``assets`` lists every asset of the bundle in manifest order (sorted by symbol); ``accounts``
    is the record count ``M`` (a power of two, dummy accounts included); ``slots`` is ``S``.

    Raises:
        ParameterError: any rule of §14.1-§14.3 broken, with ``section`` the field
            (``"assets[1].haircuts.loan[2].ratio"``).
    """

    value_decimals: int
    collateral_types: tuple[str, ...]
    slots: int
    accounts: int
    assets: tuple[AssetMargin, ...]

    def __post_init__(self) -> None:
        """Validate every parameter (§14.1-§14.3)."""
        if not _is_int(self.value_decimals) or not 0 <= self.value_decimals <= MAX_VALUE_DECIMALS:
            raise ParameterError(f"value_decimals must be in [0, {MAX_VALUE_DECIMALS}]", section="value_decimals")
        types = self.collateral_types
        if not isinstance(types, tuple) or not 1 <= len(types) <= MAX_COLLATERAL_TYPES:
            raise ParameterError(
                f"collateral_types: 1 to {MAX_COLLATERAL_TYPES} types", section="collateral_types"
            )
        for i, name in enumerate(types):
            if not isinstance(name, str) or not MARGIN_TYPES_RE.fullmatch(name):
                raise ParameterError(
                    f"collateral_types[{i}]: a type matches {MARGIN_TYPES_RE.pattern}", section=f"collateral_types[{i}]"
                )
        if list(types) != sorted(set(types)):
            raise ParameterError("collateral_types: distinct, in ASCII order", section="collateral_types")
        assets = self.assets
        if not isinstance(assets, tuple) or not 1 <= len(assets) <= MAX_ASSETS:
            raise ParameterError(f"assets: 1 to {MAX_ASSETS} assets", section="assets")
        for i, a in enumerate(assets):
            where = f"assets[{i}]"
            if not isinstance(a, AssetMargin):
                raise ParameterError(f"{where}: not an AssetMargin", section=where)
            if not isinstance(a.symbol, str) or not SYMBOL_RE.fullmatch(a.symbol):
                raise ParameterError(f"{where}.symbol: not a symbol", section=f"{where}.symbol")
            if not _is_int(a.decimals) or not 0 <= a.decimals <= MAX_MARGIN_ASSET_DECIMALS:
                raise ParameterError(
                    f"{where}.decimals: an asset of a round with margin accounts has at most "
                    f"{MAX_MARGIN_ASSET_DECIMALS} decimals",
                    section=f"{where}.decimals",
                )
            if not _is_int(a.price) or not 1 <= a.price < MAX_PRICE_EXCLUSIVE:
                raise ParameterError(
                    f"{where}.price: a price is an integer in [1, 2^64) value units", section=f"{where}.price"
                )
            if not isinstance(a.haircuts, tuple) or len(a.haircuts) != len(types):
                raise ParameterError(
                    f"{where}.haircuts: one schedule per collateral type", section=f"{where}.haircuts"
                )
            for k, schedule in enumerate(a.haircuts):
                _check_schedule(schedule, f"{where}.haircuts.{types[k]}")
        symbols = [a.symbol for a in assets]
        if symbols != sorted(set(symbols)):
            raise ParameterError("assets: symbols unique and sorted (manifest order)", section="assets")
        if not _is_int(self.slots) or not 1 <= self.slots <= MAX_MARGIN_SLOTS:
            raise ParameterError(f"slots must be in [1, {MAX_MARGIN_SLOTS}]", section="slots")
        if self.slots > len(assets):
            raise ParameterError(f"slots ({self.slots}) exceed the asset count ({len(assets)})", section="slots")
        m = self.accounts
        if not _is_int(m) or not 1 <= m <= MAX_MARGIN_ACCOUNTS or m & (m - 1):
            raise ParameterError("accounts must be a power of two in [1, 2^24]", section="accounts")

    # -- derived sizes ------------------------------------------------------------------

    @property
    def types(self) -> int:
        """``K``, the number of collateral types."""
        return len(self.collateral_types)

    @cached_property
    def tiers(self) -> int:
        """``T_max``, the largest tier count of any schedule."""
        return max(len(s) for a in self.assets for s in a.haircuts)

    @cached_property
    def _lines(self) -> tuple[tuple[tuple[tuple[int, int], ...], ...], ...]:
        out = []
        for a in self.assets:
            per_type = []
            for schedule in a.haircuts:
                lines = tier_lines(schedule)
                per_type.append(lines + (lines[-1],) * (self.tiers - len(lines)))
            out.append(tuple(per_type))
        return tuple(out)

    @property
    def values_per_account(self) -> int:
        """``Q = S*(3 + K*(1 + T_max)) + 2``, the length of an account's value list."""
        return self.slots * (3 + self.types * (1 + self.tiers)) + 2

    @property
    def group_size(self) -> int:
        """``G``: accounts per proofs record, the largest power of two ``<= min(M, 8)`` with ``G*Q <= 1024`` (>= 1).

        ``M`` is a power of two, so ``G`` divides it; a group's parts are then at most a chunk's 1024 values.
        """
        g = 1
        while g * 2 <= min(self.accounts, MARGIN_GROUP_MAX) and g * 2 * self.values_per_account <= MAX_CHUNK:
            g *= 2
        return g

    @property
    def groups(self) -> int:
        """``M / G``: the number of groups (records of ``margin.proofs.bin``)."""
        return self.accounts // self.group_size

    @property
    def values_per_group(self) -> int:
        """``G*Q``: the length of a group's value list (its accounts' lists, in record order)."""
        return self.group_size * self.values_per_account

    @property
    def parts(self) -> tuple[int, ...]:
        """The part sizes ``m_p``: the powers of two of ``G*Q``'s binary expansion, largest first."""
        q = self.values_per_group
        return tuple(1 << b for b in reversed(range(q.bit_length())) if q >> b & 1)

    @property
    def offsets(self) -> tuple[int, ...]:
        """The part offsets ``o_p`` (``o_0 = 0``, ``o_{p+1} = o_p + m_p``)."""
        out, o = [], 0
        for m in self.parts:
            out.append(o)
            o += m
        return tuple(out)

    @property
    def slot_size(self) -> int:
        """Bytes of one slot of a record: ``6 + 96 + 96*K``."""
        return _SLOT_HEAD + 2 * POINT_SIZE + 2 * POINT_SIZE * self.types

    @property
    def record_size(self) -> int:
        """Bytes of one record of ``margin.records.bin``: ``32 + S*(6 + 96 + 96*K) + 48``."""
        return _ID_SIZE + self.slots * self.slot_size + POINT_SIZE

    @property
    def proofs_record_size(self) -> int:
        """Bytes of one record (a group's proofs) of ``margin.proofs.bin``: ``Σ_p (353 + 96*lg(64*m_p))``."""
        return sum(range_record_size(m) for m in self.parts)

    @property
    def records_file_size(self) -> int:
        """``16 + M * record_size``."""
        return HEADER_SIZE + self.accounts * self.record_size

    @property
    def proofs_file_size(self) -> int:
        """``16 + (M/G) * proofs_record_size``."""
        return HEADER_SIZE + self.groups * self.proofs_record_size

    @property
    def d_max(self) -> int:
        """The largest ``decimals`` of the round's assets (``Δ = 10^d_max``)."""
        return max(a.decimals for a in self.assets)

    def lines(self, asset: int, k: int) -> tuple[tuple[int, int], ...]:
        """Return the tier lines ``(A_t, r_t)`` of asset ``asset``, type ``k``, extended to ``T_max`` lines.

        A schedule of fewer tiers repeats its last line (§14.2).
        """
        return self._lines[asset][k]

    def asset_index(self, symbol: str) -> int:
        """Return the position of ``symbol`` in ``assets`` (manifest order).

        Raises:
            ParameterError: no such asset.
        """
        for i, a in enumerate(self.assets):
            if a.symbol == symbol:
                return i
        raise ParameterError(f"asset {symbol!r} has no margin parameters")

    # -- the digest and the manifest object ---------------------------------------------

    def digest(self) -> bytes:
        """Return ``margin_digest`` (§14.2): SHA-256 over every public margin parameter."""
        return self._digest

    @cached_property
    def _digest(self) -> bytes:
        out = [
            _PARAMS_TAG,
            struct.pack("<BHHHI", self.value_decimals, self.slots, self.types, self.tiers, self.accounts),
        ]
        out.extend(frame(t.encode()) for t in self.collateral_types)
        for a in self.assets:
            out.append(frame(a.symbol.encode()) + struct.pack("<BQ", a.decimals, a.price))
            for schedule in a.haircuts:
                out.append(struct.pack("<B", len(schedule)))
                out.extend(struct.pack("<QB", t.up_to or 0, t.ratio) for t in schedule)
        return hashlib.sha256(b"".join(out)).digest()

    def to_json(self, root: bytes, files: Mapping[str, Any]) -> dict[str, Any]:
        """Return the manifest's ``margin`` object (§14.3); ``files`` is its JSON ``files`` member."""
        return {
            "value_decimals": self.value_decimals,
            "collateral_types": list(self.collateral_types),
            "slots": self.slots,
            "tiers": self.tiers,
            "accounts": self.accounts,
            "params_sha256": self.digest().hex(),
            "root": root.hex(),
            "assets": [
                {
                    "symbol": a.symbol,
                    "price": str(a.price),
                    "haircuts": {
                        name: [
                            {"up_to": None if t.up_to is None else str(t.up_to), "ratio": t.ratio}
                            for t in schedule
                        ]
                        for name, schedule in zip(self.collateral_types, a.haircuts, strict=True)
                    },
                }
                for a in self.assets
            ],
            "files": dict(files),
        }

    @classmethod
    def parse(cls, f: Fields, assets: Sequence[tuple[str, int]]) -> tuple[MarginParams, bytes]:
        """Validate the manifest's ``margin`` object (§14.3) but its ``files`` member; return the params and root.

        ``assets`` are the manifest's ``(symbol, decimals)`` in manifest order. The caller reads
        ``files`` and calls ``f.done()``.

        Raises:
            FormatError: a rule of §14.3 broken, ``section`` the field's path
                (``manifest.margin.assets[0].haircuts.loan[1].ratio``).
        """
        q = f.integer("value_decimals", 0, MAX_VALUE_DECIMALS)
        raw_types = f.items("collateral_types", MAX_COLLATERAL_TYPES)
        types = []
        for i, name in enumerate(raw_types):
            if not isinstance(name, str) or not MARGIN_TYPES_RE.fullmatch(name):
                f.fail(f"collateral_types[{i}]", f"expected a name matching {MARGIN_TYPES_RE.pattern}")
            types.append(name)
        if not types or types != sorted(set(types)):
            f.fail("collateral_types", f"expected 1 to {MAX_COLLATERAL_TYPES} distinct names in ASCII order")
        slots = f.integer("slots", 1, MAX_MARGIN_SLOTS)
        tiers = f.integer("tiers", 1, MAX_TIERS)
        accounts = f.integer("accounts", 1, MAX_MARGIN_ACCOUNTS)
        if accounts & (accounts - 1):
            f.fail("accounts", "not a power of two")
        digest = f.hexbytes("params_sha256", 32)
        root = f.hexbytes("root", 32)
        raw_assets = f.items("assets", MAX_ASSETS)
        if len(raw_assets) != len(assets):
            f.fail("assets", f"expected {len(assets)} entries, one per asset of the manifest")
        parsed = []
        for i, (raw, (symbol, decimals)) in enumerate(zip(raw_assets, assets, strict=True)):
            g = Fields(raw, f"{f.where}.assets[{i}]")
            if g.text("symbol", 16, SYMBOL_RE) != symbol:
                g.fail("symbol", f"expected {symbol!r} (the manifest's assets, in order)")
            price = g.uint_str("price", MAX_PRICE_EXCLUSIVE)
            if price < 1:
                g.fail("price", "a price is at least 1 value unit")
            if decimals > MAX_MARGIN_ASSET_DECIMALS:
                where = f"manifest.assets[{i}].decimals"
                raise FormatError(
                    f"{where}: an asset of a bundle with margin accounts has at most {MAX_MARGIN_ASSET_DECIMALS} "
                    "decimals",
                    section=where,
                    field=f"assets[{i}].decimals",
                )
            h = g.obj("haircuts")
            schedules = tuple(_parse_schedule(h, name) for name in types)
            h.done()
            g.done()
            parsed.append(AssetMargin(symbol, decimals, price, schedules))
        if slots > len(assets):
            f.fail("slots", "more slots than assets")
        try:
            params = cls(
                value_decimals=q, collateral_types=tuple(types), slots=slots, accounts=accounts, assets=tuple(parsed)
            )
        except ParameterError as exc:  # every rule is checked above; kept as a safety net
            section = f"{f.where}.{exc.section}" if exc.section else f.where
            raise FormatError(f"{section}: {exc}", section=section, field=section.partition(".")[2]) from exc
        if params.tiers != tiers:
            f.fail("tiers", f"expected {params.tiers}, the largest tier count of the schedules")
        if params.digest() != digest:
            f.fail("params_sha256", "does not match the margin parameters (docs/FORMAT.md §14.2)")
        return params, root


def _parse_schedule(h: Fields, name: str) -> tuple[Tier, ...]:
    raw = h.items(name, MAX_TIERS)
    if not raw:
        h.fail(name, f"expected 1 to {MAX_TIERS} tiers")
    tiers = []
    previous_bound, previous_ratio = 0, 100
    for t, item in enumerate(raw):
        g = Fields(item, f"{h.where}.{name}[{t}]")
        last = t == len(raw) - 1
        up_to: int | None = None
        if last:
            if g.raw("up_to") is not None:
                g.fail("up_to", "the last tier's up_to is null")
        else:
            if g.raw("up_to") is None:
                g.fail("up_to", "only the last tier's up_to is null")
            up_to = g.uint_str("up_to", MAX_TIER_BOUNDARY)
            if up_to <= previous_bound:
                g.fail("up_to", "boundaries must be > 0 and strictly increasing")
            previous_bound = up_to
        ratio = g.integer("ratio", 0, 100)
        if ratio > previous_ratio:
            g.fail("ratio", "ratios must not increase along the tiers")
        previous_ratio = ratio
        g.done()
        tiers.append(Tier(up_to, ratio))
    return tuple(tiers)


# ---------------------------------------------------------------------------
# An account's amounts (prover side fills them; plain integers)


@dataclass(frozen=True)
class SlotAmounts:
    """One slot's amounts (secret): the leaf it names, equity, debt, unpledged equity, per type c, V, H.

    ``asset`` is the asset's position in ``MarginParams.assets``, ``leaf`` the leaf index of the
    customer's equity there; ``collateral[k]`` the pledged base units ``c_k``, ``values[k]`` the
    claimed value ``V_k`` (honest: ``floor(P*c_k/10^d)``) and ``haircuts[k]`` the claimed scaled
    haircut ``H_k`` (honest: :func:`scaled_haircut`). :func:`slot_amounts` computes an honest slot.
    Never log one.
    """

    asset: int
    leaf: int
    equity: int
    debt: int
    unpledged: int
    collateral: tuple[int, ...]
    values: tuple[int, ...]
    haircuts: tuple[int, ...]

    def __post_init__(self) -> None:
        """Check the types and that the three per-type tuples have one entry per type."""
        scalars = (self.asset, self.leaf, self.equity, self.debt, self.unpledged)
        per_type = (self.collateral, self.values, self.haircuts)
        if not all(_is_int(x) for x in scalars) or not all(
            isinstance(t, tuple) and all(_is_int(x) for x in t) for t in per_type
        ):
            raise ParameterError("slot amounts are integers")
        if not len(self.collateral) == len(self.values) == len(self.haircuts) >= 1:
            raise ParameterError("a slot has one collateral amount, value and haircut per type")

    def __repr__(self) -> str:
        return f"SlotAmounts(asset={self.asset}, leaf={self.leaf}, <secret>)"


@dataclass(frozen=True)
class SlotBlindings:
    """The blindings (scalars mod ``r``) of one slot's commitments: ``D``, ``W``, and per type ``V``, ``H``."""

    d: int
    w: int
    v: tuple[int, ...]
    h: tuple[int, ...]

    def __repr__(self) -> str:
        return "SlotBlindings(<secret>)"


def slot_amounts(
    params: MarginParams, asset: int, leaf: int, equity: int, debt: int, collateral: Sequence[int]
) -> SlotAmounts:
    """Return the honest slot: ``w = e - Σ c_k``, ``V_k = floor(P*c_k/δ)``, ``H_k = scaled_haircut(V_k)``.

    Raises:
        WitnessError: a negative amount, or collateral above the equity.
        ParameterError: an unknown asset position, or not one amount per collateral type.
    """
    if not _is_int(asset) or not 0 <= asset < len(params.assets):
        raise ParameterError(f"asset position {asset!r} outside the round's assets")
    collateral = tuple(collateral)
    if len(collateral) != params.types:
        raise ParameterError(f"{len(collateral)} collateral amounts for {params.types} types")
    if min((equity, debt, *collateral)) < 0:
        raise WitnessError("a margin amount is negative")
    unpledged = equity - sum(collateral)
    if unpledged < 0:
        raise WitnessError("the collateral pledged exceeds the equity")
    a = params.assets[asset]
    values = tuple(collateral_value(a.price, c, a.decimals) for c in collateral)
    haircuts = tuple(scaled_haircut(s, v) for s, v in zip(a.haircuts, values, strict=True))
    return SlotAmounts(asset, leaf, equity, debt, unpledged, collateral, values, haircuts)


def dummy_slot(params: MarginParams, asset: int, leaf: int) -> SlotAmounts:
    """Return a padding slot: a zero leaf of ``asset``, every amount 0."""
    return slot_amounts(params, asset, leaf, 0, 0, (0,) * params.types)


def account_excess(params: MarginParams, slots: Sequence[SlotAmounts]) -> int:
    """Return ``x = Δ*Σ_{s,k} H_{s,k} - 100*Σ_s P_s*(Δ/δ_s)*d_s`` (``notes/42``; an integer).

    ``x >= 0`` is condition (M) for the claimed haircuts: the haircut value covers the debt
    value exactly (the debt is not rounded). A negative ``x`` means the account is refused.
    """
    delta = _pow10(params.d_max)
    x = 0
    for s in slots:
        x += delta * sum(s.haircuts) - _debt_weights(params, s.asset) * s.debt
    return x


def split_excess(x: int) -> tuple[int, int]:
    """Return ``(lo, hi)`` with ``x = lo + 2^64*hi`` and ``0 <= lo < 2^64`` (``hi < 0`` exactly when ``x < 0``)."""
    if not _is_int(x):
        raise ParameterError("the excess is an integer")
    return x & (_U64 - 1), x >> RANGE_BITS


# ---------------------------------------------------------------------------
# Records (margin.records.bin)


@dataclass(frozen=True)
class MarginSlot:
    """One slot of a record: the asset position and leaf index it names, and ``D``, ``W``, per type ``V``, ``H``."""

    asset: int
    leaf: int
    D: Point
    W: Point
    V: tuple[Point, ...]
    H: tuple[Point, ...]


@dataclass(frozen=True)
class MarginRecord:
    """One record of ``margin.records.bin`` (§14.4): the account's id, its ``S`` slots and ``Lo``."""

    record_id: bytes
    slots: tuple[MarginSlot, ...]
    Lo: Point

    def to_bytes(self) -> bytes:
        """Return the record's bytes (§14.4 layout)."""
        out = [self.record_id]
        for s in self.slots:
            out.append(struct.pack("<HI", s.asset, s.leaf) + s.D.to_bytes() + s.W.to_bytes())
            for v, h in zip(s.V, s.H, strict=True):
                out.append(v.to_bytes() + h.to_bytes())
        out.append(self.Lo.to_bytes())
        return b"".join(out)

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        params: MarginParams,
        index: int,
        leaf_counts: Sequence[int],
        backend: GroupBackend | None = None,
    ) -> MarginRecord:
        """Parse record ``index`` (§14.4); ``leaf_counts[a]`` is the leaf count of asset position ``a``.

        Checks the length, every asset position (below the asset count, strictly increasing
        within the record), every leaf index (below its asset's leaf count) and every point
        (decodes, not the identity). The order of ids across records is the caller's.

        Raises:
            FormatError: section ``margin.records.bin record <index>``.
        """
        section = f"{MARGIN_RECORDS_NAME} record {index}"

        def fail(message: str) -> FormatError:
            return FormatError(f"{section}: {message}", section=section, file=MARGIN_RECORDS_NAME,
                               field=f"record {index}")

        if not isinstance(data, bytes | bytearray | memoryview) or len(data) != params.record_size:
            raise fail(f"expected {params.record_size} bytes")
        data = bytes(data)
        size, k = params.slot_size, params.types
        heads = []
        previous = -1
        for s in range(params.slots):
            asset, leaf = struct.unpack_from("<HI", data, _ID_SIZE + s * size)
            if asset >= len(params.assets):
                raise fail(f"slot {s}: asset position {asset} >= the asset count {len(params.assets)}")
            if asset <= previous:
                raise fail(f"slot {s}: slot assets must increase strictly within a record")
            if leaf >= leaf_counts[asset]:
                raise fail(f"slot {s}: leaf index {leaf} >= the leaf count {leaf_counts[asset]} of its asset")
            heads.append((asset, leaf))
            previous = asset

        def point(offset: int, what: str) -> Point:
            try:
                p = Point.from_bytes(data[offset : offset + POINT_SIZE], backend)
            except FormatError as exc:
                raise fail(f"{what}: {exc}") from exc
            if p.is_identity():
                raise fail(f"{what}: the identity")
            return p

        slots = []
        for s, (asset, leaf) in enumerate(heads):
            base = _ID_SIZE + s * size + _SLOT_HEAD
            D = point(base, f"slot {s} D")
            W = point(base + POINT_SIZE, f"slot {s} W")
            V = tuple(point(base + (2 + 2 * j) * POINT_SIZE, f"slot {s} V[{j}]") for j in range(k))
            H = tuple(point(base + (3 + 2 * j) * POINT_SIZE, f"slot {s} H[{j}]") for j in range(k))
            slots.append(MarginSlot(asset, leaf, D, W, V, H))
        lo = point(_ID_SIZE + params.slots * size, "Lo")
        return cls(data[:_ID_SIZE], tuple(slots), lo)


def margin_leaf_hash(record_bytes: bytes) -> bytes:
    """Return the records tree's leaf hash ``SHA256(0x04 || "zk-solvency margin record v4" || record)``."""
    return hashlib.sha256(_RECORD_HASH_TAG + bytes(record_bytes)).digest()


def margin_record_id(round_label: str, customer_id: str, margin_salt: bytes) -> bytes:
    """Return a real account's record id ``SHA256("zk-solvency margin id v1" || frame(T) || frame(id) || salt)``."""
    return hashlib.sha256(
        _ID_TAG + frame(round_label.encode()) + frame(customer_id.encode()) + bytes(margin_salt)
    ).digest()


def margin_leaf_id(record_id: bytes, symbol: str) -> bytes:
    """Return the id a slot's leaf must carry: ``SHA256("zk-solvency margin leaf id v4" || record_id || frame(S))``.

    Binding the leaf to its record means no record can name a spot customer's leaf (whose id is
    ``circuits.datafiles.leaf_id`` of that customer) as its collateral (``notes/42`` §"Counting").
    """
    return hashlib.sha256(_LEAF_ID_TAG + bytes(record_id) + frame(symbol.encode())).digest()


def commit_record(
    params: MarginParams,
    record_id: bytes,
    slots: Sequence[tuple[SlotAmounts, SlotBlindings]],
    lo: Opening,
    pc_gens: PedersenGens,
) -> MarginRecord:
    """Return the record committing to ``slots`` (``D = Com(d)``, ``W = Com(w)``, ``V``, ``H``) and ``Lo = Com(lo)``.

    Raises:
        ParameterError: not ``S`` slots, or not one blinding per type.
    """
    if len(slots) != params.slots:
        raise ParameterError(f"{len(slots)} slots, the round has {params.slots}")
    if not isinstance(record_id, bytes) or len(record_id) != _ID_SIZE:
        raise ParameterError("a record id is 32 bytes")
    out = []
    for amounts, b in slots:
        if len(b.v) != params.types or len(b.h) != params.types or len(amounts.values) != params.types:
            raise ParameterError("one value and haircut (and blinding) per collateral type")
        out.append(
            MarginSlot(
                amounts.asset,
                amounts.leaf,
                pc_gens.commit(amounts.debt, b.d),
                pc_gens.commit(amounts.unpledged, b.w),
                tuple(pc_gens.commit(v, r) for v, r in zip(amounts.values, b.v, strict=True)),
                tuple(pc_gens.commit(h, r) for h, r in zip(amounts.haircuts, b.h, strict=True)),
            )
        )
    return MarginRecord(record_id, tuple(out), pc_gens.commit(lo.v, lo.v_blinding))


# ---------------------------------------------------------------------------
# The value list


def value_labels(params: MarginParams) -> tuple[str, ...]:
    """Return a name for each of the ``Q`` values, in value-list order (for messages; no secrets).

    ``"slot 0 debt"``, ``"slot 0 unpledged"``, ``"slot 0 remainder"``, ``"slot 0 loan value"``,
    ``"slot 0 loan slack 1"`` .. ``"slot 0 loan slack T_max"``, ..., ``"excess lo"``, ``"excess hi"``.
    """
    out = []
    for s in range(params.slots):
        out += [f"slot {s} debt", f"slot {s} unpledged", f"slot {s} remainder"]
        for name in params.collateral_types:
            out.append(f"slot {s} {name} value")
            out += [f"slot {s} {name} slack {t + 1}" for t in range(params.tiers)]
    return (*out, "excess lo", "excess hi")


def _debt_weights(params: MarginParams, asset: int) -> int:
    """``100 * P * Δ/δ``: the weight of a slot's debt in ``X``."""
    a = params.assets[asset]
    return 100 * a.price * _pow10(params.d_max - a.decimals)


def value_list(
    params: MarginParams, record: MarginRecord, leaf_points: Sequence[Point], pc_gens: PedersenGens
) -> list[Point]:
    """Return the account's ``Q`` points (§14.4), ``leaf_points[s]`` the leaf ``E_s`` named by slot ``s``.

    Per slot ``D, W, Rho = P*(E - W) - δ*Σ_k V_k``, then per type ``V_k`` and its ``T_max`` slacks
    ``A_t*B + r_t*V_k - H_k``; then ``Lo`` and ``Hi = inv(2^64)*(X - Lo)``. A derived point may be
    the identity; the caller (the verifier) reports that account as false.

    Raises:
        ParameterError: not ``S`` slots or leaf points.
    """
    if len(record.slots) != params.slots or len(leaf_points) != params.slots:
        raise ParameterError(f"a record of {params.slots} slots needs {params.slots} leaf points")
    be = pc_gens.B.backend
    B = pc_gens.B.raw
    r = GROUP_ORDER
    delta = _pow10(params.d_max)
    out: list[Point] = []
    hi_points, hi_scalars = [], []
    for slot, E in zip(record.slots, leaf_points, strict=True):
        a = params.assets[slot.asset]
        dec = _pow10(a.decimals)
        rho = msm_raw(
            be,
            [E.raw, slot.W.raw, *(v.raw for v in slot.V)],
            [a.price % r, (-a.price) % r, *([(-dec) % r] * len(slot.V))],
        )
        out += [slot.D, slot.W, Point(rho, be)]
        for k, (V, H) in enumerate(zip(slot.V, slot.H, strict=True)):
            out.append(V)
            for A, ratio in params.lines(slot.asset, k):
                out.append(Point(msm_raw(be, [B, V.raw, H.raw], [A % r, ratio, r - 1]), be))
            hi_points.append(H.raw)
            hi_scalars.append(delta * _INV_2_64 % r)
        hi_points.append(slot.D.raw)
        hi_scalars.append((-_debt_weights(params, slot.asset)) * _INV_2_64 % r)
    hi_points.append(record.Lo.raw)
    hi_scalars.append((-_INV_2_64) % r)
    out += [record.Lo, Point(msm_raw(be, hi_points, hi_scalars), be)]
    return out


def value_openings(
    params: MarginParams,
    slots: Sequence[tuple[SlotAmounts, SlotBlindings]],
    leaf_blindings: Sequence[int],
    lo: Opening,
) -> list[Opening]:
    """Return the openings of the ``Q`` values of :func:`value_list`, same order (prover side; arithmetic mod r).

    ``leaf_blindings[s]`` is the blinding of the leaf slot ``s`` names (its amount is
    ``slots[s][0].equity``); ``lo`` opens ``Lo`` (honest: ``lo.v = split_excess(x)[0]``).

    Raises:
        WitnessError: a value is outside ``[0, 2^64)`` (the message names which, e.g.
            ``"excess hi"`` for an account whose haircut value is below its debt value), or
            ``lo.v`` is not the low limb of the excess.
        ParameterError: not ``S`` slots or leaf blindings, or not one blinding per type.
    """
    if len(slots) != params.slots or len(leaf_blindings) != params.slots:
        raise ParameterError(f"an account of {params.slots} slots needs {params.slots} slots and leaf blindings")
    r = GROUP_ORDER
    delta = _pow10(params.d_max)
    values: list[tuple[int, int]] = []
    x_blinding = 0
    for (amounts, b), e_blinding in zip(slots, leaf_blindings, strict=True):
        if not len(b.v) == len(b.h) == len(amounts.values) == params.types:
            raise ParameterError("one value and haircut (and blinding) per collateral type")
        a = params.assets[amounts.asset]
        dec = _pow10(a.decimals)
        rho = a.price * (amounts.equity - amounts.unpledged) - dec * sum(amounts.values)
        rho_blinding = a.price * (e_blinding - b.w) - dec * sum(b.v)
        values += [(amounts.debt, b.d), (amounts.unpledged, b.w), (rho, rho_blinding)]
        for k, (V, H, bv, bh) in enumerate(zip(amounts.values, amounts.haircuts, b.v, b.h, strict=True)):
            values.append((V, bv))
            values += [(A + ratio * V - H, ratio * bv - bh) for A, ratio in params.lines(amounts.asset, k)]
            x_blinding += delta * bh
        x_blinding -= _debt_weights(params, amounts.asset) * b.d
    x = account_excess(params, [amounts for amounts, _ in slots])
    if (x - lo.v) % _U64:
        raise WitnessError("lo is not the low 64 bits of the account's excess")
    values += [(lo.v, lo.v_blinding), ((x - lo.v) >> RANGE_BITS, (x_blinding - lo.v_blinding) * _INV_2_64)]
    labels = value_labels(params)
    out = []
    for label, (v, blinding) in zip(labels, values, strict=True):
        if not 0 <= v < _U64:
            raise WitnessError(f"margin value {label!r} is outside [0, 2^64): the account does not satisfy (M)")
        out.append(Opening(v, blinding % r))
    return out


# ---------------------------------------------------------------------------
# The margin proofs' statement


@dataclass(frozen=True, kw_only=True)
class MarginPartStatement:
    """Part ``part`` of group ``group``: values ``offset .. offset + size - 1`` of its list are in ``[0, 2^64)``.

    Group ``g`` is records ``g*G .. g*G + G - 1`` (``G = MarginParams.group_size``); its value list is
    theirs, concatenated in record order. The context (§14.5) binds the exchange, round, margin digest,
    records root, record count, group, part, offset and size. Parts are numbered from 0, largest first.
    """

    exchange: str
    round: str
    margin_digest: bytes
    margin_root: bytes
    accounts: int
    group: int
    part: int
    offset: int
    size: int

    def __post_init__(self) -> None:
        """Check what the context encodes (sizes and ranges); not the proof."""
        for name in ("margin_digest", "margin_root"):
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) != 32:
                raise ParameterError(f"{name} must be 32 bytes")
        for name in ("accounts", "group", "part", "offset", "size"):
            value = getattr(self, name)
            if not _is_int(value) or not 0 <= value < 1 << 32:
                raise ParameterError(f"{name} must be an integer in [0, 2^32)")
        if not self.group < self.accounts:
            raise ParameterError("group outside the record count")

    def context(self) -> bytes:
        """Return ``margin_context(g, p)`` (§14.5)."""
        return (
            _CONTEXT_TAG
            + frame(self.exchange.encode())
            + frame(self.round.encode())
            + self.margin_digest
            + self.margin_root
            + struct.pack("<IIIII", self.accounts, self.group, self.part, self.offset, self.size)
        )

    def range_statement(self, points: Sequence[Point]) -> RangeStatement:
        """Return ``RangeStatement(points, n = 64, this context)``; ``points`` are the part's ``size`` values.

        Raises:
            ParameterError: not ``size`` points.
        """
        if len(points) != self.size:
            raise ParameterError(f"part of {len(points)} values, expected {self.size}")
        return RangeStatement(tuple(points), RANGE_BITS, self.context())

    @classmethod
    def parts_of(
        cls, params: MarginParams, exchange: str, round_label: str, margin_root: bytes, group: int
    ) -> tuple[MarginPartStatement, ...]:
        """Return the statements of every part of ``group``, in part order."""
        digest = params.digest()
        return tuple(
            cls(
                exchange=exchange, round=round_label, margin_digest=digest, margin_root=margin_root,
                accounts=params.accounts, group=group, part=p, offset=o, size=m,
            )
            for p, (o, m) in enumerate(zip(params.offsets, params.parts, strict=True))
        )
