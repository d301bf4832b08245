"""Margin accounts attacked by a cheating prover (format version 4, issue 11 "Tests").

Every bundle here is written by the independent writer ``bundle_factory.make_margin_bundle`` acting as a
cheating prover: every hash, size, digest and context is right, every proof whose statement is true is
honest, and the one it cannot make (a value outside ``[0, 2^64)``) is forged by running the proving
algorithm on another witness (``bundle_factory.FORGE_MODES``). Each test asserts which proof was forged,
then that ``solvency verify`` (library and CLI, both backends) rejects the bundle with the exact class and
section. Where the real prover is the right party, ``solvency prove --margin`` is run on the ledger and must
refuse it (exit 4) naming the account.

Rounds use ``value_decimals = 2`` (value unit: one cent). The schedules are ``margin_cases.JUNK_TIERS`` (an
illiquid coin: 50/20/5/0 % with boundaries $1,000, $5,000, $10,000) and ``BTC_TIERS``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from bundle_factory import (
    FIRST_PART,
    FORGE_MODES,
    AccountSpec,
    AssetSpec,
    MadeBundle,
    MarginAssetSpec,
    MarginSpec,
    SlotSpec,
    load_manifest,
    make_margin_bundle,
    manifest_margin_digest,
    resign,
    rewrite_manifest,
    spec_margin_context,
    spec_scaled_haircut,
    spec_tier_lines,
)
from margin_cases import (
    BACKENDS,
    BTC_TIERS,
    FLAT_80,
    JUNK_TIERS,
    accepted,
    check_accepted,
    check_rejected,
    grid,
    margin_proof_failures,
    prove_margin,
    rejected,
    write_package,
)

from circuits.backends import get_backend
from circuits.constants import GROUP_ORDER
from circuits.errors import FormatError, VerificationError
from circuits.group import Point
from circuits.proofs import RangeProof
from circuits.relations import RangeStatement
from cli.exit_codes import EXIT_INPUT
from verifier import verify_range

both_backends = pytest.mark.parametrize("backend_name", BACKENDS)
# The reference backend (py_ecc) is slow: the cases below run on it under ``-m slow``; the default run
# keeps it for the honest round and the dummy-user attack (``both_backends``).
fast_and_slow_reference = pytest.mark.parametrize(
    "backend_name", ["fast", pytest.param("reference", marks=pytest.mark.slow)]
)

BTC = 10**8  # base units of one bitcoin
BTC_PRICE = 9_700_000  # $97,000.00
JUNK_PRICE = 100  # $1.00; JUNK has no decimals, so V = 100 * c
#: The most a JUNK pledge can count for, in hundredths of a cent: 100 * h(V) past the last boundary.
JUNK_CAP = 50 * 100_000 + 20 * 400_000 + 5 * 500_000


def _junk_round(accounts: list[AccountSpec], **margin: object) -> MarginSpec:
    return MarginSpec(
        2, ["loan"],
        [MarginAssetSpec("BTC", BTC_PRICE, {"loan": BTC_TIERS}),
         MarginAssetSpec("JUNK", JUNK_PRICE, {"loan": JUNK_TIERS})],
        accounts, **margin,
    )


def _assets(holdings: dict[str, dict[str, int]], reserves: dict[str, int]) -> list[AssetSpec]:
    decimals = {"BTC": 8, "JUNK": 0, "USD": 2, "ETH": 9}
    return [AssetSpec(s, h, reserves[s], decimals=decimals[s], chunk=2) for s, h in holdings.items()]


# --- 1. the dummy-user attack ------------------------------------------------------------------------
#
# Honest customers owe 3 BTC (alice 2, bob 1); the exchange holds 1 BTC. It adds "dummy-1", an account with
# a billion JUNK (its own illiquid coin, "worth" $1 each) pledged against a 2 BTC debt: the BTC it appears to
# owe drops to 3 - 2 = 1, while the total value it owes looks unchanged (it also owes dummy-1 the JUNK).
# JUNK's schedule ends at 0%, so the pledge counts for at most $1,550, far below the $194,000 debt.

DUMMY = "dummy-1"
DUMMY_HOLDINGS = {"BTC": {"alice": 2 * BTC, "bob": BTC}, "JUNK": {"carol": 500, DUMMY: 10**9}}
DUMMY_RESERVES = {"BTC": BTC, "JUNK": 10**9 + 500}


def _dummy_account(**junk: object) -> AccountSpec:
    junk_slot = SlotSpec("JUNK", **{"collateral": {"loan": 10**9}, **junk})
    return AccountSpec(DUMMY, [SlotSpec("BTC", debt=2 * BTC), junk_slot])


def _dummy_bundle(root: Path, name: str, account: AccountSpec | None, forge: str = "low_bits") -> MadeBundle:
    accounts = [account] if account is not None else []
    # Without the fake account nobody has a margin account; keep the margin section with one dummy record.
    margin = _junk_round(accounts, slots=2, accounts_padded=2) if accounts else _junk_round(
        [AccountSpec("alice", [SlotSpec("BTC")])], slots=2, accounts_padded=2
    )
    holdings = DUMMY_HOLDINGS if account is not None else {
        "BTC": DUMMY_HOLDINGS["BTC"], "JUNK": {"carol": 500},
    }
    return make_margin_bundle(root / name, _assets(holdings, DUMMY_RESERVES), margin, forge=forge)


@pytest.fixture(scope="module")
def dummy_bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, MadeBundle]:
    root = tmp_path_factory.mktemp("dummy")
    out = {f"honest haircut, {mode}": _dummy_bundle(root, mode, _dummy_account(), mode) for mode in FORGE_MODES}
    # The cheater claims 50% of the whole value: tier 1's line extended past its boundary.
    out["tier 1 line"] = _dummy_bundle(root, "tier1", _dummy_account(haircuts={"loan": 50 * 100 * 10**9}))
    out["no fake account"] = _dummy_bundle(root, "none", None)
    return out


def test_the_dummy_user_attack_is_refused_at_prove_time(tmp_path: Path) -> None:
    """The real prover refuses the ledger with the fake account (exit 4), naming it, and writes nothing."""
    rows = [
        ("alice", "BTC", "2", "", ""), ("bob", "BTC", "1", "", ""), ("carol", "JUNK", "500", "", ""),
        (DUMMY, "JUNK", "1000000000", "", "1000000000"), (DUMMY, "BTC", "0", "2", ""),
    ]
    margin = {
        "value_decimals": 2, "collateral_types": ["loan"],
        "assets": [
            {"symbol": "BTC", "price": "97000.00",
             "haircuts": {"loan": [{"up_to": "500000.00", "ratio": 95}, {"ratio": 90}]}},
            {"symbol": "JUNK", "price": "1.00",
             "haircuts": {"loan": [{"up_to": "1000.00", "ratio": 50}, {"up_to": "5000.00", "ratio": 20},
                                   {"up_to": "10000.00", "ratio": 5}, {"ratio": 0}]}},
        ],
    }
    result, bundle, packages = prove_margin(tmp_path, rows, margin, {"BTC": (8, "1"), "JUNK": (0, "1000000500")})
    assert result.exit_code == EXIT_INPUT, result.output
    assert DUMMY in result.stderr and "ledger.csv" in result.stderr, result.stderr
    assert "Traceback" not in result.output
    assert not bundle.exists() and not packages.exists()


@pytest.mark.parametrize(
    ("variant", "backend_name"), grid([f"honest haircut, {mode}" for mode in FORGE_MODES] + ["tier 1 line"])
)
def test_a_forged_dummy_user_bundle_is_rejected(
    dummy_bundles: dict[str, MadeBundle], variant: str, backend_name: str
) -> None:
    """Forged as an attacker would: with the honest (capped) haircut the excess is negative, so its high
    limb is forged (on its low bits, its negation or shifted); claiming tier 1's 50% for the whole value
    makes the excess positive but the slacks of tiers 2-4 negative, and those are forged. The BTC solvency
    proof itself is honest: the whole gain is in the debt, and only the account's proofs stand in the way."""
    made = dummy_bundles[variant]
    assert made.margin is not None
    rec = made.margin.record_of(DUMMY)
    hi = made.margin.values_per_account - 1  # the account's high excess limb, last of its value list
    out_of_range = [k for k, (v, _) in enumerate(rec.openings) if v >= 1 << 64]
    if variant == "tier 1 line":
        assert rec.excess > 0 and out_of_range and hi not in out_of_range
    else:
        assert rec.excess < 0 and out_of_range == [hi]
    assert rec.forged_parts == sorted({made.margin.part_at(rec, k) for k in out_of_range})
    assert made.margin.forged == [(made.margin.group_of(rec), p) for p in rec.forged_parts]
    assert made.forged == {"BTC": [], "JUNK": []}
    assert margin_proof_failures(made) == made.margin.forged
    rejected(made.path, backend_name, VerificationError, f"margin.proofs.bin record {made.margin.group_of(rec)}")


@fast_and_slow_reference
def test_without_the_fake_account_the_exchange_is_insolvent_in_btc(
    dummy_bundles: dict[str, MadeBundle], backend_name: str
) -> None:
    """The control: the same customers without the fake debt owe 3 BTC against 1, so the BTC solvency
    proof is the one that cannot be made."""
    made = dummy_bundles["no fake account"]
    assert made.forged["BTC"] == ["solvency"] and made.margin is not None and not made.margin.forged
    rejected(made.path, backend_name, VerificationError, "BTC.solvency.bin")


@both_backends
def test_the_fake_accounts_own_check_fails_and_a_spot_customers_check_does_not_see_it(
    dummy_bundles: dict[str, MadeBundle], backend_name: str, tmp_path: Path
) -> None:
    """The fake account's package fails its check at its proofs. An honest spot customer's check verifies
    their own leaf and the BTC solvency proof against the stated debt total, not other margin accounts: it
    passes. Catching the fake account is ``solvency verify``'s (docs/THREAT_MODEL.md)."""
    made = dummy_bundles["honest haircut, low_bits"]
    assert made.margin is not None
    j = made.margin.group_of(made.margin.record_of(DUMMY))
    package = write_package(made, DUMMY, tmp_path / "dummy.json")
    check_rejected(package, made.path, backend_name, DUMMY, VerificationError, f"margin.proofs.bin record {j}")
    check_accepted(write_package(made, "alice", tmp_path / "alice.json"), made.path, backend_name, "alice")


# --- 2. Binance's bug classes --------------------------------------------------------------------------
#
# One account, "eve", pledges JUNK priced at one cent (so V = c, in cents) against a debt in the same asset
# (S = 1: Q = 3 + 1 + 4 + 2 = 10 values, parts 8 and 2). The debt is the largest the claimed haircut
# covers, so every over-claim below buys debt that is not there.

EVE = "eve"


def _eve_bundle(root: Path, name: str, value: int, claim: int | None, *, debt: int | None = None) -> MadeBundle:
    """eve pledges ``value`` JUNK (cents) and claims the haircut ``claim`` (None: honest)."""
    honest = spec_scaled_haircut(JUNK_TIERS, value)
    H = honest if claim is None else claim
    debt = H // 100 if debt is None else debt
    slot = SlotSpec("JUNK", debt=debt, collateral={"loan": value}, haircuts={} if claim is None else {"loan": claim})
    margin = MarginSpec(2, ["loan"], [MarginAssetSpec("JUNK", 1, {"loan": JUNK_TIERS})], [AccountSpec(EVE, [slot])])
    holdings = {"JUNK": {EVE: value, "frank": 7}}
    return make_margin_bundle(root / name, _assets(holdings, {"JUNK": 10**12}), margin)


def _assert_rejected_at_eve(made: MadeBundle, backend_name: str, forged_parts: list[int] | None = None) -> None:
    assert made.margin is not None
    rec = made.margin.record_of(EVE)
    assert rec.forged_parts == (forged_parts if forged_parts is not None else rec.forged_parts) and rec.forged_parts
    assert made.margin.forged == [(made.margin.group_of(rec), p) for p in rec.forged_parts]
    assert margin_proof_failures(made) == made.margin.forged
    rejected(made.path, backend_name, VerificationError, f"margin.proofs.bin record {made.margin.group_of(rec)}")


LINES = spec_tier_lines(JUNK_TIERS)
BOUNDARIES = [b for b, _ in JUNK_TIERS if b is not None]


@pytest.fixture(scope="module")
def eve_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("eve")


_cache: dict[tuple[int, int | None], MadeBundle] = {}


def _eve(eve_root: Path, value: int, claim: int | None) -> MadeBundle:
    key = (value, claim)
    if key not in _cache:
        _cache[key] = _eve_bundle(eve_root, f"v{value}-{claim}", value, claim)
    return _cache[key]


@pytest.mark.parametrize(
    ("value", "claim", "backend_name"),
    grid(
        [
            (3 * BOUNDARIES[-1], JUNK_CAP + 1),  # one hundredth above the last line (0%: the cap)
            (3 * BOUNDARIES[-1], LINES[2][0] + LINES[2][1] * 3 * BOUNDARIES[-1]),  # tier 3's 5% carried on
            (BOUNDARIES[-1] + 1, JUNK_CAP + 1),
        ],
        ["cap+1", "tier 3 line", "b3+1 cap+1"],
    ),
)
def test_a_value_cannot_escape_its_last_tier(eve_root: Path, value: int, claim: int, backend_name: str) -> None:
    """Binance's flag that let a value escape its last tier: there is no tier index here, every line binds,
    so past the last boundary the 0% line caps the haircut at 100*h(b_3); one hundredth more (or the 5% line
    carried on) leaves the last slack negative."""
    assert spec_scaled_haircut(JUNK_TIERS, value) == JUNK_CAP < claim
    _assert_rejected_at_eve(_eve(eve_root, value, claim), backend_name, [0])


@fast_and_slow_reference
def test_a_value_past_the_last_boundary_verifies_with_the_capped_haircut(eve_root: Path, backend_name: str) -> None:
    made = _eve(eve_root, 3 * BOUNDARIES[-1], None)
    assert made.margin is not None and not made.margin.forged and made.margin.record_of(EVE).excess >= 0
    accepted(made.path, backend_name)


@pytest.mark.parametrize(
    ("claim", "backend_name"), grid([1, *(A for A, _ in LINES[1:])], ["1", "tier 2", "tier 3", "tier 4"])
)
def test_a_zero_value_with_a_non_zero_haircut_is_rejected(eve_root: Path, claim: int, backend_name: str) -> None:
    """Binance's zero value with a non-zero tier index: at ``V = 0`` tier ``t``'s line is ``A_t > 0``, but
    tier 1's line is 0 and binds too, so any claim above 0 makes its slack negative."""
    _assert_rejected_at_eve(_eve(eve_root, 0, claim), backend_name, [0])


@pytest.mark.parametrize(
    ("boundary", "offset", "backend_name"), grid([(b, o) for b in BOUNDARIES for o in (-1, 0, 1)])
)
def test_tier_boundaries_off_by_one(eve_root: Path, boundary: int, offset: int, backend_name: str) -> None:
    """Values ``b - 1``, ``b``, ``b + 1`` at every boundary: the honest haircut (both neighbouring lines meet
    at ``b``) verifies; one hundredth of a cent more is rejected."""
    value = boundary + offset
    honest = _eve(eve_root, value, None)
    assert honest.margin is not None and not honest.margin.forged
    assert honest.margin.record_of(EVE).slots[0].haircuts[0][0] == spec_scaled_haircut(JUNK_TIERS, value)
    accepted(honest.path, backend_name)
    _assert_rejected_at_eve(_eve(eve_root, value, spec_scaled_haircut(JUNK_TIERS, value) + 1), backend_name, [0])


# The remainder: BTC at $97,000.01 (P = 9,700,001 cents, coprime to 10^8), so P*c can be one below a
# multiple of 10^8. Then floor(P*c / 10^8) = k - 1, and claiming k (a `<=` where `<` is meant) leaves
# rho = -1. At c = 1 BTC, P*c is exactly P * 10^8 and V = P is right.

ODD_PRICE = 9_700_001
C_BELOW = (-pow(ODD_PRICE, -1, 10**8)) % 10**8  # P*c ≡ -1 (mod 10^8)


def _remainder_bundle(root: Path, c: int, value: int) -> MadeBundle:
    slot = SlotSpec("BTC", collateral={"loan": c}, values={"loan": value})
    margin = MarginSpec(
        2, ["loan"], [MarginAssetSpec("BTC", ODD_PRICE, {"loan": FLAT_80})], [AccountSpec(EVE, [slot])]
    )
    return make_margin_bundle(root, _assets({"BTC": {EVE: c, "frank": 3}}, {"BTC": 10**10}), margin)


@pytest.fixture(scope="module")
def remainder_bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, MadeBundle]:
    root = tmp_path_factory.mktemp("remainder")
    assert ODD_PRICE * C_BELOW % 10**8 == 10**8 - 1
    k = (ODD_PRICE * C_BELOW + 1) // 10**8
    return {
        "below, floor": _remainder_bundle(root / "a", C_BELOW, k - 1),
        "below, floor + 1": _remainder_bundle(root / "b", C_BELOW, k),
        "at, exact": _remainder_bundle(root / "c", BTC, ODD_PRICE),
        "at, exact + 1": _remainder_bundle(root / "d", BTC, ODD_PRICE + 1),
    }


@pytest.mark.parametrize(("case", "backend_name"), grid(["below, floor", "at, exact"]))
def test_the_rounded_down_value_verifies(
    remainder_bundles: dict[str, MadeBundle], case: str, backend_name: str
) -> None:
    made = remainder_bundles[case]
    assert made.margin is not None and not made.margin.forged
    accepted(made.path, backend_name)


@pytest.mark.parametrize(("case", "backend_name"), grid(["below, floor + 1", "at, exact + 1"]))
def test_a_remainder_compared_with_le_instead_of_lt_is_rejected(
    remainder_bundles: dict[str, MadeBundle], case: str, backend_name: str
) -> None:
    """``V = floor(P*c/10^d) + 1``: the remainder ``rho = P*c - 10^d * V`` is negative (``-1`` when
    ``P*c`` is one below a multiple), and its range proof (the value list's third entry, part 0) fails."""
    made = remainder_bundles[case]
    assert made.margin is not None
    assert made.margin.record_of(EVE).openings[2][0] >= GROUP_ORDER - 10**8
    _assert_rejected_at_eve(made, backend_name, [0])


# A user whose collateral is below their debt: refused by the prover (never dropped), forged bundle rejected.

def test_a_user_whose_collateral_is_below_their_debt_is_refused_by_name(tmp_path: Path) -> None:
    rows = [
        ("alice", "BTC", "2", "", ""), ("grace", "ETH", "10", "", "10"), ("grace", "BTC", "0", "1", ""),
        ("heidi", "ETH", "5", "", ""),
    ]
    margin = {
        "value_decimals": 2, "collateral_types": ["loan"],
        "assets": [
            {"symbol": "BTC", "price": "97000.00", "haircuts": {"loan": [{"ratio": 90}]}},
            {"symbol": "ETH", "price": "3000.00", "haircuts": {"loan": [{"ratio": 80}]}},
        ],
    }
    result, bundle, packages = prove_margin(tmp_path, rows, margin, {"BTC": (8, "2"), "ETH": (9, "15")})
    assert result.exit_code == EXIT_INPUT, result.output
    assert "customer grace" in result.stderr and "ledger.csv" in result.stderr, result.stderr
    assert not bundle.exists() and not packages.exists()


@pytest.fixture(scope="module")
def undercollateralised(tmp_path_factory: pytest.TempPathFactory) -> MadeBundle:
    """grace pledges 10 ETH ($24,000 after the 80% haircut) against 1 BTC ($97,000)."""
    margin = MarginSpec(
        2, ["loan"],
        [MarginAssetSpec("BTC", BTC_PRICE, {"loan": [(None, 90)]}), MarginAssetSpec("ETH", 300_000, {"loan": FLAT_80})],
        [AccountSpec("grace", [SlotSpec("BTC", debt=BTC), SlotSpec("ETH", collateral={"loan": 10 * 10**9})])],
    )
    holdings = {"BTC": {"alice": 2 * BTC}, "ETH": {"grace": 10 * 10**9, "heidi": 5 * 10**9}}
    return make_margin_bundle(
        tmp_path_factory.mktemp("under") / "b", _assets(holdings, {"BTC": 2 * BTC, "ETH": 15 * 10**9}), margin
    )


@fast_and_slow_reference
def test_a_forged_bundle_with_collateral_below_debt_is_rejected(
    undercollateralised: MadeBundle, backend_name: str
) -> None:
    made = undercollateralised
    assert made.margin is not None and made.margin.record_of("grace").excess < 0
    _assert_rejected_at_eve_like(made, "grace", backend_name)


def _assert_rejected_at_eve_like(made: MadeBundle, customer: str, backend_name: str) -> None:
    assert made.margin is not None
    rec = made.margin.record_of(customer)
    assert rec.forged_parts and made.margin.forged == [(made.margin.group_of(rec), p) for p in rec.forged_parts]
    assert not any(made.forged.values())
    assert margin_proof_failures(made) == made.margin.forged
    rejected(made.path, backend_name, VerificationError, f"margin.proofs.bin record {made.margin.group_of(rec)}")


# --- 3. the other lies a record can tell ---------------------------------------------------------------
#
# ivan pledges 2 ETH (loan) against 0.04 BTC; judy pledges 1 ETH against nothing. Both are honest unless a
# case below changes one thing.

IVAN_HOLDINGS = {"BTC": {"alice": 3 * BTC, "ivan": 0}, "ETH": {"ivan": 2 * 10**9, "judy": 10**9, "whale": 500 * 10**9}}
IVAN_RESERVES = {"BTC": 3 * BTC, "ETH": 503 * 10**9}


def _ivan_round(
    ivan: dict[str, object] | None = None, judy: dict[str, object] | None = None, **margin: object
) -> MarginSpec:
    return MarginSpec(
        2, ["loan"],
        [MarginAssetSpec("BTC", BTC_PRICE, {"loan": BTC_TIERS}), MarginAssetSpec("ETH", 300_000, {"loan": FLAT_80})],
        [
            AccountSpec("ivan", [SlotSpec("BTC", debt=4 * 10**6),
                                 SlotSpec("ETH", **{"collateral": {"loan": 2 * 10**9}, **(ivan or {})})]),
            AccountSpec("judy", [SlotSpec("ETH", **{"collateral": {"loan": 10**9}, **(judy or {})})]),
        ],
        **margin,
    )


IVAN_CASES: dict[str, Callable[[], MarginSpec]] = {
    "honest": lambda: _ivan_round(),
    "collateral above equity (w wraps)": lambda: _ivan_round(ivan={"collateral": {"loan": 2 * 10**9 + 1}}),
    "collateral above equity (w = 0, rho wraps)": lambda: _ivan_round(
        ivan={"collateral": {"loan": 3 * 10**9}, "unpledged": 0}
    ),
    "value above the collateral's": lambda: _ivan_round(ivan={"values": {"loan": 600_001}}),
    "haircut above the line": lambda: _ivan_round(ivan={"haircuts": {"loan": 80 * 600_000 + 1}}),
    "judy pledges ivan's leaf": lambda: _ivan_round(judy={"leaf_of": "ivan"}),
    "judy pledges a whale's spot leaf": lambda: _ivan_round(judy={"leaf_of": "whale"}),
    "a debt added to the total": lambda: _ivan_round(debt_shift={"BTC": 10**8}),
    "a debt left out of the total": lambda: _ivan_round(debt_shift={"BTC": -4 * 10**6}),
}


@pytest.fixture(scope="module")
def ivan_bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, MadeBundle]:
    root = tmp_path_factory.mktemp("ivan")
    return {
        name: make_margin_bundle(root / f"b{i}", _assets(IVAN_HOLDINGS, IVAN_RESERVES), case())
        for i, (name, case) in enumerate(IVAN_CASES.items())
    }


@both_backends
def test_the_honest_round_verifies_and_both_margin_customers_check(
    ivan_bundles: dict[str, MadeBundle], backend_name: str, tmp_path: Path
) -> None:
    made = ivan_bundles["honest"]
    assert made.margin is not None and not made.margin.forged
    accepted(made.path, backend_name)
    for customer in ("ivan", "judy", "whale") if backend_name == "fast" else ("ivan",):
        check_accepted(write_package(made, customer, tmp_path / f"{customer}.json"), made.path, backend_name, customer)


@pytest.mark.parametrize(
    ("case", "backend_name"),
    grid(["collateral above equity (w wraps)", "collateral above equity (w = 0, rho wraps)",
          "value above the collateral's", "haircut above the line"]),
)
def test_a_lie_in_the_value_list_is_rejected(ivan_bundles: dict[str, MadeBundle], case: str, backend_name: str) -> None:
    """Collateral above equity makes ``w`` (or, with ``w`` claimed 0, the remainder ``rho``) negative; a value
    above the collateral's makes ``rho`` negative; a haircut above the line makes its slack negative."""
    made = ivan_bundles[case]
    _assert_rejected_at_eve_like(made, "ivan", backend_name)


@pytest.mark.parametrize(
    ("case", "backend_name"), grid(["judy pledges ivan's leaf", "judy pledges a whale's spot leaf"])
)
def test_a_leaf_pledged_by_another_account_is_rejected(
    ivan_bundles: dict[str, MadeBundle], case: str, backend_name: str
) -> None:
    """judy's slot names a leaf that is not hers (ivan's ETH, pledged by him too, or a spot customer's), with
    its true opening, so every proof of hers holds. The leaf's id is not judy's margin leaf id (and ivan's is
    named twice): the record is false."""
    made = ivan_bundles[case]
    assert made.margin is not None and not made.margin.forged
    j = made.margin.record_of("judy").index
    rejected(made.path, backend_name, VerificationError, f"margin.records.bin record {j}")


@pytest.mark.parametrize(
    ("case", "backend_name"), grid(["a debt added to the total", "a debt left out of the total"])
)
def test_a_debt_total_that_is_not_the_sum_of_the_records_is_rejected(
    ivan_bundles: dict[str, MadeBundle], case: str, backend_name: str
) -> None:
    """The BTC solvency proof is honest for the stated total; the verifier sums the records' debts itself."""
    made = ivan_bundles[case]
    assert made.margin is not None and not made.margin.forged and not any(made.forged.values())
    rejected(made.path, backend_name, VerificationError, "manifest.assets[0].debt_commitment")


# --- 4. wrap-arounds at every sum ---------------------------------------------------------------------

#: The negative BTC debt raises BTC's net liabilities; hold enough BTC that its solvency proof stays honest.
WRAP_RESERVES = {**IVAN_RESERVES, "BTC": 4 * BTC}
COEFFICIENT_BTC = 100 * BTC_PRICE * 10  # 100 * P * (Δ/δ): Δ = 10^9 (ETH), δ = 10^8
COEFFICIENT_ETH = 100 * 300_000


WRAP_CASES: dict[str, Callable[[], MarginSpec]] = {
    # A negative BTC debt (r - k: "a debt near r") offsets a fake ETH debt in the excess: x is unchanged,
    # the BTC total drops by k and the ETH total rises by k' with k*c_BTC = k'*c_ETH.
    "a debt near r": lambda: MarginSpec(
        2, ["loan"],
        [MarginAssetSpec("BTC", BTC_PRICE, {"loan": BTC_TIERS}), MarginAssetSpec("ETH", 300_000, {"loan": FLAT_80})],
        [AccountSpec("ivan", [SlotSpec("BTC", debt=-3 * 10**6),
                              SlotSpec("ETH", debt=970 * 10**6, collateral={"loan": 2 * 10**9})]),
         AccountSpec("judy", [SlotSpec("ETH", collateral={"loan": 10**9})])],
    ),
    # Two debts of (r + 901)/2 sum to 901 mod r; each account's excess sees a debt of 450.5 base units
    # (the coefficient is even), which its collateral covers: only the debts' own range proofs stop it.
    "a debt total that wraps": lambda: MarginSpec(
        2, ["loan"],
        [MarginAssetSpec("BTC", BTC_PRICE, {"loan": BTC_TIERS}), MarginAssetSpec("ETH", 300_000, {"loan": FLAT_80})],
        [AccountSpec("ivan", [SlotSpec("BTC", debt=(GROUP_ORDER + 901) // 2),
                              SlotSpec("ETH", collateral={"loan": 2 * 10**9})]),
         AccountSpec("judy", [SlotSpec("BTC", debt=(GROUP_ORDER + 901) // 2),
                              SlotSpec("ETH", collateral={"loan": 10**9})])],
    ),
    # A value-list entry of r - 1: W (one base unit pledged above equity), and a slack (H one above).
    "w = r - 1": lambda: _ivan_round(ivan={"collateral": {"loan": 2 * 10**9 + 1}}),
    "a slack of r - 1": lambda: _ivan_round(ivan={"haircuts": {"loan": 80 * 600_000 + 1}}),
    # The excess wraps: ivan owes 1 BTC ($97,000) on $4,800 of collateral; x < 0, so x = lo + 2^64*hi
    # needs hi near r.
    "an excess that wraps": lambda: MarginSpec(
        2, ["loan"],
        [MarginAssetSpec("BTC", BTC_PRICE, {"loan": BTC_TIERS}), MarginAssetSpec("ETH", 300_000, {"loan": FLAT_80})],
        [AccountSpec("ivan", [SlotSpec("BTC", debt=BTC), SlotSpec("ETH", collateral={"loan": 2 * 10**9})])],
    ),
}


@pytest.fixture(scope="module")
def wrap_bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, MadeBundle]:
    root = tmp_path_factory.mktemp("wrap")
    return {
        name: make_margin_bundle(root / f"w{i}", _assets(IVAN_HOLDINGS, WRAP_RESERVES), case())
        for i, (name, case) in enumerate(WRAP_CASES.items())
    }


def test_the_wrapping_debts_are_what_their_names_say(wrap_bundles: dict[str, MadeBundle]) -> None:
    """The cases are built as intended: the negative debt leaves ivan's excess as if it were absent, the
    wrapping debts' total is 901, and the wrapping excess is negative."""
    near_r = wrap_bundles["a debt near r"].margin
    assert near_r is not None
    assert 3 * 10**6 * COEFFICIENT_BTC == 970 * 10**6 * COEFFICIENT_ETH  # the offset is exact
    rec = near_r.record_of("ivan")
    assert rec.slots[0].debt[0] % GROUP_ORDER == GROUP_ORDER - 3 * 10**6 and rec.excess >= 0
    total = wrap_bundles["a debt total that wraps"].margin
    assert total is not None and total.debt["BTC"][0] % GROUP_ORDER == 901
    assert all(total.record_of(c).excess >= 0 for c in ("ivan", "judy"))
    wrapped = wrap_bundles["an excess that wraps"].margin
    assert wrapped is not None and wrapped.record_of("ivan").excess < 0


@pytest.mark.parametrize(("case", "backend_name"), grid(list(WRAP_CASES)))
def test_a_wrap_around_is_rejected(wrap_bundles: dict[str, MadeBundle], case: str, backend_name: str) -> None:
    made = wrap_bundles[case]
    assert made.margin is not None
    first = made.margin.forged[0][0]
    assert not any(made.forged.values()), made.forged
    assert margin_proof_failures(made) == made.margin.forged
    rejected(made.path, backend_name, VerificationError, f"margin.proofs.bin record {first}")


# --- 5. replays: another price table, schedule, slot count; another record's proof ------------------
#
# Three assets, accounts touching BTC and ETH only: changing USDT's price or schedule changes no record,
# no leaf and no value list, only the margin digest every transcript binds.

REPLAY_HOLDINGS = {**IVAN_HOLDINGS, "USDT": {"alice": 10**6}}
REPLAY_RESERVES = {**IVAN_RESERVES, "USDT": 10**6}


def _replay_round(usdt_price: int = 100, usdt_schedule: list[tuple[int | None, int]] | None = None) -> MarginSpec:
    base = _ivan_round()
    return MarginSpec(
        2, ["loan"], [*base.assets, MarginAssetSpec("USDT", usdt_price, {"loan": usdt_schedule or [(None, 95)]})],
        base.accounts,
    )


def _usdt_assets() -> list[AssetSpec]:
    usdt = AssetSpec("USDT", REPLAY_HOLDINGS["USDT"], 10**6, decimals=6, chunk=2)
    return [*_assets(IVAN_HOLDINGS, IVAN_RESERVES), usdt]


@pytest.fixture(scope="module")
def replay_bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, MadeBundle]:
    root = tmp_path_factory.mktemp("replay")
    return {
        "original": make_margin_bundle(root / "a", _usdt_assets(), _replay_round()),
        "another price": make_margin_bundle(root / "b", _usdt_assets(), _replay_round(usdt_price=99)),
        "another schedule": make_margin_bundle(root / "c", _usdt_assets(), _replay_round(usdt_schedule=[(None, 94)])),
    }


REPLAYED_FILES = {
    "margin.proofs.bin": "margin.proofs.bin record 0",
    "BTC.rangeproofs.bin": "BTC.rangeproofs.bin chunk 0",
    "BTC.nodeproofs.bin": "BTC.nodeproofs.bin[0]",
    "BTC.solvency.bin": "BTC.solvency.bin",
}


@pytest.mark.parametrize(
    ("other", "name", "backend_name"),
    grid([(o, n) for o in ("another price", "another schedule") for n in REPLAYED_FILES]),
)
def test_a_proof_replayed_under_another_price_table_or_schedule_is_rejected(
    replay_bundles: dict[str, MadeBundle], other: str, name: str, backend_name: str, tmp_path: Path
) -> None:
    """The two bundles differ only in USDT's price (or schedule), which no account uses: the records, leaves
    and value lists are byte for byte the same, so only the digest in the transcripts tells them apart."""
    original, target = replay_bundles["original"], replay_bundles[other]
    assert (original.path / "margin.records.bin").read_bytes() == (target.path / "margin.records.bin").read_bytes()
    assert (original.path / "BTC.leaves.bin").read_bytes() == (target.path / "BTC.leaves.bin").read_bytes()
    bundle = tmp_path / "b"
    shutil.copytree(target.path, bundle)
    shutil.copyfile(original.path / name, bundle / name)
    resign(bundle, load_manifest(bundle))
    rejected(bundle, backend_name, VerificationError, REPLAYED_FILES[name])


@fast_and_slow_reference
def test_the_replay_bundles_verify_as_written(replay_bundles: dict[str, MadeBundle], backend_name: str) -> None:
    for name, made in replay_bundles.items():
        if backend_name == "fast" or name == "original":
            accepted(made.path, backend_name)


@fast_and_slow_reference
def test_a_margin_proof_moved_to_another_group_or_part_is_rejected(
    ivan_bundles: dict[str, MadeBundle], backend_name: str
) -> None:
    """Each part's context names its group, part, offset and size (§14.5): the first part's proof of group 0
    verifies under its own context (the factory's) and under none that names another group, part, offset,
    size or record count. (Here ``M = G``: one group, so the move is tried at the level of the statement.)"""
    made = ivan_bundles["honest"]
    mo = made.margin
    assert mo is not None and len(mo.records) // mo.group_size == 1
    be = get_backend(backend_name)
    size = mo.parts[0]
    raw = (made.path / "margin.proofs.bin").read_bytes()[16:]
    proof = RangeProof.from_bytes(raw[: 353 + 96 * (5 + size.bit_length())], be)
    values = [Point.from_bytes(V.to_bytes(), be) for rec in mo.records for V in rec.points][:size]
    M = len(mo.records)
    ex, rd = made.manifest["exchange"], made.manifest["round"]

    def context(M: int = M, g: int = 0, p: int = FIRST_PART, o: int = 0, m: int = size) -> bytes:
        return spec_margin_context(ex, rd, mo.digest, mo.root, M, g, p, o, m)

    verify_range(RangeStatement(tuple(values), 64, context()), proof)
    for moved in (context(g=1), context(p=FIRST_PART + 1), context(o=1), context(m=size // 2), context(M=2 * M)):
        with pytest.raises(VerificationError):
            verify_range(RangeStatement(tuple(values), 64, moved), proof)


@fast_and_slow_reference
def test_a_bundle_replayed_under_another_slot_count_is_malformed(
    replay_bundles: dict[str, MadeBundle], backend_name: str, tmp_path: Path
) -> None:
    """The slot count fixes the record size: the margin section of ``S = 2`` stated as ``S = 3`` (with the
    digest recomputed for it) has records of the wrong size, which is malformed before any proof is read."""
    bundle = tmp_path / "b"
    shutil.copytree(replay_bundles["original"].path, bundle)

    def three_slots(manifest: dict[str, Any]) -> None:
        manifest["margin"]["slots"] = 3
        manifest["margin"]["params_sha256"] = manifest_margin_digest(manifest).hex()

    rewrite_manifest(bundle, three_slots)
    rejected(bundle, backend_name, FormatError, "manifest.margin.files.records.size")


@pytest.mark.parametrize(("field", "backend_name"), grid(["price", "ratio"]))
def test_a_price_or_ratio_edited_in_the_manifest_is_rejected_at_the_first_proof(
    replay_bundles: dict[str, MadeBundle], field: str, backend_name: str, tmp_path: Path
) -> None:
    """USDT's price (or a ratio) edited in the manifest, with the digest recomputed so the manifest is well
    formed: every transcript binds the digest, so the first proof read, BTC's chunk 0, fails."""
    bundle = tmp_path / "b"
    shutil.copytree(replay_bundles["original"].path, bundle)

    def edit(manifest: dict[str, Any]) -> None:
        usdt = manifest["margin"]["assets"][2]
        if field == "price":
            usdt["price"] = "101"
        else:
            usdt["haircuts"]["loan"][0]["ratio"] = 90
        manifest["margin"]["params_sha256"] = manifest_margin_digest(manifest).hex()

    rewrite_manifest(bundle, edit)
    rejected(bundle, backend_name, VerificationError, "BTC.rangeproofs.bin chunk 0")


# --- 6. what the bundle reveals -----------------------------------------------------------------------


def test_the_bundle_reveals_counts_assets_and_leaf_indices_and_no_amount(ivan_bundles: dict[str, MadeBundle]) -> None:
    """A reader of the bundle learns ``M`` (a power of two), ``S``, and per record ``S`` asset positions and
    leaf indices; dummy records look like real ones (every point a valid non-identity commitment), and no
    amount is published unless disclosed."""
    made = ivan_bundles["honest"]
    manifest = json.loads((made.path / "manifest.json").read_bytes())
    margin = manifest["margin"]
    M, S = margin["accounts"], margin["slots"]
    assert M & (M - 1) == 0 and M >= 2 and S == 2
    assert all(a["disclosed_debt"] is None and a["disclosed_collateral"] is None for a in manifest["assets"])
    data = (made.path / "margin.records.bin").read_bytes()
    size = int.from_bytes(data[12:16], "little")
    named = set()
    for j in range(M):
        record = data[16 + j * size : 16 + (j + 1) * size]
        assets = [int.from_bytes(record[32 + s * 198 : 34 + s * 198], "little") for s in range(S)]
        leaves = [int.from_bytes(record[34 + s * 198 : 38 + s * 198], "little") for s in range(S)]
        assert assets == sorted(set(assets))
        named |= set(zip(assets, leaves, strict=True))
    assert len(named) == M * S  # every slot, dummy or real, names a leaf of its own
