"""Sign a wallet list with local keys (``solvency reserves sign``): for tests, demos and small exchanges.

An exchange with hardware or MPC signers prints each wallet's control message with
``solvency reserves message`` and signs it there; this module is the local
equivalent. For every row whose proof lacks its signature(s) it finds the key:

* ``eip191``: the key whose Ethereum address is the row's address;
* ``bip137`` / ``bip322``: the key whose address of the row's kind (P2PKH with the
  compressed or the uncompressed key, P2WPKH, P2SH-P2WPKH, P2TR per BIP-86) is the
  row's address;
* ``multisig``: the keys of the row's script, of which at least ``m`` must be held.

Rows that already carry signatures are kept as they are. A row for which no key
is held is an :class:`~circuits.errors.InputError` naming the row.

The keys file (``wallet-keys.json``) is ``{"format": "zk-solvency-wallet-keys",
"version": 1, "keys": ["<64 hex digits>", ...]}``; it holds secrets (mode 0600).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import coincurve

from circuits.bitcoin_address import (
    AddressKind,
    parse_address,
    parse_multisig_script,
)
from circuits.control import Bip137Proof, Bip322Proof, Eip191Proof, MultisigProof, Proof
from circuits.errors import FormatError, InputError
from circuits.ethereum import checksum_address
from circuits.wallets import Wallet, WalletList, proof_items, proofs_json
from prover import btc_sign
from prover.eth_sign import eth_address_of, sign_eip191

__all__ = ["load_keys", "sign_wallets"]

KEYS_FORMAT: Final[str] = "zk-solvency-wallet-keys"
_MAX_KEYS: Final[int] = 1 << 20
_SECP256K1_ORDER: Final[int] = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def load_keys(path: Path) -> list[bytes]:
    """Read a keys file.

    Raises:
        InputError: unreadable, not the keys format, or a key that is not a valid secp256k1 secret.
    """
    name = Path(path).name
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{name}: file: cannot read a keys file ({exc})", section=f"{name}:file", file=name) from None
    if not isinstance(document, dict) or document.get("format") != KEYS_FORMAT or document.get("version") != 1:
        raise InputError(f"{name}: file: not a {KEYS_FORMAT} version 1 file", section=f"{name}:file", file=name)
    keys = document.get("keys")
    if not isinstance(keys, list) or len(keys) > _MAX_KEYS:
        raise InputError(f"{name}: keys: expected a list", section=f"{name}:keys", file=name, field="keys")
    out = []
    for i, k in enumerate(keys):
        valid = isinstance(k, str) and len(k) == 64 and all(c in "0123456789abcdef" for c in k)
        if not valid or not 0 < int(k, 16) < _SECP256K1_ORDER:
            raise InputError(
                f"{name}: keys[{i}]: expected a secp256k1 secret key as 64 lowercase hex digits",
                section=f"{name}:keys[{i}]", file=name, field=f"keys[{i}]",
            )
        out.append(bytes.fromhex(k))
    return out


def write_keys(path: Path, keys: Sequence[bytes]) -> None:
    """Write a keys file with mode 0600, refusing to overwrite (created exclusively)."""
    data = json.dumps({"format": KEYS_FORMAT, "version": 1, "keys": [k.hex() for k in keys]}, indent=1) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(data)


class _KeyIndex:
    """Which held key controls which address, per chain (computed once per chain)."""

    def __init__(self, secrets: Sequence[bytes]) -> None:
        self.secrets = list(secrets)
        self.by_pubkey: dict[bytes, bytes] = {}
        for s in self.secrets:
            pub = coincurve.PrivateKey(s).public_key
            self.by_pubkey[pub.format(compressed=True)] = s
            self.by_pubkey[pub.format(compressed=False)] = s
        self._addresses: dict[str, dict[str, bytes]] = {}

    def addresses(self, wallet_list: WalletList, chain: str) -> dict[str, bytes]:
        if chain in self._addresses:
            return self._addresses[chain]
        table: dict[str, bytes] = {}
        network = wallet_list.snapshot(chain).chain.bitcoin
        for s in self.secrets:
            if network is None:
                table[checksum_address(eth_address_of(s))] = s
                continue
            for address in (
                btc_sign.address_of(network, AddressKind.P2PKH, s),
                btc_sign.address_of(network, AddressKind.P2PKH, s, compressed=False),
                btc_sign.address_of(network, AddressKind.P2WPKH, s),
                btc_sign.address_of(network, AddressKind.P2SH, s),
                btc_sign.address_of(network, AddressKind.P2TR, s),
            ):
                table.setdefault(address.text, s)
        self._addresses[chain] = table
        return table


def _sign_row(wallet_list: WalletList, index: _KeyIndex, i: int, w: Wallet) -> Proof:
    message = wallet_list.message(w.chain, w.address)
    fields = dict(w.proof)
    kind = fields["type"]
    where = f"wallets[{i}]"
    if kind == "multisig":
        network = wallet_list.snapshot(w.chain).chain.bitcoin
        assert network is not None
        parsed = parse_address(network, w.address)
        try:
            script = bytes.fromhex(fields["script"])
            m, pubkeys = parse_multisig_script(script, kind=parsed.kind)
        except (ValueError, FormatError) as exc:
            raise InputError(f"{where}.proof.script: {exc}", section=where, field=f"{where}.proof.script") from None
        held = [index.by_pubkey[k] for k in pubkeys if k in index.by_pubkey]
        if len(held) < m:
            raise InputError(
                f"{where}: {w.address}: {len(held)} of the script's keys are held, {m} are needed",
                section=where, field=where,
            )
        return MultisigProof(script, btc_sign.sign_multisig(held[:m], script, message))
    secret = index.addresses(wallet_list, w.chain).get(w.address)
    if secret is None:
        raise InputError(f"{where}: no key held for {w.address} on {w.chain}", section=where, field=where)
    if kind == "eip191":
        return Eip191Proof(sign_eip191(secret, message))
    network = wallet_list.snapshot(w.chain).chain.bitcoin
    assert network is not None
    parsed = parse_address(network, w.address)
    if kind == "bip137":
        return Bip137Proof(btc_sign.sign_bip137(secret, parsed, message))
    return Bip322Proof(btc_sign.sign_bip322(secret, parsed, message))


def sign_wallets(wallet_list: WalletList, secrets: Sequence[bytes]) -> WalletList:
    """Return ``wallet_list`` with every unsigned row signed by the held keys (module docstring).

    Raises:
        InputError: a row none of the keys can sign.
    """
    index = _KeyIndex(secrets)
    rows = []
    for i, w in enumerate(wallet_list.wallets):
        if w.signed:
            rows.append(w)
            continue
        proof = _sign_row(wallet_list, index, i, w)
        rows.append(Wallet(w.asset, w.chain, w.address, w.balance, proof_items(proofs_json(proof))))
    return wallet_list.with_wallets(rows)

