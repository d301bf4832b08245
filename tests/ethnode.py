"""A real Ethereum node for the tests: anvil on a free 127.0.0.1 port, and helpers to drive it.

The binary is ``<repo>/node_modules/.bin/anvil``, installed by ``npm ci`` from
``package.json`` (``@foundry-rs/anvil`` pinned, lockfile committed); the README's test
command and ``.ci/run`` run ``npm ci`` first. If it is missing the tests FAIL with
the install command: they are never skipped.

Use the ``anvil`` fixture (module scope: each test module gets a fresh chain)::

    from ethnode import EthNode, anvil  # noqa: F401  (the fixture is found by name)

    def test_x(anvil: EthNode) -> None:
        anvil.fund(address, 10**18)
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["ANVIL", "EthNode", "anvil", "start_anvil"]

REPO = Path(__file__).resolve().parent.parent
ANVIL = REPO / "node_modules" / ".bin" / "anvil"
START_TIMEOUT = 60.0


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGTERM it when the test process dies (even by a crash).

    npm's wrapper forwards SIGTERM to the anvil binary it spawns, so no node outlives the tests.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class EthNode:
    """A running anvil and a small JSON-RPC client for it (test helper: errors are AssertionError)."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._accounts: list[str] | None = None

    # --- transport ----------------------------------------------------------------------------

    def rpc(self, method: str, *params: Any) -> Any:
        """Call one JSON-RPC method and return its result (AssertionError on an error object)."""
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
        request = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        with self._opener.open(request, timeout=30) as response:
            answer = json.loads(response.read())
        assert "error" not in answer, f"{method}{params}: {answer['error']}"
        return answer["result"]

    def stop(self) -> None:
        """Stop the node: SIGTERM to the process group this helper started, then SIGKILL if it lingers."""
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    # --- chain helpers --------------------------------------------------------------------------

    @property
    def accounts(self) -> list[str]:
        """anvil's unlocked dev accounts (each starts with 10,000 ETH)."""
        if self._accounts is None:
            self._accounts = list(self.rpc("eth_accounts"))
        return self._accounts

    def block_number(self) -> int:
        """The current head's height."""
        return int(self.rpc("eth_blockNumber"), 16)

    def block_hash(self, height: int) -> str:
        """The hash of the block at ``height`` (0x + 64 lowercase hex)."""
        block = self.rpc("eth_getBlockByNumber", hex(height), False)
        assert block is not None, f"no block at {height}"
        return str(block["hash"]).lower()

    def mine(self, blocks: int = 1) -> None:
        """Mine ``blocks`` empty blocks."""
        self.rpc("anvil_mine", hex(blocks))

    def balance(self, address: str, height: int | str = "latest") -> int:
        """The ETH balance of ``address`` at ``height``."""
        tag = hex(height) if isinstance(height, int) else height
        return int(self.rpc("eth_getBalance", address, tag), 16)

    def send(self, sender: str, tx: dict[str, Any]) -> dict[str, Any]:
        """Send a transaction from an unlocked or impersonated ``sender``; return its receipt (it must succeed)."""
        tx_hash = self.rpc("eth_sendTransaction", {"from": sender, **tx})
        deadline = time.monotonic() + 30
        receipt: dict[str, Any] | None = self.rpc("eth_getTransactionReceipt", tx_hash)
        while receipt is None:  # anvil automines each transaction into its own block, a moment later
            assert time.monotonic() < deadline, f"transaction {tx_hash} was not mined"
            time.sleep(0.01)
            receipt = self.rpc("eth_getTransactionReceipt", tx_hash)
        assert receipt["status"] == "0x1", f"transaction reverted: {receipt}"
        return receipt

    def fund(self, address: str, wei: int) -> None:
        """Send ``wei`` to ``address`` from dev account 0 (one transaction, one block)."""
        self.send(self.accounts[0], {"to": address, "value": hex(wei)})

    def set_balance(self, address: str, wei: int) -> None:
        """Set an address's balance directly (``anvil_setBalance``), then mine it into a block."""
        self.rpc("anvil_setBalance", address, hex(wei))
        self.mine()

    def send_from(self, address: str, tx: dict[str, Any]) -> dict[str, Any]:
        """Send a transaction from any address (``anvil_impersonateAccount``); return its receipt."""
        self.rpc("anvil_impersonateAccount", address)
        try:
            return self.send(address, tx)
        finally:
            self.rpc("anvil_stopImpersonatingAccount", address)

    def deploy(self, init_code: bytes, sender: str | None = None) -> str:
        """Deploy a contract from ``init_code``; return its address (lowercase hex)."""
        receipt = self.send(sender or self.accounts[0], {"data": "0x" + init_code.hex()})
        return str(receipt["contractAddress"]).lower()

    def call(self, to: str, data: bytes, height: int | str = "latest") -> bytes:
        """``eth_call`` a contract; return the raw return data."""
        tag = hex(height) if isinstance(height, int) else height
        return bytes.fromhex(str(self.rpc("eth_call", {"to": to, "data": "0x" + data.hex()}, tag))[2:])

    def token_balance(self, token: str, holder: str, height: int | str = "latest") -> int:
        """``balanceOf(holder)`` of an ERC-20 at ``height``."""
        data = bytes.fromhex("70a08231") + bytes.fromhex(holder[2:]).rjust(32, b"\0")
        return int.from_bytes(self.call(token, data, height), "big")

    def transfer_token(self, token: str, sender: str, to: str, amount: int) -> dict[str, Any]:
        """``transfer(to, amount)`` from ``sender`` (impersonated unless a dev account); return the receipt."""
        data = bytes.fromhex("a9059cbb") + bytes.fromhex(to[2:]).rjust(32, b"\0") + amount.to_bytes(32, "big")
        tx = {"to": token, "data": "0x" + data.hex()}
        if sender.lower() in (a.lower() for a in self.accounts):
            return self.send(sender, tx)
        return self.send_from(sender, tx)


def start_anvil(attempts: int = 3) -> EthNode:
    """Start anvil on a free loopback port and wait until it answers; fail (never skip) if it cannot."""
    if not os.access(ANVIL, os.X_OK):
        pytest.fail(
            f"anvil is not installed at {ANVIL}: run `npm ci --no-audit --no-fund` in {REPO} "
            "(it installs @foundry-rs/anvil from package.json; the README's test command does this first)",
            pytrace=False,
        )
    last = ""
    for _ in range(attempts):
        port = _free_port()
        log = Path(tempfile.mkstemp(prefix="anvil-", suffix=".log")[1])
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--silent"],
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so stop() also ends the binary npm's wrapper spawns
                preexec_fn=_die_with_parent,
            )
        node = EthNode(process, port, log)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if node.rpc("eth_chainId"):
                    return node
            except OSError:
                time.sleep(0.1)
        node.stop()
        last = log.read_text(errors="replace")[-2000:]
    pytest.fail(f"anvil did not start on 127.0.0.1 after {attempts} attempts; its output:\n{last}", pytrace=False)


@pytest.fixture(scope="module")
def anvil() -> Iterator[EthNode]:
    """A fresh anvil chain (chain id 31337) for the test module, stopped at its end."""
    node = start_anvil()
    try:
        yield node
    finally:
        node.stop()
        node.log.unlink(missing_ok=True)
