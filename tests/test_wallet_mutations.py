"""Every field of a version 2 bundle's wallet list and of its manifest entries, tampered one at a time.

Each mutation is applied to a copy of the frozen ``tests/vectors/bundle_v2`` and the manifest re-signed
(file sizes, SHA-256s, digest), so only the mutation is wrong; the verifier must refuse it with the exact
error class: malformed (``FormatError``) when the list breaks §12.1, false (``VerificationError``) when it
is well formed but a proof of control, a sum or a solvency proof no longer holds (``docs/FORMAT.md`` §12.5).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuits.errors import FormatError, ProofError, VerificationError
from circuits.wallets import WalletList
from tests.bundle_factory import _canonical, load_manifest, resign, rewrite_manifest
from verifier import verify_bundle

BUNDLE = Path(__file__).parent / "vectors" / "bundle_v2"
Doc = dict[str, Any]

BTC_MULTISIG, BTC_BIP137, BTC_P2TR, BTC_P2WPKH, BTC_P2WSH, BTC_P2PKH, ETH_0, ETH_1, ETH_2 = range(9)


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        *parents, last = path.split(".")
        target: Any = doc
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value

    return mutate


def _flip_sig(i: int) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        proof = doc["wallets"][i]["proof"]
        key = "signatures" if proof["type"] == "multisig" else "signature"
        if key == "signatures":
            proof[key] = [proof[key][0], proof[key][0]]
        elif proof["type"] == "eip191":
            proof[key] = proof[key][:10] + ("0" if proof[key][10] != "0" else "1") + proof[key][11:]
        else:
            import base64

            raw = bytearray(base64.b64decode(proof[key]))
            raw[5] ^= 1
            proof[key] = base64.b64encode(bytes(raw)).decode()

    return mutate


def _swap_rows(doc: Doc) -> None:
    doc["wallets"][0], doc["wallets"][1] = doc["wallets"][1], doc["wallets"][0]


def _add_attested(doc: Doc) -> None:
    doc["attested"].append(
        {"asset": "BTC", "custodian": "Bank", "account": "a", "balance": "1", "document_sha256": "00" * 32}
    )


def _duplicate_row(doc: Doc) -> None:
    doc["wallets"].insert(1, dict(doc["wallets"][0]))


WALLET_MUTATIONS: list[tuple[str, Callable[[Doc], None], type[ProofError]]] = [
    ("format", _set("format", "zk-solvency-wallet"), FormatError),
    ("version", _set("version", 2), FormatError),
    ("exchange", _set("exchange", "Another Exchange"), FormatError),
    ("round", _set("round", "another round"), FormatError),
    ("unknown key", _set("extra", 1), FormatError),
    ("chain id", _set("chains.0.chain", "bip122:000000000019d6689c085ae165831e93"), FormatError),
    ("chain height", _set("chains.0.height", 1010), VerificationError),
    ("chain block hash", _set("chains.1.block_hash", "0x" + "00" * 32), VerificationError),
    ("block hash uppercase", _set("chains.0.block_hash", "AB" * 32), FormatError),
    ("asset symbol", _set("assets.0.symbol", "XBT"), FormatError),
    ("asset decimals", _set("assets.0.decimals", 7), FormatError),
    ("source decimals", _set("assets.1.sources.0.decimals", 17), VerificationError),
    ("source token on bitcoin", _set("assets.0.sources.0.token", "0x" + "11" * 20), FormatError),
    ("wallet asset", _set(f"wallets.{ETH_0}.asset", "BTC"), FormatError),
    ("wallet chain", _set(f"wallets.{ETH_0}.chain", "eip155:1"), FormatError),
    ("wallet address", _set(f"wallets.{ETH_1}.address", "0x" + "7a" * 20), VerificationError),
    ("wallet address lowercase", _set(f"wallets.{ETH_2}.address", "0xe016737e9664c0ac10322efa8128307fe840e374"),
     VerificationError),
    ("wallet balance up", _set(f"wallets.{BTC_P2PKH}.balance", "999999999999"), VerificationError),
    ("wallet balance zero", _set(f"wallets.{BTC_P2PKH}.balance", "0"), FormatError),
    ("wallet balance negative", _set(f"wallets.{BTC_P2PKH}.balance", "-1"), FormatError),
    ("wallet balance number", _set(f"wallets.{BTC_P2PKH}.balance", 5), FormatError),
    ("proof type for the address", _set(f"wallets.{BTC_P2TR}.proof.type", "bip137"), VerificationError),
    ("proof type for the chain", _set(f"wallets.{BTC_P2TR}.proof.type", "eip191"), FormatError),
    ("proof unknown type", _set(f"wallets.{BTC_P2TR}.proof.type", "bip999"), FormatError),
    ("multisig script", _set(f"wallets.{BTC_MULTISIG}.proof.script", "51"), VerificationError),
    ("multisig one signature twice", _flip_sig(BTC_MULTISIG), VerificationError),
    ("bip137 signature", _flip_sig(BTC_BIP137), VerificationError),
    ("bip322 p2tr signature", _flip_sig(BTC_P2TR), VerificationError),
    ("bip322 p2wpkh signature", _flip_sig(BTC_P2WPKH), VerificationError),
    ("multisig p2wsh signatures", _flip_sig(BTC_P2WSH), VerificationError),
    ("eip191 signature", _flip_sig(ETH_0), VerificationError),
    ("eip191 signature not hex", _set(f"wallets.{ETH_0}.proof.signature", "0xzz"), VerificationError),
    ("rows out of order", _swap_rows, FormatError),
    ("duplicate row", _duplicate_row, FormatError),
    ("attested entry added", _add_attested, VerificationError),
]


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    target = tmp_path / "bundle"
    shutil.copytree(BUNDLE, target)
    return target


@pytest.mark.parametrize(("name", "mutate", "expected"), WALLET_MUTATIONS, ids=[m[0] for m in WALLET_MUTATIONS])
def test_every_wallet_list_field_is_checked(bundle: Path, name: str, mutate: Callable[[Doc], None],
                                            expected: type[ProofError]) -> None:
    doc = json.loads((bundle / "wallets.json").read_bytes())
    mutate(doc)
    (bundle / "wallets.json").write_bytes(_canonical(doc) + b"\n")
    resign(bundle, load_manifest(bundle))
    with pytest.raises(ProofError) as info:
        verify_bundle(bundle)
    assert type(info.value) is expected, (name, info.value)


MANIFEST_MUTATIONS: list[tuple[str, Callable[[Doc], None], type[ProofError]]] = [
    ("wallets name", lambda m: m["wallets"].update(name="w.json"), FormatError),
    ("wallets size", lambda m: m["wallets"].update(size=m["wallets"]["size"] + 1), FormatError),
    ("wallets sha256", lambda m: m["wallets"].update(sha256="00" * 32), FormatError),
    ("wallets entry removed", lambda m: m.pop("wallets"), FormatError),
    ("basis declared", lambda m: m["assets"][0].update(reserves_basis="declared"), FormatError),
    ("basis attested", lambda m: m["assets"][0].update(reserves_basis="wallets+attested"), VerificationError),
    ("basis removed", lambda m: m["assets"][1].pop("reserves_basis"), FormatError),
    ("version 1 with wallets", lambda m: m.update(format_version=1), FormatError),
    ("reserves", lambda m: m["assets"][1].update(reserves=str(int(m["assets"][1]["reserves"]) - 1)),
     VerificationError),
]


@pytest.mark.parametrize(("name", "mutate", "expected"), MANIFEST_MUTATIONS, ids=[m[0] for m in MANIFEST_MUTATIONS])
def test_every_reserves_field_of_the_manifest_is_checked(bundle: Path, name: str, mutate: Callable[[Doc], None],
                                                         expected: type[ProofError]) -> None:
    def apply(m: Doc) -> None:
        mutate(m)

    if name in ("wallets name", "wallets size", "wallets sha256"):
        manifest = load_manifest(bundle)
        mutate(manifest)
        from tests.bundle_factory import _digest

        manifest["bundle_digest"] = _digest(manifest)
        (bundle / "manifest.json").write_bytes(_canonical(manifest) + b"\n")
    else:
        rewrite_manifest(bundle, apply)
    with pytest.raises(ProofError) as info:
        verify_bundle(bundle)
    assert type(info.value) is expected, (name, info.value)


def test_a_non_canonical_wallet_list_is_malformed(bundle: Path) -> None:
    doc = json.loads((bundle / "wallets.json").read_bytes())
    (bundle / "wallets.json").write_text(json.dumps(doc, indent=1) + "\n")
    resign(bundle, load_manifest(bundle))
    with pytest.raises(FormatError):
        verify_bundle(bundle)


_HEX = "0123456789abcdef"


@settings(max_examples=25, deadline=None)
@given(
    balances=st.lists(st.integers(1, 2**100), min_size=1, max_size=6),
    height=st.integers(0, 2**63 - 1),
    block=st.text(_HEX, min_size=64, max_size=64),
    attested=st.lists(st.tuples(st.integers(1, 2**60), st.text("abcxyz ", min_size=1, max_size=8)), max_size=3),
)
def test_wallet_list_round_trip(balances: list[int], height: int, block: str,
                                attested: list[tuple[int, str]]) -> None:
    """Any structurally valid list encodes canonically and decodes to itself (hypothesis)."""
    from circuits.ethereum import checksum_address

    wallets = [
        {"asset": "ETH", "chain": "eip155:1", "address": checksum_address(bytes([i + 1]) * 20), "balance": str(b),
         "proof": {"type": "eip191", "signature": "0x" + "11" * 65}}
        for i, b in enumerate(balances)
    ]
    doc = {
        "format": "zk-solvency-wallets", "version": 1, "exchange": "Ex", "round": "R",
        "chains": [{"chain": "eip155:1", "height": height, "block_hash": "0x" + block}],
        "assets": [{"symbol": "ETH", "decimals": 9, "sources": [{"chain": "eip155:1", "token": None,
                                                                  "decimals": 18}]}],
        "wallets": wallets,
        "attested": [{"asset": "ETH", "custodian": "C", "account": f"{k} {name}", "balance": str(b),
                      "document_sha256": "ab" * 32} for k, (b, name) in enumerate(attested)],
    }  # fmt: skip
    parsed = WalletList.parse(doc, "wallets", signed=True, normalize=True)
    again = WalletList.from_bytes(parsed.to_bytes())
    assert again == parsed
    assert again.attested_total("ETH") == sum(b for b, _ in attested)
