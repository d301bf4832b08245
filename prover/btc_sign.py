"""Bitcoin signing for proofs of control: BIP-137, BIP-322 simple, multisig (holds secrets).

Used by ``solvency reserves sign``, the demo and the tests. Every function here
takes 32-byte secret keys; none of them logs or puts a secret into an error
message. The signatures are what :mod:`circuits.bitcoin_proofs` verifies
(``circuits/notes/51-bitcoin-control.md``).

A P2TR address here is a BIP-86 single-key address: the output key is the
internal key tweaked with ``hash_TapTweak(P)`` and no script tree, and signing
uses the tweaked secret.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from coincurve import PrivateKey, PublicKeyXOnly

from circuits.bitcoin_address import (
    AddressKind,
    BitcoinAddress,
    BitcoinNetwork,
    base58check_decode,
    hash160,
    p2pkh_address,
    p2sh_p2wpkh_address,
    p2tr_address,
    p2wpkh_address,
    parse_multisig_script,
    taproot_tweak,
)
from circuits.bitcoin_proofs import bip322_sighash, bitcoin_message_hash, serialize_witness
from circuits.errors import FormatError, WitnessError

__all__ = [
    "address_of",
    "decode_wif",
    "public_key",
    "sign_bip137",
    "sign_bip322",
    "sign_multisig",
    "taproot_output_key",
]

_ORDER: Final[int] = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
#: BIP-137 header bases: uncompressed P2PKH, compressed P2PKH, P2SH-P2WPKH, P2WPKH.
_HEADER_UNCOMPRESSED: Final[int] = 27
_HEADER_BASE: Final[dict[AddressKind, int]] = {AddressKind.P2PKH: 31, AddressKind.P2SH: 35, AddressKind.P2WPKH: 39}


def _private_key(secret: bytes) -> PrivateKey:
    if len(secret) != 32 or not 1 <= int.from_bytes(secret, "big") < _ORDER:
        raise WitnessError("a secret key is 32 bytes encoding an integer in [1, n-1]")
    return PrivateKey(bytes(secret))


def decode_wif(text: str) -> tuple[bytes, bool]:
    """Decode a WIF private key (mainnet 0x80 or testnet/regtest 0xef) into ``(secret32, compressed)``.

    Raises:
        WitnessError: if the text is not a valid WIF key (the message never repeats the text).
    """
    try:
        payload = base58check_decode(text)
    except FormatError:
        raise WitnessError("the WIF key is not valid Base58Check") from None
    if payload[:1] not in (b"\x80", b"\xef"):
        raise WitnessError("the WIF key has an unknown version byte")
    if len(payload) == 34 and payload[33] == 1:
        secret, compressed = payload[1:33], True
    elif len(payload) == 33:
        secret, compressed = payload[1:33], False
    else:
        raise WitnessError("the WIF key has the wrong length")
    _private_key(secret)
    return secret, compressed


def public_key(secret: bytes, *, compressed: bool = True) -> bytes:
    """Return the serialized public key of ``secret`` (33 bytes compressed, or 65 uncompressed).

    Raises:
        WitnessError: if ``secret`` is not a valid secret key.
    """
    return _private_key(secret).public_key.format(compressed=compressed)


def _taproot_secret(secret: bytes) -> tuple[bytes, bytes]:
    """Return (tweaked secret, x-only output key) of a BIP-86 key-path P2TR key."""
    key = _private_key(secret)
    internal = PublicKeyXOnly.from_secret(key.secret)
    d = key.to_int()
    if internal.parity:  # lift_x(P) has even y: use the negated secret when P's y is odd
        d = _ORDER - d
    tweak = taproot_tweak(internal.format())
    tweaked = (d + int.from_bytes(tweak, "big")) % _ORDER
    if tweaked == 0:
        raise WitnessError("the tweaked taproot secret is zero")
    output = PublicKeyXOnly(internal.format())
    output.tweak_add(tweak)
    return tweaked.to_bytes(32, "big"), output.format()


def taproot_output_key(secret: bytes) -> bytes:
    """Return the 32-byte x-only P2TR output key of ``secret`` as a BIP-86 key-path-only internal key.

    Raises:
        WitnessError: if ``secret`` is not a valid secret key.
    """
    return _taproot_secret(secret)[1]


def address_of(network: BitcoinNetwork, kind: AddressKind, secret: bytes, *, compressed: bool = True) -> BitcoinAddress:
    """Return the single-key address of ``secret`` of the given kind (``P2SH`` means P2SH-P2WPKH).

    ``compressed`` matters for P2PKH only; segwit kinds always use the compressed key.

    Raises:
        WitnessError: if ``secret`` is invalid, or the kind is not a single-key kind.
    """
    if kind is AddressKind.P2PKH:
        return p2pkh_address(network, public_key(secret, compressed=compressed))
    if kind is AddressKind.P2WPKH:
        return p2wpkh_address(network, public_key(secret))
    if kind is AddressKind.P2SH:
        return p2sh_p2wpkh_address(network, public_key(secret))
    if kind is AddressKind.P2TR:
        return p2tr_address(network, taproot_output_key(secret))
    raise WitnessError(f"a {kind.name} address is not a single-key address")


def sign_bip137(secret: bytes, address: BitcoinAddress, message: bytes) -> bytes:
    """Return a 65-byte BIP-137 compact signature of ``message`` for a P2PKH, P2SH-P2WPKH or P2WPKH address.

    The header uses BIP-137's family for the kind (27/31 P2PKH, 35 P2SH-P2WPKH, 39 P2WPKH).
    For P2PKH the key serialization (compressed or not) is the one whose hash is the address.

    Raises:
        WitnessError: if the secret is invalid or its key does not control the address.
    """
    key = _private_key(secret)
    if address.kind not in _HEADER_BASE:
        raise WitnessError(f"bip137 cannot sign for a {address.kind.name} address")
    compressed = True
    if address.kind is AddressKind.P2PKH and hash160(key.public_key.format(compressed=False)) == address.program:
        compressed = False
    if address_of(address.network, address.kind, secret, compressed=compressed) != address:
        raise WitnessError("the secret key does not control the address")
    recoverable = key.sign_recoverable(bitcoin_message_hash(message), hasher=None)
    base = _HEADER_BASE[address.kind] if compressed else _HEADER_UNCOMPRESSED
    return bytes([base + recoverable[64]]) + recoverable[:64]


def sign_bip322(secret: bytes, address: BitcoinAddress, message: bytes, *, aux_rand: bytes | None = None) -> bytes:
    """Return a BIP-322 simple signature (the serialized witness) of ``message`` for a P2WPKH or P2TR address.

    P2WPKH: ``[DER(sig) || SIGHASH_ALL, pubkey]``, low s (libsecp256k1 signs low-s). P2TR: one
    64-byte BIP-340 signature (``SIGHASH_DEFAULT``) by the tweaked key; ``aux_rand`` (32 bytes)
    fixes BIP-340's auxiliary randomness for reproducible tests, fresh randomness otherwise.

    Raises:
        WitnessError: if the secret is invalid or does not control the address, or the kind is unsupported.
    """
    if address.kind is AddressKind.P2WPKH:
        key = _private_key(secret)
        if address_of(address.network, AddressKind.P2WPKH, secret) != address:
            raise WitnessError("the secret key does not control the address")
        der = key.sign(bip322_sighash(address, message), hasher=None)
        return serialize_witness([der + b"\x01", key.public_key.format(compressed=True)])
    if address.kind is AddressKind.P2TR:
        tweaked, output = _taproot_secret(secret)
        if output != address.program:
            raise WitnessError("the secret key does not control the address")
        digest = bip322_sighash(address, message, 0x00)
        signature = PrivateKey(tweaked).sign_schnorr(digest, b"" if aux_rand is None else aux_rand)
        return serialize_witness([signature])
    raise WitnessError(f"bip322 simple signing supports P2WPKH and P2TR, not {address.kind.name}")


def sign_multisig(secrets: Sequence[bytes], script: bytes, message: bytes) -> tuple[bytes, ...]:
    """Return one 65-byte compact signature per secret over :func:`bitcoin_message_hash` of ``message``.

    Each secret's key must be in the multisig script; the header (27.. uncompressed, 31..
    compressed) makes the verifier recover the serialization the script lists.

    Raises:
        WitnessError: if a secret is invalid or its key is not in the script, or the script is not
            a standard multisig script.
    """
    try:
        _, keys = parse_multisig_script(script, kind=AddressKind.P2SH)
    except FormatError:
        try:
            _, keys = parse_multisig_script(script, kind=AddressKind.P2WSH)
        except FormatError as error:
            raise WitnessError(f"not a standard multisig script: {error}") from None
    digest = bitcoin_message_hash(message)
    signatures = []
    for index, secret in enumerate(secrets):
        key = _private_key(secret)
        if key.public_key.format(compressed=True) in keys:
            base = 31
        elif key.public_key.format(compressed=False) in keys:
            base = _HEADER_UNCOMPRESSED
        else:
            raise WitnessError(f"secret {index}'s key is not in the script")
        recoverable = key.sign_recoverable(digest, hasher=None)
        signatures.append(bytes([base + recoverable[64]]) + recoverable[:64])
    return tuple(signatures)
