"""A synthetic signed wallet list for demos, tests and benchmarks (``solvency gen-ledger``).

Test data, not protocol values: the wallet keys are derived from the seed
(``SHA-256("zk-solvency synthetic wallet key" || seed || i)``) so that the same
seed gives the same wallets, and the chains are labelled as what they are:
Bitcoin **regtest** (``bip122:0f9188f13cb7b2c71f2a335e3a4fc328``) and the local
development chain ``eip155:31337``, with block hashes derived from the seed. No
real coins are claimed.

Each asset's reserves are split over several wallets covering every kind the
tool proves: BTC over P2WPKH (BIP-322), P2TR (BIP-322), P2PKH (BIP-137),
P2SH-P2WPKH (BIP-137) and 2-of-3 P2WSH and P2SH multisig wallets; ETH over
Ethereum accounts (18 on-chain decimals); any other asset over the same accounts
as an ERC-20 token with a synthetic contract address.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import coincurve

from circuits.bitcoin_address import (
    NETWORKS,
    AddressKind,
    BitcoinNetwork,
    multisig_script,
    p2sh_address,
    p2wsh_address,
)
from circuits.ethereum import checksum_address
from circuits.wallets import WalletList
from prover.btc_sign import address_of
from prover.eth_sign import eth_address_of
from prover.reserves import Reserves
from prover.signing import sign_wallets, write_keys
from prover.wallets import write_wallet_list

__all__ = [
    "BITCOIN_KINDS",
    "BITCOIN_REGTEST",
    "DEV_CHAIN",
    "bitcoin_wallet",
    "generate_wallets",
    "synthetic_wallet_list",
]

BITCOIN_REGTEST: Final[str] = "bip122:0f9188f13cb7b2c71f2a335e3a4fc328"
DEV_CHAIN: Final[str] = "eip155:31337"
_ORDER: Final[int] = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
#: The Bitcoin wallet kinds :func:`bitcoin_wallet` builds: four single-key kinds, then two 2-of-3 multisigs.
BITCOIN_KINDS: Final[tuple[str, ...]] = ("p2wpkh", "p2tr", "p2pkh", "p2sh-p2wpkh", "p2wsh-2of3", "p2sh-2of3")
_SINGLE_KEY_KINDS: Final[dict[str, AddressKind]] = {
    "p2wpkh": AddressKind.P2WPKH,
    "p2tr": AddressKind.P2TR,
    "p2pkh": AddressKind.P2PKH,
    "p2sh-p2wpkh": AddressKind.P2SH,
}
_ETH_ACCOUNTS: Final[int] = 3


def _key(seed: int, i: int) -> bytes:
    k = int.from_bytes(hashlib.sha256(b"zk-solvency synthetic wallet key" + f"{seed}/{i}".encode()).digest(), "big")
    return (k % (_ORDER - 1) + 1).to_bytes(32, "big")


def _split(total: int, parts: int) -> list[int]:
    parts = max(1, min(parts, total))
    share = [total // parts] * parts
    share[-1] += total - sum(share)
    return [s for s in share if s > 0]


def bitcoin_wallet(
    network: BitcoinNetwork, kind: str, new_key: Callable[[], bytes]
) -> tuple[str, dict[str, Any]]:
    """Return the address and the unsigned proof object of a new Bitcoin wallet of ``kind`` (:data:`BITCOIN_KINDS`).

    ``new_key()`` supplies each secret key it needs (three for a multisig, whose keys all sign later).
    """
    if kind.endswith("2of3"):
        members = [coincurve.PrivateKey(new_key()).public_key.format(compressed=True) for _ in range(3)]
        script = multisig_script(2, members)
        address = (p2wsh_address if kind.startswith("p2wsh") else p2sh_address)(network, script)
        return address.text, {"type": "multisig", "script": script.hex()}
    address = address_of(network, _SINGLE_KEY_KINDS[kind], new_key())
    return address.text, {"type": "bip322" if kind in ("p2wpkh", "p2tr") else "bip137"}


def synthetic_wallet_list(
    reserves: Reserves, seed: int, *, wallets_per_asset: int | None = None
) -> tuple[WalletList, list[bytes]]:
    """Return an unsigned wallet list whose wallets hold exactly each asset's reserves, and its keys."""
    keys: list[bytes] = []

    def new_key() -> bytes:
        keys.append(_key(seed, len(keys)))
        return keys[-1]

    network = NETWORKS[BITCOIN_REGTEST]
    eth_keys = [new_key() for _ in range(_ETH_ACCOUNTS)]
    eth_addresses = [checksum_address(eth_address_of(k)) for k in eth_keys]
    chains = {
        chain: {
            "chain": chain,
            "height": 1000 + seed % 100_000,
            "block_hash": ("" if chain.startswith("bip122:") else "0x")
            + hashlib.sha256(f"zk-solvency synthetic block {seed} {chain}".encode()).hexdigest(),
        }
        for chain in (BITCOIN_REGTEST, DEV_CHAIN)
    }
    assets: list[dict[str, Any]] = []
    wallets: list[dict[str, Any]] = []
    for spec in reserves.assets:
        if spec.symbol == "BTC":
            source = {"chain": BITCOIN_REGTEST, "token": None, "decimals": spec.decimals}
            n = wallets_per_asset or len(BITCOIN_KINDS)
            for j, amount in enumerate(_split(spec.reserves, n)):
                address, proof = bitcoin_wallet(network, BITCOIN_KINDS[j % len(BITCOIN_KINDS)], new_key)
                wallets.append(
                    {"asset": spec.symbol, "chain": BITCOIN_REGTEST, "address": address,
                     "balance": str(amount), "proof": proof}
                )
        else:
            native = spec.symbol == "ETH"
            token = None if native else checksum_address(
                hashlib.sha256(f"zk-solvency synthetic token {spec.symbol}".encode()).digest()[:20]
            )
            onchain = 18 if native else spec.decimals
            source = {"chain": DEV_CHAIN, "token": token, "decimals": onchain}
            n = wallets_per_asset or _ETH_ACCOUNTS
            while len(eth_addresses) < n:
                eth_keys.append(new_key())
                eth_addresses.append(checksum_address(eth_address_of(eth_keys[-1])))
            for j, amount in enumerate(_split(spec.reserves, n)):
                wallets.append(
                    {"asset": spec.symbol, "chain": DEV_CHAIN, "address": eth_addresses[j],
                     "balance": str(amount * 10 ** (onchain - spec.decimals)), "proof": {"type": "eip191"}}
                )
        assets.append({"symbol": spec.symbol, "decimals": spec.decimals, "sources": [source]})
    used = sorted({w["chain"] for w in wallets})
    document = {
        "format": "zk-solvency-wallets",
        "version": 1,
        "exchange": reserves.exchange,
        "round": reserves.round,
        "chains": [chains[c] for c in used],
        "assets": assets,
        "wallets": wallets,
        "attested": [],
    }
    return WalletList.parse(document, "wallets", signed=False, normalize=True), keys


def generate_wallets(reserves: Reserves, seed: int, out_dir: Path) -> tuple[Path, Path]:
    """Write ``out_dir/wallets.json`` (signed, covering each asset's reserves) and ``out_dir/wallet-keys.json``.

    An existing ``wallet-keys.json`` is replaced (it holds synthetic keys only).
    """
    unsigned, keys = synthetic_wallet_list(reserves, seed)
    signed = sign_wallets(unsigned, keys)
    wallets_path, keys_path = Path(out_dir) / "wallets.json", Path(out_dir) / "wallet-keys.json"
    write_wallet_list(wallets_path, signed)
    keys_path.unlink(missing_ok=True)
    write_keys(keys_path, keys)
    return wallets_path, keys_path
