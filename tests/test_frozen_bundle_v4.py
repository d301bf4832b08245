"""A format version 4 bundle (margin accounts) and a version-3 package that must keep verifying forever.

``tests/vectors/bundle_v4/`` was written by the independent test writer ``bundle_factory.make_margin_bundle``
(``seed = b"frozen bundle v4"``, inputs :func:`frozen_inputs`) when the verifier of format 4 was introduced:
BTC (8 decimals) and ETH (18 decimals), declared reserves, chunks of 2; two collateral types (``loan``,
``margin``) with tiered schedules (``T_max = 3``), ``S = 2`` slots, two margin accounts padded to ``M = 4``
records (two dummy accounts), so ``Q = 24`` values per account and one group of ``G = 4`` accounts
(96 values) in parts of 64 and 32.
``tests/vectors/package_v4.json`` is the package (format version 3) of the margin customer
``cust-000001 Zoë``: she owes 0.02 BTC and pledges 1 ETH of her 1.5 (0.6 as ``loan``, 0.4 as ``margin``).
Regenerating them is never allowed; a new format version gets new vector files. (The one regeneration
happened before format 4 was released: while its issue was still open, its proofs went from one record
per account to one per group of ``G`` accounts; only ``margin.proofs.bin``, the manifest and the
package's digest changed.)
"""

from __future__ import annotations

import json
from pathlib import Path

from bundle_factory import AccountSpec, AssetSpec, MarginAssetSpec, MarginSpec, SlotSpec
from typer.testing import CliRunner

from cli.main import app
from verifier.bundle import verify_bundle
from verifier.package import check_package

VECTORS = Path(__file__).parent / "vectors"
BUNDLE = VECTORS / "bundle_v4"
PACKAGE = VECTORS / "package_v4.json"
DIGEST = "9eb06824dcfddb04ce3539acbd063304868dcd4430997919f23a8042cb2020f6"
CUSTOMER = "cust-000001 Zo\u00eb"
SEED = b"frozen bundle v4"


def frozen_inputs() -> tuple[list[AssetSpec], MarginSpec]:
    """The inputs the vector was written from (``make_margin_bundle(dir, *frozen_inputs(), seed=SEED)``)."""
    btc, eth = 10**8, 10**18
    assets = [
        AssetSpec("BTC", {CUSTOMER: 0, "cust-000002": btc // 2, "cust-000003": 12 * btc // 10}, 17 * btc // 10,
                  decimals=8, chunk=2),
        AssetSpec("ETH", {CUSTOMER: 15 * eth // 10, "cust-000004": 3 * eth}, 45 * eth // 10, decimals=18, chunk=2),
    ]
    margin = MarginSpec(
        2, ["loan", "margin"],
        [
            MarginAssetSpec("BTC", 9_700_000, {"loan": [(50_000_000, 95), (None, 90)], "margin": [(None, 85)]}),
            MarginAssetSpec("ETH", 300_000, {"loan": [(100_000, 90), (500_000, 80), (None, 70)],
                                             "margin": [(None, 75)]}),
        ],
        [
            AccountSpec(CUSTOMER, [SlotSpec("BTC", debt=2 * btc // 100),
                                   SlotSpec("ETH", collateral={"loan": 6 * eth // 10, "margin": 4 * eth // 10})]),
            AccountSpec("cust-000002", [SlotSpec("BTC", collateral={"margin": 3 * btc // 10}),
                                        SlotSpec("ETH", debt=eth // 10)]),
        ],
        accounts_padded=4,
    )
    return assets, margin


def test_frozen_v4_bundle_verifies() -> None:
    report = verify_bundle(BUNDLE, published_digest=bytes.fromhex(DIGEST))
    assert report.ok and report.format_version == 4
    assert [a.symbol for a in report.assets] == ["BTC", "ETH"]
    manifest = json.loads((BUNDLE / "manifest.json").read_bytes())
    margin = manifest["margin"]
    assert (margin["accounts"], margin["slots"], margin["tiers"], margin["collateral_types"]) == (
        4, 2, 3, ["loan", "margin"]
    )


def test_frozen_v4_package_checks_against_the_bundle() -> None:
    report = check_package(PACKAGE, BUNDLE, customer_id=CUSTOMER, published_digest=bytes.fromhex(DIGEST))
    assert report.status == "pass" and report.package_format_version == 3
    package = json.loads(PACKAGE.read_bytes())
    assert [s["asset"] for s in package["margin"]["slots"]] == ["BTC", "ETH"]
    assert package["margin"]["slots"][0]["debt"] == str(2 * 10**6)


def test_frozen_v4_cli_verify_and_check_exit_0() -> None:
    verify = CliRunner().invoke(app, ["verify", str(BUNDLE), "--digest", DIGEST, "--quiet"])
    assert verify.exit_code == 0, verify.output
    check = CliRunner().invoke(
        app, ["check", str(PACKAGE), "--bundle", str(BUNDLE), "--digest", DIGEST, "--customer-id", CUSTOMER, "--json"]
    )
    assert check.exit_code == 0, check.output
