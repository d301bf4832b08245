"""The sum tree's numbering and hashes (``circuits/sumtree.py``, ``docs/FORMAT.md`` §5.2)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from circuits.errors import ParameterError
from circuits.merkle import node_hash
from circuits.sumtree import (
    NODE_RECORD_SIZE,
    chunk_hash,
    chunk_node_hash,
    chunk_path,
    node_count,
    node_index_of,
    root_index,
    sum_node_hash,
    sum_nodes,
)


@given(st.integers(1, 300))
def test_in_order_numbering_is_a_bijection(chunks: int) -> None:
    indices = sorted([n.index for n in sum_nodes(chunks)] + [2 * k for k in range(chunks)])
    assert indices == list(range(node_count(chunks)))
    assert root_index(chunks) == node_index_of(0, chunks)


@given(st.integers(1, 300).flatmap(lambda c: st.tuples(st.just(c), st.integers(0, c - 1))))
def test_a_chunk_path_climbs_through_parents_to_the_root(case: tuple[int, int]) -> None:
    chunks, k = case
    by_index = {n.index: n for n in sum_nodes(chunks)}
    current = 2 * k
    for step in chunk_path(chunks, k):
        node = by_index[step.parent]
        left, right = node_index_of(*node.left), node_index_of(*node.right)
        expected = (step.sibling, current) if step.sibling_is_left else (current, step.sibling)
        assert (left, right) == expected
        assert step.parent_split == node.split and step.parent == 2 * node.split - 1
        current = step.parent
    assert current == root_index(chunks)


def test_children_come_before_parents() -> None:
    seen: set[int] = {2 * k for k in range(11)}
    for node in sum_nodes(11):
        assert node_index_of(*node.left) in seen and node_index_of(*node.right) in seen
        seen.add(node.index)


def test_rfc6962_shape_of_five_chunks() -> None:
    # MTH over 5: split 4 | 1; over 4: 2 | 2; records in order: c0 s1 c1 s2 c2 s3 c3 s4 c4.
    splits = [(n.split, n.left, n.right) for n in sum_nodes(5)]
    assert splits == [(1, (0, 1), (1, 1)), (3, (2, 1), (3, 1)), (2, (0, 2), (2, 2)), (4, (0, 4), (4, 1))]
    assert root_index(5) == 7
    assert [(s.sibling, s.parent) for s in chunk_path(5, 4)] == [(3, 7)]
    assert [(s.sibling, s.parent) for s in chunk_path(5, 2)] == [(6, 5), (1, 3), (8, 7)]


def test_hashes_known_answers() -> None:
    C = bytes(range(48))
    h = bytes(32)
    assert chunk_node_hash(C, h) == hashlib.sha256(b"\x02zk-solvency chunk node v3" + C + h).digest()
    assert sum_node_hash(C, h, b"\x01" * 32) == hashlib.sha256(
        b"\x03zk-solvency sum node v3" + C + h + b"\x01" * 32
    ).digest()
    leaves = [bytes([i]) * 32 for i in range(4)]
    assert chunk_hash(leaves) == node_hash(node_hash(leaves[0], leaves[1]), node_hash(leaves[2], leaves[3]))
    assert chunk_hash(leaves[:1]) == leaves[0]
    assert NODE_RECORD_SIZE == 80


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ParameterError):
        chunk_hash([bytes(32)] * 3)
    with pytest.raises(ParameterError):
        node_count(0)
    with pytest.raises(ParameterError):
        chunk_path(4, 4)
