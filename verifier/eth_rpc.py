"""Cross-check an Ethereum snapshot against a node over standard JSON-RPC (``--eth-rpc URL``).

Offline, the wallet balances are "as stated by the exchange at block H". With a
node, :func:`check_ethereum_snapshot` confirms them:

1. ``eth_chainId`` must be the snapshot's chain id (else :class:`InputError`:
   the URL points at another network, and nothing it says applies);
2. the block at height H (``eth_getBlockByNumber``) must have the stated hash
   (else one :class:`EthMismatch` with ``where`` None, and the check stops:
   balances at another block mean nothing);
3. for each holding, ``eth_getBalance(address, H)``, or for a token
   ``eth_call({to: token, data: balanceOf(address)}, H)`` decoded as a uint256,
   must equal the stated balance; every difference is one :class:`EthMismatch`.

The transport is the standard library only (:mod:`urllib`): HTTP POST of JSON-RPC
2.0, balance calls batched at most :data:`BATCH_SIZE` to a request, a timeout on
every request, responses bounded to :data:`MAX_RESPONSE_BYTES`, no redirects
followed (a JSON-RPC endpoint does not move; give the final URL), and environment
proxies bypassed for loopback hosts. Anything the node answers that is not a
well-formed result (a transport or HTTP error, a JSON-RPC error object, a
malformed value) raises :class:`InputError` with section ``"eth-rpc"``: the check
could not be done, which is never taken as a pass.
"""

from __future__ import annotations

import ipaddress
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any, Final, NoReturn

from circuits.errors import FormatError, InputError
from circuits.ethereum import checksum_address, parse_eth_address
from circuits.jsonio import load_json

__all__ = [
    "EthHolding",
    "EthMismatch",
    "check_ethereum_snapshot",
]

#: Most JSON-RPC calls sent in one HTTP request.
BATCH_SIZE: Final[int] = 100
#: Largest HTTP response body read from the node.
MAX_RESPONSE_BYTES: Final[int] = 64 * 1024 * 1024

_SECTION: Final[str] = "eth-rpc"
_BALANCE_OF: Final[str] = "0x70a08231"
_QUANTITY_RE: Final[re.Pattern[str]] = re.compile(r"0x[0-9a-fA-F]{1,64}")
_HASH_RE: Final[re.Pattern[str]] = re.compile(r"0x[0-9a-fA-F]{64}")
_STATED_HASH_RE: Final[re.Pattern[str]] = re.compile(r"0x[0-9a-f]{64}")
_WORD_RE: Final[re.Pattern[str]] = re.compile(r"0x[0-9a-fA-F]{64}")
_MAX_REASON: Final[int] = 200


@dataclass(frozen=True)
class EthHolding:
    """One stated Ethereum balance: ETH (``token`` None) or an ERC-20 token of ``address`` at the snapshot.

    Attributes:
        where: Where the holding was stated, as reports show it (e.g. ``"wallets[3]"``).
        address: The holder, EIP-55 checksummed (lowercase is accepted).
        token: The ERC-20 contract address (EIP-55), or None for the native coin.
        balance: The stated balance in base units (wei, or the token's smallest unit).
    """

    where: str
    address: str
    token: str | None
    balance: int


@dataclass(frozen=True)
class EthMismatch:
    """A difference between the snapshot and the node.

    Attributes:
        where: The holding's ``where``, or None for the block itself.
        address: The holder (EIP-55), or None for the block.
        token: The token contract (EIP-55), or None for ETH and the block.
        stated: What the snapshot says (a decimal balance, or the block hash).
        actual: What the node says (a decimal balance, the node's block hash, or ``"none"``).
        reason: A plain sentence naming the address (or block) and both values.
    """

    where: str | None
    address: str | None
    token: str | None
    stated: str
    actual: str
    reason: str


def _fail(reason: str, field: str | None = None) -> NoReturn:
    raise InputError(reason, section=_SECTION, field=field)


def _printable(text: object) -> str:
    """Return node-supplied text safe to print: control characters replaced, length bounded."""
    shown = "".join(c if c.isprintable() else "?" for c in str(text))
    return shown if len(shown) <= _MAX_REASON else shown[:_MAX_REASON] + "..."


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse every redirect: a JSON-RPC POST is not re-sent elsewhere."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        _fail(f"the node answered HTTP {code}, a redirect to {_printable(newurl)}; give the final URL")


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Client:
    """A JSON-RPC 2.0 client over HTTP(S) POST."""

    def __init__(self, url: str, timeout: float) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            _fail("the Ethereum node URL must be an http:// or https:// URL with a host")
        handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
        if _is_loopback(parsed.hostname):
            handlers.append(urllib.request.ProxyHandler({}))
        self._opener = urllib.request.build_opener(*handlers)
        self._url = url
        self._host = parsed.hostname
        self._timeout = timeout

    def _post(self, payload: object) -> Any:
        body = json.dumps(payload).encode("utf-8")
        request = urllib.request.Request(
            self._url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                data: bytes = response.read(MAX_RESPONSE_BYTES + 1)
        except InputError:
            raise
        except urllib.error.HTTPError as error:
            _fail(f"the node at {self._host} answered HTTP {error.code} {_printable(error.reason)}")
        except urllib.error.URLError as error:
            _fail(f"cannot reach the node at {self._host}: {_printable(error.reason)}")
        except (HTTPException, OSError, ValueError) as error:
            _fail(f"cannot talk to the node at {self._host}: {_printable(error) or type(error).__name__}")
        if len(data) > MAX_RESPONSE_BYTES:
            _fail(f"the node's response is larger than {MAX_RESPONSE_BYTES} bytes")
        try:
            value, _ = load_json(data, MAX_RESPONSE_BYTES, "response")
        except FormatError as error:
            # bounded nesting (the C parser would overflow the stack), integers only, no duplicate keys
            _fail(f"the node's response is not JSON as JSON-RPC sends it ({_printable(error)})")
        return value

    @staticmethod
    def _result(method: str, answer: Any) -> Any:
        if not isinstance(answer, dict) or answer.get("jsonrpc") != "2.0":
            _fail(f"the node's answer to {method} is not a JSON-RPC 2.0 response", method)
        if "error" in answer:
            error = answer["error"]
            if isinstance(error, dict):
                detail = f"{_printable(error.get('message'))} (code {_printable(error.get('code'))})"
            else:
                detail = _printable(error)
            _fail(f"the node answered {method} with an error: {detail}", method)
        if "result" not in answer:
            _fail(f"the node's answer to {method} has neither result nor error", method)
        return answer["result"]

    def call(self, method: str, params: list[Any]) -> Any:
        """Send one call and return its result."""
        answer = self._post({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        if isinstance(answer, dict) and answer.get("id") != 1 and "error" not in answer:
            _fail(f"the node's answer to {method} has the wrong id", method)
        return self._result(method, answer)

    def batch(self, method: str, calls: Sequence[list[Any]]) -> list[Any]:
        """Send calls of one method, at most :data:`BATCH_SIZE` to a request; return the results in order."""
        results: list[Any] = []
        for start in range(0, len(calls), BATCH_SIZE):
            chunk = calls[start : start + BATCH_SIZE]
            payload = [{"jsonrpc": "2.0", "id": i, "method": method, "params": p} for i, p in enumerate(chunk)]
            answer = self._post(payload)
            if not isinstance(answer, list):
                self._result(method, answer)  # a single error object for the whole batch raises here
                _fail(f"the node answered a batch of {method} calls with a single value, not a list", method)
            by_id: dict[int, Any] = {}
            for item in answer:
                ident = item.get("id") if isinstance(item, dict) else None
                if type(ident) is not int or not 0 <= ident < len(chunk) or ident in by_id:
                    _fail(f"the node's batch answer to {method} has a missing, unknown or repeated id", method)
                by_id[ident] = item
            if len(by_id) != len(chunk):
                _fail(f"the node answered {len(by_id)} of {len(chunk)} {method} calls in a batch", method)
            results.extend(self._result(method, by_id[i]) for i in range(len(chunk)))
        return results


def _quantity(method: str, value: Any) -> int:
    """Decode a JSON-RPC quantity (``0x`` + 1..64 hex digits)."""
    if not isinstance(value, str) or _QUANTITY_RE.fullmatch(value) is None:
        _fail(f"the node's result for {method} is not a 0x-hex quantity: {_printable(value)}", method)
    return int(value, 16)


def _stated_address(text: str, what: str, where: str) -> str:
    try:
        return checksum_address(parse_eth_address(text))
    except FormatError as error:
        raise FormatError(f"{what}: {error}", section=where) from None


def check_ethereum_snapshot(
    url: str,
    chain_id: int,
    height: int,
    block_hash: str,
    holdings: Sequence[EthHolding],
    *,
    timeout: float = 30.0,
) -> list[EthMismatch]:
    """Check a snapshot's block and stated balances against an Ethereum node.

    Args:
        url: The node's JSON-RPC endpoint, ``http://`` or ``https://``.
        chain_id: The snapshot chain's id (``eip155:<chain_id>``).
        height: The snapshot block height H.
        block_hash: The stated hash of block H, ``0x`` + 64 lowercase hex digits.
        holdings: The stated balances at H.
        timeout: Seconds allowed for each HTTP request.

    Returns:
        Every difference found, in holdings order; empty when the node confirms the
        snapshot. A wrong (or missing) block at H is the only mismatch returned.

    Raises:
        InputError: (section ``"eth-rpc"``) If the URL is not http(s), the node cannot
            be reached or answers with an HTTP error, a JSON-RPC error object or a
            malformed result, or its chain id is not ``chain_id``.
        FormatError: If the stated block hash or an address in ``holdings`` is malformed.
    """
    if _STATED_HASH_RE.fullmatch(block_hash) is None:
        raise FormatError("the stated block hash is not 0x and 64 lowercase hex digits")
    if height < 0:
        raise FormatError("the stated block height is negative")
    stated = [
        (
            h,
            _stated_address(h.address, "address", h.where),
            None if h.token is None else _stated_address(h.token, "token", h.where),
        )
        for h in holdings
    ]
    client = _Client(url, timeout)
    node_chain = _quantity("eth_chainId", client.call("eth_chainId", []))
    if node_chain != chain_id:
        _fail(f"the node is on chain {node_chain}, not on the snapshot's chain {chain_id}", "eth_chainId")

    tag = hex(height)
    block = client.call("eth_getBlockByNumber", [tag, False])
    if block is None:
        return [
            EthMismatch(
                None, None, None, block_hash, "none", f"the node has no block at height {height} (stated {block_hash})"
            )
        ]
    if not isinstance(block, dict):
        _fail("the node's result for eth_getBlockByNumber is not a block object", "eth_getBlockByNumber")
    node_hash = block.get("hash")
    if not isinstance(node_hash, str) or _HASH_RE.fullmatch(node_hash) is None:
        _fail("the node's block has no 0x-hex 32-byte hash", "eth_getBlockByNumber")
    if _quantity("eth_getBlockByNumber", block.get("number")) != height:
        _fail(f"the node answered eth_getBlockByNumber({height}) with another block", "eth_getBlockByNumber")
    node_hash = node_hash.lower()
    if node_hash != block_hash:
        return [
            EthMismatch(
                None,
                None,
                None,
                block_hash,
                node_hash,
                f"the block at height {height} is {node_hash} on the node, not the stated {block_hash}",
            )
        ]

    native = [i for i, (_, _, token) in enumerate(stated) if token is None]
    tokens = [i for i, (_, _, token) in enumerate(stated) if token is not None]
    actual: list[int | None] = [None] * len(stated)
    balances = client.batch("eth_getBalance", [[stated[i][1], tag] for i in native])
    for i, value in zip(native, balances, strict=True):
        actual[i] = _quantity("eth_getBalance", value)
    calls = [[{"to": stated[i][2], "data": _BALANCE_OF + stated[i][1][2:].lower().rjust(64, "0")}, tag] for i in tokens]
    for i, value in zip(tokens, client.batch("eth_call", calls), strict=True):
        if value == "0x":
            actual[i] = None  # no code at the token address: nothing answers balanceOf
        elif not isinstance(value, str) or _WORD_RE.fullmatch(value) is None:
            _fail(f"the token's balanceOf result is not one 32-byte word: {_printable(value)}", "eth_call")
        else:
            actual[i] = int(value, 16)

    mismatches: list[EthMismatch] = []
    for (h, address, token), value in zip(stated, actual, strict=True):
        if value == h.balance:
            continue
        asset = "ETH" if token is None else f"token {token}"
        if value is None:
            reason = f"no contract at {token} answered balanceOf({address}) at height {height}"
            shown = "none"
        else:
            reason = f"the {asset} balance of {address} at height {height} is {value}, not the stated {h.balance}"
            shown = str(value)
        mismatches.append(EthMismatch(h.where, address, token, str(h.balance), shown, reason))
    return mismatches
