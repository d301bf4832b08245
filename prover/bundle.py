r"""The solvency pipeline: ledger + reserves + master secret -> proof bundle + customer packages.

This module holds the secrets (openings, blindings, salts) and writes the public
bundle specified in ``docs/FORMAT.md``. :func:`write_bundle` runs five passes, each
a function returning a frozen value that the next one consumes
(``notes/40-solvency.md``):

1. **read** (:class:`_Run`): check the output paths and options, refuse an
   insolvent asset (``den*R < num*L``) before any proving, fix the run nonce and
   derive the run's secrets (HKDF, FORMAT.md §9; the nonce goes to ``run.json`` in
   the packages).
2. **prepare** (:class:`_PreparedAsset`): derive every leaf's blinding and salt,
   pad with zero-amount dummy leaves, and sort the leaves by leaf id. Leaf data is
   kept in read-only numpy arrays, not one Python object per leaf.
3. **commit** (:class:`_CommittedAsset`): commit to every leaf (worker processes),
   build the Merkle tree.
4. **prove** (:class:`_ProvenAsset`): prove each chunk of ``m`` leaves in
   ``[0, 2^64)`` (worker processes, all assets at once), and the surplus
   ``den*R - num*L`` in ``[0, 2^128)``.
5. **write**: write the bundle and the packages to temporary directories and
   rename them into place, so nothing is half-written.

Self-checks: each worker's commitments must equal the ones computed in the commit
pass, and the sum of the leaf commitments must equal ``Com(L, sum of blindings)``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from circuits.backends import GroupBackend, get_backend
from circuits.constants import GROUP_ORDER
from circuits.datafiles import (
    LEAF_RECORD_SIZE,
    MAGIC_LEAVES,
    MAGIC_RANGE_PROOFS,
    MAGIC_SOLVENCY,
    SOLVENCY_RECORD_SIZE,
    data_file_names,
    encode_header,
    leaf_id,
    range_record_size,
)
from circuits.errors import InputError, WitnessError
from circuits.generators import PedersenGens
from circuits.group import Point
from circuits.limits import RANGE_BITS, SOLVENCY_BITS
from circuits.manifest import MANIFEST_NAME, WALLETS_FILE, AssetEntry, FileEntry, Manifest, created_problem
from circuits.merkle import MerkleTree, leaf_hash
from circuits.package import Package, PackageEntry
from circuits.relations import Opening
from circuits.statements import ChunkStatement, SolvencyStatement
from prover.keys import RUN_NONCE_SIZE, RunSecrets, new_run_nonce
from prover.ledger import AssetColumn, Ledger
from prover.parallel import map_in_workers
from prover.range_proof import create_range_proof, prove_range
from prover.reserves import AssetSpec, Reserves
from prover.wallets import ProvenReserves

__all__ = ["RUN_FILE_NAME", "ProveOptions", "ProveResult", "write_bundle"]

#: The file of the packages directory that keeps the run nonce (mode 0600; never in the bundle).
RUN_FILE_NAME = "run.json"

#: Called as ``progress(stage, done, total)``; stages: "commit", "prove", "write".
Progress = Callable[[str, int, int], None]

_COMMIT_BATCH = 1024
_POINT_SIZE = 48
_ID_SIZE = 32
_SCALAR_SIZE = 32

U8 = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class ProveOptions:
    """Choices of ``solvency prove``.

    All are public except ``run_nonce``: ``None`` (the default) draws a fresh nonce
    from :mod:`secrets`; passing the nonce of an earlier run (its ``run.json``)
    reproduces that run's blindings, salts and leaf ids (``docs/FORMAT.md`` §9).
    """

    chunk: int = 64
    pad_to: int | None = None
    min_ratio: tuple[int, int] = (1, 1)
    disclose_liabilities: bool = False
    jobs: int | None = None
    backend_name: str | None = None
    created: str | None = None
    run_nonce: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ProveResult:
    """What ``write_bundle`` produced."""

    bundle_dir: Path
    packages_dir: Path
    manifest: Manifest
    packages: int
    seconds: float


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
    run_nonce: bytes = field(repr=False)
    secrets: RunSecrets = field(repr=False)
    wallets: ProvenReserves | None = None

    @property
    def wallets_bytes(self) -> bytes | None:
        """The bundle's ``wallets.json`` (version 2), or ``None`` for declared reserves (version 1)."""
        return None if self.wallets is None else self.wallets.wallets.to_bytes()

    @property
    def wallets_sha256(self) -> bytes | None:
        """SHA-256 of ``wallets.json``, bound into every solvency proof's context (version 2)."""
        data = self.wallets_bytes
        return None if data is None else hashlib.sha256(data).digest()


@dataclass(frozen=True)
class _PreparedAsset:
    """Pass 2 (prepare): one asset's leaves, sorted by leaf id (secrets stay in this process)."""

    spec: AssetSpec
    column: AssetColumn
    m: int
    ids: U8  # (N, 32), sorted
    blindings: U8  # (N, 32), little-endian scalars
    amounts: npt.NDArray[np.uint64]  # (N,)
    rows: npt.NDArray[np.int64]  # (N,): ledger row, or -1 for a dummy leaf
    liabilities: int
    blinding_sum: int

    @property
    def count(self) -> int:
        return int(self.amounts.shape[0])


@dataclass(frozen=True)
class _CommittedAsset:
    """Pass 3 (commit): the leaf commitments, their Merkle tree and their sum ``C_L``."""

    leaves: _PreparedAsset
    commitments: U8  # (N, 48)
    tree: MerkleTree
    C_L: Point


@dataclass(frozen=True)
class _ProvenAsset:
    """Pass 4 (prove): the chunk range proofs and the solvency proof, serialized."""

    committed: _CommittedAsset
    range_proofs: tuple[bytes, ...]
    solvency_proof: bytes


def _read_only(array: np.ndarray[Any, Any]) -> None:
    array.flags.writeable = False


# ---------------------------------------------------------------------------
# Pass 1: read


def _read(
    ledger: Ledger,
    reserves: Reserves,
    master: bytes,
    bundle_dir: Path,
    packages_dir: Path,
    options: ProveOptions,
    wallets: ProvenReserves | None,
) -> _Run:
    """Check paths, options and solvency; fix the run nonce and derive the run's secrets.

    Raises:
        InputError: an output path that exists or overlaps the other, an insolvent asset, a bad run nonce.
    """
    bundle_dir, packages_dir = Path(bundle_dir), Path(packages_dir)
    a, b = _resolve(bundle_dir, "--out"), _resolve(packages_dir, "--packages")
    if a == b or a in b.parents or b in a.parents:
        raise InputError(
            f"--out {bundle_dir} and --packages {packages_dir} must be separate directories "
            "(the bundle is public, the packages are private)",
            section="--packages",
        )
    _fresh_target(bundle_dir, "bundle directory")
    _fresh_target(packages_dir, "packages directory")
    num, den = options.min_ratio
    backend = get_backend(options.backend_name)
    if wallets is not None and wallets.reserves != reserves:
        raise InputError("the reserves must be the ones the wallet list backs", section="--wallets")
    for spec in reserves.assets:
        _check_solvent(spec, ledger.columns[spec.symbol].total(), num, den, wallets)
    if options.run_nonce is not None and len(options.run_nonce) != RUN_NONCE_SIZE:
        raise InputError(
            f"--run-nonce must be {RUN_NONCE_SIZE} bytes ({2 * RUN_NONCE_SIZE} hex digits), "
            f"got {len(options.run_nonce)} bytes",
            section="--run-nonce",
        )
    if options.created is not None and (problem := created_problem(options.created)) is not None:
        raise InputError(f"created {options.created!r}: {problem}", section="created")
    run_nonce = new_run_nonce() if options.run_nonce is None else bytes(options.run_nonce)
    secrets = RunSecrets(master, reserves.exchange, reserves.round, run_nonce)
    return _Run(ledger, reserves, bundle_dir, packages_dir, options, num, den, backend, run_nonce, secrets, wallets)


# ---------------------------------------------------------------------------
# Pass 2: prepare


def _prepare(run: _Run) -> tuple[_PreparedAsset, ...]:
    """Derive, pad and sort every asset's leaves."""
    return tuple(
        _prepare_asset(spec, run.ledger.columns[spec.symbol], run.secrets, run.reserves.round, run.options)
        for spec in run.reserves.assets
    )


def _prepare_asset(
    spec: AssetSpec, column: AssetColumn, secrets: RunSecrets, round_label: str, options: ProveOptions
) -> _PreparedAsset:
    count = len(column)
    target, m = _padding(count, options.chunk, options.pad_to, spec.symbol)
    ids = np.zeros((target, _ID_SIZE), dtype=np.uint8)
    blindings = np.zeros((target, _SCALAR_SIZE), dtype=np.uint8)
    amounts = np.zeros(target, dtype=np.uint64)
    rows = np.full(target, -1, dtype=np.int64)
    amounts[:count] = column.amounts
    rows[:count] = np.arange(count, dtype=np.int64)
    blinding_sum = 0
    for i in range(count):
        v_blinding, salt = secrets.leaf(spec.symbol, column.customer_id(i))
        ids[i] = np.frombuffer(leaf_id(round_label, spec.symbol, column.customer_id(i), salt), dtype=np.uint8)
        blindings[i] = np.frombuffer(v_blinding.to_bytes(_SCALAR_SIZE, "little"), dtype=np.uint8)
        blinding_sum += v_blinding
    for j in range(target - count):
        v_blinding, dummy_id = secrets.dummy(spec.symbol, j)
        ids[count + j] = np.frombuffer(dummy_id, dtype=np.uint8)
        blindings[count + j] = np.frombuffer(v_blinding.to_bytes(_SCALAR_SIZE, "little"), dtype=np.uint8)
        blinding_sum += v_blinding
    words = ids.view(">u8").reshape(target, 4)
    order = np.lexsort((words[:, 3], words[:, 2], words[:, 1], words[:, 0]))
    ids, blindings, amounts, rows = ids[order], blindings[order], amounts[order], rows[order]
    if target > 1 and not np.any(ids[1:] != ids[:-1], axis=1).all():
        raise WitnessError(f"{spec.symbol}: two leaves share a leaf id")
    for array in (ids, blindings, amounts, rows):
        _read_only(array)
    return _PreparedAsset(
        spec, column, m, ids, blindings, amounts, rows,
        liabilities=column.total(), blinding_sum=blinding_sum % GROUP_ORDER,
    )


def _max_nm(assets: Sequence[_PreparedAsset]) -> int:
    """The largest aggregated bit count of any proof of the run (generators the workers need)."""
    return max([RANGE_BITS * w.m for w in assets] + [SOLVENCY_BITS])


# ---------------------------------------------------------------------------
# Pass 3: commit


def _commit(run: _Run, assets: Sequence[_PreparedAsset], progress: Progress | None) -> tuple[_CommittedAsset, ...]:
    """Commit to every leaf in worker processes; check each asset's sum; build its Merkle tree.

    Raises:
        WitnessError: the sum of an asset's leaves is not ``Com(L, sum of blindings)``.
    """
    be = run.backend
    batches: list[tuple[bytes, bytes]] = []
    owners: list[tuple[int, int]] = []
    for a, w in enumerate(assets):
        for start in range(0, w.count, _COMMIT_BATCH):
            stop = min(w.count, start + _COMMIT_BATCH)
            batches.append((w.amounts[start:stop].astype("<u8").tobytes(), w.blindings[start:stop].tobytes()))
            owners.append((a, start))
    committed = map_in_workers(
        partial(_commit_batch, be.name), batches, backend_name=be.name, max_nm=_max_nm(assets),
        workers=run.options.jobs,
        progress=(lambda k: progress("commit", k, len(batches))) if progress else None,
    )
    commitments = [np.zeros((w.count, _POINT_SIZE), dtype=np.uint8) for w in assets]
    sums: list[Point] = [Point.identity(be) for _ in assets]
    for (a, start), (encodings, partial_sum) in zip(owners, committed, strict=True):
        n = len(encodings) // _POINT_SIZE
        commitments[a][start : start + n] = np.frombuffer(encodings, dtype=np.uint8).reshape(n, _POINT_SIZE)
        sums[a] = sums[a] + Point.from_bytes(partial_sum, be)
    pc = PedersenGens.default(be)
    out = []
    for w, leaf_commitments, C_L in zip(assets, commitments, sums, strict=True):
        if C_L != pc.commit(w.liabilities, w.blinding_sum):
            raise WitnessError(f"{w.spec.symbol}: self-check failed: sum of leaves != Com(L, sum of blindings)")
        tree = MerkleTree(
            [leaf_hash(w.ids[i].tobytes(), i, leaf_commitments[i].tobytes()) for i in range(w.count)]
        )
        _read_only(leaf_commitments)
        out.append(_CommittedAsset(w, leaf_commitments, tree, C_L))
    return tuple(out)


def _commit_batch(backend_name: str, batch: tuple[bytes, bytes]) -> tuple[bytes, bytes]:
    """Worker: commit to ``(amounts LE64..., blindings LE256...)``; return encodings and their sum."""
    be = get_backend(backend_name)
    pc = PedersenGens.default(be)
    amounts, blindings = batch
    out = []
    total = Point.identity(be)
    for i in range(len(amounts) // 8):
        v = int.from_bytes(amounts[8 * i : 8 * i + 8], "little")
        r = int.from_bytes(blindings[32 * i : 32 * i + 32], "little")
        V = pc.commit(v, r)
        total = total + V
        out.append(V.to_bytes())
    return b"".join(out), total.to_bytes()


# ---------------------------------------------------------------------------
# Pass 4: prove


def _prove(run: _Run, assets: Sequence[_CommittedAsset], progress: Progress | None) -> tuple[_ProvenAsset, ...]:
    """Prove every chunk of every asset in one worker pool, then each asset's solvency.

    Raises:
        WitnessError: a worker's commitments differ from the commit pass's, or a proof has the wrong size.
    """
    be = run.backend
    reserves = run.reserves
    jobs: list[tuple[bytes, bytes, bytes]] = []
    chunk_owner: list[int] = []
    for a, c in enumerate(assets):
        w = c.leaves
        for k in range(w.count // w.m):
            lo, hi = k * w.m, (k + 1) * w.m
            context = ChunkStatement(
                exchange=reserves.exchange,
                round=reserves.round,
                symbol=w.spec.symbol,
                leaf_count=w.count,
                chunk_size=w.m,
                chunk=k,
                merkle_root=c.tree.root,
            ).context()
            jobs.append((w.amounts[lo:hi].astype("<u8").tobytes(), w.blindings[lo:hi].tobytes(), context))
            chunk_owner.append(a)
    proved = map_in_workers(
        partial(_prove_chunk, be.name), jobs, backend_name=be.name,
        max_nm=_max_nm([c.leaves for c in assets]), workers=run.options.jobs,
        progress=(lambda k: progress("prove", k, len(jobs))) if progress else None,
    )
    proofs: list[list[bytes]] = [[] for _ in assets]
    for a, (encodings, proof) in zip(chunk_owner, proved, strict=True):
        c = assets[a]
        m = c.leaves.m
        k = len(proofs[a])
        if encodings != c.commitments[k * m : (k + 1) * m].tobytes():
            raise WitnessError(f"{c.leaves.spec.symbol}: self-check failed: chunk {k} commitments differ")
        if len(proof) != range_record_size(m):
            raise WitnessError(f"{c.leaves.spec.symbol}: self-check failed: chunk {k} proof size")
        proofs[a].append(proof)
    return tuple(
        _ProvenAsset(c, tuple(chunk_proofs), _prove_solvency(run, c))
        for c, chunk_proofs in zip(assets, proofs, strict=True)
    )


def _prove_chunk(backend_name: str, job: tuple[bytes, bytes, bytes]) -> tuple[bytes, bytes]:
    """Worker: prove one chunk in [0, 2^64); return the commitments it used and the proof."""
    amounts, blindings, context = job
    openings = [
        Opening(int.from_bytes(amounts[8 * i : 8 * i + 8], "little"),
                int.from_bytes(blindings[32 * i : 32 * i + 32], "little"))
        for i in range(len(amounts) // 8)
    ]
    statement, proof = prove_range(openings, RANGE_BITS, context=context, backend=get_backend(backend_name),
                                   threads=1)
    return b"".join(V.to_bytes() for V in statement.commitments), proof.to_bytes()


def _prove_solvency(run: _Run, c: _CommittedAsset) -> bytes:
    """Prove the surplus ``den*R - num*L`` in ``[0, 2^128)`` (:class:`~circuits.statements.SolvencyStatement`).

    Raises:
        WitnessError: the proof does not have the solvency record size.
    """
    w, spec = c.leaves, c.leaves.spec
    statement = SolvencyStatement(
        exchange=run.reserves.exchange,
        round=run.reserves.round,
        symbol=spec.symbol,
        decimals=spec.decimals,
        reserves=spec.reserves,
        num=run.num,
        den=run.den,
        leaf_count=w.count,
        merkle_root=c.tree.root,
        C_L=c.C_L,
        wallets_sha256=run.wallets_sha256,
        reserves_basis="declared" if run.wallets is None else run.wallets.basis,
    )
    proof = create_range_proof(
        statement.range_statement(PedersenGens.default(run.backend)), [statement.opening(w.liabilities, w.blinding_sum)]
    )
    if proof.serialized_size() != SOLVENCY_RECORD_SIZE:
        raise WitnessError(f"{spec.symbol}: self-check failed: solvency proof size")
    return proof.to_bytes()


# ---------------------------------------------------------------------------
# Pass 5: write


def _write(run: _Run, assets: Sequence[_ProvenAsset], progress: Progress | None) -> tuple[Manifest, int]:
    """Write the bundle and the packages into temporary directories and rename them into place.

    Returns ``(manifest, number of packages)``; on any failure nothing is left behind.
    """
    bundle_dir, packages_dir = run.bundle_dir, run.packages_dir
    created = run.options.created or _utc_now()
    tmp_bundle = bundle_dir.with_name(f".{bundle_dir.name}.bundle-tmp-{os.getpid()}")
    tmp_packages = packages_dir.with_name(f".{packages_dir.name}.packages-tmp-{os.getpid()}")
    for tmp in (tmp_bundle, tmp_packages):
        if tmp.exists():
            shutil.rmtree(tmp)
    try:
        tmp_bundle.mkdir()
        tmp_packages.mkdir(mode=0o700)
        entries = [_write_asset(run, p, tmp_bundle) for p in assets]
        wallets_entry = None
        if run.wallets_bytes is not None:
            wallets_entry = _write_file(tmp_bundle / WALLETS_FILE, b"", run.wallets_bytes)
        manifest = Manifest.build(run.reserves.exchange, run.reserves.round, created, entries, wallets_entry)
        # Round-trip through the parser: the writer must produce what the spec accepts.
        manifest_bytes = manifest.to_bytes()
        Manifest.from_bytes(manifest_bytes)
        (tmp_bundle / MANIFEST_NAME).write_bytes(manifest_bytes)
        _write_private(tmp_packages / RUN_FILE_NAME, _run_file(run.reserves, run.run_nonce))
        n_packages = _write_packages(run, [p.committed for p in assets], manifest, tmp_packages, progress)
        _fsync_dir(tmp_bundle)
        os.rename(tmp_bundle, bundle_dir)
        try:
            os.rename(tmp_packages, packages_dir)
        except OSError:
            os.rename(bundle_dir, tmp_bundle)
            raise
    except BaseException:
        shutil.rmtree(tmp_bundle, ignore_errors=True)
        shutil.rmtree(tmp_packages, ignore_errors=True)
        raise
    return manifest, n_packages


def _write_asset(run: _Run, p: _ProvenAsset, out: Path) -> AssetEntry:
    """Write one asset's three data files into ``out``; return its manifest entry."""
    c = p.committed
    w, spec = c.leaves, c.leaves.spec
    names = data_file_names(spec.symbol)
    leaves_body = np.hstack([w.ids, c.commitments]).tobytes()
    if len(leaves_body) != w.count * LEAF_RECORD_SIZE:
        raise WitnessError(f"{spec.symbol}: self-check failed: leaves file size")
    return AssetEntry(
        symbol=spec.symbol,
        decimals=spec.decimals,
        reserves=spec.reserves,
        num=run.num,
        den=run.den,
        leaf_count=w.count,
        chunk_size=w.m,
        merkle_root=c.tree.root,
        liabilities_commitment=c.C_L.to_bytes(),
        disclosed_liabilities=(w.liabilities, w.blinding_sum) if run.options.disclose_liabilities else None,
        leaves=_write_file(
            out / names["leaves"], encode_header(MAGIC_LEAVES, w.count, LEAF_RECORD_SIZE), leaves_body
        ),
        range_proofs=_write_file(
            out / names["range_proofs"],
            encode_header(MAGIC_RANGE_PROOFS, len(p.range_proofs), range_record_size(w.m)),
            b"".join(p.range_proofs),
        ),
        solvency=_write_file(
            out / names["solvency"], encode_header(MAGIC_SOLVENCY, 1, SOLVENCY_RECORD_SIZE), p.solvency_proof
        ),
        reserves_basis="declared" if run.wallets is None else run.wallets.basis,
    )


def _write_packages(
    run: _Run, assets: Sequence[_CommittedAsset], manifest: Manifest, out: Path, progress: Progress | None
) -> int:
    """Write one package per customer plus ``index.csv`` (customer id -> file). Returns the count.

    File names are keyed (:meth:`RunSecrets.package_name`, FORMAT.md §9): nobody without the run's
    secrets can find a customer's package by guessing ids; ``index.csv`` is the only map.
    """
    holdings: dict[str, list[tuple[int, int, int]]] = {}
    for a, c in enumerate(assets):
        rows = c.leaves.rows
        for position in np.nonzero(rows >= 0)[0].tolist():
            row = int(rows[position])
            holdings.setdefault(c.leaves.column.customer_id(row), []).append((a, row, position))
    index_lines = ["customer_id,file"]
    total = len(holdings)
    for k, customer_id in enumerate(sorted(holdings)):
        entries = []
        for a, row, position in holdings[customer_id]:
            c = assets[a]
            w = c.leaves
            v_blinding, salt = run.secrets.leaf(w.spec.symbol, customer_id)
            entries.append(
                PackageEntry(
                    asset=w.spec.symbol,
                    decimals=w.spec.decimals,
                    amount=int(w.column.amounts[row]),
                    blinding=v_blinding,
                    leaf_salt=salt,
                    leaf_id=w.ids[position].tobytes(),
                    leaf_index=position,
                    leaf_count=w.count,
                    merkle_root=c.tree.root,
                    merkle_path=tuple(c.tree.path(position)),
                )
            )
        package = Package(run.reserves.exchange, run.reserves.round, manifest.digest, customer_id, tuple(entries))
        name = run.secrets.package_name(customer_id)
        _write_private(out / name, package.to_bytes())
        quoted = '"' + customer_id.replace('"', '""') + '"'
        index_lines.append(f"{quoted},{name}")
        if progress and (k + 1) % 256 == 0:
            progress("write", k + 1, total)
    fd = os.open(out / "index.csv", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\n".join(index_lines) + "\n")
    if progress:
        progress("write", total, total)
    return total


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
) -> ProveResult:
    """Prove solvency for every asset and write the bundle and the customer packages.

    With ``wallets`` (from :func:`prover.wallets.load_wallets`; ``reserves`` must be its
    ``reserves``) the bundle is format version 2: it carries the wallet list, whose
    digest every solvency proof binds. Without, version 1 with declared reserves.

    Raises:
        InputError: insolvent asset, bad options, or an output path that exists.
        WitnessError: an internal self-check failed (no output is written).
    """
    started = time.perf_counter()
    run = _read(ledger, reserves, master, bundle_dir, packages_dir, options, wallets)
    prepared = _prepare(run)
    committed = _commit(run, prepared, progress)
    proven = _prove(run, committed, progress)
    manifest, n_packages = _write(run, proven, progress)
    return ProveResult(run.bundle_dir, run.packages_dir, manifest, n_packages, time.perf_counter() - started)


# ---------------------------------------------------------------------------
# Helpers


def _next_power_of_two(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def _padding(count: int, chunk: int, pad_to: int | None, symbol: str) -> tuple[int, int]:
    """Return ``(padded leaf count, chunk size m)`` for ``count`` real leaves."""
    if chunk < 1 or chunk & (chunk - 1) or chunk > 1024:
        raise InputError(f"--chunk {chunk} is not a power of two in [1, 1024]", section="--chunk")
    target = _next_power_of_two(max(count, 1))
    if pad_to is not None:
        if pad_to < count:
            raise InputError(f"--pad-to {pad_to} is below the {count} customers holding {symbol}", section="--pad-to")
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
