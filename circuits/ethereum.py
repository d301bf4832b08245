r"""Ethereum proof of control: EIP-55 addresses, CAIP-2 chain ids and EIP-191 ``personal_sign``.

The procedure is written out in ``circuits/notes/52-ethereum-control.md``. In short:

* an address is ``0x`` and 40 hex digits, either all lowercase or exactly its EIP-55
  checksummed form (:func:`parse_eth_address`); it is printed checksummed
  (:func:`checksum_address`);
* a chain is ``eip155:<decimal chain id>`` (:func:`eth_chain_id`);
* a proof of control is a 65-byte ``r || s || v`` signature over
  ``keccak256("\x19Ethereum Signed Message:\n" || decimal(len(m)) || m)``
  (:func:`eip191_hash`), with ``v`` 27 or 28 and a low ``s``; the address of the key it
  recovers must be the stated one (:func:`verify_eip191`).

Everything secp256k1 goes through coincurve (libsecp256k1), keccak through
``eth_hash`` (pycryptodome backend). Nothing here holds a secret.
"""

from __future__ import annotations

import re
from typing import Final

from coincurve import PublicKey
from eth_hash.auto import keccak

from circuits.errors import FormatError, VerificationError

__all__ = [
    "SECP256K1_N",
    "SIGNATURE_SIZE",
    "address_of_public_key",
    "checksum_address",
    "eip191_hash",
    "eth_chain_id",
    "parse_eth_address",
    "verify_eip191",
]

#: Size of an Ethereum address in bytes (the last 20 bytes of keccak256 of the public key).
ADDRESS_SIZE: Final[int] = 20

#: Size of an EIP-191 ``personal_sign`` signature: ``r`` (32) || ``s`` (32) || ``v`` (1).
SIGNATURE_SIZE: Final[int] = 65

#: The order ``n`` of the secp256k1 group.
SECP256K1_N: Final[int] = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

#: The EIP-191 version ``0x45`` ("E") prefix; the decimal message length and the message follow it.
EIP191_PREFIX: Final[bytes] = b"\x19Ethereum Signed Message:\n"

_HALF_N: Final[int] = SECP256K1_N // 2
_CAIP2_PREFIX: Final[str] = "eip155:"
_MAX_CHAIN_ID: Final[int] = 2**63
_ADDRESS_RE: Final[re.Pattern[str]] = re.compile(r"0x[0-9a-fA-F]{40}")
_CHAIN_ID_RE: Final[re.Pattern[str]] = re.compile(r"[1-9][0-9]{0,18}")


def checksum_address(address20: bytes) -> str:
    """Return the EIP-55 mixed-case checksummed text of a 20-byte address.

    Args:
        address20: The 20 address bytes.

    Returns:
        ``0x`` and 40 hex digits; a letter is uppercase when the matching nibble of
        ``keccak256`` of the lowercase hex text (ASCII) is 8 or more.

    Raises:
        FormatError: If ``address20`` is not 20 bytes.
    """
    if len(address20) != ADDRESS_SIZE:
        raise FormatError(f"an Ethereum address is {ADDRESS_SIZE} bytes, not {len(address20)}")
    lower = address20.hex()
    digest = keccak(lower.encode("ascii")).hex()
    return "0x" + "".join(c.upper() if c > "9" and digest[i] >= "8" else c for i, c in enumerate(lower))


def parse_eth_address(text: str) -> bytes:
    """Parse an Ethereum address written as ``0x`` and 40 hex digits.

    The hex digits are accepted all lowercase, or in exactly their EIP-55
    checksummed form. Any other mixed case, and all uppercase unless that happens
    to be the checksummed form, is refused: it is a typo the checksum caught, or a
    form whose checksum nobody checked.

    Args:
        text: The address text.

    Returns:
        The 20 address bytes.

    Raises:
        FormatError: If the text is not ``0x`` + 40 hex digits (a ``0X`` prefix
            included), or its letters are neither all lowercase nor the EIP-55 form.
    """
    if _ADDRESS_RE.fullmatch(text) is None:
        raise FormatError("an Ethereum address is 0x followed by 40 hex digits")
    digits = text[2:]
    address = bytes.fromhex(digits)
    if digits != digits.lower() and text != checksum_address(address):
        raise FormatError("the Ethereum address has a wrong EIP-55 checksum (mixed case that is not its checksum)")
    return address


def eth_chain_id(caip2: str) -> int:
    """Return the chain id of a CAIP-2 Ethereum chain ``eip155:<decimal chain id>``.

    Args:
        caip2: The CAIP-2 chain id text, e.g. ``"eip155:1"`` or ``"eip155:31337"``.

    Returns:
        The chain id, ``1 <= id < 2**63``.

    Raises:
        FormatError: If the namespace is not ``eip155``, or the reference is not a
            canonical decimal (no sign, no leading zero, no space) in that range.
    """
    if not caip2.startswith(_CAIP2_PREFIX):
        raise FormatError("an Ethereum chain is eip155:<decimal chain id>")
    reference = caip2[len(_CAIP2_PREFIX) :]
    if _CHAIN_ID_RE.fullmatch(reference) is None:
        raise FormatError("an Ethereum chain id is a decimal number without sign or leading zero")
    chain_id = int(reference)
    if chain_id >= _MAX_CHAIN_ID:
        raise FormatError("an Ethereum chain id is less than 2^63")
    return chain_id


def eip191_hash(message: bytes) -> bytes:
    r"""Return the EIP-191 ``personal_sign`` hash of a message.

    Args:
        message: The message bytes (for proofs of reserves, the UTF-8 control message).

    Returns:
        ``keccak256(b"\x19Ethereum Signed Message:\n" + decimal(len(message)) + message)``, 32 bytes.
    """
    return keccak(EIP191_PREFIX + str(len(message)).encode("ascii") + message)


def address_of_public_key(public_key: PublicKey) -> bytes:
    """Return the Ethereum address of a secp256k1 public key.

    Args:
        public_key: The public key.

    Returns:
        The last 20 bytes of ``keccak256(X || Y)``, the 64-byte uncompressed point
        without its ``0x04`` tag.
    """
    return keccak(public_key.format(compressed=False)[1:])[-ADDRESS_SIZE:]


def verify_eip191(address20: bytes, signature: bytes, message: bytes) -> frozenset[bytes]:
    """Verify an EIP-191 ``personal_sign`` proof that ``address20`` signed ``message``.

    Args:
        address20: The stated 20-byte address (from :func:`parse_eth_address`).
        signature: ``r`` (32 bytes, big-endian) || ``s`` (32) || ``v`` (1 byte, 27 or 28).
        message: The signed message (not its hash).

    Returns:
        The controlling key's identity: a set of one 32-byte x-coordinate of the
        recovered public key.

    Raises:
        FormatError: If the address is not 20 bytes, the signature is not 65 bytes,
            ``v`` is not 27 or 28, ``r`` or ``s`` is not in ``[1, n-1]``, or ``s`` is
            high (``s > n/2``, the non-canonical twin of a valid signature).
        VerificationError: If no public key recovers from the signature, or the
            recovered key's address is not the stated address.
    """
    if len(address20) != ADDRESS_SIZE:
        raise FormatError(f"an Ethereum address is {ADDRESS_SIZE} bytes, not {len(address20)}")
    if len(signature) != SIGNATURE_SIZE:
        raise FormatError(f"an EIP-191 signature is {SIGNATURE_SIZE} bytes (r, s, v), not {len(signature)}")
    v = signature[64]
    if v not in (27, 28):
        hint = f" (a signer's recovery id {v} is written as {v + 27})" if v in (0, 1) else ""
        raise FormatError(f"the signature's v byte is {v}; it must be 27 or 28{hint}")
    r = int.from_bytes(signature[0:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    if not 0 < r < SECP256K1_N:
        raise FormatError("the signature's r is not in [1, n-1]")
    if not 0 < s < SECP256K1_N:
        raise FormatError("the signature's s is not in [1, n-1]")
    if s > _HALF_N:
        raise FormatError("the signature's s is high (s > n/2); only the low-s form is accepted")
    try:
        public_key = PublicKey.from_signature_and_message(
            signature[:64] + bytes((v - 27,)), eip191_hash(message), hasher=None
        )
    except ValueError:
        raise VerificationError("no public key recovers from the signature") from None
    recovered = address_of_public_key(public_key)
    if recovered != address20:
        raise VerificationError(
            f"the signature recovers to {checksum_address(recovered)}, "
            f"not to the stated address {checksum_address(address20)}"
        )
    return frozenset((public_key.format(compressed=True)[1:],))
