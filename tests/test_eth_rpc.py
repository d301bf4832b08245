"""The --eth-rpc cross-check (verifier.eth_rpc) against a real anvil node, and against a fake node that misbehaves.

The anvil chain: a minimal ERC-20 (tests/evm_asm.py, shipped as tests/fixtures/erc20/erc20.hex)
is deployed, addresses are funded, one address's funds leave before the snapshot height H,
blocks are mined past H, and funds move after H. The snapshot true at H must be accepted
and each false statement reported with the address it concerns.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from eth_hash.auto import keccak
from ethnode import EthNode, anvil  # noqa: F401  (anvil: the module-scoped fixture)
from evm_asm import (
    DECIMALS,
    ERC20_HEX,
    SELECTORS,
    TOTAL_SUPPLY,
    TRANSFER_TOPIC,
    Label,
    Push,
    Ref,
    assemble,
    erc20_init_code,
)

import verifier.eth_rpc as eth_rpc
from circuits.errors import FormatError, InputError
from circuits.ethereum import checksum_address
from prover.eth_sign import eth_address_of
from verifier.eth_rpc import EthHolding, EthMismatch, check_ethereum_snapshot

ETH = 10**18
ANVIL_CHAIN = 31337


def key(i: int) -> bytes:
    return (0x5000 + i).to_bytes(32, "big")


def addr(i: int) -> str:
    return checksum_address(eth_address_of(key(i)))


# --- the assembler and the shipped token ----------------------------------------------------------


def test_shipped_erc20_hex_is_the_assembler_output() -> None:
    assert ERC20_HEX.read_text(encoding="ascii") == erc20_init_code().hex() + "\n"


def test_selectors_and_topic_are_keccak_of_their_signatures() -> None:
    for signature, selector in SELECTORS.items():
        assert keccak(signature.encode())[:4] == selector.to_bytes(4, "big")
    assert keccak(b"Transfer(address,address,uint256)") == TRANSFER_TOPIC.to_bytes(32, "big")


def test_assembler_labels_and_push_sizes() -> None:
    code = assemble([Ref("end"), "JUMP", Push(0), Push(0x1234), Push(1, 32), Label("end"), "STOP"])
    assert code == bytes.fromhex("61002a5660006112347f" + "00" * 31 + "015b00")
    assert code[0x2A] == 0x5B


@pytest.mark.parametrize(
    ("program", "match"),
    [
        (["NOPE"], "unknown opcode"),
        ([Label("a"), Label("a")], "defined twice"),
        ([Ref("missing")], "not defined"),
        ([Push(256, 1)], "does not fit"),
        ([Push(1 << 256)], "does not fit"),
        ([Push(-1)], "negative"),
    ],
)
def test_assembler_errors(program: list[Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        assemble(program)


# --- the anvil chain ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Chain:
    node: EthNode
    token: str
    height: int
    block_hash: str
    a: str  # 5 ETH and 1000 token units at H; moves ETH and tokens away after H
    b: str  # 3 ETH + 1 wei and 250 token units at H; receives more after H
    e: str  # had 1 ETH, half of it left before H
    holdings: tuple[EthHolding, ...]  # the true snapshot at H


@pytest.fixture(scope="module")
def chain(anvil: EthNode) -> Chain:  # noqa: F811
    dev0, dev1 = anvil.accounts[0], anvil.accounts[1]
    token = checksum_address(bytes.fromhex(anvil.deploy(erc20_init_code())[2:]))
    a, b, e = addr(1), addr(2), addr(3)
    anvil.fund(a, 5 * ETH)
    anvil.fund(b, 3 * ETH + 1)
    anvil.fund(e, 1 * ETH)
    anvil.transfer_token(token, dev0, a, 1000)
    anvil.transfer_token(token, dev0, b, 250)
    anvil.send_from(e, {"to": dev1, "value": hex(ETH // 2)})  # e's funds leave before H
    anvil.mine(2)
    height = anvil.block_number()
    block_hash = anvil.block_hash(height)
    anvil.send_from(a, {"to": dev1, "value": hex(2 * ETH)})  # after H
    anvil.transfer_token(token, a, dev1, 400)
    anvil.fund(b, ETH)
    anvil.mine(3)
    holdings = (
        EthHolding("wallets[0]", a, None, 5 * ETH),
        EthHolding("wallets[1]", b, None, 3 * ETH + 1),
        EthHolding("wallets[2]", a, token, 1000),
        EthHolding("wallets[3]", b, token, 250),
        EthHolding("wallets[4]", checksum_address(bytes.fromhex(dev0[2:])), token, TOTAL_SUPPLY - 1250),
        EthHolding("wallets[5]", addr(4), None, 0),
    )
    return Chain(anvil, token, height, block_hash, a, b, e, holdings)


def check(c: Chain, holdings: tuple[EthHolding, ...] | list[EthHolding], **kw: Any) -> list[EthMismatch]:
    args: dict[str, Any] = {"chain_id": ANVIL_CHAIN, "height": c.height, "block_hash": c.block_hash, **kw}
    return check_ethereum_snapshot(c.node.url, args["chain_id"], args["height"], args["block_hash"], holdings)


def with_balance(c: Chain, index: int, balance: int) -> list[EthHolding]:
    holdings = list(c.holdings)
    holdings[index] = replace(holdings[index], balance=balance)
    return holdings


def test_the_chain_moved_after_the_snapshot(chain: Chain) -> None:
    node = chain.node
    assert node.block_number() >= chain.height + 3
    assert node.balance(chain.a, chain.height) == 5 * ETH
    assert node.balance(chain.a) < 3 * ETH
    assert node.token_balance(chain.token, chain.a) == 600
    assert node.balance(chain.b) == 4 * ETH + 1


def test_true_snapshot_is_accepted(chain: Chain) -> None:
    assert check(chain, chain.holdings) == []


def test_lowercase_addresses_are_accepted_and_reported_checksummed(chain: Chain) -> None:
    lower = [replace(h, address=h.address.lower(), token=h.token and h.token.lower()) for h in chain.holdings]
    assert check(chain, lower) == []
    lower[1] = replace(lower[1], balance=0)
    [mismatch] = check(chain, lower)
    assert mismatch.address == chain.b


def test_one_wei_too_high_is_reported_naming_the_address(chain: Chain) -> None:
    mismatches = check(chain, with_balance(chain, 1, 3 * ETH + 2))
    assert mismatches == [
        EthMismatch(
            "wallets[1]",
            chain.b,
            None,
            str(3 * ETH + 2),
            str(3 * ETH + 1),
            f"the ETH balance of {chain.b} at height {chain.height} is {3 * ETH + 1}, not the stated {3 * ETH + 2}",
        )
    ]


def test_wrong_block_hash_is_one_mismatch_and_stops(chain: Chain) -> None:
    wrong = chain.block_hash[:-1] + ("0" if chain.block_hash[-1] != "0" else "1")
    mismatches = check(chain, with_balance(chain, 0, 1), block_hash=wrong)
    assert len(mismatches) == 1
    [m] = mismatches
    assert (m.where, m.address, m.token, m.stated, m.actual) == (None, None, None, wrong, chain.block_hash)
    assert f"height {chain.height}" in m.reason


def test_hash_of_another_height_is_a_mismatch(chain: Chain) -> None:
    other = chain.node.block_hash(chain.height - 1)
    [m] = check(chain, chain.holdings, block_hash=other)
    assert m.where is None and m.actual == chain.block_hash


def test_height_past_the_head_is_a_mismatch(chain: Chain) -> None:
    height = chain.node.block_number() + 1000
    [m] = check(chain, chain.holdings, height=height)
    assert m.where is None and m.actual == "none" and f"no block at height {height}" in m.reason


def test_funds_that_left_before_the_snapshot_are_reported(chain: Chain) -> None:
    holdings = [*chain.holdings, EthHolding("wallets[6]", chain.e, None, 1 * ETH)]
    [m] = check(chain, holdings)
    assert m.where == "wallets[6]" and m.address == chain.e and m.token is None
    assert int(m.actual) < ETH // 2 and m.stated == str(ETH)
    assert chain.e in m.reason


def test_a_balance_as_of_now_is_not_the_snapshot(chain: Chain) -> None:
    latest = chain.node.balance(chain.a)
    [m] = check(chain, with_balance(chain, 0, latest))
    assert m.address == chain.a and m.actual == str(5 * ETH)


def test_token_balance_off_by_one_is_reported(chain: Chain) -> None:
    [m] = check(chain, with_balance(chain, 2, 1001))
    assert (m.where, m.address, m.token, m.stated, m.actual) == ("wallets[2]", chain.a, chain.token, "1001", "1000")
    assert f"token {chain.token}" in m.reason and chain.a in m.reason


def test_every_difference_is_reported(chain: Chain) -> None:
    holdings = with_balance(chain, 0, 1)
    holdings[3] = replace(holdings[3], balance=249)
    assert [m.where for m in check(chain, holdings)] == ["wallets[0]", "wallets[3]"]


def test_token_address_without_code_is_a_mismatch(chain: Chain) -> None:
    [m] = check(chain, [EthHolding("wallets[0]", chain.a, addr(9), 1000)])
    assert m.actual == "none" and "no contract" in m.reason and m.token == addr(9)


def test_many_holdings_are_batched(chain: Chain) -> None:
    holdings = [EthHolding(f"wallets[{i}]", addr(100 + i), None, 0) for i in range(230)]
    holdings += [EthHolding(f"wallets[{230 + i}]", addr(100 + i), chain.token, 0) for i in range(120)]
    holdings[217] = replace(holdings[217], balance=1)
    holdings[345] = replace(holdings[345], balance=1)
    assert [m.where for m in check(chain, holdings)] == ["wallets[217]", "wallets[345]"]


def test_chain_id_mismatch_raises_input_error(chain: Chain) -> None:
    with pytest.raises(InputError, match="chain 31337, not on the snapshot's chain 1") as info:
        check(chain, chain.holdings, chain_id=1)
    assert info.value.section == "eth-rpc"


def test_unreachable_url_raises_input_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(InputError, match=r"cannot reach the node at 127\.0\.0\.1") as info:
        check_ethereum_snapshot(f"http://127.0.0.1:{port}", ANVIL_CHAIN, 1, "0x" + "00" * 32, [], timeout=5)
    assert info.value.section == "eth-rpc"


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "file:///etc/passwd", "127.0.0.1:8545", "http://", ""])
def test_only_http_urls(url: str) -> None:
    with pytest.raises(InputError, match="http:// or https://"):
        check_ethereum_snapshot(url, ANVIL_CHAIN, 1, "0x" + "00" * 32, [])


@pytest.mark.parametrize("block_hash", ["0x" + "AB" * 32, "ab" * 32, "0x" + "ab" * 31, "0x" + "ab" * 33])
def test_stated_block_hash_must_be_canonical(block_hash: str) -> None:
    with pytest.raises(FormatError, match="block hash"):
        check_ethereum_snapshot("http://127.0.0.1:1", ANVIL_CHAIN, 1, block_hash, [])


def test_malformed_holding_address_is_a_format_error() -> None:
    bad = EthHolding("wallets[7]", "0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", None, 1)
    with pytest.raises(FormatError, match="checksum") as info:
        check_ethereum_snapshot("http://127.0.0.1:1", ANVIL_CHAIN, 1, "0x" + "00" * 32, [bad])
    assert info.value.section == "wallets[7]"


# --- the token on anvil ---------------------------------------------------------------------------


def test_token_functions(chain: Chain) -> None:
    node = chain.node
    assert int.from_bytes(node.call(chain.token, bytes.fromhex("18160ddd")), "big") == TOTAL_SUPPLY
    assert int.from_bytes(node.call(chain.token, bytes.fromhex("313ce567")), "big") == DECIMALS
    assert node.token_balance(chain.token, chain.b, chain.height) == 250
    transfer = bytes.fromhex("a9059cbb") + bytes.fromhex(chain.a[2:]).rjust(32, b"\0")
    ok = {"from": chain.b, "to": chain.token, "data": "0x" + (transfer + (250).to_bytes(32, "big")).hex()}
    assert int(node.rpc("eth_call", ok, "latest"), 16) == 1
    too_much = {**ok, "data": "0x" + (transfer + (251).to_bytes(32, "big")).hex()}
    with pytest.raises(AssertionError, match="revert"):
        node.rpc("eth_call", too_much, "latest")
    with pytest.raises(AssertionError, match="revert"):
        node.rpc("eth_call", {"to": chain.token, "data": "0x70a08231"}, "latest")  # short calldata
    with pytest.raises(AssertionError, match="revert"):
        node.rpc("eth_call", {"to": chain.token, "data": "0x12345678"}, "latest")  # unknown selector


def test_token_transfer_logs_the_erc20_event(chain: Chain) -> None:
    node = chain.node
    receipt = node.transfer_token(chain.token, chain.b, chain.b, 10)  # a self-transfer changes nothing
    [log] = receipt["logs"]
    assert log["topics"][0] == "0x" + TRANSFER_TOPIC.to_bytes(32, "big").hex()
    assert int(log["data"], 16) == 10
    assert node.token_balance(chain.token, chain.b) == 250


# --- a fake node that misbehaves ------------------------------------------------------------------

Responder = Callable[[Any], tuple[int, dict[str, str], bytes]]
BLOCK = "0x" + "cd" * 32


def honest(payload: Any, overrides: dict[str, Any] | None = None) -> Any:
    """Answer like a node on chain 31337 whose block 5 is BLOCK and every balance 7."""
    results = {
        "eth_chainId": "0x7a69",
        "eth_getBlockByNumber": {"number": "0x5", "hash": BLOCK},
        "eth_getBalance": "0x7",
        "eth_call": "0x" + "00" * 31 + "07",
        **(overrides or {}),
    }

    def one(call: dict[str, Any]) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": call["id"], "result": results[call["method"]]}

    return [one(c) for c in payload] if isinstance(payload, list) else one(payload)


def json_answer(answer: Any) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()


class FakeNode:
    def __init__(self) -> None:
        self.responder: Responder = lambda payload: json_answer(honest(payload))
        self.requests: list[Any] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(payload)
                status, headers, body = fake.responder(payload)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def check(self, holdings: list[EthHolding] | None = None, timeout: float = 5.0) -> list[EthMismatch]:
        if holdings is None:
            holdings = [EthHolding("w[0]", addr(1), None, 7), EthHolding("w[1]", addr(1), addr(2), 7)]
        return check_ethereum_snapshot(self.url, ANVIL_CHAIN, 5, BLOCK, holdings, timeout=timeout)


@pytest.fixture
def fake() -> Iterator[FakeNode]:
    node = FakeNode()
    try:
        yield node
    finally:
        node.server.shutdown()
        node.server.server_close()


def test_fake_honest_node_accepts(fake: FakeNode) -> None:
    assert fake.check() == []


def test_batches_hold_at_most_100_calls(fake: FakeNode) -> None:
    holdings = [EthHolding(f"w[{i}]", addr(i), None, 7) for i in range(250)]
    assert fake.check(holdings) == []
    batches = [len(r) for r in fake.requests if isinstance(r, list)]
    assert batches == [100, 100, 50]


def answer_with(overrides: dict[str, Any]) -> Responder:
    return lambda payload: json_answer(honest(payload, overrides))


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"eth_chainId": "7a69"}, "not a 0x-hex quantity"),
        ({"eth_chainId": 31337}, "not a 0x-hex quantity"),
        ({"eth_chainId": "0x"}, "not a 0x-hex quantity"),
        ({"eth_getBlockByNumber": "0x5"}, "not a block object"),
        ({"eth_getBlockByNumber": {"number": "0x5", "hash": BLOCK[:-2]}}, "32-byte hash"),
        ({"eth_getBlockByNumber": {"number": "0x5"}}, "32-byte hash"),
        ({"eth_getBlockByNumber": {"number": "0x6", "hash": BLOCK}}, "another block"),
        ({"eth_getBalance": "0x" + "f" * 65}, "not a 0x-hex quantity"),
        ({"eth_getBalance": None}, "not a 0x-hex quantity"),
        ({"eth_getBalance": "-0x1"}, "not a 0x-hex quantity"),
        ({"eth_call": "0x" + "00" * 31}, "not one 32-byte word"),
        ({"eth_call": "0x" + "00" * 33}, "not one 32-byte word"),
        ({"eth_call": 7}, "not one 32-byte word"),
    ],
)
def test_malformed_results_raise_input_error(fake: FakeNode, overrides: dict[str, Any], match: str) -> None:
    fake.responder = answer_with(overrides)
    with pytest.raises(InputError, match=match) as info:
        fake.check()
    assert info.value.section == "eth-rpc"


def test_uppercase_block_hash_from_the_node_is_compared_case_insensitively(fake: FakeNode) -> None:
    fake.responder = answer_with({"eth_getBlockByNumber": {"number": "0x5", "hash": BLOCK.upper().replace("0X", "0x")}})
    assert fake.check() == []


def test_json_rpc_error_object_raises_input_error_with_a_clean_message(fake: FakeNode) -> None:
    def responder(payload: Any) -> tuple[int, dict[str, str], bytes]:
        if isinstance(payload, dict) and payload["method"] == "eth_chainId":
            return json_answer(honest(payload))
        if isinstance(payload, dict):
            error = {"code": -32000, "message": "missing trie node\x1b[2J\nfake verdict: solvent"}
            return json_answer({"jsonrpc": "2.0", "id": payload["id"], "error": error})
        return json_answer(honest(payload))

    fake.responder = responder
    with pytest.raises(InputError, match="eth_getBlockByNumber with an error: missing trie node") as info:
        fake.check()
    assert "\x1b" not in str(info.value) and "\n" not in str(info.value) and "-32000" in str(info.value)


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (lambda p: {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "batches off"}}, "batches off"),
        (lambda p: honest(p)[:-1], "answered 1 of 2"),
        (lambda p: [*honest(p), honest(p)[0]], "repeated id"),
        (lambda p: [{**c, "id": c["id"] + 10} for c in honest(p)], "unknown or repeated id"),
        (lambda p: [{**c, "id": str(c["id"])} for c in honest(p)], "missing, unknown"),
        (lambda p: [{"id": c["id"], "result": c["result"]} for c in honest(p)], "not a JSON-RPC 2.0"),
        (lambda p: [{"jsonrpc": "2.0", "id": c["id"]} for c in honest(p)], "neither result nor error"),
        (lambda p: {"jsonrpc": "2.0", "id": 0, "result": "0x7"}, "single value"),
    ],
)
def test_malformed_batch_answers(fake: FakeNode, answer: Callable[[Any], Any], match: str) -> None:
    def responder(payload: Any) -> tuple[int, dict[str, str], bytes]:
        if isinstance(payload, list):
            return json_answer(answer(payload))
        return json_answer(honest(payload))

    fake.responder = responder
    holdings = [EthHolding("w[0]", addr(1), None, 7), EthHolding("w[1]", addr(2), None, 7)]
    with pytest.raises(InputError, match=match):
        fake.check(holdings)


@pytest.mark.parametrize(
    ("response", "match"),
    [
        ((500, {}, b"oops"), "HTTP 500"),
        ((404, {}, b""), "HTTP 404"),
        ((200, {}, b"<html>not json</html>"), "not JSON as JSON-RPC sends it"),
        ((200, {}, b"\xff\xfe"), "not JSON as JSON-RPC sends it"),
        ((200, {}, b"[" * 100_000), "nested deeper"),
        ((200, {}, b'{"jsonrpc": "2.0", "id": 1, "result": 1.5}'), "non-integer"),
        ((200, {}, b'{"jsonrpc": "2.0", "id": 1, "id": 1, "result": "0x7a69"}'), "duplicate key"),
        ((200, {}, b'{"jsonrpc": "2.0", "id": 2, "result": "0x7a69"}'), "wrong id"),
        ((307, {"Location": "http://192.0.2.1/elsewhere"}, b""), "redirect to http://192.0.2.1/elsewhere"),
        ((301, {"Location": "/same-host"}, b""), "redirect"),
    ],
)
def test_http_level_failures(fake: FakeNode, response: tuple[int, dict[str, str], bytes], match: str) -> None:
    fake.responder = lambda payload: response
    with pytest.raises(InputError, match=match) as info:
        fake.check()
    assert info.value.section == "eth-rpc"
    assert len(fake.requests) == 1  # nothing was re-sent anywhere


def test_response_size_is_bounded(fake: FakeNode, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eth_rpc, "MAX_RESPONSE_BYTES", 1000)
    fake.responder = lambda payload: json_answer({**honest(payload), "padding": "x" * 2000})
    with pytest.raises(InputError, match="larger than 1000 bytes"):
        fake.check()


def test_timeout_raises_input_error(fake: FakeNode) -> None:
    def slow(payload: Any) -> tuple[int, dict[str, str], bytes]:
        time.sleep(1.5)
        return json_answer(honest(payload))

    fake.responder = slow
    started = time.monotonic()
    with pytest.raises(InputError, match=r"127\.0\.0\.1"):
        fake.check(timeout=0.3)
    assert time.monotonic() - started < 1.4


def test_missing_anvil_fails_with_the_install_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    import ethnode

    monkeypatch.setattr(ethnode, "ANVIL", tmp_path / "node_modules" / ".bin" / "anvil")
    with pytest.raises(pytest.fail.Exception, match="npm ci"):
        ethnode.start_anvil()
