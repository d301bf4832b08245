"""Bitcoin proofs of control: BIP-137 signed messages, BIP-322 simple signatures, m-of-n multisig.

The procedures are written out in ``circuits/notes/51-bitcoin-control.md``. Each
``verify_*`` function raises :class:`~circuits.errors.FormatError` when the proof
bytes do not decode and :class:`~circuits.errors.VerificationError` when they
decode but do not prove control of the address; on success it returns the
controlling keys' identities, the 32-byte x-coordinates of the secp256k1 keys
that signed (for P2TR the x-only output key).

All curve arithmetic is libsecp256k1's, through coincurve. No secret is handled here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

from coincurve import PublicKey, PublicKeyXOnly

from circuits.bitcoin_address import (
    SECP256K1_ORDER,
    AddressKind,
    BitcoinAddress,
    hash160,
    parse_multisig_script,
    tagged_hash,
)
from circuits.errors import FormatError, VerificationError

__all__ = [
    "SIGHASH_ALL",
    "SIGHASH_DEFAULT",
    "bip322_message_hash",
    "bip322_sighash",
    "bip322_to_sign_txid",
    "bip322_to_spend_txid",
    "bitcoin_message_hash",
    "compact_size",
    "serialize_witness",
    "verify_bip137",
    "verify_bip322",
    "verify_multisig",
]

_HALF_ORDER: Final[int] = SECP256K1_ORDER // 2
#: The secp256k1 field prime (a BIP-340 ``r`` must be below it).
_FIELD_PRIME: Final[int] = 2**256 - 2**32 - 977

#: BIP-341 ``SIGHASH_DEFAULT`` (64-byte Schnorr signature) and the ``SIGHASH_ALL`` byte.
SIGHASH_DEFAULT: Final[int] = 0x00
SIGHASH_ALL: Final[int] = 0x01

_MESSAGE_MAGIC: Final[bytes] = b"\x18Bitcoin Signed Message:\n"
_MAX_WITNESS_ITEMS: Final[int] = 100


def compact_size(n: int) -> bytes:
    """Return Bitcoin's CompactSize encoding of ``n`` (1, 3, 5 or 9 bytes)."""
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little")
    if n <= 0xFFFFFFFF:
        return b"\xfe" + n.to_bytes(4, "little")
    return b"\xff" + n.to_bytes(8, "little")


def _double_sha256(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def bitcoin_message_hash(message: bytes) -> bytes:
    """Return the signed-message hash, double SHA-256 of the magic, CompactSize(len) and the message.

    The magic is the 25 bytes ``0x18 || "Bitcoin Signed Message:" || 0x0a``.
    """
    return _double_sha256(_MESSAGE_MAGIC + compact_size(len(message)) + message)


def bip322_message_hash(message: bytes) -> bytes:
    """Return the BIP-322 message hash, the tagged hash ``hash_BIP0322-signed-message(message)``."""
    return tagged_hash("BIP0322-signed-message", message)


# --- compact (BIP-137) signatures -------------------------------------------------------------------


def _parse_compact(signature: bytes, what: str) -> tuple[bytes, bool]:
    """Check a 65-byte compact signature; return (r || s || recid for coincurve, compressed flag).

    Raises:
        FormatError: on a wrong length, a header outside 27..42, r or s outside [1, n-1], or s > n/2.
    """
    if len(signature) != 65:
        raise FormatError(f"{what} is {len(signature)} bytes long, not 65")
    header = signature[0]
    if not 27 <= header <= 42:
        raise FormatError(f"{what} has header byte {header}, outside 27..42")
    r = int.from_bytes(signature[1:33], "big")
    s = int.from_bytes(signature[33:65], "big")
    if not 1 <= r < SECP256K1_ORDER or not 1 <= s < SECP256K1_ORDER:
        raise FormatError(f"{what} has r or s outside [1, n-1]")
    if s > _HALF_ORDER:
        raise FormatError(f"{what} has a high s (above n/2), a non-canonical encoding")
    recid = (header - 27) & 3
    return signature[1:65] + bytes([recid]), header >= 31


def _recover(recoverable: bytes, digest: bytes, what: str) -> PublicKey:
    try:
        return PublicKey.from_signature_and_message(recoverable, digest, hasher=None)
    except ValueError:
        raise VerificationError(f"no public key recovers from {what}") from None


def verify_bip137(address: BitcoinAddress, signature: bytes, message: bytes) -> frozenset[bytes]:
    """Verify a BIP-137 (legacy "signmessage") compact signature for a P2PKH, P2SH-P2WPKH or P2WPKH address.

    The header's recovery id (``(header - 27) & 3``) and compressed flag (``header >= 31``)
    are used; the family within 31..42 (Electrum's 31..34 for every kind, Trezor's 35..38 for
    P2SH-P2WPKH and 39..42 for P2WPKH) is not, since the recovered key must derive the stated
    address for the address's own kind anyway. A P2SH address is checked as P2SH-P2WPKH.

    Returns:
        The recovered key's x-coordinate.

    Raises:
        FormatError: if the signature does not decode (see :func:`_parse_compact`).
        VerificationError: if the kind is unsupported, no key recovers, the key is uncompressed
            for a segwit kind, or the key's address is not the stated one.
    """
    if address.kind not in (AddressKind.P2PKH, AddressKind.P2SH, AddressKind.P2WPKH):
        raise VerificationError(f"a bip137 signature cannot prove control of a {address.kind.name} address")
    recoverable, compressed = _parse_compact(signature, "the signature")
    key = _recover(recoverable, bitcoin_message_hash(message), "the signature")
    if address.kind is AddressKind.P2PKH:
        derived = hash160(key.format(compressed=compressed))
    elif not compressed:
        raise VerificationError("the signature names an uncompressed key, which has no segwit address")
    elif address.kind is AddressKind.P2WPKH:
        derived = hash160(key.format(compressed=True))
    else:
        derived = hash160(b"\x00\x14" + hash160(key.format(compressed=True)))
    if derived != address.program:
        raise VerificationError("the signature's key does not derive the stated address")
    return frozenset((key.format(compressed=True)[1:],))


# --- multisig -------------------------------------------------------------------------------------


def verify_multisig(
    address: BitcoinAddress, script: bytes, signatures: Sequence[bytes], message: bytes
) -> frozenset[bytes]:
    """Verify an m-of-n multisig proof: the script behind a P2SH or P2WSH address and m signatures.

    ``script`` must be a standard multisig script (:func:`~circuits.bitcoin_address.parse_multisig_script`
    under the address kind's limits) hashing to the address (P2SH: ``hash160``, P2WSH: ``sha256``).
    Each signature is a 65-byte compact signature over :func:`bitcoin_message_hash` of the message
    whose recovered key, serialized as its header says (compressed or not), is a key of the script.
    Signatures by at least ``m`` distinct keys are required; any signature by a key not in the
    script, or by a key an earlier signature already used, fails the proof.

    Returns:
        The x-coordinates of the signing keys.

    Raises:
        FormatError: if the script or a signature does not decode (naming the signature's index).
        VerificationError: if the kind is unsupported, the script does not hash to the address, a
            signature recovers no key, a key outside the script or a repeated key (naming the index),
            or fewer than ``m`` signatures are given.
    """
    if address.kind not in (AddressKind.P2SH, AddressKind.P2WSH):
        raise VerificationError(f"a multisig proof cannot prove control of a {address.kind.name} address")
    m, keys = parse_multisig_script(script, kind=address.kind)
    if address.kind is AddressKind.P2SH:
        script_hash = hash160(script)
    else:
        script_hash = hashlib.sha256(script).digest()
    if script_hash != address.program:
        raise VerificationError(f"the script does not hash to the {address.kind.name} address")
    if len(signatures) > len(keys):
        raise VerificationError(f"{len(signatures)} signatures for a script of {len(keys)} keys")
    digest = bitcoin_message_hash(message)
    parsed = [_parse_compact(bytes(sig), f"signature {i}") for i, sig in enumerate(signatures)]
    index_of = {key: i for i, key in enumerate(keys)}
    used: dict[int, int] = {}
    signers: set[bytes] = set()
    for i, (recoverable, compressed) in enumerate(parsed):
        serialized = _recover(recoverable, digest, f"signature {i}").format(compressed=compressed)
        key_index = index_of.get(serialized)
        if key_index is None:
            raise VerificationError(f"signature {i} is not by a key of the script")
        if key_index in used:
            raise VerificationError(f"signature {i} repeats the key of signature {used[key_index]}")
        used[key_index] = i
        signers.add(serialized[1:33])
    if len(signers) < m:
        raise VerificationError(f"{len(signers)} valid signatures by distinct script keys, the script needs {m}")
    return frozenset(signers)


# --- BIP-322 simple signatures --------------------------------------------------------------------


def serialize_witness(items: Sequence[bytes]) -> bytes:
    """Serialize a witness stack: CompactSize(count), then each item as CompactSize(len) || item."""
    return compact_size(len(items)) + b"".join(compact_size(len(item)) + bytes(item) for item in items)


def _read_compact_size(data: bytes, at: int) -> tuple[int, int]:
    if at >= len(data):
        raise FormatError("the witness ends early")
    first = data[at]
    if first < 0xFD:
        return first, at + 1
    size = {0xFD: 2, 0xFE: 4, 0xFF: 8}[first]
    if at + 1 + size > len(data):
        raise FormatError("the witness ends early")
    value = int.from_bytes(data[at + 1 : at + 1 + size], "little")
    if value < (0xFD, 0x10000, 0x100000000)[size.bit_length() - 2]:
        raise FormatError("the witness uses a non-minimal CompactSize")
    return value, at + 1 + size


def _parse_witness(witness: bytes) -> list[bytes]:
    """Parse a serialized witness stack, refusing truncation, non-minimal sizes and trailing bytes."""
    count, at = _read_compact_size(witness, 0)
    if count > _MAX_WITNESS_ITEMS:
        raise FormatError(f"the witness claims {count} items")
    items = []
    for _ in range(count):
        size, at = _read_compact_size(witness, at)
        if at + size > len(witness):
            raise FormatError("the witness ends inside an item")
        items.append(witness[at : at + size])
        at += size
    if at != len(witness):
        raise FormatError(f"the witness has {len(witness) - at} trailing bytes")
    return items


def bip322_to_spend_txid(address: BitcoinAddress, message: bytes) -> bytes:
    """Return the txid (internal byte order) of BIP-322's virtual ``to_spend`` transaction."""
    spk = address.script_pubkey
    tx = (
        b"\x00\x00\x00\x00"  # nVersion 0
        + b"\x01"  # one input
        + b"\x00" * 32
        + b"\xff\xff\xff\xff"  # prevout 000...000:0xFFFFFFFF
        + b"\x22\x00\x20"
        + bip322_message_hash(message)  # scriptSig OP_0 PUSH32[message_hash]
        + b"\x00\x00\x00\x00"  # nSequence 0
        + b"\x01"  # one output
        + b"\x00" * 8
        + compact_size(len(spk))
        + spk  # value 0, scriptPubKey = message_challenge
        + b"\x00\x00\x00\x00"  # nLockTime 0
    )
    return _double_sha256(tx)


#: ``to_sign``'s single output: value 0, scriptPubKey OP_RETURN.
_TO_SIGN_OUTPUT: Final[bytes] = b"\x00" * 8 + b"\x01\x6a"


def bip322_to_sign_txid(address: BitcoinAddress, message: bytes) -> bytes:
    """Return the txid (internal byte order, witness excluded) of BIP-322's simple ``to_sign`` transaction."""
    tx = (
        b"\x00\x00\x00\x00"
        + b"\x01"
        + bip322_to_spend_txid(address, message)
        + b"\x00\x00\x00\x00"  # prevout to_spend:0
        + b"\x00"  # empty scriptSig
        + b"\x00\x00\x00\x00"  # nSequence 0
        + b"\x01"
        + _TO_SIGN_OUTPUT
        + b"\x00\x00\x00\x00"
    )
    return _double_sha256(tx)


def bip322_sighash(address: BitcoinAddress, message: bytes, hash_type: int = SIGHASH_ALL) -> bytes:
    """Return the digest a BIP-322 simple signature of ``to_sign``'s only input signs.

    P2WPKH: the BIP-143 digest with scriptCode ``OP_DUP OP_HASH160 <h> OP_EQUALVERIFY OP_CHECKSIG``,
    amount 0 and ``SIGHASH_ALL``. P2TR: the BIP-341 key-path digest (no annex) for
    ``SIGHASH_DEFAULT`` or ``SIGHASH_ALL``.

    Raises:
        FormatError: for another address kind or hash type.
    """
    outpoint = bip322_to_spend_txid(address, message) + b"\x00\x00\x00\x00"
    sequence = b"\x00\x00\x00\x00"
    if address.kind is AddressKind.P2WPKH:
        if hash_type != SIGHASH_ALL:
            raise FormatError(f"a P2WPKH BIP-322 signature uses SIGHASH_ALL, not hash type {hash_type}")
        script_code = b"\x19\x76\xa9\x14" + address.program + b"\x88\xac"
        preimage = (
            b"\x00\x00\x00\x00"  # nVersion
            + _double_sha256(outpoint)  # hashPrevouts
            + _double_sha256(sequence)  # hashSequence
            + outpoint
            + script_code
            + b"\x00" * 8  # amount
            + sequence
            + _double_sha256(_TO_SIGN_OUTPUT)  # hashOutputs
            + b"\x00\x00\x00\x00"  # nLockTime
            + SIGHASH_ALL.to_bytes(4, "little")
        )
        return _double_sha256(preimage)
    if address.kind is AddressKind.P2TR:
        if hash_type not in (SIGHASH_DEFAULT, SIGHASH_ALL):
            raise FormatError(f"a P2TR BIP-322 signature uses SIGHASH_DEFAULT or SIGHASH_ALL, not {hash_type}")
        spk = address.script_pubkey
        sha = hashlib.sha256
        sig_msg = (
            b"\x00"  # epoch
            + bytes([hash_type])
            + b"\x00\x00\x00\x00"  # nVersion
            + b"\x00\x00\x00\x00"  # nLockTime
            + sha(outpoint).digest()  # sha_prevouts
            + sha(b"\x00" * 8).digest()  # sha_amounts
            + sha(compact_size(len(spk)) + spk).digest()  # sha_scriptpubkeys
            + sha(sequence).digest()  # sha_sequences
            + sha(_TO_SIGN_OUTPUT).digest()  # sha_outputs
            + b"\x00"  # spend_type: key path, no annex
            + b"\x00\x00\x00\x00"  # input_index
        )
        return tagged_hash("TapSighash", sig_msg)
    raise FormatError(f"no BIP-322 simple sighash is defined here for a {address.kind.name} address")


def _parse_der(der: bytes) -> None:
    """Check a strict-DER (BIP-66) ECDSA signature with r, s in [1, n-1] and low s.

    Raises:
        FormatError: otherwise.
    """
    size = len(der)
    if not 8 <= size <= 72 or der[0] != 0x30 or der[1] != size - 2 or der[2] != 0x02:
        raise FormatError("the ECDSA signature is not strict DER")
    len_r = der[3]
    if len_r == 0 or 5 + len_r >= size or der[4 + len_r] != 0x02:
        raise FormatError("the ECDSA signature is not strict DER")
    len_s = der[5 + len_r]
    if len_s == 0 or len_r + len_s + 6 != size:
        raise FormatError("the ECDSA signature is not strict DER")
    r_bytes = der[4 : 4 + len_r]
    s_bytes = der[6 + len_r :]
    for part in (r_bytes, s_bytes):
        if part[0] & 0x80 or (len(part) > 1 and part[0] == 0 and not part[1] & 0x80):
            raise FormatError("the ECDSA signature is not strict DER")
    r = int.from_bytes(r_bytes, "big")
    s = int.from_bytes(s_bytes, "big")
    if not 1 <= r < SECP256K1_ORDER or not 1 <= s < SECP256K1_ORDER:
        raise FormatError("the ECDSA signature has r or s outside [1, n-1]")
    if s > _HALF_ORDER:
        raise FormatError("the ECDSA signature has a high s (above n/2), a non-canonical encoding")


def verify_bip322(address: BitcoinAddress, witness: bytes, message: bytes) -> frozenset[bytes]:
    """Verify a BIP-322 "simple" signature (a serialized witness stack) for a P2WPKH or P2TR address.

    P2WPKH: exactly two items, a strict-DER low-s ECDSA signature followed by ``SIGHASH_ALL``
    (0x01), and a 33-byte compressed key whose hash160 is the program; the signature must verify
    on :func:`bip322_sighash`. P2TR key path: exactly one item, a 64-byte BIP-340 signature
    (``SIGHASH_DEFAULT``) or 65 bytes ending in 0x01 (``SIGHASH_ALL``), verifying under the
    output key (the program).

    Returns:
        The signing key's x-coordinate (P2TR: the output key).

    Raises:
        FormatError: if the witness does not parse or does not have the kind's shape.
        VerificationError: if the kind is unsupported, the key does not hash to the program, the
            output key is not a point, or the signature is false.
    """
    if address.kind not in (AddressKind.P2WPKH, AddressKind.P2TR):
        raise VerificationError(f"a bip322 simple signature here proves P2WPKH or P2TR, not {address.kind.name}")
    items = _parse_witness(bytes(witness))
    if address.kind is AddressKind.P2WPKH:
        return _verify_bip322_p2wpkh(address, items, message)
    return _verify_bip322_p2tr(address, items, message)


def _verify_bip322_p2wpkh(address: BitcoinAddress, items: list[bytes], message: bytes) -> frozenset[bytes]:
    if len(items) != 2:
        raise FormatError(f"a P2WPKH witness has 2 items, not {len(items)}")
    signature, pubkey = items
    if not signature:
        raise FormatError("the P2WPKH witness signature is empty")
    if signature[-1] != SIGHASH_ALL:
        raise FormatError(f"the P2WPKH witness signature has hash type {signature[-1]}, not SIGHASH_ALL")
    der = signature[:-1]
    _parse_der(der)
    if len(pubkey) != 33 or pubkey[0] not in (2, 3):
        raise FormatError("the P2WPKH witness key is not a 33-byte compressed key")
    try:
        key = PublicKey(pubkey)
    except ValueError:
        raise FormatError("the P2WPKH witness key is not a valid secp256k1 point") from None
    if hash160(pubkey) != address.program:
        raise VerificationError("the witness key does not hash to the P2WPKH address")
    if not key.verify(der, bip322_sighash(address, message, SIGHASH_ALL), hasher=None):
        raise VerificationError("the P2WPKH witness signature is false")
    return frozenset((pubkey[1:],))


def _verify_bip322_p2tr(address: BitcoinAddress, items: list[bytes], message: bytes) -> frozenset[bytes]:
    if len(items) != 1:
        raise FormatError(f"a P2TR key-path witness has 1 item, not {len(items)}")
    (signature,) = items
    if len(signature) == 64:
        hash_type = SIGHASH_DEFAULT
    elif len(signature) == 65 and signature[64] == SIGHASH_ALL:
        hash_type = SIGHASH_ALL
    elif len(signature) == 65:
        raise FormatError(f"the P2TR witness signature has hash type {signature[64]}, not SIGHASH_ALL")
    else:
        raise FormatError(f"a P2TR witness signature has 64 or 65 bytes, not {len(signature)}")
    if int.from_bytes(signature[:32], "big") >= _FIELD_PRIME:
        raise FormatError("the Schnorr signature's r is not below the field prime")
    if int.from_bytes(signature[32:64], "big") >= SECP256K1_ORDER:
        raise FormatError("the Schnorr signature's s is not below the group order")
    try:
        key = PublicKeyXOnly(address.program)
    except ValueError:
        raise VerificationError("the P2TR output key is not a point on the curve") from None
    if not key.verify(signature[:64], bip322_sighash(address, message, hash_type)):
        raise VerificationError("the P2TR witness signature is false")
    return frozenset((address.program,))
