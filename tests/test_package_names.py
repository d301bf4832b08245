"""Package file names are keyed (issue 8, A.7): guessing customer ids finds no package.

Before the fix a package was named ``sha256("zk-solvency package name v1" || 0x00 || id)[:32]``:
anyone who could list or probe the packages directory found 18 packages by guessing 40
sequential ids. Now the name is an HMAC under a key derived from the run's secrets
(``docs/FORMAT.md`` §9), different in every run, and ``index.csv`` is the only map.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from prover.bundle import RUN_FILE_NAME, ProveOptions, ProveResult, write_bundle
from prover.keys import RunSecrets
from prover.ledger import load_ledger
from prover.reserves import load_reserves

MASTER = bytes(range(7, 39))
IDS = [f"cust-{i:06d}" for i in range(40)]  # what gen-ledger writes, in sequence


def _prove(tmp_path: Path, name: str, run_nonce: bytes | None = None) -> ProveResult:
    reserves = tmp_path / "reserves.json"
    reserves.write_text(json.dumps({
        "exchange": "Name Exchange", "round": "r-names",
        "assets": [{"symbol": "BTC", "decimals": 8, "reserves": "1000"}],
    }))
    ledger = tmp_path / "ledger.csv"
    ledger.write_text("\n".join(["customer_id,asset,amount", *[f"{cid},BTC,1.{i:08d}" for i, cid in enumerate(IDS)]])
                      + "\n")
    spec = load_reserves(reserves)
    (tmp_path / name).mkdir()
    return write_bundle(load_ledger(ledger, spec), spec, MASTER, tmp_path / name / "b", tmp_path / name / "p",
                        ProveOptions(chunk=16, jobs=1, run_nonce=run_nonce))


def _index(result: ProveResult) -> dict[str, str]:
    with (result.packages_dir / "index.csv").open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        assert next(reader) == ["customer_id", "file"]
        return dict(reader)


def _sha(tag: bytes) -> Callable[[str], str]:
    return lambda cid: hashlib.sha256(tag + cid.encode()).hexdigest()[:32] + ".json"


# The formula every run used before the fix, and other functions of the id alone an attacker would try.
GUESSES: dict[str, Callable[[str], str]] = {
    "old formula": _sha(b"zk-solvency package name v1\x00"),
    "sha256(id)": _sha(b""),
    "sha256(id) whole": lambda cid: hashlib.sha256(cid.encode()).hexdigest() + ".json",
    "md5(id)": lambda cid: hashlib.md5(cid.encode()).hexdigest() + ".json",
    "sha1(id)": lambda cid: hashlib.sha1(cid.encode()).hexdigest()[:32] + ".json",
    "blake2b(id)": lambda cid: hashlib.blake2b(cid.encode(), digest_size=16).hexdigest() + ".json",
    "id": lambda cid: cid + ".json",
}


def test_guessing_sequential_customer_ids_finds_no_package(tmp_path: Path) -> None:
    result = _prove(tmp_path, "run")
    present = {p.name for p in result.packages_dir.iterdir()}
    assert len(present) == len(IDS) + 2  # the packages, index.csv, run.json
    for label, guess in GUESSES.items():
        found = [cid for cid in IDS if guess(cid) in present]
        assert found == [], label
    # Positive control: the same probe, with the run's secrets (master and run nonce), finds all 40.
    nonce = bytes.fromhex(json.loads((result.packages_dir / RUN_FILE_NAME).read_bytes())["run_nonce"])
    keyed = RunSecrets(MASTER, "Name Exchange", "r-names", nonce)
    assert [cid for cid in IDS if keyed.package_name(cid) in present] == IDS


def test_package_names_differ_across_runs_so_no_function_of_the_id_alone_names_them(tmp_path: Path) -> None:
    first, second = _index(_prove(tmp_path, "one")), _index(_prove(tmp_path, "two"))
    assert first.keys() == second.keys() == set(IDS)
    # A name that were any function of the id alone would repeat in both runs; none does.
    assert set(first.values()).isdisjoint(second.values())
    assert all(first[cid] != second[cid] for cid in IDS)


def test_the_same_run_nonce_gives_the_same_package_names(tmp_path: Path) -> None:
    first = _prove(tmp_path, "one")
    nonce = bytes.fromhex(json.loads((first.packages_dir / RUN_FILE_NAME).read_bytes())["run_nonce"])
    assert _index(first) == _index(_prove(tmp_path, "again", run_nonce=nonce))


def test_index_csv_maps_every_customer_to_their_package(tmp_path: Path) -> None:
    result = _prove(tmp_path, "run")
    index = _index(result)
    assert sorted(index) == IDS
    assert len(set(index.values())) == len(IDS)
    for cid, name in index.items():
        assert len(name) == 32 + len(".json") and all(c in "0123456789abcdef" for c in name[:32])
        package = json.loads((result.packages_dir / name).read_bytes())
        assert package["customer_id"] == cid
    listed = set(index.values()) | {"index.csv", RUN_FILE_NAME}
    assert {p.name for p in result.packages_dir.iterdir()} == listed
