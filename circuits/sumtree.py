r"""The Merkle sum tree of an asset (format version 3; ``docs/FORMAT.md`` §5.2, ``notes/41-sum-tree.md``).

Leaves are grouped in chunks of ``m`` (the chunk size, a power of two); ``C = N/m``.
Inside a chunk the tree is the plain RFC 6962 tree of :mod:`circuits.merkle`; from
the chunk level up every node carries the Pedersen commitment of its subtree's sum,
bound into its hash::

    chunk node k:  C_k = sum of the chunk's leaf commitments
                   H_k = SHA-256(0x02 "zk-solvency chunk node v3" || C_k || MTH(chunk k's leaf hashes))
    sum node:      C   = C_left + C_right
                   H   = SHA-256(0x03 "zk-solvency sum node v3" || C || H_left || H_right)

The sum nodes over the ``C`` chunk nodes have the RFC 6962 shape (split at the
largest power of two below the size). The root's hash is the manifest's
``merkle_root`` and its commitment is ``C_L``.

Node records are numbered **in order**: record ``2k`` is chunk node ``k`` and record
``2j - 1`` (``1 <= j < C``) is the sum node whose right subtree starts at chunk ``j``
(its *split*). :func:`node_index_of` maps a subtree ``(start, size)`` (in chunks)
to its record, :func:`chunk_path` lists the nodes a customer of chunk ``k`` needs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from circuits.constants import POINT_SIZE
from circuits.errors import ParameterError
from circuits.merkle import node_hash

__all__ = [
    "NODE_RECORD_SIZE",
    "chunk_hash",
    "chunk_node_hash",
    "chunk_path",
    "node_count",
    "node_index_of",
    "root_index",
    "sum_node_hash",
    "sum_nodes",
]

_CHUNK_NODE_TAG: Final[bytes] = b"\x02zk-solvency chunk node v3"
_SUM_NODE_TAG: Final[bytes] = b"\x03zk-solvency sum node v3"
NODE_HASH_SIZE: Final[int] = 32
#: A nodes-file record: the node's commitment (48-byte compressed G1) then its hash (32 bytes).
NODE_RECORD_SIZE: Final[int] = POINT_SIZE + NODE_HASH_SIZE


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def chunk_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return the RFC 6962 Merkle tree hash of one chunk's leaf hashes (their count a power of two)."""
    level = list(leaf_hashes)
    if not level or len(level) & (len(level) - 1):
        raise ParameterError(f"a chunk has a power-of-two number of leaves, got {len(level)}")
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def chunk_node_hash(commitment: bytes, chunk_tree_hash: bytes) -> bytes:
    """Return the hash of a chunk node from its commitment ``C_k`` (48 bytes) and its chunk's MTH."""
    return hashlib.sha256(_CHUNK_NODE_TAG + commitment + chunk_tree_hash).digest()


def sum_node_hash(commitment: bytes, left: bytes, right: bytes) -> bytes:
    """Return the hash of a sum node from its commitment ``C_left + C_right`` and its children's hashes."""
    return hashlib.sha256(_SUM_NODE_TAG + commitment + left + right).digest()


def node_count(chunks: int) -> int:
    """Return the number of records of the nodes file: ``2C - 1``."""
    _check_chunks(chunks)
    return 2 * chunks - 1


def split_point(start: int, size: int) -> int:
    """Return the first chunk of the right subtree of the sum node over chunks ``[start, start + size)``."""
    if size < 2:
        raise ParameterError("a subtree of one chunk is a chunk node, it has no split")
    return start + _largest_power_of_two_below(size)


def node_index_of(start: int, size: int) -> int:
    """Return the record index (in-order numbering) of the subtree over chunks ``[start, start + size)``."""
    if size < 1 or start < 0:
        raise ParameterError("empty subtree")
    return 2 * start if size == 1 else 2 * split_point(start, size) - 1


def root_index(chunks: int) -> int:
    """Return the record index of the root of a tree of ``chunks`` chunks."""
    _check_chunks(chunks)
    return node_index_of(0, chunks)


@dataclass(frozen=True)
class SumNode:
    """A sum node: its split ``j`` (node proof record ``j - 1``) and its three subtrees as ``(start, size)``."""

    split: int
    node: tuple[int, int]
    left: tuple[int, int]
    right: tuple[int, int]

    @property
    def index(self) -> int:
        """The node's record index (``2*split - 1``)."""
        return 2 * self.split - 1


def sum_nodes(chunks: int) -> list[SumNode]:
    """Return every sum node of a tree of ``chunks`` chunks, children before parents (post-order)."""
    _check_chunks(chunks)
    out: list[SumNode] = []
    stack: list[tuple[int, int, bool]] = [(0, chunks, False)]
    while stack:
        start, size, expanded = stack.pop()
        if size == 1:
            continue
        j = split_point(start, size)
        if expanded:
            out.append(SumNode(j, (start, size), (start, j - start), (j, start + size - j)))
        else:
            stack.append((start, size, True))
            stack.append((j, start + size - j, False))
            stack.append((start, j - start, False))
    return out


@dataclass(frozen=True)
class PathStep:
    """One level of a chunk's path to the root, from the chunk level up.

    ``sibling`` is the record index of the other child, ``parent`` the record index of
    the sum node above (whose node proof is record ``parent_split - 1``), and
    ``sibling_is_left`` says on which side the sibling hangs.
    """

    sibling: int
    parent: int
    parent_split: int
    sibling_is_left: bool


def chunk_path(chunks: int, k: int) -> list[PathStep]:
    """Return the path of chunk ``k`` to the root, chunk level first (empty when ``chunks == 1``)."""
    _check_chunks(chunks)
    if not 0 <= k < chunks:
        raise ParameterError(f"chunk {k} outside a tree of {chunks} chunks")
    steps: list[PathStep] = []
    start, size = 0, chunks
    while size > 1:
        j = split_point(start, size)
        parent = 2 * j - 1
        if k < j:
            steps.append(PathStep(node_index_of(j, start + size - j), parent, j, sibling_is_left=False))
            size = j - start
        else:
            steps.append(PathStep(node_index_of(start, j - start), parent, j, sibling_is_left=True))
            start, size = j, start + size - j
    steps.reverse()
    return steps


def _check_chunks(chunks: int) -> None:
    if type(chunks) is not int or chunks < 1:
        raise ParameterError(f"a tree has at least one chunk, got {chunks!r}")
