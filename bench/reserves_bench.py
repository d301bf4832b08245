"""Proof-of-reserves benchmark: the cost of checking N proofs of control (issue 9, Benchmark).

    python bench/reserves_bench.py --wallets 10000 --json
    python bench/reserves_bench.py --wallets 600 --repeat 1

Builds a wallet list of N signed wallets, mixed: a third Bitcoin single-key
(P2WPKH and P2TR with BIP-322, P2PKH and P2SH-P2WPKH with BIP-137), a third
Bitcoin 2-of-3 multisig (P2WSH and P2SH), a third Ethereum accounts (EIP-191), on
Bitcoin regtest and ``eip155:31337``. Keys are ``SHA-256(seed || i)`` (bench data,
no real coins). A small ledger (``--customers``, default 64, chunk 64) is proved
twice: with the wallet list (format version 2) and with declared reserves equal to
the same sums (format version 1, no wallet list). The chunk proofs are the same
size in both, so the differences are the wallet list's.

Measured in the same run, after one untimed warm-up verify of each bundle, the
two bundles verified alternately for ``--repeat`` rounds (medians, min and max;
these machines are noisy, compare the ratios):

* ``verify_v2_s`` / ``verify_v1_s``: ``verify_bundle`` of each; ``added_verify_s`` is
  their difference per round, the verify-time cost of the wallet list;
* ``check_wallets_s``: :func:`circuits.wallets.check_wallets` over every row;
* ``parse_s``: :meth:`WalletList.from_bytes` of the bundle's ``wallets.json``;
* ``per_proof_us``: µs per row of decoding and verifying its proof of control, by
  proof type and address kind;
* ``added_bundle_bytes``: bundle bytes of version 2 minus version 1 (and per wallet);
* ``load_wallets_s``: prove-time :func:`prover.wallets.load_wallets` (read, parse,
  check every proof);
* ``sign_s``: :func:`prover.signing.sign_wallets` for all N rows (once).

The target is at most 3 s for 10,000 wallets, applied to ``added_verify_s`` scaled
to 10,000 wallets (``target_met``).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from circuits.bitcoin_address import (
    NETWORKS,
    parse_address,
)
from circuits.control import verify_control
from circuits.ethereum import checksum_address
from circuits.manifest import WALLETS_FILE
from circuits.wallets import WalletList, check_wallets, decode_proof
from prover import ProveOptions, write_bundle
from prover.eth_sign import eth_address_of
from prover.keys import keygen, load_secret
from prover.ledger import load_ledger
from prover.reserves import Reserves, load_reserves
from prover.signing import sign_wallets
from prover.synth import generate_ledger
from prover.synth_wallets import BITCOIN_KINDS, BITCOIN_REGTEST, DEV_CHAIN, bitcoin_wallet
from prover.wallets import load_wallets, write_wallet_list
from verifier import verify_bundle

TARGET_S = 3.0
TARGET_WALLETS = 10_000
CREATED = "2026-12-01T00:00:00Z"
_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SINGLE_KINDS = BITCOIN_KINDS[:4]
MULTISIG_KINDS = BITCOIN_KINDS[4:]


def _split(total: int, parts: int) -> list[int]:
    if total < parts:
        raise SystemExit(f"reserves of {total} base units cannot be split over {parts} wallets")
    share = [total // parts] * parts
    share[-1] += total - sum(share)
    return share


def build_unsigned(reserves: Reserves, n: int, seed: int) -> tuple[WalletList, list[bytes]]:
    """Return an unsigned list of ``n`` wallets (the mix of the module docstring) holding the reserves, and its keys."""
    keys: list[bytes] = []

    def new_key() -> bytes:
        k = int.from_bytes(hashlib.sha256(b"zk-solvency reserves bench key %d/%d" % (seed, len(keys))).digest(), "big")
        keys.append((k % (_ORDER - 1) + 1).to_bytes(32, "big"))
        return keys[-1]

    network = NETWORKS[BITCOIN_REGTEST]
    n_eth = n // 3
    n_btc = n - n_eth
    btc, eth = reserves.asset("BTC"), reserves.asset("ETH")
    wallets: list[dict[str, Any]] = []
    for j, amount in enumerate(_split(btc.reserves, n_btc)):
        # every other Bitcoin wallet is a 2-of-3 multisig: a third of all wallets
        kind = MULTISIG_KINDS[(j // 2) % 2] if j % 2 else SINGLE_KINDS[(j // 2) % 4]
        address, proof = bitcoin_wallet(network, kind, new_key)
        wallets.append({"asset": "BTC", "chain": BITCOIN_REGTEST, "address": address, "balance": str(amount),
                        "proof": proof})
    scale = 10 ** (18 - eth.decimals)
    for amount in _split(eth.reserves, n_eth):
        address_text = checksum_address(eth_address_of(new_key()))
        wallets.append(
            {"asset": "ETH", "chain": DEV_CHAIN, "address": address_text, "balance": str(amount * scale),
             "proof": {"type": "eip191"}}
        )
    document = {
        "format": "zk-solvency-wallets",
        "version": 1,
        "exchange": reserves.exchange,
        "round": reserves.round,
        "chains": [
            {"chain": BITCOIN_REGTEST, "height": 1000 + seed,
             "block_hash": hashlib.sha256(b"bench block btc %d" % seed).hexdigest()},
            {"chain": DEV_CHAIN, "height": 1000 + seed,
             "block_hash": "0x" + hashlib.sha256(b"bench block eth %d" % seed).hexdigest()},
        ],
        "assets": [
            {"symbol": "BTC", "decimals": btc.decimals,
             "sources": [{"chain": BITCOIN_REGTEST, "token": None, "decimals": btc.decimals}]},
            {"symbol": "ETH", "decimals": eth.decimals,
             "sources": [{"chain": DEV_CHAIN, "token": None, "decimals": 18}]},
        ],
        "wallets": wallets,
        "attested": [],
    }
    return WalletList.parse(document, "wallets", signed=False, normalize=True), keys


def row_label(wallet_list: WalletList, i: int) -> str:
    w = wallet_list.wallets[i]
    network = wallet_list.snapshot(w.chain).chain.bitcoin
    if network is None:
        return f"{w.proof_type}/eoa"
    return f"{w.proof_type}/{parse_address(network, w.address).kind.name.lower()}"


def per_row_times(wallet_list: WalletList, labels: list[str]) -> dict[str, list[float]]:
    """Seconds per row of decoding and verifying its proof of control (what check_wallets does per row)."""
    chains = {s.chain.caip2: s.chain for s in wallet_list.chains}
    out: dict[str, list[float]] = defaultdict(list)
    clock = time.perf_counter
    for i, w in enumerate(wallet_list.wallets):
        chain = chains[w.chain]
        message = wallet_list.message(w.chain, w.address)
        t0 = clock()
        verify_control(chain, w.address, decode_proof(w), message)
        out[labels[i]].append(clock() - t0)
    return out


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def summary(values: list[float], digits: int = 4) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
    }


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.iterdir() if f.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wallets", type=int, default=10_000, help="number of signed wallets (at least 3)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of the alternating v1/v2 measurements")
    ap.add_argument("--customers", type=int, default=64, help="customers of the small ledger")
    ap.add_argument("--chunk", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.wallets < 3:
        ap.error("--wallets must be at least 3")
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")

    with tempfile.TemporaryDirectory(prefix="zk-solvency-reserves-bench-") as tmp:
        work = Path(tmp)
        ledger_path, reserves_path = generate_ledger(args.customers, ["BTC", "ETH"], args.seed, work / "in")
        declared = load_reserves(reserves_path)

        build_s, (unsigned, keys) = timed(lambda: build_unsigned(declared, args.wallets, args.seed))
        sign_s, signed = timed(lambda: sign_wallets(unsigned, keys))
        wallets_path = work / "wallets.json"
        write_wallet_list(wallets_path, signed)

        load_wallets_s, proven = timed(lambda: load_wallets(wallets_path))
        reserves = proven.reserves
        ledger = load_ledger(ledger_path, reserves)
        options = ProveOptions(chunk=args.chunk, jobs=1, created=CREATED)
        bundles: dict[str, Path] = {}
        prove_s: dict[str, float] = {}
        for version in ("v1", "v2"):
            key = work / f"{version}.key"
            keygen(key)
            bundles[version] = work / f"bundle-{version}"
            t0 = time.perf_counter()
            write_bundle(
                ledger, reserves, load_secret(key), bundles[version], work / f"packages-{version}", options,
                wallets=proven if version == "v2" else None,
            )
            prove_s[version] = time.perf_counter() - t0

        wallets_bytes = (bundles["v2"] / WALLETS_FILE).read_bytes()
        parsed = WalletList.from_bytes(wallets_bytes)
        labels = [row_label(parsed, i) for i in range(len(parsed.wallets))]
        verify: dict[str, list[float]] = {"v1": [], "v2": []}
        check_s: list[float] = []
        parse_s: list[float] = []
        rows: dict[str, list[float]] = defaultdict(list)
        for version in ("v1", "v2"):  # warm-up (generator tables, imports, caches), not timed
            assert verify_bundle(bundles[version]).ok
        for r in range(args.repeat):
            order = ("v1", "v2") if r % 2 == 0 else ("v2", "v1")
            for version in order:
                t0 = time.perf_counter()
                report = verify_bundle(bundles[version])
                verify[version].append(time.perf_counter() - t0)
                assert report.ok
            dt, check = timed(lambda: check_wallets(parsed))
            assert check.ok, check.failures[:3]
            check_s.append(dt)
            dt, _ = timed(lambda: WalletList.from_bytes(wallets_bytes))
            parse_s.append(dt)
            for label, times in per_row_times(parsed, labels).items():
                rows[label].extend(times)

        bytes_v1, bytes_v2 = dir_bytes(bundles["v1"]), dir_bytes(bundles["v2"])

    n = args.wallets
    added = [v2 - v1 for v1, v2 in zip(verify["v1"], verify["v2"], strict=True)]
    added_median = statistics.median(added)
    added_at_target = added_median * TARGET_WALLETS / n
    check_median = statistics.median(check_s)
    mix: dict[str, int] = defaultdict(int)
    for label in labels:
        mix[label] += 1
    per_proof = {
        label: {
            "rows": mix[label],
            "median_us": round(statistics.median(times) * 1e6, 1),
            "min_us": round(min(times) * 1e6, 1),
            "max_us": round(max(times) * 1e6, 1),
        }
        for label, times in sorted(rows.items())
    }
    by_type: dict[str, list[float]] = defaultdict(list)
    for label, times in rows.items():
        by_type[label.partition("/")[0]].extend(times)
    out: dict[str, Any] = {
        "wallets": n,
        "mix": dict(sorted(mix.items())),
        "customers": args.customers,
        "chunk_size": args.chunk,
        "repeat": args.repeat,
        "seed": args.seed,
        "verify_v1_s": summary(verify["v1"]),
        "verify_v2_s": summary(verify["v2"]),
        "added_verify_s": summary(added),
        "added_verify_us_per_wallet": round(added_median / n * 1e6, 1),
        "check_wallets_s": summary(check_s),
        "check_wallets_us_per_wallet": round(check_median / n * 1e6, 1),
        "parse_s": summary(parse_s),
        "per_proof_us": per_proof,
        "per_proof_type_median_us": {
            k: round(statistics.median(v) * 1e6, 1) for k, v in sorted(by_type.items())
        },
        "bundle_bytes_v1": bytes_v1,
        "bundle_bytes_v2": bytes_v2,
        "added_bundle_bytes": bytes_v2 - bytes_v1,
        "added_bundle_bytes_per_wallet": round((bytes_v2 - bytes_v1) / n, 1),
        "wallets_json_bytes": len(wallets_bytes),
        "load_wallets_s": round(load_wallets_s, 4),
        "prove_v1_s": round(prove_s["v1"], 3),
        "prove_v2_s": round(prove_s["v2"], 3),
        "build_list_s": round(build_s, 4),
        "sign_s": round(sign_s, 4),
        "sign_us_per_wallet": round(sign_s / n * 1e6, 1),
        "ratio_verify_v2_over_v1": round(statistics.median(verify["v2"]) / statistics.median(verify["v1"]), 2),
        "ratio_added_verify_over_check_wallets": round(added_median / check_median, 2),
        "target": {
            "wallets": TARGET_WALLETS,
            "max_added_verify_s": TARGET_S,
            "added_verify_s_at_target": round(added_at_target, 3),
            "check_wallets_s_at_target": round(check_median * TARGET_WALLETS / n, 3),
            "met": added_at_target <= TARGET_S,
        },
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "machine": platform.machine(),
            "coincurve": importlib.metadata.version("coincurve"),
            "eth_hash": importlib.metadata.version("eth-hash"),
        },
    }
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:>38}: {v}")


if __name__ == "__main__":
    main()
