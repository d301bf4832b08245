"""End-to-end pipeline benchmark: gen-ledger -> prove -> verify -> customer check.

    python bench/pipeline_bench.py --customers 16384 --assets 1 --json
    python bench/pipeline_bench.py --customers 1024 --assets 3 --json
    python bench/pipeline_bench.py --customers 16384 --margin-share 0.1 --assets 5 --json

Every step runs the real ``solvency`` command in a subprocess, so times include
interpreter start. Peak RSS is ``ru_maxrss`` of the command's process tree
(``getrusage(RUSAGE_CHILDREN)`` in a wrapper): the largest single process, which for
``prove`` may be the parent or one of its worker processes. ``check_s`` is ``solvency check PACKAGE --bundle
BUNDLE`` for one customer, the customer's whole experience (every chunk proof of the customer's assets, as
``verify`` does); ``check_own_chunk_only_s`` is the quick partial check (``--own-chunk-only``, exit 6) and
``check_without_bundle_s`` the package alone (exit 6). ``ratio_*`` fields are measured in the same run,
because these machines are noisy.

With ``--margin-share F > 0`` (issue 11) the whole pipeline runs twice in the same run: with ``F`` of the
customers made margin accounts (``gen-ledger --margin-share F``, ``prove --margin in/margin.json``), then
spot-only (``F = 0``: the same seed, the same customers and spot balances). The JSON holds both runs'
figures (``margin``, ``spot``), the ratios margin / spot (``ratio_prove``, ``ratio_verify``, ``ratio_check``,
``ratio_bundle_bytes``) and the margin counts: real accounts, padded records ``M``, slots ``S``, tiers
``T_max``. The checked customer is the first margin account (by customer id) in both runs, so the margin
run's check covers their collateral proof. With ``F = 0`` (the default) only the spot run is made and the
output is as before.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ASSETS = ["BTC", "ETH", "USDT", "USDC", "SOL"]


def run(args: list[str], cwd: Path, expect: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """Run ``args`` (its exit code one of ``expect``); return (seconds, peak RSS in MB of the largest process)."""
    code = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:])\n"
        "dt = time.perf_counter() - t\n"
        "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(dt, ru.ru_maxrss, p.returncode)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.split()
    seconds, rss_kb, rc = float(out[-3]), int(out[-2]), int(out[-1])
    if rc not in expect:
        raise SystemExit(f"{' '.join(args)} exited with {rc}")
    return seconds, rss_kb / 1024


def margin_customers(work: Path) -> list[str]:
    """The margin accounts of ``work/in`` (sorted by customer id), as the prover groups them."""
    from prover.ledger import load_ledger
    from prover.margin_inputs import load_margin_file, margin_accounts
    from prover.reserves import load_reserves

    reserves = load_reserves(work / "in" / "reserves.json")
    ledger = load_ledger(work / "in" / "ledger.csv", reserves)
    accounts = margin_accounts(ledger, load_margin_file(work / "in" / "margin.json", reserves.assets))
    return [account.customer_id for account in accounts]


def first_customer(work: Path) -> str:
    """The smallest customer id of ``work/in/ledger.csv`` (code point order)."""
    from prover.ledger import load_ledger
    from prover.reserves import load_reserves

    ledger = load_ledger(work / "in" / "ledger.csv", load_reserves(work / "in" / "reserves.json"))
    return next(ledger.customer_ids())


def pipeline(
    solvency: str, work: Path, args: argparse.Namespace, margin_share: float, customer: str | None
) -> tuple[dict[str, Any], str]:
    """Run gen-ledger, keygen, prove, verify and three checks in ``work``; return the figures and the customer."""
    assets = ",".join(ASSETS[: args.assets])
    gen_cmd = [solvency, "gen-ledger", "--customers", str(args.customers), "--assets", assets,
               "--seed", str(args.seed), "--out", "in"]
    if margin_share > 0:
        gen_cmd += ["--margin-share", str(margin_share)]
    gen_s, _ = run(gen_cmd, work)
    run([solvency, "keygen", "master.key"], work)
    prove_cmd = [
        solvency, "prove", "--ledger", "in/ledger.csv", "--reserves", "in/reserves.json",
        "--secret", "master.key", "--out", "bundle", "--packages", "packages", "--no-verify", "--quiet",
        "--chunk", str(args.chunk),
    ]
    accounts: list[str] = []
    if margin_share > 0:
        prove_cmd += ["--margin", "in/margin.json"]
        accounts = margin_customers(work)
        if customer is None and accounts:
            customer = accounts[0]
    if customer is None:
        customer = first_customer(work)
    if args.jobs:
        prove_cmd += ["--jobs", str(args.jobs)]
    prove_s, prove_rss = run(prove_cmd, work)
    verify_s, verify_rss = run([solvency, "verify", "bundle", "--quiet"], work)
    package = "package.json"
    run([solvency, "packages", "export", "--store", "packages", "--customer-id", customer, "--out", package], work)
    check_s, check_rss = run([solvency, "check", package, "--bundle", "bundle"], work)
    # Partial checks exit 6, or 0 when the customer's own chunk is all there is (one chunk per asset).
    check_own_s, _ = run([solvency, "check", package, "--bundle", "bundle", "--own-chunk-only"], work, (0, 6))
    check_nobundle_s, _ = run([solvency, "check", package], work, (6,))
    bundle_bytes = sum(f.stat().st_size for f in (work / "bundle").iterdir())
    manifest = json.loads((work / "bundle" / "manifest.json").read_text())
    leaves = sum(a["leaf_count"] for a in manifest["assets"])
    chunks = sum(a["leaf_count"] // a["chunk_size"] for a in manifest["assets"])
    figures: dict[str, Any] = {
        "leaves": leaves,
        "chunks": chunks,
        "gen_ledger_s": round(gen_s, 3),
        "prove_s": round(prove_s, 3),
        "verify_s": round(verify_s, 3),
        "check_s": round(check_s, 3),
        "check_own_chunk_only_s": round(check_own_s, 3),
        "check_without_bundle_s": round(check_nobundle_s, 3),
        "peak_rss_mb": round(max(prove_rss, verify_rss, check_rss), 1),
        "prove_peak_rss_mb": round(prove_rss, 1),
        "verify_peak_rss_mb": round(verify_rss, 1),
        "check_peak_rss_mb": round(check_rss, 1),
        "bundle_bytes": bundle_bytes,
        "ratio_prove_over_verify": round(prove_s / verify_s, 2),
        "ratio_verify_over_check": round(verify_s / check_s, 2),
        "ratio_check_over_own_chunk_only": round(check_s / check_own_s, 2),
    }
    if margin_share > 0:
        margin = manifest.get("margin") or {}
        figures |= {
            "format_version": manifest.get("format_version"),
            "margin_accounts": len(accounts),
            "margin_records": margin.get("accounts", 0),
            "margin_slots": margin.get("slots", 0),
            "margin_tiers": margin.get("tiers", 0),
        }
    return figures, customer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=16384)
    ap.add_argument("--assets", type=int, default=1, help="number of assets (from BTC, ETH, USDT, USDC, SOL)")
    ap.add_argument("--chunk", type=int, default=64)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--margin-share", type=float, default=0.0,
        help="share of customers made margin accounts; > 0 also runs the spot-only pipeline and reports ratios",
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not 0 <= args.margin_share <= 1:
        ap.error("--margin-share must be in [0, 1]")
    if args.margin_share > 0 and args.assets < 2:
        ap.error("--margin-share needs --assets 2 or more (collateral in one asset, debt in another)")
    solvency = str(Path(sys.executable).with_name("solvency"))
    if not Path(solvency).exists():
        solvency = "solvency"
    head = {"customers": args.customers, "assets": args.assets, "chunk_size": args.chunk}
    tail = {"cores": os.cpu_count(), "python": platform.python_version()}
    if args.margin_share > 0:
        with tempfile.TemporaryDirectory(prefix="zk-solvency-bench-margin-") as tmp:
            margin, customer = pipeline(solvency, Path(tmp), args, args.margin_share, None)
        with tempfile.TemporaryDirectory(prefix="zk-solvency-bench-spot-") as tmp:
            spot, _ = pipeline(solvency, Path(tmp), args, 0.0, customer)
        counts = {k: margin.pop(k) for k in ("margin_accounts", "margin_records", "margin_slots", "margin_tiers")}
        out: dict[str, Any] = head | {"margin_share": args.margin_share} | counts | {
            "ratio_prove": round(margin["prove_s"] / spot["prove_s"], 2),
            "ratio_verify": round(margin["verify_s"] / spot["verify_s"], 2),
            "ratio_check": round(margin["check_s"] / spot["check_s"], 2),
            "ratio_bundle_bytes": round(margin["bundle_bytes"] / spot["bundle_bytes"], 2),
            "margin": margin,
            "spot": spot,
        } | tail
    else:
        with tempfile.TemporaryDirectory(prefix="zk-solvency-bench-") as tmp:
            spot, _ = pipeline(solvency, Path(tmp), args, 0.0, None)
        out = head | spot | tail
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:>28}: {v}")


if __name__ == "__main__":
    main()
