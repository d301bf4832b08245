"""The prover's tasks (``prover.tasks``): bytes in, the same bytes out, refused without the right master.

A task names its leaves by customer id (or padding number) and amount; the worker derives the
blindings from the master secret it holds. These tests pin that a task's result does not depend on
where or how often it runs (the basis of retries, Dask and ``--resume``), that results are what the
format says (commitments that open with the derived blindings, proofs that verify), and that a
worker refuses a task made for another master or malformed bytes with the exact error class.
"""

from __future__ import annotations

import hashlib
import struct

import pytest

from circuits.backends import get_backend
from circuits.errors import FormatError, ParameterError
from circuits.generators import PedersenGens
from circuits.group import Point
from circuits.limits import NODE_BITS, RANGE_BITS
from circuits.merkle import leaf_hash
from circuits.proofs import RangeProof
from circuits.relations import Opening
from circuits.statements import ChunkStatement, NodeStatement
from circuits.sumtree import chunk_hash
from prover.executor import LocalPoolExecutor
from prover.keys import RunSecrets
from prover.tasks import (
    LeafRef,
    TaskParams,
    chunk_task,
    commit_task,
    install_master,
    installed_key_id,
    key_id,
    node_task,
    parse_commit_result,
    run_task,
    task_digest,
)
from verifier import verify_range

MASTER = bytes(range(32))
OTHER = bytes(range(1, 33))
NONCE = bytes(range(100, 132))
ROOT = hashlib.sha256(b"root").digest()
LEAVES = [LeafRef("alice", 0, 5), LeafRef('bob "b"', 0, 2**64 - 1), LeafRef(None, 0, 0), LeafRef(None, 7, 0)]


def _params(master: bytes = MASTER) -> TaskParams:
    return TaskParams(key_id(master), "Task Exchange", "r-1", NONCE, "BTC", 8, 4)


@pytest.fixture(autouse=True)
def _master() -> None:
    install_master(MASTER)


def test_key_id_names_the_master_without_revealing_it() -> None:
    assert len(key_id(MASTER)) == 16 and key_id(MASTER) != key_id(OTHER)
    assert key_id(MASTER) == key_id(bytearray(MASTER))
    assert installed_key_id() == key_id(MASTER)
    assert MASTER not in key_id(MASTER)


def test_commit_result_is_the_leaf_records_their_sum_and_the_chunk_root() -> None:
    be = get_backend()
    pc = PedersenGens.default(be)
    secrets = RunSecrets(MASTER, "Task Exchange", "r-1", NONCE)
    result = run_task(commit_task(_params(), 1, LEAVES))
    body, C_k, mth = parse_commit_result(result, 4)
    total = Point.identity(be)
    hashes = []
    for i, leaf in enumerate(LEAVES):
        record = body[80 * i : 80 * i + 80]
        if leaf.customer_id is None:
            r, lid = secrets.dummy("BTC", leaf.dummy)
        else:
            r, _salt = secrets.leaf("BTC", leaf.customer_id)
            lid = record[:32]
        V = pc.commit(leaf.amount, r)
        assert record == lid + V.to_bytes()
        total = total + V
        hashes.append(leaf_hash(lid, 4 + i, record[32:]))
    assert C_k == total.to_bytes() and mth == chunk_hash(hashes)


def test_the_same_task_gives_the_same_bytes_in_any_process() -> None:
    tasks = [
        commit_task(_params(), 0, LEAVES),
        chunk_task(_params(), 0, ROOT, LEAVES),
        node_task(_params(), 1, ROOT, Opening(12, 345), Opening(0, 678)),
    ]
    here = [run_task(t) for t in tasks]
    assert here == [run_task(t) for t in tasks]
    pool = LocalPoolExecutor(MASTER, jobs=2, backend_name=None, max_nm=256)
    got: dict[int, bytes] = {}
    try:
        pool.run(tasks + tasks, got.__setitem__)
    finally:
        pool.close()
    assert [got[i] for i in range(6)] == here + here
    assert len({task_digest(t) for t in tasks}) == 3


@pytest.mark.parametrize("backend_name", ["fast", "reference"])
def test_chunk_and_node_proofs_verify_for_their_statements(backend_name: str) -> None:
    be = get_backend(backend_name)
    pc = PedersenGens.default(be)
    secrets = RunSecrets(MASTER, "Task Exchange", "r-1", NONCE)
    openings = []
    for leaf in LEAVES:
        if leaf.customer_id is None:
            r = secrets.dummy("BTC", leaf.dummy)[0]
        else:
            r = secrets.leaf("BTC", leaf.customer_id)[0]
        openings.append(Opening(leaf.amount, r))
    chunk = ChunkStatement(exchange="Task Exchange", round="r-1", symbol="BTC", leaf_count=8, chunk_size=4, chunk=0,
                           merkle_root=ROOT)
    proof = RangeProof.from_bytes(run_task(chunk_task(_params(), 0, ROOT, LEAVES)), be)
    statement = chunk.range_statement([pc.commit(o.v, o.v_blinding) for o in openings])
    assert statement.n == RANGE_BITS
    verify_range(statement, proof)
    left, right = Opening(2**96 - 1, 345), Opening(0, 678)
    node = NodeStatement(exchange="Task Exchange", round="r-1", symbol="BTC", leaf_count=8, chunk_size=4, split=1,
                         merkle_root=ROOT)
    node_proof = RangeProof.from_bytes(run_task(node_task(_params(), 1, ROOT, left, right)), be)
    node_statement = node.range_statement(pc.commit(left.v, left.v_blinding), pc.commit(right.v, right.v_blinding))
    assert node_statement.n == NODE_BITS
    verify_range(node_statement, node_proof)


def test_a_task_for_another_master_is_refused() -> None:
    with pytest.raises(ParameterError) as info:
        run_task(commit_task(_params(OTHER), 0, LEAVES))
    assert type(info.value) is ParameterError and "another master" in str(info.value)


def test_a_worker_without_a_master_refuses_every_task() -> None:
    from prover import tasks

    saved = list(tasks._installed)
    tasks._installed.clear()
    try:
        with pytest.raises(ParameterError):
            run_task(commit_task(_params(), 0, LEAVES))
    finally:
        tasks._installed[:] = saved


def _garbage() -> list[bytes]:
    good = commit_task(_params(), 0, LEAVES)
    prefix = _params().encode(1)
    return [
        b"",
        b"NOTATASK" + good[8:],
        good[:-1],
        good + b"\x00",
        prefix + struct.pack("<Q", 0) + b"\x02" + good[len(prefix) + 9 :],  # unknown leaf tag
        prefix[:8] + b"\x09" + prefix[9:] + struct.pack("<Q", 0),  # unknown kind
        prefix + struct.pack("<Q", 0) + b"\x01" + struct.pack("<QQ", 0, 5) * 4,  # padding leaf with an amount
        _params().encode(1)[:-8] + struct.pack("<Q", 3) + struct.pack("<Q", 0),  # chunk size not a power of two
    ]


@pytest.mark.parametrize("index", range(8))
def test_malformed_task_bytes_are_a_format_error(index: int) -> None:
    with pytest.raises(FormatError) as info:
        run_task(_garbage()[index])
    assert type(info.value) is FormatError and info.value.section == "task"
