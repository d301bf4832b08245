"""Scale: peak memory of ``solvency prove`` at 2^16 customers stays within the README's table (``-m slow``).

The README's memory table (issue 10) gives what grows with N: the leaf records, ids and amounts in
numpy arrays, the in-chunk hashes for the packages, and the transient customer-id set, about 0.5 KB
per customer on top of a fixed ~60 MB (interpreter, generators; worker processes are separate). The
bound below is that table's figure at 2^16 (91 MB) with a margin, so a return to per-customer Python
objects (the old writer kept about 1.6 KB per customer) fails it. It measures the largest single
process (``ru_maxrss`` of the children: the coordinator or one worker), never time.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CUSTOMERS = 1 << 16
#: MB: the README table's coordinator peak at 2^16 (91 MB) with a 1.6x margin.
PEAK_RSS_BOUND_MB = 150


def test_prove_peak_rss_at_two_to_the_sixteen(tmp_path: Path) -> None:
    solvency = [sys.executable, "-m", "cli"]
    subprocess.run([*solvency, "gen-ledger", "--customers", str(CUSTOMERS), "--assets", "BTC", "--out",
                    str(tmp_path / "in")], check=True, capture_output=True)
    subprocess.run([*solvency, "keygen", str(tmp_path / "m.key")], check=True, capture_output=True)
    prove = [*solvency, "prove", "--ledger", str(tmp_path / "in" / "ledger.csv"), "--reserves",
             str(tmp_path / "in" / "reserves.json"), "--secret", str(tmp_path / "m.key"), "--out",
             str(tmp_path / "b"), "--packages", str(tmp_path / "p.db"), "--no-verify", "--quiet"]
    # A fresh wrapper process, so that its children's peak is prove's (and its workers') alone.
    wrapper = (
        "import resource, subprocess, sys\n"
        "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
        "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    done = subprocess.run([sys.executable, "-c", wrapper, *prove], capture_output=True, text=True, check=True)
    code, peak_kb = (int(x) for x in done.stdout.split())
    assert code == 0, done.stderr
    peak_mb = peak_kb / 1024
    assert peak_mb < PEAK_RSS_BOUND_MB, f"prove peaked at {peak_mb:.0f} MB at 2^16 customers"
