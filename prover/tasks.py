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
                   or 0x02 || frame(customer_id) || LE64(amount) || record_id (32)
                   or 0x03 || LE64(j) || LE64(0) || record_id (32)    (format 4: a margin slot's leaf, whose
                                                                       id is margin_leaf_id(record_id, S))

    COMMIT result = m times (leaf_id (32) || V (48))  ||  C_k (48)  ||  MTH_k (32)
    CHUNK  result = the chunk's range proof (``353 + 96*lg(64*m)`` bytes)
    NODE   result = the node's range proof (1121 bytes)

Format version 4 (margin accounts; ``S`` empty, ``leaf_count`` = M, ``m`` = 1 in the prefix of the
two MARGIN kinds)::

    CHUNK4 (6), NODE4 (7): CHUNK's and NODE's bodies || margin_digest (32)   (the v4 contexts, §14.5)
    MARGIN_COMMIT (4), body = LE32(j) || frame(params) || account
    MARGIN_PROVE  (5), body = LE32(g) || margin_root (32) || frame(params) || G accounts (records g*G ..)
    params  = the margin digest's preimage (FORMAT §14.2), from which the worker rebuilds the parameters
    account = (0x00 || frame(customer_id)  or  0x01 || LE32(dummy account number))
              || S times: LE16(asset) || LE32(leaf) || (0x00 (the customer's own leaf) or 0x01 || LE64(j)
                          (padding leaf j)) || LE64(equity) || LE64(debt) || K times LE64(collateral)

    MARGIN_COMMIT result = record j of margin.records.bin;  MARGIN_PROVE result = group g's proofs (§14.4)

A NODE task carries the openings of the node's two children (sums of amounts and of
blindings, which the coordinator holds); it goes only to a worker that holds the master
secret anyway. ``key_id`` fingerprints the master secret (:func:`key_id`): a worker
installed with another master refuses the task (:class:`~circuits.errors.ParameterError`)
instead of returning commitments to the wrong blindings.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
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
from circuits.margin import AssetMargin, MarginParams, Tier, margin_leaf_id
from circuits.merkle import leaf_hash
from circuits.relations import Opening
from circuits.statements import ChunkStatement, NodeStatement
from circuits.sumtree import chunk_hash
from prover.keys import RunSecrets, hkdf_expand, hkdf_extract
from prover.margin import AccountRef, SlotRef, account_secrets, commit_account, prove_group
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
MARGIN_COMMIT: Final[int] = 4
MARGIN_PROVE: Final[int] = 5
CHUNK4: Final[int] = 6
NODE4: Final[int] = 7
_MARGIN_PARAMS_TAG: Final[bytes] = b"zk-solvency margin params v4"
_MAX_PARAMS: Final[int] = 1 << 20
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
    """One leaf of a chunk: a customer's (``customer_id``, ``amount``) or padding leaf ``dummy``.

    ``record_id`` (format 4) is set for a margin slot's leaf: its id is ``margin_leaf_id(record_id, S)``.
    """

    customer_id: str | None
    dummy: int
    amount: int
    record_id: bytes | None = None

    def encode(self) -> bytes:
        """Return the leaf's task encoding."""
        margin = self.record_id is not None
        if self.customer_id is None:
            head = (b"\x03" if margin else b"\x01") + struct.pack("<QQ", self.dummy, 0)
        else:
            head = (b"\x02" if margin else b"\x00") + frame(self.customer_id.encode()) + struct.pack("<Q", self.amount)
        return head if self.record_id is None else head + self.record_id


def commit_task(params: TaskParams, k: int, leaves: list[LeafRef]) -> bytes:
    """Return the COMMIT task of chunk ``k`` (its ``m`` leaves in record order)."""
    return params.encode(COMMIT) + struct.pack("<Q", k) + b"".join(leaf.encode() for leaf in leaves)


def chunk_task(
    params: TaskParams, k: int, merkle_root: bytes, leaves: list[LeafRef], margin_digest: bytes | None = None
) -> bytes:
    """Return the CHUNK task (prove chunk ``k`` in ``[0, 2^64)``) under the tree's root.

    With ``margin_digest`` (format 4) the task is CHUNK4: the proof's context ends with the digest.
    """
    kind = CHUNK if margin_digest is None else CHUNK4
    body = struct.pack("<Q", k) + merkle_root + b"".join(leaf.encode() for leaf in leaves)
    return params.encode(kind) + body + (margin_digest or b"")


def node_task(
    params: TaskParams, split: int, merkle_root: bytes, left: Opening, right: Opening,
    margin_digest: bytes | None = None,
) -> bytes:
    """Return the NODE task: prove both children of sum node ``split`` in ``[0, 2^128)`` (NODE4 with a digest)."""
    return (
        params.encode(NODE if margin_digest is None else NODE4)
        + struct.pack("<Q", split)
        + merkle_root
        + left.v.to_bytes(16, "little")
        + left.v_blinding.to_bytes(32, "little")
        + right.v.to_bytes(16, "little")
        + right.v_blinding.to_bytes(32, "little")
        + (margin_digest or b"")
    )


def margin_params_bytes(params: MarginParams) -> bytes:
    """Return the margin digest's preimage (FORMAT §14.2): what a MARGIN task carries of the parameters.

    Raises:
        ParameterError: its SHA-256 is not ``params.digest()`` (this encoder and the spec's disagree).
    """
    out = [
        _MARGIN_PARAMS_TAG,
        struct.pack("<BHHHI", params.value_decimals, params.slots, len(params.collateral_types), params.tiers,
                    params.accounts),
        *(frame(t.encode()) for t in params.collateral_types),
    ]
    for asset in params.assets:
        out.append(frame(asset.symbol.encode()) + struct.pack("<BQ", asset.decimals, asset.price))
        for schedule in asset.haircuts:
            out.append(struct.pack("<B", len(schedule)))
            out.extend(struct.pack("<QB", tier.up_to or 0, tier.ratio) for tier in schedule)
    data = b"".join(out)
    if hashlib.sha256(data).digest() != params.digest():
        raise ParameterError("self-check failed: the margin parameters' encoding differs from their digest")
    return data


def margin_commit_task(params: TaskParams, index: int, margin: bytes, account: AccountRef) -> bytes:
    """Return the MARGIN_COMMIT task of record ``index`` (``margin``: :func:`margin_params_bytes`)."""
    return params.encode(MARGIN_COMMIT) + struct.pack("<I", index) + frame(margin) + _encode_account(account)


def margin_prove_task(
    params: TaskParams, group: int, margin_root: bytes, margin: bytes, accounts: Sequence[AccountRef]
) -> bytes:
    """Return the MARGIN_PROVE task: group ``group``'s parts (its ``G`` accounts) under the records tree's root."""
    return (
        params.encode(MARGIN_PROVE) + struct.pack("<I", group) + margin_root + frame(margin)
        + b"".join(_encode_account(a) for a in accounts)
    )


def _encode_account(account: AccountRef) -> bytes:
    if account.customer_id is None:
        out = [b"\x01" + struct.pack("<I", account.dummy)]
    else:
        out = [b"\x00" + frame(account.customer_id.encode())]
    for s in account.slots:
        if s.leaf < 0:
            raise ParameterError("a margin slot's leaf index is not set")
        source = b"\x00" if s.dummy_leaf is None else b"\x01" + struct.pack("<Q", s.dummy_leaf)
        out.append(struct.pack("<HI", s.asset, s.leaf) + source + struct.pack("<QQ", s.equity, s.debt))
        out.append(b"".join(struct.pack("<Q", c) for c in s.collateral))
    return b"".join(out)


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

    def uint(self, fmt: str) -> int:
        return int(struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0])

    def blob(self, limit: int) -> bytes:
        (n,) = struct.unpack("<I", self.take(4))
        if n > limit:
            raise FormatError("a task's field is too long", section="task")
        return self.take(n)

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
        if tag in (b"\x00", b"\x02"):
            customer_id = r.text()
            amount = r.u64()
            out.append(LeafRef(customer_id, 0, amount, r.take(32) if tag == b"\x02" else None))
        elif tag in (b"\x01", b"\x03"):
            j = r.u64()
            if r.u64() != 0:
                raise FormatError("a padding leaf has amount 0", section="task")
            out.append(LeafRef(None, j, 0, r.take(32) if tag == b"\x03" else None))
        else:
            raise FormatError("unknown leaf tag", section="task")
    return out


def _openings(secrets: RunSecrets, symbol: str, round_label: str, leaves: list[LeafRef]) -> list[tuple[bytes, Opening]]:
    """Derive each leaf's ``(leaf_id, opening)`` from the master secret (§9; a margin slot's id: §14.4)."""
    out = []
    for leaf in leaves:
        if leaf.customer_id is None:
            v_blinding, lid = secrets.dummy(symbol, leaf.dummy)
        else:
            v_blinding, salt = secrets.leaf(symbol, leaf.customer_id)
            lid = leaf_id(round_label, symbol, leaf.customer_id, salt)
        if leaf.record_id is not None:
            lid = margin_leaf_id(leaf.record_id, symbol)
        out.append((lid, Opening(leaf.amount, v_blinding)))
    return out


@lru_cache(maxsize=4)
def _margin_params(data: bytes) -> MarginParams:
    """Rebuild the margin parameters from their digest's preimage (a MARGIN task's ``params``)."""
    r = _Reader(data)
    if r.take(len(_MARGIN_PARAMS_TAG)) != _MARGIN_PARAMS_TAG:
        raise FormatError("not margin parameters", section="task")
    q, slots, kinds, tiers, accounts = struct.unpack("<BHHHI", r.take(11))
    types = tuple(r.text() for _ in range(kinds))
    assets = []
    while r.at < len(r.data):
        symbol = r.text()
        decimals, price = struct.unpack("<BQ", r.take(9))
        haircuts = []
        for _ in range(kinds):
            count = r.take(1)[0]
            schedule = []
            for t in range(count):
                bound, ratio = struct.unpack("<QB", r.take(9))
                schedule.append(Tier(up_to=bound if t + 1 < count else None, ratio=ratio))
            haircuts.append(tuple(schedule))
        assets.append(AssetMargin(symbol=symbol, decimals=decimals, price=price, haircuts=tuple(haircuts)))
    params = MarginParams(
        value_decimals=q, collateral_types=types, slots=slots, accounts=accounts, assets=tuple(assets)
    )
    if params.tiers != tiers or margin_params_bytes(params) != data:
        raise FormatError("the margin parameters do not re-encode to themselves", section="task")
    return params


def _account(r: _Reader, params: MarginParams) -> AccountRef:
    tag = r.take(1)
    customer_id: str | None
    if tag == b"\x00":
        customer_id, dummy = r.text(), 0
    elif tag == b"\x01":
        customer_id, dummy = None, r.uint("<I")
    else:
        raise FormatError("unknown margin account tag", section="task")
    slots = []
    kinds = len(params.collateral_types)
    for _ in range(params.slots):
        asset, leaf = r.uint("<H"), r.uint("<I")
        if asset >= len(params.assets):
            raise FormatError("a margin slot's asset is out of range", section="task")
        source = r.take(1)
        if source == b"\x00" and customer_id is not None:
            dummy_leaf = None
        elif source == b"\x01":
            dummy_leaf = r.u64()
        else:
            raise FormatError("unknown margin slot tag", section="task")
        equity, debt = r.u64(), r.u64()
        collateral = tuple(r.u64() for _ in range(kinds))
        if dummy_leaf is not None and (equity or debt or any(collateral)):
            raise FormatError("a dummy margin slot has amounts 0", section="task")
        slots.append(SlotRef(asset, dummy_leaf, equity, debt, collateral, leaf=leaf))
    return AccountRef(customer_id, dummy, tuple(slots))


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
    if kind in (MARGIN_COMMIT, MARGIN_PROVE):
        index = r.uint("<I")
        margin_root = r.take(32) if kind == MARGIN_PROVE else b""
        params = _margin_params(r.blob(_MAX_PARAMS))
        if kind == MARGIN_COMMIT:
            if params.accounts != leaf_count or index >= leaf_count:
                raise FormatError("a margin task's record number is out of range", section="task")
            acc = account_secrets(params, secrets, round_label, _account(r, params))
            r.end()
            return commit_account(params, acc, be).to_bytes()
        if params.accounts != leaf_count or index >= params.groups:
            raise FormatError("a margin task's group number is out of range", section="task")
        accs = [account_secrets(params, secrets, round_label, _account(r, params)) for _ in range(params.group_size)]
        r.end()
        return prove_group(
            params, accs, secrets, exchange=exchange, round_label=round_label, group=index, margin_root=margin_root,
            backend=be,
        )
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
    if kind in (CHUNK, CHUNK4):
        k = r.u64()
        root = r.take(32)
        leaves = _leaves(r, m)
        digest = r.take(32) if kind == CHUNK4 else None
        r.end()
        openings = [o for _, o in _openings(secrets, symbol, round_label, leaves)]
        chunk = ChunkStatement(
            exchange=exchange, round=round_label, symbol=symbol, leaf_count=leaf_count, chunk_size=m, chunk=k,
            merkle_root=root, margin_digest=digest,
        )
        entropy = secrets.proof_entropy(symbol, "chunk", k)
        _, proof = prove_range(
            openings, RANGE_BITS, context=chunk.context(), backend=be, rng=lambda _n: entropy, threads=1
        )
        return proof.to_bytes()
    if kind in (NODE, NODE4):
        split = r.u64()
        root = r.take(32)
        left = Opening(int.from_bytes(r.take(16), "little"), int.from_bytes(r.take(32), "little"))
        right = Opening(int.from_bytes(r.take(16), "little"), int.from_bytes(r.take(32), "little"))
        digest = r.take(32) if kind == NODE4 else None
        r.end()
        node = NodeStatement(
            exchange=exchange, round=round_label, symbol=symbol, leaf_count=leaf_count, chunk_size=m, split=split,
            merkle_root=root, margin_digest=digest,
        )
        entropy = secrets.proof_entropy(symbol, "node", split)
        _, proof = prove_range(
            [left, right], NODE_BITS, context=node.context(), backend=be, rng=lambda _n: entropy, threads=1
        )
        return proof.to_bytes()
    raise FormatError(f"unknown task kind {kind}", section="task")

