"""Manifest version 4 and package format 3 (docs/FORMAT.md §14.3, §14.6): round trips and tamper cases.

Every tamper case re-signs the manifest (``bundle_digest``) so that the rule under test, not the
digest, is what refuses it; each refusal is a FormatError naming the field.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from circuits.datafiles import node_proof_record_size, range_record_size
from circuits.errors import FormatError, ParameterError
from circuits.jsonio import canonical_json
from circuits.manifest import (
    BUNDLE_FORMAT_VERSION,
    BUNDLE_FORMAT_VERSION_MARGIN,
    AssetEntry,
    FileEntry,
    Manifest,
    bundle_digest,
)
from circuits.margin import MARGIN_PROOFS_NAME, MARGIN_RECORDS_NAME, AssetMargin, MarginParams, Tier
from circuits.package import (
    PACKAGE_FORMAT_VERSION_MARGIN,
    PACKAGE_FORMAT_VERSION_SUM_TREE,
    CollateralEntry,
    MarginEntry,
    MarginSlotEntry,
    Package,
    SumTreeEntry,
)
from circuits.sumtree import NODE_RECORD_SIZE

H = b"\xab" * 32
IDENTITY = bytes([0xC0]) + bytes(47)
BINANCE = (Tier(1000, 95), Tier(5000, 90), Tier(20000, 70), Tier(None, 40))


def asset_entry(symbol: str, decimals: int, *, margin: bool = True, **changes: Any) -> AssetEntry:
    n, m = 8, 4
    c = n // m
    fields: dict[str, Any] = dict(
        symbol=symbol, decimals=decimals, reserves=1000, num=1, den=1, leaf_count=n, chunk_size=m,
        merkle_root=H, liabilities_commitment=IDENTITY, disclosed_liabilities=None,
        leaves=FileEntry(f"{symbol}.leaves.bin", 16 + 80 * n, H),
        range_proofs=FileEntry(f"{symbol}.rangeproofs.bin", 16 + c * range_record_size(m), H),
        solvency=FileEntry(f"{symbol}.solvency.bin", 16 + 1025, H),
        nodes=FileEntry(f"{symbol}.nodes.bin", 16 + NODE_RECORD_SIZE * (2 * c - 1), H),
        node_proofs=FileEntry(f"{symbol}.nodeproofs.bin", 16 + node_proof_record_size() * (c - 1), H),
    )  # fmt: skip
    if margin:
        fields.update(debt_commitment=IDENTITY, disclosed_debt=None, disclosed_collateral=None)
    fields.update(changes)
    return AssetEntry(**fields)


def margin_params(**changes: Any) -> MarginParams:
    fields: dict[str, Any] = dict(
        value_decimals=2, collateral_types=("loan", "margin"), slots=2, accounts=8,
        assets=(AssetMargin("BTC", 8, 9700000, (BINANCE, (Tier(None, 50),))),
                AssetMargin("ETH", 18, 350000, ((Tier(10**6, 80), Tier(None, 60)), (Tier(None, 90),)))),
    )  # fmt: skip
    fields.update(changes)
    return MarginParams(**fields)


def build(params: MarginParams | None = None, **asset_changes: Any) -> Manifest:
    p = params or margin_params()
    return Manifest.build(
        "Ex", "2026-01", "2026-01-31T00:00:00Z",
        [asset_entry("ETH", 18, **asset_changes), asset_entry("BTC", 8)],
        version=BUNDLE_FORMAT_VERSION_MARGIN, margin=p, margin_root=b"\x5a" * 32,
        margin_records=FileEntry(MARGIN_RECORDS_NAME, p.records_file_size, H),
        margin_proofs=FileEntry(MARGIN_PROOFS_NAME, p.proofs_file_size, H),
    )  # fmt: skip


def test_manifest_v4_round_trip() -> None:
    manifest = build(disclosed_debt=(12, 34), disclosed_collateral=(0, 5))
    data = manifest.to_bytes()
    parsed = Manifest.from_bytes(data)
    assert parsed == manifest and parsed.to_bytes() == data
    assert parsed.version == BUNDLE_FORMAT_VERSION_MARGIN == 4
    assert parsed.margin == margin_params() and parsed.margin_root == b"\x5a" * 32
    assert [a.symbol for a in parsed.assets] == ["BTC", "ETH"]
    assert all(a.has_sum_tree and a.has_margin for a in parsed.assets)
    eth = parsed.assets[1]
    assert (eth.debt_commitment, eth.disclosed_debt, eth.disclosed_collateral) == (IDENTITY, (12, 34), (0, 5))
    obj = manifest.to_json()
    m = obj["margin"]
    assert m["tiers"] == 4 and m["params_sha256"] == margin_params().digest().hex() and m["root"] == "5a" * 32
    assert m["assets"][0] == {
        "symbol": "BTC", "price": "9700000",
        "haircuts": {"loan": [{"up_to": "1000", "ratio": 95}, {"up_to": "5000", "ratio": 90},
                              {"up_to": "20000", "ratio": 70}, {"up_to": None, "ratio": 40}],
                     "margin": [{"up_to": None, "ratio": 50}]},
    }  # fmt: skip
    assert m["files"]["records"]["size"] == 16 + 8 * (32 + 2 * (6 + 96 + 96 * 2) + 48)
    assert m["files"]["proofs"]["size"] == 16 + margin_params().groups * margin_params().proofs_record_size
    assert obj["assets"][1]["disclosed_debt"] == {"amount": "12", "blinding": (34).to_bytes(32, "little").hex()}


def test_version_3_is_unchanged() -> None:
    v3 = Manifest.build("Ex", "2026-01", "2026-01-31T00:00:00Z", [asset_entry("BTC", 8, margin=False)],
                        version=BUNDLE_FORMAT_VERSION)  # fmt: skip
    obj = v3.to_json()
    assert "margin" not in obj and "debt_commitment" not in obj["assets"][0]
    assert Manifest.from_bytes(v3.to_bytes()) == v3
    # a v3 manifest with a margin section, or v3 asset keys of v4, is refused
    body = {k: v for k, v in obj.items() if k != "bundle_digest"}
    assert _refused({**body, "margin": build().to_json()["margin"]}) == "manifest"
    asset = {**body["assets"][0], "debt_commitment": IDENTITY.hex()}
    assert _refused({**body, "assets": [asset]}) == "manifest.assets[0]"


def test_build_refuses_inconsistent_sections() -> None:
    p = margin_params()
    files = dict(margin_records=FileEntry(MARGIN_RECORDS_NAME, p.records_file_size, H),
                 margin_proofs=FileEntry(MARGIN_PROOFS_NAME, p.proofs_file_size, H))  # fmt: skip
    assets = [asset_entry("BTC", 8), asset_entry("ETH", 18)]
    with pytest.raises(ParameterError):  # no margin section
        Manifest.build("Ex", "r", "2026-01-31T00:00:00Z", assets, version=4)
    with pytest.raises(ParameterError):  # a margin section in version 3
        Manifest.build("Ex", "r", "2026-01-31T00:00:00Z", [asset_entry("BTC", 8, margin=False)], version=3,
                       margin=p, margin_root=H, **files)  # fmt: skip
    with pytest.raises(ParameterError):  # an asset without its debt commitment
        Manifest.build("Ex", "r", "2026-01-31T00:00:00Z", [asset_entry("BTC", 8), asset_entry("ETH", 18, margin=False)],
                       version=4, margin=p, margin_root=H, **files)  # fmt: skip
    with pytest.raises(ParameterError):  # decimals differ from the margin parameters'
        Manifest.build("Ex", "r", "2026-01-31T00:00:00Z", [asset_entry("BTC", 8), asset_entry("ETH", 17)],
                       version=4, margin=p, margin_root=H, **files)  # fmt: skip
    with pytest.raises(ParameterError):  # wrong file size
        Manifest.build("Ex", "r", "2026-01-31T00:00:00Z", assets, version=4, margin=p, margin_root=H,
                       margin_records=FileEntry(MARGIN_RECORDS_NAME, 16, H), margin_proofs=files["margin_proofs"])


def _bytes_of(body: dict[str, Any]) -> bytes:
    body = {k: v for k, v in body.items() if k != "bundle_digest"}
    return canonical_json({**body, "bundle_digest": bundle_digest(body).hex()}) + b"\n"


def _refused(body: dict[str, Any]) -> str | None:
    try:
        Manifest.from_bytes(_bytes_of(body))
    except FormatError as exc:
        assert type(exc) is FormatError
        return exc.section
    return None


def _resign_params(obj: dict[str, Any]) -> None:
    """Recompute ``params_sha256`` from the (tampered) margin object, so that the rule under test refuses it."""
    decimals = {a["symbol"]: a["decimals"] for a in obj["assets"]}
    try:
        m = obj["margin"]
        types = tuple(m["collateral_types"])
        p = MarginParams(
            value_decimals=m["value_decimals"], collateral_types=types, slots=m["slots"], accounts=m["accounts"],
            assets=tuple(
                AssetMargin(a["symbol"], decimals.get(a["symbol"], 0), int(a["price"]), tuple(
                    tuple(Tier(None if t["up_to"] is None else int(t["up_to"]), t["ratio"]) for t in a["haircuts"][k])
                    for k in types))
                for a in m["assets"]),
        )  # fmt: skip
    except (ParameterError, KeyError, ValueError, TypeError):
        return
    m["params_sha256"] = p.digest().hex()


Tamper = Callable[[dict[str, Any]], object]

TAMPERS: list[tuple[str, Tamper, str]] = [
    ("no margin", lambda o: o.pop("margin"), "manifest.margin"),
    ("extra key", lambda o: o["margin"].update(extra=1), "manifest.margin"),
    ("digest", lambda o: o["margin"].update(params_sha256="00" * 32), "manifest.margin.params_sha256"),
    ("tiers", lambda o: o["margin"].update(tiers=3), "manifest.margin.tiers"),
    ("accounts", lambda o: o["margin"].update(accounts=6), "manifest.margin.accounts"),
    ("accounts big", lambda o: o["margin"].update(accounts=1 << 25), "manifest.margin.accounts"),
    ("slots", lambda o: o["margin"].update(slots=3), "manifest.margin.slots"),
    ("slots 0", lambda o: o["margin"].update(slots=0), "manifest.margin.slots"),
    ("q", lambda o: o["margin"].update(value_decimals=19), "manifest.margin.value_decimals"),
    ("types order", lambda o: o["margin"].update(collateral_types=["margin", "loan"]),
     "manifest.margin.collateral_types"),
    ("type name", lambda o: o["margin"].update(collateral_types=["Loan", "margin"]),
     "manifest.margin.collateral_types[0]"),
    ("root", lambda o: o["margin"].update(root="00"), "manifest.margin.root"),
    ("asset order", lambda o: o["margin"]["assets"].reverse(), "manifest.margin.assets[0].symbol"),
    ("asset missing", lambda o: o["margin"]["assets"].pop(), "manifest.margin.assets"),
    ("price 0", lambda o: o["margin"]["assets"][0].update(price="0"), "manifest.margin.assets[0].price"),
    ("price big", lambda o: o["margin"]["assets"][0].update(price=str(1 << 64)), "manifest.margin.assets[0].price"),
    ("price int", lambda o: o["margin"]["assets"][0].update(price=5), "manifest.margin.assets[0].price"),
    ("price changed", lambda o: o["margin"]["assets"][0].update(price="9700001"), "manifest.margin.params_sha256"),
    ("haircut key", lambda o: o["margin"]["assets"][0]["haircuts"].update(portfolio_margin=[]),
     "manifest.margin.assets[0].haircuts"),
    ("haircut missing", lambda o: o["margin"]["assets"][0]["haircuts"].pop("margin"),
     "manifest.margin.assets[0].haircuts.margin"),
    ("no tiers", lambda o: o["margin"]["assets"][0]["haircuts"].update(margin=[]),
     "manifest.margin.assets[0].haircuts.margin"),
    ("last bounded", lambda o: o["margin"]["assets"][0]["haircuts"]["loan"][3].update(up_to="30000"),
     "manifest.margin.assets[0].haircuts.loan[3].up_to"),
    ("middle null", lambda o: o["margin"]["assets"][0]["haircuts"]["loan"][1].update(up_to=None),
     "manifest.margin.assets[0].haircuts.loan[1].up_to"),
    ("unsorted", lambda o: o["margin"]["assets"][0]["haircuts"]["loan"][1].update(up_to="1000"),
     "manifest.margin.assets[0].haircuts.loan[1].up_to"),
    ("bound 0", lambda o: o["margin"]["assets"][0]["haircuts"]["loan"][0].update(up_to="0"),
     "manifest.margin.assets[0].haircuts.loan[0].up_to"),
    ("bound big", lambda o: o["margin"]["assets"][0]["haircuts"]["loan"][2].update(up_to=str(1 << 56)),
     "manifest.margin.assets[0].haircuts.loan[2].up_to"),
    ("ratio up", lambda o: o["margin"]["assets"][0]["haircuts"]["loan"][1].update(ratio=96),
     "manifest.margin.assets[0].haircuts.loan[1].ratio"),
    ("ratio 101", lambda o: o["margin"]["assets"][0]["haircuts"]["margin"][0].update(ratio=101),
     "manifest.margin.assets[0].haircuts.margin[0].ratio"),
    ("tier key", lambda o: o["margin"]["assets"][0]["haircuts"]["margin"][0].update(x=1),
     "manifest.margin.assets[0].haircuts.margin[0]"),
    ("records size", lambda o: o["margin"]["files"]["records"].update(size=17), "manifest.margin.files.records.size"),
    ("proofs size", lambda o: o["margin"]["files"]["proofs"].update(size=17), "manifest.margin.files.proofs.size"),
    ("records name", lambda o: o["margin"]["files"]["records"].update(name="x.bin"),
     "manifest.margin.files.records.name"),
    ("files key", lambda o: o["margin"]["files"].update(extra={}), "manifest.margin.files"),
    ("debt missing", lambda o: o["assets"][0].pop("debt_commitment"), "manifest.assets[0].debt_commitment"),
    ("debt short", lambda o: o["assets"][0].update(debt_commitment="c0"), "manifest.assets[0].debt_commitment"),
    ("disclosed debt", lambda o: o["assets"][0].update(disclosed_debt={"amount": str(1 << 96), "blinding": "00" * 32}),
     "manifest.assets[0].disclosed_debt.amount"),
    ("disclosed collateral",
     lambda o: o["assets"][1].update(disclosed_collateral={"amount": "1", "blinding": "ff" * 32}),
     "manifest.assets[1].disclosed_collateral.blinding"),
    ("collateral missing", lambda o: o["assets"][1].pop("disclosed_collateral"),
     "manifest.assets[1].disclosed_collateral"),
    ("decimals 19", lambda o: o["assets"][1].update(decimals=19), "manifest.assets[1].decimals"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "tamper", "section"), TAMPERS, ids=[t[0] for t in TAMPERS])
def test_manifest_v4_tamper(name: str, tamper: Tamper, section: str) -> None:
    obj = copy.deepcopy(build().to_json())
    tamper(obj)
    if name not in ("digest", "price changed"):
        _resign_params(obj)
    assert _refused(obj) == section


def test_manifest_v4_accepts_what_the_rules_allow() -> None:
    obj = copy.deepcopy(build().to_json())
    obj["assets"][0]["disclosed_debt"] = {"amount": str((1 << 96) - 1), "blinding": "00" * 32}
    obj["margin"]["assets"][0]["haircuts"]["loan"][2]["up_to"] = str((1 << 56) - 1)
    obj["margin"]["assets"][1]["price"] = str((1 << 64) - 1)
    _resign_params(obj)
    assert _refused(obj) is None
    assert hashlib.sha256(b"").digest() != bytes.fromhex(obj["margin"]["params_sha256"])


# ---------------------------------------------------------------------------
# Package format 3 (§14.6)


def tree_entry(asset: str, leaf_index: int, amount: int = 5) -> SumTreeEntry:
    return SumTreeEntry(
        asset=asset, decimals=8, amount=amount, blinding=3, leaf_salt=H, leaf_id=H, leaf_index=leaf_index,
        leaf_count=8, chunk_size=8, merkle_root=H, liabilities_commitment=IDENTITY, chunk_path=(H,) * 3,
        node_path=(),
    )  # fmt: skip


def collateral(kind: str, amount: int = 2, value: int = 190, haircut: int = 18050) -> CollateralEntry:
    return CollateralEntry(kind, amount, value, 11, haircut, 12)


def margin_entry(**changes: Any) -> MarginEntry:
    fields: dict[str, Any] = dict(
        record_index=5, record_count=8, record_id=b"\x01" * 32, margin_salt=b"\x02" * 32, merkle_path=(H,) * 3,
        slots=(
            MarginSlotEntry("BTC", 3, False, 7, 8, 3, 9, (collateral("loan"), collateral("margin", 0, 0, 0))),
            MarginSlotEntry("ETH", 6, True, 0, 8, 0, 9, (collateral("loan", 0, 0, 0), collateral("margin", 0, 0, 0))),
        ),
        lo=123, lo_blinding=45,
    )  # fmt: skip
    fields.update(changes)
    return MarginEntry(**fields)


def package(margin: MarginEntry | None = None, version: int = PACKAGE_FORMAT_VERSION_MARGIN) -> Package:
    return Package("Ex", "2026-01", H, "alice", (tree_entry("BTC", 3),), version, margin)


def test_package_format_3_round_trip() -> None:
    for p in (package(margin_entry()), package(None)):
        data = p.to_bytes()
        parsed = Package.from_bytes(data)
        assert parsed == p and parsed.to_bytes() == data and parsed.format_version == 3
    obj = package(margin_entry()).to_json()
    assert obj["margin"]["slots"][0] == {
        "asset": "BTC", "leaf_index": 3, "dummy": False, "debt": "7", "debt_blinding": (8).to_bytes(32, "little").hex(),
        "unpledged": "3", "unpledged_blinding": (9).to_bytes(32, "little").hex(),
        "collateral": [
            {"type": "loan", "amount": "2", "value": "190", "value_blinding": (11).to_bytes(32, "little").hex(),
             "haircut": "18050", "haircut_blinding": (12).to_bytes(32, "little").hex()},
            {"type": "margin", "amount": "0", "value": "0", "value_blinding": (11).to_bytes(32, "little").hex(),
             "haircut": "0", "haircut_blinding": (12).to_bytes(32, "little").hex()},
        ],
    }  # fmt: skip
    assert package(None).to_json()["margin"] is None
    m = margin_entry()
    assert m.collateral_types == ("loan", "margin") and m.lo_opening().v == 123
    amounts, blindings = m.slots[0].amounts(0, 5), m.slots[0].blindings()
    assert (amounts.equity, amounts.debt, amounts.unpledged, amounts.collateral, amounts.values) == (
        5, 7, 3, (2, 0), (190, 0)
    )
    assert (blindings.d, blindings.w, blindings.v, blindings.h) == (8, 9, (11, 11), (12, 12))
    for secret in (m, m.slots[0], m.slots[0].collateral[0]):
        assert "<secret>" in repr(secret) and "18050" not in repr(secret)


def test_package_format_2_is_unchanged() -> None:
    v2 = package(None, PACKAGE_FORMAT_VERSION_SUM_TREE)
    assert "margin" not in v2.to_json()
    assert Package.from_bytes(v2.to_bytes()) == v2
    assert _package_refused({**v2.to_json(), "margin": None}) == "package"
    with pytest.raises(ParameterError):
        package(margin_entry(), PACKAGE_FORMAT_VERSION_SUM_TREE)


def _package_refused(obj: dict[str, Any]) -> str | None:
    try:
        Package.from_bytes(canonical_json(obj))
    except FormatError as exc:
        assert type(exc) is FormatError
        return exc.section
    return None


PACKAGE_TAMPERS: list[tuple[str, Tamper, str]] = [
    ("margin missing", lambda o: o.pop("margin"), "package.margin"),
    ("margin key", lambda o: o["margin"].update(x=1), "package.margin"),
    ("count", lambda o: o["margin"].update(record_count=6), "package.margin.record_count"),
    ("count big", lambda o: o["margin"].update(record_count=1 << 25), "package.margin.record_count"),
    ("index", lambda o: o["margin"].update(record_index=8), "package.margin.record_index"),
    ("id", lambda o: o["margin"].update(record_id="00"), "package.margin.record_id"),
    ("salt", lambda o: o["margin"].update(margin_salt="AB" * 32), "package.margin.margin_salt"),
    ("path short", lambda o: o["margin"]["merkle_path"].pop(), "package.margin.merkle_path"),
    ("path item", lambda o: o["margin"]["merkle_path"].__setitem__(0, "x"), "package.margin.merkle_path[0]"),
    ("no slots", lambda o: o["margin"].update(slots=[]), "package.margin.slots"),
    ("slot order", lambda o: o["margin"]["slots"].reverse(), "package.margin.slots"),
    ("slot twice", lambda o: o["margin"]["slots"].__setitem__(1, o["margin"]["slots"][0]), "package.margin.slots"),
    ("real slot not held", lambda o: o["margin"]["slots"][0].update(leaf_index=4), "package.margin.slots[0]"),
    ("dummy not zero", lambda o: o["margin"]["slots"][1].update(debt="1"), "package.margin.slots[1]"),
    ("dummy collateral", lambda o: o["margin"]["slots"][1]["collateral"][0].update(haircut="1"),
     "package.margin.slots[1]"),
    ("dummy flag", lambda o: o["margin"]["slots"][0].update(dummy=0), "package.margin.slots[0].dummy"),
    ("debt big", lambda o: o["margin"]["slots"][0].update(debt=str(1 << 64)), "package.margin.slots[0].debt"),
    ("blinding", lambda o: o["margin"]["slots"][0].update(debt_blinding="ff" * 32),
     "package.margin.slots[0].debt_blinding"),
    ("unpledged", lambda o: o["margin"]["slots"][0].update(unpledged="-1"), "package.margin.slots[0].unpledged"),
    ("leaf index", lambda o: o["margin"]["slots"][0].update(leaf_index=-1), "package.margin.slots[0].leaf_index"),
    ("types order", lambda o: o["margin"]["slots"][0]["collateral"].reverse(), "package.margin.slots[0].collateral"),
    ("types differ", lambda o: o["margin"]["slots"][1]["collateral"].pop(), "package.margin.slots[1].collateral"),
    ("no collateral", lambda o: o["margin"]["slots"][0].update(collateral=[]), "package.margin.slots[0].collateral"),
    ("type name", lambda o: o["margin"]["slots"][0]["collateral"][0].update(type="Loan"),
     "package.margin.slots[0].collateral[0].type"),
    ("value big", lambda o: o["margin"]["slots"][0]["collateral"][0].update(value=str(1 << 64)),
     "package.margin.slots[0].collateral[0].value"),
    ("haircut big", lambda o: o["margin"]["slots"][0]["collateral"][0].update(haircut=str(1 << 72)),
     "package.margin.slots[0].collateral[0].haircut"),
    ("collateral key", lambda o: o["margin"]["slots"][0]["collateral"][0].update(x=1),
     "package.margin.slots[0].collateral[0]"),
    ("lo", lambda o: o["margin"].update(lo=str(1 << 64)), "package.margin.lo"),
    ("lo blinding", lambda o: o["margin"].update(lo_blinding="00"), "package.margin.lo_blinding"),
    ("version", lambda o: o.update(format_version=4), "package.format_version"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "tamper", "section"), PACKAGE_TAMPERS, ids=[t[0] for t in PACKAGE_TAMPERS])
def test_package_format_3_tamper(name: str, tamper: Tamper, section: str) -> None:
    obj = copy.deepcopy(package(margin_entry()).to_json())
    tamper(obj)
    assert _package_refused(obj) == section


def test_package_format_3_bounds() -> None:
    obj = copy.deepcopy(package(margin_entry()).to_json())
    obj["margin"]["slots"][0]["collateral"][0]["haircut"] = str((1 << 72) - 1)
    obj["margin"]["record_count"], obj["margin"]["record_index"], obj["margin"]["merkle_path"] = 1, 0, []
    assert _package_refused(obj) is None
