"""Smoke test of bench/reserves_bench.py: it runs on a small list and prints the documented JSON keys.

Never asserts on wall time (these machines are shared and noisy).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.bench

BENCH = Path(__file__).resolve().parent.parent / "bench" / "reserves_bench.py"


def test_reserves_bench_json_keys() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH), "--wallets", "60", "--repeat", "1", "--json"],
        check=True, capture_output=True, text=True, timeout=600,
    ).stdout
    result = json.loads(out)
    for key in (
        "wallets", "mix", "verify_v1_s", "verify_v2_s", "added_verify_s", "added_verify_us_per_wallet",
        "check_wallets_s", "parse_s", "per_proof_us", "per_proof_type_median_us", "bundle_bytes_v1",
        "bundle_bytes_v2", "added_bundle_bytes", "added_bundle_bytes_per_wallet", "load_wallets_s", "sign_s",
        "target", "machine",
    ):
        assert key in result, key
    assert result["wallets"] == 60
    assert sum(result["mix"].values()) == 60
    # A third single-key Bitcoin, a third 2-of-3 multisig, a third Ethereum accounts.
    assert result["mix"]["eip191/eoa"] == 20
    assert result["mix"]["multisig/p2sh"] + result["mix"]["multisig/p2wsh"] == 20
    assert set(result["per_proof_type_median_us"]) == {"bip137", "bip322", "eip191", "multisig"}
    for stat in ("verify_v1_s", "verify_v2_s", "added_verify_s", "check_wallets_s", "parse_s"):
        assert set(result[stat]) == {"median", "min", "max"}
    assert result["added_bundle_bytes"] > 0
    assert set(result["target"]) >= {"wallets", "max_added_verify_s", "met"}
    assert isinstance(result["target"]["met"], bool)
    assert set(result["machine"]) >= {"cores", "python", "coincurve"}
