"""The prover's margin accounts (format 4; ``docs/FORMAT.md`` §14, §9; ``circuits/notes/42-margin.md``).

A small ledger with three margin accounts (two collateral types, a flat and a 4-tier schedule) proves
into a version-4 bundle: every margin record's parts verify for its value list (built from the record
and the leaves it names, as the verifier does), every asset's solvency proof for ``C_L - C_D``, every
chunk and node proof under the v4 contexts. The bundle is byte-identical when re-proved with the same
run nonce and ``created``; dummy slots and dummy accounts look like real ones; an account that fails
condition (M) is refused by name and nothing is written; ``--resume`` reuses the margin tasks; and a
ledger without margin columns still proves into the unchanged version 3.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from circuits.backends import get_backend
from circuits.datafiles import HEADER_SIZE, LEAF_RECORD_SIZE, data_file_names
from circuits.errors import InputError
from circuits.generators import PedersenGens
from circuits.group import Point
from circuits.manifest import Manifest
from circuits.margin import (
    MARGIN_PROOFS_NAME,
    MARGIN_RECORDS_NAME,
    MarginPartStatement,
    MarginRecord,
    margin_leaf_hash,
    margin_leaf_id,
    value_list,
)
from circuits.merkle import MerkleTree
from circuits.proofs import RangeProof
from circuits.statements import ChunkStatement, SolvencyStatement
from cli.exit_codes import EXIT_INPUT, EXIT_OK
from cli.main import app
from prover.bundle import ProveOptions, ProveResult, write_bundle
from prover.ledger import load_ledger
from prover.margin_inputs import load_margin_file, margin_accounts
from prover.reserves import load_reserves
from verifier import check_package, verify_batch, verify_bundle, verify_range

NONCE = bytes(range(100, 132))
CREATED = "2026-12-04T00:00:00Z"
MASTER = bytes(range(32))
HEADER = "customer_id,asset,amount,debt,collateral_loan,collateral_margin"
ROWS = [
    # spot customers
    "alice,BTC,1.5,,,", "alice,ETH,10,,,", "dave,USDT,2500,,,", "erin,ETH,0.5,,,",
    # bob: BTC pledged for a loan (flat 95%) against a USDT debt, plus a spot ETH row
    "bob,BTC,2,,1.5,", "bob,USDT,0,50000,,", "bob,ETH,1,,,",
    # carol: ETH pledged as margin (4 tiers) against a BTC debt
    "carol,ETH,20,,,20", "carol,BTC,0.1,0.5,,",
    # frank: one asset only (USDT collateral against a USDT debt): one real slot, one dummy slot
    "frank,USDT,1000,500,600,",
]
MARGIN = {
    "value_decimals": 2,
    "collateral_types": ["loan", "margin"],
    "assets": [
        {"symbol": "BTC", "price": "97000.00",
         "haircuts": {"loan": [{"ratio": 95}],
                      "margin": [{"up_to": "100000.00", "ratio": 90}, {"up_to": "500000.00", "ratio": 80},
                                 {"up_to": "2000000.00", "ratio": 60}, {"ratio": 20}]}},
        {"symbol": "ETH", "price": "3500.00",
         "haircuts": {"loan": [{"ratio": 90}],
                      "margin": [{"up_to": "10000.00", "ratio": 95}, {"up_to": "50000.00", "ratio": 85},
                                 {"up_to": "100000.00", "ratio": 50}, {"ratio": 0}]}},
        {"symbol": "USDT", "price": "1.00",
         "haircuts": {"loan": [{"ratio": 100}], "margin": [{"ratio": 98}]}},
    ],
}
RESERVES = {
    "exchange": "Margin Exchange", "round": "r-margin",
    "assets": [{"symbol": "BTC", "decimals": 8, "reserves": "10"},
               {"symbol": "ETH", "decimals": 9, "reserves": "40"},
               {"symbol": "USDT", "decimals": 6, "reserves": "10000"}],
}


def _inputs(root: Path, rows: list[str] = ROWS, header: str = HEADER) -> None:
    (root / "reserves.json").write_text(json.dumps(RESERVES))
    (root / "ledger.csv").write_text("\n".join([header, *rows]) + "\n")
    (root / "margin.json").write_text(json.dumps(MARGIN))
    (root / "master.key").write_bytes(MASTER)
    (root / "master.key").chmod(0o600)


def _prove(root: Path, name: str, *, margin: bool = True, **options: Any) -> ProveResult:
    spec = load_reserves(root / "reserves.json")
    ledger = load_ledger(root / "ledger.csv", spec)
    accounts = margin_accounts(ledger, load_margin_file(root / "margin.json", spec.assets)) if margin else None
    (root / name).mkdir()
    base = ProveOptions(chunk=2, jobs=1, run_nonce=NONCE, created=CREATED)
    return write_bundle(
        ledger, spec, MASTER, root / name / "bundle", root / name / "packages", dataclasses.replace(base, **options),
        margin=accounts,
    )


def _digests(result: ProveResult) -> dict[str, str]:
    return {
        f"{where.name}/{path.name}": hashlib.sha256(path.read_bytes()).hexdigest()
        for where in (result.bundle_dir, result.packages_dir) for path in sorted(where.iterdir())
    }


@pytest.fixture(scope="module")
def proven(tmp_path_factory: pytest.TempPathFactory) -> ProveResult:
    root = tmp_path_factory.mktemp("margin")
    _inputs(root)
    return _prove(root, "one")


def _records(result: ProveResult) -> tuple[Manifest, list[MarginRecord], bytes]:
    manifest = Manifest.from_bytes((result.bundle_dir / "manifest.json").read_bytes())
    params = manifest.margin
    assert params is not None
    data = (result.bundle_dir / MARGIN_RECORDS_NAME).read_bytes()
    counts = [a.leaf_count for a in manifest.assets]
    size = params.record_size
    records = [
        MarginRecord.from_bytes(data[HEADER_SIZE + j * size : HEADER_SIZE + (j + 1) * size], params, j, counts)
        for j in range(params.accounts)
    ]
    return manifest, records, data


def _leaves(result: ProveResult, symbol: str) -> bytes:
    return (result.bundle_dir / data_file_names(symbol)["leaves"]).read_bytes()[HEADER_SIZE:]


def test_a_margin_ledger_proves_into_a_version_4_bundle_whose_proofs_verify(proven: ProveResult) -> None:
    manifest, records, data = _records(proven)
    params = manifest.margin
    assert params is not None and manifest.version == 4
    assert (params.slots, params.types, params.tiers, params.accounts) == (2, 2, 4, 4)
    assert proven.margin_accounts == 3 and proven.margin_records == 4
    pc = PedersenGens.default(get_backend())
    leaves = {a.symbol: _leaves(proven, a.symbol) for a in manifest.assets}
    ids = [r.record_id for r in records]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert MerkleTree([margin_leaf_hash(data[HEADER_SIZE + j * params.record_size:][:params.record_size])
                       for j in range(params.accounts)]).root == manifest.margin_root
    # Every record: its leaves carry the margin leaf id of this record; its parts verify.
    statements, proofs = [], []
    raw = (proven.bundle_dir / MARGIN_PROOFS_NAME).read_bytes()[HEADER_SIZE:]
    named: set[tuple[int, int]] = set()
    debt = [Point.identity() for _ in manifest.assets]
    values: list[Point] = []
    for record in records:
        points = []
        for slot in record.slots:
            symbol = manifest.assets[slot.asset].symbol
            leaf = leaves[symbol][slot.leaf * LEAF_RECORD_SIZE:][:LEAF_RECORD_SIZE]
            assert leaf[:32] == margin_leaf_id(record.record_id, symbol)
            assert (slot.asset, slot.leaf) not in named
            named.add((slot.asset, slot.leaf))
            points.append(Point.from_bytes(leaf[32:]))
            debt[slot.asset] = debt[slot.asset] + slot.D
        values += value_list(params, record, points, pc)
    # One group of G = 4 records here (M = 4, G*Q = 112): the group's parts cover their four value lists.
    assert params.group_size == 4 and params.groups == 1
    assert len(raw) == params.proofs_record_size
    offset = 0
    for statement in MarginPartStatement.parts_of(params, manifest.exchange, manifest.round,
                                                  manifest.margin_root or b"", 0):
        size = RangeProof.size_for((64 * statement.size).bit_length() - 1)
        proof = RangeProof.from_bytes(raw[offset:offset + size])
        offset += proof.serialized_size()
        statements.append(statement.range_statement(values[statement.offset:statement.offset + statement.size]))
        proofs.append(proof)
    verify_batch(statements, proofs)
    for a, asset in enumerate(manifest.assets):
        assert asset.debt_commitment == debt[a].to_bytes()
        assert asset.disclosed_debt is None and asset.disclosed_collateral is None
        solvency = SolvencyStatement(
            exchange=manifest.exchange, round=manifest.round, symbol=asset.symbol, decimals=asset.decimals,
            reserves=asset.reserves, num=asset.num, den=asset.den, leaf_count=asset.leaf_count,
            merkle_root=asset.merkle_root, C_L=Point.from_bytes(asset.liabilities_commitment),
            margin_digest=params.digest(), margin_root=manifest.margin_root, C_D=debt[a],
        )
        proof = RangeProof.from_bytes((proven.bundle_dir / data_file_names(asset.symbol)["solvency"]).read_bytes()[16:])
        verify_range(solvency.range_statement(pc), proof)
        # Chunk 0's proof is under the v4 context (the margin digest appended).
        chunk = ChunkStatement(
            exchange=manifest.exchange, round=manifest.round, symbol=asset.symbol, leaf_count=asset.leaf_count,
            chunk_size=asset.chunk_size, chunk=0, merkle_root=asset.merkle_root, margin_digest=params.digest(),
        )
        body = leaves[asset.symbol]
        commitments = [Point.from_bytes(body[i * LEAF_RECORD_SIZE + 32:][:48]) for i in range(asset.chunk_size)]
        chunk_proofs = (proven.bundle_dir / data_file_names(asset.symbol)["range_proofs"]).read_bytes()[16:]
        verify_range(chunk.range_statement(commitments), RangeProof.from_bytes(
            chunk_proofs[:RangeProof.size_for((64 * asset.chunk_size).bit_length() - 1)]))


def test_solvency_verify_accepts_the_bundle_and_solvency_check_every_package(proven: ProveResult) -> None:
    verify_bundle(proven.bundle_dir)
    for path in sorted(proven.packages_dir.glob("*.json")):
        if path.name != "run.json":
            check_package(path, proven.bundle_dir)


def test_dummy_slots_and_dummy_accounts_have_the_shape_of_real_ones(proven: ProveResult) -> None:
    manifest, records, _ = _records(proven)
    params = manifest.margin
    assert params is not None
    # Every record has S slots of distinct assets, each naming a distinct leaf; the dummy account and
    # frank's dummy slot name fresh padding leaves (no customer holds them) with margin leaf ids.
    assert all(len(r.slots) == params.slots for r in records)
    assert all(len({s.asset for s in r.slots}) == params.slots for r in records)
    # BTC: alice, bob, carol hold it; ETH: alice, erin, bob, carol; USDT: dave, bob, frank.
    holders = {"BTC": 3, "ETH": 4, "USDT": 3}
    slots_per_asset = {a.symbol: 0 for a in manifest.assets}
    for r in records:
        for s in r.slots:
            slots_per_asset[manifest.assets[s.asset].symbol] += 1
    # Real slots: bob BTC+USDT, carol ETH+BTC, frank USDT; 3 dummy slots (frank 1, dummy account 2).
    assert sum(slots_per_asset.values()) == 8
    for a in manifest.assets:
        real = {"BTC": 2, "ETH": 1, "USDT": 2}[a.symbol]
        dummies = slots_per_asset[a.symbol] - real
        assert a.leaf_count >= holders[a.symbol] + dummies
    # Packages: real customers' margin entries, dummy slots flagged and zero, spot customers null.
    packages = {json.loads(p.read_bytes())["customer_id"]: json.loads(p.read_bytes())
                for p in proven.packages_dir.glob("*.json") if p.name != "run.json"}
    assert {c for c, p in packages.items() if p["margin"] is not None} == {"bob", "carol", "frank"}
    assert all(p["format_version"] == 3 for p in packages.values())
    frank = packages["frank"]["margin"]
    assert [s["dummy"] for s in frank["slots"]].count(True) == 1
    dummy = next(s for s in frank["slots"] if s["dummy"])
    assert dummy["debt"] == dummy["unpledged"] == "0" and dummy["asset"] != "USDT"


def test_the_same_run_nonce_and_created_reproduce_the_bundle_byte_for_byte(tmp_path: Path,
                                                                          proven: ProveResult) -> None:
    _inputs(tmp_path)
    again = _prove(tmp_path, "two", jobs=2)
    assert _digests(again) == _digests(proven)
    other = _prove(tmp_path, "three", run_nonce=bytes(32))
    records = [(r.bundle_dir / MARGIN_RECORDS_NAME).read_bytes() for r in (other, proven)]
    assert records[0] != records[1]


def test_disclosures_publish_the_debt_and_collateral_totals(tmp_path: Path) -> None:
    _inputs(tmp_path)
    result = _prove(tmp_path, "d", disclose_liabilities=True, disclose_collateral=True, margin_pad_to=8)
    manifest = result.manifest
    assert manifest.margin is not None and manifest.margin.accounts == 8
    pc = PedersenGens.default(get_backend())
    by = {a.symbol: a for a in manifest.assets}
    expected_debt = {"BTC": 50_000_000, "ETH": 0, "USDT": 50_500_000_000}
    expected_collateral = {"BTC": 150_000_000, "ETH": 20_000_000_000, "USDT": 600_000_000}
    for symbol, asset in by.items():
        assert asset.disclosed_debt is not None and asset.disclosed_collateral is not None
        amount, blinding = asset.disclosed_debt
        assert amount == expected_debt[symbol]
        assert pc.commit(amount, blinding).to_bytes() == asset.debt_commitment
        assert asset.disclosed_collateral[0] == expected_collateral[symbol]


def test_an_account_whose_collateral_does_not_cover_its_debt_is_refused_by_name(tmp_path: Path) -> None:
    _inputs(tmp_path, [*ROWS, "mallory,ETH,100,,0.001,", "mallory,BTC,0,1,,"])
    result = CliRunner().invoke(app, _cli(tmp_path, "bundle", "packages"))
    assert result.exit_code == EXIT_INPUT, result.output
    assert "customer mallory" in result.output
    assert sorted(os.listdir(tmp_path)) == ["ledger.csv", "margin.json", "master.key", "reserves.json"]
    # The library refuses too when handed the ledger without the inputs' check passing.
    spec = load_reserves(tmp_path / "reserves.json")
    with pytest.raises(InputError, match="mallory"):
        margin_accounts(load_ledger(tmp_path / "ledger.csv", spec), load_margin_file(tmp_path / "margin.json",
                                                                                   spec.assets))


def test_write_bundle_refuses_an_impossible_account_it_is_handed_by_name_and_writes_nothing(tmp_path: Path) -> None:
    """The prover's own last check (the exact value list), for accounts that bypassed the inputs' checks."""
    _inputs(tmp_path)
    spec = load_reserves(tmp_path / "reserves.json")
    ledger = load_ledger(tmp_path / "ledger.csv", spec)
    good = margin_accounts(ledger, load_margin_file(tmp_path / "margin.json", spec.assets))
    bob = good.find("bob")
    assert bob is not None
    slots = tuple(dataclasses.replace(s, debt=10**12) if s.symbol == "USDT" else s for s in bob.slots)
    bad = dataclasses.replace(
        good, accounts=tuple(dataclasses.replace(a, slots=slots) if a is bob else a for a in good.accounts),
        debt={**good.debt, "USDT": good.debt["USDT"] - 50_000_000_000 + 10**12},
    )
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(InputError, match="customer bob: no margin proof exists"):
        write_bundle(ledger, spec, MASTER, tmp_path / "bundle", tmp_path / "packages",
                     ProveOptions(chunk=2, jobs=1, run_nonce=NONCE, created=CREATED), margin=bad)
    assert sorted(os.listdir(tmp_path)) == before


def test_the_cli_proves_margin_accounts_and_self_checks(tmp_path: Path) -> None:
    _inputs(tmp_path)
    result = CliRunner().invoke(app, [*_cli(tmp_path, "bundle", "packages"), "--disclose-collateral"])
    assert result.exit_code == EXIT_OK, result.output
    assert "3 margin accounts in 4 records, format 4" in result.output
    assert "self-check: the bundle verifies" in result.output


def _cli(root: Path, out: str, packages: str, *extra: str) -> list[str]:
    return [
        "prove", "--ledger", str(root / "ledger.csv"), "--reserves", str(root / "reserves.json"),
        "--secret", str(root / "master.key"), "--out", str(root / out), "--packages", str(root / packages),
        "--packages-format", "dir", "--chunk", "2", "--run-nonce", NONCE.hex(), "--created", CREATED,
        "--margin", str(root / "margin.json"), "--quiet", "--jobs", "1", *extra,
    ]


def test_resume_reuses_the_margin_tasks(tmp_path: Path, proven: ProveResult) -> None:
    _inputs(tmp_path)
    work = tmp_path / "bundle.work"
    spec = load_reserves(tmp_path / "reserves.json")
    ledger = load_ledger(tmp_path / "ledger.csv", spec)
    accounts = margin_accounts(ledger, load_margin_file(tmp_path / "margin.json", spec.assets))
    options = ProveOptions(chunk=2, jobs=1, run_nonce=NONCE, created=CREATED, workdir=work)
    failing = _FailAfter("margin", 1)
    with pytest.raises(RuntimeError, match="stop"):
        write_bundle(ledger, spec, MASTER, tmp_path / "b2", tmp_path / "p2", options, progress=failing,
                     margin=accounts)
    assert work.is_dir() and not (tmp_path / "b2").exists()
    resumed = write_bundle(ledger, spec, MASTER, tmp_path / "b2", tmp_path / "p2",
                           dataclasses.replace(options, resume=True), margin=accounts)
    assert resumed.tasks_reused >= 4 + 1  # every margin commit task and at least one margin proof
    assert _digests(resumed)["b2/" + MARGIN_PROOFS_NAME] == _digests(proven)["bundle/" + MARGIN_PROOFS_NAME]
    assert {k.split("/", 1)[1]: v for k, v in _digests(resumed).items() if k.startswith("b2/")} == {
        k.split("/", 1)[1]: v for k, v in _digests(proven).items() if k.startswith("bundle/")}


class _FailAfter:
    """A progress callback that raises once ``stage`` has ``count`` units done (a crash mid-stage)."""

    def __init__(self, stage: str, count: int) -> None:
        self.stage, self.count = stage, count

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage == self.stage and done >= self.count:
            raise RuntimeError("stop")


def test_without_margin_the_bundle_is_version_3(tmp_path: Path) -> None:
    _inputs(tmp_path, ["alice,BTC,1", "bob,ETH,2"], header="customer_id,asset,amount")
    result = _prove(tmp_path, "spot", margin=False)
    assert result.manifest.version == 3 and result.manifest.margin is None
    assert not (result.bundle_dir / MARGIN_RECORDS_NAME).exists()
    with pytest.raises(InputError, match="needs --margin"):
        _prove(tmp_path, "spot2", margin=False, disclose_collateral=True)


def test_dummy_slots_use_padding_room_before_growing_an_asset() -> None:
    """The picks rank by keyed hash among assets with room left, take one room each, and fall back to the
    plain ranking (growing an asset) only when no candidate has room."""
    from prover.margin import _pick

    symbols = ["A", "B", "C"]
    key = b"\x07" * 32
    ranked = _pick(key, [0, 1, 2], symbols, 3)  # no room given: the keyed ranking decides
    assert ranked == [0, 1, 2]
    room = [0, 1, 5]
    first = _pick(key, [0, 1, 2], symbols, 2, room)
    assert first == [1, 2] and room == [0, 0, 4]  # A has no room: B and C are taken
    second = _pick(key, [0, 1, 2], symbols, 2, room)
    assert 2 in second and room[2] == 3  # C still has room; the other pick falls back to the ranking
    single = _pick(key, [0, 1], symbols, 1, [0, 0])
    assert single == _pick(key, [0, 1], symbols, 1)  # no room anywhere: as without room
