"""Benchmark of the browser customer check in headless Chromium (issue 12, "Speed"); prints JSON.

    python bench/web_bench.py [--runs 5] [--customers 128]

A real round is proven first (``solvency gen-ledger`` and ``solvency prove --chunk 64`` in a
temporary directory: one asset, chunks of 64 leaves, format 3). Then Debian's Chromium
(``/usr/bin/chromium``, headless, the harness of ``tests/browser.py``) loads the page that
``solvency check-page`` writes, served over http on 127.0.0.1, and times:

* ``package_check_s``: the customer check of the package alone (no bundle file), as the page runs
  it when Check is pressed: target < 0.2 s;
* ``chunk_range_proof_s``: the verification of one 64-leaf chunk range proof of that bundle
  (decoding the proof and its 64 commitments, and ``verifyRangeProof`` of ``web/src/range_proof.js``,
  the generator table loaded): target < 3 s. The page does not expose this step alone, so the
  bench bundles it with ``web/build.mjs``'s bundler into a page of its own (this needs node and
  ``npm ci``); the proof is first checked by the Python verifier;
* ``full_check_s``: for information, the page's whole check with the customer's bundle files
  (their chunk's proof, the node proofs on their path, the solvency proof).

Each figure is the median of ``--runs`` runs after one warm-up run (reported as ``*_first_s``):
the time the page measured around the check itself (``performance.now()``), not file reading.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from browser import Recorder, launch_chromium, new_page, serve_directory  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from circuits.backends import get_backend  # noqa: E402
from circuits.datafiles import HEADER_SIZE, LEAF_ID_SIZE, LEAF_RECORD_SIZE, range_record_size  # noqa: E402
from circuits.group import Point  # noqa: E402
from circuits.proofs import RangeProof  # noqa: E402
from circuits.relations import RangeStatement  # noqa: E402
from circuits.statements import ChunkStatement  # noqa: E402
from verifier import verify_range  # noqa: E402
from verifier.reading import read_manifest  # noqa: E402

TARGET_PACKAGE_S = 0.2
TARGET_CHUNK_S = 3.0
CHUNK = 64

BENCH_ENTRY = """
import { generatorsTable } from 'virtual:generators-table';
import { loadGeneratorTable } from '%(src)s/generators.js';
import { decodePoint } from '%(src)s/points.js';
import { decodeRangeProof, verifyRangeProof } from '%(src)s/range_proof.js';

const hex = (h) => Uint8Array.from(h.match(/../g), (b) => parseInt(b, 16));
window.zkTableLoaded = loadGeneratorTable(generatorsTable());
window.zkVerifyChunk = (data) => {
  const started = performance.now();
  const commitments = data.commitments.map((c) => decodePoint(hex(c)));
  const proof = decodeRangeProof(hex(data.proof), data.m, data.bits);
  verifyRangeProof({ commitments, proof, bits: data.bits, context: hex(data.context) });
  return (performance.now() - started) / 1000;
};
"""


def solvency(*args: object, cwd: Path) -> str:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("solvency")), *map(str, args)],
        cwd=cwd, capture_output=True, text=True, check=False,
    )
    if result.returncode not in (0, 6):
        raise SystemExit(f"solvency {' '.join(map(str, args))}: exit {result.returncode}\n{result.stderr}")
    return result.stdout


def make_round(work: Path, customers: int) -> tuple[Path, Path, str]:
    """Prove a one-asset round with chunks of 64; return (bundle, one customer's package, their id)."""
    solvency("gen-ledger", "--customers", customers, "--assets", "BTC", "--seed", 21, "--out", "in", cwd=work)
    solvency("keygen", "master.key", cwd=work)
    solvency(
        "prove", "--ledger", "in/ledger.csv", "--reserves", "in/reserves.json", "--secret", "master.key",
        "--out", "bundle", "--packages", "packages", "--packages-format", "dir", "--chunk", CHUNK, "--quiet",
        cwd=work,
    )
    with (work / "packages" / "index.csv").open(encoding="utf-8", newline="") as f:
        customer, name = list(csv.reader(f))[1]
    return work / "bundle", work / "packages" / name, customer


def chunk_vector(bundle: Path) -> dict[str, Any]:
    """Chunk 0 of the first asset: its 64 commitments, its proof and its context (checked by the Python verifier)."""
    manifest = read_manifest(bundle)
    asset = manifest.assets[0]
    assert asset.chunk_size == CHUNK, asset.chunk_size
    leaves = (bundle / asset.leaves.name).read_bytes()[HEADER_SIZE:]
    commitments = [
        leaves[i * LEAF_RECORD_SIZE + LEAF_ID_SIZE: (i + 1) * LEAF_RECORD_SIZE] for i in range(CHUNK)
    ]
    proof = (bundle / asset.range_proofs.name).read_bytes()[HEADER_SIZE: HEADER_SIZE + range_record_size(CHUNK)]
    context = ChunkStatement(
        exchange=manifest.exchange, round=manifest.round, symbol=asset.symbol, leaf_count=asset.leaf_count,
        chunk_size=asset.chunk_size, chunk=0, merkle_root=asset.merkle_root, margin_digest=None,
    ).context()
    be = get_backend()
    statement = RangeStatement(tuple(Point.from_bytes(c, be) for c in commitments), 64, context)
    verify_range(statement, RangeProof.from_bytes(proof, be))  # the vector is a true proof
    return {"commitments": [c.hex() for c in commitments], "proof": proof.hex(), "context": context.hex(),
            "m": CHUNK, "bits": 64}


def bench_script(work: Path) -> str:
    entry = work / "bench_entry.mjs"
    entry.write_text(BENCH_ENTRY % {"src": (ROOT / "web" / "src").as_posix()}, encoding="utf-8")
    build = json.dumps((ROOT / "web" / "build.mjs").as_uri())
    target = json.dumps(str(entry))
    code = f"import {{ bundleScript }} from {build}; process.stdout.write(await bundleScript({target}));"
    result = subprocess.run(["node", "--input-type=module", "-e", code], cwd=ROOT, capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        raise SystemExit(f"bundling the bench script failed (npm ci?):\n{result.stderr}")
    return result.stdout


def page_check(page: Recorder, package: Path, bundle_files: list[Path]) -> float:
    page.upload("#package-input", [package])
    if bundle_files:
        page.upload("#bundle-input", bundle_files)
    page.page.click("#check")
    page.page.wait_for_selector("#result[data-status]", timeout=120_000)
    status = page.page.get_attribute("#result", "data-status")
    if status not in ("pass", "partial"):
        raise SystemExit(f"the page's check failed: {page.page.inner_text('#result')}")
    return float(page.page.get_attribute("#result", "data-seconds") or "nan")


def timed(runs: int, once: Any) -> tuple[float, float, list[float]]:
    first = once()
    times = [once() for _ in range(runs)]
    return first, statistics.median(times), times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--customers", type=int, default=128)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="zk-web-bench-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        bundle, package, _ = make_round(work, args.customers)
        prove_s = time.perf_counter() - started
        vector = chunk_vector(bundle)
        site = work / "site"
        solvency("check-page", "--out", site, cwd=work)
        (site / "bench.html").write_text(
            "<!DOCTYPE html><meta charset=utf-8><title>bench</title><script>" + bench_script(work) + "</script>",
            encoding="utf-8",
        )
        mine = sorted(p for p in bundle.iterdir() if p.is_file())
        with sync_playwright() as playwright, serve_directory(site) as served:
            browser = launch_chromium(playwright)
            page = new_page(browser)
            page.open(served.url("check.html"))
            page.page.wait_for_selector("html[data-ready='1']")
            table = page.page.get_attribute("html", "data-table")
            pkg_first, pkg_median, pkg_times = timed(args.runs, lambda: page_check(page, package, []))
            full_first, full_median, full_times = timed(args.runs, lambda: page_check(page, package, mine))
            page.open(served.url("bench.html"))
            assert page.page.evaluate("window.zkTableLoaded") is True
            chunk_first, chunk_median, chunk_times = timed(
                args.runs, lambda: float(page.page.evaluate("(v) => window.zkVerifyChunk(v)", vector))
            )
            version = browser.version
            browser.close()
    print(json.dumps({
        "browser": f"chromium {version} (headless)",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        "generator_table": table,
        "customers": args.customers,
        "chunk_size": CHUNK,
        "runs": args.runs,
        "prove_round_s": round(prove_s, 2),
        "package_check_s": round(pkg_median, 4),
        "package_check_first_s": round(pkg_first, 4),
        "package_check_runs_s": [round(t, 4) for t in pkg_times],
        "package_check_target_s": TARGET_PACKAGE_S,
        "package_check_ok": pkg_median < TARGET_PACKAGE_S,
        "chunk_range_proof_s": round(chunk_median, 3),
        "chunk_range_proof_first_s": round(chunk_first, 3),
        "chunk_range_proof_runs_s": [round(t, 3) for t in chunk_times],
        "chunk_range_proof_target_s": TARGET_CHUNK_S,
        "chunk_range_proof_ok": chunk_median < TARGET_CHUNK_S,
        "full_check_s": round(full_median, 3),
        "full_check_first_s": round(full_first, 3),
        "full_check_runs_s": [round(t, 3) for t in full_times],
    }, indent=2))


if __name__ == "__main__":
    main()
