r"""The solvency pipeline: ledger + reserves + master secret -> proof bundle (format 3 or 4) + customer packages.

This module holds the secrets (openings, blindings, salts) and writes the public
bundle specified in ``docs/FORMAT.md`` (format version 3: a Merkle sum tree over
chunks, ``notes/41-sum-tree.md``). :func:`write_bundle` runs these passes, each a
function returning a frozen value that the next one consumes (``notes/40-solvency.md``):

1. **read** (:class:`_Run`): check the output paths and options, refuse an
   insolvent asset (``den*R < num*L``) before any proving, fix the run nonce (fresh,
   ``--run-nonce``, or the work directory's on ``--resume``) and derive the run's secrets.
2. **prepare** (:class:`_PreparedAsset`): derive every leaf's salt and blinding, pad
   with zero-amount dummy leaves, sort by leaf id; keep per chunk only the sums of the
   amounts and of the blindings (the openings of the chunk nodes).
3. **commit** (:class:`_CommittedAsset`): one COMMIT task per chunk (:mod:`prover.tasks`;
   the worker derives the blindings again and returns the leaf records, ``C_k`` and ``MTH_k``).
4. **tree** (:class:`_TreeAsset`): the chunk nodes and the sum nodes (``C = C_left + C_right``),
   children before parents; the root's hash is ``merkle_root``, its commitment ``C_L``.
5. **prove** (:class:`_ProvenAsset`): one CHUNK task per chunk (``[0, 2^64)``), then one NODE
   task per sum node (both children in ``[0, 2^128)``), each kind for all assets in one run of
   the executor; then each asset's surplus ``den*R - num*L`` in ``[0, 2^128)``.
6. **write**: the bundle into a temporary directory renamed into place, and the packages
   into a package sink (a SQLite store or a directory, :mod:`prover.store`) published after it.

With margin accounts (``margin``, :func:`prover.margin_inputs.margin_accounts`) the bundle is
format version 4 (``docs/FORMAT.md`` §14, ``notes/42-margin.md``), else version 3, byte for byte
as before. Pass 1 also plans the margin records (:func:`prover.margin.plan_margin`: slots, dummy
slots and accounts, record order; an account with no possible proof is refused by name before
anything is written) and proves solvency against ``L - D``; pass 2 pads each asset for its dummy
slots and gives every slot's leaf its margin leaf id; after the tree, **margin commit**
(:class:`_MarginCommitted`) commits every record in a MARGIN_COMMIT task and builds the records
tree (its root, and per asset ``C_D`` and the pledged collateral, checked against the openings
derived here); pass 5 proves the chunks and nodes under the v4 contexts, then every account's
parts (one MARGIN_PROVE task per group of ``G`` records, stage ``margin``), then solvency for
``V_s = (den*R)*B - num*(C_L - C_D)``; pass 6 writes ``margin.records.bin``,
``margin.proofs.bin``, the manifest's ``margin`` section and packages of format 3.

Tasks run on an :class:`~prover.executor.Executor` (local processes by default, or a Dask
cluster); each result is stored in the work directory (:mod:`prover.workdir`) before it is
used, so ``--resume`` continues a crashed run. Every proof's randomness is derived from the
run's secrets and its statement, so the same run nonce and ``created`` give the same bundle,
byte for byte, whichever workers ran which tasks.

Self-checks: each worker's leaf ids must be the ones prepared here, each chunk's ``C_k`` must
equal ``Com(v_k, r_k)`` from the sums kept here, each ``MTH_k`` the one recomputed here from the
returned records, and the root's commitment ``Com(L, sum of blindings)``; the CLI then verifies the
written bundle (``--verify``, the default), which also catches a proof a worker or a tampered work
directory got wrong.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from circuits.backends import GroupBackend, get_backend
from circuits.constants import GROUP_ORDER
from circuits.datafiles import (
    LEAF_RECORD_SIZE,
    MAGIC_LEAVES,
    MAGIC_NODE_PROOFS,
    MAGIC_NODES,
    MAGIC_RANGE_PROOFS,
    MAGIC_SOLVENCY,
    SOLVENCY_RECORD_SIZE,
    data_file_names,
    encode_header,
    leaf_id,
    node_proof_record_size,
    range_record_size,
)
from circuits.encoding import frame
from circuits.errors import FormatError, InputError, WitnessError
from circuits.generators import PedersenGens
from circuits.group import Point
from circuits.limits import NODE_BITS, RANGE_BITS, SOLVENCY_BITS
from circuits.manifest import (
    BUNDLE_FORMAT_VERSION,
    BUNDLE_FORMAT_VERSION_MARGIN,
    MANIFEST_NAME,
    WALLETS_FILE,
    AssetEntry,
    FileEntry,
    Manifest,
    created_problem,
)
from circuits.margin import (
    MAGIC_MARGIN_PROOFS,
    MAGIC_MARGIN_RECORDS,
    MARGIN_PROOFS_NAME,
    MARGIN_RECORDS_NAME,
    MarginRecord,
    margin_leaf_hash,
    margin_leaf_id,
)
from circuits.merkle import MerkleTree, leaf_hash, node_hash
from circuits.package import (
    PACKAGE_FORMAT_VERSION_MARGIN,
    CollateralEntry,
    MarginEntry,
    MarginSlotEntry,
    NodePathItem,
    Package,
    SumTreeEntry,
)
from circuits.relations import Opening
from circuits.statements import SolvencyStatement
from circuits.sumtree import (
    NODE_RECORD_SIZE,
    chunk_node_hash,
    chunk_path,
    node_count,
    node_index_of,
    sum_node_hash,
    sum_nodes,
)
from prover.executor import Executor, LocalPoolExecutor
from prover.keys import RUN_NONCE_SIZE, RunSecrets, new_run_nonce
from prover.ledger import AssetColumn, Ledger
from prover.margin import AccountSecrets, MarginPlan, account_secrets, plan_margin
from prover.margin_inputs import MarginAccounts
from prover.range_proof import create_range_proof
from prover.reserves import AssetSpec, Reserves
from prover.store import PackageSink, StoreMeta, open_sink
from prover.tasks import (
    LeafRef,
    TaskParams,
    chunk_task,
    commit_task,
    key_id,
    margin_commit_task,
    margin_params_bytes,
    margin_prove_task,
    node_task,
    parse_commit_result,
    task_digest,
)
from prover.wallets import ProvenReserves
from prover.workdir import WorkDir, WorkRecord

__all__ = ["RUN_FILE_NAME", "ProveOptions", "ProveResult", "write_bundle"]

#: The file of the packages directory that keeps the run nonce (mode 0600; never in the bundle).
RUN_FILE_NAME = "run.json"

#: Called as ``progress(stage, done, total)``; stages: prepare <S>, commit, tree, prove, nodes, packages.
Progress = Callable[[str, int, int], None]

_POINT_SIZE = 48
_ID_SIZE = 32
_HASH_SIZE = 32

U8 = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class ProveOptions:
    """Choices of ``solvency prove``.

    All are public except ``run_nonce``: ``None`` (the default) draws a fresh nonce
    from :mod:`secrets`; passing the nonce of an earlier run (its ``run.json``)
    reproduces that run's blindings, salts and leaf ids, and with the same ``created``
    the whole bundle (``docs/FORMAT.md`` §9).

    ``packages_format`` is ``"dir"`` (a directory of files, the library's default) or
    ``"sqlite"`` (one database, the CLI's default; ``docs/FORMAT.md`` §13). ``workdir`` is
    the run's work directory [default: ``<bundle>.work`` beside the bundle]; with
    ``resume`` it must be the work directory of an unfinished run with the same inputs.
    """

    chunk: int = 64
    pad_to: int | None = None
    min_ratio: tuple[int, int] = (1, 1)
    disclose_liabilities: bool = False
    jobs: int | None = None
    backend_name: str | None = None
    created: str | None = None
    run_nonce: bytes | None = field(default=None, repr=False)
    packages_format: Literal["dir", "sqlite"] = "dir"
    workdir: Path | None = None
    resume: bool = False
    disclose_collateral: bool = False
    margin_pad_to: int | None = None


@dataclass(frozen=True)
class ProveResult:
    """What ``write_bundle`` produced, and how much work it did (``tasks_reused``: from a resumed run)."""

    bundle_dir: Path
    packages_dir: Path
    manifest: Manifest
    packages: int
    seconds: float
    tasks_run: int = 0
    tasks_reused: int = 0
    leaves: int = 0
    margin_accounts: int = 0
    margin_records: int = 0


# ---------------------------------------------------------------------------
# The values passed from one pass to the next (all frozen; arrays read-only)


@dataclass(frozen=True)
class _Run:
    """Pass 1 (read): the validated inputs and the secrets of this run."""

    ledger: Ledger
    reserves: Reserves
    bundle_dir: Path
    packages_dir: Path
    options: ProveOptions
    num: int
    den: int
    backend: GroupBackend
    created: str
    run_nonce: bytes = field(repr=False)
    secrets: RunSecrets = field(repr=False)
    key_id: bytes = field(repr=False)
    workdir: WorkDir = field(repr=False)
    wallets: ProvenReserves | None = None
    #: Format 4: the margin accounts' plan (slots' leaf indices unset; :func:`_prepare` sets them).
    margin: MarginPlan | None = None
    margin_digest: bytes | None = None
    #: Format 4: per asset (manifest order), the ledger's total debt and pledged collateral.
    margin_debt: tuple[int, ...] = field(default=(), repr=False)
    margin_collateral: tuple[int, ...] = field(default=(), repr=False)

    @property
    def version(self) -> int:
        """The bundle's format version: 4 with margin accounts, else 3."""
        return BUNDLE_FORMAT_VERSION if self.margin is None else BUNDLE_FORMAT_VERSION_MARGIN

    def margin_params(self) -> TaskParams:
        """The public parameters of the MARGIN tasks (symbol empty, ``leaf_count`` = M, ``m`` = 1)."""
        assert self.margin is not None
        return TaskParams(
            self.key_id, self.reserves.exchange, self.reserves.round, self.run_nonce, "",
            self.margin.params.accounts, 1,
        )

    @property
    def wallets_bytes(self) -> bytes | None:
        """The bundle's ``wallets.json``, or ``None`` for declared reserves."""
        return None if self.wallets is None else self.wallets.wallets.to_bytes()

    @property
    def wallets_sha256(self) -> bytes | None:
        """SHA-256 of ``wallets.json``, bound into every solvency proof's context."""
        data = self.wallets_bytes
        return None if data is None else hashlib.sha256(data).digest()

    @property
    def basis(self) -> str:
        """The reserves basis every asset states."""
        return "declared" if self.wallets is None else self.wallets.basis

    def params(self, w: _PreparedAsset) -> TaskParams:
        """The public parameters of asset ``w``'s tasks."""
        return TaskParams(
            self.key_id, self.reserves.exchange, self.reserves.round, self.run_nonce, w.spec.symbol, w.count, w.m
        )


@dataclass(frozen=True)
class _PreparedAsset:
    """Pass 2 (prepare): one asset's leaves, sorted by leaf id, and each chunk's opening."""

    spec: AssetSpec
    column: AssetColumn
    m: int
    ids: U8  # (N, 32), sorted
    amounts: npt.NDArray[np.uint64]  # (N,)
    rows: npt.NDArray[np.int64]  # (N,): ledger row, or -(j + 1) for dummy leaf j
    chunk_openings: tuple[Opening, ...] = field(repr=False)  # (C,): sums of amounts and blindings
    liabilities: int = 0
    blinding_sum: int = field(default=0, repr=False)
    #: Format 4: position -> record id, for the leaves a margin slot names (their id is a margin leaf id).
    margin_records: dict[int, bytes] = field(default_factory=dict, repr=False)
    #: Format 4: (ledger row -> position, padding leaf j -> position) of those leaves.
    margin_positions: tuple[dict[int, int], dict[int, int]] = field(default=({}, {}), repr=False)

    @property
    def count(self) -> int:
        return int(self.amounts.shape[0])

    @property
    def chunks(self) -> int:
        return self.count // self.m

    def leaf_refs(self, k: int) -> list[LeafRef]:
        """The leaves of chunk ``k`` as tasks name them (customer id and amount, or dummy number)."""
        out = []
        for position in range(k * self.m, (k + 1) * self.m):
            row = int(self.rows[position])
            record = self.margin_records.get(position)
            if row < 0:
                out.append(LeafRef(None, -row - 1, 0, record))
            else:
                out.append(LeafRef(self.column.customer_id(row), 0, int(self.amounts[position]), record))
        return out


@dataclass(frozen=True)
class _CommittedAsset:
    """Pass 3 (commit): the leaf records (``leaf_id || V``), and each chunk's ``C_k`` and ``MTH_k``."""

    leaves: _PreparedAsset
    records: U8  # (N, 80)
    chunk_commitments: tuple[bytes, ...]
    chunk_roots: tuple[bytes, ...]


@dataclass(frozen=True)
class _TreeAsset:
    """Pass 4 (tree): the nodes file's records, the root, and each sum node's children's openings."""

    committed: _CommittedAsset
    nodes: U8  # (2C - 1, 80): commitment || hash, in-order numbering
    merkle_root: bytes
    C_L: Point
    node_openings: tuple[tuple[int, Opening, Opening], ...] = field(repr=False)  # (split, left, right)
    levels: tuple[U8, ...] = ()  # in-chunk hash levels (leaf hashes first), for the packages' chunk paths


@dataclass(frozen=True)
class _MarginAsset:
    """An asset's margin sums (format 4): the debt and the pledged collateral over the slots naming it."""

    debt: int
    debt_blinding: int = field(repr=False)
    C_D: Point
    collateral: int = field(repr=False)
    collateral_blinding: int = field(repr=False)


@dataclass(frozen=True)
class _MarginCommitted:
    """Pass 4b (margin commit, format 4): the records in order, their tree, each account's openings, the sums."""

    plan: MarginPlan
    records: tuple[bytes, ...]
    tree: MerkleTree
    accounts: tuple[AccountSecrets, ...] = field(repr=False)
    assets: tuple[_MarginAsset, ...] = field(repr=False)
    proofs: tuple[bytes, ...] = ()

    @property
    def root(self) -> bytes:
        return self.tree.root


@dataclass(frozen=True)
class _ProvenAsset:
    """Pass 5 (prove): the chunk proofs, the node proofs (by split) and the solvency proof."""

    tree: _TreeAsset
    range_proofs: tuple[bytes, ...]
    node_proofs: tuple[bytes, ...]
    solvency_proof: bytes
    margin: _MarginAsset | None = None


def _read_only(array: np.ndarray[Any, Any]) -> None:
    array.flags.writeable = False


# ---------------------------------------------------------------------------
# Pass 1: read


def _inputs_digest(
    ledger: Ledger,
    reserves: Reserves,
    options: ProveOptions,
    wallets_sha256: bytes | None,
    margin: MarginAccounts | None = None,
) -> bytes:
    """A digest of everything a resumed run must share with the run it continues."""
    h = hashlib.sha256(b"zk-solvency run inputs v1")
    h.update(frame(reserves.exchange.encode()) + frame(reserves.round.encode()))
    for spec in reserves.assets:
        column = ledger.columns[spec.symbol]
        h.update(frame(spec.symbol.encode()) + struct.pack("<Q", spec.decimals) + spec.reserves.to_bytes(16, "little"))
        h.update(struct.pack("<Q", len(column)) + column.amounts.astype("<u8").tobytes())
        h.update(column.offsets.astype("<i8").tobytes() + frame(column.ids))
    h.update(wallets_sha256 or bytes(32))
    h.update(
        json.dumps(
            [options.chunk, options.pad_to, list(options.min_ratio), options.disclose_liabilities]
        ).encode()
    )
    if margin is not None:  # format 4 only, so a version-3 run's digest is unchanged
        h.update(b"margin" + margin.params.digest())
        for account in margin.accounts:
            h.update(frame(account.customer_id.encode()) + struct.pack("<I", len(account.slots)))
            for slot in account.slots:
                h.update(struct.pack("<IQQQ", slot.asset, slot.row, slot.equity, slot.debt))
                h.update(b"".join(struct.pack("<Q", c) for c in slot.collateral))
        h.update(json.dumps([options.disclose_collateral, options.margin_pad_to]).encode())
    return h.digest()


def _read(
    ledger: Ledger,
    reserves: Reserves,
    master: bytes,
    bundle_dir: Path,
    packages_dir: Path,
    options: ProveOptions,
    wallets: ProvenReserves | None,
    margin: MarginAccounts | None = None,
) -> _Run:
    """Check paths, options and solvency; fix the run nonce, derive the run's secrets, plan the margin accounts.

    Nothing is written before every check has passed (the work directory is created last).

    Raises:
        InputError: an output path that exists or overlaps the other, an insolvent asset, a bad run nonce,
            a work directory that exists (without ``resume``) or belongs to another run (with it), a margin
            account refused by :func:`prover.margin.plan_margin` (named), a margin option without margin.
    """
    bundle_dir, packages_dir = Path(bundle_dir), Path(packages_dir)
    a, b = _resolve(bundle_dir, "--out"), _resolve(packages_dir, "--packages")
    if a == b or a in b.parents or b in a.parents:
        raise InputError(
            f"--out {bundle_dir} and --packages {packages_dir} must be separate "
            "(the bundle is public, the packages are private)",
            section="--packages",
        )
    _fresh_target(bundle_dir, "bundle directory")
    _fresh_target(packages_dir, "package store")
    if options.packages_format not in ("dir", "sqlite"):
        raise InputError(f"--packages-format {options.packages_format!r}: expected sqlite or dir",
                         section="--packages-format")
    if margin is None:
        for flag, value in (("--disclose-collateral", options.disclose_collateral),
                            ("--margin-pad-to", options.margin_pad_to is not None)):
            if value:
                raise InputError(f"{flag} needs --margin (margin accounts)", section=flag)
    num, den = options.min_ratio
    backend = get_backend(options.backend_name)
    if wallets is not None and wallets.reserves != reserves:
        raise InputError("the reserves must be the ones the wallet list backs", section="--wallets")
    for spec in reserves.assets:
        column = ledger.columns[spec.symbol]
        debt = 0 if margin is None else margin.debt[spec.symbol]
        _check_solvent(spec, column.total() - debt, num, den, wallets)
        if margin is None:
            _padding(len(column), options.chunk, options.pad_to, spec.symbol)
    if options.run_nonce is not None and len(options.run_nonce) != RUN_NONCE_SIZE:
        raise InputError(
            f"--run-nonce must be {RUN_NONCE_SIZE} bytes ({2 * RUN_NONCE_SIZE} hex digits), "
            f"got {len(options.run_nonce)} bytes",
            section="--run-nonce",
        )
    if options.created is not None and (problem := created_problem(options.created)) is not None:
        raise InputError(f"created {options.created!r}: {problem}", section="created")
    kid = key_id(master)
    wallets_sha = None if wallets is None else hashlib.sha256(wallets.wallets.to_bytes()).digest()
    inputs = _inputs_digest(ledger, reserves, options, wallets_sha, margin)
    work_path = options.workdir or bundle_dir.with_name(bundle_dir.name + ".work")
    workdir: WorkDir | None = None
    if options.resume:
        if options.workdir is None:
            raise InputError("--resume needs the work directory", section="--resume")
        workdir = WorkDir.resume(work_path, key_id=kid, inputs=inputs)
        record = workdir.record
        if options.run_nonce is not None and bytes(options.run_nonce) != record.run_nonce:
            raise InputError("--run-nonce differs from the resumed run's", section="--run-nonce")
        if options.created is not None and options.created != record.created:
            raise InputError("--created differs from the resumed run's", section="--created")
    else:
        run_nonce = new_run_nonce() if options.run_nonce is None else bytes(options.run_nonce)
        record = WorkRecord(run_nonce, options.created or _utc_now(), kid, inputs)
    secrets = RunSecrets(master, reserves.exchange, reserves.round, record.run_nonce)
    plan = None
    if margin is not None:
        room = [
            _padding(len(ledger.columns[spec.symbol]), options.chunk, options.pad_to, spec.symbol)[0]
            - len(ledger.columns[spec.symbol])
            for spec in reserves.assets
        ]
        plan = plan_margin(
            margin, reserves.round, secrets, ledger_name=ledger.path.name, pad_to=options.margin_pad_to, room=room
        )
        for spec, extra in zip(reserves.assets, plan.dummy_leaves, strict=True):
            _padding(len(ledger.columns[spec.symbol]), options.chunk, options.pad_to, spec.symbol, len(extra))
    if workdir is None:
        workdir = WorkDir.create(work_path, record)
    return _Run(
        ledger, reserves, bundle_dir, packages_dir, options, num, den, backend, record.created, record.run_nonce,
        secrets, kid, workdir, wallets, plan, None if plan is None else plan.params.digest(),
        () if margin is None else tuple(margin.debt[s.symbol] for s in reserves.assets),
        () if margin is None else tuple(margin.collateral[s.symbol] for s in reserves.assets),
    )


# ---------------------------------------------------------------------------
# Pass 2: prepare


def _prepare(run: _Run, progress: Progress | None) -> tuple[tuple[_PreparedAsset, ...], MarginPlan | None]:
    """Derive, pad and sort every asset's leaves; set the margin slots' leaf indices (format 4)."""
    plan = run.margin
    assets = tuple(
        _prepare_asset(
            spec, run.ledger.columns[spec.symbol], run.secrets, run.reserves.round, run.options, progress,
            {} if plan is None else plan.slot_rows[a], () if plan is None else plan.dummy_leaves[a],
        )
        for a, spec in enumerate(run.reserves.assets)
    )
    if plan is not None:
        plan = plan.with_leaves([w.margin_positions for w in assets])
    return assets, plan


def _prepare_asset(
    spec: AssetSpec,
    column: AssetColumn,
    secrets: RunSecrets,
    round_label: str,
    options: ProveOptions,
    progress: Progress | None,
    slot_rows: dict[int, bytes] | None = None,
    slot_dummies: Sequence[bytes] = (),
) -> _PreparedAsset:
    """Derive, pad and sort one asset's leaves; keep each chunk's opening.

    ``slot_rows`` (ledger row -> record id) and ``slot_dummies`` (padding leaf ``j``'s record id) are the
    margin slots' leaves (format 4), whose ids are margin leaf ids (§14.4).
    """
    slot_rows = slot_rows or {}
    count = len(column)
    target, m = _padding(count, options.chunk, options.pad_to, spec.symbol, len(slot_dummies))
    ids = np.zeros((target, _ID_SIZE), dtype=np.uint8)
    blindings: list[int] = [0] * target
    amounts = np.zeros(target, dtype=np.uint64)
    rows = np.empty(target, dtype=np.int64)
    amounts[:count] = column.amounts
    rows[:count] = np.arange(count, dtype=np.int64)
    rows[count:] = -1 - np.arange(target - count, dtype=np.int64)
    stage = f"prepare {spec.symbol}"
    for i in range(count):
        v_blinding, salt = secrets.leaf(spec.symbol, column.customer_id(i))
        record = slot_rows.get(i)
        lid = (
            leaf_id(round_label, spec.symbol, column.customer_id(i), salt) if record is None
            else margin_leaf_id(record, spec.symbol)
        )
        ids[i] = np.frombuffer(lid, dtype=np.uint8)
        blindings[i] = v_blinding
        if progress and (i + 1) % 8192 == 0:
            progress(stage, i + 1, target)
    for j in range(target - count):
        v_blinding, dummy_id = secrets.dummy(spec.symbol, j)
        if j < len(slot_dummies):
            dummy_id = margin_leaf_id(slot_dummies[j], spec.symbol)
        ids[count + j] = np.frombuffer(dummy_id, dtype=np.uint8)
        blindings[count + j] = v_blinding
    if progress:
        progress(stage, target, target)
    words = ids.view(">u8").reshape(target, 4)
    order = np.lexsort((words[:, 3], words[:, 2], words[:, 1], words[:, 0]))
    ids, amounts, rows = ids[order], amounts[order], rows[order]
    if target > 1 and not np.any(ids[1:] != ids[:-1], axis=1).all():
        raise WitnessError(f"{spec.symbol}: two leaves share a leaf id")
    sorted_blindings = [blindings[i] for i in order.tolist()]
    del blindings
    chunk_openings = []
    for k in range(target // m):
        v = sum(amounts[k * m : (k + 1) * m].tolist())  # Python ints: m values < 2^64 overflow uint64
        r = sum(sorted_blindings[k * m : (k + 1) * m]) % GROUP_ORDER
        chunk_openings.append(Opening(v, r))
    for array in (ids, amounts, rows):
        _read_only(array)
    position = np.empty(target, dtype=np.int64)
    position[order] = np.arange(target, dtype=np.int64)
    row_positions = {row: int(position[row]) for row in slot_rows}
    dummy_positions = {j: int(position[count + j]) for j in range(len(slot_dummies))}
    margin_records = {row_positions[row]: record for row, record in slot_rows.items()}
    margin_records.update({dummy_positions[j]: record for j, record in enumerate(slot_dummies)})
    return _PreparedAsset(
        spec, column, m, ids, amounts, rows, tuple(chunk_openings),
        liabilities=column.total(), blinding_sum=sum(sorted_blindings) % GROUP_ORDER,
        margin_records=margin_records, margin_positions=(row_positions, dummy_positions),
    )


def _max_nm(assets: Sequence[_PreparedAsset], plan: MarginPlan | None = None) -> int:
    """The largest aggregated bit count of any proof of the run (generators the workers need)."""
    margin = [] if plan is None else [RANGE_BITS * plan.params.parts[0]]
    return max([RANGE_BITS * w.m for w in assets] + [SOLVENCY_BITS, 2 * NODE_BITS] + margin)


# ---------------------------------------------------------------------------
# Running tasks through the work directory


def _run_tasks(
    run: _Run,
    executor: Executor,
    tasks: Sequence[bytes],
    sizes: Sequence[int],
    stage: str,
    progress: Progress | None,
) -> list[bytes]:
    """Return every task's result: from the work directory when a resumed run has it, else from ``executor``.

    Each new result is stored (atomically) before it is used. ``sizes`` are the expected result sizes.
    """
    digests = [task_digest(t) for t in tasks]
    results: list[bytes | None] = [run.workdir.get(d, size) for d, size in zip(digests, sizes, strict=True)]
    todo = [i for i, r in enumerate(results) if r is None]
    done = len(tasks) - len(todo)
    if progress:
        progress(stage, done, len(tasks))

    def on_result(j: int, result: bytes) -> None:
        nonlocal done
        i = todo[j]
        if len(result) != sizes[i]:
            raise WitnessError(f"self-check failed: a {stage} task returned {len(result)} bytes, not {sizes[i]}")
        run.workdir.put(digests[i], result)
        results[i] = result
        done += 1
        if progress:
            progress(stage, done, len(tasks))

    executor.run([tasks[i] for i in todo], on_result)
    out = [r for r in results if r is not None]
    if len(out) != len(tasks):
        raise WitnessError(f"self-check failed: the executor did not return every {stage} result")
    return out


# ---------------------------------------------------------------------------
# Pass 3: commit


def _commit(
    run: _Run, executor: Executor, assets: Sequence[_PreparedAsset], progress: Progress | None
) -> tuple[_CommittedAsset, ...]:
    """Commit to every chunk's leaves on the executor; check each result against what this process holds.

    Raises:
        WitnessError: a result's leaf ids, ``C_k`` or chunk root differ from the ones derived here.
    """
    tasks: list[bytes] = []
    sizes: list[int] = []
    owners: list[tuple[int, int]] = []
    for a, w in enumerate(assets):
        params = run.params(w)
        for k in range(w.chunks):
            tasks.append(commit_task(params, k, w.leaf_refs(k)))
            sizes.append(w.m * LEAF_RECORD_SIZE + _POINT_SIZE + _HASH_SIZE)
            owners.append((a, k))
    results = _run_tasks(run, executor, tasks, sizes, "commit", progress)
    pc = PedersenGens.default(run.backend)
    records = [np.zeros((w.count, LEAF_RECORD_SIZE), dtype=np.uint8) for w in assets]
    commitments: list[list[bytes]] = [[b""] * w.chunks for w in assets]
    roots: list[list[bytes]] = [[b""] * w.chunks for w in assets]
    for (a, k), result in zip(owners, results, strict=True):
        w = assets[a]
        body, C_k, mth = parse_commit_result(result, w.m)
        block = np.frombuffer(body, dtype=np.uint8).reshape(w.m, LEAF_RECORD_SIZE)
        if not np.array_equal(block[:, :_ID_SIZE], w.ids[k * w.m : (k + 1) * w.m]):
            raise WitnessError(f"{w.spec.symbol}: self-check failed: chunk {k} leaf ids differ")
        opening = w.chunk_openings[k]
        if Point.from_bytes(C_k, run.backend) != pc.commit(opening.v, opening.v_blinding):
            raise WitnessError(f"{w.spec.symbol}: self-check failed: chunk {k} commitment differs")
        records[a][k * w.m : (k + 1) * w.m] = block
        commitments[a][k] = C_k
        roots[a][k] = mth
    out = []
    for w, rec, cs, rs in zip(assets, records, commitments, roots, strict=True):
        _read_only(rec)
        out.append(_CommittedAsset(w, rec, tuple(cs), tuple(rs)))
    return tuple(out)


# ---------------------------------------------------------------------------
# Pass 4: tree


def _chunk_levels(c: _CommittedAsset) -> list[U8]:
    """Every in-chunk level of hashes: level 0 the leaf hashes, level ``lg m`` the chunk roots."""
    w = c.leaves
    level = np.frombuffer(
        b"".join(
            leaf_hash(c.records[i, :_ID_SIZE].tobytes(), i, c.records[i, _ID_SIZE:].tobytes()) for i in range(w.count)
        ),
        dtype=np.uint8,
    ).reshape(w.count, _HASH_SIZE)
    levels = [level]
    size = 1
    while size < w.m:
        prev = levels[-1]
        nxt = np.frombuffer(
            b"".join(node_hash(prev[i].tobytes(), prev[i + 1].tobytes()) for i in range(0, prev.shape[0], 2)),
            dtype=np.uint8,
        ).reshape(prev.shape[0] // 2, _HASH_SIZE)
        levels.append(nxt)
        size *= 2
    for lv in levels:
        _read_only(lv)
    return levels


def _tree(run: _Run, assets: Sequence[_CommittedAsset], progress: Progress | None) -> tuple[_TreeAsset, ...]:
    """Build each asset's sum tree (``docs/FORMAT.md`` §5.2); check the root against ``Com(L, sum of blindings)``."""
    be = run.backend
    pc = PedersenGens.default(be)
    out = []
    for a, c in enumerate(assets):
        w = c.leaves
        chunks = w.chunks
        levels = _chunk_levels(c)
        for k in range(chunks):
            if levels[-1][k].tobytes() != c.chunk_roots[k]:
                raise WitnessError(f"{w.spec.symbol}: self-check failed: chunk {k} root differs from its records")
        nodes = np.zeros((node_count(chunks), NODE_RECORD_SIZE), dtype=np.uint8)
        points: dict[int, Point] = {}
        hashes: dict[int, bytes] = {}
        openings: dict[int, Opening] = {}
        for k in range(chunks):
            h = chunk_node_hash(c.chunk_commitments[k], c.chunk_roots[k])
            nodes[2 * k] = np.frombuffer(c.chunk_commitments[k] + h, dtype=np.uint8)
            points[2 * k] = Point.from_bytes(c.chunk_commitments[k], be)
            hashes[2 * k] = h
            openings[2 * k] = w.chunk_openings[k]
        node_openings = []
        for node in sum_nodes(chunks):
            left, right = node_index_of(*node.left), node_index_of(*node.right)
            C = points[left] + points[right]
            encoded = C.to_bytes()
            h = sum_node_hash(encoded, hashes[left], hashes[right])
            nodes[node.index] = np.frombuffer(encoded + h, dtype=np.uint8)
            points[node.index], hashes[node.index] = C, h
            lo, ro = openings[left], openings[right]
            openings[node.index] = Opening(lo.v + ro.v, (lo.v_blinding + ro.v_blinding) % GROUP_ORDER)
            node_openings.append((node.split, lo, ro))
            # Children are needed only by their parent: keep memory to the open path.
            for child in (left, right):
                del points[child], hashes[child], openings[child]
        root = next(iter(points))
        C_L, merkle_root = points[root], hashes[root]
        if C_L != pc.commit(w.liabilities, w.blinding_sum):
            raise WitnessError(f"{w.spec.symbol}: self-check failed: root commitment != Com(L, sum of blindings)")
        _read_only(nodes)
        node_openings.sort(key=lambda t: t[0])
        out.append(_TreeAsset(c, nodes, merkle_root, C_L, tuple(node_openings), tuple(levels)))
        if progress:
            progress("tree", a + 1, len(assets))
    return tuple(out)


# ---------------------------------------------------------------------------
# Pass 4b: the margin records (format 4)


def _margin_commit(
    run: _Run, executor: Executor, plan: MarginPlan, assets: Sequence[_TreeAsset], progress: Progress | None
) -> _MarginCommitted:
    """Commit every margin account's record on the executor; build the records tree; sum each asset's debt.

    Raises:
        WitnessError: a record that does not parse, has another id or slots than planned, or per-asset
            sums (``C_D``, the pledged collateral ``sum(E_s - W_s)``) or the sum of every record's points
            that differ from the openings derived here.
    """
    params = plan.params
    encoded = margin_params_bytes(params)
    tp = run.margin_params()
    tasks = [margin_commit_task(tp, j, encoded, account) for j, account in enumerate(plan.accounts)]
    results = _run_tasks(run, executor, tasks, [params.record_size] * len(tasks), "margin commit", progress)
    del tasks
    be = run.backend
    pc = PedersenGens.default(be)
    leaf_counts = [t.committed.leaves.count for t in assets]
    n_assets = len(assets)
    debt = [0] * n_assets
    debt_blinding = [0] * n_assets
    collateral = [0] * n_assets
    collateral_blinding = [0] * n_assets
    C_D = [Point.identity(be) for _ in range(n_assets)]
    pledged = [Point.identity(be) for _ in range(n_assets)]
    everything = Point.identity(be)
    total_v = total_r = 0
    secrets_out = []
    for j, (account, data) in enumerate(zip(plan.accounts, results, strict=True)):
        try:
            record = MarginRecord.from_bytes(data, params, j, leaf_counts, be)
        except FormatError as exc:
            raise WitnessError(f"self-check failed: margin record {j} does not parse: {exc}") from exc
        acc = account_secrets(params, run.secrets, run.reserves.round, account)
        if record.record_id != plan.record_ids[j] or acc.record_id != record.record_id:
            raise WitnessError(f"self-check failed: margin record {j} has another record id")
        if [(m.asset, m.leaf) for m in record.slots] != [(s.asset, s.leaf) for s in account.slots]:
            raise WitnessError(f"self-check failed: margin record {j} names other leaves")
        for m, a, b, e_blinding in zip(record.slots, acc.amounts, acc.blindings, acc.leaf_blindings, strict=True):
            debt[m.asset] += a.debt
            debt_blinding[m.asset] += b.d
            collateral[m.asset] += a.equity - a.unpledged
            collateral_blinding[m.asset] += e_blinding - b.w
            C_D[m.asset] = C_D[m.asset] + m.D
            E = Point.from_bytes(assets[m.asset].committed.records[m.leaf, _ID_SIZE:].tobytes(), be)
            pledged[m.asset] = pledged[m.asset] + (E - m.W)
            for point in (m.D, m.W, *m.V, *m.H):
                everything = everything + point
            total_v += a.debt + a.unpledged + sum(a.values) + sum(a.haircuts)
            total_r += b.d + b.w + sum(b.v) + sum(b.h)
        everything = everything + record.Lo
        total_v += acc.lo.v
        total_r += acc.lo.v_blinding
        secrets_out.append(acc)
    if everything != pc.commit(total_v, total_r % GROUP_ORDER):
        raise WitnessError("self-check failed: the margin records do not commit to the derived openings")
    sums = []
    for i in range(n_assets):
        symbol = assets[i].committed.leaves.spec.symbol
        m_asset = _MarginAsset(
            debt[i], debt_blinding[i] % GROUP_ORDER, C_D[i], collateral[i], collateral_blinding[i] % GROUP_ORDER
        )
        if C_D[i] != pc.commit(m_asset.debt, m_asset.debt_blinding):
            raise WitnessError(f"{symbol}: self-check failed: C_D != Com(debt, sum of blindings)")
        if pledged[i] != pc.commit(m_asset.collateral, m_asset.collateral_blinding):
            raise WitnessError(f"{symbol}: self-check failed: the pledged collateral's commitment differs")
        if (m_asset.debt, m_asset.collateral) != (run.margin_debt[i], run.margin_collateral[i]):
            raise WitnessError(f"{symbol}: self-check failed: the records' debt or collateral is not the ledger's")
        sums.append(m_asset)
    tree = MerkleTree([margin_leaf_hash(r) for r in results])
    if progress:
        progress("margin tree", 1, 1)
    return _MarginCommitted(plan, tuple(results), tree, tuple(secrets_out), tuple(sums))


# ---------------------------------------------------------------------------
# Pass 5: prove


def _prove(
    run: _Run,
    executor: Executor,
    assets: Sequence[_TreeAsset],
    progress: Progress | None,
    margin: _MarginCommitted | None = None,
) -> tuple[tuple[_ProvenAsset, ...], _MarginCommitted | None]:
    """Prove every chunk, then every sum node, then every margin account's parts, then each asset's solvency.

    Chunks (stage ``prove``), nodes (stage ``nodes``) and margin accounts (stage ``margin``, format 4)
    run as passes over the executor, so that each kind's proving shows on its own in the throughput
    summary. Returns the proven assets and the margin records with their proofs.
    """
    digest = run.margin_digest
    chunk_tasks: list[bytes] = []
    chunk_sizes: list[int] = []
    node_tasks: list[bytes] = []
    for t in assets:
        w = t.committed.leaves
        params = run.params(w)
        for k in range(w.chunks):
            chunk_tasks.append(chunk_task(params, k, t.merkle_root, w.leaf_refs(k), digest))
            chunk_sizes.append(range_record_size(w.m))
        for split, left, right in t.node_openings:
            node_tasks.append(node_task(params, split, t.merkle_root, left, right, digest))
    chunk_results = iter(_run_tasks(run, executor, chunk_tasks, chunk_sizes, "prove", progress))
    del chunk_tasks
    node_results = iter(
        _run_tasks(run, executor, node_tasks, [node_proof_record_size()] * len(node_tasks), "nodes", progress)
    )
    if margin is not None:
        plan = margin.plan
        encoded = margin_params_bytes(plan.params)
        tp = run.margin_params()
        g = plan.params.group_size
        margin_tasks = [
            margin_prove_task(tp, k, margin.root, encoded, plan.accounts[k * g : (k + 1) * g])
            for k in range(plan.params.groups)
        ]
        proofs = _run_tasks(
            run, executor, margin_tasks, [plan.params.proofs_record_size] * len(margin_tasks), "margin", progress
        )
        margin = dataclasses.replace(margin, proofs=tuple(proofs))
    out = []
    for a, t in enumerate(assets):
        w = t.committed.leaves
        chunk_proofs = tuple(next(chunk_results) for _ in range(w.chunks))
        node_proofs = tuple(next(node_results) for _ in t.node_openings)
        sums = None if margin is None else margin.assets[a]
        out.append(_ProvenAsset(t, chunk_proofs, node_proofs, _prove_solvency(run, t, margin, sums), sums))
    return tuple(out), margin


def _prove_solvency(
    run: _Run, t: _TreeAsset, margin: _MarginCommitted | None = None, sums: _MarginAsset | None = None
) -> bytes:
    """Prove the surplus ``den*R - num*L`` in ``[0, 2^128)`` (:class:`~circuits.statements.SolvencyStatement`).

    Format 4: ``den*R - num*(L - D)`` for ``V_s = (den*R)*B - num*(C_L - C_D)``, the v4 context.

    Raises:
        WitnessError: the proof does not have the solvency record size.
    """
    w, spec = t.committed.leaves, t.committed.leaves.spec
    v4: dict[str, Any] = {}
    liabilities, blinding = w.liabilities, w.blinding_sum
    if margin is not None and sums is not None:
        v4 = {"margin_digest": run.margin_digest, "margin_root": margin.root, "C_D": sums.C_D}
        liabilities -= sums.debt
        blinding = (blinding - sums.debt_blinding) % GROUP_ORDER
    statement = SolvencyStatement(
        exchange=run.reserves.exchange,
        round=run.reserves.round,
        symbol=spec.symbol,
        decimals=spec.decimals,
        reserves=spec.reserves,
        num=run.num,
        den=run.den,
        leaf_count=w.count,
        merkle_root=t.merkle_root,
        C_L=t.C_L,
        wallets_sha256=run.wallets_sha256,
        reserves_basis=run.basis,
        **v4,
    )
    entropy = run.secrets.proof_entropy(spec.symbol, "solvency", 0)
    proof = create_range_proof(
        statement.range_statement(PedersenGens.default(run.backend)),
        [statement.opening(liabilities, blinding)],
        rng=lambda _n: entropy,
    )
    if proof.serialized_size() != SOLVENCY_RECORD_SIZE:
        raise WitnessError(f"{spec.symbol}: self-check failed: solvency proof size")
    return proof.to_bytes()


# ---------------------------------------------------------------------------
# Pass 6: write


def _write(
    run: _Run, assets: Sequence[_ProvenAsset], progress: Progress | None, margin: _MarginCommitted | None = None
) -> tuple[Manifest, int]:
    """Write the bundle into a temporary directory and the packages into a sink; publish both.

    Returns ``(manifest, number of packages)``; on any failure nothing is left behind.
    """
    bundle_dir = run.bundle_dir
    tmp_bundle = bundle_dir.with_name(f".{bundle_dir.name}.bundle-tmp-{os.getpid()}")
    if tmp_bundle.exists():
        shutil.rmtree(tmp_bundle)
    sink: PackageSink | None = None
    try:
        tmp_bundle.mkdir()
        entries = [_write_asset(run, p, tmp_bundle) for p in assets]
        wallets_entry = None
        if run.wallets_bytes is not None:
            wallets_entry = _write_file(tmp_bundle / WALLETS_FILE, b"", run.wallets_bytes)
        margin_section = {} if margin is None else _write_margin(margin, tmp_bundle)
        manifest = Manifest.build(
            run.reserves.exchange, run.reserves.round, run.created, entries, wallets_entry,
            version=run.version, **margin_section,
        )
        # Round-trip through the parser: the writer must produce what the spec accepts.
        manifest_bytes = manifest.to_bytes()
        Manifest.from_bytes(manifest_bytes)
        (tmp_bundle / MANIFEST_NAME).write_bytes(manifest_bytes)
        sink = open_sink(run.packages_dir, run.options.packages_format)
        n_packages = _write_packages(run, [p.tree for p in assets], manifest, sink, progress, margin)
        _fsync_dir(tmp_bundle)
        os.rename(tmp_bundle, bundle_dir)
        try:
            sink.publish(
                StoreMeta(run.reserves.exchange, run.reserves.round, manifest.digest,
                          _run_file(run.reserves, run.run_nonce))
            )
        except BaseException:
            os.rename(bundle_dir, tmp_bundle)
            raise
    except BaseException:
        shutil.rmtree(tmp_bundle, ignore_errors=True)
        if sink is not None:
            sink.abort()
        raise
    return manifest, n_packages


def _write_asset(run: _Run, p: _ProvenAsset, out: Path) -> AssetEntry:
    """Write one asset's five data files into ``out``; return its manifest entry."""
    t = p.tree
    c = t.committed
    w, spec = c.leaves, c.leaves.spec
    names = data_file_names(spec.symbol)
    chunks = w.chunks
    return AssetEntry(
        symbol=spec.symbol,
        decimals=spec.decimals,
        reserves=spec.reserves,
        num=run.num,
        den=run.den,
        leaf_count=w.count,
        chunk_size=w.m,
        merkle_root=t.merkle_root,
        liabilities_commitment=t.C_L.to_bytes(),
        disclosed_liabilities=(w.liabilities, w.blinding_sum) if run.options.disclose_liabilities else None,
        leaves=_write_file(
            out / names["leaves"], encode_header(MAGIC_LEAVES, w.count, LEAF_RECORD_SIZE), c.records.tobytes()
        ),
        range_proofs=_write_file(
            out / names["range_proofs"],
            encode_header(MAGIC_RANGE_PROOFS, chunks, range_record_size(w.m)),
            b"".join(p.range_proofs),
        ),
        solvency=_write_file(
            out / names["solvency"], encode_header(MAGIC_SOLVENCY, 1, SOLVENCY_RECORD_SIZE), p.solvency_proof
        ),
        reserves_basis=run.basis,
        nodes=_write_file(
            out / names["nodes"], encode_header(MAGIC_NODES, node_count(chunks), NODE_RECORD_SIZE), t.nodes.tobytes()
        ),
        node_proofs=_write_file(
            out / names["node_proofs"],
            encode_header(MAGIC_NODE_PROOFS, chunks - 1, node_proof_record_size()),
            b"".join(p.node_proofs),
        ),
        **_margin_entry(run, p.margin),
    )


def _margin_entry(run: _Run, sums: _MarginAsset | None) -> dict[str, Any]:
    """An asset entry's version-4 keys: ``debt_commitment`` and the two optional disclosures (§14.3)."""
    if sums is None:
        return {}
    return {
        "debt_commitment": sums.C_D.to_bytes(),
        "disclosed_debt": (sums.debt, sums.debt_blinding) if run.options.disclose_liabilities else None,
        "disclosed_collateral": (
            (sums.collateral, sums.collateral_blinding) if run.options.disclose_collateral else None
        ),
    }


def _write_margin(margin: _MarginCommitted, out: Path) -> dict[str, Any]:
    """Write ``margin.records.bin`` and ``margin.proofs.bin`` (§14.4); return the manifest's ``margin`` keywords."""
    params = margin.plan.params
    records = _write_file(
        out / MARGIN_RECORDS_NAME, encode_header(MAGIC_MARGIN_RECORDS, params.accounts, params.record_size),
        b"".join(margin.records),
    )
    proofs = _write_file(
        out / MARGIN_PROOFS_NAME, encode_header(MAGIC_MARGIN_PROOFS, params.groups, params.proofs_record_size),
        b"".join(margin.proofs),
    )
    return {"margin": params, "margin_root": margin.root, "margin_records": records, "margin_proofs": proofs}


def _customer_positions(t: _TreeAsset) -> npt.NDArray[np.int64]:
    """``position[row]``: the leaf position of ledger row ``row`` of the asset."""
    w = t.committed.leaves
    position = np.full(len(w.column), -1, dtype=np.int64)
    real = np.nonzero(w.rows >= 0)[0]
    position[w.rows[real]] = real
    return position


def _write_packages(
    run: _Run,
    assets: Sequence[_TreeAsset],
    manifest: Manifest,
    sink: PackageSink,
    progress: Progress | None,
    margin: _MarginCommitted | None = None,
) -> int:
    """Add one package (format 2; 3 in a version-4 bundle) per customer to ``sink``, in id order; return the count.

    Names are keyed (:meth:`RunSecrets.package_name`, FORMAT.md §9): nobody without the run's
    secrets can find a customer's package by guessing ids. In a version-4 bundle every package has
    the ``margin`` key: ``null``, or the customer's record, path and openings (§14.6).
    """
    positions = [_customer_positions(t) for t in assets]
    records: dict[str, int] = {}
    if margin is not None:
        records = {a.customer_id: j for j, a in enumerate(margin.plan.accounts) if a.customer_id is not None}
    total = run.ledger.customers
    for n, customer_id in enumerate(run.ledger.customer_ids()):
        entries = []
        record = records.get(customer_id)
        for a, t in enumerate(assets):
            w = t.committed.leaves
            row = w.column.find(customer_id)
            if row is None:
                continue
            position = int(positions[a][row])
            salt = None
            if margin is not None and record is not None and position in w.margin_records:
                salt = margin.accounts[record].margin_salt
            entries.append(_package_entry(run, t, position, customer_id, row, salt))
        if margin is None:
            package = Package(
                run.reserves.exchange, run.reserves.round, manifest.digest, customer_id, tuple(entries),
                format_version=2,
            )
        else:
            package = Package(
                run.reserves.exchange, run.reserves.round, manifest.digest, customer_id, tuple(entries),
                format_version=PACKAGE_FORMAT_VERSION_MARGIN,
                margin=None if record is None else _margin_package_entry(margin, record),
            )
        sink.add(customer_id, run.secrets.package_name(customer_id), package.to_bytes())
        if progress and ((n + 1) % 1024 == 0 or n + 1 == total):
            progress("packages", n + 1, total)
    return total


def _package_entry(
    run: _Run, t: _TreeAsset, position: int, customer_id: str, row: int, margin_salt: bytes | None = None
) -> SumTreeEntry:
    """A spot entry; a margin slot's leaf (format 4) has a margin leaf id, and ``margin_salt`` as its salt."""
    w = t.committed.leaves
    v_blinding, salt = run.secrets.leaf(w.spec.symbol, customer_id)
    if margin_salt is not None:
        salt = margin_salt
    levels = t.levels
    in_chunk = tuple(levels[lv][(position >> lv) ^ 1].tobytes() for lv in range(len(levels) - 1))
    k = position // w.m
    node_path = tuple(
        NodePathItem(t.nodes[step.sibling, :_POINT_SIZE].tobytes(), t.nodes[step.sibling, _POINT_SIZE:].tobytes())
        for step in chunk_path(w.chunks, k)
    )
    return SumTreeEntry(
        asset=w.spec.symbol,
        decimals=w.spec.decimals,
        amount=int(w.column.amounts[row]),
        blinding=v_blinding,
        leaf_salt=salt,
        leaf_id=w.ids[position].tobytes(),
        leaf_index=position,
        leaf_count=w.count,
        chunk_size=w.m,
        merkle_root=t.merkle_root,
        liabilities_commitment=t.C_L.to_bytes(),
        chunk_path=in_chunk,
        node_path=node_path,
    )


def _margin_package_entry(margin: _MarginCommitted, j: int) -> MarginEntry:
    """The ``margin`` object of a margin customer's package (§14.6): record ``j``, its path, every opening."""
    params = margin.plan.params
    acc = margin.accounts[j]
    assert acc.margin_salt is not None
    slots = []
    for ref, a, b in zip(margin.plan.accounts[j].slots, acc.amounts, acc.blindings, strict=True):
        slots.append(
            MarginSlotEntry(
                asset=params.assets[a.asset].symbol, leaf_index=a.leaf, dummy=ref.dummy_leaf is not None,
                debt=a.debt, debt_blinding=b.d, unpledged=a.unpledged, unpledged_blinding=b.w,
                collateral=tuple(
                    CollateralEntry(
                        type=kind, amount=c, value=v, value_blinding=vb, haircut=h, haircut_blinding=hb,
                    )
                    for kind, c, v, vb, h, hb in zip(
                        params.collateral_types, a.collateral, a.values, b.v, a.haircuts, b.h, strict=True
                    )
                ),
            )
        )
    return MarginEntry(
        record_index=j, record_count=params.accounts, record_id=acc.record_id, margin_salt=acc.margin_salt,
        merkle_path=tuple(margin.tree.path(j)), slots=tuple(slots), lo=acc.lo.v, lo_blinding=acc.lo.v_blinding,
    )


# ---------------------------------------------------------------------------
# The pipeline


def write_bundle(
    ledger: Ledger,
    reserves: Reserves,
    master: bytes,
    bundle_dir: Path,
    packages_dir: Path,
    options: ProveOptions = ProveOptions(),
    progress: Progress | None = None,
    wallets: ProvenReserves | None = None,
    executor: Executor | None = None,
    margin: MarginAccounts | None = None,
) -> ProveResult:
    """Prove solvency for every asset and write the bundle (format version 3) and the customer packages.

    With ``margin`` (:func:`prover.margin_inputs.margin_accounts`, for this ledger) the bundle is
    format version 4: every margin account's record and proofs, and every asset's solvency for its
    net liabilities (``docs/FORMAT.md`` §14); the packages are format 3.

    With ``wallets`` (from :func:`prover.wallets.load_wallets`; ``reserves`` must be its
    ``reserves``) the bundle carries the wallet list, whose digest every solvency proof
    binds; without, the reserves are declared. ``executor`` runs the tasks [default: a
    local process pool of ``options.jobs`` workers]; the caller closes an executor it passes.
    The work directory is removed when the run succeeds and kept (for ``--resume``) when it fails.

    Raises:
        InputError: insolvent asset, bad options, an output path that exists, a work directory
            that exists or (resuming) belongs to another run.
        WitnessError: an internal self-check failed (no output is written).
    """
    started = time.perf_counter()
    run = _read(ledger, reserves, master, bundle_dir, packages_dir, options, wallets, margin)
    prepared, plan = _prepare(run, progress)
    own = executor is None
    ex: Executor = executor or LocalPoolExecutor(
        master, jobs=options.jobs, backend_name=run.backend.name, max_nm=_max_nm(prepared, plan)
    )
    try:
        committed = _commit(run, ex, prepared, progress)
        trees = _tree(run, committed, progress)
        records = None if plan is None else _margin_commit(run, ex, plan, trees, progress)
        proven, records = _prove(run, ex, trees, progress, records)
    finally:
        if own:
            ex.close()
    manifest, n_packages = _write(run, proven, progress, records)
    run.workdir.remove()
    return ProveResult(
        run.bundle_dir, run.packages_dir, manifest, n_packages, time.perf_counter() - started,
        tasks_run=run.workdir.written, tasks_reused=run.workdir.reused, leaves=sum(w.count for w in prepared),
        margin_accounts=0 if plan is None else plan.real, margin_records=0 if plan is None else plan.params.accounts,
    )


# ---------------------------------------------------------------------------
# Helpers


def _next_power_of_two(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def _padding(count: int, chunk: int, pad_to: int | None, symbol: str, slots: int = 0) -> tuple[int, int]:
    """Return ``(padded leaf count, chunk size m)`` for ``count`` real leaves and ``slots`` margin padding leaves.

    ``slots`` (format 4) is the number of dummy margin slots naming the asset: each needs its own padding
    leaf, so the asset is padded to the next power of two of ``count + slots`` at least.
    """
    if chunk < 1 or chunk & (chunk - 1) or chunk > 1024:
        raise InputError(f"--chunk {chunk} is not a power of two in [1, 1024]", section="--chunk")
    needed = count + slots
    target = _next_power_of_two(max(needed, 1))
    if pad_to is not None:
        if pad_to < needed:
            what = f"the {count} customers holding {symbol}"
            if slots:
                what += f" and its {slots} dummy margin slots"
            raise InputError(f"--pad-to {pad_to} is below {what}", section="--pad-to")
        target = max(pad_to, 1)
    m = min(chunk, target)
    if target % m or m & (m - 1):
        raise InputError(
            f"--pad-to {target} must be a multiple of the chunk size {chunk} (or a power of two below it)",
            section="--pad-to",
        )
    if target >= 1 << 32:
        raise InputError(f"{target} leaves exceed the format's 2^32 limit", section="--pad-to")
    return target, m


def _check_solvent(
    spec: AssetSpec, liabilities: int, num: int, den: int, wallets: ProvenReserves | None = None
) -> None:
    if den * spec.reserves < num * liabilities:
        ratio = "" if num == den else f" times {num}/{den}"
        what = "reserves"
        if wallets is not None:
            what = "the reserves held in its signed wallets" + (
                " and attested entries" if wallets.include_attested else ""
            )
        raise InputError(
            f"insolvent for {spec.symbol}: liabilities{ratio} exceed {what}; no bundle written",
            section=f"reserves:{spec.symbol}",
        )
    if den * spec.reserves - num * liabilities >= 1 << SOLVENCY_BITS:
        raise InputError(
            f"{spec.symbol}: reserves times the ratio denominator {den} leave a surplus of 2^128 or more; "
            "use a ratio with a smaller denominator",
            section=f"reserves:{spec.symbol}",
        )


def _write_file(path: Path, header: bytes, body: bytes) -> FileEntry:
    data = header + body
    path.write_bytes(data)
    return FileEntry(path.name, len(data), hashlib.sha256(data).digest())


def _utc_now() -> str:
    """The current UTC time as ``created`` (``YYYY-MM-DDTHH:MM:SSZ``; POSIX time has no leap second)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _fresh_target(path: Path, what: str) -> None:
    # lexists: a dangling symlink or a symlink loop is also "something already there".
    if os.path.lexists(path):
        raise InputError(f"{path}: {what} already exists; refusing to overwrite", section=str(path))
    if not path.parent.is_dir():
        raise InputError(f"{path.parent}: directory does not exist", section=str(path))


def _resolve(path: Path, option: str) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop on Python 3.11
        raise InputError(f"{path}: cannot resolve the path ({exc})", section=option) from exc


def _fsync_dir(path: Path) -> None:
    for child in path.iterdir():
        with open(child, "rb") as fh:
            os.fsync(fh.fileno())


def _run_file(reserves: Reserves, run_nonce: bytes) -> bytes:
    """The content of ``run.json``: what ``--run-nonce`` needs to reproduce this run (FORMAT.md §9)."""
    record = {"derivation": "zk-solvency run v2", "exchange": reserves.exchange, "round": reserves.round,
              "run_nonce": run_nonce.hex()}
    return (json.dumps(record, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _write_private(path: Path, data: bytes) -> None:
    """Create ``path`` exclusively with mode 0600 and write ``data``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
