r"""The prover's tasks: bytes in, bytes out, the same bytes every time (``docs/FORMAT.md`` §9).

A run of ``solvency prove`` (format version 3) is split into tasks that any worker
holding the master secret can run: a local process, or a Dask worker on another
machine (:mod:`prover.dask_executor`). A task is a byte string; its result is a byte
string; nothing secret is pickled as an object, and the leaves' blindings never travel:
the worker derives them again from the master secret and the run's public parameters
(exchange, round, run nonce, symbol, customer id). Every proof's randomness is derived
too (:meth:`prover.keys.RunSecrets.proof_entropy`), so a retried or resumed task returns
exactly the bytes it returned the first time, and its result can be stored under the
task's digest (:func:`task_digest`).

Layout (all integers little-endian; ``frame(s) = LE32(len(s)) || s``)::

    task   = "ZKSTASK1" || kind (1 byte) || key_id (16) || frame(E) || frame(T) || nonce (32)
             || frame(S) || LE64(leaf_count) || LE64(m) || body
    COMMIT (1), body = LE64(k) || leaves
    CHUNK  (2), body = LE64(k) || merkle_root (32) || leaves
    NODE   (3), body = LE64(split) || merkle_root (32)
                       || LE128(v_left) || LE256(r_left) || LE128(v_right) || LE256(r_right)
    leaves = m times: 0x00 || frame(customer_id) || LE64(amount)     (a customer's leaf)
                   or 0x01 || LE64(j) || LE64(0)                      (padding leaf j, amount 0)

    COMMIT result = m times (leaf_id (32) || V (48))  ||  C_k (48)  ||  MTH_k (32)
    CHUNK  result = the chunk's range proof (``353 + 96*lg(64*m)`` bytes)
    NODE   result = the node's range proof (1121 bytes)

A NODE task carries the openings of the node's two children (sums of amounts and of
blindings, which the coordinator holds); it goes only to a worker that holds the master
secret anyway. ``key_id`` fingerprints the master secret (:func:`key_id`): a worker
installed with another master refuses the task (:class:`~circuits.errors.ParameterError`)
instead of returning commitments to the wrong blindings.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from circuits.backends import get_backend
from circuits.datafiles import LEAF_ID_SIZE, leaf_id
from circuits.encoding import frame
from circuits.errors import FormatError, ParameterError
from circuits.generators import BulletproofGens, PedersenGens
from circuits.group import Point
from circuits.group import _pool as _group_pool
from circuits.limits import NODE_BITS, RANGE_BITS
from circuits.merkle import leaf_hash
from circuits.relations import Opening
from circuits.statements import ChunkStatement, NodeStatement
from circuits.sumtree import chunk_hash
from prover.keys import RunSecrets, hkdf_expand, hkdf_extract
from prover.range_proof import _pool as _prover_pool
from prover.range_proof import prove_range

__all__ = [
    "LeafRef",
    "TaskParams",
    "chunk_task",
    "commit_task",
    "install_master",
    "installed_key_id",
    "key_id",
    "node_task",
    "parse_commit_result",
    "run_task",
    "task_digest",
]

_MAGIC: Final[bytes] = b"ZKSTASK1"
COMMIT: Final[int] = 1
CHUNK: Final[int] = 2
NODE: Final[int] = 3
_KEY_ID_SALT: Final[bytes] = b"zk-solvency key id v1"
_KEY_ID_SIZE: Final[int] = 16
_POINT: Final[int] = 48

#: The master secret installed in this process (a worker), or nothing.
_installed: list[bytes] = []
#: The backend :func:`prepare_worker` chose (``None``: the default backend).
_backend: list[str | None] = [None]


def key_id(master: bytes) -> bytes:
    """Return the 16-byte fingerprint of a master secret: ``HKDF-Expand(HKDF-Extract(tag, master), "key id")``.

    It names the key without revealing it (a one-way function of a 256-bit secret).
    """
    return hkdf_expand(hkdf_extract(_KEY_ID_SALT, bytes(master)), b"key id", _KEY_ID_SIZE)


def install_master(master: bytes) -> None:
    """Hold ``master`` in this process for :func:`run_task` (a worker's start-up)."""
    if len(master) != 32:
        raise ParameterError("the master secret is 32 bytes")
    _installed[:] = [bytes(master)]
    _run_secrets.cache_clear()


def installed_key_id() -> bytes | None:
    """Return the key id of the master secret installed in this process, or ``None``."""
    return key_id(_installed[0]) if _installed else None


def prepare_worker(backend_name: str | None, max_nm: int) -> None:
    """Make this process ready to prove: fresh thread pools, generators for ``max_nm`` bits memoized.

    A forked child inherits the parent's memoized thread pools, whose threads did not
    survive the fork: they are dropped so that nothing waits on a dead thread.
    """
    _group_pool.cache_clear()
    _prover_pool.cache_clear()
    be = get_backend(backend_name)
    _backend[0] = be.name
    PedersenGens.default(be)
    BulletproofGens.default(be).G_raw(max_nm)


def task_digest(task: bytes) -> str:
    """Return the task's content address: the SHA-256 of its bytes, in lower-case hex."""
    return hashlib.sha256(task).hexdigest()


# ---------------------------------------------------------------------------
# Building tasks (the coordinator)


@dataclass(frozen=True)
class TaskParams:
    """The public parameters every task of one asset carries (the nonce is private, not secret-keyed)."""

    key_id: bytes
    exchange: str
    round: str
    run_nonce: bytes
    symbol: str
    leaf_count: int
    chunk_size: int

    def encode(self, kind: int) -> bytes:
        """Return the task's common prefix for ``kind``."""
        return (
            _MAGIC
            + bytes((kind,))
            + self.key_id
            + frame(self.exchange.encode())
            + frame(self.round.encode())
            + self.run_nonce
            + frame(self.symbol.encode())
            + struct.pack("<QQ", self.leaf_count, self.chunk_size)
        )


@dataclass(frozen=True)
class LeafRef:
    """One leaf of a chunk: a customer's (``customer_id``, ``amount``) or padding leaf ``dummy``."""

    customer_id: str | None
    dummy: int
    amount: int

    def encode(self) -> bytes:
        """Return the leaf's task encoding."""
        if self.customer_id is None:
            return b"\x01" + struct.pack("<QQ", self.dummy, 0)
        return b"\x00" + frame(self.customer_id.encode()) + struct.pack("<Q", self.amount)


def commit_task(params: TaskParams, k: int, leaves: list[LeafRef]) -> bytes:
    """Return the COMMIT task of chunk ``k`` (its ``m`` leaves in record order)."""
    return params.encode(COMMIT) + struct.pack("<Q", k) + b"".join(leaf.encode() for leaf in leaves)


def chunk_task(params: TaskParams, k: int, merkle_root: bytes, leaves: list[LeafRef]) -> bytes:
    """Return the CHUNK task (prove chunk ``k`` in ``[0, 2^64)``) under the tree's root."""
    return params.encode(CHUNK) + struct.pack("<Q", k) + merkle_root + b"".join(leaf.encode() for leaf in leaves)


def node_task(params: TaskParams, split: int, merkle_root: bytes, left: Opening, right: Opening) -> bytes:
    """Return the NODE task: prove both children of sum node ``split`` in ``[0, 2^128)``."""
    return (
        params.encode(NODE)
        + struct.pack("<Q", split)
        + merkle_root
        + left.v.to_bytes(16, "little")
        + left.v_blinding.to_bytes(32, "little")
        + right.v.to_bytes(16, "little")
        + right.v_blinding.to_bytes(32, "little")
    )


def parse_commit_result(result: bytes, m: int) -> tuple[bytes, bytes, bytes]:
    """Split a COMMIT result into ``(m leaf records, C_k, MTH_k)``.

    Raises:
        FormatError: the result has the wrong size.
    """
    records = m * (LEAF_ID_SIZE + _POINT)
    if len(result) != records + _POINT + 32:
        raise FormatError("a commit result has the wrong size", section="task result")
    return result[:records], result[records : records + _POINT], result[records + _POINT :]


# ---------------------------------------------------------------------------
# Running tasks (a worker)


class _Reader:
    """Reads a task's fields in order; any inconsistency is a FormatError (a task is untrusted bytes)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise FormatError("truncated task", section="task")
        out = self.data[self.at : self.at + n]
        self.at += n
        return out

    def u64(self) -> int:
        return int(struct.unpack("<Q", self.take(8))[0])

    def text(self) -> str:
        (n,) = struct.unpack("<I", self.take(4))
        if n > 1 << 16:
            raise FormatError("a task's text field is too long", section="task")
        try:
            return self.take(n).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError("a task's text field is not UTF-8", section="task") from exc

    def end(self) -> None:
        if self.at != len(self.data):
            raise FormatError("trailing bytes after the task", section="task")


@lru_cache(maxsize=8)
def _run_secrets(exchange: str, round_label: str, run_nonce: bytes) -> RunSecrets:
    return RunSecrets(_installed[0], exchange, round_label, run_nonce)


def _leaves(r: _Reader, m: int) -> list[LeafRef]:
    out = []
    for _ in range(m):
        tag = r.take(1)
        if tag == b"\x00":
            customer_id = r.text()
            out.append(LeafRef(customer_id, 0, r.u64()))
        elif tag == b"\x01":
            j = r.u64()
            if r.u64() != 0:
                raise FormatError("a padding leaf has amount 0", section="task")
            out.append(LeafRef(None, j, 0))
        else:
            raise FormatError("unknown leaf tag", section="task")
    return out


def _openings(secrets: RunSecrets, symbol: str, round_label: str, leaves: list[LeafRef]) -> list[tuple[bytes, Opening]]:
    """Derive each leaf's ``(leaf_id, opening)`` from the master secret (§9)."""
    out = []
    for leaf in leaves:
        if leaf.customer_id is None:
            v_blinding, lid = secrets.dummy(symbol, leaf.dummy)
        else:
            v_blinding, salt = secrets.leaf(symbol, leaf.customer_id)
            lid = leaf_id(round_label, symbol, leaf.customer_id, salt)
        out.append((lid, Opening(leaf.amount, v_blinding)))
    return out


def run_task(task: bytes) -> bytes:
    """Run one task with the master secret installed in this process; return its result bytes.

    Deterministic: the same task gives the same bytes on any worker and any backend.

    Raises:
        ParameterError: no master secret is installed, or the task was made for another one.
        FormatError: the task bytes do not parse.
        WitnessError: a proof cannot be made (e.g. an amount out of range).
    """
    if not _installed:
        raise ParameterError("this worker holds no master secret", section="task")
    r = _Reader(task)
    if r.take(8) != _MAGIC:
        raise FormatError("not a zk-solvency task", section="task")
    kind = r.take(1)[0]
    if r.take(_KEY_ID_SIZE) != key_id(_installed[0]):
        raise ParameterError("the task was made for another master secret (key id differs)", section="task")
    exchange, round_label = r.text(), r.text()
    nonce = r.take(32)
    symbol = r.text()
    leaf_count, m = r.u64(), r.u64()
    if m < 1 or m & (m - 1) or m > 1024 or leaf_count % m:
        raise FormatError("bad chunk size", section="task")
    secrets = _run_secrets(exchange, round_label, nonce)
    be = get_backend(_backend[0])
    pc = PedersenGens.default(be)
    if kind == COMMIT:
        k = r.u64()
        leaves = _leaves(r, m)
        r.end()
        records = []
        hashes = []
        total = Point.identity(be)
        for i, (lid, opening) in enumerate(_openings(secrets, symbol, round_label, leaves)):
            V = pc.commit(opening.v, opening.v_blinding)
            total = total + V
            encoded = V.to_bytes()
            records.append(lid + encoded)
            hashes.append(leaf_hash(lid, k * m + i, encoded))
        return b"".join(records) + total.to_bytes() + chunk_hash(hashes)
    if kind == CHUNK:
        k = r.u64()
        root = r.take(32)
        leaves = _leaves(r, m)
        r.end()
        openings = [o for _, o in _openings(secrets, symbol, round_label, leaves)]
        chunk = ChunkStatement(
            exchange=exchange, round=round_label, symbol=symbol, leaf_count=leaf_count, chunk_size=m, chunk=k,
            merkle_root=root,
        )
        entropy = secrets.proof_entropy(symbol, "chunk", k)
        _, proof = prove_range(
            openings, RANGE_BITS, context=chunk.context(), backend=be, rng=lambda _n: entropy, threads=1
        )
        return proof.to_bytes()
    if kind == NODE:
        split = r.u64()
        root = r.take(32)
        left = Opening(int.from_bytes(r.take(16), "little"), int.from_bytes(r.take(32), "little"))
        right = Opening(int.from_bytes(r.take(16), "little"), int.from_bytes(r.take(32), "little"))
        r.end()
        node = NodeStatement(
            exchange=exchange, round=round_label, symbol=symbol, leaf_count=leaf_count, chunk_size=m, split=split,
            merkle_root=root,
        )
        entropy = secrets.proof_entropy(symbol, "node", split)
        _, proof = prove_range(
            [left, right], NODE_BITS, context=node.context(), backend=be, rng=lambda _n: entropy, threads=1
        )
        return proof.to_bytes()
    raise FormatError(f"unknown task kind {kind}", section="task")

