"""``write_bundle`` as typed passes (issue 8, C.5): read -> prepare -> commit -> prove -> write.

The split must not change a byte. With the run nonce, ``created`` and the range provers' entropy
fixed (``secrets.token_bytes`` replaced by a counter, in-process with ``jobs=1``), the pipeline is
deterministic; the digests below were recorded from the single-function ``write_bundle`` of commit
9437d0e (this test was written against it, before the split) and the passes must reproduce them.
With real entropy, two runs with the same ``--run-nonce`` differ only in the proof files (and so in
the manifest's hashes and digest, and in the packages naming that digest).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest

from prover.bundle import ProveOptions, ProveResult, write_bundle
from prover.ledger import load_ledger
from prover.reserves import load_reserves

NONCE = bytes(range(200, 232))
CREATED = "2026-12-02T00:00:00Z"
ROWS = [
    ("alice", "BTC", "1.5"), ("bob", "BTC", "0.25"), ("carol", "BTC", "0"), ("dave", "BTC", "3.00000001"),
    ("erin", "BTC", "0.0001"), ("alice", "ETH", "10"), ("frank", "ETH", "2.5"), ('the "whale", Jr.', "ETH", "7"),
]


def _counter_entropy() -> Callable[[int | None], bytes]:
    state = {"k": 0}

    def token_bytes(n: int | None = None) -> bytes:
        state["k"] += 1
        return hashlib.shake_256(b"test entropy" + state["k"].to_bytes(8, "little")).digest(n or 32)

    return token_bytes


def _prove(tmp_path: Path, name: str, **options: object) -> ProveResult:
    (tmp_path / "reserves.json").write_text(json.dumps({
        "exchange": "Pass Exchange", "round": "r-passes",
        "assets": [{"symbol": "BTC", "decimals": 8, "reserves": "10"},
                   {"symbol": "ETH", "decimals": 9, "reserves": "25"}],
    }))
    lines = ["customer_id,asset,amount"] + [
        f'"{cid.replace(chr(34), chr(34) * 2)}",{asset},{amount}' for cid, asset, amount in ROWS
    ]
    (tmp_path / "ledger.csv").write_text("\n".join(lines) + "\n")
    spec = load_reserves(tmp_path / "reserves.json")
    (tmp_path / name).mkdir()
    base = ProveOptions(chunk=4, jobs=1, run_nonce=NONCE, created=CREATED)
    return write_bundle(load_ledger(tmp_path / "ledger.csv", spec), spec, bytes(range(32)),
                        tmp_path / name / "bundle", tmp_path / name / "packages",
                        dataclasses.replace(base, **options))


def _digests(result: ProveResult) -> dict[str, str]:
    out = {}
    for where in (result.bundle_dir, result.packages_dir):
        for path in sorted(where.iterdir()):
            out[f"{where.name}/{path.name}"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _fingerprint(result: ProveResult) -> str:
    return hashlib.sha256(json.dumps(_digests(result), sort_keys=True).encode()).hexdigest()


PINNED = {
    "plain": "9dfa2249d17eaf51f0571e9dca4b934c79ea924e78efc66c982dd7af612176ef",
    "disclosed_padded_ratio": "b704bed1f87db05973001241457b83a62b9c6f12f65f82b0d1ab22e333c12b38",
}


@pytest.mark.parametrize(
    ("case", "options"),
    [("plain", {}), ("disclosed_padded_ratio", {"disclose_liabilities": True, "pad_to": 16, "min_ratio": (11, 10)})],
)
def test_write_bundle_bytes_are_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str,
                                          options: dict[str, object]) -> None:
    monkeypatch.setattr(secrets, "token_bytes", _counter_entropy())
    result = _prove(tmp_path, case, **options)
    assert _fingerprint(result) == PINNED[case], json.dumps(_digests(result), indent=1)


def test_same_run_nonce_differs_only_in_the_proofs(tmp_path: Path) -> None:
    one, two = _digests(_prove(tmp_path, "one")), _digests(_prove(tmp_path, "two"))
    assert one.keys() == two.keys()
    differ = {name for name in one if one[name] != two[name]}
    # Fresh proof randomness: the proof files, the manifest holding their hashes, and the packages
    # naming the bundle digest. The leaves, index.csv and run.json are byte-identical.
    assert differ == {"bundle/manifest.json", "bundle/BTC.rangeproofs.bin", "bundle/BTC.solvency.bin",
                      "bundle/ETH.rangeproofs.bin", "bundle/ETH.solvency.bin"} | {
                          name for name in one if name.startswith("packages/") and name.endswith(".json")
                          and not name.endswith("run.json")}
    assert one["bundle/BTC.leaves.bin"] == two["bundle/BTC.leaves.bin"]
