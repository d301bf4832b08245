"""The Merkle tree of an asset's leaves (``docs/FORMAT.md`` §5): RFC 6962 shape, domain-separated hashes.

:func:`leaf_hash` and :func:`node_hash` are the two hashes; :class:`MerkleAccumulator`
computes a root while streaming leaves (verifier), :class:`MerkleTree` keeps a whole
tree for roots and audit paths (prover), and :func:`verify_merkle_path` recomputes a
root from an audit path (customer check).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from typing import Final

from circuits.errors import FormatError

__all__ = ["MerkleAccumulator", "MerkleTree", "leaf_hash", "node_hash", "verify_merkle_path"]

_LEAF_TAG: Final[bytes] = b"\x00zk-solvency leaf v1"
_NODE_TAG: Final[bytes] = b"\x01"


def leaf_hash(leaf_id_bytes: bytes, index: int, commitment: bytes) -> bytes:
    """Return the Merkle leaf hash (§5); ``commitment`` is the 48-byte point encoding."""
    return hashlib.sha256(_LEAF_TAG + leaf_id_bytes + struct.pack("<Q", index) + commitment).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the Merkle interior node hash (§5)."""
    return hashlib.sha256(_NODE_TAG + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


class MerkleAccumulator:
    """Streaming RFC 6962 Merkle root: push leaf hashes in order, then :meth:`root`.

    Memory is ``O(log n)``: a stack of perfect subtrees (like a binary counter).
    """

    def __init__(self) -> None:
        """Start an empty tree."""
        self._stack: list[tuple[int, bytes]] = []
        self.count = 0

    def push(self, h: bytes) -> None:
        """Append one leaf hash."""
        size, node = 1, h
        while self._stack and self._stack[-1][0] == size:
            _, left = self._stack.pop()
            node = node_hash(left, node)
            size *= 2
        self._stack.append((size, node))
        self.count += 1

    def root(self) -> bytes:
        """Return the root; the RFC 6962 shape folds the perfect subtrees right to left."""
        if not self._stack:
            raise FormatError("Merkle tree of zero leaves")
        acc = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            acc = node_hash(left, acc)
        return acc


class MerkleTree:
    """A whole RFC 6962 tree kept in memory (prover side), for roots and audit paths."""

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        """Build every subtree hash for ``leaf_hashes``."""
        if not leaf_hashes:
            raise FormatError("Merkle tree of zero leaves")
        self._leaves = list(leaf_hashes)
        self._memo: dict[tuple[int, int], bytes] = {}
        self.root = self._mth(0, len(self._leaves))

    def _mth(self, start: int, size: int) -> bytes:
        if size == 1:
            return self._leaves[start]
        key = (start, size)
        h = self._memo.get(key)
        if h is None:
            k = _largest_power_of_two_below(size)
            h = node_hash(self._mth(start, k), self._mth(start + k, size - k))
            self._memo[key] = h
        return h

    def path(self, index: int) -> list[bytes]:
        """Return the audit path of leaf ``index``, leaf-level sibling first (RFC 6962 §2.1.1)."""
        out: list[bytes] = []
        start, size, m = 0, len(self._leaves), index
        while size > 1:
            k = _largest_power_of_two_below(size)
            if m < k:
                out.append(self._mth(start + k, size - k))
                size = k
            else:
                out.append(self._mth(start, k))
                start, size, m = start + k, size - k, m - k
        out.reverse()
        return out


def verify_merkle_path(h: bytes, index: int, tree_size: int, path: Sequence[bytes]) -> bytes:
    """Return the root implied by leaf hash ``h`` at ``index`` (RFC 9162 §2.1.3.2).

    Raises:
        FormatError: the path has the wrong length for ``index`` and ``tree_size``.
    """
    if not 0 <= index < tree_size:
        raise FormatError("leaf index outside the tree")
    fn, sn, r = index, tree_size - 1, h
    for p in path:
        if sn == 0:
            raise FormatError("Merkle path is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise FormatError("Merkle path is too short")
    return r
