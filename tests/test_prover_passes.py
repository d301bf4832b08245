"""``write_bundle`` as typed passes: read -> prepare -> commit -> tree -> prove -> write (format 3).

Since format 3 every proof's randomness is derived from the run's secrets and its statement
(``docs/FORMAT.md`` §9), so the same master, inputs, run nonce and ``created`` give the same bundle
and packages, byte for byte, however the tasks were spread over workers. The fingerprints below
were recorded from the format-3 pipeline when it landed; a change to any byte the prover writes
(an encoding, a derivation, the order of the records) changes them and must be deliberate.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
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
    "plain": "a0e97970868e37c1cafa66acdb436f6316f67c8a29d841f873afbc292d109a4b",
    "disclosed_padded_ratio": "710144d9674cdae412725d6a71c4b4aa3434778d15836940b3c664f493d337d8",
}


@pytest.mark.parametrize(
    ("case", "options"),
    [("plain", {}), ("disclosed_padded_ratio", {"disclose_liabilities": True, "pad_to": 16, "min_ratio": (11, 10)})],
)
def test_write_bundle_bytes_are_unchanged(tmp_path: Path, case: str, options: dict[str, object]) -> None:
    result = _prove(tmp_path, case, **options)
    assert _fingerprint(result) == PINNED[case], json.dumps(_digests(result), indent=1)


def test_the_same_run_nonce_gives_the_same_bytes_with_any_number_of_workers(tmp_path: Path) -> None:
    one, two = _digests(_prove(tmp_path, "one")), _digests(_prove(tmp_path, "two", jobs=2))
    assert one == two
    assert {"bundle/BTC.nodes.bin", "bundle/BTC.nodeproofs.bin", "bundle/ETH.nodes.bin"} <= one.keys()


def test_another_run_nonce_shares_nothing_but_the_shape(tmp_path: Path) -> None:
    one = _digests(_prove(tmp_path, "one"))
    other = _digests(_prove(tmp_path, "other", run_nonce=bytes(32)))
    assert one.keys() - {k for k in one if k.startswith("packages/") and k != "packages/index.csv"} == (
        other.keys() - {k for k in other if k.startswith("packages/") and k != "packages/index.csv"}
    )
    shared = {k for k in one if k in other and one[k] == other[k] and k.startswith("bundle/")}
    # ETH has one chunk, so no sum node: its node-proofs file is the header alone in both runs.
    assert shared == {"bundle/ETH.nodeproofs.bin"}
