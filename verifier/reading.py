r"""Reading a bundle and a package from disk (``docs/FORMAT.md`` §7 steps 1-2): files in, validated values out.

Nothing here verifies a proof. It opens and reads the untrusted files with bounded
memory and turns their bytes into validated types, reporting every failure as a
:class:`~circuits.errors.FormatError` whose ``section`` names the file or field:

* :func:`read_manifest`, :func:`read_json_file`: a bounded JSON file, parsed.
* :func:`check_file_set`, :func:`check_file`: the directory holds exactly the listed
  files; each has its listed size, SHA-256 and header.
* :class:`RecordReader`, :func:`read_small_file`, :func:`read_record`: the records of
  a checked data file, re-hashed (or length-checked) as they are read, so a file
  changed between two passes is reported as malformed.
* :class:`RecordFile`: random access to the records of a data file that is NOT hashed
  (the format-3 customer check, ``docs/FORMAT.md`` §8.1): regular file, size and
  header checked on open, then only the records asked for are read, and counted.
* :func:`decode_leaf`, :func:`decode_liabilities`: commitments as validated points.

Every file is opened by :func:`open_regular`: never through a symlink, never blocking on
a FIFO, and only if ``fstat`` says it is a regular file; anything else is malformed and
named. Data files are read with ``seek``/``read``, never whole.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Final, NamedTuple, TypeVar

from circuits.backends import GroupBackend
from circuits.constants import POINT_SIZE
from circuits.datafiles import (
    HEADER_SIZE,
    LEAF_RECORD_SIZE,
    MAGIC_LEAVES,
    MAGIC_NODE_PROOFS,
    MAGIC_NODES,
    MAGIC_RANGE_PROOFS,
    MAGIC_SOLVENCY,
    SOLVENCY_RECORD_SIZE,
    check_header,
    node_proof_record_size,
    range_record_size,
)
from circuits.errors import FormatError
from circuits.group import Point
from circuits.limits import MAX_MANIFEST_BYTES
from circuits.manifest import MANIFEST_NAME, AssetEntry, FileEntry, Manifest
from circuits.margin import MAGIC_MARGIN_PROOFS, MAGIC_MARGIN_RECORDS, MarginParams
from circuits.proofs import RangeProof
from circuits.sumtree import NODE_RECORD_SIZE, node_count

__all__ = ["decode_leaf", "read_manifest"]

#: Block size for streaming SHA-256 of data files.
HASH_BLOCK: Final[int] = 1 << 20

_Parsed = TypeVar("_Parsed")


#: Flags of every open of a bundle or package file: never follow a symlink, never block (a FIFO), no fd leak.
OPEN_FLAGS: Final[int] = (
    os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def _kind(mode: int) -> str:
    """Name the kind of a file that is not a regular file (for messages)."""
    for test, name in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def open_regular(path: Path, section: str, name: str | None = None) -> IO[bytes]:
    """Open ``path`` for reading only if it is a regular file itself: not a symlink, FIFO, device or directory.

    The open never follows a symlink (``O_NOFOLLOW``) and never blocks (``O_NONBLOCK``:
    a FIFO without a writer opens at once), then ``fstat`` on the open descriptor must
    say "regular file", so what is checked is what is read. Nothing about a symlink's
    target (its size, its contents) is ever looked at.

    Raises:
        FormatError: with ``section``, naming the file (``name``, default its file name).
    """
    shown = path.name if name is None else name
    try:
        fd = os.open(path, OPEN_FLAGS)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK) and os.path.islink(path):  # EMLINK: FreeBSD's O_NOFOLLOW
            raise FormatError(
                f"{section}: {shown} is a symbolic link; bundle and package files must be regular files",
                section=section,
            ) from None
        raise FormatError(f"{section}: cannot read {shown} ({exc.strerror})", section=section) from exc
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise FormatError(f"{section}: {shown} is {_kind(mode)}, not a regular file", section=section)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bounded(f: IO[bytes], limit: int, what: str) -> bytes:
    """Read a whole regular file (:func:`open_regular`) of at most ``limit`` bytes; memory follows its size.

    Raises:
        FormatError: the file is larger than ``limit`` (naming ``what``), or grew while being read.
    """
    size = os.fstat(f.fileno()).st_size
    if size > limit:
        raise FormatError(f"{what}: larger than {limit} bytes", section=what)
    data = f.read(size + 1)
    if len(data) > size:
        raise FormatError(f"{what}: the file changed while being read", section=what)
    return data


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
            ``section`` is the failing field's path (as ``parse`` set it), else ``what``.
    """
    try:
        with open_regular(path, what, name) as f:
            data = read_bounded(f, limit, what)
    except OSError as exc:
        raise FormatError(f"{what}: cannot read {name} ({exc.strerror})", section=what, file=path.name) from exc
    try:
        return parse(data)
    except FormatError as exc:
        if exc.section is None:
            exc.section = what
        if exc.file is None:
            exc.file = path.name
        raise


def decode_liabilities(manifest: Manifest, backend: GroupBackend) -> list[Point]:
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


def decode_debts(manifest: Manifest, backend: GroupBackend) -> list[Point]:
    """Decode every asset's ``debt_commitment`` (version 4; the identity allowed); ``[]`` without margin (§14.3).

    Raises:
        FormatError: a commitment does not decode (section ``manifest.assets[<a>].debt_commitment``).
    """
    if manifest.margin is None:
        return []
    points = []
    for i, asset in enumerate(manifest.assets):
        section = f"manifest.assets[{i}].debt_commitment"
        assert asset.debt_commitment is not None, "every asset of a version-4 manifest has a debt commitment"
        try:
            points.append(Point.from_bytes(asset.debt_commitment, backend))
        except FormatError as exc:
            raise FormatError(
                f"{section}: {exc}", section=section, file=MANIFEST_NAME, field=f"assets[{i}].debt_commitment"
            ) from exc
    return points


class MarginSection(NamedTuple):
    """A version-4 manifest's margin section (§14.3): the parameters, the records' root and the two files."""

    params: MarginParams
    root: bytes
    records: FileEntry
    proofs: FileEntry


def margin_section(manifest: Manifest) -> MarginSection | None:
    """Return the manifest's margin section, or ``None`` before version 4."""
    if manifest.margin is None:
        return None
    assert manifest.margin_root is not None and manifest.margin_records is not None, "a parsed v4 manifest"
    assert manifest.margin_proofs is not None, "a parsed v4 manifest"
    return MarginSection(manifest.margin, manifest.margin_root, manifest.margin_records, manifest.margin_proofs)


def margin_file_roles(manifest: Manifest) -> list[tuple[FileEntry, bytes, int, int]]:
    """Return ``(file, magic, count, record_size)`` of the margin records and proofs (§14.4); ``[]`` without margin."""
    margin = margin_section(manifest)
    if margin is None:
        return []
    params = margin.params
    return [
        (margin.records, MAGIC_MARGIN_RECORDS, params.accounts, params.record_size),
        (margin.proofs, MAGIC_MARGIN_PROOFS, params.groups, params.proofs_record_size),
    ]


def file_roles(asset: AssetEntry) -> list[tuple[FileEntry, bytes, int, int]]:
    """Return ``(file, magic, count, record_size)`` for each data file of ``asset`` (§3), in manifest order.

    Leaves, range proofs, solvency; in format version 3 also the nodes (``2C - 1``
    records, §3.4) and the node proofs (``C - 1`` records, §3.5), ``C`` the chunk count.
    """
    roles = [
        (asset.leaves, MAGIC_LEAVES, asset.leaf_count, LEAF_RECORD_SIZE),
        (asset.range_proofs, MAGIC_RANGE_PROOFS, asset.chunk_count, range_record_size(asset.chunk_size)),
        (asset.solvency, MAGIC_SOLVENCY, 1, SOLVENCY_RECORD_SIZE),
    ]
    if asset.nodes is not None and asset.node_proofs is not None:
        roles += [
            (asset.nodes, MAGIC_NODES, node_count(asset.chunk_count), NODE_RECORD_SIZE),
            (asset.node_proofs, MAGIC_NODE_PROOFS, asset.chunk_count - 1, node_proof_record_size()),
        ]
    return roles


def file_role_names(asset: AssetEntry) -> list[str]:
    """Return the manifest key (``"leaves"``, ..., ``"node_proofs"``) of each entry of :func:`file_roles`."""
    names = ["leaves", "range_proofs", "solvency"]
    return [*names, "nodes", "node_proofs"] if asset.has_sum_tree else names


def check_file_set(bundle: Path, manifest: Manifest) -> None:
    """Require the directory to hold exactly ``manifest.json`` and the listed files (§2, §7 step 2)."""
    expected = {MANIFEST_NAME}
    listed = [entry for asset in manifest.assets for entry, *_ in file_roles(asset)]
    listed += [entry for entry, *_ in margin_file_roles(manifest)]
    expected.update(entry.name for entry in listed)
    if manifest.wallets is not None:
        expected.add(manifest.wallets.name)
        listed.append(manifest.wallets)
    try:
        present = {entry.name: entry for entry in os.scandir(bundle)}
    except OSError as exc:
        raise FormatError(f"bundle: cannot list {str(bundle)!r} ({exc.strerror})", section="bundle") from exc
    extra = sorted(set(present) - expected)
    if extra:
        raise FormatError(
            f"bundle: unexpected file {extra[0]!r} (the manifest does not list it)", section=extra[0], file=extra[0]
        )
    for entry in listed:
        dir_entry = present.get(entry.name)
        if dir_entry is None:
            raise FormatError(f"{entry.name}: missing", section=entry.name, file=entry.name)
        if dir_entry.is_symlink():
            raise FormatError(
                f"{entry.name}: is a symbolic link; bundle files must be regular files",
                section=entry.name,
                file=entry.name,
            )
        if not dir_entry.is_file(follow_symlinks=False):
            raise FormatError(f"{entry.name}: not a regular file", section=entry.name, file=entry.name)


def check_file(path: Path, entry: FileEntry, magic: bytes, count: int, record_size: int) -> None:
    """Check one data file's size, SHA-256 (streamed in 1 MiB blocks), then header (§7 step 2).

    Raises:
        FormatError: with ``section`` the file name.
    """
    section = entry.name
    try:
        with open_regular(path, section) as f:
            size = os.fstat(f.fileno()).st_size
            if size != entry.size:
                raise FormatError(
                    f"{section}: size {size} bytes, manifest says {entry.size}", section=section, file=section
                )
            digest = hashlib.sha256()
            header = b""
            while block := f.read(HASH_BLOCK):
                if not header:
                    header = block[:HEADER_SIZE]
                digest.update(block)
    except OSError as exc:
        raise FormatError(f"{section}: cannot read ({exc.strerror})", section=section, file=section) from exc
    if digest.digest() != entry.sha256:
        raise FormatError(f"{section}: SHA-256 does not match the manifest", section=section, file=section)
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
        self._file: IO[bytes] = open_regular(path, self.section)
        self._hash = hashlib.sha256()
        self.read(HEADER_SIZE)

    def read(self, size: int) -> bytes:
        """Return the next ``size`` bytes.

        Raises:
            FormatError: the file ended early (it changed since it was hashed).
        """
        data = self._file.read(size)
        if len(data) != size:
            raise FormatError(
                f"{self.section}: file changed while being verified (truncated)",
                section=self.section,
                file=self.section,
            )
        self._hash.update(data)
        return data

    def finish(self) -> None:
        """Require end of file and the manifest's digest over everything read."""
        if self._file.read(1) or self._hash.digest() != self._entry.sha256:
            raise FormatError(
                f"{self.section}: file changed while being verified", section=self.section, file=self.section
            )

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
        with open_regular(path, section) as f:
            data = f.read(entry.size + 1)
    except OSError as exc:
        raise FormatError(f"{section}: cannot read ({exc.strerror})", section=section, file=section) from exc
    if len(data) != entry.size or hashlib.sha256(data).digest() != entry.sha256:
        raise FormatError(f"{section}: file changed while being verified", section=section, file=section)
    check_header(data[:HEADER_SIZE], magic, 1, record_size, section)
    return data[HEADER_SIZE:]


def read_record(path: Path, entry: FileEntry, index: int, record_size: int) -> bytes:
    """Return record ``index`` of a data file whose size, digest and header were checked (:func:`check_file`)."""
    section = entry.name
    try:
        with open_regular(path, section) as f:
            f.seek(HEADER_SIZE + index * record_size)
            data = f.read(record_size)
    except OSError as exc:
        raise FormatError(f"{section}: cannot read ({exc.strerror})", section=section, file=section) from exc
    if len(data) != record_size:
        raise FormatError(f"{section}: file changed while being verified (truncated)", section=section, file=section)
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


def decode_chunk_proof(record: bytes, backend: GroupBackend, asset: AssetEntry, k: int) -> RangeProof:
    """Parse the range-proof record of chunk ``k`` of ``asset`` (§3.2).

    Raises:
        FormatError: the record does not parse; section ``"<S>.rangeproofs.bin chunk <k>"``.
    """
    name = asset.range_proofs.name
    where = f"{name} chunk {k}"
    try:
        return RangeProof.from_bytes(record, backend)
    except FormatError as exc:
        raise FormatError(f"{where}: {exc}", section=where, file=name, field=f"chunk {k}") from exc


class RecordFile:
    """Random access to the records of one data file, without hashing it (format 3, ``docs/FORMAT.md`` §8.1).

    Opening checks what the customer check of version 3 requires of every file it
    reads: a regular file (:func:`open_regular`), of the manifest's ``size``, with
    §3's header. Then :meth:`record` and :meth:`records` read exactly the records
    asked for, by offset (record ``x`` at ``16 + x*record_size``). ``bytes_read``
    counts every byte read, the header included, so a caller (and a test) can
    show that a check read ``O(log N + m)`` records and not the file.
    """

    def __init__(self, path: Path, entry: FileEntry, magic: bytes, count: int, record_size: int) -> None:
        """Open ``path`` and check its size and header.

        Raises:
            FormatError: not a regular file, unreadable, another size or header;
                section the file name.
        """
        self.section = entry.name
        self.count = count
        self.record_size = record_size
        self.bytes_read = 0
        self._file: IO[bytes] = open_regular(path, self.section)
        try:
            size = os.fstat(self._file.fileno()).st_size
            if size != entry.size:
                raise FormatError(
                    f"{self.section}: size {size} bytes, manifest says {entry.size}",
                    section=self.section,
                    file=self.section,
                )
            check_header(self._read_at(0, HEADER_SIZE), magic, count, record_size, self.section)
        except BaseException:
            self._file.close()
            raise

    def _read_at(self, offset: int, size: int) -> bytes:
        try:
            self._file.seek(offset)
            data = self._file.read(size)
        except OSError as exc:
            raise FormatError(
                f"{self.section}: cannot read ({exc.strerror})", section=self.section, file=self.section
            ) from exc
        self.bytes_read += len(data)
        if len(data) != size:
            raise FormatError(
                f"{self.section}: file changed while being read (truncated)", section=self.section, file=self.section
            )
        return data

    def records(self, first: int, count: int) -> bytes:
        """Return records ``first .. first + count - 1``, concatenated.

        Raises:
            FormatError: the file ended early (it changed after it was opened).
        """
        if not 0 <= first <= first + count <= self.count:
            raise ValueError(f"records {first}..{first + count - 1} outside a file of {self.count}")
        return self._read_at(HEADER_SIZE + first * self.record_size, count * self.record_size)

    def record(self, index: int) -> bytes:
        """Return record ``index``."""
        return self.records(index, 1)

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> RecordFile:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def decode_node(record: bytes, backend: GroupBackend, section: str, index: int) -> tuple[Point, bytes]:
    """Split nodes-file record ``index`` into its commitment (validated; the identity allowed) and hash (§3.4).

    Raises:
        FormatError: the commitment does not decode; section ``"<S>.nodes.bin[<index>]"``.
    """
    where = f"{section}[{index}]"
    try:
        C = Point.from_bytes(record[:POINT_SIZE], backend)
    except FormatError as exc:
        raise FormatError(
            f"{where}: commitment: {exc}", section=where, file=section, field=f"record {index}"
        ) from exc
    return C, record[POINT_SIZE:NODE_RECORD_SIZE]


def decode_node_proof(record: bytes, backend: GroupBackend, asset: AssetEntry, split: int) -> RangeProof:
    """Parse the node proof of the sum node with split ``split`` (record ``split - 1``, §3.5).

    Raises:
        FormatError: the record does not parse; section ``"<S>.nodeproofs.bin[<split-1>]"``.
    """
    assert asset.node_proofs is not None, "decode_node_proof is for format-3 assets"
    name = asset.node_proofs.name
    where = f"{name}[{split - 1}]"
    try:
        return RangeProof.from_bytes(record, backend)
    except FormatError as exc:
        raise FormatError(f"{where}: {exc}", section=where, file=name, field=f"record {split - 1}") from exc
