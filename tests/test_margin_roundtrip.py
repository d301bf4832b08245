"""Honest margin accounts round-trip (format version 4): written, verified, checked (issue 11 "Tests").

Bundles written by the independent writer ``bundle_factory.make_margin_bundle`` (from ``docs/FORMAT.md`` §14
and ``circuits/notes/42-margin.md`` alone) verify with ``solvency verify`` and their customers' packages
check; bundles written by the real prover (``solvency prove --margin``) verify too, for the same inputs. The
cases: flat and tiered schedules, one and three collateral types, every tier boundary, the largest amounts
(``2^64 - 1`` base units, the largest boundary, value, price and excess), dummy accounts and dummy slots,
disclosed debt and collateral. That the two writers agree on the spec's values (digest, lines, ids,
contexts) is checked against ``circuits.margin`` directly.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from bundle_factory import (
    EXCHANGE,
    ROUND,
    TWO_64,
    AccountSpec,
    AssetSpec,
    MadeBundle,
    MarginAssetSpec,
    MarginSpec,
    SlotSpec,
    make_margin_bundle,
    rewrite_manifest,
    spec_group_size,
    spec_margin_context,
    spec_margin_digest,
    spec_margin_record_id,
    spec_parts,
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

from circuits.errors import VerificationError
from circuits.margin import (
    AssetMargin,
    MarginParams,
    MarginPartStatement,
    Tier,
    margin_record_id,
    scaled_haircut,
    tier_lines,
)
from cli.exit_codes import EXIT_OK

both_backends = pytest.mark.parametrize("backend_name", BACKENDS)

BTC = 10**8
TYPES3 = ["loan", "margin", "portfolio_margin"]
MAX = TWO_64 - 1
IVY_ETH = 19 * 10**16
IVY_VALUE = MAX * IVY_ETH // 10**18
IVY_CLAIM = (2**128 - 1) // 10**18  # the largest H with x = 10^18 * H < 2^128


def _tiers(schedule: list[tuple[int | None, int]]) -> tuple[Tier, ...]:
    return tuple(Tier(b, r) for b, r in schedule)


# --- the spec's values, computed by the factory and by circuits.margin --------------------------------


@pytest.mark.parametrize("schedule", [JUNK_TIERS, BTC_TIERS, FLAT_80, [(2**56 - 1, 100), (None, 50)]])
def test_the_factory_and_the_library_agree_on_tier_lines_and_haircuts(schedule: list[tuple[int | None, int]]) -> None:
    """Two readings of notes/42: lines, and the haircut from its definition equal to the minimum of the lines."""
    assert [tuple(line) for line in tier_lines(_tiers(schedule))] == spec_tier_lines(schedule)
    boundaries = [b for b, _ in schedule if b is not None]
    for v in {0, 1, *(b + o for b in boundaries for o in (-1, 0, 1)), 3 * (boundaries or [7])[-1], MAX}:
        honest = spec_scaled_haircut(schedule, v)
        assert honest == min(A + r * v for A, r in spec_tier_lines(schedule)) == scaled_haircut(_tiers(schedule), v)


def test_the_factory_and_the_library_agree_on_the_digest_ids_and_contexts() -> None:
    assets = [("BTC", 8, 9_700_000, [BTC_TIERS, FLAT_80, JUNK_TIERS]), ("ETH", 18, MAX, [FLAT_80] * 3)]
    params = MarginParams(
        value_decimals=2, collateral_types=tuple(TYPES3), slots=2, accounts=4,
        assets=tuple(AssetMargin(s, d, p, tuple(_tiers(x) for x in h)) for s, d, p, h in assets),
    )
    assert spec_margin_digest(2, 2, 4, 4, TYPES3, assets) == params.digest()
    G = spec_group_size(4, params.values_per_account)
    assert G == params.group_size and spec_parts(G * params.values_per_account) == list(params.parts)
    assert [spec_group_size(M, 18) for M in (1, 2, 4, 8, 16, 1024)] == [1, 2, 4, 8, 8, 8]
    assert [spec_group_size(1024, Q) for Q in (100, 128, 129, 290, 482)] == [8, 8, 4, 2, 2]
    salt = bytes(range(32))
    assert spec_margin_record_id(ROUND, "zoë", salt) == margin_record_id(ROUND, "zoë", salt)
    statement = MarginPartStatement(
        exchange=EXCHANGE, round=ROUND, margin_digest=params.digest(), margin_root=bytes(32), accounts=4, group=3,
        part=1, offset=params.offsets[1], size=params.parts[1],
    )
    ours = spec_margin_context(EXCHANGE, ROUND, params.digest(), bytes(32), 4, 3, 1, params.offsets[1], params.parts[1])
    assert ours == statement.context()


# --- factory bundles ----------------------------------------------------------------------------------


def _round(
    accounts: list[AccountSpec], schedules: dict[str, dict[str, Any]], prices: dict[str, int], types: list[str],
    **margin: Any,
) -> MarginSpec:
    return MarginSpec(2, types, [MarginAssetSpec(s, prices[s], schedules[s]) for s in schedules], accounts, **margin)


def _assets(holdings: dict[str, dict[str, int]], reserves: dict[str, int], decimals: dict[str, int]) -> list[AssetSpec]:
    return [AssetSpec(s, h, reserves[s], decimals=decimals[s], chunk=2) for s, h in holdings.items()]


ROUNDS: dict[str, tuple[list[AssetSpec], MarginSpec]] = {
    # One type, flat schedules; a dummy account pads M to 4, dummy slots pad each account to S = 2.
    "flat": (
        _assets({"BTC": {"ann": BTC, "bea": 0}, "ETH": {"bea": 10**9, "cid": 3 * 10**9}},
                {"BTC": BTC, "ETH": 4 * 10**9}, {"BTC": 8, "ETH": 9}),
        _round(
            [AccountSpec("bea", [SlotSpec("BTC", debt=10**6), SlotSpec("ETH", collateral={"loan": 10**9})]),
             AccountSpec("cid", [SlotSpec("ETH", collateral={"loan": 10**9})]),
             AccountSpec("ann", [SlotSpec("BTC")])],
            {"BTC": {"loan": [(None, 90)]}, "ETH": {"loan": FLAT_80}}, {"BTC": 9_700_000, "ETH": 300_000}, ["loan"],
        ),
    ),
    # Binance's three types, 4-tier schedules: one account pledges each type at a boundary of JUNK's.
    "tiered, three types": (
        _assets({"BTC": {"dan": 0, "eli": 2 * BTC}, "JUNK": {"dan": 100_000 + 500_000 + 1_000_000}},
                {"BTC": 2 * BTC, "JUNK": 2_000_000}, {"BTC": 8, "JUNK": 0}),
        _round(
            [AccountSpec("dan", [
                SlotSpec("BTC", debt=1000),
                SlotSpec("JUNK", collateral={"loan": 100_000, "margin": 500_000, "portfolio_margin": 1_000_000}),
            ])],
            {"BTC": {t: BTC_TIERS for t in TYPES3}, "JUNK": {t: JUNK_TIERS for t in TYPES3}},
            {"BTC": 9_700_000, "JUNK": 1}, TYPES3, disclose_debt=True, disclose_collateral=True,
        ),
    ),
    # The largest amounts: 2^64 - 1 base units pledged at a price of one value unit and 100% (V = 2^64 - 1,
    # H = 100 V), against 2^64 - 1 owed: the excess is exactly 0. Two such accounts make DOGE's debt total
    # 2^65 - 2, past 2^64 (no range proof needed: notes/42's bound is 2^92).
    "largest amounts": (
        _assets({"DOGE": {"fay": 0, "gus": 0, "hal": 5}, "USD": {"fay": MAX, "gus": MAX}},
                {"DOGE": 5, "USD": 2 * MAX}, {"DOGE": 0, "USD": 0}),
        _round(
            [AccountSpec(c, [SlotSpec("DOGE", debt=MAX), SlotSpec("USD", collateral={"loan": MAX})])
             for c in ("fay", "gus")],
            {"DOGE": {"loan": [(None, 100)]}, "USD": {"loan": [(None, 100)]}}, {"DOGE": 1, "USD": 1}, ["loan"],
        ),
    ),
    # The largest boundary (2^56 - 1) with a value on it (kay) and one past it (jon), and the largest price
    # (2^64 - 1 value units per ETH, 18 decimals): ivy's 0.19 ETH is worth V = floor(P * 0.19) at 100%, and
    # with Δ = 10^18 her whole haircut value would make x >= 2^128, which has no two-limb proof; she claims
    # just less (an honest account may: every slack stays below 2^64), so x < 2^128.
    "largest boundary and price": (
        _assets({"BIG": {"jon": 2**56, "kay": 2**56 - 1}, "ETH": {"ivy": IVY_ETH, "lee": 1}},
                {"BIG": 2**57, "ETH": IVY_ETH + 1}, {"BIG": 0, "ETH": 18}),
        _round(
            [AccountSpec("ivy", [SlotSpec("ETH", collateral={"loan": IVY_ETH}, haircuts={"loan": IVY_CLAIM})]),
             AccountSpec("jon", [SlotSpec("BIG", debt=1, collateral={"loan": 2**56})]),
             AccountSpec("kay", [SlotSpec("BIG", collateral={"loan": 2**56 - 1})])],
            {"BIG": {"loan": [(2**56 - 1, 100), (None, 50)]}, "ETH": {"loan": [(None, 100)]}},
            {"BIG": 1, "ETH": MAX}, ["loan"],
        ),
    ),
}


@pytest.fixture(scope="module")
def rounds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, MadeBundle]:
    root = tmp_path_factory.mktemp("rounds")
    return {name: make_margin_bundle(root / f"r{i}", *spec) for i, (name, spec) in enumerate(ROUNDS.items())}


def test_the_rounds_are_what_their_names_say(rounds: dict[str, MadeBundle]) -> None:
    flat = rounds["flat"].margin
    assert flat is not None and len(flat.records) == 4 and [r.customer for r in flat.records].count(None) == 1
    tiered = rounds["tiered, three types"].margin
    assert tiered is not None and tiered.tiers == 4 and tiered.values_per_account == 2 * (3 + 3 * 5) + 2
    dan = tiered.record_of("dan").slots[1]
    assert [v for v, _ in dan.values] == [100_000, 500_000, 1_000_000]
    assert [h for h, _ in dan.haircuts] == [spec_scaled_haircut(JUNK_TIERS, v) for v in (100_000, 500_000, 1_000_000)]
    largest = rounds["largest amounts"].margin
    assert largest is not None
    for customer in ("fay", "gus"):
        rec = largest.record_of(customer)
        assert rec.excess == 0 and rec.slots[1].values[0][0] == MAX and rec.slots[1].haircuts[0][0] == 100 * MAX
    assert largest.debt["DOGE"][0] == 2 * MAX
    big = rounds["largest boundary and price"].margin
    assert big is not None and 2**128 - 10**18 < big.record_of("ivy").excess < 2**128
    assert 10**18 * 100 * IVY_VALUE >= 2**128 and 0 <= 100 * IVY_VALUE - IVY_CLAIM < 2**64
    assert [big.record_of(c).slots[0].values[0][0] for c in ("jon", "kay")] == [2**56, 2**56 - 1]
    for made in rounds.values():
        assert made.margin is not None and not made.margin.forged and not any(made.forged.values())
        assert margin_proof_failures(made) == []


@pytest.mark.parametrize(("name", "backend_name"), grid(list(ROUNDS)))
def test_an_honest_factory_bundle_verifies(rounds: dict[str, MadeBundle], name: str, backend_name: str) -> None:
    accepted(rounds[name].path, backend_name)


@pytest.mark.parametrize("name", list(ROUNDS))
def test_every_margin_customers_package_checks(rounds: dict[str, MadeBundle], name: str, tmp_path: Path) -> None:
    made = rounds[name]
    assert made.margin is not None
    for rec in made.margin.records:
        if rec.customer is not None and rec.customer != "ivy":  # ivy's claimed haircut: the next test
            package = write_package(made, rec.customer, tmp_path / f"{rec.customer}.json")
            check_accepted(package, made.path, "fast", rec.customer)


def test_the_full_haircut_at_the_largest_price_would_need_an_excess_past_2_128(tmp_path: Path) -> None:
    """The same account claiming its whole haircut value: ``x >= 2^128`` has no two-limb proof (``hi``
    forged), so it is rejected; the honest prover refuses it (notes/42, completeness)."""
    assets, margin = ROUNDS["largest boundary and price"]
    full = AccountSpec("ivy", [SlotSpec("ETH", collateral={"loan": IVY_ETH})])
    made = make_margin_bundle(tmp_path / "b", assets, MarginSpec(
        margin.value_decimals, margin.collateral_types, margin.assets, [full, *margin.accounts[1:]]))
    assert made.margin is not None
    rec = made.margin.record_of("ivy")
    assert rec.excess >= 2**128 and rec.forged_parts == [len(made.margin.parts) - 1]
    rejected(made.path, "fast", VerificationError, f"margin.proofs.bin record {rec.index}")


def test_a_package_whose_haircut_is_below_the_schedules_fails_the_customer_check(
    rounds: dict[str, MadeBundle], tmp_path: Path
) -> None:
    """ivy's account claims less than her whole haircut value: sound, so ``solvency verify`` accepts it, but
    her check wants every collateral counted at what the published price and schedule give (FORMAT §14.6)."""
    made = rounds["largest boundary and price"]
    package = write_package(made, "ivy", tmp_path / "ivy.json")
    check_rejected(package, made.path, "fast", "ivy", VerificationError, "package.margin")


@pytest.mark.parametrize("field", ["disclosed_debt", "disclosed_collateral"])
def test_a_wrong_disclosure_is_false(rounds: dict[str, MadeBundle], field: str, tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    shutil.copytree(rounds["tiered, three types"].path, bundle)

    def inflate(manifest: dict[str, Any]) -> None:
        entry = manifest["assets"][0][field]
        entry["amount"] = str(int(entry["amount"]) + 1)

    rewrite_manifest(bundle, inflate)
    rejected(bundle, "fast", VerificationError, f"manifest.assets[0].{field}")


# --- the real prover's bundles for the same inputs ---------------------------------------------------

PROVER_ROWS = [
    ("ann", "BTC", "1", "", ""), ("bea", "BTC", "0", "0.01", ""), ("bea", "ETH", "1", "", "1"),
    ("cid", "ETH", "3", "", "1"),
]
PROVER_MARGIN = {
    "value_decimals": 2, "collateral_types": ["loan"], "slots": 2,
    "assets": [
        {"symbol": "BTC", "price": "97000.00", "haircuts": {"loan": [{"ratio": 90}]}},
        {"symbol": "ETH", "price": "3000.00", "haircuts": {"loan": [{"up_to": "1000.00", "ratio": 90}, {"ratio": 80}]}},
    ],
}
PROVER_RESERVES = {"BTC": (8, "1"), "ETH": (9, "4")}


@pytest.fixture(scope="module")
def proved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    result, bundle, packages = prove_margin(
        tmp_path_factory.mktemp("prover"), PROVER_ROWS, PROVER_MARGIN, PROVER_RESERVES
    )
    assert result.exit_code == EXIT_OK, result.output
    return bundle, packages


@both_backends
def test_the_provers_bundle_verifies(proved: tuple[Path, Path], backend_name: str) -> None:
    accepted(proved[0], backend_name)


def test_the_provers_margin_packages_check(proved: tuple[Path, Path]) -> None:
    bundle, packages = proved
    with (packages / "index.csv").open(encoding="utf-8", newline="") as f:
        index = dict(list(csv.reader(f))[1:])
    for customer in ("bea", "cid", "ann"):
        package = packages / index[customer]
        assert (json.loads(package.read_bytes())["margin"] is None) == (customer == "ann")
        check_accepted(package, bundle, "fast", customer)


def test_the_factorys_bundle_for_the_provers_inputs_verifies(proved: tuple[Path, Path], tmp_path: Path) -> None:
    """The same ledger, margin file and reserves written by the independent writer: not the same bytes
    (other blindings, salts and padding), but the same public parameters and digest, and it verifies."""
    assets = _assets(
        {"BTC": {"ann": BTC, "bea": 0}, "ETH": {"bea": 10**9, "cid": 3 * 10**9}},
        {"BTC": BTC, "ETH": 4 * 10**9}, {"BTC": 8, "ETH": 9},
    )
    manifest = json.loads((proved[0] / "manifest.json").read_bytes())
    margin = _round(
        [AccountSpec("bea", [SlotSpec("BTC", debt=10**6), SlotSpec("ETH", collateral={"loan": 10**9})]),
         AccountSpec("cid", [SlotSpec("ETH", collateral={"loan": 10**9})])],
        {"BTC": {"loan": [(None, 90)]}, "ETH": {"loan": [(100_000, 90), (None, 80)]}},
        {"BTC": 9_700_000, "ETH": 300_000}, ["loan"], slots=2, accounts_padded=manifest["margin"]["accounts"],
    )
    made = make_margin_bundle(tmp_path / "b", assets, margin)
    ours = made.manifest["margin"]
    theirs = manifest["margin"]
    assert {k: ours[k] for k in ("assets", "collateral_types", "slots", "tiers", "value_decimals")} == {
        k: theirs[k] for k in ("assets", "collateral_types", "slots", "tiers", "value_decimals")
    }
    assert ours["params_sha256"] == theirs["params_sha256"]
    accepted(made.path, "fast")
