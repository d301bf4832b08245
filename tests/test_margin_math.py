"""circuits/margin.py: tier lines, the lemma, values, excess, records, the value list and its openings.

Known answers are computed by hand here (notes/42 §"Tiers as lines", FORMAT §14.2, §14.4); the
lemma is checked against the piecewise definition written from the note, at every boundary and
by hypothesis over random valid schedules.
"""

from __future__ import annotations

import dataclasses
import hashlib
import struct
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from circuits.backends import GroupBackend, get_backend
from circuits.constants import GROUP_ORDER
from circuits.errors import FormatError, ParameterError, WitnessError
from circuits.generators import PedersenGens
from circuits.group import Point
from circuits.limits import (
    MARGIN_TYPES_RE,
    MAX_COLLATERAL_TYPES,
    MAX_MARGIN_ACCOUNTS,
    MAX_MARGIN_ASSET_DECIMALS,
    MAX_MARGIN_SLOTS,
    MAX_PRICE_EXCLUSIVE,
    MAX_TIER_BOUNDARY,
    MAX_TIERS,
    MAX_VALUE_DECIMALS,
)
from circuits.margin import (
    MAGIC_MARGIN_PROOFS,
    MAGIC_MARGIN_RECORDS,
    MARGIN_PROOFS_NAME,
    MARGIN_RECORDS_NAME,
    AssetMargin,
    MarginParams,
    MarginPartStatement,
    MarginRecord,
    MarginSlot,
    SlotAmounts,
    SlotBlindings,
    Tier,
    account_excess,
    collateral_value,
    commit_record,
    dummy_slot,
    margin_leaf_hash,
    margin_record_id,
    scaled_haircut,
    slot_amounts,
    split_excess,
    tier_lines,
    value_labels,
    value_list,
    value_openings,
)
from circuits.relations import Opening

R = GROUP_ORDER

#: A Binance-like 4-tier schedule (value units): 95% up to 1000, 90% to 5000, 70% to 20000, then 40%.
BINANCE = (Tier(1000, 95), Tier(5000, 90), Tier(20000, 70), Tier(None, 40))


def piecewise(schedule: Sequence[Tier], value: int) -> int:
    """``100*h(V) = Σ_t r_t * clip(V - b_{t-1}, 0, b_t - b_{t-1})`` (notes/42), with ``b_T = ∞``."""
    total, lower = 0, 0
    for tier in schedule:
        upper = value if tier.up_to is None else tier.up_to
        total += tier.ratio * min(max(value - lower, 0), max(upper - lower, 0))
        if tier.up_to is None:
            break
        lower = tier.up_to
    return total


def scalars(tag: str, count: int) -> list[int]:
    """Deterministic scalars in ``[1, r)`` (SHA-512, no ``random``)."""
    return [
        int.from_bytes(hashlib.sha512(tag.encode() + i.to_bytes(4, "little")).digest(), "little") % (R - 1) + 1
        for i in range(count)
    ]


# ---------------------------------------------------------------------------
# Tier lines and the lemma


def test_tier_lines_known_answers() -> None:
    # A_1 = 0; A_2 = 95*1000 - 90*1000; A_3 = 95*1000 + 90*4000 - 70*5000; A_4 = ... + 70*15000 - 40*20000
    assert tier_lines(BINANCE) == ((0, 95), (5000, 90), (105000, 70), (705000, 40))
    assert tier_lines((Tier(None, 80),)) == ((0, 80),)
    expected = {0: 0, 1: 95, 999: 94905, 1000: 95000, 1001: 95090, 4999: 454910, 5000: 455000, 5001: 455070,
                19999: 1504930, 20000: 1505000, 20001: 1505040, 100000: 4705000}  # fmt: skip
    for value, answer in expected.items():
        assert scaled_haircut(BINANCE, value) == answer == piecewise(BINANCE, value), value


def test_the_lines_meet_at_every_boundary() -> None:
    lines = tier_lines(BINANCE)
    for t, tier in enumerate(BINANCE[:-1]):
        b = tier.up_to
        assert b is not None
        (a1, r1), (a2, r2) = lines[t], lines[t + 1]
        assert a1 + r1 * b == a2 + r2 * b


def _boundary_values(schedule: Sequence[Tier]) -> list[int]:
    out = {0, 1, 2, 10**30, (1 << 64) - 1, 1 << 64}
    for tier in schedule:
        if tier.up_to is not None:
            out |= {tier.up_to - 1, tier.up_to, tier.up_to + 1}
    return sorted(out)


def test_the_lemma_on_a_range_and_every_boundary() -> None:
    for value in [*range(0, 25000, 7), *_boundary_values(BINANCE)]:
        assert scaled_haircut(BINANCE, value) == piecewise(BINANCE, value), value


@st.composite
def schedules(draw: st.DrawFn) -> tuple[Tier, ...]:
    count = draw(st.integers(1, MAX_TIERS))
    bounds = sorted(draw(st.sets(st.integers(1, MAX_TIER_BOUNDARY - 1), min_size=count - 1, max_size=count - 1)))
    ratios = sorted(draw(st.lists(st.integers(0, 100), min_size=count, max_size=count)), reverse=True)
    return tuple(Tier(b, r) for b, r in zip([*bounds, None], ratios, strict=True))


@settings(max_examples=300, deadline=None)
@given(schedules(), st.integers(0, 1 << 70))
def test_the_lemma_over_random_schedules(schedule: tuple[Tier, ...], value: int) -> None:
    lines = tier_lines(schedule)
    assert all(0 <= a <= 100 * (schedule[-2].up_to or 0 if len(schedule) > 1 else 0) for a, _ in lines)
    for v in [value, *_boundary_values(schedule)]:
        assert scaled_haircut(schedule, v) == piecewise(schedule, v)


def test_binance_bug_classes_have_no_purchase() -> None:
    """A value past the last tier is bound by the last line; zero gives zero; boundaries are exact."""
    zero_tail = (Tier(1000, 100), Tier(None, 0))
    assert scaled_haircut(zero_tail, 10**9) == 100 * 1000  # cannot escape the last (0%) tier
    assert scaled_haircut(BINANCE, 0) == 0  # no tier index to forge for a zero value
    for b in (1000, 5000, 20000):  # off by one at each boundary
        for v in (b - 1, b, b + 1):
            assert scaled_haircut(BINANCE, v) == piecewise(BINANCE, v)


def test_collateral_value_floors() -> None:
    assert collateral_value(9700000, 1, 8) == 0  # 1 satoshi at 97000.00: 0.097 value units
    assert collateral_value(9700000, 11, 8) == 1  # 1.067 -> 1
    assert collateral_value(9700000, 10**8, 8) == 9700000
    assert collateral_value(3, 5, 1) == 1  # 1.5 -> 1
    assert collateral_value(7, 0, 18) == 0
    assert collateral_value((1 << 64) - 1, (1 << 64) - 1, 0) == ((1 << 64) - 1) ** 2
    with pytest.raises(ParameterError):
        collateral_value(1, -1, 0)


def test_split_excess_round_trip() -> None:
    for x in (0, 1, (1 << 64) - 1, 1 << 64, (1 << 64) + 5, (1 << 128) - 1, 12345 << 70, -1, -(1 << 64), -(1 << 70) + 3):
        lo, hi = split_excess(x)
        assert 0 <= lo < 1 << 64 and lo + (hi << 64) == x and (hi < 0) == (x < 0)
    with pytest.raises(ParameterError):
        split_excess(1.0)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# Parameters


def asset(symbol: str = "BTC", decimals: int = 8, price: int = 9700000, *schedules: tuple[Tier, ...]) -> AssetMargin:
    return AssetMargin(symbol, decimals, price, schedules or (BINANCE,))


def params(**changes: object) -> MarginParams:
    fields: dict[str, object] = dict(
        value_decimals=2,
        collateral_types=("loan",),
        slots=2,
        accounts=4,
        assets=(asset("BTC", 8, 9700000), asset("ETH", 18, 350000, (Tier(None, 80),))),
    )
    fields.update(changes)
    return MarginParams(**fields)  # type: ignore[arg-type]


def test_derived_sizes() -> None:
    p = params()
    assert (p.types, p.tiers, p.d_max) == (1, 4, 18)
    assert p.values_per_account == 2 * (3 + 1 * (1 + 4)) + 2 == 18
    # M = 4: one group of G = 4 accounts, 72 values in parts of 64 and 8.
    assert (p.group_size, p.groups, p.values_per_group) == (4, 1, 72)
    assert p.parts == (64, 8) and p.offsets == (0, 64)
    assert p.record_size == 32 + 2 * (6 + 96 + 96) + 48
    assert p.proofs_record_size == (353 + 96 * 12) + (353 + 96 * 9)
    assert p.records_file_size == 16 + 4 * p.record_size and p.proofs_file_size == 16 + 1 * p.proofs_record_size
    # G is capped at 8, and at G*Q <= 1024; it is at least 1 and divides M.
    assert params(accounts=1024).group_size == 8 and params(accounts=1024).groups == 128
    assert params(accounts=1).group_size == 1 and params(accounts=2).group_size == 2
    assert p.lines(1, 0) == ((0, 80),) * 4  # one tier extended to T_max by repeating its line
    assert p.lines(0, 0) == tier_lines(BINANCE)
    assert p.asset_index("ETH") == 1
    q = params(collateral_types=("loan", "margin", "portfolio_margin"), slots=16, accounts=1 << 24,
               assets=tuple(asset(f"A{i:02d}", 8, 1, BINANCE, BINANCE, (Tier(None, 0),) * 1) for i in range(16)))
    assert q.values_per_account == 16 * (3 + 3 * 5) + 2 == 290
    assert q.group_size == 2 and q.values_per_group == 580  # 4 * 290 > 1024
    assert sum(q.parts) == 580 and all(m & (m - 1) == 0 for m in q.parts) and list(q.parts) == sorted(q.parts)[::-1]
    assert max(q.parts) <= 1024
    assert len(value_labels(q)) == 290 and len(set(value_labels(q))) == 290


@pytest.mark.parametrize(
    ("changes", "section"),
    [
        ({"value_decimals": MAX_VALUE_DECIMALS + 1}, "value_decimals"),
        ({"collateral_types": ()}, "collateral_types"),
        ({"collateral_types": ("loan", "margin", "portfolio_margin", "zz")}, "collateral_types"),
        ({"collateral_types": ("margin", "loan")}, "collateral_types"),
        ({"collateral_types": ("loan", "loan")}, "collateral_types"),
        ({"collateral_types": ("Loan",)}, "collateral_types[0]"),
        ({"slots": 0}, "slots"),
        ({"slots": 3}, "slots"),  # more than the two assets
        ({"accounts": 3}, "accounts"),
        ({"accounts": 0}, "accounts"),
        ({"accounts": MAX_MARGIN_ACCOUNTS * 2}, "accounts"),
        ({"assets": (asset("ETH"), asset("BTC"))}, "assets"),
        ({"assets": (asset("BTC"), asset("BTC"))}, "assets"),
        ({"assets": (asset("BTC", 8, 0), asset("ETH"))}, "assets[0].price"),
        ({"assets": (asset("BTC", 8, MAX_PRICE_EXCLUSIVE), asset("ETH"))}, "assets[0].price"),
        ({"assets": (asset("BTC", MAX_MARGIN_ASSET_DECIMALS + 1), asset("ETH"))}, "assets[0].decimals"),
        ({"assets": (asset("BTC", 8, 1, (Tier(10, 90), Tier(None, 95))), asset("ETH"))},
         "assets[0].haircuts.loan[1].ratio"),
        ({"assets": (asset("BTC", 8, 1, (Tier(None, 101),)), asset("ETH"))}, "assets[0].haircuts.loan[0].ratio"),
        ({"assets": (asset("BTC", 8, 1, (Tier(None, -1),)), asset("ETH"))}, "assets[0].haircuts.loan[0].ratio"),
        ({"assets": (asset("BTC", 8, 1, (Tier(10, 90), Tier(10, 80), Tier(None, 0))), asset("ETH"))},
         "assets[0].haircuts.loan[1].up_to"),
        ({"assets": (asset("BTC", 8, 1, (Tier(10, 90), Tier(5, 80), Tier(None, 0))), asset("ETH"))},
         "assets[0].haircuts.loan[1].up_to"),
        ({"assets": (asset("BTC", 8, 1, (Tier(0, 90), Tier(None, 0))), asset("ETH"))},
         "assets[0].haircuts.loan[0].up_to"),
        ({"assets": (asset("BTC", 8, 1, (Tier(MAX_TIER_BOUNDARY, 90), Tier(None, 0))), asset("ETH"))},
         "assets[0].haircuts.loan[0].up_to"),
        ({"assets": (asset("BTC", 8, 1, (Tier(5, 90),)), asset("ETH"))}, "assets[0].haircuts.loan[0].up_to"),
        ({"assets": (asset("BTC", 8, 1, (Tier(None, 90), Tier(None, 80))), asset("ETH"))},
         "assets[0].haircuts.loan[0].up_to"),
        ({"assets": (asset("BTC", 8, 1, (*(Tier(i + 1, 50) for i in range(MAX_TIERS)), Tier(None, 0))),
                     asset("ETH"))}, "assets[0].haircuts.loan"),
        ({"assets": (asset("BTC", 8, 1, ()), asset("ETH"))}, "assets[0].haircuts.loan"),
        ({"assets": (asset("BTC", 8, 1, BINANCE, BINANCE), asset("ETH"))}, "assets[0].haircuts"),
        ({"assets": ()}, "assets"),
    ],
)  # fmt: skip
def test_bad_parameters_are_refused(changes: dict[str, object], section: str) -> None:
    with pytest.raises(ParameterError) as info:
        params(**changes)
    assert info.value.section == section


def test_parameter_limits_at_the_bound() -> None:
    assert MAX_MARGIN_SLOTS == 16 and MAX_COLLATERAL_TYPES == 3 and MAX_TIERS == 8
    many = tuple(asset(f"A{i:02d}", 18, MAX_PRICE_EXCLUSIVE - 1) for i in range(MAX_MARGIN_SLOTS + 1))
    params(slots=MAX_MARGIN_SLOTS, assets=many, value_decimals=MAX_VALUE_DECIMALS, accounts=MAX_MARGIN_ACCOUNTS)
    with pytest.raises(ParameterError):
        params(slots=MAX_MARGIN_SLOTS + 1, assets=many)
    tiers = (*(Tier(MAX_TIER_BOUNDARY - MAX_TIERS + i, 100 - i) for i in range(1, MAX_TIERS)), Tier(None, 0))
    assert params(assets=(asset("BTC", 8, 1, tiers), asset("ETH"))).tiers == MAX_TIERS
    assert MARGIN_TYPES_RE.fullmatch("portfolio_margin") and not MARGIN_TYPES_RE.fullmatch("a" * 17)


def _le(fmt: str, *values: int) -> bytes:
    return struct.pack("<" + fmt, *values)


def _frame(s: bytes) -> bytes:
    return _le("I", len(s)) + s


def test_digest_layout_and_known_answer() -> None:
    """FORMAT §14.2 byte by byte, built by hand, and its hex pinned."""
    p = params()
    preimage = (
        b"zk-solvency margin params v4" + _le("B", 2) + _le("H", 2) + _le("H", 1) + _le("H", 4) + _le("I", 4)
        + _frame(b"loan")
        + _frame(b"BTC") + _le("B", 8) + _le("Q", 9700000) + _le("B", 4)
        + _le("Q", 1000) + _le("B", 95) + _le("Q", 5000) + _le("B", 90) + _le("Q", 20000) + _le("B", 70)
        + _le("Q", 0) + _le("B", 40)
        + _frame(b"ETH") + _le("B", 18) + _le("Q", 350000) + _le("B", 1) + _le("Q", 0) + _le("B", 80)
    )  # fmt: skip
    assert p.digest() == hashlib.sha256(preimage).digest()
    assert p.digest().hex() == PINNED_DIGEST
    for other in (params(accounts=8), params(slots=1), params(value_decimals=3),
                  params(assets=(asset("BTC", 8, 9700001), asset("ETH", 18, 350000, (Tier(None, 80),))))):  # fmt: skip
        assert other.digest() != p.digest()


PINNED_DIGEST = "f3a3335e7b43bd8c5d8502317eaed193a5b4eee4a83c2199d8a24dd221799022"


# ---------------------------------------------------------------------------
# Records


def _slot_points(pc: PedersenGens, tag: str, k: int) -> tuple[Point, Point, tuple[Point, ...], tuple[Point, ...]]:
    s = scalars(tag, 2 + 2 * k)
    pts = [pc.commit(i, b) for i, b in enumerate(s)]
    return pts[0], pts[1], tuple(pts[2 : 2 + k]), tuple(pts[2 + k :])


def record_of(p: MarginParams, pc: PedersenGens, heads: Sequence[tuple[int, int]], tag: str = "r") -> MarginRecord:
    slots = []
    for i, (a, leaf) in enumerate(heads):
        D, W, V, H = _slot_points(pc, f"{tag}{i}", p.types)
        slots.append(MarginSlot(a, leaf, D, W, V, H))
    return MarginRecord(hashlib.sha256(tag.encode()).digest(), tuple(slots), pc.commit(7, scalars(tag, 1)[0]))


LEAF_COUNTS = (64, 8)


def test_record_round_trip_and_layout(fast: GroupBackend) -> None:
    pc = PedersenGens.default(fast)
    p = params()
    record = record_of(p, pc, [(0, 17), (1, 7)])
    data = record.to_bytes()
    assert len(data) == p.record_size
    assert data[:32] == record.record_id
    assert data[32:38] == _le("H", 0) + _le("I", 17)
    assert data[32 + p.slot_size : 38 + p.slot_size] == _le("H", 1) + _le("I", 7)
    assert data[38:86] == record.slots[0].D.to_bytes() and data[86:134] == record.slots[0].W.to_bytes()
    assert data[134:182] == record.slots[0].V[0].to_bytes() and data[182:230] == record.slots[0].H[0].to_bytes()
    assert data[-48:] == record.Lo.to_bytes()
    assert MarginRecord.from_bytes(data, p, 3, LEAF_COUNTS, fast) == record
    assert margin_leaf_hash(data) == hashlib.sha256(b"\x04zk-solvency margin record v4" + data).digest()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_record_round_trip_hypothesis(fast: GroupBackend, data: st.DataObject) -> None:
    k = data.draw(st.integers(1, 3))
    slots = data.draw(st.integers(1, 4))
    p = params(collateral_types=("a", "b", "c")[:k], slots=slots,
               assets=tuple(asset(f"A{i}", 8, 1, *([BINANCE] * k)) for i in range(4)))  # fmt: skip
    assets = sorted(data.draw(st.sets(st.integers(0, 3), min_size=slots, max_size=slots)))
    heads = [(a, data.draw(st.integers(0, 63))) for a in assets]
    record = record_of(p, PedersenGens.default(fast), heads, data.draw(st.text(min_size=1, max_size=8)))
    raw = record.to_bytes()
    assert MarginRecord.from_bytes(raw, p, 0, (64,) * 4, fast).to_bytes() == raw


def _malformed(p: MarginParams, data: bytes, backend: GroupBackend) -> str:
    with pytest.raises(FormatError) as info:
        MarginRecord.from_bytes(data, p, 3, LEAF_COUNTS, backend)
    assert type(info.value) is FormatError
    assert info.value.section == f"{MARGIN_RECORDS_NAME} record 3" and info.value.file == MARGIN_RECORDS_NAME
    return str(info.value)


def test_malformed_records(fast: GroupBackend) -> None:
    pc = PedersenGens.default(fast)
    p = params()
    good = record_of(p, pc, [(0, 17), (1, 7)]).to_bytes()
    second = 32 + p.slot_size
    identity = bytes([0xC0]) + bytes(47)

    def at(offset: int, piece: bytes) -> bytes:
        return good[:offset] + piece + good[offset + len(piece) :]

    assert "bytes" in _malformed(p, good[:-1], fast)
    assert "bytes" in _malformed(p, good + b"\x00", fast)
    assert "asset position 2" in _malformed(p, at(second, _le("H", 2)), fast)
    assert "increase" in _malformed(p, at(second, _le("H", 0)), fast)  # equal assets
    assert "increase" in _malformed(p, at(32, _le("H", 1) + _le("I", 3)), fast)  # decreasing
    assert "leaf index 8" in _malformed(p, at(second + 2, _le("I", 8)), fast)
    assert "leaf index 64" in _malformed(p, at(32 + 2, _le("I", 64)), fast)
    MarginRecord.from_bytes(at(32 + 2, _le("I", 63)), p, 3, LEAF_COUNTS, fast)  # the last leaf is fine
    assert "slot 0 D" in _malformed(p, at(38, bytes([good[38] ^ 0x80])), fast)  # compression flag cleared
    assert "slot 1 W" in _malformed(p, at(second + 54, b"\xff" * 48), fast)  # x >= p
    assert "slot 0 H[0]" in _malformed(p, at(182, identity), fast)
    assert "Lo: the identity" in _malformed(p, good[:-48] + identity, fast)


def test_record_id() -> None:
    salt = bytes(range(32))
    assert margin_record_id("2026-01", "alice", salt) == hashlib.sha256(
        b"zk-solvency margin id v1" + _frame(b"2026-01") + _frame(b"alice") + salt
    ).digest()
    assert margin_record_id("2026-01", "bob", salt) != margin_record_id("2026-01", "alice", salt)


# ---------------------------------------------------------------------------
# Amounts, the excess, the value list and its openings


def blindings(p: MarginParams, tag: str) -> SlotBlindings:
    s = scalars(tag, 2 + 2 * p.types)
    return SlotBlindings(s[0], s[1], tuple(s[2 : 2 + p.types]), tuple(s[2 + p.types :]))


def test_slot_amounts_and_dummy() -> None:
    p = params()
    s = slot_amounts(p, 0, 17, 3 * 10**8, 10**7, (2 * 10**8,))
    assert (s.unpledged, s.values, s.haircuts) == (10**8, (19400000,), (scaled_haircut(BINANCE, 19400000),))
    assert "<secret>" in repr(s) and "19400000" not in repr(s)
    assert "<secret>" in repr(blindings(p, "x"))
    d = dummy_slot(p, 1, 3)
    assert (d.equity, d.debt, d.unpledged, d.collateral, d.values, d.haircuts) == (0, 0, 0, (0,), (0,), (0,))
    with pytest.raises(WitnessError):
        slot_amounts(p, 0, 1, 5, 0, (6,))  # collateral above equity
    with pytest.raises(WitnessError):
        slot_amounts(p, 0, 1, 5, -1, (0,))
    with pytest.raises(ParameterError):
        slot_amounts(p, 2, 1, 5, 0, (0,))
    with pytest.raises(ParameterError):
        SlotAmounts(0, 0, 0, 0, 0, (0,), (0, 0), (0,))


def test_account_excess_is_exact() -> None:
    # one asset of 0 decimals at price 1, a flat 100% and a flat 99% schedule: x = ΣH - 100*P*d
    flat = params(slots=1, accounts=1, assets=(asset("A", 0, 1, (Tier(None, 100),)),))
    s = slot_amounts(flat, 0, 0, 1, 1, (1,))
    assert account_excess(flat, [s]) == 0  # the exact limit: haircut value 1.00 covers debt 1
    ninety_nine = params(slots=1, accounts=1, assets=(asset("A", 0, 1, (Tier(None, 99),)),))
    assert account_excess(ninety_nine, [slot_amounts(ninety_nine, 0, 0, 1, 1, (1,))]) == -1
    # mixed decimals: Δ = 10^18; debt of 1 wei at price 3 vs haircut of 3 hundredths... of 1 BTC satoshi
    p = params()
    btc = slot_amounts(p, 0, 0, 10**8, 0, (10**8,))
    eth = slot_amounts(p, 1, 0, 0, 10**18, (0,))
    x = account_excess(p, [btc, eth])
    assert x == 10**18 * scaled_haircut(BINANCE, 9700000) - 100 * 350000 * 10**18
    assert x > 0


def _account(p: MarginParams, pc: PedersenGens, amounts: Sequence[SlotAmounts], tag: str = "acct"):
    pairs = [(a, blindings(p, f"{tag} slot {i}")) for i, a in enumerate(amounts)]
    leaf_blindings = scalars(f"{tag} leaves", len(amounts))
    leaves = [pc.commit(a.equity, b) for a, b in zip(amounts, leaf_blindings, strict=True)]
    lo_value, _ = split_excess(account_excess(p, amounts))
    lo = Opening(lo_value, scalars(f"{tag} lo", 1)[0])
    record = commit_record(p, hashlib.sha256(tag.encode()).digest(), pairs, lo, pc)
    return pairs, leaf_blindings, leaves, lo, record


def test_value_list_matches_value_openings(backend: GroupBackend) -> None:
    """The commitments of the openings are the derived points, on both backends."""
    pc = PedersenGens.default(backend)
    p = params(collateral_types=("loan", "margin"),
               assets=(asset("BTC", 8, 9700000, BINANCE, (Tier(None, 50),)),
                       asset("ETH", 18, 350000, (Tier(10**6, 80), Tier(None, 60)), (Tier(None, 90),))))  # fmt: skip
    amounts = [slot_amounts(p, 0, 17, 3 * 10**8, 10**7, (10**8, 5 * 10**7)),
               slot_amounts(p, 1, 2, 4 * 10**18, 10**17, (10**18, 2 * 10**18))]  # fmt: skip
    pairs, leaf_blindings, leaves, lo, record = _account(p, pc, amounts)
    points = value_list(p, record, leaves, pc)
    openings = value_openings(p, pairs, leaf_blindings, lo)
    assert len(points) == len(openings) == p.values_per_account
    for label, point, o in zip(value_labels(p), points, openings, strict=True):
        assert pc.commit(o.v, o.v_blinding) == point, label
    assert openings[-1].v == split_excess(account_excess(p, amounts))[1]


def test_value_list_agrees_across_backends() -> None:
    fast, ref = get_backend("fast"), get_backend("reference")
    p = params()
    amounts = [slot_amounts(p, 0, 1, 10**8, 0, (10**8,)), slot_amounts(p, 1, 0, 10**18, 10**17, (0,))]
    out = []
    for be in (fast, ref):
        pc = PedersenGens.default(be)
        _, _, leaves, _, record = _account(p, pc, amounts)
        out.append([q.to_bytes() for q in value_list(p, record, leaves, pc)])
    assert out[0] == out[1]


def test_a_negative_value_is_refused_with_its_name() -> None:
    p = params(slots=1, accounts=1, assets=(asset("A", 0, 1, (Tier(None, 99),)),))
    pc = PedersenGens.default(get_backend("fast"))
    amounts = [slot_amounts(p, 0, 0, 1, 1, (1,))]
    pairs, leaf_blindings, _, lo, _ = _account(p, pc, amounts)
    with pytest.raises(WitnessError, match="excess hi"):
        value_openings(p, pairs, leaf_blindings, lo)
    # a haircut claimed above the line makes a slack negative
    greedy = [dataclasses.replace(amounts[0], haircuts=(100,))]
    pairs = [(greedy[0], pairs[0][1])]
    with pytest.raises(WitnessError, match="slot 0 loan slack 1"):
        value_openings(p, pairs, leaf_blindings, Opening(split_excess(account_excess(p, greedy))[0], 1))
    with pytest.raises(WitnessError, match="low 64 bits"):
        value_openings(p, pairs, leaf_blindings, Opening(1, 1))


# ---------------------------------------------------------------------------
# The margin context


def test_margin_part_statement_context() -> None:
    digest, root = b"\x11" * 32, b"\x22" * 32
    s = MarginPartStatement(exchange="Ex", round="R1", margin_digest=digest, margin_root=root, accounts=1024,
                            group=5, part=1, offset=16, size=2)  # fmt: skip
    assert s.context() == (
        b"zk-solvency margin v4" + _frame(b"Ex") + _frame(b"R1") + digest + root
        + _le("I", 1024) + _le("I", 5) + _le("I", 1) + _le("I", 16) + _le("I", 2)
    )  # fmt: skip
    with pytest.raises(ParameterError):
        dataclasses.replace(s, group=1024)
    with pytest.raises(ParameterError):
        dataclasses.replace(s, margin_root=b"")
    pc = PedersenGens.default(get_backend("fast"))
    with pytest.raises(ParameterError):
        s.range_statement([pc.B])
    statement = s.range_statement([pc.B, pc.B_blinding])
    assert statement.n == 64 and statement.context == s.context()
    p = params()
    parts = MarginPartStatement.parts_of(p, "Ex", "R1", root, 0)
    assert [(x.part, x.offset, x.size) for x in parts] == [(0, 0, 64), (1, 64, 8)]
    assert all(x.margin_digest == p.digest() and x.accounts == 4 for x in parts)


def test_file_constants() -> None:
    assert MAGIC_MARGIN_RECORDS == b"ZKSMRGN1" and MAGIC_MARGIN_PROOFS == b"ZKSMRGP1"
    assert MARGIN_PROOFS_NAME == "margin.proofs.bin"


# ---------------------------------------------------------------------------
# The version-4 extensions of circuits/statements.py (FORMAT §14.5)


def test_v4_chunk_node_and_solvency_contexts() -> None:
    from circuits.statements import ChunkStatement, NodeStatement, SolvencyStatement

    root, digest, margin_root = b"\x66" * 32, b"\x77" * 32, b"\x88" * 32
    chunk = ChunkStatement(exchange="Ex", round="R1", symbol="BTC", leaf_count=64, chunk_size=4, chunk=3,
                           merkle_root=root)  # fmt: skip
    assert dataclasses.replace(chunk, margin_digest=digest).context() == chunk.context() + digest
    node = NodeStatement(exchange="Ex", round="R1", symbol="BTC", leaf_count=64, chunk_size=4, split=8,
                         merkle_root=root)  # fmt: skip
    assert dataclasses.replace(node, margin_digest=digest).context() == node.context() + digest
    with pytest.raises(ParameterError):
        dataclasses.replace(chunk, margin_digest=b"short")
    pc = PedersenGens.default(get_backend("fast"))
    L, bl, D, bd = 5000, 11, 1200, 29
    C_L, C_D = pc.commit(L, bl), pc.commit(D, bd)
    v3 = SolvencyStatement(exchange="Ex", round="R1", symbol="BTC", decimals=8, reserves=10000, num=5, den=4,
                           leaf_count=64, merkle_root=root, C_L=C_L)  # fmt: skip
    v4 = dataclasses.replace(v3, margin_digest=digest, margin_root=margin_root, C_D=C_D)
    assert v4.has_margin and not v3.has_margin
    assert v4.context() == (
        b"zk-solvency solvency v4" + _frame(v3.context()) + digest + margin_root + C_D.to_bytes()
    )
    wallets = dataclasses.replace(v4, wallets_sha256=b"\x99" * 32, reserves_basis="wallets")
    assert wallets.context() == (
        b"zk-solvency solvency v4" + _frame(dataclasses.replace(v3, wallets_sha256=b"\x99" * 32,
                                                                reserves_basis="wallets").context())
        + digest + margin_root + C_D.to_bytes()
    )  # fmt: skip
    assert v4.V_s(pc) == pc.B * (4 * 10000) - (C_L - C_D) * 5
    for opening in (v4.opening(L - D, bl - bd), v4.opening(L, bl, D, bd)):
        assert opening.v == 4 * 10000 - 5 * (L - D)
        assert pc.commit(opening.v, opening.v_blinding) == v4.V_s(pc)
    for partial in ({"margin_digest": digest}, {"C_D": C_D}, {"margin_digest": digest, "margin_root": margin_root}):
        with pytest.raises(ParameterError):
            dataclasses.replace(v3, **partial)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# Range proofs over a real value list (prover/range_proof.py, verifier/range_proof.py)

# One account (M = 1, so G = 1: the group's list is the account's).
TINY = dict(slots=1, accounts=1, assets=(asset("A", 0, 1, (Tier(10, 100), Tier(20, 90), Tier(None, 50))),))


def _prove_account(p: MarginParams, amounts: Sequence[SlotAmounts], account: int = 1):
    assert p.group_size == 1
    from prover.range_proof import create_range_proof

    pc = PedersenGens.default(get_backend("fast"))
    pairs, leaf_blindings, leaves, lo, record = _account(p, pc, amounts, f"tiny {account}")
    points = value_list(p, record, leaves, pc)
    openings = value_openings(p, pairs, leaf_blindings, lo)
    root = b"\x42" * 32
    proofs = []
    for part in MarginPartStatement.parts_of(p, "Ex", "R1", root, 0):
        statement = part.range_statement(points[part.offset : part.offset + part.size])
        proof = create_range_proof(statement, openings[part.offset : part.offset + part.size])
        proofs.append((part, statement, proof))
    return proofs


def test_an_honest_account_proves_and_verifies() -> None:
    from circuits.datafiles import range_record_size
    from circuits.errors import VerificationError
    from circuits.proofs import RangeProof
    from verifier import verify_range

    p = params(**TINY)  # type: ignore[arg-type]
    assert p.values_per_account == 9 and p.parts == (8, 1)
    # equity 30, debt 20, 25 pledged: V = 25, H = 100*10 + 90*10 + 50*5 = 2150 >= 100*20
    amounts = [slot_amounts(p, 0, 3, 30, 20, (25,))]
    assert amounts[0].haircuts == (2150,) and account_excess(p, amounts) == 150
    proofs = _prove_account(p, amounts)
    assert sum(len(proof.to_bytes()) for _, _, proof in proofs) == p.proofs_record_size
    for part, statement, proof in proofs:
        assert len(proof.to_bytes()) == range_record_size(part.size)
        verify_range(statement, RangeProof.from_bytes(proof.to_bytes(), get_backend("fast")))
        other = dataclasses.replace(part, margin_root=b"\x43" * 32).range_statement(statement.commitments)
        with pytest.raises(VerificationError):  # bound to its root (and digest, group, part)
            verify_range(other, proof)


def test_the_exact_limit_proves_and_one_below_is_refused() -> None:
    from prover.range_proof import create_range_proof
    from verifier import verify_range

    flat = params(slots=1, accounts=1, assets=(asset("A", 0, 1, (Tier(None, 100),)),))
    at_limit = [slot_amounts(flat, 0, 0, 1, 1, (1,))]
    assert account_excess(flat, at_limit) == 0
    for _, statement, proof in _prove_account(flat, at_limit):
        verify_range(statement, proof)
    short = params(slots=1, accounts=1, assets=(asset("A", 0, 1, (Tier(None, 99),)),))
    below = [slot_amounts(short, 0, 0, 1, 1, (1,))]
    assert account_excess(short, below) == -1
    with pytest.raises(WitnessError, match="excess hi"):
        _prove_account(short, below)
    # the range prover refuses too: hi is -1, i.e. r - 1 as a scalar, far outside [0, 2^64)
    pc = PedersenGens.default(get_backend("fast"))
    pairs, _, leaves, lo, record = _account(short, pc, below)
    points = value_list(short, record, leaves, pc)
    hi_point = points[-1]
    x_blinding = 1 * pairs[0][1].h[0] - 100 * pairs[0][1].d  # Δ = 1, 100*P*Δ/δ = 100
    hi_blinding = (x_blinding - lo.v_blinding) * pow(1 << 64, -1, R) % R
    assert pc.commit(-1, hi_blinding) == hi_point
    part = MarginPartStatement.parts_of(short, "Ex", "R1", b"\x42" * 32, 0)[-1]
    assert part.size == 1
    with pytest.raises(WitnessError):
        create_range_proof(part.range_statement([hi_point]), [Opening(R - 1, hi_blinding)])


def test_values_beyond_the_completeness_bounds_are_refused_by_name() -> None:
    """notes/42 "Completeness": a value of 2^64 or more, a slack past 2^64, x >= 2^128 have no proof."""
    p = params(slots=1, accounts=1, assets=(asset("A", 0, 1 << 62, (Tier(None, 100),)),))
    pc = PedersenGens.default(get_backend("fast"))
    big = [slot_amounts(p, 0, 0, 4, 0, (4,))]  # V = 2^64
    pairs, leaf_blindings, _, lo, _ = _account(p, pc, big)
    with pytest.raises(WitnessError, match="slot 0 loan value"):
        value_openings(p, pairs, leaf_blindings, lo)
    slack = [slot_amounts(p, 0, 0, 1, 0, (1,))]  # V = 2^62: H = 100*2^62, fine; lower H: slack 1 >= 2^64
    lowered = [dataclasses.replace(slack[0], haircuts=(0,))]
    pairs, leaf_blindings, _, lo, _ = _account(p, pc, lowered)
    with pytest.raises(WitnessError, match="slot 0 loan slack 1"):
        value_openings(p, pairs, leaf_blindings, lo)
    pairs, leaf_blindings, _, lo, _ = _account(p, pc, slack)
    assert account_excess(p, slack) == 100 << 62  # Δ = 1: x = H, in range
    value_openings(p, pairs, leaf_blindings, lo)
    flat = (Tier(None, 100),)
    wide = params(slots=1, accounts=1, assets=(asset("A", 18, 1, flat), asset("B", 0, 1 << 40, flat)))
    huge = [slot_amounts(wide, 1, 0, 1 << 22, 0, (1 << 22,))]  # V = 2^62, x = 10^18 * 100 * 2^62 >= 2^128
    assert account_excess(wide, huge) >= 1 << 128
    pairs, leaf_blindings, _, lo, _ = _account(wide, pc, huge)
    with pytest.raises(WitnessError, match="excess hi"):
        value_openings(wide, pairs, leaf_blindings, lo)
