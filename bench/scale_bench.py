"""Scale benchmark: prove, verify and one customer's check at growing N (issue 10).

    python bench/scale_bench.py --sizes 16384,65536,262144,1048576 --json
    python bench/scale_bench.py --sizes 4096 --dask --json

Per size, every step is a real ``solvency`` subprocess (interpreter start included), one asset, declared
reserves: ``prove --no-verify`` into a SQLite package store, ``verify``, ``packages export`` of one customer
and ``check PACKAGE --bundle BUNDLE`` (the full customer check, which for format 3 reads the customer's chunk
and path by offset). Reported per size: ``prove_s``, ``verify_s``, ``check_s``, ``peak_rss_mb`` (the largest
single process of any step, ``ru_maxrss``: for ``prove`` the parent or one of its workers), ``bundle_bytes``,
``package_bytes``, the per-customer costs and, between consecutive sizes,
the slopes (added seconds and MB per added customer). ``node_share`` is the node proofs' time over the chunk
proofs' time, read from the stage summary ``solvency prove`` prints (the issue's "extra proving" of the sum
tree).

``--dask`` adds, at the first size, in the same run: the default local process pool (``--jobs 2``), a
``LocalCluster`` of two single-threaded workers (``--cluster local:2``) and of one (``--cluster local:1``),
with the ratios ``ratio_localcluster_over_pool`` (target <= 1.10) and ``ratio_one_over_two_workers``
(target >= 1.8). Ratios are measured in the same run, because these machines are noisy.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any


def run(args: list[str], cwd: Path, expect: int = 0) -> tuple[float, float, str]:
    """Run ``args`` (which must exit ``expect``); return (seconds, peak RSS in MB of the largest process, stdout)."""
    code = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "dt = time.perf_counter() - t\n"
        "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "sys.stderr.write(p.stdout + p.stderr)\n"
        "print(dt, ru.ru_maxrss, p.returncode)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, check=True, capture_output=True, text=True)
    seconds, rss_kb, rc = done.stdout.split()[-3:]
    if int(rc) != expect:
        raise SystemExit(f"{' '.join(args)} exited with {rc}:\n{done.stderr[-2000:]}")
    return float(seconds), int(rss_kb) / 1024, done.stderr


def stage_seconds(text: str, stage: str) -> float | None:
    """The seconds of ``stage`` in the ``solvency prove`` stage summary (``prove 256 in 12.3 s, ...``)."""
    match = re.search(rf"\b{stage} [0-9,]+ in ([0-9.]+) s", text)
    return float(match[1]) if match else None


def first_customer(ledger: Path) -> str:
    with ledger.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader)
        return next(reader)[0]


def one_size(solvency: str, n: int, chunk: int, jobs: int | None, seed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="zk-solvency-scale-") as tmp:
        work = Path(tmp)
        run([solvency, "gen-ledger", "--customers", str(n), "--assets", "BTC", "--seed", str(seed), "--out", "in"],
            work)
        run([solvency, "keygen", "master.key"], work)
        prove = [solvency, "prove", "--ledger", "in/ledger.csv", "--reserves", "in/reserves.json",
                 "--secret", "master.key", "--out", "bundle", "--packages", "packages.sqlite", "--no-verify",
                 "--quiet", "--chunk", str(chunk)]
        if jobs:
            prove += ["--jobs", str(jobs)]
        prove_s, prove_rss, prove_out = run(prove, work)
        verify_s, verify_rss, _ = run([solvency, "verify", "bundle", "--quiet"], work)
        customer = first_customer(work / "in" / "ledger.csv")
        run([solvency, "packages", "export", "--store", "packages.sqlite", "--customer-id", customer,
             "--out", "package.json"], work)
        check_s, check_rss, _ = run([solvency, "check", "package.json", "--bundle", "bundle"], work)
        _, _, check_json = run([solvency, "check", "package.json", "--bundle", "bundle", "--json"], work)
        check_report = json.loads(check_json[: check_json.rindex("}") + 1])
        check_bytes_read = sum(sum((e.get("bytes_read") or {}).values()) for e in check_report["entries"])
        bundle_bytes = sum(f.stat().st_size for f in (work / "bundle").iterdir())
        package_bytes = (work / "package.json").stat().st_size
        store_bytes = (work / "packages.sqlite").stat().st_size
        manifest = json.loads((work / "bundle" / "manifest.json").read_text())
    chunk_proofs_s = stage_seconds(prove_out, "prove")
    node_proofs_s = stage_seconds(prove_out, "nodes")
    return {
        "customers": n,
        "leaves": manifest["assets"][0]["leaf_count"],
        "chunk_size": chunk,
        "prove_s": round(prove_s, 2),
        "verify_s": round(verify_s, 2),
        "check_s": round(check_s, 3),
        "check_bytes_read": check_bytes_read,
        "peak_rss_mb": round(max(prove_rss, verify_rss, check_rss), 1),
        "prove_peak_rss_mb": round(prove_rss, 1),
        "verify_peak_rss_mb": round(verify_rss, 1),
        "check_peak_rss_mb": round(check_rss, 1),
        "bundle_bytes": bundle_bytes,
        "package_bytes": package_bytes,
        "store_bytes": store_bytes,
        "prove_ms_per_customer": round(1000 * prove_s / n, 3),
        "verify_ms_per_customer": round(1000 * verify_s / n, 4),
        "chunk_proofs_s": chunk_proofs_s,
        "node_proofs_s": node_proofs_s,
        "node_share": round(node_proofs_s / chunk_proofs_s, 4) if chunk_proofs_s and node_proofs_s else None,
        "stage_summary": next((line for line in prove_out.splitlines() if " in " in line and "/s" in line), None),
    }


def dask_runs(solvency: str, n: int, chunk: int, seed: int) -> dict[str, Any]:
    """Local pool vs LocalCluster(2) vs LocalCluster(1) on the same ledger and run nonce, in one run."""
    with tempfile.TemporaryDirectory(prefix="zk-solvency-dask-") as tmp:
        work = Path(tmp)
        run([solvency, "gen-ledger", "--customers", str(n), "--assets", "BTC", "--seed", str(seed), "--out", "in"],
            work)
        run([solvency, "keygen", "master.key"], work)
        nonce = "11" * 32
        times: dict[str, float] = {}
        for label, extra in (("pool_2", ["--jobs", "2"]), ("cluster_2", ["--cluster", "local:2"]),
                             ("cluster_1", ["--cluster", "local:1"])):
            prove = [solvency, "prove", "--ledger", "in/ledger.csv", "--reserves", "in/reserves.json",
                     "--secret", "master.key", "--out", f"bundle-{label}", "--packages", f"{label}.sqlite",
                     "--no-verify", "--quiet", "--chunk", str(chunk), "--run-nonce", nonce,
                     "--created", "2026-12-02T00:00:00Z", *extra]
            times[label], _, _ = run(prove, work)
        identical = all(
            (work / "bundle-pool_2" / f.name).read_bytes() == f.read_bytes()
            for label in ("cluster_2", "cluster_1") for f in (work / f"bundle-{label}").iterdir()
        )
    return {
        "dask_customers": n,
        "pool_2_s": round(times["pool_2"], 2),
        "localcluster_2_s": round(times["cluster_2"], 2),
        "localcluster_1_s": round(times["cluster_1"], 2),
        "ratio_localcluster_over_pool": round(times["cluster_2"] / times["pool_2"], 3),
        "ratio_one_over_two_workers": round(times["cluster_1"] / times["cluster_2"], 3),
        "bundles_identical": identical,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="16384,65536", help="comma-separated customer counts")
    ap.add_argument("--chunk", type=int, default=64)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dask", action="store_true", help="also compare the local pool with LocalCluster runs")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    solvency = str(Path(sys.executable).with_name("solvency"))
    if not Path(solvency).exists():
        solvency = "solvency"
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    for n in sizes:
        rows.append(one_size(solvency, n, args.chunk, args.jobs, args.seed))
        if not args.json:
            print(json.dumps(rows[-1]), file=sys.stderr)
    for before, after in itertools.pairwise(rows):
        dn = after["customers"] - before["customers"]
        after["slope_prove_ms_per_customer"] = round(1000 * (after["prove_s"] - before["prove_s"]) / dn, 3)
        after["slope_verify_ms_per_customer"] = round(1000 * (after["verify_s"] - before["verify_s"]) / dn, 4)
        after["slope_rss_kb_per_customer"] = round(1024 * (after["peak_rss_mb"] - before["peak_rss_mb"]) / dn, 3)
        after["slope_bundle_bytes_per_customer"] = round((after["bundle_bytes"] - before["bundle_bytes"]) / dn, 1)
    per_customer = [r["prove_ms_per_customer"] for r in rows]
    out: dict[str, Any] = {
        "sizes": rows,
        "prove_per_customer_spread": round(max(per_customer) / min(per_customer), 3),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
    }
    if args.dask:
        out["dask"] = dask_runs(solvency, sizes[0], args.chunk, args.seed)
    print(json.dumps(out, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
