"""A format version 3 bundle (the Merkle sum tree) and a version-2 package that must keep verifying forever.

``tests/vectors/bundle_v3/`` was written by the independent test writer
``bundle_factory.make_tree_bundle`` (seed ``b"frozen bundle v3"``) when the verifier of format 3 was
introduced: BTC (10 leaves in 5 chunks of 2: a tree whose shape is not a perfect one, 4 node proofs)
and ETH (3 leaves in chunks of 1, ratio 21/20), declared reserves, no wallet list.
``tests/vectors/package_v3.json`` is the package (format version 2) of the customer holding both
assets; their BTC leaf is in the last chunk (a path of one sum node), their ETH leaf in the middle one.
Regenerating them is never allowed; a new format version gets new vector files.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app
from verifier.bundle import verify_bundle
from verifier.package import check_package

VECTORS = Path(__file__).parent / "vectors"
BUNDLE = VECTORS / "bundle_v3"
PACKAGE = VECTORS / "package_v3.json"
DIGEST = "cea7b6e14468592d5674afb6ef36a9476f39c9e44b9d122b982f26a3f43f12f4"
CUSTOMER = "cust-000001 Zo\u00eb"


def test_frozen_v3_bundle_verifies() -> None:
    report = verify_bundle(BUNDLE, published_digest=bytes.fromhex(DIGEST))
    assert report.ok and report.format_version == 3
    assert [a.symbol for a in report.assets] == ["BTC", "ETH"]
    assert [(a.leaf_count, a.chunk_count) for a in report.assets] == [(10, 5), (3, 3)]
    assert all(a.sum_tree and a.nodes_ok and a.node_proofs_ok for a in report.assets)
    assert [a.reserves_basis for a in report.assets] == ["declared", "declared"]


def test_frozen_v3_package_checks_against_the_bundle() -> None:
    report = check_package(PACKAGE, BUNDLE, customer_id=CUSTOMER, published_digest=bytes.fromhex(DIGEST))
    assert report.status == "pass" and report.scope == "sum-tree" and report.package_format_version == 2
    assert [(e.asset, e.leaf_index) for e in report.entries] == [("BTC", 9), ("ETH", 1)]


def test_frozen_v3_cli_verify_and_check_exit_0() -> None:
    verify = CliRunner().invoke(app, ["verify", str(BUNDLE), "--digest", DIGEST, "--quiet"])
    assert verify.exit_code == 0, verify.output
    check = CliRunner().invoke(
        app, ["check", str(PACKAGE), "--bundle", str(BUNDLE), "--digest", DIGEST, "--customer-id", CUSTOMER, "--json"]
    )
    assert check.exit_code == 0, check.output
    assert json.loads(check.stdout)["sum_tree_checked"]


def test_frozen_v3_inspect_lists_the_sum_tree_files() -> None:
    result = CliRunner().invoke(app, ["inspect", str(BUNDLE), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["format_version"] == 3 and summary["files_ok"]
    assert [f["role"] for f in summary["assets"][0]["files"]][3:] == ["nodes", "node_proofs"]
