r"""The solvency pipeline: ledger + reserves + master secret -> proof bundle + customer packages.

This module holds the secrets (openings, blindings, salts) and writes the public
bundle specified in ``docs/FORMAT.md``. Steps, per asset (``notes/40-solvency.md``):

1. Refuse an insolvent asset (``den*R < num*L``) before any proving.
2. Derive every leaf's blinding and salt from the master secret (HKDF, §9), pad
   with zero-amount dummy leaves, and sort the leaves by leaf id. Leaf data is
   kept in numpy arrays, not one Python object per leaf.
3. Commit to every leaf (worker processes), build the Merkle tree.
4. Prove each chunk of ``m`` leaves in ``[0, 2^64)`` (worker processes, all assets
   at once), and the surplus ``den*R - num*L`` in ``[0, 2^128)``.
5. Write the bundle and the packages to temporary directories and rename them
   into place, so nothing is half-written.

Self-checks: each worker's commitments must equal the ones computed in the first
pass, and the sum of the leaf commitments must equal ``Com(L, sum of blindings)``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from circuits.backends import get_backend
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
from circuits.manifest import MANIFEST_NAME, AssetEntry, FileEntry, Manifest
from circuits.merkle import MerkleTree, leaf_hash
from circuits.package import Package, PackageEntry
from circuits.relations import Opening
from circuits.statements import ChunkStatement, SolvencyStatement
from prover.keys import LeafSecrets
from prover.ledger import AssetColumn, Ledger
from prover.parallel import map_in_workers
from prover.range_proof import create_range_proof, prove_range
from prover.reserves import AssetSpec, Reserves

__all__ = ["ProveOptions", "ProveResult", "write_bundle"]

#: Called as ``progress(stage, done, total)``; stages: "commit", "prove", "write".
Progress = Callable[[str, int, int], None]

_COMMIT_BATCH = 1024


@dataclass(frozen=True)
class ProveOptions:
    """Choices of ``solvency prove`` (all public; none secret)."""

    chunk: int = 64
    pad_to: int | None = None
    min_ratio: tuple[int, int] = (1, 1)
    disclose_liabilities: bool = False
    jobs: int | None = None
    backend_name: str | None = None
    created: str | None = None


@dataclass(frozen=True)
class ProveResult:
    """What ``write_bundle`` produced."""

    bundle_dir: Path
    packages_dir: Path
    manifest: Manifest
    packages: int
    seconds: float


@dataclass
class _AssetWork:
    """One asset's leaves, sorted by leaf id (numpy arrays; secrets stay in this process)."""

    spec: AssetSpec
    column: AssetColumn
    m: int
    ids: np.ndarray  # (N, 32) uint8, sorted
    blindings: np.ndarray  # (N, 32) uint8, little-endian scalars
    amounts: np.ndarray  # (N,) uint64
    rows: np.ndarray  # (N,) int64: ledger row, or -1 for a dummy leaf
    commitments: np.ndarray  # (N, 48) uint8
    tree: MerkleTree | None = None
    liabilities: int = 0
    blinding_sum: int = 0

    @property
    def count(self) -> int:
        return int(self.amounts.shape[0])


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


def _check_solvent(spec: AssetSpec, liabilities: int, num: int, den: int) -> None:
    if den * spec.reserves < num * liabilities:
        ratio = "" if num == den else f" times {num}/{den}"
        raise InputError(
            f"insolvent for {spec.symbol}: liabilities{ratio} exceed reserves; no bundle written",
            section=f"reserves:{spec.symbol}",
        )
    if den * spec.reserves - num * liabilities >= 1 << SOLVENCY_BITS:
        raise InputError(
            f"{spec.symbol}: reserves times the ratio denominator {den} leave a surplus of 2^128 or more; "
            "use a ratio with a smaller denominator",
            section=f"reserves:{spec.symbol}",
        )


def _prepare_asset(spec: AssetSpec, column: AssetColumn, secrets: LeafSecrets, round_label: str,
                   options: ProveOptions) -> _AssetWork:
    count = len(column)
    target, m = _padding(count, options.chunk, options.pad_to, spec.symbol)
    ids = np.zeros((target, 32), dtype=np.uint8)
    blindings = np.zeros((target, 32), dtype=np.uint8)
    amounts = np.zeros(target, dtype=np.uint64)
    rows = np.full(target, -1, dtype=np.int64)
    amounts[:count] = column.amounts
    rows[:count] = np.arange(count, dtype=np.int64)
    blinding_sum = 0
    for i in range(count):
        v_blinding, salt = secrets.leaf(spec.symbol, column.customer_id(i))
        ids[i] = np.frombuffer(leaf_id(round_label, spec.symbol, column.customer_id(i), salt), dtype=np.uint8)
        blindings[i] = np.frombuffer(v_blinding.to_bytes(32, "little"), dtype=np.uint8)
        blinding_sum += v_blinding
    for j in range(target - count):
        v_blinding, dummy_id = secrets.dummy(spec.symbol, j)
        ids[count + j] = np.frombuffer(dummy_id, dtype=np.uint8)
        blindings[count + j] = np.frombuffer(v_blinding.to_bytes(32, "little"), dtype=np.uint8)
        blinding_sum += v_blinding
    words = ids.view(">u8").reshape(target, 4)
    order = np.lexsort((words[:, 3], words[:, 2], words[:, 1], words[:, 0]))
    ids, blindings, amounts, rows = ids[order], blindings[order], amounts[order], rows[order]
    if target > 1 and not np.any(ids[1:] != ids[:-1], axis=1).all():
        raise WitnessError(f"{spec.symbol}: two leaves share a leaf id")
    return _AssetWork(
        spec, column, m, ids, blindings, amounts, rows, np.zeros((target, 48), dtype=np.uint8),
        liabilities=column.total(), blinding_sum=blinding_sum % GROUP_ORDER,
    )


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


def _write_file(path: Path, header: bytes, body: bytes) -> FileEntry:
    data = header + body
    path.write_bytes(data)
    return FileEntry(path.name, len(data), hashlib.sha256(data).digest())


def _utc_now() -> str:
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


def write_bundle(
    ledger: Ledger,
    reserves: Reserves,
    master: bytes,
    bundle_dir: Path,
    packages_dir: Path,
    options: ProveOptions = ProveOptions(),
    progress: Progress | None = None,
) -> ProveResult:
    """Prove solvency for every asset and write the bundle and the customer packages.

    Raises:
        InputError: insolvent asset, bad options, or an output path that exists.
        WitnessError: an internal self-check failed (no output is written).
    """
    started = time.perf_counter()
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
    be = get_backend(options.backend_name)
    for spec in reserves.assets:
        _check_solvent(spec, ledger.columns[spec.symbol].total(), num, den)

    secrets = LeafSecrets(master, reserves.round)
    works = [
        _prepare_asset(spec, ledger.columns[spec.symbol], secrets, reserves.round, options)
        for spec in reserves.assets
    ]
    max_nm = max([RANGE_BITS * w.m for w in works] + [SOLVENCY_BITS])
    pc = PedersenGens.default(be)

    # Pass 1: commitments (parallel), Merkle trees.
    batches: list[tuple[bytes, bytes]] = []
    owners: list[tuple[int, int]] = []
    for a, w in enumerate(works):
        for start in range(0, w.count, _COMMIT_BATCH):
            stop = min(w.count, start + _COMMIT_BATCH)
            batches.append((w.amounts[start:stop].astype("<u8").tobytes(), w.blindings[start:stop].tobytes()))
            owners.append((a, start))
    committed = map_in_workers(
        partial(_commit_batch, be.name), batches, backend_name=be.name, max_nm=max_nm, workers=options.jobs,
        progress=(lambda k: progress("commit", k, len(batches))) if progress else None,
    )
    sums: list[Point] = [Point.identity(be) for _ in works]
    for (a, start), (encodings, partial_sum) in zip(owners, committed, strict=True):
        w = works[a]
        n = len(encodings) // 48
        w.commitments[start : start + n] = np.frombuffer(encodings, dtype=np.uint8).reshape(n, 48)
        sums[a] = sums[a] + Point.from_bytes(partial_sum, be)
    for a, w in enumerate(works):
        if sums[a] != pc.commit(w.liabilities, w.blinding_sum):
            raise WitnessError(f"{w.spec.symbol}: self-check failed: sum of leaves != Com(L, sum of blindings)")
        w.tree = MerkleTree(
            [leaf_hash(w.ids[i].tobytes(), i, w.commitments[i].tobytes()) for i in range(w.count)]
        )

    # Pass 2: every chunk proof of every asset, in one pool.
    jobs: list[tuple[bytes, bytes, bytes]] = []
    chunk_owner: list[int] = []
    for a, w in enumerate(works):
        assert w.tree is not None
        for k in range(w.count // w.m):
            lo, hi = k * w.m, (k + 1) * w.m
            context = ChunkStatement(
                exchange=reserves.exchange,
                round=reserves.round,
                symbol=w.spec.symbol,
                leaf_count=w.count,
                chunk_size=w.m,
                chunk=k,
                merkle_root=w.tree.root,
            ).context()
            jobs.append((w.amounts[lo:hi].astype("<u8").tobytes(), w.blindings[lo:hi].tobytes(), context))
            chunk_owner.append(a)
    proved = map_in_workers(
        partial(_prove_chunk, be.name), jobs, backend_name=be.name, max_nm=max_nm, workers=options.jobs,
        progress=(lambda k: progress("prove", k, len(jobs))) if progress else None,
    )
    proofs: list[list[bytes]] = [[] for _ in works]
    for a, (encodings, proof) in zip(chunk_owner, proved, strict=True):
        w = works[a]
        k = len(proofs[a])
        if encodings != w.commitments[k * w.m : (k + 1) * w.m].tobytes():
            raise WitnessError(f"{w.spec.symbol}: self-check failed: chunk {k} commitments differ")
        if len(proof) != range_record_size(w.m):
            raise WitnessError(f"{w.spec.symbol}: self-check failed: chunk {k} proof size")
        proofs[a].append(proof)

    # Pass 3: solvency proofs, files, manifest, packages.
    created = options.created or _utc_now()
    tmp_bundle = bundle_dir.with_name(f".{bundle_dir.name}.bundle-tmp-{os.getpid()}")
    tmp_packages = packages_dir.with_name(f".{packages_dir.name}.packages-tmp-{os.getpid()}")
    for tmp in (tmp_bundle, tmp_packages):
        if tmp.exists():
            shutil.rmtree(tmp)
    try:
        tmp_bundle.mkdir()
        tmp_packages.mkdir(mode=0o700)
        entries = []
        for a, w in enumerate(works):
            assert w.tree is not None
            spec = w.spec
            C_L = sums[a]
            statement = SolvencyStatement(
                exchange=reserves.exchange,
                round=reserves.round,
                symbol=spec.symbol,
                decimals=spec.decimals,
                reserves=spec.reserves,
                num=num,
                den=den,
                leaf_count=w.count,
                merkle_root=w.tree.root,
                C_L=C_L,
            )
            solvency_proof = create_range_proof(
                statement.range_statement(pc), [statement.opening(w.liabilities, w.blinding_sum)]
            )
            if solvency_proof.serialized_size() != SOLVENCY_RECORD_SIZE:
                raise WitnessError(f"{spec.symbol}: self-check failed: solvency proof size")
            names = data_file_names(spec.symbol)
            leaves_body = np.hstack([w.ids, w.commitments]).tobytes()
            assert len(leaves_body) == w.count * LEAF_RECORD_SIZE
            entries.append(
                AssetEntry(
                    symbol=spec.symbol,
                    decimals=spec.decimals,
                    reserves=spec.reserves,
                    num=num,
                    den=den,
                    leaf_count=w.count,
                    chunk_size=w.m,
                    merkle_root=w.tree.root,
                    liabilities_commitment=C_L.to_bytes(),
                    disclosed_liabilities=(w.liabilities, w.blinding_sum) if options.disclose_liabilities else None,
                    leaves=_write_file(
                        tmp_bundle / names["leaves"],
                        encode_header(MAGIC_LEAVES, w.count, LEAF_RECORD_SIZE), leaves_body,
                    ),
                    range_proofs=_write_file(
                        tmp_bundle / names["range_proofs"],
                        encode_header(MAGIC_RANGE_PROOFS, len(proofs[a]), range_record_size(w.m)),
                        b"".join(proofs[a]),
                    ),
                    solvency=_write_file(
                        tmp_bundle / names["solvency"],
                        encode_header(MAGIC_SOLVENCY, 1, SOLVENCY_RECORD_SIZE),
                        solvency_proof.to_bytes(),
                    ),
                )
            )
        manifest = Manifest.build(reserves.exchange, reserves.round, created, entries)
        # Round-trip through the parser: the writer must produce what the spec accepts.
        manifest_bytes = manifest.to_bytes()
        Manifest.from_bytes(manifest_bytes)
        (tmp_bundle / MANIFEST_NAME).write_bytes(manifest_bytes)
        n_packages = _write_packages(works, reserves, secrets, manifest, tmp_packages, progress)
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
    return ProveResult(bundle_dir, packages_dir, manifest, n_packages, time.perf_counter() - started)


def _fsync_dir(path: Path) -> None:
    for child in path.iterdir():
        with open(child, "rb") as fh:
            os.fsync(fh.fileno())


def package_file_name(customer_id: str) -> str:
    """Return the package file name of a customer (a digest: ids may contain any character)."""
    return hashlib.sha256(b"zk-solvency package name v1\x00" + customer_id.encode()).hexdigest()[:32] + ".json"


def _write_packages(
    works: Sequence[_AssetWork],
    reserves: Reserves,
    secrets: LeafSecrets,
    manifest: Manifest,
    out: Path,
    progress: Progress | None,
) -> int:
    """Write one package per customer plus ``index.csv`` (customer id -> file). Returns the count."""
    holdings: dict[str, list[tuple[int, int, int]]] = {}
    for a, w in enumerate(works):
        real = np.nonzero(w.rows >= 0)[0]
        for position in real.tolist():
            row = int(w.rows[position])
            holdings.setdefault(w.column.customer_id(row), []).append((a, row, position))
    index_lines = ["customer_id,file"]
    total = len(holdings)
    for k, customer_id in enumerate(sorted(holdings)):
        entries = []
        for a, row, position in holdings[customer_id]:
            w = works[a]
            assert w.tree is not None
            v_blinding, salt = secrets.leaf(w.spec.symbol, customer_id)
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
                    merkle_root=w.tree.root,
                    merkle_path=tuple(w.tree.path(position)),
                )
            )
        package = Package(reserves.exchange, reserves.round, manifest.digest, customer_id, tuple(entries))
        name = package_file_name(customer_id)
        fd = os.open(out / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(package.to_bytes())
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
