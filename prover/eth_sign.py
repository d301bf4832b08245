"""Ethereum signing for proofs of control: the address of a secret key and its EIP-191 signature.

This module holds secrets (32-byte secp256k1 private keys). It is used by
``solvency reserves sign``, the demo and the tests; an exchange with its own
hardware or MPC signer signs the printed message there instead. Signing goes
through eth-account (the reference implementation of ``personal_sign``), so that
the tests cross-check it against the coincurve-based verifier in
:mod:`circuits.ethereum`. Error messages never contain the key.
"""

from __future__ import annotations

from typing import Final

from coincurve import PrivateKey
from eth_account import Account
from eth_account.messages import encode_defunct

from circuits.errors import WitnessError
from circuits.ethereum import SECP256K1_N, SIGNATURE_SIZE, address_of_public_key

__all__ = ["eth_address_of", "sign_eip191"]

_SECRET_SIZE: Final[int] = 32


def _check_secret(secret32: bytes) -> None:
    """Raise WitnessError unless ``secret32`` is a 32-byte secp256k1 scalar in ``[1, n-1]``."""
    if len(secret32) != _SECRET_SIZE:
        raise WitnessError(f"an Ethereum private key is {_SECRET_SIZE} bytes, not {len(secret32)}")
    if not 0 < int.from_bytes(secret32, "big") < SECP256K1_N:
        raise WitnessError("the Ethereum private key is not in [1, n-1]")


def eth_address_of(secret32: bytes) -> bytes:
    """Return the 20-byte Ethereum address of a private key.

    Args:
        secret32: The 32-byte big-endian private key, in ``[1, n-1]``.

    Returns:
        The address bytes (print them with :func:`circuits.ethereum.checksum_address`).

    Raises:
        WitnessError: If the key is not 32 bytes or not in ``[1, n-1]``.
    """
    _check_secret(secret32)
    return address_of_public_key(PrivateKey(secret32).public_key)


def sign_eip191(secret32: bytes, message: bytes) -> bytes:
    """Sign a message with EIP-191 ``personal_sign`` (version ``0x45``).

    Args:
        secret32: The 32-byte big-endian private key, in ``[1, n-1]``.
        message: The message bytes (the control message, not its hash).

    Returns:
        The 65-byte signature ``r || s || v`` with ``v`` 27 or 28 and a low ``s``,
        as :func:`circuits.ethereum.verify_eip191` accepts it.

    Raises:
        WitnessError: If the key is not 32 bytes or not in ``[1, n-1]``.
    """
    _check_secret(secret32)
    signed = Account.sign_message(encode_defunct(primitive=message), private_key=secret32)
    signature = bytes(signed.signature)
    if len(signature) != SIGNATURE_SIZE or signature[64] not in (27, 28):  # pragma: no cover - eth-account contract
        raise WitnessError("eth-account returned a signature that is not 65 bytes with v 27 or 28")
    return signature
