"""A bundle and a package written by format version 1 (commit 227c8ac) must keep verifying forever.

``tests/vectors/bundle_v1/`` is a two-asset bundle (BTC: 8 leaves in chunks of 4; ETH: 2 leaves) and
``tests/vectors/package_v1.json`` the package of the customer holding both assets. They were written by
``solvency prove`` before any later change; regenerating them is never allowed (write a new vector
file for a new format version instead).
"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cli.main import app
from verifier.bundle import verify_bundle
from verifier.package import check_package

VECTORS = Path(__file__).parent / "vectors"
BUNDLE = VECTORS / "bundle_v1"
PACKAGE = VECTORS / "package_v1.json"
DIGEST = "2c9288552fd7b2ce4f45236f909b81a0d6747c846b6ce38566d5eede771a15e5"
CUSTOMER = "cust-000003, Jr."


def test_frozen_v1_bundle_verifies() -> None:
    report = verify_bundle(BUNDLE, published_digest=bytes.fromhex(DIGEST))
    assert report.ok
    assert report.bundle_digest == DIGEST
    assert [a.symbol for a in report.assets] == ["BTC", "ETH"]
    assert [a.leaf_count for a in report.assets] == [8, 2]


def test_frozen_v1_package_checks_against_the_bundle() -> None:
    report = check_package(PACKAGE, BUNDLE, customer_id=CUSTOMER, published_digest=bytes.fromhex(DIGEST))
    assert report.ok
    assert [e.asset for e in report.entries] == ["BTC", "ETH"]


def test_frozen_v1_cli_verify_exits_0() -> None:
    result = CliRunner().invoke(app, ["verify", str(BUNDLE), "--digest", DIGEST, "--quiet"])
    assert result.exit_code == 0, result.output
