"""End-to-end pipeline benchmark: gen-ledger -> prove -> verify -> customer check.

    python bench/pipeline_bench.py --customers 16384 --assets 1 --json
    python bench/pipeline_bench.py --customers 1024 --assets 3 --json

Every step runs the real ``solvency`` command in a subprocess, so times include
interpreter start. Peak RSS is ``ru_maxrss`` of the command's process tree
(``getrusage(RUSAGE_CHILDREN)`` in a wrapper): the largest single process, which for
``prove`` may be the parent or one of its worker processes. ``check_s`` is ``solvency check PACKAGE --bundle
BUNDLE`` for one customer, the customer's whole experience (every chunk proof of the customer's assets, as
``verify`` does); ``check_own_chunk_only_s`` is the quick partial check (``--own-chunk-only``, exit 6) and
``check_without_bundle_s`` the package alone (exit 6). ``ratio_*`` fields are measured in the same run,
because these machines are noisy.
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

ASSETS = ["BTC", "ETH", "USDT", "USDC", "SOL"]


def run(args: list[str], cwd: Path, expect: int = 0) -> tuple[float, float]:
    """Run ``args`` (which must exit ``expect``); return (seconds, peak RSS in MB of the tree's largest process)."""
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
    if rc != expect:
        raise SystemExit(f"{' '.join(args)} exited with {rc}")
    return seconds, rss_kb / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=16384)
    ap.add_argument("--assets", type=int, default=1, help="number of assets (from BTC, ETH, USDT, USDC, SOL)")
    ap.add_argument("--chunk", type=int, default=64)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    solvency = str(Path(sys.executable).with_name("solvency"))
    if not Path(solvency).exists():
        solvency = "solvency"
    with tempfile.TemporaryDirectory(prefix="zk-solvency-bench-") as tmp:
        work = Path(tmp)
        assets = ",".join(ASSETS[: args.assets])
        gen_s, _ = run(
            [solvency, "gen-ledger", "--customers", str(args.customers), "--assets", assets,
             "--seed", str(args.seed), "--out", "in"], work,
        )
        run([solvency, "keygen", "master.key"], work)
        prove_cmd = [
            solvency, "prove", "--ledger", "in/ledger.csv", "--reserves", "in/reserves.json",
            "--secret", "master.key", "--out", "bundle", "--packages", "packages", "--no-verify", "--quiet",
            "--chunk", str(args.chunk),
        ]
        if args.jobs:
            prove_cmd += ["--jobs", str(args.jobs)]
        prove_s, prove_rss = run(prove_cmd, work)
        verify_s, verify_rss = run([solvency, "verify", "bundle", "--quiet"], work)
        package = sorted((work / "packages").glob("*.json"))[0]
        check_s, check_rss = run([solvency, "check", str(package), "--bundle", "bundle"], work)
        check_own_s, _ = run([solvency, "check", str(package), "--bundle", "bundle", "--own-chunk-only"], work, 6)
        check_nobundle_s, _ = run([solvency, "check", str(package)], work, 6)
        bundle_bytes = sum(f.stat().st_size for f in (work / "bundle").iterdir())
        manifest = json.loads((work / "bundle" / "manifest.json").read_text())
        leaves = sum(a["leaf_count"] for a in manifest["assets"])
        chunks = sum(a["leaf_count"] // a["chunk_size"] for a in manifest["assets"])
    out = {
        "customers": args.customers,
        "assets": args.assets,
        "leaves": leaves,
        "chunks": chunks,
        "chunk_size": args.chunk,
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
        "cores": os.cpu_count(),
        "python": platform.python_version(),
    }
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:>28}: {v}")


if __name__ == "__main__":
    main()
