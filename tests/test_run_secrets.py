"""Per-run secrets (issue 8, A.2): re-proving a round must not reveal which balances changed.

Before the fix, blindings, leaf salts and dummy leaves depended only on (master secret,
round, asset, customer id): two ``prove`` runs with the same round label gave identical
leaves for every unchanged balance, and for the changed one ``V_2 - V_1 = delta*B``
(12,345 sat in the reproduction). Now every run draws a 32-byte run nonce that enters
the HKDF salt with the exchange name (``docs/FORMAT.md`` §9); the nonce is kept in the
private packages directory (``run.json``, mode 0600) and ``--run-nonce`` reproduces a run.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from circuits.backends import get_backend
from circuits.errors import InputError
from circuits.generators import PedersenGens
from circuits.group import Point
from cli.exit_codes import EXIT_OK, EXIT_USAGE
from cli.main import app
from prover.bundle import RUN_FILE_NAME, ProveOptions, ProveResult, write_bundle
from prover.ledger import load_ledger
from prover.reserves import load_reserves

MASTER = bytes(range(1, 33))
ROUND = "2026-12-01T00:00:00Z"
DELTA = 12_345  # sat, as in the reproduction
LEAF = 80  # leaf record: 32-byte id, 48-byte commitment
HEADER = 16


def _inputs(tmp_path: Path, balances: dict[str, int], name: str) -> tuple[Path, Path]:
    reserves = tmp_path / f"{name}-reserves.json"
    reserves.write_text(json.dumps({
        "exchange": "Re-prove Exchange", "round": ROUND,
        "assets": [{"symbol": "BTC", "decimals": 8, "reserves": "100000"}],
    }))
    ledger = tmp_path / f"{name}-ledger.csv"
    rows = [f"{cid},BTC,{sat // 10**8}.{sat % 10**8:08d}" for cid, sat in balances.items()]
    ledger.write_text("\n".join(["customer_id,asset,amount", *rows]) + "\n")
    return ledger, reserves


def _prove(tmp_path: Path, balances: dict[str, int], name: str, run_nonce: bytes | None = None) -> ProveResult:
    ledger, reserves = _inputs(tmp_path, balances, name)
    spec = load_reserves(reserves)
    (tmp_path / name).mkdir()
    return write_bundle(
        load_ledger(ledger, spec), spec, MASTER, tmp_path / name / "bundle", tmp_path / name / "packages",
        ProveOptions(chunk=4, jobs=1, run_nonce=run_nonce),
    )


def _records(result: ProveResult) -> list[tuple[bytes, bytes]]:
    """``(leaf id, commitment)`` of every leaf of the BTC leaves file."""
    body = (result.bundle_dir / "BTC.leaves.bin").read_bytes()[HEADER:]
    return [(body[i : i + 32], body[i + 32 : i + LEAF]) for i in range(0, len(body), LEAF)]


def _packages(result: ProveResult) -> dict[str, dict[str, Any]]:
    out = {}
    for line in (result.packages_dir / "index.csv").read_text(encoding="utf-8").splitlines()[1:]:
        cid, name = line.rsplit(",", 1)
        out[cid.strip('"')] = json.loads((result.packages_dir / name).read_bytes())
    return out


def _without_digest(packages: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The packages without their bundle digest (range proofs use fresh randomness in every run)."""
    return {cid: {k: v for k, v in p.items() if k != "bundle_digest"} for cid, p in packages.items()}


def _run_nonce(result: ProveResult) -> bytes:
    return bytes.fromhex(json.loads((result.packages_dir / RUN_FILE_NAME).read_bytes())["run_nonce"])


BALANCES = {f"cust-{i:02d}": 10**8 + 7919 * i for i in range(13)}  # 13 customers: 3 dummy leaves of 16


def test_two_runs_on_the_same_ledger_share_no_leaf_id_blinding_or_commitment(tmp_path: Path) -> None:
    first, second = _prove(tmp_path, BALANCES, "first"), _prove(tmp_path, BALANCES, "second")
    assert _run_nonce(first) != _run_nonce(second)
    one, two = _records(first), _records(second)
    assert len(one) == len(two) == 16  # dummy leaves included
    assert {i for i, _ in one}.isdisjoint(i for i, _ in two)
    assert {c for _, c in one}.isdisjoint(c for _, c in two)
    p1, p2 = _packages(first), _packages(second)
    assert p1.keys() == p2.keys() == BALANCES.keys()
    blindings_1 = {e["blinding"] for p in p1.values() for e in p["entries"]}
    blindings_2 = {e["blinding"] for p in p2.values() for e in p["entries"]}
    salts_1 = {e["leaf_salt"] for p in p1.values() for e in p["entries"]}
    salts_2 = {e["leaf_salt"] for p in p2.values() for e in p["entries"]}
    assert len(blindings_1) == len(blindings_2) == 13 and blindings_1.isdisjoint(blindings_2)
    assert len(salts_1) == len(salts_2) == 13 and salts_1.isdisjoint(salts_2)
    m1, m2 = (json.loads((r.bundle_dir / "manifest.json").read_bytes())["assets"][0] for r in (first, second))
    assert m1["merkle_root"] != m2["merkle_root"]
    assert m1["liabilities_commitment"] != m2["liabilities_commitment"]


def test_the_same_run_nonce_reproduces_the_leaves_and_packages(tmp_path: Path) -> None:
    first = _prove(tmp_path, BALANCES, "first")
    again = _prove(tmp_path, BALANCES, "again", run_nonce=_run_nonce(first))
    assert _records(first) == _records(again)
    assert (first.packages_dir / RUN_FILE_NAME).read_bytes() == (again.packages_dir / RUN_FILE_NAME).read_bytes()
    assert _without_digest(_packages(first)) == _without_digest(_packages(again))


def test_the_run_nonce_is_kept_private_and_is_nowhere_in_the_bundle(tmp_path: Path) -> None:
    result = _prove(tmp_path, BALANCES, "run")
    run_file = result.packages_dir / RUN_FILE_NAME
    assert stat.S_IMODE(run_file.stat().st_mode) == 0o600
    record = json.loads(run_file.read_bytes())
    assert record == {"derivation": "zk-solvency run v2", "exchange": "Re-prove Exchange", "round": ROUND,
                      "run_nonce": record["run_nonce"]}
    nonce = _run_nonce(result)
    assert len(nonce) == 32
    needles = [nonce, nonce[::-1], nonce.hex().encode(), nonce.hex().upper().encode()]
    files = list(result.bundle_dir.iterdir())
    assert len(files) == 6  # manifest and five data files (format 3)
    files += [p for p in result.packages_dir.iterdir() if p.name != RUN_FILE_NAME]
    for path in files:
        data = path.read_bytes()
        for needle in needles:
            for k in range(0, len(needle) - 8 + 1):  # any 8-byte window
                assert needle[k : k + 8] not in data, path.name


def test_reproving_after_a_balance_change_does_not_reveal_the_change(tmp_path: Path) -> None:
    """The issue's reproduction: 16 customers, one balance raised by 12,345 sat, the round proved again.

    No pair of leaves (one per run) differs by ``12345*B``, nor do the two ``C_L``. Positive control:
    re-proving with the first run's nonce (what every run did before the fix) does reveal it.
    """
    balances = {f"user-{i:02d}": 3 * 10**8 + 104_729 * i for i in range(16)}
    changed = dict(balances, **{"user-05": balances["user-05"] + DELTA})
    before = _prove(tmp_path, balances, "before")
    after = _prove(tmp_path, changed, "after")
    replayed = _prove(tmp_path, changed, "replayed", run_nonce=_run_nonce(before))
    be = get_backend()
    delta_b = PedersenGens.default(be).B * DELTA

    def points(result: ProveResult) -> list[Point]:
        return [Point.from_bytes(c, be) for _, c in _records(result)]

    def differences(one: list[Point], two: list[Point]) -> int:
        return sum(1 for v2 in two for v1 in one if v2 - v1 == delta_b)

    def c_l(result: ProveResult) -> Point:
        hex_point = json.loads((result.bundle_dir / "manifest.json").read_bytes())["assets"][0][
            "liabilities_commitment"]
        return Point.from_bytes(bytes.fromhex(hex_point), be)

    v1 = points(before)
    assert len(v1) == 16
    assert differences(v1, points(after)) == 0
    assert c_l(after) - c_l(before) != delta_b
    assert len({i for i, _ in _records(before)} & {i for i, _ in _records(after)}) == 0
    # Positive control: the same secrets (the pre-fix derivation) leak the change exactly as the issue says.
    assert differences(v1, points(replayed)) == 1
    assert c_l(replayed) - c_l(before) == delta_b
    assert len({i for i, _ in _records(before)} & {i for i, _ in _records(replayed)}) == 16


def test_a_run_nonce_of_the_wrong_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        _prove(tmp_path, BALANCES, "short", run_nonce=bytes(31))
    assert info.value.section == "--run-nonce"
    assert not (tmp_path / "short" / "bundle").exists() and not (tmp_path / "short" / "packages").exists()


@pytest.mark.parametrize("value", ["zz" * 32, "ab" * 31, "ab" * 33, ""])
def test_cli_run_nonce_must_be_64_hex_digits(tmp_path: Path, value: str) -> None:
    ledger, reserves = _inputs(tmp_path, BALANCES, "cli")
    (tmp_path / "master.key").write_bytes(MASTER)
    result = CliRunner().invoke(app, [
        "prove", "--ledger", str(ledger), "--reserves", str(reserves), "--secret", str(tmp_path / "master.key"),
        "--packages-format", "dir",
        "--out", str(tmp_path / "b"), "--packages", str(tmp_path / "p"), "--quiet", "--run-nonce", value,
    ])
    assert result.exit_code == EXIT_USAGE, result.output
    assert "--run-nonce" in result.output
    assert not (tmp_path / "b").exists() and not (tmp_path / "p").exists()


def test_cli_run_nonce_reproduces_a_run(tmp_path: Path) -> None:
    ledger, reserves = _inputs(tmp_path, BALANCES, "cli")
    key = tmp_path / "master.key"
    key.write_bytes(MASTER)

    def prove(name: str, *extra: str) -> Path:
        result = CliRunner().invoke(app, [
            "prove", "--ledger", str(ledger), "--reserves", str(reserves), "--secret", str(key),
            "--packages-format", "dir",
            "--out", str(tmp_path / name / "b"), "--packages", str(tmp_path / name / "p"), "--quiet", "--chunk", "4",
            "--no-verify", *extra,
        ])
        assert result.exit_code == EXIT_OK, result.output
        return tmp_path / name

    for name in ("one", "two", "three"):
        (tmp_path / name).mkdir()
    one = prove("one")
    nonce = json.loads((one / "p" / RUN_FILE_NAME).read_bytes())["run_nonce"]
    assert nonce not in CliRunner().invoke(app, ["inspect", str(one / "b"), "--json"]).output
    two = prove("two", "--run-nonce", nonce.upper())
    three = prove("three")
    assert (one / "b" / "BTC.leaves.bin").read_bytes() == (two / "b" / "BTC.leaves.bin").read_bytes()
    assert (one / "b" / "BTC.leaves.bin").read_bytes() != (three / "b" / "BTC.leaves.bin").read_bytes()
