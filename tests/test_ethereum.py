"""Ethereum proof of control: EIP-55 addresses, CAIP-2 chain ids, EIP-191 signatures (circuits.ethereum).

Known answers come from tests/vectors/ethereum/ (ERC-55's test cases, eth-account's and
eth-sig-util's personal_sign examples); fresh keys are signed with prover.eth_sign
(eth-account) and recovered both by our coincurve verifier and by eth-account.
"""

from __future__ import annotations

import json
import timeit
from pathlib import Path
from typing import Any

import pytest
from coincurve import PrivateKey, PublicKey
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_hash.auto import keccak
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from circuits.errors import FormatError, VerificationError, WitnessError
from circuits.ethereum import (
    SECP256K1_N,
    checksum_address,
    eip191_hash,
    eth_chain_id,
    parse_eth_address,
    verify_eip191,
)
from prover.eth_sign import eth_address_of, sign_eip191

VECTORS = Path(__file__).parent / "vectors" / "ethereum"
SECP256K1_P = 2**256 - 2**32 - 977
BLOCK = "0x" + "ab" * 32


def load(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((VECTORS / name).read_text(encoding="utf-8"))["cases"]
    return cases


EIP55 = load("eip55.json")
EIP191 = load("eip191.json")


def control_message(exchange: str, round_: str, chain: str, height: int, block: str, address: str) -> bytes:
    """The brief's signed message (the lead's circuits.control.control_message builds the same bytes)."""
    lines = [
        "zk-solvency proof of reserves v1",
        f"exchange: {exchange}",
        f"round: {round_}",
        f"chain: {chain}",
        f"height: {height}",
        f"block: {block}",
        f"address: {address}",
    ]
    return "\n".join(lines).encode("utf-8")


def key(i: int) -> bytes:
    return (0x1000 + i).to_bytes(32, "big")


def x_only(secret: bytes) -> bytes:
    return PrivateKey(secret).public_key.format(compressed=True)[1:]


def expected_class(signature: bytes) -> type[Exception]:
    """What the error convention says a 65-byte signature that does not verify must raise."""
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    if signature[64] not in (27, 28) or not 0 < r < SECP256K1_N or not 0 < s <= SECP256K1_N // 2:
        return FormatError
    return VerificationError


# --- EIP-55 -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", EIP55, ids=[c["name"] for c in EIP55])
def test_eip55_published_vectors(case: dict[str, Any]) -> None:
    text = case["address"]
    raw = bytes.fromhex(text[2:])
    assert checksum_address(raw) == text
    assert parse_eth_address(text) == raw
    assert parse_eth_address(text.lower()) == raw


@pytest.mark.parametrize("case", [c for c in EIP55 if c["name"].startswith("normal")], ids=lambda c: c["name"])
def test_eip55_each_case_flip_is_refused(case: dict[str, Any]) -> None:
    text = case["address"]
    for i in range(2, len(text)):
        if text[i].isalpha():
            flipped = text[:i] + text[i].swapcase() + text[i + 1 :]
            with pytest.raises(FormatError, match="checksum"):
                parse_eth_address(flipped)
    with pytest.raises(FormatError, match="checksum"):
        parse_eth_address("0x" + text[2:].upper())


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0x",
        "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0X5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe",
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed0",
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg",
        " 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed\n",
        "0x" + "\uff10" * 40,  # fullwidth digits are not hex digits
    ],
)
def test_malformed_addresses(text: str) -> None:
    with pytest.raises(FormatError, match="0x followed by 40 hex digits"):
        parse_eth_address(text)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=20, max_size=20))
def test_checksum_matches_eth_utils_and_round_trips(raw: bytes) -> None:
    text = checksum_address(raw)
    assert text == to_checksum_address(raw)
    assert parse_eth_address(text) == raw
    assert parse_eth_address(text.lower()) == raw


@pytest.mark.parametrize("size", [0, 19, 21, 32])
def test_checksum_address_wrong_size(size: int) -> None:
    with pytest.raises(FormatError, match="20 bytes"):
        checksum_address(bytes(size))


# --- CAIP-2 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "chain_id"),
    [("eip155:1", 1), ("eip155:31337", 31337), ("eip155:11155111", 11155111), (f"eip155:{2**63 - 1}", 2**63 - 1)],
)
def test_chain_ids(text: str, chain_id: int) -> None:
    assert eth_chain_id(text) == chain_id


@pytest.mark.parametrize(
    "text",
    [
        "eip155:",
        "eip155:0",
        "eip155:01",
        "eip155:+1",
        "eip155:-1",
        "eip155: 1",
        "eip155:1 ",
        "eip155:0x1",
        "eip155:1_000",
        "eip155:\u0661",  # ARABIC-INDIC DIGIT ONE: int() would take it
        f"eip155:{2**63}",
        "eip155:99999999999999999999",
        "EIP155:1",
        "eip155",
        "bip122:000000000019d6689c085ae165831e93",
    ],
)
def test_bad_chain_ids(text: str) -> None:
    with pytest.raises(FormatError):
        eth_chain_id(text)


# --- EIP-191 known answers ------------------------------------------------------------------


@pytest.mark.parametrize("case", EIP191, ids=[c["name"] for c in EIP191])
def test_eip191_published_vectors(case: dict[str, Any]) -> None:
    secret = bytes.fromhex(case["key"])
    message = bytes.fromhex(case["message_hex"])
    signature = bytes.fromhex(case["signature"])
    address = eth_address_of(secret)
    if case["address"] is not None:
        assert address == bytes.fromhex(case["address"][2:])
    if case["message_hash"] is not None:
        assert eip191_hash(message).hex() == case["message_hash"]
    assert verify_eip191(address, signature, message) == frozenset({x_only(secret)})
    # RFC 6979 nonces: eth-account reproduces the published signature byte for byte.
    assert sign_eip191(secret, message) == signature


def test_eip191_hash_matches_eth_account() -> None:
    for message in [b"", b"a", "I♥SF".encode(), bytes(range(256)) * 5]:
        signed = Account.sign_message(encode_defunct(primitive=message), private_key=key(1))
        assert eip191_hash(message) == bytes(signed.message_hash)
    # the length is decimal ASCII text: a 10-byte message has the two-digit prefix "10"
    assert eip191_hash(b"0123456789") == keccak(b"\x19Ethereum Signed Message:\n100123456789")


# --- fresh keys -------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=SECP256K1_N - 1), st.binary(max_size=300))
def test_fresh_key_round_trip_cross_checked_with_eth_account(k: int, message: bytes) -> None:
    secret = k.to_bytes(32, "big")
    address = eth_address_of(secret)
    signature = sign_eip191(secret, message)
    assert len(signature) == 65 and signature[64] in (27, 28)
    assert verify_eip191(address, signature, message) == frozenset({x_only(secret)})
    recovered = Account.recover_message(encode_defunct(primitive=message), signature=signature)
    assert recovered == checksum_address(address)
    assert Account.from_key(secret).address == checksum_address(address)


def test_control_message_round_trip_and_replay() -> None:
    secret = key(7)
    address = checksum_address(eth_address_of(secret))
    fields: dict[str, Any] = {
        "exchange": "Example Exchange",
        "round_": "2026-12-31",
        "chain": "eip155:1",
        "height": 21_000_000,
        "block": BLOCK,
        "address": address,
    }
    message = control_message(**fields)
    signature = sign_eip191(secret, message)
    assert verify_eip191(eth_address_of(secret), signature, message) == frozenset({x_only(secret)})
    changes: dict[str, Any] = {
        "exchange": "Other Exchange",
        "round_": "2027-01-31",
        "chain": "eip155:31337",
        "height": 21_000_001,
        "block": "0x" + "ac" * 32,
        "address": checksum_address(eth_address_of(key(8))),
    }
    for name, value in changes.items():
        replayed = control_message(**{**fields, name: value})
        with pytest.raises(VerificationError, match="recovers to"):
            verify_eip191(eth_address_of(secret), signature, replayed)


def test_signature_of_another_key_is_refused_naming_both_addresses() -> None:
    message = b"zk-solvency"
    signature = sign_eip191(key(1), message)
    signer = checksum_address(eth_address_of(key(1)))
    stated = checksum_address(eth_address_of(key(2)))
    with pytest.raises(VerificationError) as info:
        verify_eip191(eth_address_of(key(2)), signature, message)
    assert str(info.value) == f"the signature recovers to {signer}, not to the stated address {stated}"


# --- malformed and tampered signatures -------------------------------------------------------


def test_each_byte_flip_is_refused_with_the_exact_class() -> None:
    secret = key(3)
    address = eth_address_of(secret)
    message = control_message("X", "r1", "eip155:1", 5, BLOCK, checksum_address(address))
    signature = sign_eip191(secret, message)
    for i in range(65):
        for mask in (0x01, 0x80):
            tampered = bytearray(signature)
            tampered[i] ^= mask
            with pytest.raises(expected_class(bytes(tampered))):
                verify_eip191(address, bytes(tampered), message)


def test_high_s_twin_is_refused() -> None:
    secret = key(4)
    address = eth_address_of(secret)
    message = b"twin"
    signature = sign_eip191(secret, message)
    s = int.from_bytes(signature[32:64], "big")
    twin = signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes((55 - signature[64],))  # 27 <-> 28
    # The twin is a valid ECDSA signature of the same key (libsecp256k1 recovers it) ...
    recovered = PublicKey.from_signature_and_message(twin[:64] + bytes((twin[64] - 27,)), eip191_hash(message), None)
    assert recovered.format(compressed=True)[1:] == x_only(secret)
    # ... but not the canonical encoding, so it does not decode.
    with pytest.raises(FormatError, match="high"):
        verify_eip191(address, twin, message)


@pytest.mark.parametrize(
    ("r", "s", "match"),
    [
        (0, 1, "r is not"),
        (SECP256K1_N, 1, "r is not"),
        (2**256 - 1, 1, "r is not"),
        (1, 0, "s is not"),
        (1, SECP256K1_N, "s is not"),
        (1, SECP256K1_N // 2 + 1, "high"),
    ],
)
def test_scalars_out_of_range(r: int, s: int, match: str) -> None:
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big") + b"\x1b"
    with pytest.raises(FormatError, match=match):
        verify_eip191(bytes(20), signature, b"m")


@pytest.mark.parametrize("v", [0, 1, 2, 26, 29, 35, 36, 255])
def test_v_other_than_27_or_28_is_refused(v: int) -> None:
    signature = sign_eip191(key(5), b"m")
    with pytest.raises(FormatError, match="27 or 28"):
        verify_eip191(eth_address_of(key(5)), signature[:64] + bytes((v,)), b"m")


@pytest.mark.parametrize("size", [0, 64, 66, 130])
def test_wrong_signature_length(size: int) -> None:
    signature = (sign_eip191(key(5), b"m") * 3)[:size]
    with pytest.raises(FormatError, match="65 bytes"):
        verify_eip191(eth_address_of(key(5)), signature, b"m")


def test_trailing_byte_is_refused() -> None:
    signature = sign_eip191(key(5), b"m")
    with pytest.raises(FormatError, match="65 bytes"):
        verify_eip191(eth_address_of(key(5)), signature + b"\x00", b"m")


@pytest.mark.parametrize("size", [0, 19, 21, 32])
def test_wrong_address_length(size: int) -> None:
    with pytest.raises(FormatError, match="20 bytes"):
        verify_eip191(bytes(size), sign_eip191(key(5), b"m"), b"m")


def test_r_that_is_no_point_x_coordinate_fails_recovery() -> None:
    r = next(x for x in range(1, 100) if pow(x**3 + 7, (SECP256K1_P - 1) // 2, SECP256K1_P) != 1)
    signature = r.to_bytes(32, "big") + (1).to_bytes(32, "big") + b"\x1b"
    with pytest.raises(VerificationError, match="no public key recovers"):
        verify_eip191(bytes(20), signature, b"m")


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=65, max_size=65), st.binary(max_size=40))
def test_random_signatures_raise_only_the_two_classes(signature: bytes, message: bytes) -> None:
    with pytest.raises((FormatError, VerificationError)) as info:
        verify_eip191(eth_address_of(key(6)), signature, message)
    assert type(info.value) is expected_class(signature)


# --- signer input -----------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [b"", bytes(31), bytes(33), bytes(32), SECP256K1_N.to_bytes(32, "big")])
def test_signer_refuses_invalid_keys(secret: bytes) -> None:
    with pytest.raises(WitnessError):
        eth_address_of(secret)
    with pytest.raises(WitnessError):
        sign_eip191(secret, b"m")


# --- microbenchmark (deselected by default; run with -m bench) -------------------------------


@pytest.mark.bench
def test_bench_verify_eip191() -> None:
    secret = key(9)
    address = eth_address_of(secret)
    message = control_message("Example Exchange", "2026-12-31", "eip155:1", 1, BLOCK, checksum_address(address))
    signature = sign_eip191(secret, message)
    runs = 5000
    seconds = min(timeit.repeat(lambda: verify_eip191(address, signature, message), number=runs, repeat=3))
    per_call_us = seconds / runs * 1e6
    assert per_call_us < 200


def test_recovery_id_0_or_1_gets_a_hint() -> None:
    signature = sign_eip191(key(5), b"m")
    with pytest.raises(FormatError, match=r"recovery id 1 is written as 28"):
        verify_eip191(eth_address_of(key(5)), signature[:64] + b"\x01", b"m")
