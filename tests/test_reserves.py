"""Proof of reserves end to end: the wallet list as prover input, in the bundle, and at verification.

Issue 9: the reserves ``R`` of a version 2 bundle are what its signed wallets hold, summed
by the verifier; a row that fails makes the verdict false; prove-time errors name file,
line and field; attested entries count only when asked, and the verdict says so.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from circuits.control import control_message
from circuits.errors import FormatError, InputError, ParameterError, VerificationError
from circuits.wallets import WalletList, check_wallets
from prover.eth_sign import sign_eip191
from tests.bundle_factory import _canonical, load_manifest, resign
from tests.reserves_fixtures import edit_json, prove_v2, signed_list
from verifier import verify_bundle


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("reserves")
    ledger, wallets_path, signed, keys = signed_list(work)
    bundle, proven = prove_v2(work, wallets_path, ledger)
    return {"work": work, "ledger": ledger, "wallets": wallets_path, "list": signed, "keys": keys,
            "bundle": bundle, "proven": proven}


def _copy_bundle(made: dict[str, Any], tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / "bundle"
    shutil.copytree(made["bundle"], target)
    return target


def _rewrite_wallets(bundle: Path, mutate: Any) -> None:
    doc = json.loads((bundle / "wallets.json").read_bytes())
    mutate(doc)
    (bundle / "wallets.json").write_bytes(_canonical(doc) + b"\n")
    resign(bundle, load_manifest(bundle))


# --- the honest path ------------------------------------------------------------------


def test_v2_bundle_verifies_and_reports_reserves(made: dict[str, Any]) -> None:
    report = verify_bundle(made["bundle"])
    assert report.ok and report.format_version == 3
    proven = made["proven"]
    for a in report.assets:
        assert a.reserves_basis == "wallets" and a.reserves_ok
        assert a.reserves == a.reserves_verified == proven.verified[a.symbol]
        assert a.wallet_count == sum(1 for w in made["list"].wallets if w.asset == a.symbol)
        assert a.balances == "stated"
    assert {c["chain"] for c in report.chains} == {w.chain for w in made["list"].wallets}
    kinds = {dict(w.proof)["type"] for w in made["list"].wallets}
    assert kinds == {"bip137", "bip322", "multisig", "eip191"}


def test_manifest_lists_wallets_and_the_digest_covers_them(made: dict[str, Any]) -> None:
    manifest = load_manifest(made["bundle"])
    assert manifest["format_version"] == 3
    assert manifest["wallets"]["name"] == "wallets.json"
    assert all(a["reserves_basis"] == "wallets" for a in manifest["assets"])


def test_bundle_wallet_list_round_trips(made: dict[str, Any]) -> None:
    data = (made["bundle"] / "wallets.json").read_bytes()
    parsed = WalletList.from_bytes(data)
    assert parsed.to_bytes() == data
    assert check_wallets(parsed).ok


# --- the verifier never fails open ---------------------------------------------------


def test_a_tampered_wallet_file_without_resigning_is_malformed(made: dict[str, Any], tmp_path: Path) -> None:
    bundle = _copy_bundle(made, tmp_path)
    data = bytearray((bundle / "wallets.json").read_bytes())
    data[data.index(b'"balance":"') + 11] ^= 1
    (bundle / "wallets.json").write_bytes(bytes(data))
    with pytest.raises(FormatError) as info:
        verify_bundle(bundle)
    assert info.value.file == "wallets.json"


def test_a_raised_balance_fails_the_row_count_and_names_it(made: dict[str, Any], tmp_path: Path) -> None:
    """A cheating prover raises a wallet's stated balance and re-signs the manifest: R no longer matches."""
    bundle = _copy_bundle(made, tmp_path)

    def raise_balance(doc: dict[str, Any]) -> None:
        doc["wallets"][0]["balance"] = str(int(doc["wallets"][0]["balance"]) * 2)

    _rewrite_wallets(bundle, raise_balance)
    with pytest.raises(VerificationError) as info:
        verify_bundle(bundle)
    assert info.value.field is not None and info.value.field.endswith(".reserves")


@pytest.mark.parametrize("row", [0, 3, -1])
def test_a_bad_signature_fails_every_bad_row_with_its_reason(made: dict[str, Any], tmp_path: Path, row: int) -> None:
    bundle = _copy_bundle(made, tmp_path)

    def corrupt(doc: dict[str, Any]) -> None:
        for index in {row, 1}:
            proof = doc["wallets"][index]["proof"]
            if proof["type"] == "multisig":
                proof["signatures"] = proof["signatures"][:1]
            elif proof["type"] == "eip191":
                proof["signature"] = "0x" + "11" * 64 + "1b"
            else:
                raw = bytearray(base64.b64decode(proof["signature"]))
                raw[-2] ^= 1
                proof["signature"] = base64.b64encode(bytes(raw)).decode()

    _rewrite_wallets(bundle, corrupt)
    with pytest.raises(VerificationError) as info:
        verify_bundle(bundle)
    report = info.value.report
    assert report is not None
    failures = report.to_json()["wallet_failures"]
    n = len(made["list"].wallets)
    assert {f["index"] for f in failures} == {row % n, 1}
    assert all(f["reason"] for f in failures)
    assert info.value.file == "wallets.json" and info.value.field.startswith("wallets[")


def test_an_undecodable_signature_is_a_failed_row_not_a_crash(made: dict[str, Any], tmp_path: Path) -> None:
    bundle = _copy_bundle(made, tmp_path)
    _rewrite_wallets(bundle, lambda doc: doc["wallets"][0]["proof"].update(signature="AAAA"))
    with pytest.raises(VerificationError) as info:
        verify_bundle(bundle)
    failures = info.value.report.to_json()["wallet_failures"]
    assert failures[0]["index"] == 0 and failures[0]["kind"] == "malformed"


def test_an_unsupported_proof_for_the_address_kind_fails_its_row(made: dict[str, Any], tmp_path: Path) -> None:
    bundle = _copy_bundle(made, tmp_path)
    wallets = made["list"].wallets
    i = next(k for k, w in enumerate(wallets) if dict(w.proof)["type"] == "multisig")
    _rewrite_wallets(bundle, lambda doc: doc["wallets"][i].update(proof={"type": "bip137", "signature": "A" * 88}))
    with pytest.raises(VerificationError) as info:
        verify_bundle(bundle)
    assert info.value.report.to_json()["wallet_failures"][0]["index"] == i


def test_a_wallet_list_of_another_round_is_refused(made: dict[str, Any], tmp_path: Path) -> None:
    bundle = _copy_bundle(made, tmp_path)
    _rewrite_wallets(bundle, lambda doc: doc.update(round="another round"))
    with pytest.raises(FormatError):
        verify_bundle(bundle)


def test_manifest_reserves_above_the_wallets_are_refused(made: dict[str, Any], tmp_path: Path) -> None:
    from tests.bundle_factory import rewrite_manifest

    bundle = _copy_bundle(made, tmp_path)
    rewrite_manifest(bundle, lambda m: m["assets"][0].update(reserves=str(int(m["assets"][0]["reserves"]) + 1)))
    with pytest.raises(VerificationError) as info:
        verify_bundle(bundle)
    assert info.value.field == "assets[0].reserves"


def test_a_basis_claiming_attested_without_entries_still_sums(made: dict[str, Any], tmp_path: Path) -> None:
    """Switching the basis changes nothing when no entry is attested, but a v1 basis in v2 is malformed."""
    from tests.bundle_factory import rewrite_manifest

    bundle = _copy_bundle(made, tmp_path)
    rewrite_manifest(bundle, lambda m: m["assets"][0].update(reserves_basis="declared"))
    with pytest.raises(FormatError):
        verify_bundle(bundle)


def test_the_solvency_proof_binds_the_wallet_list(made: dict[str, Any], tmp_path: Path) -> None:
    """Another valid wallet list with the same sums (rows reordered in value) breaks the solvency proofs."""
    bundle = _copy_bundle(made, tmp_path)
    wallets = made["list"]

    def add_attested(doc: dict[str, Any]) -> None:
        doc["attested"] = [{"asset": wallets.assets[0].symbol, "custodian": "Bank", "account": "1",
                            "balance": "5", "document_sha256": "00" * 32}]

    _rewrite_wallets(bundle, add_attested)
    with pytest.raises(VerificationError) as info:
        verify_bundle(bundle)
    assert info.value.file is not None and info.value.file.endswith("solvency.bin")


def test_eth_rpc_on_a_declared_bundle_is_a_parameter_error() -> None:
    v1 = Path(__file__).parent / "vectors" / "bundle_v1"
    with pytest.raises(ParameterError):
        verify_bundle(v1, eth_rpc={None: "http://127.0.0.1:9"})
    report = verify_bundle(v1)
    assert report.format_version == 1 and all(a.reserves_basis == "declared" for a in report.assets)


# --- replay -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [{"exchange": "Other Exchange"}, {"round": "2025-01-01T00:00:00Z"}, {"chain": "eip155:1"},
     {"height": 1}, {"block_hash": "0x" + "cd" * 32}],
)
def test_a_signature_for_another_statement_does_not_verify(made: dict[str, Any], tmp_path: Path,
                                                           change: dict[str, Any]) -> None:
    wl: WalletList = made["list"]
    i = next(k for k, w in enumerate(wl.wallets) if dict(w.proof)["type"] == "eip191")
    w = wl.wallets[i]
    s = wl.snapshot(w.chain)
    fields = {"exchange": wl.exchange, "round": wl.round, "chain": w.chain, "height": s.height,
              "block_hash": s.block_hash} | change
    keys = made["keys"]
    from circuits.ethereum import checksum_address
    from prover.eth_sign import eth_address_of

    secret = next(k for k in keys if checksum_address(eth_address_of(k)) == w.address)
    other = sign_eip191(secret, control_message(fields["exchange"], fields["round"], fields["chain"],
                                                fields["height"], fields["block_hash"], w.address))
    path = tmp_path / "w.json"
    doc = wl.to_json()
    doc["wallets"][i]["proof"]["signature"] = "0x" + other.hex()
    path.write_text(json.dumps(doc))
    from prover.wallets import load_wallets

    with pytest.raises(InputError) as info:
        load_wallets(path)
    assert info.value.field == f"wallets[{i}].proof"


# --- prove-time input errors: file, line, field; nothing written -----------------------


def _bad_list(made: dict[str, Any], tmp_path: Path, mutate: Any) -> Path:
    path = tmp_path / "wallets.json"
    path.write_text(json.dumps(made["list"].to_json(), indent=1))
    edit_json(path, mutate)
    return path


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (lambda d: d["wallets"].append(dict(d["wallets"][0])), "wallets[", "listed twice"),
        (lambda d: d["wallets"][2].update(balance="0"), "wallets[2].balance", "positive"),
        (lambda d: d["wallets"][2].update(balance="-5"), "wallets[2].balance", "decimal"),
        (lambda d: d["wallets"][0].update(address="0x" + "ab" * 20), "wallets[0].address", "not an address"),
        (lambda d: d["wallets"][0]["proof"].update(signature="%%%"), "wallets[0].proof", "base64"),
        (lambda d: d["wallets"][0].update(chain="eip155:5"), "wallets[0].chain", "not in chains"),
        (lambda d: d.update(version=2), "version", "expected"),
    ],
)
def test_prove_time_errors_name_file_line_and_field(made: dict[str, Any], tmp_path: Path, mutate: Any, field: str,
                                                    words: str) -> None:
    from prover.wallets import load_wallets

    path = _bad_list(made, tmp_path, mutate)
    with pytest.raises(InputError) as info:
        load_wallets(path)
    message = str(info.value)
    assert message.startswith("wallets.json: line ") or field == "version"
    assert info.value.field is not None and info.value.field.startswith(field)
    assert words in message


def test_the_same_key_in_two_single_key_wallets_is_refused(made: dict[str, Any], tmp_path: Path) -> None:
    """A P2PKH and a P2WPKH address of one key, both counted for BTC."""
    import coincurve

    from circuits.bitcoin_address import AddressKind, p2pkh_address, p2wpkh_address, parse_address
    from prover.signing import sign_wallets

    wl: WalletList = made["list"]
    network = next(s.chain.bitcoin for s in wl.chains if s.chain.bitcoin is not None)
    i = next(k for k, w in enumerate(wl.wallets) if w.asset == "BTC"
             and parse_address(network, w.address).kind is AddressKind.P2PKH)
    keys = made["keys"]
    secret = next(k for k in keys if p2pkh_address(
        network, coincurve.PrivateKey(k).public_key.format(compressed=True)).text == wl.wallets[i].address)
    twin = p2wpkh_address(network, coincurve.PrivateKey(secret).public_key.format(compressed=True)).text
    doc = wl.to_json()
    doc["wallets"].append({"asset": "BTC", "chain": wl.wallets[i].chain, "address": twin, "balance": "7",
                           "proof": {"type": "bip137"}})
    unsigned = WalletList.parse(doc, "wallets", signed=False, normalize=True)
    signed = sign_wallets(unsigned, keys)
    check = check_wallets(signed)
    assert len(check.failures) == 1 and "same key" in check.failures[0].reason


def test_one_address_may_hold_two_assets(made: dict[str, Any]) -> None:
    wl: WalletList = made["list"]
    eth = {w.address for w in wl.wallets if w.asset == "ETH"}
    usdt = {w.address for w in wl.wallets if w.asset == "USDT"}
    assert eth & usdt and check_wallets(wl).ok


def test_insolvent_wallets_are_refused_at_prove_time(made: dict[str, Any], tmp_path: Path) -> None:
    wl: WalletList = made["list"]
    keep = next(w for w in wl.wallets if w.asset == "BTC")
    path = tmp_path / "short.json"
    path.write_text(json.dumps(wl.with_wallets(w for w in wl.wallets if w.asset != "BTC" or w == keep).to_json()))
    with pytest.raises(InputError, match="insolvent for BTC"):
        prove_v2(tmp_path, path, made["ledger"])
    assert not (tmp_path / "bundle").exists() and not (tmp_path / "bundle-pkg").exists()


# --- attested entries -------------------------------------------------------------------


def test_attested_entries_count_only_when_included(made: dict[str, Any], tmp_path: Path) -> None:
    doc = made["list"].to_json()
    doc["attested"] = [{"asset": "USDT", "custodian": "First Bank", "account": "acct 7", "balance": "1000000",
                        "document_sha256": "ab" * 32}]
    path = tmp_path / "wallets.json"
    path.write_text(json.dumps(doc))
    from prover.wallets import load_wallets

    without = load_wallets(path)
    with_attested = load_wallets(path, include_attested=True)
    usdt = lambda p: p.reserves.asset("USDT").reserves  # noqa: E731
    assert usdt(with_attested) == usdt(without) + 1_000_000
    bundle, _ = prove_v2(tmp_path, path, made["ledger"], include_attested=True)
    report = verify_bundle(bundle)
    usdt_report = next(a for a in report.assets if a.symbol == "USDT")
    assert usdt_report.reserves_basis == "wallets+attested"
    assert usdt_report.reserves == usdt_report.reserves_verified + 1_000_000
    from cli.reserves_text import verdict_sentence

    assert "INCLUDING ATTESTED" in verdict_sentence(report)
