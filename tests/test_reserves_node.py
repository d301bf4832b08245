"""End to end: a bundle's Ethereum balances checked against a real node (issue 9, "balances against a real node").

The wallets are real anvil accounts with fresh secp256k1 keys. The chain is built once per
module: the accounts are funded with ETH, the minimal ERC-20 (tests/fixtures/erc20) is deployed
and two accounts get tokens, blocks are mined past the snapshot height H, and after H funds move
(ETH leaves one account, tokens change hands). A second snapshot H2 is taken after one account's
funds left. Each bundle is signed with :func:`prover.signing.sign_wallets` and proven with
:func:`prover.write_bundle`, so a false balance is one the exchange states consistently; only the
node can catch it. Everything is checked through ``solvency verify --eth-rpc`` and through
:func:`verifier.verify_bundle`.
"""

from __future__ import annotations

import json
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from ethnode import EthNode, anvil  # noqa: F401  (anvil: the module-scoped fixture)
from evm_asm import ERC20_HEX
from reserves_fixtures import prove_v2
from typer.testing import CliRunner

from circuits.errors import InputError, ParameterError, VerificationError
from circuits.ethereum import checksum_address
from circuits.wallets import WalletList
from cli.exit_codes import EXIT_INPUT, EXIT_OK, EXIT_VERIFICATION
from cli.main import app
from prover.eth_sign import eth_address_of
from prover.signing import sign_wallets
from prover.wallets import write_wallet_list
from verifier import verify_bundle
from verifier.report import BundleReport

runner = CliRunner()

CHAIN = "eip155:31337"
ETH = 10**18
TOKEN_UNIT = 10**18  # the fixture token has 18 decimals
LEDGER = "customer_id,asset,amount\nalice,ETH,0.5\nalice,USDT,100.25\nbob,ETH,1.25\ncarol,USDT,7\n"


@dataclass
class Chain:
    """The anvil state the bundles describe: the accounts, the token and the two snapshots."""

    node: EthNode
    keys: list[bytes]
    addresses: list[str]
    token: str
    height: int  # H
    height2: int  # H2, after the leaver's funds left
    #: The true balances at H and at H2: (asset, address) -> base units on chain.
    at_h: dict[tuple[str, str], int] = field(default_factory=dict)
    at_h2: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.node.url

    def balances_at(self, height: int) -> dict[tuple[str, str], int]:
        out = {}
        for a in self.addresses:
            out[("ETH", a)] = self.node.balance(a, height)
            tokens = self.node.token_balance(self.token, a, height)
            if tokens:
                out[("USDT", a)] = tokens
        return out


@pytest.fixture(scope="module")
def chain(anvil: EthNode) -> Chain:  # noqa: F811  (the fixture imported above)
    keys = [secrets.token_bytes(32) for _ in range(4)]
    addresses = [checksum_address(eth_address_of(k)) for k in keys]
    a0, a1, a2, leaver = addresses
    dev = anvil.accounts[0]
    for i, a in enumerate(addresses):
        anvil.fund(a, (i + 1) * ETH + 123_456_789_123 * (i + 1))  # odd wei: not a multiple of 10^9
    token = checksum_address(bytes.fromhex(anvil.deploy(bytes.fromhex(ERC20_HEX.read_text().strip()))[2:]))
    anvil.transfer_token(token, dev, a0, 5_000 * TOKEN_UNIT + 17)
    anvil.transfer_token(token, dev, a1, 3_000 * TOKEN_UNIT)
    anvil.mine(3)
    height = anvil.block_number()
    anvil.mine(2)
    # after H: ETH leaves a1, tokens move from a0 to a2 and from a1 back to the deployer
    anvil.send_from(a1, {"to": dev, "value": hex(ETH)})
    anvil.transfer_token(token, a0, a2, 1_000 * TOKEN_UNIT)
    anvil.transfer_token(token, a1, dev, 3_000 * TOKEN_UNIT)
    # the leaver's ETH leaves before H2
    anvil.send_from(leaver, {"to": dev, "value": hex(3 * ETH)})
    anvil.mine(2)
    height2 = anvil.block_number()
    anvil.mine(3)
    anvil.fund(a2, ETH)  # more movement after H2
    c = Chain(anvil, keys, addresses, token, height, height2)
    c.at_h = c.balances_at(height)
    c.at_h2 = c.balances_at(height2)
    # the state is what the test means: funds moved after H, and the leaver's left before H2
    assert c.at_h[("ETH", a1)] != anvil.balance(a1)
    assert c.at_h[("USDT", a0)] != anvil.token_balance(token, a0)
    assert c.at_h[("ETH", leaver)] - c.at_h2[("ETH", leaver)] >= 3 * ETH
    assert ("USDT", a1) not in c.at_h2
    return c


def build(
    chain: Chain,
    work: Path,
    name: str,
    *,
    height: int | None = None,
    block_hash: str | None = None,
    balances: dict[tuple[str, str], int] | None = None,
) -> Path:
    """Write, sign and prove a bundle stating ``balances`` at ``height`` (default: the truth at H)."""
    height = chain.height if height is None else height
    block_hash = block_hash or chain.node.block_hash(height)
    stated = dict(chain.at_h if balances is None else balances)
    document: dict[str, Any] = {
        "format": "zk-solvency-wallets",
        "version": 1,
        "exchange": "Node Test Exchange",
        "round": f"node-{name}",
        "chains": [{"chain": CHAIN, "height": height, "block_hash": block_hash}],
        "assets": [
            {"symbol": "ETH", "decimals": 9, "sources": [{"chain": CHAIN, "token": None, "decimals": 18}]},
            {"symbol": "USDT", "decimals": 6, "sources": [{"chain": CHAIN, "token": chain.token, "decimals": 18}]},
        ],
        "wallets": [
            {"asset": asset, "chain": CHAIN, "address": address, "balance": str(amount), "proof": {"type": "eip191"}}
            for (asset, address), amount in stated.items()
        ],
        "attested": [],
    }
    unsigned = WalletList.parse(document, "wallets", signed=False, normalize=True)
    signed = sign_wallets(unsigned, chain.keys)
    work.mkdir(parents=True, exist_ok=True)
    wallets_path = work / f"{name}-wallets.json"
    write_wallet_list(wallets_path, signed)
    ledger = work / f"{name}-ledger.csv"
    ledger.write_text(LEDGER)
    bundle, _ = prove_v2(work, wallets_path, ledger, name=name)
    return bundle


def verify_json(bundle: Path, *eth_rpc: str) -> tuple[int, dict[str, Any]]:
    args = ["verify", str(bundle), "--json"]
    for value in eth_rpc:
        args += ["--eth-rpc", value]
    result = runner.invoke(app, args)
    try:
        payload = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"verify --json printed no JSON (exit {result.exit_code}): {result.output}")
    assert payload["exit_code"] == result.exit_code
    return result.exit_code, payload


def human(bundle: Path, *eth_rpc: str) -> tuple[int, str]:
    args = ["verify", str(bundle), "--quiet"]
    for value in eth_rpc:
        args += ["--eth-rpc", value]
    result = runner.invoke(app, args)
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture(scope="module")
def true_bundle(chain: Chain, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(chain, tmp_path_factory.mktemp("node-true"), "true")


def dead_url() -> str:
    """A loopback URL where nothing listens (a port just bound and released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- 1. the true snapshot -------------------------------------------------------------------------


def test_true_snapshot_is_confirmed_by_the_node(chain: Chain, true_bundle: Path) -> None:
    code, payload = verify_json(true_bundle, chain.url)
    assert code == EXIT_OK, payload["failure"]
    assert payload["status"] == "pass" and payload["ok"] is True
    assert [(a["symbol"], a["balances"]) for a in payload["assets"]] == [("ETH", "node"), ("USDT", "node")]
    assert all(a["reserves_ok"] for a in payload["assets"])
    assert [a["wallet_count"] for a in payload["assets"]] == [4, 2]
    assert payload["chains"] == [
        {"chain": CHAIN, "height": chain.height, "block_hash": chain.node.block_hash(chain.height), "balances": "node"}
    ]
    assert payload["balance_mismatches"] == []

    code, text = human(true_bundle, chain.url)
    assert code == EXIT_OK, text
    assert "PASS" in text
    assert "(every balance confirmed by a node)" in text
    assert "balances and block hash checked against the node" in text
    assert "as stated by the exchange" not in text

    # CHAIN=URL names the same node
    code, payload = verify_json(true_bundle, f"{CHAIN}={chain.url}")
    assert code == EXIT_OK and payload["chains"][0]["balances"] == "node"


def test_true_snapshot_through_the_library(chain: Chain, true_bundle: Path) -> None:
    choices: list[dict[str | None, str]] = [{None: chain.url}, {CHAIN: chain.url}]
    for nodes in choices:
        report = verify_bundle(true_bundle, eth_rpc=nodes)
        assert report.ok
        assert [c["balances"] for c in report.chains] == ["node"]
        assert [a.balances for a in report.assets] == ["node", "node"]
        assert report.balance_mismatches == []


# --- 7. offline -----------------------------------------------------------------------------------


def test_without_a_node_balances_are_as_stated(true_bundle: Path) -> None:
    code, payload = verify_json(true_bundle)
    assert code == EXIT_OK, payload["failure"]
    assert [a["balances"] for a in payload["assets"]] == ["stated", "stated"]
    assert [c["balances"] for c in payload["chains"]] == ["stated"]
    code, text = human(true_bundle)
    assert code == EXIT_OK, text
    assert "(balances as stated by the exchange)" in text
    assert "confirmed by a node" not in text
    assert f"the balances on {CHAIN} (as stated by the exchange; no node checked them)" in text


# --- 2-5. false snapshots, each signed and proven consistently --------------------------------------


def test_eth_balance_one_wei_too_high_names_the_address(
    chain: Chain, tmp_path_factory: pytest.TempPathFactory
) -> None:
    liar = chain.addresses[1]  # its ETH left after H: only the balance at H counts
    stated = dict(chain.at_h)
    stated[("ETH", liar)] += 1
    bundle = build(chain, tmp_path_factory.mktemp("node-wei"), "wei", balances=stated)
    assert verify_json(bundle)[0] == EXIT_OK  # offline nothing can tell

    code, payload = verify_json(bundle, chain.url)
    assert code == EXIT_VERIFICATION
    assert payload["status"] == "fail" and payload["ok"] is False
    assert payload["failure_file"] == "wallets.json"
    assert payload["failure_kind"] == "false"
    [mismatch] = payload["balance_mismatches"]
    assert mismatch["address"] == liar
    assert mismatch["token"] is None
    assert mismatch["stated"] == str(chain.at_h[("ETH", liar)] + 1)
    assert mismatch["actual"] == str(chain.at_h[("ETH", liar)])
    assert liar in payload["failure"]
    assert [c["balances"] for c in payload["chains"]] == ["stated"]

    code, text = human(bundle, chain.url)
    assert code == EXIT_VERIFICATION
    assert "FAIL [wallets.json:wallets[" in text and liar in text and "node disagrees" in text

    with pytest.raises(VerificationError) as caught:
        verify_bundle(bundle, eth_rpc={None: chain.url})
    assert liar in str(caught.value)
    report = caught.value.report
    assert isinstance(report, BundleReport)
    assert [m["address"] for m in report.balance_mismatches] == [liar]


def test_wrong_block_hash_names_the_block(chain: Chain, tmp_path_factory: pytest.TempPathFactory) -> None:
    wrong = chain.node.block_hash(chain.height - 1)  # a real block, but not the one at H
    bundle = build(chain, tmp_path_factory.mktemp("node-hash"), "hash", block_hash=wrong)
    assert verify_json(bundle)[0] == EXIT_OK

    code, payload = verify_json(bundle, chain.url)
    assert code == EXIT_VERIFICATION
    assert payload["failure_file"] == "wallets.json"
    [mismatch] = payload["balance_mismatches"]
    assert mismatch["address"] is None
    assert mismatch["stated"] == wrong
    assert mismatch["actual"] == chain.node.block_hash(chain.height)
    assert f"block {wrong}" in payload["failure"]
    assert f"height {chain.height}" in payload["failure"]

    code, text = human(bundle, chain.url)
    assert code == EXIT_VERIFICATION
    assert f"FAIL [wallets.json:chains]: wallets.json: the node of {CHAIN} disagrees at block {wrong}" in text

    with pytest.raises(VerificationError, match=f"block {wrong}"):
        verify_bundle(bundle, eth_rpc={CHAIN: chain.url})


def test_funds_that_left_before_the_snapshot_are_caught(
    chain: Chain, tmp_path_factory: pytest.TempPathFactory
) -> None:
    leaver = chain.addresses[3]
    stated = dict(chain.at_h2)
    stated[("ETH", leaver)] = chain.at_h[("ETH", leaver)]  # the balance before the move
    bundle = build(chain, tmp_path_factory.mktemp("node-left"), "left", height=chain.height2, balances=stated)

    code, payload = verify_json(bundle, chain.url)
    assert code == EXIT_VERIFICATION
    assert payload["failure_file"] == "wallets.json"
    assert [m["address"] for m in payload["balance_mismatches"]] == [leaver]
    assert payload["balance_mismatches"][0]["actual"] == str(chain.at_h2[("ETH", leaver)])
    assert leaver in payload["failure"]

    # the true H2 snapshot (the leaver with what it kept) is confirmed
    honest = build(chain, tmp_path_factory.mktemp("node-h2"), "h2", height=chain.height2, balances=chain.at_h2)
    code, payload = verify_json(honest, chain.url)
    assert code == EXIT_OK, payload["failure"]
    assert [c["balances"] for c in payload["chains"]] == ["node"]


def test_token_balance_one_unit_too_high(chain: Chain, tmp_path_factory: pytest.TempPathFactory) -> None:
    holder = chain.addresses[0]  # its tokens moved after H
    stated = dict(chain.at_h)
    stated[("USDT", holder)] += 1
    bundle = build(chain, tmp_path_factory.mktemp("node-token"), "token", balances=stated)

    code, payload = verify_json(bundle, chain.url)
    assert code == EXIT_VERIFICATION
    assert payload["failure_file"] == "wallets.json"
    [mismatch] = payload["balance_mismatches"]
    assert (mismatch["address"], mismatch["token"]) == (holder, chain.token)
    assert mismatch["stated"] == str(chain.at_h[("USDT", holder)] + 1)
    assert mismatch["actual"] == str(chain.at_h[("USDT", holder)])
    assert holder in payload["failure"]


# --- 6. a node that cannot answer for the list is never a pass --------------------------------------


def test_node_for_another_chain_is_a_parameter_error(chain: Chain, true_bundle: Path) -> None:
    code, payload = verify_json(true_bundle, f"eip155:1={chain.url}")
    assert code == EXIT_INPUT
    assert payload["status"] == "fail" and payload["ok"] is False
    assert payload["failure_kind"] == "input"
    assert "eip155:1" in payload["failure"]
    code, text = human(true_bundle, f"eip155:1={chain.url}")
    assert code == EXIT_INPUT
    assert "FAIL [eth-rpc]: --eth-rpc names chain eip155:1" in text and "PASS" not in text
    with pytest.raises(ParameterError):
        verify_bundle(true_bundle, eth_rpc={"eip155:1": chain.url})


def test_unreachable_node_is_an_input_error(true_bundle: Path) -> None:
    url = dead_url()
    code, payload = verify_json(true_bundle, url)
    assert code == EXIT_INPUT
    assert payload["status"] == "fail" and payload["ok"] is False
    assert payload["failure_kind"] == "input"
    assert "cannot reach the node" in payload["failure"]
    code, text = human(true_bundle, url)
    assert code == EXIT_INPUT and "PASS" not in text
    assert "FAIL [eth-rpc]: cannot reach the node" in text
    with pytest.raises(InputError):
        verify_bundle(true_bundle, eth_rpc={None: url})
