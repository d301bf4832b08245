"""Bitcoin proofs of control: BIP-137, BIP-322 simple and multisig, verified and signed.

Known answers: tests/vectors/bitcoin/bip137.json (Bitcoin Core and Electrum/Trezor signatures) and
tests/vectors/bitcoin/bip322.json (the BIP-322 vectors of bitcoin/bips and the P2TR vector of its
reference implementation); the sources are named in each file. The rest signs with fresh keys.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path

import pytest
from coincurve import PrivateKey, PublicKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from circuits.bitcoin_address import (
    NETWORKS,
    AddressKind,
    BitcoinAddress,
    base58check_decode,
    multisig_script,
    p2sh_address,
    p2wsh_address,
    parse_address,
    parse_multisig_script,
)
from circuits.bitcoin_proofs import (
    SIGHASH_ALL,
    SIGHASH_DEFAULT,
    bip322_message_hash,
    bip322_sighash,
    bip322_to_sign_txid,
    bip322_to_spend_txid,
    bitcoin_message_hash,
    compact_size,
    serialize_witness,
    verify_bip137,
    verify_bip322,
    verify_multisig,
)
from circuits.errors import FormatError, ProofError, VerificationError, WitnessError
from prover.btc_sign import (
    address_of,
    decode_wif,
    public_key,
    sign_bip137,
    sign_bip322,
    sign_multisig,
    taproot_output_key,
)

VECTORS = Path(__file__).parent / "vectors" / "bitcoin"
BIP137 = json.loads((VECTORS / "bip137.json").read_text(encoding="utf-8"))
BIP322 = json.loads((VECTORS / "bip322.json").read_text(encoding="utf-8"))
MAINNET = NETWORKS["bip122:000000000019d6689c085ae165831e93"]
TESTNET = NETWORKS["bip122:000000000933ea01ad0ee984209779ba"]
REGTEST = NETWORKS["bip122:0f9188f13cb7b2c71f2a335e3a4fc328"]
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
BLOCK = "00000000000000000002a7c4c1e48d76c5a37902165a270156b7a8d72728a054"


def control_message(
    address: str,
    *,
    exchange: str = "Example Exchange",
    round_id: str = "2026-12",
    chain: str = MAINNET.caip2,
    height: int = 870000,
    block: str = BLOCK,
) -> bytes:
    """The brief's signed message (circuits.control.control_message, owned by the lead, makes the same bytes)."""
    lines = [
        "zk-solvency proof of reserves v1",
        f"exchange: {exchange}",
        f"round: {round_id}",
        f"chain: {chain}",
        f"height: {height}",
        f"block: {block}",
        f"address: {address}",
    ]
    return "\n".join(lines).encode("utf-8")


def secret(i: int) -> bytes:
    return hashlib.sha256(b"btc test key %d" % i).digest()


SINGLE_KEY_KINDS = [
    ("bip137", AddressKind.P2PKH, True),
    ("bip137", AddressKind.P2PKH, False),
    ("bip137", AddressKind.P2SH, True),
    ("bip137", AddressKind.P2WPKH, True),
    ("bip322", AddressKind.P2WPKH, True),
    ("bip322", AddressKind.P2TR, True),
]


def sign_single(proof: str, key: bytes, address: BitcoinAddress, message: bytes) -> bytes:
    return sign_bip137(key, address, message) if proof == "bip137" else sign_bip322(key, address, message)


def verify_single(proof: str, address: BitcoinAddress, signature: bytes, message: bytes) -> frozenset[bytes]:
    return (
        verify_bip137(address, signature, message) if proof == "bip137" else verify_bip322(address, signature, message)
    )


def identity(key: bytes, kind: AddressKind) -> bytes:
    return taproot_output_key(key) if kind is AddressKind.P2TR else public_key(key)[1:]


# --- hashes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", BIP322["message_hashes"], ids=lambda c: repr(c["message"][:12]))
def test_bip322_message_hash_and_virtual_transactions(case):
    message = case["message"].encode("utf-8")
    address = parse_address(MAINNET, case["address"])
    assert bip322_message_hash(message).hex() == case["message_hash"]
    # The BIP prints txids in display (reversed) order.
    assert bip322_to_spend_txid(address, message)[::-1].hex() == case["to_spend_txid"]
    assert bip322_to_sign_txid(address, message)[::-1].hex() == case["to_sign_txid"]


def test_compact_size_and_message_hash_framing():
    assert [compact_size(n).hex() for n in (0, 252, 253, 0xFFFF, 0x10000, 2**32)] == [
        "00",
        "fc",
        "fdfd00",
        "fdffff",
        "fe00000100",
        "ff0000000001000000",
    ]
    long_message = b"x" * 300
    magic = b"\x18Bitcoin Signed Message:\n"
    expected = hashlib.sha256(hashlib.sha256(magic + b"\xfd\x2c\x01" + long_message).digest()).digest()
    assert bitcoin_message_hash(long_message) == expected


# --- BIP-137 known answers ------------------------------------------------------------------------


def _sig(case: dict[str, str]) -> bytes:
    if "signature_base64" in case:
        return base64.b64decode(case["signature_base64"], validate=True)
    return bytes.fromhex(case["signature_hex"])


@pytest.mark.parametrize("case", BIP137["valid"], ids=lambda c: c["name"])
def test_bip137_vectors_verify(case):
    address = parse_address(NETWORKS[case["network"]], case["address"])
    message = case["message"].encode("utf-8")
    keys = verify_bip137(address, _sig(case), message)
    assert len(keys) == 1
    if "private_key_wif" in case:
        key, compressed = decode_wif(case["private_key_wif"])
        assert keys == {public_key(key)[1:]}
        assert address_of(address.network, address.kind, key, compressed=compressed) == address
        ours = sign_bip137(key, address, message)
        if case["deterministic"]:
            # Plain RFC 6979 (Bitcoin Core): libsecp256k1 makes the same r || s.
            assert ours[1:] == _sig(case)[1:]
        assert verify_bip137(address, ours, message) == keys
    with pytest.raises(VerificationError):
        verify_bip137(address, _sig(case), message + b"!")


@pytest.mark.parametrize("case", BIP137["high_s"], ids=lambda c: c["name"])
def test_bip137_high_s_vector_is_refused(case):
    address = parse_address(NETWORKS[case["network"]], case["address"])
    with pytest.raises(FormatError, match="high s"):
        verify_bip137(address, _sig(case), case["message"].encode("utf-8"))


@pytest.mark.parametrize("case", BIP137["header_family_mismatch"], ids=lambda c: c["name"])
def test_bip137_any_compressed_header_family_is_accepted(case):
    address = parse_address(NETWORKS[case["network"]], case["address"])
    assert len(verify_bip137(address, _sig(case), case["message"].encode("utf-8"))) == 1


def test_bip137_header_families_on_one_signature():
    key = secret(1)
    message = control_message("x")
    for kind in (AddressKind.P2PKH, AddressKind.P2SH, AddressKind.P2WPKH):
        address = address_of(MAINNET, kind, key)
        signature = sign_bip137(key, address, message)
        recid = (signature[0] - 27) & 3
        assert signature[0] == {AddressKind.P2PKH: 31, AddressKind.P2SH: 35, AddressKind.P2WPKH: 39}[kind] + recid
        for base in (31, 35, 39):
            assert verify_bip137(address, bytes([base + recid]) + signature[1:], message) == {public_key(key)[1:]}
        # The uncompressed family recovers the same point but an uncompressed key.
        with pytest.raises(VerificationError):
            verify_bip137(address, bytes([27 + recid]) + signature[1:], message)


def test_bip137_uncompressed_p2pkh():
    key = secret(2)
    address = address_of(MAINNET, AddressKind.P2PKH, key, compressed=False)
    message = control_message(address.text)
    signature = sign_bip137(key, address, message)
    assert 27 <= signature[0] <= 30
    assert verify_bip137(address, signature, message) == {public_key(key)[1:]}
    compressed_address = address_of(MAINNET, AddressKind.P2PKH, key)
    with pytest.raises(VerificationError, match="does not derive"):
        verify_bip137(compressed_address, signature, message)


def test_bip137_refuses_script_and_taproot_kinds():
    key = secret(3)
    message = control_message("x")
    signature = sign_bip137(key, address_of(MAINNET, AddressKind.P2WPKH, key), message)
    for address in (
        p2wsh_address(MAINNET, multisig_script(1, [public_key(key)])),
        address_of(MAINNET, AddressKind.P2TR, key),
    ):
        with pytest.raises(VerificationError, match="cannot prove control"):
            verify_bip137(address, signature, message)


def test_bip137_malformed_lengths_and_headers():
    key = secret(4)
    address = address_of(MAINNET, AddressKind.P2PKH, key)
    message = control_message(address.text)
    signature = sign_bip137(key, address, message)
    for bad in (signature[:-1], signature + b"\x00", b"", bytes([26]) + signature[1:], bytes([43]) + signature[1:]):
        with pytest.raises(FormatError):
            verify_bip137(address, bad, message)
    r, s = signature[1:33], int.from_bytes(signature[33:], "big")
    for bad_r, bad_s in ((bytes(32), s), (N.to_bytes(32, "big"), s), (r, 0), (r, N), (r, N - s)):
        with pytest.raises(FormatError):
            verify_bip137(address, signature[:1] + bad_r + bad_s.to_bytes(32, "big"), message)


def _expected_compact_class(signature: bytes) -> type[ProofError]:
    """Independent restatement of the decode rules: malformed unless header, r and s are in range and s low."""
    r = int.from_bytes(signature[1:33], "big")
    s = int.from_bytes(signature[33:65], "big")
    if not 27 <= signature[0] <= 42 or not 0 < r < N or not 0 < s <= N // 2:
        return FormatError
    return VerificationError


@pytest.mark.parametrize(("kind", "compressed"), [(AddressKind.P2PKH, False), (AddressKind.P2SH, True)])
def test_bip137_every_flipped_byte_fails_with_the_exact_class(kind, compressed):
    key = secret(5)
    address = address_of(MAINNET, kind, key, compressed=compressed)
    message = control_message(address.text)
    signature = sign_bip137(key, address, message)
    for position in range(65):
        for mask in (0x01, 0x80):
            tampered = bytearray(signature)
            tampered[position] ^= mask
            with pytest.raises(_expected_compact_class(bytes(tampered))):
                verify_bip137(address, bytes(tampered), message)


# --- BIP-322 known answers ------------------------------------------------------------------------


@pytest.mark.parametrize("case", BIP322["simple"], ids=lambda c: f"{c['type']}:{c['message'][:12]}")
def test_bip322_vectors_verify(case):
    address = parse_address(MAINNET, case["address"])
    message = case["message"].encode("utf-8")
    key, compressed = decode_wif(case["private_key_wif"])
    assert compressed
    # Our key -> address derivation (BIP-86 tweak for P2TR) reproduces the published address.
    assert address_of(MAINNET, address.kind, key) == address
    for signature in case["signatures_base64"]:
        witness = base64.b64decode(signature, validate=True)
        assert verify_bip322(address, witness, message) == {identity(key, address.kind)}
        with pytest.raises(VerificationError):
            verify_bip322(address, witness, message + b"!")
    ours = sign_bip322(key, address, message)
    assert verify_bip322(address, ours, message) == {identity(key, address.kind)}
    if address.kind is AddressKind.P2WPKH:
        # RFC 6979 again: our witness is the BIP's first (low-r grinding aside) or second form.
        assert ours in [base64.b64decode(s) for s in case["signatures_base64"]]


def _bip322_error_class(case: dict[str, str]) -> type[ProofError]:
    if "empty witness" in case["description"]:
        return FormatError  # a well-formed empty stack, but not the P2WPKH shape
    return VerificationError  # wrong message, wrong signer, or a P2WSH address (unsupported here)


@pytest.mark.parametrize("case", BIP322["errors"], ids=lambda c: c["description"])
def test_bip322_error_vectors_fail(case):
    address = parse_address(MAINNET, case["address"])
    witness = base64.b64decode(case["signature_base64"], validate=True)
    with pytest.raises(_bip322_error_class(case)):
        verify_bip322(address, witness, case["message"].encode("utf-8"))


def test_bip322_p2wsh_vector_script_hashes_to_its_address():
    # The BIP's 3-of-3 P2WSH case: BIP-322 multisig is out of scope, but the script and address agree.
    source = json.loads((VECTORS / "bip322.json").read_text(encoding="utf-8"))
    assert "p2wsh" not in {c["type"] for c in source["simple"]}
    script = bytes.fromhex(
        "5321027568b11f122ff8a7bc1c57e5c7642055bc618967b2f7bfe8e11fe99903c94dd321020a8bdf79cfa421d9655e9282800f115f"
        "f1d9db1e721ceb4248a3fcfec7faa67c21030c529e0ea40a00975d202624e39915daf7bdd2b71f31aa08596838781ce5f33a53ae"
    )
    assert parse_multisig_script(script, kind=AddressKind.P2WSH)[0] == 3
    assert p2wsh_address(MAINNET, script).text == "bc1qp0ahvfh83088w49k405szqgg4f3pptr7p2g06tdxfjcd40z4lh4q95lsz9"


def test_bip322_taproot_sighash_all_and_default():
    key = secret(6)
    address = address_of(MAINNET, AddressKind.P2TR, key)
    message = control_message(address.text)
    witness = sign_bip322(key, address, message, aux_rand=bytes(32))
    assert witness == sign_bip322(key, address, message, aux_rand=bytes(32))
    signature = witness[2:]
    assert witness[:2] == b"\x01\x40"
    assert verify_bip322(address, witness, message) == {address.program}
    # The same signature tagged SIGHASH_ALL signs another digest, so it fails.
    with pytest.raises(VerificationError):
        verify_bip322(address, serialize_witness([signature + b"\x01"]), message)
    with pytest.raises(FormatError, match="hash type"):
        verify_bip322(address, serialize_witness([signature + b"\x00"]), message)
    with pytest.raises(FormatError, match="hash type"):
        verify_bip322(address, serialize_witness([signature + b"\x83"]), message)
    tweaked_all = PrivateKey(_tweaked(key)).sign_schnorr(bip322_sighash(address, message, SIGHASH_ALL), bytes(32))
    assert verify_bip322(address, serialize_witness([tweaked_all + b"\x01"]), message) == {address.program}
    assert bip322_sighash(address, message, SIGHASH_DEFAULT) != bip322_sighash(address, message, SIGHASH_ALL)


def _tweaked(key: bytes) -> bytes:
    from prover.btc_sign import _taproot_secret

    return _taproot_secret(key)[0]


def test_bip322_shapes_and_unsupported_kinds():
    key = secret(7)
    p2wpkh = address_of(MAINNET, AddressKind.P2WPKH, key)
    p2tr = address_of(MAINNET, AddressKind.P2TR, key)
    message = control_message("x")
    good = sign_bip322(key, p2wpkh, message)
    items = [good[2 : 2 + good[1]], good[3 + good[1] :]]
    assert serialize_witness(items) == good
    der, pub = items
    for bad in (
        good + b"\x00",  # trailing byte
        good[:-1],  # truncated
        b"\x02\xfd" + good[1:2] + b"\x00" + good[2:],  # non-minimal CompactSize
        serialize_witness([der]),
        serialize_witness([der, pub, b""]),
        serialize_witness([b"", pub]),
        serialize_witness([der[:-1] + b"\x02", pub]),  # SIGHASH_NONE
        serialize_witness([der, b"\x04" + pub[1:]]),
        serialize_witness([der, pub + b"\x00"]),
        serialize_witness([der, b"\x02" + bytes(31) + b"\x07"]),  # not a point
        serialize_witness([b"\x31" + der[1:], pub]),  # not DER
        b"\xff" + b"\x00" * 8,  # absurd item count
    ):
        with pytest.raises(FormatError):
            verify_bip322(p2wpkh, bad, message)
    other = public_key(secret(8))
    with pytest.raises(VerificationError, match="does not hash"):
        verify_bip322(p2wpkh, serialize_witness([der, other]), message)
    with pytest.raises(FormatError):
        verify_bip322(p2tr, serialize_witness([b"\x01" * 63]), message)
    with pytest.raises(FormatError):
        verify_bip322(p2tr, serialize_witness([b"\x01" * 64, b"\x50"]), message)  # annex / script path
    with pytest.raises(FormatError, match="field prime"):
        verify_bip322(p2tr, serialize_witness([b"\xff" * 64]), message)
    with pytest.raises(FormatError, match="group order"):
        verify_bip322(p2tr, serialize_witness([b"\x01" * 32 + b"\xff" * 32]), message)
    not_a_point = BitcoinAddress(MAINNET, AddressKind.P2TR, b"\x00" * 31 + b"\x05")
    with pytest.raises(VerificationError, match="not a point"):
        verify_bip322(not_a_point, serialize_witness([b"\x01" * 64]), message)
    for kind in (AddressKind.P2PKH, AddressKind.P2SH):
        with pytest.raises(VerificationError, match="P2WPKH or P2TR"):
            verify_bip322(address_of(MAINNET, kind, key), good, message)
    with pytest.raises(VerificationError):
        verify_bip322(p2wsh_address(MAINNET, b"\x51"), good, message)
    with pytest.raises(FormatError):
        bip322_sighash(p2wpkh, message, SIGHASH_DEFAULT)
    with pytest.raises(FormatError):
        bip322_sighash(address_of(MAINNET, AddressKind.P2PKH, key), message)


def test_bip322_high_s_is_refused():
    key = secret(9)
    address = address_of(MAINNET, AddressKind.P2WPKH, key)
    message = control_message(address.text)
    witness = sign_bip322(key, address, message)
    der = witness[2 : 2 + witness[1] - 1]
    len_r = der[3]
    s = int.from_bytes(der[6 + len_r :], "big")
    high = (N - s).to_bytes(33, "big").lstrip(b"\x00")
    if high[0] & 0x80:
        high = b"\x00" + high
    r_part = der[4 : 4 + len_r]
    body = b"\x02" + bytes([len_r]) + r_part + b"\x02" + bytes([len(high)]) + high
    high_der = b"\x30" + bytes([len(body)]) + body
    # libsecp256k1 itself refuses a high s; our decoder names it as malformed first.
    assert not PublicKey(public_key(key)).verify(high_der, bip322_sighash(address, message), hasher=None)
    with pytest.raises(FormatError, match="high s"):
        verify_bip322(address, serialize_witness([high_der + b"\x01", public_key(key)]), message)


@pytest.mark.parametrize("kind", [AddressKind.P2WPKH, AddressKind.P2TR])
def test_bip322_every_flipped_byte_fails(kind):
    key = secret(10)
    address = address_of(MAINNET, kind, key)
    message = control_message(address.text)
    witness = sign_bip322(key, address, message)
    for position in range(len(witness)):
        tampered = bytearray(witness)
        tampered[position] ^= 0x01
        with pytest.raises((FormatError, VerificationError)) as caught:
            verify_bip322(address, bytes(tampered), message)
        if kind is AddressKind.P2TR and position >= 2:
            # Any change to r or s (both stay in range) is a false signature.
            assert caught.type is VerificationError, position
        if position < 2 or (kind is AddressKind.P2WPKH and position in (2, 3, 4, 5)):
            # Counts, lengths and DER headers: the bytes no longer decode.
            assert caught.type is FormatError, position


# --- fresh keys, every kind -----------------------------------------------------------------------


@pytest.mark.parametrize(("proof", "kind", "compressed"), SINGLE_KEY_KINDS)
@pytest.mark.parametrize("network", [MAINNET, TESTNET, REGTEST], ids=lambda n: n.name)
def test_fresh_key_round_trip_every_kind(proof, kind, compressed, network):
    key = secret(11)
    address = address_of(network, kind, key, compressed=compressed)
    assert parse_address(network, address.text) == address
    message = control_message(address.text, chain=network.caip2)
    signature = sign_single(proof, key, address, message)
    assert verify_single(proof, address, signature, message) == {identity(key, kind)}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, N - 1), st.binary(max_size=300), st.sampled_from(SINGLE_KEY_KINDS))
def test_round_trip_property(number, message, case):
    proof, kind, compressed = case
    key = number.to_bytes(32, "big")
    address = address_of(MAINNET, kind, key, compressed=compressed)
    signature = sign_single(proof, key, address, message)
    assert verify_single(proof, address, signature, message) == {identity(key, kind)}
    other = address_of(MAINNET, kind, secret(12), compressed=compressed)
    with pytest.raises(VerificationError):
        verify_single(proof, other, signature, message)


@pytest.mark.parametrize(("proof", "kind", "compressed"), SINGLE_KEY_KINDS)
def test_replay_to_another_round_exchange_chain_or_height_fails(proof, kind, compressed):
    key = secret(13)
    address = address_of(MAINNET, kind, key, compressed=compressed)
    signature = sign_single(proof, key, address, control_message(address.text))
    for changed in (
        control_message(address.text, round_id="2027-01"),
        control_message(address.text, exchange="Other Exchange"),
        control_message(address.text, chain=TESTNET.caip2),
        control_message(address.text, height=870001),
        control_message(address.text, block="00" * 32),
    ):
        with pytest.raises(VerificationError):
            verify_single(proof, address, signature, changed)


def test_wrong_network_address_text_is_refused():
    key = secret(14)
    for kind in (AddressKind.P2PKH, AddressKind.P2SH, AddressKind.P2WPKH, AddressKind.P2TR):
        text = address_of(TESTNET, kind, key).text
        with pytest.raises(FormatError, match="not a mainnet address"):
            parse_address(MAINNET, text)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120))
def test_random_proof_bytes_raise_only_proof_errors(data):
    key = secret(15)
    message = b"m"
    for kind in (AddressKind.P2WPKH, AddressKind.P2TR):
        try:
            verify_bip322(address_of(MAINNET, kind, key), data, message)
        except (FormatError, VerificationError):
            pass
    for kind in (AddressKind.P2PKH, AddressKind.P2WPKH):
        try:
            verify_bip137(address_of(MAINNET, kind, key), data, message)
        except (FormatError, VerificationError):
            pass


# --- multisig -------------------------------------------------------------------------------------

KEYS = [secret(20 + i) for i in range(3)]


def _wallet(kind: AddressKind, *, compressed: bool = True) -> tuple[bytes, BitcoinAddress]:
    script = multisig_script(2, [public_key(k, compressed=compressed) for k in KEYS])
    address = p2sh_address(MAINNET, script) if kind is AddressKind.P2SH else p2wsh_address(MAINNET, script)
    return script, address


@pytest.mark.parametrize(
    ("kind", "compressed"), [(AddressKind.P2SH, True), (AddressKind.P2SH, False), (AddressKind.P2WSH, True)]
)
def test_multisig_two_of_three(kind, compressed):
    script, address = _wallet(kind, compressed=compressed)
    message = control_message(address.text)
    signatures = sign_multisig(KEYS, script, message)
    assert all(27 <= s[0] <= 30 for s in signatures) is not compressed
    xs = {public_key(k)[1:] for k in KEYS}
    assert verify_multisig(address, script, signatures, message) == xs
    for pair in ((0, 1), (0, 2), (2, 1)):
        chosen = [signatures[i] for i in pair]
        assert verify_multisig(address, script, chosen, message) == {public_key(KEYS[i])[1:] for i in pair}
    with pytest.raises(VerificationError, match="1 valid signatures by distinct script keys, the script needs 2"):
        verify_multisig(address, script, signatures[:1], message)
    with pytest.raises(VerificationError, match="0 valid"):
        verify_multisig(address, script, [], message)
    with pytest.raises(VerificationError):
        verify_multisig(address, script, signatures, control_message(address.text, round_id="other"))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_multisig_round_trip_property(data):
    n = data.draw(st.integers(1, 5), label="n")
    m = data.draw(st.integers(1, n), label="m")
    kind = data.draw(st.sampled_from([AddressKind.P2SH, AddressKind.P2WSH]), label="kind")
    keys = [secret(200 + data.draw(st.integers(0, 10**6)) * 7 + i) for i in range(n)]
    script = multisig_script(m, [public_key(k) for k in keys])
    address = p2sh_address(MAINNET, script) if kind is AddressKind.P2SH else p2wsh_address(MAINNET, script)
    signers = data.draw(st.lists(st.sampled_from(range(n)), min_size=m, max_size=n, unique=True), label="signers")
    message = control_message(address.text)
    signatures = sign_multisig([keys[i] for i in signers], script, message)
    assert verify_multisig(address, script, signatures, message) == {public_key(keys[i])[1:] for i in signers}
    with pytest.raises(VerificationError, match="valid signatures by distinct script keys"):
        verify_multisig(address, script, signatures[: m - 1], message)


def test_multisig_same_key_twice_counts_once():
    script, address = _wallet(AddressKind.P2WSH)
    message = control_message(address.text)
    first = sign_multisig(KEYS[:1], script, message)[0]
    with pytest.raises(VerificationError, match="signature 1 repeats the key of signature 0"):
        verify_multisig(address, script, [first, first], message)
    # The same key in its other serialization is not a script key.
    recid = (first[0] - 27) & 3
    with pytest.raises(VerificationError, match="signature 1 is not by a key of the script"):
        verify_multisig(address, script, [first, bytes([27 + recid]) + first[1:]], message)


def test_multisig_foreign_key_names_the_signature():
    script, address = _wallet(AddressKind.P2SH)
    message = control_message(address.text)
    signatures = list(sign_multisig(KEYS[:2], script, message))
    outsider = sign_bip137(secret(99), address_of(MAINNET, AddressKind.P2PKH, secret(99)), message)
    with pytest.raises(VerificationError, match="signature 2 is not by a key of the script"):
        verify_multisig(address, script, [*signatures, outsider], message)
    with pytest.raises(FormatError, match="signature 1 has a high s"):
        s = int.from_bytes(signatures[1][33:], "big")
        verify_multisig(address, script, [signatures[0], signatures[1][:33] + (N - s).to_bytes(32, "big")], message)
    with pytest.raises(FormatError, match="signature 0 is 64 bytes long, not 65"):
        verify_multisig(address, script, [signatures[0][:-1]], message)
    with pytest.raises(VerificationError, match="4 signatures for a script of 3 keys"):
        verify_multisig(address, script, [*signatures, *signatures], message)


def test_multisig_script_must_hash_to_the_address():
    script, address = _wallet(AddressKind.P2WSH)
    message = control_message(address.text)
    signatures = sign_multisig(KEYS, script, message)
    other = multisig_script(2, [public_key(k) for k in reversed(KEYS)])
    with pytest.raises(VerificationError, match="does not hash to the P2WSH address"):
        verify_multisig(address, other, signatures, message)
    # P2SH and P2WSH hash differently: the P2WSH script does not open a P2SH address of the same bytes.
    with pytest.raises(VerificationError, match="does not hash to the P2SH address"):
        verify_multisig(BitcoinAddress(MAINNET, AddressKind.P2SH, address.program[:20]), script, signatures, message)
    with pytest.raises(FormatError):
        verify_multisig(address, script + b"\x00", signatures, message)
    with pytest.raises(VerificationError, match="cannot prove control of a P2WPKH"):
        verify_multisig(address_of(MAINNET, AddressKind.P2WPKH, KEYS[0]), script, signatures, message)


def test_multisig_p2wsh_refuses_uncompressed_script():
    script, _ = _wallet(AddressKind.P2SH, compressed=False)
    with pytest.raises(FormatError, match="uncompressed"):
        verify_multisig(p2wsh_address(MAINNET, script), script, [], b"m")


def test_multisig_every_flipped_byte_fails_or_drops_below_m():
    script, address = _wallet(AddressKind.P2SH)
    message = control_message(address.text)
    signatures = sign_multisig(KEYS[:2], script, message)
    for position in range(65):
        tampered = bytearray(signatures[1])
        tampered[position] ^= 0x01
        with pytest.raises(_expected_compact_class(bytes(tampered))):
            verify_multisig(address, script, [signatures[0], bytes(tampered)], message)


# --- prover errors --------------------------------------------------------------------------------


def test_signers_refuse_wrong_keys_and_kinds():
    key, other = secret(30), secret(31)
    message = b"m"
    for kind in (AddressKind.P2PKH, AddressKind.P2SH, AddressKind.P2WPKH):
        with pytest.raises(WitnessError, match="does not control"):
            sign_bip137(other, address_of(MAINNET, kind, key), message)
    for kind in (AddressKind.P2WPKH, AddressKind.P2TR):
        with pytest.raises(WitnessError, match="does not control"):
            sign_bip322(other, address_of(MAINNET, kind, key), message)
    with pytest.raises(WitnessError):
        sign_bip137(key, address_of(MAINNET, AddressKind.P2TR, key), message)
    with pytest.raises(WitnessError):
        sign_bip322(key, address_of(MAINNET, AddressKind.P2PKH, key), message)
    script, _ = _wallet(AddressKind.P2WSH)
    with pytest.raises(WitnessError, match="secret 1's key is not in the script"):
        sign_multisig([KEYS[0], other], script, message)
    with pytest.raises(WitnessError, match="not a standard multisig script"):
        sign_multisig([KEYS[0]], script + b"\x00", message)
    with pytest.raises(WitnessError):
        address_of(MAINNET, AddressKind.P2WSH, key)
    for bad in (b"", bytes(32), N.to_bytes(32, "big"), b"\x01" * 33):
        with pytest.raises(WitnessError):
            public_key(bad)


def test_decode_wif():
    key, compressed = decode_wif("L3VFeEujGtevx9w18HD1fhRbCH67Az2dpCymeRE1SoPK6XQtaN2k")
    assert key.hex() == "bb051cd0dda0246f33c5a9e133ebd8e7bc02a92af6c41adc131ccd7826c5b004" and compressed
    key, compressed = decode_wif("5Hxn5C4SQuiV6e62A1MtZmbSeQyrLFhu5uYks62pU5VBUygK2KD")
    assert not compressed and base58check_decode("5Hxn5C4SQuiV6e62A1MtZmbSeQyrLFhu5uYks62pU5VBUygK2KD")[1:] == key
    for bad in ("", "L3VFeEujGtevx9w18HD1fhRbCH67Az2dpCymeRE1SoPK6XQtaN2j", "15hETetDmcXm1mM4sEf7U2KXC9hDHFMSzz", "0"):
        with pytest.raises(WitnessError):
            decode_wif(bad)


# --- microbenchmark (deselected by default; run with -m bench) -----------------------------------


@pytest.mark.bench
def test_verification_cost_per_proof_type():
    message = control_message("bench")
    cases = {}
    for proof, kind, compressed in SINGLE_KEY_KINDS:
        key = secret(40)
        address = address_of(MAINNET, kind, key, compressed=compressed)
        signature = sign_single(proof, key, address, message)
        cases[f"{proof} {kind.name}{'' if compressed else ' uncompressed'}"] = lambda p=proof, a=address, s=signature: (
            verify_single(p, a, s, message)
        )
    for kind in (AddressKind.P2SH, AddressKind.P2WSH):
        script, address = _wallet(kind)
        signatures = sign_multisig(KEYS[:2], script, message)
        cases[f"multisig 2-of-3 {kind.name}"] = lambda a=address, sc=script, sg=signatures: verify_multisig(
            a, sc, sg, message
        )
    for name, run in cases.items():
        rounds = 2000
        start = time.perf_counter()
        for _ in range(rounds):
            run()
        micros = (time.perf_counter() - start) / rounds * 1e6
        print(f"{name}: {micros:.1f} us per verification")
        assert micros < 200, name
