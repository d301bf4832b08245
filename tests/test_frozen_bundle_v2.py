"""A format version 2 bundle (reserves from a signed wallet list) and a package that must keep verifying.

``tests/vectors/bundle_v2/`` was written by ``solvency prove --wallets`` when version 2 was introduced
(issue 9): BTC (6 wallets: P2WPKH and P2TR with BIP-322, P2PKH and P2SH-P2WPKH with BIP-137, 2-of-3 P2WSH
and P2SH multisig) and ETH (3 Ethereum accounts, EIP-191), on Bitcoin regtest and the local chain
eip155:31337. ``tests/vectors/package_v2.json`` is the package of a customer holding both assets.
Regenerating them is never allowed; a new format version gets new vector files.
"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from circuits.wallets import WalletList, check_wallets
from cli.main import app
from verifier.bundle import verify_bundle
from verifier.package import check_package

VECTORS = Path(__file__).parent / "vectors"
BUNDLE = VECTORS / "bundle_v2"
PACKAGE = VECTORS / "package_v2.json"
DIGEST = "a941cea421115f847932ea75d4754d546645158f51523143eab19de9ad180cdb"
CUSTOMER = "cust-000000 Zo\u00eb \u00c5str\u00f6m"


def test_frozen_v2_bundle_verifies() -> None:
    report = verify_bundle(BUNDLE, published_digest=bytes.fromhex(DIGEST))
    assert report.ok and report.format_version == 2
    assert [a.symbol for a in report.assets] == ["BTC", "ETH"]
    assert [a.wallet_count for a in report.assets] == [6, 3]
    assert all(a.reserves == a.reserves_verified and a.reserves_basis == "wallets" for a in report.assets)


def test_frozen_v2_wallet_list_decodes_and_every_proof_holds() -> None:
    data = (BUNDLE / "wallets.json").read_bytes()
    wallets = WalletList.from_bytes(data)
    assert wallets.to_bytes() == data
    check = check_wallets(wallets)
    assert check.ok
    assert {dict(w.proof)["type"] for w in wallets.wallets} == {"bip137", "bip322", "multisig", "eip191"}


def test_frozen_v2_package_checks_against_the_bundle() -> None:
    report = check_package(PACKAGE, BUNDLE, customer_id=CUSTOMER, published_digest=bytes.fromhex(DIGEST))
    assert report.ok
    assert [e.asset for e in report.entries] == ["BTC", "ETH"]


def test_frozen_v2_cli_verify_exits_0() -> None:
    result = CliRunner().invoke(app, ["verify", str(BUNDLE), "--digest", DIGEST, "--quiet"])
    assert result.exit_code == 0, result.output


def test_frozen_v2_inspect_lists_the_wallet_list(tmp_path: Path) -> None:
    import json
    import shutil

    result = CliRunner().invoke(app, ["inspect", str(BUNDLE), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["format_version"] == 2 and summary["wallets"]["digest_ok"] and summary["files_ok"]
    assert [a["reserves_basis"] for a in summary["assets"]] == ["wallets", "wallets"]
    copy = tmp_path / "b"
    shutil.copytree(BUNDLE, copy)
    data = bytearray((copy / "wallets.json").read_bytes())
    data[10] ^= 1
    (copy / "wallets.json").write_bytes(bytes(data))
    tampered = CliRunner().invoke(app, ["inspect", str(copy), "--json"])
    assert tampered.exit_code == 3
    assert "wallets.json" in tampered.stderr
