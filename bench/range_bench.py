"""Range-proof benchmark: prove / verify / batch-verify V values of n bits in proofs of m.

    python bench/range_bench.py --values 1024 --m 64 --json
    python bench/range_bench.py --values 1024 --m 64 --backend reference --json

Prints one JSON object (``--json``) or a short table. ``--backend`` chooses the
verification backend; proofs are made with ``--prove-backend`` (fast by default),
so ``--backend reference`` checks fast-made proofs on py_ecc. Generators are derived before
timing (``gens_s`` reports that one-time cost separately, as dalek's benchmarks
exclude ``BulletproofGens::new``). Proving runs the proofs on ``--jobs`` worker processes
(``--mode thread`` for threads; the native MSM releases the GIL, the Python
around it does not). ``verify_s`` verifies the proofs one by one;
``batch_verify_s`` verifies all of them in one combined MSM. Both include parsing
the proof bytes (point decompression and subgroup checks); the commitments are
parsed once beforehand, as a verifier would when reading a statement. Ratios
measured in the same run are reported because these machines are noisy.
"""

from __future__ import annotations

import argparse
import json
import platform
import secrets
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from circuits.backends import get_backend
from circuits.generators import BulletproofGens, PedersenGens
from circuits.group import Point, random_scalar
from circuits.proofs import RangeProof
from circuits.relations import Opening, RangeStatement
from prover import RangeJob, prove_range, prove_ranges
from verifier import verify_batch, verify_range


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--values", type=int, default=1024)
    ap.add_argument("--m", type=int, default=64)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--backend", default="fast", choices=["fast", "reference"], help="verification backend")
    ap.add_argument(
        "--prove-backend", default="fast", choices=["fast", "reference"],
        help="proving backend (default fast: the reference prover takes minutes per 4096-bit proof)",
    )
    ap.add_argument("--jobs", type=int, default=2, help="proofs proved concurrently")
    ap.add_argument("--mode", default="process", choices=["process", "thread"], help="how proofs run in parallel")
    ap.add_argument("--skip-single-verify", action="store_true", help="only batch-verify (reference backend)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.values % args.m:
        ap.error("--values must be a multiple of --m")
    be = get_backend(args.backend)
    prove_be = get_backend(args.prove_backend)
    nm = args.n * args.m

    t0 = time.perf_counter()
    PedersenGens.default(be)
    BulletproofGens.default(be).G_raw(nm)
    gens_s = time.perf_counter() - t0
    PedersenGens.default(prove_be)
    BulletproofGens.default(prove_be).G_raw(nm)

    chunks = [
        [Opening(secrets.randbelow(1 << args.n), random_scalar()) for _ in range(args.m)]
        for _ in range(args.values // args.m)
    ]
    jobs = [RangeJob(tuple(c), args.n, b"bench %d" % i) for i, c in enumerate(chunks)]
    t0 = time.perf_counter()
    if args.mode == "process":
        results = prove_ranges(jobs, backend_name=args.prove_backend, workers=args.jobs)
    else:
        with ThreadPoolExecutor(args.jobs) as ex:
            results = list(
                ex.map(lambda j: prove_range(j.openings, j.n, context=j.context, backend=prove_be, threads=1), jobs)
            )
    prove_s = time.perf_counter() - t0

    blobs = [p.to_bytes() for _, p in results]
    commitment_bytes = [[V.to_bytes() for V in s.commitments] for s, _ in results]
    t0 = time.perf_counter()
    statements = [
        RangeStatement(tuple(Point.from_bytes(b, be) for b in cb), args.n, s.context)
        for cb, (s, _) in zip(commitment_bytes, results, strict=True)
    ]
    parse_s = time.perf_counter() - t0

    verify_s = None
    if not args.skip_single_verify:
        t0 = time.perf_counter()
        for st, blob in zip(statements, blobs, strict=True):
            verify_range(st, RangeProof.from_bytes(blob, be))
        verify_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    verify_batch(statements, [RangeProof.from_bytes(b, be) for b in blobs])
    batch_verify_s = time.perf_counter() - t0

    out = {
        "backend": args.backend,
        "prove_backend": args.prove_backend,
        "values": args.values,
        "n": args.n,
        "m": args.m,
        "proofs": len(blobs),
        "jobs": args.jobs,
        "mode": args.mode,
        "gens_s": round(gens_s, 3),
        "prove_s": round(prove_s, 3),
        "parse_commitments_s": round(parse_s, 3),
        "verify_s": None if verify_s is None else round(verify_s, 3),
        "batch_verify_s": round(batch_verify_s, 3),
        "proof_bytes": sum(len(b) for b in blobs),
        "ratio_verify_over_batch": None if verify_s is None else round(verify_s / batch_verify_s, 2),
        "ratio_prove_over_batch_verify": round(prove_s / batch_verify_s, 2),
        "python": platform.python_version(),
    }
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:>30}: {v}")


if __name__ == "__main__":
    main()
