"""Bitcoin for proofs of reserves, in one namespace: addresses and scripts, and the three proofs of control.

:mod:`circuits.bitcoin_address` decodes and builds addresses per network (Base58Check,
bech32, bech32m) and m-of-n scripts; :mod:`circuits.bitcoin_proofs` verifies BIP-137
signed messages, BIP-322 simple signatures and multisig proofs
(``notes/51-bitcoin-control.md``). Secret-free: signing lives in :mod:`prover.btc_sign`.
"""

from __future__ import annotations

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
from circuits.bitcoin_proofs import (
    bip322_message_hash,
    bitcoin_message_hash,
    verify_bip137,
    verify_bip322,
    verify_multisig,
)

__all__ = [
    "NETWORKS",
    "AddressKind",
    "BitcoinAddress",
    "BitcoinNetwork",
    "bip322_message_hash",
    "bitcoin_message_hash",
    "hash160",
    "multisig_script",
    "p2pkh_address",
    "p2sh_address",
    "p2sh_p2wpkh_address",
    "p2tr_address",
    "p2wpkh_address",
    "p2wsh_address",
    "parse_address",
    "parse_multisig_script",
    "tagged_hash",
    "taproot_tweak",
    "verify_bip137",
    "verify_bip322",
    "verify_multisig",
]
