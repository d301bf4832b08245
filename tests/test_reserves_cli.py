"""Proof of reserves through the CLI: gen-ledger, reserves message, reserves sign, prove --wallets, verify, check.

Issue 9, "End to end": the wallets an exchange signs decide the verdict. Every command
runs in-process against ``cli.main.app``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from circuits.control import control_message
from circuits.wallets import WalletList
from cli.exit_codes import EXIT_INPUT, EXIT_OK, EXIT_USAGE, EXIT_VERIFICATION
from cli.main import app

runner = CliRunner()


def solvency(*args: object) -> Result:
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("cli-reserves")
    assert solvency("gen-ledger", "--out", work, "--customers", 20, "--seed", 11).exit_code == EXIT_OK
    assert solvency("keygen", work / "master.key").exit_code == EXIT_OK
    # An unsigned copy of the generated list: what an exchange exports before signing.
    doc = json.loads((work / "wallets.json").read_text())
    for w in doc["wallets"]:
        w["proof"] = {k: v for k, v in w["proof"].items() if k not in ("signature", "signatures")}
    (work / "unsigned.json").write_text(json.dumps(doc, indent=1))
    return {"work": work, "doc": doc}


def test_gen_ledger_writes_signed_wallets_and_private_keys(flow: dict[str, Any]) -> None:
    work = flow["work"]
    assert (work / "wallet-keys.json").stat().st_mode & 0o777 == 0o600
    wl = WalletList.parse(json.loads((work / "wallets.json").read_text()), "wallets", signed=True, normalize=True)
    assert {dict(w.proof)["type"] for w in wl.wallets} == {"bip137", "bip322", "multisig", "eip191"}


def test_reserves_message_prints_the_exact_bytes_to_sign(flow: dict[str, Any]) -> None:
    work, doc = flow["work"], flow["doc"]
    w = doc["wallets"][0]
    snapshot = next(c for c in doc["chains"] if c["chain"] == w["chain"])
    result = solvency("reserves", "message", "--wallets", work / "unsigned.json", "--address", w["address"])
    assert result.exit_code == EXIT_OK, result.output
    expected = control_message(doc["exchange"], doc["round"], w["chain"], snapshot["height"],
                               snapshot["block_hash"], w["address"])
    assert result.stdout.encode() == expected
    listing = solvency("reserves", "message", "--wallets", work / "unsigned.json", "--json")
    assert listing.exit_code == EXIT_OK
    messages = json.loads(listing.stdout)["messages"]
    assert len(messages) == len({(x["chain"], x["address"]) for x in doc["wallets"]})
    missing = solvency("reserves", "message", "--wallets", work / "unsigned.json", "--address", "bc1qnothere")
    assert missing.exit_code == EXIT_INPUT


def test_sign_then_prove_then_verify(flow: dict[str, Any]) -> None:
    work = flow["work"]
    signed = solvency("reserves", "sign", "--wallets", work / "unsigned.json", "--keys", work / "wallet-keys.json",
                      "--out", work / "signed.json")
    assert signed.exit_code == EXIT_OK, signed.output
    again = solvency("reserves", "sign", "--wallets", work / "unsigned.json", "--keys", work / "wallet-keys.json",
                     "--out", work / "signed.json")
    assert again.exit_code == EXIT_INPUT  # never overwrites
    proved = solvency("prove", "--ledger", work / "ledger.csv", "--wallets", work / "signed.json",
                      "--packages-format", "dir", "--secret",
                      work / "master.key", "--out", work / "bundle", "--packages", work / "pkg", "--quiet",
                      "--chunk", 8)
    assert proved.exit_code == EXIT_OK, proved.output
    verified = solvency("verify", work / "bundle", "--quiet")
    assert verified.exit_code == EXIT_OK, verified.output
    text = " ".join(verified.stdout.split())
    assert "solvent against reserves held in wallets the exchange proved it controls" in text
    assert "balances as stated by the exchange" in text and "borrowed" in text
    as_json = json.loads(solvency("verify", work / "bundle", "--json").stdout)
    assert as_json["status"] == "pass" and as_json["format_version"] == 3
    for a in as_json["assets"]:
        assert a["reserves_basis"] == "wallets" and a["reserves_ok"] and a["wallet_count"] >= 1
        assert a["reserves"] == a["reserves_verified"]
    with open(work / "pkg" / "index.csv", encoding="utf-8", newline="") as index:
        _, package = list(csv.reader(index))[1]
    check = solvency("check", work / "pkg" / package, "--bundle", work / "bundle", "--json")
    claims = json.loads(check.stdout)
    assert check.exit_code == EXIT_OK, check.output
    assert any(c["key"] == "reserves_wallets" and c["proven"] for c in claims["claims"])


def test_prove_needs_exactly_one_reserves_source(flow: dict[str, Any], tmp_path: Path) -> None:
    work = flow["work"]
    both = solvency("prove", "--ledger", work / "ledger.csv", "--wallets", work / "wallets.json",
                    "--packages-format", "dir", "--reserves",
                    work / "reserves.json", "--secret", work / "master.key", "--out", tmp_path / "b",
                    "--packages", tmp_path / "p")
    neither = solvency("prove", "--ledger", work / "ledger.csv", "--secret", work / "master.key",
                       "--packages-format", "dir", "--out",
                       tmp_path / "b", "--packages", tmp_path / "p")
    assert both.exit_code == neither.exit_code == EXIT_USAGE


def test_unsigned_wallets_are_refused_at_prove_time(flow: dict[str, Any], tmp_path: Path) -> None:
    work = flow["work"]
    result = solvency("prove", "--ledger", work / "ledger.csv", "--wallets", work / "unsigned.json",
                      "--packages-format", "dir", "--secret",
                      work / "master.key", "--out", tmp_path / "b", "--packages", tmp_path / "p", "--quiet")
    assert result.exit_code == EXIT_INPUT
    assert "unsigned.json: line " in result.stderr and "signature" in result.stderr
    assert not (tmp_path / "b").exists() and not (tmp_path / "p").exists()


def test_wallets_holding_less_than_the_liabilities_are_refused(flow: dict[str, Any], tmp_path: Path) -> None:
    work, doc = flow["work"], json.loads((flow["work"] / "wallets.json").read_text())
    first = doc["assets"][0]["symbol"]
    kept = [w for w in doc["wallets"] if w["asset"] != first]
    kept.append(next(w for w in doc["wallets"] if w["asset"] == first))
    doc["wallets"] = kept
    (tmp_path / "short.json").write_text(json.dumps(doc))
    result = solvency("prove", "--ledger", work / "ledger.csv", "--wallets", tmp_path / "short.json",
                      "--packages-format", "dir", "--secret",
                      work / "master.key", "--out", tmp_path / "b", "--packages", tmp_path / "p", "--quiet")
    assert result.exit_code == EXIT_INPUT
    assert f"insolvent for {first}" in result.stderr
    assert not (tmp_path / "b").exists()


def test_a_failing_wallet_row_fails_verify_with_its_reason(flow: dict[str, Any], tmp_path: Path) -> None:
    import shutil

    from tests.bundle_factory import _canonical, load_manifest, resign

    work = flow["work"]
    if not (work / "bundle").exists():
        pytest.skip("needs test_sign_then_prove_then_verify's bundle")  # pragma: no cover
    bundle = tmp_path / "bundle"
    shutil.copytree(work / "bundle", bundle)
    doc = json.loads((bundle / "wallets.json").read_bytes())
    i = next(k for k, w in enumerate(doc["wallets"]) if w["proof"]["type"] == "eip191")
    doc["wallets"][i]["proof"]["signature"] = "0x" + "22" * 64 + "1c"
    (bundle / "wallets.json").write_bytes(_canonical(doc) + b"\n")
    resign(bundle, load_manifest(bundle))
    result = solvency("verify", bundle, "--quiet")
    assert result.exit_code == EXIT_VERIFICATION
    assert f"wallets[{i}]" in result.stdout and "wallet failed" in result.stdout
    payload = json.loads(solvency("verify", bundle, "--json").stdout)
    assert payload["failure_file"] == "wallets.json" and payload["wallet_failures"][0]["index"] == i


def test_include_attested_is_named_on_the_verdict_line(flow: dict[str, Any], tmp_path: Path) -> None:
    work, doc = flow["work"], json.loads((flow["work"] / "wallets.json").read_text())
    doc["attested"] = [{"asset": doc["assets"][0]["symbol"], "custodian": "Trust Bank AG", "account": "cust-1",
                        "balance": "12345", "document_sha256": "cd" * 32}]
    (tmp_path / "att.json").write_text(json.dumps(doc))
    result = solvency("prove", "--ledger", work / "ledger.csv", "--wallets", tmp_path / "att.json",
                      "--packages-format", "dir", "--secret",
                      work / "master.key", "--out", tmp_path / "b", "--packages", tmp_path / "p", "--quiet",
                      "--include-attested", "--no-verify")
    assert result.exit_code == EXIT_OK, result.output
    verified = solvency("verify", tmp_path / "b", "--quiet")
    assert verified.exit_code == EXIT_OK
    verdict = next(line for line in verified.stdout.splitlines() if line.startswith("PASS"))
    assert "INCLUDING ATTESTED" in " ".join(verified.stdout.split())
    assert verdict
    plain = solvency("prove", "--ledger", work / "ledger.csv", "--reserves", work / "reserves.json",
                     "--packages-format", "dir",
                     "--include-attested", "--secret", work / "master.key", "--out", tmp_path / "b2",
                     "--packages", tmp_path / "p2")
    assert plain.exit_code == EXIT_USAGE


def test_a_declared_bundle_says_declared(flow: dict[str, Any], tmp_path: Path) -> None:
    work = flow["work"]
    result = solvency("prove", "--ledger", work / "ledger.csv", "--reserves", work / "reserves.json",
                      "--packages-format", "dir", "--secret",
                      work / "master.key", "--out", tmp_path / "b", "--packages", tmp_path / "p", "--quiet",
                      "--no-verify")
    assert result.exit_code == EXIT_OK
    verified = solvency("verify", tmp_path / "b", "--quiet")
    assert verified.exit_code == EXIT_OK
    assert "DECLARED by the exchange" in " ".join(verified.stdout.split())
