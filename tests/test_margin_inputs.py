"""Margin inputs (issue 11, ``docs/FORMAT.md`` §14.1): ledger margin columns, ``margin.json``, account checks, synth.

Every refusal asserts the exact class (:class:`InputError`), the file, line and field in the
message, and the ``section`` (and ``file``/``field``) the CLI reports. The (M) refusal names the
account; nothing is dropped silently.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from circuits.errors import InputError
from circuits.limits import MAX_TIER_BOUNDARY
from circuits.margin import Tier, collateral_value, scaled_haircut, slot_amounts
from cli.exit_codes import EXIT_INPUT, EXIT_OK, EXIT_USAGE
from cli.main import app
from prover.amounts import format_amount
from prover.ledger import MarginColumn, MarginRow, load_ledger
from prover.margin_inputs import (
    MarginFile,
    load_margin_file,
    margin_accounts,
    require_spot_ledger,
)
from prover.reserves import AssetSpec, Reserves, load_reserves
from prover.synth import MARGIN_FILE_NAME, generate_ledger

TWO_64 = 1 << 64
RESERVES = Reserves(
    exchange="Test Exchange",
    round="2026-11-24T00:00:00Z",
    assets=(AssetSpec("BTC", 8, 10**12), AssetSpec("ETH", 2, 10**12), AssetSpec("USDT", 6, 10**15)),
)


def _raises(call, *args, **kwargs) -> InputError:
    with pytest.raises(InputError) as info:
        call(*args, **kwargs)
    assert type(info.value) is InputError
    return info.value


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


# ---------------------------------------------------------------------------
# Ledger: margin columns

MH = "customer_id,asset,amount,debt,collateral_loan\n"


def test_margin_ledger_keeps_only_rows_with_margin_amounts(tmp_path):
    content = (
        "customer_id,asset,amount,collateral_loan,debt\n"  # any order of the optional columns
        "alice,BTC,1.5,1,\n"
        "alice,USDT,1000,,50000\n"
        "bob,BTC,2,,\n"  # empty cells are 0: a spot row
        "carol,BTC,1,0,0\n"  # explicit zeros: a spot row too
        "carol,USDT,0,,1.25\n"
    )
    ledger = load_ledger(_write(tmp_path, "ledger.csv", content), RESERVES)
    assert ledger.has_margin_columns and ledger.margin_columns == ("collateral_loan", "debt")
    assert ledger.collateral_types == ("loan",)
    assert ledger.rows == 5 and ledger.customers == 3
    assert ledger.margin_row_count == 3
    btc, eth, usdt = (ledger.margin[s] for s in ("BTC", "ETH", "USDT"))
    assert isinstance(btc, MarginColumn) and len(eth) == 0
    assert btc.rows.tolist() == [0] and btc.debt.tolist() == [0] and btc.collateral.tolist() == [[100_000_000]]
    assert usdt.rows.tolist() == [0, 1] and usdt.debt.tolist() == [50_000 * 10**6, 1_250_000]
    assert btc.rows.dtype == np.int64 and btc.debt.dtype == np.uint64 and btc.collateral.dtype == np.uint64
    assert list(ledger.margin_rows()) == [
        MarginRow("alice", "BTC", 0, 150_000_000, 0, (100_000_000,)),
        MarginRow("alice", "USDT", 0, 1_000_000_000, 50_000_000_000, (0,)),
        MarginRow("carol", "USDT", 1, 0, 1_250_000, (0,)),
    ]
    # The spot view is unchanged: amounts are the equity.
    assert list(ledger.columns["BTC"].rows()) == [("alice", 150_000_000), ("bob", 200_000_000), ("carol", 100_000_000)]


def test_collateral_columns_are_kept_in_ascii_order(tmp_path):
    content = (
        "customer_id,asset,amount,collateral_portfolio_margin,debt,collateral_loan\n"
        "alice,BTC,3,1,,0.5\n"
    )
    ledger = load_ledger(_write(tmp_path, "ledger.csv", content), RESERVES)
    assert ledger.collateral_types == ("loan", "portfolio_margin")
    assert ledger.margin["BTC"].collateral.tolist() == [[50_000_000, 100_000_000]]


def test_spot_ledger_has_no_margin_structure(tmp_path):
    ledger = load_ledger(_write(tmp_path, "ledger.csv", "customer_id,asset,amount\nalice,BTC,1\n"), RESERVES)
    assert not ledger.has_margin_columns and ledger.margin == {} and ledger.collateral_types == ()
    assert list(ledger.margin_rows()) == [] and ledger.margin_row_count == 0
    require_spot_ledger(ledger)  # no margin columns: nothing to refuse


# (case, content, line, field, words of the reason)
BAD_MARGIN_LEDGERS = [
    ("unknown_column", "customer_id,asset,amount,debt,notes\nalice,BTC,1,,\n", 1, "header", 'unknown column "notes"'),
    ("empty_type", "customer_id,asset,amount,collateral_\nalice,BTC,1,\n", 1, "header", "unknown column"),
    ("upper_case_type", "customer_id,asset,amount,collateral_Loan\nalice,BTC,1,\n", 1, "header", "unknown column"),
    ("type_too_long", "customer_id,asset,amount,collateral_" + "a" * 17 + "\nalice,BTC,1,\n", 1, "header",
     "unknown column"),
    ("debt_twice", "customer_id,asset,amount,debt,debt\nalice,BTC,1,,\n", 1, "header", "appears twice"),
    ("collateral_twice", "customer_id,asset,amount,collateral_loan,collateral_loan\nalice,BTC,1,,\n", 1, "header",
     "appears twice"),
    ("four_types", "customer_id,asset,amount,collateral_a,collateral_b,collateral_c,collateral_d\nalice,BTC,1,,,,\n",
     1, "header", "at most 3 types"),
    ("margin_before_amount", "customer_id,asset,debt,amount\nalice,BTC,,1\n", 1, "header", "expected exactly"),
    ("too_few_fields", MH + "alice,BTC,1,\n", 2, "row", "expected 5 fields"),
    ("too_many_fields", MH + "alice,BTC,1,,,\n", 2, "row", "expected 5 fields"),
    ("spot_row_in_margin_ledger", MH + "alice,BTC,1\n", 2, "row", "expected 5 fields"),
    ("negative_debt", MH + "alice,BTC,1,-1,\n", 2, "debt", "negative amount"),
    ("debt_too_many_decimals", MH + "alice,ETH,1,0.001,\n", 2, "debt", "too many decimals"),
    ("debt_2_64", MH + f"alice,BTC,1,{format_amount(TWO_64, 8)},\n", 2, "debt", "2^64 base units or more"),
    ("debt_exponent", MH + "alice,BTC,1,1e3,\n", 2, "debt", "not a plain decimal"),
    ("debt_space", MH + "alice,BTC,1, 1,\n", 2, "debt", "not a plain decimal"),
    ("negative_collateral", MH + "alice,BTC,1,,-0.5\n", 2, "collateral_loan", "negative amount"),
    ("collateral_too_many_decimals", MH + "alice,ETH,1,,0.005\n", 2, "collateral_loan", "too many decimals"),
    ("collateral_above_amount", MH + "alice,BTC,1,,1.00000001\n", 2, "collateral_loan", "exceeds the row's amount"),
    ("collateral_on_zero_amount", MH + "bob,BTC,2,,\nalice,ETH,0,,0.01\n", 3, "collateral_loan",
     "exceeds the row's amount"),
    # Two types: the running sum (header order) first exceeds the amount at the second column.
    ("collateral_sum_above_amount", "customer_id,asset,amount,collateral_margin,collateral_loan\n"
     "alice,BTC,1,0.6,0.5\n", 2, "collateral_loan", "collateral (all types) of 1.1 BTC exceeds"),
    ("invalid_utf8_debt", MH.encode() + b"alice,BTC,1,1\xff,\n", 2, "debt", "invalid UTF-8"),
]


@pytest.mark.parametrize(
    ("content", "line", "field", "reason"),
    [case[1:] for case in BAD_MARGIN_LEDGERS],
    ids=[case[0] for case in BAD_MARGIN_LEDGERS],
)
def test_bad_margin_ledger_is_refused_naming_file_line_and_field(tmp_path, content, line, field, reason):
    error = _raises(load_ledger, _write(tmp_path, "ledger.csv", content), RESERVES)
    message = str(error)
    assert message.startswith(f"ledger.csv:{line}: {field}: "), message
    assert reason in message, message
    assert error.section == f"ledger.csv:{line}:{field}"
    assert (error.file, error.field) == ("ledger.csv", field)


def test_collateral_equal_to_the_amount_is_accepted(tmp_path):
    content = "customer_id,asset,amount,collateral_margin,collateral_loan\nalice,BTC,1,0.6,0.4\n"
    ledger = load_ledger(_write(tmp_path, "ledger.csv", content), RESERVES)
    assert ledger.margin["BTC"].collateral.tolist() == [[40_000_000, 60_000_000]]


def test_ledger_with_margin_columns_needs_a_margin_file(tmp_path):
    # Even with every margin cell empty: the columns say the ledger has margin accounts.
    content = "\n" + MH + "alice,BTC,1,,\n"  # the header on line 2
    ledger = load_ledger(_write(tmp_path, "ledger.csv", content), RESERVES)
    error = _raises(require_spot_ledger, ledger)
    assert str(error).startswith("ledger.csv:2: header: the margin columns debt, collateral_loan need")
    assert "--margin margin.json" in str(error)
    assert error.section == "ledger.csv:2:header" and error.field == "header"


# ---------------------------------------------------------------------------
# margin.json

SCHEDULE = [{"up_to": "500000.00", "ratio": 95}, {"up_to": "2000000.00", "ratio": 90}, {"ratio": 50}]
GOOD_MARGIN: dict[str, Any] = {
    "value_decimals": 2,
    "collateral_types": ["loan"],
    "slots": 2,
    "assets": [
        {"symbol": "BTC", "price": "97000.00", "haircuts": {"loan": SCHEDULE}},
        {"symbol": "ETH", "price": "3500.5", "haircuts": {"loan": [{"up_to": "100000", "ratio": 90}, {"ratio": 80}]}},
        {"symbol": "USDT", "price": "1", "haircuts": {"loan": [{"ratio": 100}]}},
    ],
}


def _margin_text(document: Any) -> str:
    return json.dumps(document, indent=1) + "\n"


def _load(tmp_path: Path, document: Any, reserves: Reserves = RESERVES) -> MarginFile:
    return load_margin_file(_write(tmp_path, "margin.json", _margin_text(document)), reserves.assets)


def test_good_margin_file_is_converted_to_value_units(tmp_path):
    margin = _load(tmp_path, GOOD_MARGIN)
    assert (margin.name, margin.value_decimals, margin.collateral_types) == ("margin.json", 2, ("loan",))
    assert margin.slots == 2
    btc, eth, usdt = margin.assets
    assert (btc.symbol, btc.decimals, btc.price) == ("BTC", 8, 9_700_000)
    assert btc.haircuts == ((Tier(50_000_000, 95), Tier(200_000_000, 90), Tier(None, 50)),)
    assert (eth.decimals, eth.price, eth.haircuts) == (2, 350_050, ((Tier(10_000_000, 90), Tier(None, 80)),))
    assert (usdt.price, usdt.haircuts) == (100, ((Tier(None, 100),),))


def test_margin_file_in_any_asset_order_and_without_slots(tmp_path):
    document = copy.deepcopy(GOOD_MARGIN)
    del document["slots"]
    document["assets"].reverse()
    margin = _load(tmp_path, document)
    assert margin.slots is None
    assert [a.symbol for a in margin.assets] == ["BTC", "ETH", "USDT"]  # the reserves (manifest) order


def test_format_example_loads(tmp_path):
    """The example of ``docs/FORMAT.md`` §14.1 is a valid margin file of a BTC and USDT round."""
    text = Path(__file__).resolve().parents[1].joinpath("docs", "FORMAT.md").read_text(encoding="utf-8")
    section = text[text.index("### 14.1") : text.index("### 14.2")]
    example = re.search(r"```json\n(.*?)```", section, re.S)
    assert example is not None
    reserves = Reserves("E", "R", (AssetSpec("BTC", 8, 1), AssetSpec("USDT", 6, 1)))
    margin = load_margin_file(_write(tmp_path, "margin.json", example.group(1)), reserves.assets)
    assert margin.slots == 2 and margin.assets[0].price == 9_700_000
    assert margin.assets[0].haircuts == ((Tier(50_000_000, 95), Tier(200_000_000, 90), Tier(None, 50)),)


def test_round_trip_to_the_manifest_object(tmp_path):
    """margin.json's quote-unit decimals become the manifest's integer value units (§14.3)."""
    params = _load(tmp_path, GOOD_MARGIN).params(2, 4)
    obj = params.to_json(bytes(32), {})
    assert (obj["value_decimals"], obj["slots"], obj["tiers"], obj["accounts"]) == (2, 2, 3, 4)
    btc, eth, usdt = obj["assets"]
    assert (btc["price"], eth["price"], usdt["price"]) == ("9700000", "350050", "100")
    assert btc["haircuts"] == {
        "loan": [{"up_to": "50000000", "ratio": 95}, {"up_to": "200000000", "ratio": 90}, {"up_to": None, "ratio": 50}]
    }
    assert params.lines(2, 0) == ((0, 100),) * 3  # a flat schedule repeats its line to T_max
    assert obj["params_sha256"] == params.digest().hex()


def _with(path: str, value: Any) -> Any:
    """A copy of GOOD_MARGIN with the value at ``path`` (``assets[0].price``) replaced (``DELETE`` removes it)."""
    document = copy.deepcopy(GOOD_MARGIN)
    parts = re.findall(r"[A-Za-z_]+|\[\d+\]", path)
    node = document
    for part in parts[:-1]:
        node = node[int(part[1:-1])] if part.startswith("[") else node[part]
    last = parts[-1]
    key: Any = int(last[1:-1]) if last.startswith("[") else last
    if value is DELETE:
        del node[key]
    else:
        node[key] = value
    return document


DELETE = object()
NINE_TIERS = [{"up_to": str(10 * (t + 1)), "ratio": 90} for t in range(8)] + [{"ratio": 50}]

# (case, document, field, words of the reason)
BAD_MARGIN_FILES = [
    ("value_decimals_19", _with("value_decimals", 19), "value_decimals", "[0, 18]"),
    ("value_decimals_negative", _with("value_decimals", -1), "value_decimals", "[0, 18]"),
    ("value_decimals_string", _with("value_decimals", "2"), "value_decimals", "integer"),
    ("value_decimals_missing", _with("value_decimals", DELETE), "value_decimals", "missing"),
    ("types_empty", _with("collateral_types", []), "collateral_types", "1 to 3"),
    ("types_four", _with("collateral_types", ["a", "b", "c", "d"]), "collateral_types", "1 to 3"),
    ("types_not_a_list", _with("collateral_types", "loan"), "collateral_types", "1 to 3"),
    ("type_upper_case", _with("collateral_types", ["Loan"]), "collateral_types[0]", "matching"),
    ("type_duplicate", _with("collateral_types", ["loan", "loan"]), "collateral_types[1]", "duplicate"),
    ("types_unsorted", _with("collateral_types", ["margin", "loan"]), "collateral_types[1]", "ASCII order"),
    ("slots_zero", _with("slots", 0), "slots", "[1, 16]"),
    ("slots_17", _with("slots", 17), "slots", "[1, 16]"),
    ("slots_above_assets", _with("slots", 4), "slots", "more than the 3 assets"),
    ("unknown_top_key", _with("notes", "x"), "file", "unknown field 'notes'"),
    ("assets_not_a_list", _with("assets", {}), "assets", "list"),
    ("unknown_asset", _with("assets[2].symbol", "DOGE"), "assets[2].symbol", 'unknown asset "DOGE"'),
    ("duplicate_asset", _with("assets[1].symbol", "BTC"), "assets[1].symbol", "duplicate asset BTC (also assets[0])"),
    ("missing_asset", _with("assets[2]", DELETE), "assets", "no entry for USDT"),
    ("asset_unknown_key", _with("assets[0].decimals", 8), "assets[0]", "unknown field 'decimals'"),
    ("price_zero", _with("assets[0].price", "0"), "assets[0].price", "price of zero"),
    ("price_zero_decimals", _with("assets[0].price", "0.00"), "assets[0].price", "price of zero"),
    ("price_negative", _with("assets[0].price", "-1"), "assets[0].price", "negative"),
    ("price_number", _with("assets[0].price", 97000), "assets[0].price", "expected a decimal string"),
    ("price_too_many_decimals", _with("assets[0].price", "1.001"), "assets[0].price", "too many decimals"),
    ("price_exponent", _with("assets[0].price", "1e5"), "assets[0].price", "not a plain decimal"),
    ("price_2_64", _with("assets[0].price", format_amount(TWO_64, 2)), "assets[0].price", "2^64 value units or more"),
    ("price_missing", _with("assets[0].price", DELETE), "assets[0].price", "missing"),
    ("haircuts_missing_type", _with("assets[0].haircuts.loan", DELETE), "assets[0].haircuts.loan", "missing"),
    ("haircuts_unknown_type", _with("assets[0].haircuts.margin", SCHEDULE), "assets[0].haircuts",
     "unknown field 'margin'"),
    ("schedule_empty", _with("assets[0].haircuts.loan", []), "assets[0].haircuts.loan", "0 tiers"),
    ("schedule_nine_tiers", _with("assets[0].haircuts.loan", NINE_TIERS), "assets[0].haircuts.loan", "9 tiers"),
    ("ratio_101", _with("assets[0].haircuts.loan[0].ratio", 101), "assets[0].haircuts.loan[0].ratio", "[0, 100]"),
    ("ratio_negative", _with("assets[0].haircuts.loan[2].ratio", -1), "assets[0].haircuts.loan[2].ratio", "[0, 100]"),
    ("ratio_string", _with("assets[0].haircuts.loan[0].ratio", "95"), "assets[0].haircuts.loan[0].ratio", "integer"),
    ("ratio_increasing", _with("assets[0].haircuts.loan[1].ratio", 96), "assets[0].haircuts.loan[1].ratio",
     "above the previous tier's 95"),
    ("ratio_increasing_last", _with("assets[0].haircuts.loan[2].ratio", 91), "assets[0].haircuts.loan[2].ratio",
     "must not increase"),
    ("boundaries_unsorted", _with("assets[0].haircuts.loan[1].up_to", "400000"), "assets[0].haircuts.loan[1].up_to",
     'not above the previous boundary "500000.00"'),
    ("boundaries_equal", _with("assets[0].haircuts.loan[1].up_to", "500000"), "assets[0].haircuts.loan[1].up_to",
     "strictly increase"),
    ("boundary_zero", _with("assets[0].haircuts.loan[0].up_to", "0.00"), "assets[0].haircuts.loan[0].up_to",
     "boundary of zero"),
    ("boundary_2_56", _with("assets[0].haircuts.loan[1].up_to", format_amount(MAX_TIER_BOUNDARY, 2)),
     "assets[0].haircuts.loan[1].up_to", "2^56 value units or more"),
    ("boundary_too_many_decimals", _with("assets[0].haircuts.loan[0].up_to", "1.005"),
     "assets[0].haircuts.loan[0].up_to", "too many decimals"),
    ("boundary_number", _with("assets[0].haircuts.loan[0].up_to", 500000), "assets[0].haircuts.loan[0].up_to",
     "expected a decimal string"),
    ("last_tier_with_up_to", _with("assets[0].haircuts.loan[2].up_to", "9000000"), "assets[0].haircuts.loan[2].up_to",
     "the last tier has no up_to"),
    ("last_tier_with_null_up_to", _with("assets[0].haircuts.loan[2].up_to", None),
     "assets[0].haircuts.loan[2].up_to", "the last tier has no up_to"),
    ("tier_without_up_to", _with("assets[0].haircuts.loan[0].up_to", DELETE), "assets[0].haircuts.loan[0].up_to",
     "every tier but the last has an up_to"),
    ("tier_unknown_key", _with("assets[0].haircuts.loan[1].from", "0"), "assets[0].haircuts.loan[1]",
     "unknown field 'from'"),
    ("tier_not_an_object", _with("assets[2].haircuts.loan[0]", 100), "assets[2].haircuts.loan[0]",
     "expected an object"),
]


@pytest.mark.parametrize(
    ("document", "field", "reason"),
    [case[1:] for case in BAD_MARGIN_FILES],
    ids=[case[0] for case in BAD_MARGIN_FILES],
)
def test_bad_margin_file_is_refused_naming_file_line_and_field(tmp_path, document, field, reason):
    text = _margin_text(document)
    error = _raises(load_margin_file, _write(tmp_path, "margin.json", text), RESERVES.assets)
    message = str(error)
    if field == "file":
        assert message.startswith("margin.json: file: "), message
    else:
        found = re.match(rf"margin\.json: line (\d+): {re.escape(field)}: ", message)
        assert found is not None, message
        # The line holds the field itself (json.dumps(indent=1): one key per line), or for a missing
        # key the object that lacks it.
        key = re.findall(r"[A-Za-z_]+|\[\d+\]", field)[-1]
        line = text.splitlines()[int(found.group(1)) - 1]
        if ": missing" not in message and not key.startswith("["):
            assert f'"{key}"' in line, (line, field)
    assert reason in message, message
    assert error.section == f"margin.json:{field}"
    assert (error.file, error.field) == ("margin.json", field)


def test_margin_file_lines_are_the_lines_of_the_value(tmp_path):
    text = (
        '{"value_decimals": 2,\n'
        ' "collateral_types": ["loan"],\n'
        ' "assets": [\n'
        '  {"symbol": "BTC", "price": "97000", "haircuts": {"loan": [{"ratio": 100}]}},\n'
        '  {"symbol": "ETH", "price": "3500", "haircuts": {"loan": [\n'
        '    {"up_to": "10", "ratio": 90},\n'
        '    {"up_to": "5", "ratio": 80},\n'
        '    {"ratio": 10}]}}]}\n'
    )
    error = _raises(load_margin_file, _write(tmp_path, "margin.json", text), RESERVES.assets[:2])
    assert str(error).startswith('margin.json: line 7: assets[1].haircuts.loan[1].up_to: "5" is not above')


def test_asset_with_more_than_18_decimals_is_refused(tmp_path):
    reserves = Reserves("E", "R", (AssetSpec("BTC", 8, 1), AssetSpec("WEI", 19, 1)))
    document = {
        "value_decimals": 2,
        "collateral_types": ["loan"],
        "assets": [
            {"symbol": "BTC", "price": "1", "haircuts": {"loan": [{"ratio": 100}]}},
            {"symbol": "WEI", "price": "1", "haircuts": {"loan": [{"ratio": 100}]}},
        ],
    }
    error = _raises(_load, tmp_path, document, reserves)
    assert re.match(r"margin\.json: line \d+: assets\[1\]\.symbol: WEI has 19 decimals: .* at most 18", str(error))
    assert error.section == "margin.json:assets[1].symbol"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{", "not valid JSON"),
        (b'{"value_decimals": 2.5}', "non-integer number"),
        (b"\xff", "not valid JSON"),
        (b"[]", "expected an object"),
        (b"[" * 100 + b"]" * 100, "nested deeper"),
    ],
)
def test_unparseable_margin_file_is_refused(tmp_path, content, reason):
    error = _raises(load_margin_file, _write(tmp_path, "margin.json", content), RESERVES.assets)
    assert str(error).startswith("margin.json: file: ") and reason in str(error)
    assert error.section == "margin.json:file"


def test_duplicate_key_is_refused_naming_it(tmp_path):
    text = _margin_text(GOOD_MARGIN).replace('"slots": 2,', '"slots": 2, "slots": 1,')
    error = _raises(load_margin_file, _write(tmp_path, "margin.json", text), RESERVES.assets)
    assert str(error).startswith("margin.json: line 6: slots: duplicate key")  # json.dumps(indent=1): line 6


def test_missing_margin_file(tmp_path):
    error = _raises(load_margin_file, tmp_path / "margin.json", RESERVES.assets)
    assert str(error).startswith("margin.json: file: cannot read") and error.section == "margin.json:file"


def test_margin_file_with_a_bom(tmp_path):
    path = _write(tmp_path, "margin.json", b"\xef\xbb\xbf" + _margin_text(GOOD_MARGIN).encode())
    assert load_margin_file(path, RESERVES.assets).assets[0].price == 9_700_000


# ---------------------------------------------------------------------------
# Accounts: grouping, (M), slots, bounds

MARGIN_FLAT = {
    "value_decimals": 2,
    "collateral_types": ["loan"],
    "assets": [
        {"symbol": "BTC", "price": "97000.00", "haircuts": {"loan": SCHEDULE}},
        {"symbol": "ETH", "price": "3500", "haircuts": {"loan": [{"ratio": 80}]}},
        {"symbol": "USDT", "price": "1", "haircuts": {"loan": [{"ratio": 100}]}},
    ],
}


def _accounts(tmp_path: Path, ledger_text: str, document: Any = MARGIN_FLAT, reserves: Reserves = RESERVES):
    ledger = load_ledger(_write(tmp_path, "ledger.csv", ledger_text), reserves)
    return ledger, margin_accounts(ledger, _load(tmp_path, document, reserves))


def test_accounts_are_grouped_and_checked(tmp_path):
    text = MH + (
        "dave,BTC,3,,\n"  # spot only
        "carol,BTC,1,,1\n"  # 1 BTC: 97,000 -> haircut 92,150.00
        "carol,USDT,0,92150,\n"  # exactly covered: x = 0 passes
        "alice,ETH,10,,4\n"  # 4 ETH: 14,000.00, at 80%: 11,200.00
        "alice,USDT,100,1000,\n"
        "alice,BTC,0.5,,\n"  # a margin customer's spot row: not a slot
    )
    _, accounts = _accounts(tmp_path, text)
    assert [a.customer_id for a in accounts] == ["alice", "carol"] and len(accounts) == 2
    assert accounts.params.slots == 2 and accounts.params.accounts == 2
    alice = accounts.find("alice")
    assert alice is not None and accounts.find("dave") is None and accounts.find("zed") is None
    eth, usdt = alice.slots
    assert (eth.symbol, eth.asset, eth.row, eth.equity, eth.debt, eth.collateral) == ("ETH", 1, 0, 1000, 0, (400,))
    assert eth.values == (1_400_000,) and eth.haircuts == (80 * 1_400_000,) and eth.unpledged == 600
    assert (usdt.symbol, usdt.asset, usdt.equity, usdt.debt, usdt.values, usdt.haircuts) == (
        "USDT", 2, 100_000_000, 1_000_000_000, (0,), (0,)
    )
    carol = accounts.find("carol")
    assert carol is not None and carol.excess == 0
    assert carol.slots[0].haircuts == (100 * 9_215_000,)
    assert accounts.debt == {"BTC": 0, "ETH": 0, "USDT": 93_150 * 10**6}
    assert accounts.collateral == {"BTC": 100_000_000, "ETH": 400, "USDT": 0}
    # Each slot as circuits.margin computes an honest slot.
    for account in accounts:
        for slot in account.slots:
            assert slot.amounts(17) == slot_amounts(accounts.params, slot.asset, 17, slot.equity, slot.debt,
                                                     slot.collateral)
    assert "92150" not in repr(accounts) + repr(carol) + repr(carol.slots)  # amounts stay out of reprs


def test_the_m_refusal_names_the_account(tmp_path):
    text = MH + "carol,BTC,1,,1\ncarol,USDT,0,92150.000001,\nzed,USDT,0,5,\n"
    error = _raises(_accounts, tmp_path, text)
    # Haircut value rounded down, debt value rounded up, both in quote units with q = 2 decimals.
    assert str(error) == "ledger.csv: customer carol: haircut collateral value 92150.00 is below debt value 92150.01"
    assert error.section == "ledger.csv:customer carol"
    assert (error.file, error.field) == ("ledger.csv", "customer carol")


def test_debt_without_collateral_is_refused_not_dropped(tmp_path):
    error = _raises(_accounts, tmp_path, MH + "bob, jr.,USDT,0,0.01,\n".replace("bob, jr.", '"bob, jr."'))
    assert str(error) == "ledger.csv: customer bob, jr.: haircut collateral value 0.00 is below debt value 0.01"


def test_the_first_failing_account_in_id_order_is_reported(tmp_path):
    text = MH + "zoe,USDT,0,1,\namy,USDT,0,2,\n"
    assert "customer amy:" in str(_raises(_accounts, tmp_path, text))


def test_haircuts_at_every_tier_boundary(tmp_path):
    """Collateral values at b_t - 1, b_t and b_t + 1 of each boundary get exactly the piecewise haircut."""
    schedule = [Tier(50_000_000, 95), Tier(200_000_000, 90), Tier(None, 50)]

    def piecewise(v: int) -> int:  # 100*h(V), the definition in notes/42
        total, lower = 0, 0
        for tier in schedule:
            upper = v if tier.up_to is None else min(v, tier.up_to)
            total += tier.ratio * max(0, upper - lower)
            lower = tier.up_to or 0
        return total

    values = [1, 49_999_999, 50_000_000, 50_000_001, 199_999_999, 200_000_000, 200_000_001, 10**12]
    # BTC at 1.00 quote unit = 100 value units per BTC: c base units are worth c * 100 / 10^8 value units,
    # so the amounts c = V * 10^6 are worth exactly V.
    document = copy.deepcopy(MARGIN_FLAT)
    document["assets"][0]["price"] = "1.00"
    rows = "".join(f"c{i},BTC,{format_amount(v * 10**6, 8)},,{format_amount(v * 10**6, 8)}\n" for i, v in
                   enumerate(values))
    _, accounts = _accounts(tmp_path, MH + rows, document)
    for account in accounts:
        (slot,) = account.slots
        v = slot.values[0]
        assert v == collateral_value(100, slot.collateral[0], 8)
        assert slot.haircuts[0] == piecewise(v) == scaled_haircut(schedule, v)
    assert sorted(s.values[0] for a in accounts for s in a.slots) == values
    assert scaled_haircut(schedule, 0) == 0


def test_an_account_touching_more_assets_than_slots_is_refused(tmp_path):
    document = dict(MARGIN_FLAT, slots=1)
    text = MH + "amy,BTC,1,,1\namy,USDT,0,10,\n"
    error = _raises(_accounts, tmp_path, text, document)
    assert str(error) == "ledger.csv: customer amy: touches 2 assets (BTC, USDT), more than the 1 slots of margin.json"
    assert error.section == "ledger.csv:customer amy"


def test_default_slots_is_the_widest_account(tmp_path):
    text = MH + "amy,BTC,1,,1\namy,USDT,0,10,\namy,ETH,1,,1\nbob,BTC,1,,0.5\nbob,ETH,0,0.01,\n"
    _, accounts = _accounts(tmp_path, text)
    assert accounts.params.slots == 3 and [len(a.slots) for a in accounts] == [3, 2]
    _, accounts = _accounts(tmp_path, text, dict(MARGIN_FLAT, slots=3))
    assert accounts.params.slots == 3


def test_record_count_is_the_next_power_of_two(tmp_path):
    rows = "".join(f"c{i},BTC,1,,1\n" for i in range(5))
    _, accounts = _accounts(tmp_path, MH + rows)
    assert len(accounts) == 5 and accounts.params.accounts == 8 and accounts.params.slots == 1


def test_no_margin_accounts(tmp_path):
    _, accounts = _accounts(tmp_path, MH + "amy,BTC,1,,\n")
    assert len(accounts) == 0 and accounts.params.accounts == 1 and accounts.params.slots == 1
    spot = load_ledger(_write(tmp_path, "spot.csv", "customer_id,asset,amount\namy,BTC,1\n"), RESERVES)
    assert len(margin_accounts(spot, _load(tmp_path, MARGIN_FLAT))) == 0


def test_ledger_collateral_type_missing_from_the_margin_file_is_refused(tmp_path):
    text = "customer_id,asset,amount,collateral_margin\namy,BTC,1,1\n"
    error = _raises(_accounts, tmp_path, text)
    assert str(error).startswith("ledger.csv:1: header: column collateral_margin: collateral type 'margin' is not")
    assert error.section == "ledger.csv:1:header"


def test_ledger_types_map_onto_the_margin_file_types(tmp_path):
    document = copy.deepcopy(MARGIN_FLAT)
    document["collateral_types"] = ["loan", "margin", "portfolio_margin"]
    for asset in document["assets"]:
        flat = asset["haircuts"]["loan"]
        asset["haircuts"] = {"loan": flat, "margin": [{"ratio": 50}], "portfolio_margin": [{"ratio": 10}]}
    text = "customer_id,asset,amount,collateral_portfolio_margin,collateral_loan\namy,ETH,10,3,5\n"
    _, accounts = _accounts(tmp_path, text, document)
    (slot,) = accounts.accounts[0].slots
    assert slot.collateral == (500, 0, 300)  # loan, margin, portfolio_margin
    assert slot.haircuts == (80 * 1_750_000, 0, 10 * 1_050_000)


def test_collateral_value_of_2_56_is_refused(tmp_path):
    # q = 0: BTC at 2^56 value units per BTC; 1 BTC pledged is worth exactly 2^56.
    document = copy.deepcopy(MARGIN_FLAT)
    document["value_decimals"] = 0
    document["assets"][0]["price"] = str(MAX_TIER_BOUNDARY)
    document["assets"][0]["haircuts"]["loan"] = [{"ratio": 100}]
    document["assets"][1]["price"] = "3500"
    error = _raises(_accounts, tmp_path, MH + "amy,BTC,1,,1\n", document)
    assert str(error).startswith(f"ledger.csv: customer amy: the loan collateral in BTC is worth {MAX_TIER_BOUNDARY}, ")
    assert "2^56 value units or more" in str(error) and error.section == "ledger.csv:customer amy"
    # One base unit less is worth 2^56 - 1 (rounded down) and passes.
    _, accounts = _accounts(tmp_path, MH + "amy,BTC,1,,0.99999999\n", document)
    assert accounts.accounts[0].slots[0].values == ((MAX_TIER_BOUNDARY * 99_999_999) // 10**8,)


def _wide_round(types: int) -> tuple[Reserves, Any, str]:
    """16 assets of 18 decimals, ``types`` flat 100% types, every collateral value just below 2^56."""
    symbols = [f"A{i:02d}" for i in range(16)]
    reserves = Reserves("E", "R", tuple(AssetSpec(s, 18, 1) for s in symbols))
    names = ["loan", "margin", "portfolio_margin"][:types]
    price = (1 << 63) - 1
    document = {
        "value_decimals": 0,
        "collateral_types": names,
        "slots": 16,
        "assets": [
            {"symbol": s, "price": str(price), "haircuts": {n: [{"ratio": 100}] for n in names}} for s in symbols
        ],
    }
    c = (MAX_TIER_BOUNDARY - 1) * 10**18 // price
    header = "customer_id,asset,amount," + ",".join(f"collateral_{n}" for n in names)
    rows = "".join(
        f"whale,{s},{format_amount(types * c, 18)}," + ",".join([format_amount(c, 18)] * types) + "\n" for s in symbols
    )
    return reserves, document, header + "\n" + rows


def test_an_excess_of_2_128_is_refused(tmp_path):
    reserves, document, text = _wide_round(3)  # 48 values of about 2^56 * 100 * 10^18 > 2^128 in all
    error = _raises(_accounts, tmp_path, text, document, reserves)
    assert str(error).startswith("ledger.csv: customer whale: the haircut collateral value exceeds the debt value")
    assert "by 2^128 or more" in str(error) and error.section == "ledger.csv:customer whale"
    reserves, document, text = _wide_round(2)  # 32 values: below 2^128
    _, accounts = _accounts(tmp_path, text, document, reserves)
    assert 0 < accounts.accounts[0].excess < 1 << 128


# ---------------------------------------------------------------------------
# Synthetic margin ledgers

# gen-ledger's output before issue 11 (numpy as installed): --margin-share 0 must not change a byte.
PINNED = {
    1: ("2d903333422b01d4113616ea20f8ebfda3283fefb43f39f189c96684c395741d",
        "d8a8adc75153bab7404530f850e289651891fb37695b142b148dffc7e2323825"),
    2: ("90da2387b1440bb3e90d3fbb83c031d1e36a9105a25a5454a0b7d996378c3e6a",
        "3d3e7a83d1dbc14c4cc111c032f3dc76580fcb620d46f921409bfa42376b91c3"),
}


@pytest.mark.parametrize("seed", [1, 2])
def test_margin_share_zero_is_byte_identical_to_before(tmp_path, seed):
    paths = generate_ledger(300, ["BTC", "ETH", "USDT", "SOL", "XYZ"], seed, tmp_path, margin_share=0)
    assert tuple(hashlib.sha256(p.read_bytes()).hexdigest() for p in paths) == PINNED[seed]
    assert not (tmp_path / MARGIN_FILE_NAME).exists()


def test_margin_share_zero_removes_a_stale_margin_file(tmp_path):
    generate_ledger(50, ["BTC", "USDT"], 1, tmp_path, margin_share=0.5)
    assert (tmp_path / MARGIN_FILE_NAME).exists()
    generate_ledger(50, ["BTC", "USDT"], 1, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ledger.csv", "reserves.json"]


def _generated(out: Path, customers: int, symbols: list[str], seed: int, share: float):
    ledger_path, reserves_path = generate_ledger(customers, symbols, seed, out, margin_share=share)
    reserves = load_reserves(reserves_path)
    ledger = load_ledger(ledger_path, reserves)
    margin = load_margin_file(out / MARGIN_FILE_NAME, reserves.assets)
    return reserves, ledger, margin, margin_accounts(ledger, margin)


def test_generated_margin_round_looks_like_binance_loans(tmp_path):
    symbols = ["BTC", "ETH", "USDT", "USDC", "SOL", "XYZ"]
    reserves, ledger, margin, accounts = _generated(tmp_path / "m", 2000, symbols, 4, 0.1)
    assert len(accounts) == 200 and ledger.customers == 2000
    assert margin.value_decimals == 2 and margin.collateral_types == ("loan",) and margin.slots is None
    assert all(len(a.haircuts[0]) == 4 for a in margin.assets)
    prices = {a.symbol: a.price for a in margin.assets}
    assert prices["USDT"] == prices["USDC"] == 100
    assert 0.97 * 9_700_000 <= prices["BTC"] <= 1.03 * 9_700_000
    ratios = {a.symbol: [t.ratio for t in a.haircuts[0]] for a in margin.assets}
    assert ratios["XYZ"][-1] < ratios["SOL"][-1] < ratios["BTC"][-1] < ratios["USDT"][-1]  # illiquid: steeper
    for account in accounts:
        debts = [s for s in account.slots if s.debt]
        pledges = [s for s in account.slots if any(s.collateral)]
        assert len(debts) <= 1 and 1 <= len(pledges) <= 2 and 2 <= len(account.slots) <= 3
        assert not any(s.debt and any(s.collateral) for s in account.slots)
    assert sum(1 for a in accounts if sum(1 for s in a.slots if s.debt) == 1) > 190
    # Reserves cover the net liabilities (equity - debt).
    for spec in reserves.assets:
        assert spec.reserves >= ledger.columns[spec.symbol].total() - accounts.debt[spec.symbol]
    # The same customers as the spot-only round of the seed.
    spot_path, _ = generate_ledger(2000, symbols, 4, tmp_path / "s")
    spot = load_ledger(spot_path, load_reserves(tmp_path / "s" / "reserves.json"))
    assert list(spot.customer_ids()) == list(ledger.customer_ids())


def test_margin_generation_is_deterministic(tmp_path):
    for name in ("a", "b"):
        generate_ledger(300, ["BTC", "ETH", "USDT"], 7, tmp_path / name, margin_share=0.3)
    for file in ("ledger.csv", "reserves.json", MARGIN_FILE_NAME):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
    generate_ledger(300, ["BTC", "ETH", "USDT"], 8, tmp_path / "c", margin_share=0.3)
    assert (tmp_path / "a" / "ledger.csv").read_bytes() != (tmp_path / "c" / "ledger.csv").read_bytes()


@settings(max_examples=20, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    customers=st.integers(1, 300),
    seed=st.integers(0, 2**32),
    share=st.floats(0.01, 1.0),
    symbols=st.lists(st.sampled_from(["BTC", "ETH", "USDT", "USDC", "SOL", "XYZ", "ABC"]), min_size=2, max_size=5,
                     unique=True),
)
def test_every_generated_account_passes_the_check(tmp_path_factory, customers, seed, share, symbols):
    out = tmp_path_factory.mktemp("gen")
    _, ledger, _, accounts = _generated(out, customers, symbols, seed, share)
    assert len(accounts) <= round(share * customers)
    assert len(accounts) == len({row.customer_id for row in ledger.margin_rows()})
    assert all(a.excess >= 0 and any(any(s.collateral) for s in a.slots) for a in accounts)


@pytest.mark.parametrize(
    ("share", "symbols", "reason"),
    [(-0.1, ["BTC", "ETH"], "[0, 1]"), (1.5, ["BTC", "ETH"], "[0, 1]"), (float("nan"), ["BTC", "ETH"], "[0, 1]"),
     (0.5, ["BTC"], "at least 2 assets")],
)
def test_synth_rejects_a_bad_margin_share(tmp_path, share, symbols, reason):
    error = _raises(generate_ledger, 10, symbols, 1, tmp_path / "out", margin_share=share)
    assert error.section == "gen-ledger:margin-share" and reason in str(error)
    assert not (tmp_path / "out").exists()


def test_gen_ledger_cli_margin_share(tmp_path):
    runner = CliRunner()
    base = ["gen-ledger", "--customers", "40", "--assets", "BTC,USDT", "--seed", "5", "--out"]
    plain = runner.invoke(app, [*base, str(tmp_path / "plain")])
    zero = runner.invoke(app, [*base, str(tmp_path / "zero"), "--margin-share", "0"])
    assert plain.exit_code == zero.exit_code == EXIT_OK, zero.output
    for file in ("ledger.csv", "reserves.json"):  # wallets.json signatures draw fresh nonces
        assert (tmp_path / "plain" / file).read_bytes() == (tmp_path / "zero" / file).read_bytes()
    assert not (tmp_path / "zero" / MARGIN_FILE_NAME).exists()
    margin = runner.invoke(app, [*base, str(tmp_path / "margin"), "--margin-share", "0.25"])
    assert margin.exit_code == EXIT_OK and MARGIN_FILE_NAME in margin.output
    reserves = load_reserves(tmp_path / "margin" / "reserves.json")
    ledger = load_ledger(tmp_path / "margin" / "ledger.csv", reserves)
    accounts = margin_accounts(ledger, load_margin_file(tmp_path / "margin" / MARGIN_FILE_NAME, reserves.assets))
    assert len(accounts) == 10
    assert runner.invoke(app, [*base, str(tmp_path / "bad"), "--margin-share", "1.5"]).exit_code == EXIT_USAGE
    one = runner.invoke(app, ["gen-ledger", "--customers", "4", "--assets", "BTC", "--out", str(tmp_path / "one"),
                              "--margin-share", "0.5"])
    assert one.exit_code == EXIT_INPUT and "margin-share" in one.output
