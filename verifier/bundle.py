r"""Verify a proof bundle (``docs/FORMAT.md`` §7): returns a report or raises.

The procedure, in the order §7 prescribes, reporting the first failure with the
section it concerns:

1. ``manifest.json``: canonical, schema-exact, digest recomputed (:class:`Manifest`).
2. The directory holds exactly the listed files; each has the listed size and
   SHA-256, then the expected header.
3. Per asset, the leaves are streamed one chunk at a time: every commitment is
   decoded with full validation (canonical, on the curve, in the subgroup, not
   the identity), leaf ids strictly increase, and the Merkle root and
   ``C_L = sum_i V_i`` are accumulated and compared with the manifest.
4. Every chunk range proof (§3.2) is checked, ``batch_chunks`` chunks per MSM
   (:mod:`verifier.batch`). The chunk context binds the manifest's Merkle root,
   which step 3 compares with the recomputed root: a proof failure found while
   streaming is held back until the asset's steps 3 are done, so failures are
   reported in §7 order.
5. ``V_s = (den*R)*B - num*C_L`` and the solvency proof (§3.3); a disclosed
   opening of ``C_L`` is checked last.

Errors: :class:`~circuits.errors.FormatError` for malformed input (manifest,
file set, sizes, digests, headers, encodings, leaf order) and
:class:`~circuits.errors.VerificationError` for well-formed but false content
(Merkle root, ``C_L``, a range or solvency proof, a disclosed opening). Each
carries ``section`` (``"manifest.assets[0].reserves"``, ``"BTC.leaves.bin record
17"``, ``"BTC.rangeproofs.bin chunk 3"``, ``"BTC.solvency.bin"``, ...) and the partial
:class:`~verifier.report.BundleReport` as ``exc.report``.

Memory is bounded by ``batch_chunks`` chunks (their points and proof terms), not by
the bundle: data files are read with ``seek``/``read``, never whole.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, TypeVar

from circuits.backends import GroupBackend, get_backend
from circuits.bundle import (
    HEADER_SIZE,
    LEAF_RECORD_SIZE,
    MAGIC_LEAVES,
    MAGIC_RANGE_PROOFS,
    MAGIC_SOLVENCY,
    MANIFEST_NAME,
    MAX_MANIFEST_BYTES,
    RANGE_BITS,
    SOLVENCY_BITS,
    AssetEntry,
    FileEntry,
    Manifest,
    MerkleAccumulator,
    check_header,
    chunk_context,
    iter_leaf_records,
    leaf_hash,
    range_record_size,
    solvency_commitment,
    solvency_context,
)
from circuits.errors import FormatError, ParameterError, ProofError, VerificationError
from circuits.generators import PedersenGens
from circuits.group import Point
from circuits.proofs import RangeProof
from circuits.relations import RangeStatement
from verifier.batch import BatchVerificationError, verify_batch
from verifier.range_proof import verify_range
from verifier.report import AssetReport, BundleReport, format_units

__all__ = [
    "ChunkProgress",
    "LeafWatch",
    "check_file",
    "check_published_digest",
    "file_roles",
    "inspect_bundle",
    "liabilities_points",
    "new_asset_report",
    "read_manifest",
    "verify_asset",
    "verify_bundle",
]

#: Block size for streaming SHA-256 of data files.
HASH_BLOCK: Final[int] = 1 << 20

_Parsed = TypeVar("_Parsed")

#: ``progress(done_chunks, total_chunks)``.
ProgressCallback = Callable[[int, int], None]


# ---------------------------------------------------------------------------
# Files


def section_of(message: str, default: str) -> str:
    """Return the field path a circuits.bundle message starts with (``"manifest.assets[0].x: ..."``)."""
    head, sep, _ = message.partition(": ")
    if sep and head.startswith(default) and " " not in head:
        return head
    return default


def read_bounded(f: IO[bytes], limit: int, what: str) -> bytes:
    """Read a whole JSON file of at most ``limit`` bytes; memory follows the file's size, not the limit.

    Raises:
        FormatError: the file is larger than ``limit`` (naming ``what``), or grew while being read.
    """
    status = os.fstat(f.fileno())
    if stat.S_ISREG(status.st_mode):
        if status.st_size > limit:
            raise FormatError(f"{what}: larger than {limit} bytes", section=what)
        data = f.read(status.st_size + 1)
        if len(data) > status.st_size:
            raise FormatError(f"{what}: the file changed while being read", section=what)
        return data
    blocks = []  # a pipe or a device: no size to trust, read in blocks up to the limit
    total = 0
    while block := f.read(min(HASH_BLOCK, limit + 1 - total)):
        total += len(block)
        if total > limit:
            raise FormatError(f"{what}: larger than {limit} bytes", section=what)
        blocks.append(block)
    return b"".join(blocks)


def read_manifest(path: Path) -> Manifest:
    """Read and validate ``manifest.json`` of the bundle directory ``path`` (§7 step 1).

    ``path`` may also be the manifest file itself. A file over
    ``MAX_MANIFEST_BYTES`` is refused unread.

    Raises:
        FormatError: missing, unreadable, too large, not canonical, schema or digest
            mismatch; ``section`` names the field where known.
    """
    path = Path(path)
    manifest_path = path / MANIFEST_NAME if path.is_dir() else path
    if not path.exists():
        raise FormatError(f"bundle {str(path)!r} does not exist", section="bundle")
    return read_json_file(manifest_path, MAX_MANIFEST_BYTES, "manifest", MANIFEST_NAME, Manifest.from_bytes)


def read_json_file(path: Path, limit: int, what: str, name: str, parse: Callable[[bytes], _Parsed]) -> _Parsed:
    """Read a JSON file of at most ``limit`` bytes and ``parse`` it; errors name ``what`` and the field.

    Raises:
        FormatError: unreadable (naming ``name``), too large, or rejected by ``parse``;
            ``section`` is the field path the message starts with, else ``what``.
    """
    try:
        with open(path, "rb") as f:
            data = read_bounded(f, limit, what)
    except OSError as exc:
        raise FormatError(f"{what}: cannot read {name} ({exc.strerror})", section=what) from exc
    try:
        return parse(data)
    except FormatError as exc:
        raise FormatError(str(exc), section=section_of(str(exc), what)) from exc


def liabilities_points(manifest: Manifest, backend: GroupBackend) -> list[Point]:
    """Decode every asset's ``liabilities_commitment`` as a validated point (part of §7 step 1)."""
    points = []
    for i, asset in enumerate(manifest.assets):
        section = f"manifest.assets[{i}].liabilities_commitment"
        try:
            C_L = Point.from_bytes(asset.liabilities_commitment, backend)
        except FormatError as exc:
            raise FormatError(
                f"{section}: {exc}", section=section, file=MANIFEST_NAME, field=f"assets[{i}].liabilities_commitment"
            ) from exc
        points.append(C_L)
    return points


def file_roles(asset: AssetEntry) -> list[tuple[FileEntry, bytes, int, int]]:
    """Return ``(file, magic, count, record_size)`` for each data file of ``asset`` (§3)."""
    return [
        (asset.leaves, MAGIC_LEAVES, asset.leaf_count, LEAF_RECORD_SIZE),
        (asset.range_proofs, MAGIC_RANGE_PROOFS, asset.chunk_count, range_record_size(asset.chunk_size)),
        (asset.solvency, MAGIC_SOLVENCY, 1, RangeProof.size_for(SOLVENCY_BITS.bit_length() - 1)),
    ]


def _check_file_set(bundle: Path, manifest: Manifest) -> None:
    """Require the directory to hold exactly ``manifest.json`` and the listed files (§2, §7 step 2)."""
    expected = {MANIFEST_NAME}
    for asset in manifest.assets:
        expected.update(entry.name for entry, *_ in file_roles(asset))
    try:
        present = {entry.name: entry for entry in os.scandir(bundle)}
    except OSError as exc:
        raise FormatError(f"bundle: cannot list {str(bundle)!r} ({exc.strerror})", section="bundle") from exc
    extra = sorted(set(present) - expected)
    if extra:
        raise FormatError(f"bundle: unexpected file {extra[0]!r} (the manifest does not list it)", section=extra[0])
    for asset in manifest.assets:
        for entry, *_ in file_roles(asset):
            dir_entry = present.get(entry.name)
            if dir_entry is None:
                raise FormatError(f"{entry.name}: missing", section=entry.name)
            try:
                regular = dir_entry.is_file()
            except OSError:  # a symlink loop
                regular = False
            if not regular:
                raise FormatError(f"{entry.name}: not a regular file", section=entry.name)


def check_file(path: Path, entry: FileEntry, magic: bytes, count: int, record_size: int) -> None:
    """Check one data file's size, SHA-256 (streamed in 1 MiB blocks), then header (§7 step 2).

    Raises:
        FormatError: with ``section`` the file name.
    """
    section = entry.name
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size != entry.size:
                raise FormatError(f"{section}: size {size} bytes, manifest says {entry.size}", section=section)
            digest = hashlib.sha256()
            header = b""
            while block := f.read(HASH_BLOCK):
                if not header:
                    header = block[:HEADER_SIZE]
                digest.update(block)
    except OSError as exc:
        raise FormatError(f"{section}: cannot read ({exc.strerror})", section=section) from exc
    if digest.digest() != entry.sha256:
        raise FormatError(f"{section}: SHA-256 does not match the manifest", section=section)
    check_header(header, magic, count, record_size, section)


class RecordReader:
    """Sequential reader of a data file's records that re-hashes everything it reads.

    The file was hashed in step 2; :meth:`finish` requires the bytes read now to
    hash to the same digest, so a file changed between the two passes is reported
    as malformed rather than silently verified against other bytes.
    """

    def __init__(self, path: Path, entry: FileEntry) -> None:
        """Open ``path`` and consume its (already checked) header."""
        self.section = entry.name
        self._entry = entry
        try:
            self._file: IO[bytes] = open(path, "rb")
        except OSError as exc:
            raise FormatError(f"{self.section}: cannot read ({exc.strerror})", section=self.section) from exc
        self._hash = hashlib.sha256()
        self.read(HEADER_SIZE)

    def read(self, size: int) -> bytes:
        """Return the next ``size`` bytes.

        Raises:
            FormatError: the file ended early (it changed since it was hashed).
        """
        data = self._file.read(size)
        if len(data) != size:
            raise FormatError(f"{self.section}: file changed while being verified (truncated)", section=self.section)
        self._hash.update(data)
        return data

    def finish(self) -> None:
        """Require end of file and the manifest's digest over everything read."""
        if self._file.read(1) or self._hash.digest() != self._entry.sha256:
            raise FormatError(f"{self.section}: file changed while being verified", section=self.section)

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> RecordReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def read_small_file(path: Path, entry: FileEntry, magic: bytes, record_size: int) -> bytes:
    """Read a one-record data file whole (it is a few hundred bytes), check it, return the record."""
    section = entry.name
    try:
        with open(path, "rb") as f:
            data = f.read(entry.size + 1)
    except OSError as exc:
        raise FormatError(f"{section}: cannot read ({exc.strerror})", section=section) from exc
    if len(data) != entry.size or hashlib.sha256(data).digest() != entry.sha256:
        raise FormatError(f"{section}: file changed while being verified", section=section)
    check_header(data[:HEADER_SIZE], magic, 1, record_size, section)
    return data[HEADER_SIZE:]


def read_record(path: Path, entry: FileEntry, index: int, record_size: int) -> bytes:
    """Return record ``index`` of a data file whose size, digest and header were checked (:func:`check_file`)."""
    section = entry.name
    try:
        with open(path, "rb") as f:
            f.seek(HEADER_SIZE + index * record_size)
            data = f.read(record_size)
    except OSError as exc:
        raise FormatError(f"{section}: cannot read ({exc.strerror})", section=section) from exc
    if len(data) != record_size:
        raise FormatError(f"{section}: file changed while being verified (truncated)", section=section)
    return data


def decode_leaf(
    index: int, encoding: bytes, backend: GroupBackend, section: str, *, subgroup_check: bool = True
) -> Point:
    """Decode leaf ``index``'s commitment; the identity is malformed (§3.1).

    ``subgroup_check=False`` uses :meth:`Point.from_bytes_without_subgroup_check`,
    only for leaves that are merely summed and compared with a validated point.
    """
    where = f"{section} record {index}"
    decode = Point.from_bytes if subgroup_check else Point.from_bytes_without_subgroup_check
    try:
        V = decode(encoding, backend)
    except FormatError as exc:
        raise FormatError(f"{where}: commitment: {exc}", section=where, file=section, field=f"record {index}") from exc
    if V.is_identity():
        raise FormatError(f"{where}: commitment is the identity", section=where, file=section, field=f"record {index}")
    return V


def verify_solvency(
    manifest: Manifest,
    asset: AssetEntry,
    C_L: Point,
    record: bytes,
    pc_gens: PedersenGens,
    asset_index: int,
) -> None:
    """Verify an asset's solvency proof (§3.3, §7 step 5) and a disclosed opening of ``C_L``.

    Raises:
        FormatError: the proof record does not parse.
        VerificationError: ``V_s`` is the identity, the proof is false, or the
            disclosed opening does not open ``C_L``.
    """
    be = pc_gens.B.backend
    section = asset.solvency.name
    try:
        proof = RangeProof.from_bytes(record, be)
    except FormatError as exc:
        raise FormatError(f"{section}: {exc}", section=section, file=section) from exc
    V_s = solvency_commitment(pc_gens, asset.reserves, asset.num, asset.den, C_L)
    if V_s.is_identity():
        raise VerificationError(f"{section}: V_s = den*R*B - num*C_L is the identity", section=section, file=section)
    context = solvency_context(
        manifest.exchange,
        manifest.round,
        asset.symbol,
        asset.decimals,
        asset.reserves,
        asset.num,
        asset.den,
        asset.leaf_count,
        asset.merkle_root,
        C_L.to_bytes(),
    )
    try:
        verify_range(RangeStatement((V_s,), SOLVENCY_BITS, context), proof)
    except VerificationError as exc:
        raise VerificationError(
            f"{section}: the solvency proof does not verify: reserves {format_units(asset.reserves, asset.decimals)} "
            f"are not proven to be at least {asset.num}/{asset.den} of the liabilities ({exc})",
            section=section,
            file=section,
        ) from exc
    if asset.disclosed_liabilities is not None:
        amount, blinding = asset.disclosed_liabilities
        if pc_gens.commit(amount, blinding) != C_L:
            where = f"manifest.assets[{asset_index}].disclosed_liabilities"
            raise VerificationError(
                f"{where}: the disclosed opening does not open C_L",
                section=where,
                file=MANIFEST_NAME,
                field=f"assets[{asset_index}].disclosed_liabilities",
            )


# ---------------------------------------------------------------------------
# Verification


class _ChunkBatch:
    """Chunk proofs waiting for one batched MSM; the first failing chunk is kept."""

    def __init__(self, section: str, size: int) -> None:
        self.section = section
        self.size = size
        self.chunks: list[int] = []
        self.statements: list[RangeStatement] = []
        self.proofs: list[RangeProof] = []
        self.failure: ProofError | None = None

    def add(self, k: int, statement: RangeStatement, proof: RangeProof) -> None:
        self.chunks.append(k)
        self.statements.append(statement)
        self.proofs.append(proof)

    def full(self) -> bool:
        return len(self.chunks) >= self.size

    def flush(self) -> int:
        """Check the pending proofs in one MSM; return how many chunks were checked."""
        done = len(self.chunks)
        if done and self.failure is None:
            try:
                verify_batch(self.statements, self.proofs)
            except BatchVerificationError as exc:
                pos = exc.bad_indices[0]
                k = self.chunks[pos]
                reason = exc.reasons.get(pos, "the range proof does not verify")
                where = f"{self.section} chunk {k}"
                self.failure = VerificationError(
                    f"{where}: {reason}", section=where, file=self.section, field=f"chunk {k}"
                )
        self.chunks, self.statements, self.proofs = [], [], []
        return done

    def fail(self, error: ProofError) -> None:
        """Record ``error`` unless an earlier chunk already failed (checks the pending ones first)."""
        self.flush()
        if self.failure is None:
            self.failure = error


class ChunkProgress:
    """Counts verified chunk proofs over a whole run and reports ``(done, total)`` to a callback."""

    def __init__(self, total: int, callback: ProgressCallback | None) -> None:
        """Start at 0 of ``total`` chunks."""
        self.done = 0
        self.total = total
        self.callback = callback

    def advance(self, chunks: int) -> None:
        """Count ``chunks`` more verified chunks and report the new total."""
        self.done += chunks
        if self.callback is not None and chunks:
            self.callback(self.done, self.total)


#: ``watch[i](leaf_id, encoding)`` is called for leaf record ``i`` as it is streamed.
LeafWatch = Mapping[int, Callable[[bytes, bytes], None]]


def verify_asset(
    bundle: Path,
    manifest: Manifest,
    asset_index: int,
    C_L_manifest: Point,
    pc_gens: PedersenGens,
    report: AssetReport,
    batch_chunks: int = 16,
    progress: ChunkProgress | None = None,
    watch: LeafWatch | None = None,
) -> None:
    """Steps 3-5 of §7 for one asset whose data files passed :func:`check_file`.

    Sets the ``*_ok`` flags of ``report`` as each step passes. ``watch`` lets a
    caller look at chosen leaf records in the same pass (the customer check
    compares its own record): ``watch[i]`` is called with record ``i``'s leaf id and
    commitment bytes right after the record's order check, and may raise.
    """
    progress = progress if progress is not None else ChunkProgress(manifest.assets[asset_index].chunk_count, None)
    watch = watch or {}
    asset = manifest.assets[asset_index]
    be = pc_gens.B.backend
    m = asset.chunk_size
    leaves_section = asset.leaves.name
    proof_size = range_record_size(m)
    merkle = MerkleAccumulator()
    total = be.identity()
    add = be.add
    previous_id = b""
    batch = _ChunkBatch(asset.range_proofs.name, batch_chunks)

    with (
        RecordReader(bundle / asset.leaves.name, asset.leaves) as leaves,
        RecordReader(bundle / asset.range_proofs.name, asset.range_proofs) as proofs,
    ):
        for k in range(asset.chunk_count):
            commitments = []
            for i, lid, encoding in iter_leaf_records(leaves.read(m * LEAF_RECORD_SIZE), k * m):
                if lid <= previous_id:
                    where = f"{leaves_section} record {i}"
                    raise FormatError(
                        f"{where}: leaf id is not greater than the previous one",
                        section=where,
                        file=leaves_section,
                        field=f"record {i}",
                    )
                previous_id = lid
                if i in watch:
                    watch[i](lid, encoding)
                V = decode_leaf(i, encoding, be, leaves_section)
                merkle.push(leaf_hash(lid, i, encoding))
                total = add(total, V.raw)
                commitments.append(V)
            record = proofs.read(proof_size)
            if batch.failure is not None:
                continue  # §7 order: finish step 3 for this asset before reporting a step-4 failure
            where = f"{asset.range_proofs.name} chunk {k}"
            try:
                proof = RangeProof.from_bytes(record, be)
            except FormatError as exc:
                batch.fail(
                    FormatError(f"{where}: {exc}", section=where, file=asset.range_proofs.name, field=f"chunk {k}")
                )
                continue
            context = chunk_context(
                manifest.exchange, manifest.round, asset.symbol, asset.leaf_count, m, k, asset.merkle_root
            )
            batch.add(k, RangeStatement(tuple(commitments), RANGE_BITS, context), proof)
            if batch.full():
                progress.advance(batch.flush())
        progress.advance(batch.flush())
        leaves.finish()
        proofs.finish()

    root = merkle.root()
    if root != asset.merkle_root:
        raise VerificationError(
            f"{leaves_section}: the Merkle root of the leaves is {root.hex()}, the manifest says "
            f"{asset.merkle_root.hex()}",
            section=leaves_section,
            file=leaves_section,
        )
    report.merkle_root_ok = True
    C_L = Point(total, be)
    if C_L != C_L_manifest:
        raise VerificationError(
            f"{leaves_section}: the sum of the leaves C_L is not the manifest's liabilities_commitment",
            section=leaves_section,
            file=leaves_section,
        )
    report.sum_ok = True
    if batch.failure is not None:
        raise batch.failure
    report.range_proofs_ok = True

    record = read_small_file(
        bundle / asset.solvency.name,
        asset.solvency,
        MAGIC_SOLVENCY,
        RangeProof.size_for(SOLVENCY_BITS.bit_length() - 1),
    )
    verify_solvency(manifest, asset, C_L, record, pc_gens, asset_index)
    report.solvency_ok = True


def new_asset_report(asset: AssetEntry) -> AssetReport:
    """Return the not-yet-verified :class:`AssetReport` of ``asset``."""
    disclosed = None if asset.disclosed_liabilities is None else asset.disclosed_liabilities[0]
    return AssetReport(
        symbol=asset.symbol,
        decimals=asset.decimals,
        reserves=asset.reserves,
        leaf_count=asset.leaf_count,
        chunk_count=asset.chunk_count,
        chunk_size=asset.chunk_size,
        min_ratio=(asset.num, asset.den),
        liabilities_disclosed=disclosed,
    )


def check_published_digest(
    actual: bytes, published: bytes | None, section: str, what: str, *, file: str | None = None
) -> None:
    """Require ``actual`` to be the digest the exchange published, if the caller pinned one (§6, §8).

    Pinning the published digest is what defeats equivocation: a bundle shown to
    one party and a different one shown to another cannot both match it.

    Raises:
        VerificationError: the digests differ (``section`` and ``file`` as given, field ``bundle_digest``).
    """
    if published is not None and actual != published:
        raise VerificationError(
            f"{section}: {what} has digest {actual.hex()}, not the published digest {published.hex()}",
            section=section,
            file=file,
            field="bundle_digest",
        )


def verify_bundle(
    path: Path,
    *,
    backend: GroupBackend | None = None,
    batch_chunks: int = 16,
    progress: Callable[[int, int], None] | None = None,
    published_digest: bytes | None = None,
) -> BundleReport:
    """Verify the bundle directory ``path`` (``docs/FORMAT.md`` §7). Returns the report or raises.

    ``progress(done_chunks, total_chunks)`` is called after each batch of chunk
    proofs (totals over all assets). ``batch_chunks`` chunk proofs share one MSM.
    ``published_digest``, if given, is the bundle digest the exchange published: a
    bundle with another digest fails right after the manifest is read.

    Raises:
        FormatError: the bundle is malformed (``exc.section`` names where).
        VerificationError: the bundle is well formed but a check fails, or its
            digest is not ``published_digest`` (section ``"bundle_digest"``).
        Either carries the partial report as ``exc.report``.
    """
    be = backend or get_backend()
    if batch_chunks < 1:
        raise ParameterError(f"batch_chunks must be at least 1, got {batch_chunks}")
    report = BundleReport(ok=False, exchange="", round="", created="", bundle_digest="")
    try:
        path = Path(path)
        manifest = read_manifest(path)
        report.exchange, report.round, report.created = manifest.exchange, manifest.round, manifest.created
        report.bundle_digest = manifest.digest.hex()
        report.assets = [new_asset_report(a) for a in manifest.assets]
        check_published_digest(manifest.digest, published_digest, "bundle_digest", "the bundle", file=MANIFEST_NAME)
        if not path.is_dir():
            raise FormatError(f"bundle {str(path)!r} is not a directory", section="bundle")
        liabilities = liabilities_points(manifest, be)

        _check_file_set(path, manifest)
        for asset in manifest.assets:
            for entry, magic, count, record_size in file_roles(asset):
                check_file(path / entry.name, entry, magic, count, record_size)

        pc_gens = PedersenGens.default(be)
        counter = ChunkProgress(sum(a.chunk_count for a in manifest.assets), progress)
        for i, (asset_report, C_L) in enumerate(zip(report.assets, liabilities, strict=True)):
            verify_asset(path, manifest, i, C_L, pc_gens, asset_report, batch_chunks, counter)
    except ProofError as exc:
        report.fail(exc)
        exc.report = report
        raise
    report.ok = True
    return report


# ---------------------------------------------------------------------------
# Inspection


def _file_digest(path: Path) -> bytes | None:
    try:
        with open(path, "rb") as f:
            digest = hashlib.sha256()
            while block := f.read(HASH_BLOCK):
                digest.update(block)
    except OSError:
        return None
    return digest.digest()


def inspect_bundle(path: Path) -> dict[str, Any]:
    """Summarise a bundle WITHOUT verifying any proof: manifest fields, files, digests.

    The manifest itself is fully validated (it is the table of contents). For each
    listed file the summary says whether it is present, its size and whether its
    SHA-256 matches; unlisted files are named in ``extra_files``.

    Raises:
        FormatError: the manifest is missing or malformed.
    """
    manifest = read_manifest(Path(path))
    path = Path(path) if Path(path).is_dir() else Path(path).parent
    listed = {MANIFEST_NAME}
    assets = []
    files_ok = True
    for asset in manifest.assets:
        files = []
        for role, (entry, *_) in zip(("leaves", "range_proofs", "solvency"), file_roles(asset), strict=True):
            listed.add(entry.name)
            file_path = path / entry.name
            present = file_path.is_file()
            size = file_path.stat().st_size if present else None
            digest_ok = present and size == entry.size and _file_digest(file_path) == entry.sha256
            files_ok = files_ok and digest_ok
            files.append(
                {
                    "role": role,
                    "name": entry.name,
                    "size": entry.size,
                    "actual_size": size,
                    "present": present,
                    "sha256": entry.sha256.hex(),
                    "digest_ok": digest_ok,
                }
            )
        disclosed = asset.disclosed_liabilities
        assets.append(
            {
                "symbol": asset.symbol,
                "decimals": asset.decimals,
                "reserves": str(asset.reserves),
                "reserves_display": format_units(asset.reserves, asset.decimals),
                "min_ratio": {"num": asset.num, "den": asset.den},
                "leaf_count": asset.leaf_count,
                "chunk_size": asset.chunk_size,
                "chunk_count": asset.chunk_count,
                "merkle_root": asset.merkle_root.hex(),
                "liabilities_commitment": asset.liabilities_commitment.hex(),
                "liabilities_disclosed": None if disclosed is None else str(disclosed[0]),
                "liabilities_disclosed_display": (
                    None if disclosed is None else format_units(disclosed[0], asset.decimals)
                ),
                "files": files,
            }
        )
    extra = sorted(p.name for p in path.iterdir() if p.name not in listed)
    return {
        "exchange": manifest.exchange,
        "round": manifest.round,
        "created": manifest.created,
        "bundle_digest": manifest.digest.hex(),
        "assets": assets,
        "extra_files": extra,
        "files_ok": files_ok and not extra,
        "verified": False,
    }
