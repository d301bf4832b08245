"""Bitcoin addresses and multisig scripts: BIP-173 / BIP-350 vectors, Base58Check, networks, scripts.

Vectors: tests/vectors/bitcoin/addresses.json (BIP-173 and BIP-350 test vectors, sources in the file).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from coincurve import PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from circuits.bitcoin_address import (
    NETWORKS,
    AddressKind,
    BitcoinAddress,
    BitcoinNetwork,
    hash160,
    multisig_script,
    p2pkh_address,
    p2sh_address,
    p2sh_p2wpkh_address,
    p2tr_address,
    p2wpkh_address,
    p2wsh_address,
    parse_address,
    parse_multisig_script,
    tagged_hash,
    taproot_tweak,
)
from circuits.errors import FormatError

VECTORS = json.loads((Path(__file__).parent / "vectors" / "bitcoin" / "addresses.json").read_text(encoding="utf-8"))
MAINNET = NETWORKS["bip122:000000000019d6689c085ae165831e93"]
TESTNET = NETWORKS["bip122:000000000933ea01ad0ee984209779ba"]
REGTEST = NETWORKS["bip122:0f9188f13cb7b2c71f2a335e3a4fc328"]
ALL_NETWORKS = [MAINNET, TESTNET, REGTEST]


def _key(i: int, *, compressed: bool = True) -> bytes:
    return PrivateKey((i + 1).to_bytes(32, "big")).public_key.format(compressed=compressed)


def test_networks_are_keyed_by_caip2():
    assert set(NETWORKS) == {
        "bip122:000000000019d6689c085ae165831e93",
        "bip122:000000000933ea01ad0ee984209779ba",
        "bip122:0f9188f13cb7b2c71f2a335e3a4fc328",
    }
    assert all(isinstance(n, BitcoinNetwork) and NETWORKS[n.caip2] is n for n in NETWORKS.values())
    assert [(n.name, n.hrp, n.p2pkh_version, n.p2sh_version) for n in ALL_NETWORKS] == [
        ("mainnet", "bc", 0, 5),
        ("testnet3", "tb", 0x6F, 0xC4),
        ("regtest", "bcrt", 0x6F, 0xC4),
    ]


# --- generic bech32 / bech32m strings (the internal decoder) -------------------------------------


@pytest.mark.parametrize("text", VECTORS["bech32_valid"] + VECTORS["bech32m_valid"])
def test_bip173_bip350_valid_strings_decode(text):
    from circuits.bitcoin_address import _BECH32_CONST, _BECH32M_CONST, _bech32_decode

    _, _, constant = _bech32_decode(text)
    assert constant == (_BECH32_CONST if text in VECTORS["bech32_valid"] else _BECH32M_CONST)


@pytest.mark.parametrize("text", VECTORS["bech32_invalid"] + VECTORS["bech32m_invalid"])
def test_bip173_bip350_invalid_strings_are_refused(text):
    from circuits.bitcoin_address import _bech32_decode

    with pytest.raises(FormatError):
        _bech32_decode(text)


# --- segwit addresses -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", VECTORS["supported"], ids=lambda c: c["address"][:16])
def test_bip350_valid_supported_addresses(case):
    address = parse_address(NETWORKS[case["network"]], case["address"])
    assert address.kind is AddressKind[case["kind"]]
    assert address.script_pubkey.hex() == case["script_pubkey"]
    assert address.text == case["address"].lower()
    assert parse_address(address.network, address.text) == address


@pytest.mark.parametrize("case", VECTORS["unsupported"], ids=lambda c: c["reason"])
def test_bip350_valid_but_unsupported_versions_are_refused(case):
    with pytest.raises(FormatError, match="not supported"):
        parse_address(NETWORKS[case["network"]], case["address"])


@pytest.mark.parametrize("case", VECTORS["invalid"], ids=lambda c: c["reason"])
@pytest.mark.parametrize("network", ALL_NETWORKS, ids=lambda n: n.name)
def test_bip173_bip350_invalid_addresses_are_refused(case, network):
    with pytest.raises(FormatError):
        parse_address(network, case["address"])


def test_wrong_network_segwit_is_refused_with_its_name():
    text = p2wpkh_address(TESTNET, _key(1)).text
    with pytest.raises(FormatError, match="testnet3 address, not a mainnet"):
        parse_address(MAINNET, text)
    with pytest.raises(FormatError, match="testnet3 address, not a regtest"):
        parse_address(REGTEST, text)
    regtest = p2tr_address(REGTEST, _key(2)[1:]).text
    assert regtest.startswith("bcrt1p")
    with pytest.raises(FormatError, match="regtest address, not a mainnet"):
        parse_address(MAINNET, regtest)


def test_uppercase_segwit_is_accepted_and_canonicalized_lowercase():
    address = p2wsh_address(MAINNET, b"\x51")
    assert parse_address(MAINNET, address.text.upper()) == address


# --- base58 ---------------------------------------------------------------------------------------

# From the BIP-137 vector sources (Bitcoin Core rpc_signmessagewithprivkey.py, Electrum test_bitcoin.py).
BASE58 = [
    (MAINNET, "15hETetDmcXm1mM4sEf7U2KXC9hDHFMSzz", AddressKind.P2PKH),
    (MAINNET, "1GPHVTY8UD9my6jyP4tb2TYJwUbDetyNC6", AddressKind.P2PKH),
    (MAINNET, "3DYoBqQ5N6dADzyQjy9FT1Ls4amiYVaqTG", AddressKind.P2SH),
    (TESTNET, "mpLQjfK79b7CCV4VMJWEWAj5Mpx8Up5zxB", AddressKind.P2PKH),
]


@pytest.mark.parametrize(("network", "text", "kind"), BASE58)
def test_base58_addresses_round_trip(network, text, kind):
    address = parse_address(network, text)
    assert address.kind is kind
    assert address.text == text


def test_base58_leading_zero_program():
    # hash160 = 00..00 gives '1111111111111111111114oLvT2' (all leading zero bytes become '1').
    address = BitcoinAddress(MAINNET, AddressKind.P2PKH, bytes(20))
    assert address.text == "1111111111111111111114oLvT2"
    assert parse_address(MAINNET, address.text) == address


def test_base58_wrong_network_and_bad_checksum():
    with pytest.raises(FormatError, match="testnet3 or regtest address, not a mainnet"):
        parse_address(MAINNET, "mpLQjfK79b7CCV4VMJWEWAj5Mpx8Up5zxB")
    with pytest.raises(FormatError, match="mainnet address, not a testnet3"):
        parse_address(TESTNET, "15hETetDmcXm1mM4sEf7U2KXC9hDHFMSzz")
    # Testnet3 and regtest share base58 versions: the same text decodes on both (documented).
    assert parse_address(REGTEST, "mpLQjfK79b7CCV4VMJWEWAj5Mpx8Up5zxB").network is REGTEST
    with pytest.raises(FormatError, match="checksum"):
        parse_address(MAINNET, "15hETetDmcXm1mM4sEf7U2KXC9hDHFMSzy")
    with pytest.raises(FormatError, match="alphabet"):
        parse_address(MAINNET, "15hETetDmcXm1mM4sEf7U2KXC9hDHFMSz0")
    with pytest.raises(FormatError):
        parse_address(MAINNET, "")
    with pytest.raises(FormatError):
        parse_address(MAINNET, "1" * 91)


def test_base58_unknown_version_and_wrong_length():
    from circuits.bitcoin_address import _base58check_encode

    with pytest.raises(FormatError, match="version byte 48"):
        parse_address(MAINNET, _base58check_encode(bytes([48]) + bytes(20)))
    with pytest.raises(FormatError, match="21 bytes, not 22"):
        parse_address(MAINNET, _base58check_encode(bytes([0]) + bytes(21)))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=100))
def test_parse_address_raises_only_format_error(text):
    for network in ALL_NETWORKS:
        try:
            address = parse_address(network, text)
        except FormatError:
            continue
        assert parse_address(network, address.text) == address


# --- construction ---------------------------------------------------------------------------------


def test_address_builders():
    key = _key(7)
    assert p2pkh_address(MAINNET, key).program == hash160(key)
    assert p2pkh_address(MAINNET, _key(7, compressed=False)).program == hash160(_key(7, compressed=False))
    assert p2wpkh_address(MAINNET, key).kind is AddressKind.P2WPKH
    nested = p2sh_p2wpkh_address(MAINNET, key)
    assert nested == p2sh_address(MAINNET, b"\x00\x14" + hash160(key))
    assert nested.text.startswith("3")
    assert p2wsh_address(TESTNET, b"\x51").program == hashlib.sha256(b"\x51").digest()
    with pytest.raises(FormatError):
        p2wpkh_address(MAINNET, _key(7, compressed=False))
    with pytest.raises(FormatError):
        p2sh_p2wpkh_address(MAINNET, b"\x05" + key[1:])
    with pytest.raises(FormatError):
        p2pkh_address(MAINNET, key[:-1])
    with pytest.raises(FormatError):
        p2tr_address(MAINNET, bytes(31))
    with pytest.raises(FormatError):
        BitcoinAddress(MAINNET, AddressKind.P2WSH, bytes(20))


def test_bip341_tweak_matches_bip86_vector():
    # BIP-86's first mainnet test vector (m/86'/0'/0'/0/0).
    internal = bytes.fromhex("cc8a4bc64d897bddc5fbc2f670f7a8ba0b386779106cf1223c6fc5d7cd6fc115")
    tweak = taproot_tweak(internal)
    assert tweak == tagged_hash("TapTweak", internal)
    from coincurve import PublicKeyXOnly

    output = PublicKeyXOnly(internal)
    output.tweak_add(tweak)
    expected = "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr"
    assert p2tr_address(MAINNET, output.format()).text == expected
    with pytest.raises(FormatError):
        taproot_tweak(bytes(33))


# --- multisig scripts -----------------------------------------------------------------------------


def test_multisig_script_round_trip():
    keys = [_key(i) for i in range(3)]
    script = multisig_script(2, keys)
    assert script[0] == 0x52 and script[-2:] == b"\x53\xae"
    assert parse_multisig_script(script) == (2, tuple(keys))
    assert parse_multisig_script(script, kind=AddressKind.P2WSH) == (2, tuple(keys))
    mixed = multisig_script(1, [_key(0, compressed=False), _key(1)])
    assert parse_multisig_script(mixed) == (1, (_key(0, compressed=False), _key(1)))
    with pytest.raises(FormatError, match="uncompressed"):
        parse_multisig_script(mixed, kind=AddressKind.P2WSH)


def test_multisig_twenty_keys_only_in_p2wsh():
    keys = [_key(i) for i in range(20)]
    script = multisig_script(17, keys)
    assert script[:2] == b"\x01\x11" and script[-3:] == b"\x01\x14\xae"
    assert parse_multisig_script(script, kind=AddressKind.P2WSH) == (17, tuple(keys))
    with pytest.raises(FormatError):
        parse_multisig_script(script, kind=AddressKind.P2SH)
    sixteen = multisig_script(1, keys[:16])
    assert parse_multisig_script(sixteen, kind=AddressKind.P2WSH)[0] == 1
    with pytest.raises(FormatError):
        parse_multisig_script(sixteen, kind=AddressKind.P2SH)  # n <= 15 and <= 520 bytes
    # 16 keys compressed = 548 bytes; 15 keys fit in 520 bytes.
    assert parse_multisig_script(multisig_script(15, keys[:15]), kind=AddressKind.P2SH)[0] == 15
    with pytest.raises(FormatError):
        multisig_script(1, [_key(i) for i in range(21)])


@pytest.mark.parametrize(
    ("name", "script"),
    [
        ("empty", b""),
        ("m_zero", b"\x00" + b"\x21" + _key(0) + b"\x51\xae"),
        ("m_above_n", b"\x52" + b"\x21" + _key(0) + b"\x51\xae"),
        ("n_mismatch", b"\x51" + b"\x21" + _key(0) + b"\x52\xae"),
        ("no_checkmultisig", b"\x51" + b"\x21" + _key(0) + b"\x51\xac"),
        ("trailing_byte", b"\x51" + b"\x21" + _key(0) + b"\x51\xae\x00"),
        ("truncated_key", b"\x51" + b"\x21" + _key(0)[:20]),
        ("hybrid_key", b"\x51" + b"\x41" + b"\x06" + _key(0, compressed=False)[1:] + b"\x51\xae"),
        ("bad_prefix", b"\x51" + b"\x21" + b"\x04" + _key(0)[1:] + b"\x51\xae"),
        ("not_on_curve", b"\x51" + b"\x21" + b"\x02" + bytes(31) + b"\x07" + b"\x51\xae"),
        ("duplicate_key", b"\x51" + (b"\x21" + _key(0)) * 2 + b"\x52\xae"),
        ("same_key_both_forms", b"\x51" + b"\x21" + _key(0) + b"\x41" + _key(0, compressed=False) + b"\x52\xae"),
        ("non_minimal_small", b"\x01\x01" + b"\x21" + _key(0) + b"\x51\xae"),
        ("non_minimal_push_of_16", b"\x51" + b"\x21" + _key(0) + b"\x01\x10\xae"),
    ],
)
def test_non_standard_multisig_scripts_are_format_errors(name, script):
    for kind in (AddressKind.P2SH, AddressKind.P2WSH):
        with pytest.raises(FormatError):
            parse_multisig_script(script, kind=kind)


def test_negated_key_counts_as_the_same_key():
    key = _key(0)
    negated = bytes([key[0] ^ 1]) + key[1:]
    with pytest.raises(FormatError, match="repeats"):
        parse_multisig_script(b"\x51" + b"\x21" + key + b"\x21" + negated + b"\x52\xae")


def test_parse_multisig_refuses_other_kinds():
    with pytest.raises(FormatError):
        parse_multisig_script(multisig_script(1, [_key(0)]), kind=AddressKind.P2WPKH)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_parse_multisig_raises_only_format_error(data):
    for kind in (AddressKind.P2SH, AddressKind.P2WSH):
        try:
            m, keys = parse_multisig_script(data, kind=kind)
        except FormatError:
            continue
        assert multisig_script(m, keys) == data
