r"""The package store: where ``solvency prove`` puts the private customer packages (``docs/FORMAT.md`` §9, §13).

A *sink* receives the packages one at a time, builds its output under a temporary name
beside the target, and renames it into place only when :meth:`PackageSink.publish` has
written everything, so a target path either does not exist or is complete:

* ``open_sink(path, "sqlite")`` (the default of ``solvency prove``) writes one SQLite 3
  database file (mode 0600) with the two tables of §13;
* ``open_sink(path, "dir")`` (``--packages-format dir``) writes the directory of §9 (mode
  0700): one file per customer (mode 0600), ``index.csv`` and ``run.json``.

:class:`PackageStore` reads a database read-only, after checking that it is one (a regular
file, an SQLite database that passes ``PRAGMA quick_check``, the §13 tables, a known
``format``, as many rows as ``count``; otherwise :class:`~circuits.errors.FormatError`), and
hands out one package by customer id or by keyed name, or exports one package file, or
the whole directory, through the directory sink (one writer of that directory).

Memory stays bounded whatever the number of customers: the SQLite sink inserts each row
as it arrives, inside one transaction (SQLite's page cache is bounded and spills to the
file), and the directory sink writes each package file at once and streams ``index.csv``
while the customer ids arrive in order (out of order, it keeps only the ids and names to
sort them). Readers stream rows; no method loads more than one package.
"""

from __future__ import annotations

import errno
import itertools
import os
import re
import shutil
import sqlite3
import stat
import struct
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from io import BufferedWriter
from pathlib import Path
from types import TracebackType
from typing import Final, Literal, Protocol, Self

from circuits.errors import FormatError, InputError
from circuits.limits import MAX_ID_BYTES, MAX_LABEL_BYTES, MAX_PACKAGE_BYTES
from circuits.text import text_problem
from prover.amounts import quote_value

__all__ = ["PackageSink", "PackageStore", "StoreMeta", "open_sink"]

#: The two kinds of sink: one SQLite database (§13) or the directory of files (§9).
SinkKind = Literal["sqlite", "dir"]

#: ``meta.format`` and ``meta.format_version`` of a package store.
STORE_FORMAT: Final[str] = "zk-solvency-package-store"
STORE_FORMAT_VERSION: Final[int] = 1

_INDEX_FILE: Final[str] = "index.csv"
_RUN_FILE: Final[str] = "run.json"
_INDEX_HEADER: Final[bytes] = b"customer_id,file\n"
#: A keyed package file name (§9): 32 lower-case hex digits and ``.json``.
_NAME_RE: Final[re.Pattern[str]] = re.compile(r"[0-9a-f]{32}\.json")
_DIGEST_RE: Final[re.Pattern[str]] = re.compile(r"[0-9a-f]{64}")
_COUNT_RE: Final[re.Pattern[str]] = re.compile(r"0|[1-9][0-9]{0,18}")
_DIGEST_SIZE: Final[int] = 32
#: Largest ``meta.run`` a reader accepts (``run.json`` is a few hundred bytes).
_MAX_RUN_BYTES: Final[int] = 1 << 16

#: The §13 schema, exactly as the spec writes it (SQLite keeps this text in ``sqlite_schema``).
_SCHEMA: Final[tuple[str, ...]] = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE packages (name TEXT PRIMARY KEY, customer_id TEXT NOT NULL UNIQUE, package BLOB NOT NULL)",
)
#: ``(name, declared type, not null, primary key)`` of each column of each table, as ``PRAGMA table_xinfo`` says.
_COLUMNS: Final[dict[str, frozenset[tuple[str, str, int, int]]]] = {
    "meta": frozenset({("key", "TEXT", 0, 1), ("value", "TEXT", 1, 0)}),
    "packages": frozenset({("name", "TEXT", 0, 1), ("customer_id", "TEXT", 1, 0), ("package", "BLOB", 1, 0)}),
}
#: The columns that must each carry a UNIQUE index (the lookups by key, by name and by customer id).
_UNIQUE: Final[dict[str, frozenset[str]]] = {"meta": frozenset({"key"}), "packages": frozenset({"name", "customer_id"})}
_META_KEYS: Final[tuple[str, ...]] = ("format", "format_version", "exchange", "round", "bundle_digest", "count", "run")

#: fsyncs of the directory sink's files in flight at once, and files listed at a time.
_FSYNC_THREADS: Final[int] = 16
_FSYNC_BATCH: Final[int] = 1024

_SQLITE_MAGIC: Final[bytes] = b"SQLite format 3\x00"
_SQLITE_HEADER_SIZE: Final[int] = 100


@dataclass(frozen=True)
class StoreMeta:
    """The run a store's packages belong to: the ``meta`` rows of §13 besides format and count.

    ``run`` is the exact content of ``run.json`` (§9); it holds the run nonce, so it is
    kept out of ``repr``.
    """

    exchange: str
    round: str
    bundle_digest: bytes
    run: bytes = field(repr=False)


class PackageSink(Protocol):
    """Where the prover writes the private packages: add each, then publish, or abort.

    A sink is also a context manager whose exit calls :meth:`abort`, which does nothing
    once the sink is published: ``with open_sink(path, kind) as sink: ...; sink.publish(meta)``
    leaves nothing behind if anything in the block raises. Calls must not overlap (one
    thread at a time).
    """

    @property
    def path(self) -> Path:
        """The path the sink publishes to."""
        ...

    def add(self, customer_id: str, name: str, package: bytes) -> None:
        """Add the package of ``customer_id``, whose keyed file name (§9) is ``name``.

        Raises:
            InputError: a customer id or name already added, or not valid (a text field of at most
                256 bytes; 32 lower-case hex digits and ``.json``), or a package above 4 MiB.
        """
        ...

    def publish(self, meta: StoreMeta) -> None:
        """Write the run's metadata, make everything durable and rename the result into place.

        On failure the temporary output is removed and the target is not created.

        Raises:
            InputError: ``meta`` is not valid, or the target path appeared meanwhile.
        """
        ...

    def abort(self) -> None:
        """Remove the temporary output. Idempotent; does nothing after :meth:`publish`."""
        ...

    def __enter__(self) -> Self:
        """Return the sink itself."""
        ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Call :meth:`abort` (nothing to do if the sink was published)."""
        ...


def open_sink(path: Path, kind: SinkKind) -> PackageSink:
    """Start writing the packages to ``path``: one SQLite database (``"sqlite"``) or a directory (``"dir"``).

    The output is built under ``.<name>.packages-tmp-<pid>`` beside ``path`` (a stale one of
    that name, left by a crashed run of the same process id, is removed first).

    Raises:
        InputError: ``path`` exists (even as a dangling symlink), its parent directory does not,
            or ``kind`` is not one of the two.
    """
    path = Path(path)
    if kind not in ("sqlite", "dir"):
        raise InputError(f"unknown packages format {kind!r} (expected sqlite or dir)", section="--packages-format")
    _fresh_target(path)
    tmp = path.with_name(f".{path.name}.packages-tmp-{os.getpid()}")
    _remove(tmp)
    if kind == "sqlite":
        _remove(Path(f"{tmp}-journal"))
        return _SqliteSink(path, tmp)
    return _DirectorySink(path, tmp)


# ---------------------------------------------------------------------------
# The sinks


class _Sink:
    """What both sinks share: the checks of each entry and of the metadata, and the publish/abort states."""

    def __init__(self, path: Path, tmp: Path) -> None:
        self._path = path
        self._tmp = tmp
        self._state: Literal["open", "published", "aborted"] = "open"
        self._count = 0

    @property
    def path(self) -> Path:
        """The path the sink publishes to."""
        return self._path

    def __enter__(self) -> Self:
        """Return the sink itself."""
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Call :meth:`abort` (nothing to do if the sink was published)."""
        self.abort()

    def add(self, customer_id: str, name: str, package: bytes) -> None:
        """Add one customer's package (see :meth:`PackageSink.add`).

        Raises:
            InputError: a duplicate or invalid customer id or name, or a package above 4 MiB.
            RuntimeError: the sink is already published or aborted (a bug of the caller).
        """
        self._check_open()
        problem = text_problem(customer_id, MAX_ID_BYTES)
        if problem is not None:
            raise InputError(f"customer id {_quoted(customer_id)}: {problem}", section="customer_id")
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            raise InputError(
                f"package name {_quoted(name)}: expected 32 lower-case hex digits and .json", section="name"
            )
        if not isinstance(package, bytes | bytearray | memoryview):
            raise InputError(f"the package of {_quoted(customer_id)} is not bytes", section="package")
        if len(package) > MAX_PACKAGE_BYTES:
            raise InputError(
                f"the package of {_quoted(customer_id)} has {len(package)} bytes, above the {MAX_PACKAGE_BYTES} "
                "a verifier reads",
                section="package",
            )
        self._add(customer_id, name, bytes(package))
        self._count += 1

    def publish(self, meta: StoreMeta) -> None:
        """Finish the output and rename it into place (see :meth:`PackageSink.publish`).

        Raises:
            InputError: ``meta`` is not valid, or the target path appeared meanwhile.
            RuntimeError: the sink is already published or aborted (a bug of the caller).
        """
        self._check_open()
        try:
            run_text = _check_meta(meta)
            self._finish(meta, run_text)
            # The target was free when the sink opened; refuse one that appeared since (os.rename
            # would silently replace a file or an empty directory).
            if os.path.lexists(self._path):
                raise InputError(f"{self._path}: appeared while the packages were written", section=str(self._path))
            os.rename(self._tmp, self._path)
        except BaseException:
            self.abort()
            raise
        self._state = "published"
        _fsync_directory(self._path.parent)

    def abort(self) -> None:
        """Remove the temporary output (see :meth:`PackageSink.abort`)."""
        if self._state != "open":
            return
        self._state = "aborted"
        try:
            self._close()
        finally:
            _remove(self._tmp)

    def _check_open(self) -> None:
        if self._state != "open":
            raise RuntimeError(f"the package sink of {self._path} is already {self._state}")

    def _add(self, customer_id: str, name: str, package: bytes) -> None:
        raise NotImplementedError

    def _finish(self, meta: StoreMeta, run_text: str) -> None:
        """Write everything left into the temporary output, close it and make it durable."""
        raise NotImplementedError

    def _close(self) -> None:
        """Release open handles (on abort)."""
        raise NotImplementedError


class _DirectorySink(_Sink):
    """The directory of §9, byte for byte what ``solvency prove --packages-format dir`` always wrote.

    ``index.csv`` is written as the packages arrive while their customer ids increase (the
    prover adds them in that order, and so does :meth:`PackageStore.export_all`), so nothing
    is kept in memory; on the first id out of order the sink reads the ids and names written
    so far back and keeps them, to write the index sorted at :meth:`publish`.
    """

    def __init__(self, path: Path, tmp: Path) -> None:
        super().__init__(path, tmp)
        self._last: str | None = None
        self._unsorted: dict[str, str] | None = None
        tmp.mkdir(mode=0o700)
        try:
            self._index = _create_private(tmp / _INDEX_FILE)
            self._index.write(_INDEX_HEADER)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _add(self, customer_id: str, name: str, package: bytes) -> None:
        if self._unsorted is None and self._last is not None and customer_id <= self._last:
            if customer_id == self._last:
                raise _duplicate("customer id", customer_id)
            self._unsorted = self._read_index()
        if self._unsorted is not None and customer_id in self._unsorted:
            raise _duplicate("customer id", customer_id)
        try:
            fh = _create_private(self._tmp / name)
        except FileExistsError:
            raise _duplicate("package name", name) from None
        with fh:
            fh.write(package)
        if self._unsorted is None:
            self._index.write(_index_line(customer_id, name))
            self._last = customer_id
        else:
            self._unsorted[customer_id] = name

    def _read_index(self) -> dict[str, str]:
        """The ids and names written to ``index.csv`` so far (ids hold no newline: they are text fields)."""
        self._index.flush()
        found: dict[str, str] = {}
        with open(self._tmp / _INDEX_FILE, "rb") as fh:
            fh.readline()
            for line in fh:
                quoted, _, name = line.rstrip(b"\n").rpartition(b",")
                found[quoted[1:-1].decode("utf-8").replace('""', '"')] = name.decode("ascii")
        return found

    def _finish(self, meta: StoreMeta, run_text: str) -> None:
        if self._unsorted is not None:
            self._index.seek(0)
            self._index.truncate()
            self._index.write(_INDEX_HEADER)
            for customer_id in sorted(self._unsorted):
                self._index.write(_index_line(customer_id, self._unsorted[customer_id]))
        self._index.flush()
        os.fsync(self._index.fileno())
        self._index.close()
        with _create_private(self._tmp / _RUN_FILE) as fh:
            fh.write(meta.run)
        _fsync_files(entry.path for entry in os.scandir(self._tmp))
        _fsync_directory(self._tmp)

    def _close(self) -> None:
        self._index.close()


class _SqliteSink(_Sink):
    """One SQLite database with the §13 schema, built in one transaction.

    Journaling: ``journal_mode=MEMORY``. The database is new and private until the rename,
    so a crash only leaves a temporary file the next run of the same pid removes (and no
    reader ever sees it): there is nothing a rollback journal on disk would protect. In
    memory, the journal holds only the pages that existed when the transaction began (the
    empty schema: pages added by the transaction are never journaled), so it stays a few
    pages however many rows are added, and a failed ``INSERT`` (a duplicate) is still rolled
    back properly, which ``journal_mode=OFF`` does not promise. No ``-journal`` or ``-wal``
    file is ever created: the published database is one complete file. ``synchronous=OFF``,
    since :meth:`publish` fsyncs the file itself once it is closed.

    Each :meth:`add` runs one ``INSERT`` at once (no Python-side buffer): SQLite's UNIQUE
    indexes refuse a duplicate id or name in that very call, and the sink stays usable.
    Batching the rows with ``executemany`` saves about 15 % of the insert time only (200,000
    rows of 2 KB: 3.7 s instead of 4.3 s), a small part of what making the packages costs.
    """

    def __init__(self, path: Path, tmp: Path) -> None:
        super().__init__(path, tmp)
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # the mode SQLite then keeps
        try:
            self._db = sqlite3.connect(tmp, isolation_level=None, check_same_thread=False)
            try:
                self._db.execute("PRAGMA journal_mode=MEMORY")
                self._db.execute("PRAGMA synchronous=OFF")
                self._db.execute("BEGIN")
                for statement in _SCHEMA:
                    self._db.execute(statement)
            except BaseException:
                self._db.close()
                raise
        except BaseException:
            _remove(tmp)
            raise

    def _add(self, customer_id: str, name: str, package: bytes) -> None:
        try:
            self._db.execute(
                "INSERT INTO packages (name, customer_id, package) VALUES (?, ?, ?)", (name, customer_id, package)
            )
        except sqlite3.IntegrityError:
            taken = self._db.execute("SELECT 1 FROM packages WHERE customer_id = ?", (customer_id,)).fetchone()
            raise (_duplicate("customer id", customer_id) if taken else _duplicate("package name", name)) from None

    def _finish(self, meta: StoreMeta, run_text: str) -> None:
        rows = (
            ("format", STORE_FORMAT),
            ("format_version", str(STORE_FORMAT_VERSION)),
            ("exchange", meta.exchange),
            ("round", meta.round),
            ("bundle_digest", meta.bundle_digest.hex()),
            ("count", str(self._count)),
            ("run", run_text),
        )
        self._db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", rows)
        self._db.execute("COMMIT")
        self._db.close()
        fd = os.open(self._tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _close(self) -> None:
        self._db.close()


# ---------------------------------------------------------------------------
# The reader


class PackageStore:
    """A package store (§13) opened read-only and checked; use :meth:`open`.

    Also a context manager (its exit closes the store).
    """

    def __init__(self, path: Path, db: sqlite3.Connection, meta: StoreMeta, count: int) -> None:
        """Wrap a connection :meth:`open` has checked (not for direct use)."""
        self._path = path
        self._db = db
        self._meta = meta
        self._count = count

    @classmethod
    def open(cls, path: Path | str) -> PackageStore:
        """Open the store at ``path`` read-only, after checking it.

        Raises:
            FormatError: (``section`` the path, ``field`` what failed) the path is not a regular file (a
                symlink is refused), not an SQLite database, truncated or corrupt (``PRAGMA quick_check``), or
                lacks the §13 tables, columns, unique indexes or ``meta`` keys, has another ``format`` or
                ``format_version``, or a ``count`` other than its number of rows.
        """
        path = Path(path)
        _check_file(path)
        try:
            db = sqlite3.connect(path.absolute().as_uri() + "?mode=ro", uri=True, isolation_level=None)
        except sqlite3.Error as exc:
            raise _malformed(path, "database", f"cannot open the database ({exc})") from None
        try:
            after = os.lstat(path)
            if not stat.S_ISREG(after.st_mode):
                raise _malformed(path, "file", "not a regular file (it changed while being opened)")
            db.execute("PRAGMA trusted_schema=OFF")
            db.execute("PRAGMA cell_size_check=ON")
            _check_schema(db, path)
            meta, count = _read_meta(db, path)
            (rows,) = db.execute("SELECT count(*) FROM packages").fetchone()
            if rows != count:
                raise _malformed(path, "meta.count", f"meta.count is {count} but the store has {rows} packages")
            problems = db.execute("PRAGMA quick_check(1)").fetchall()
            if problems != [("ok",)]:
                raise _malformed(path, "quick_check", f"the database is corrupt ({problems[0][0]})")
        except (sqlite3.ProgrammingError, sqlite3.InterfaceError):
            db.close()
            raise
        except sqlite3.DatabaseError as exc:
            db.close()
            raise _malformed(path, "database", f"not a valid SQLite database ({exc})") from None
        except BaseException:
            db.close()
            raise
        return cls(path, db, meta, count)

    @property
    def path(self) -> Path:
        """The store's path."""
        return self._path

    @property
    def meta(self) -> StoreMeta:
        """The run the packages belong to (``meta`` besides format and count)."""
        return self._meta

    def __len__(self) -> int:
        """The number of packages (``meta.count``, checked against the rows when opened)."""
        return self._count

    def __enter__(self) -> Self:
        """Return the store itself."""
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close the store."""
        self.close()

    def close(self) -> None:
        """Close the database (idempotent)."""
        self._db.close()

    def package(self, customer_id: str) -> bytes:
        """Return the exact bytes of ``customer_id``'s package.

        Raises:
            InputError: no package of that customer (``section`` ``"--customer-id"``).
            FormatError: the row is not a valid package (not a BLOB, above 4 MiB), or the database is corrupt.
        """
        package = self._lookup("customer_id", customer_id)
        if package is None:
            raise InputError(
                f"{self._path.name}: no package of customer {_quoted(customer_id)}", section="--customer-id"
            )
        return package

    def by_name(self, name: str) -> bytes:
        """Return the exact bytes of the package whose keyed file name (§9) is ``name``.

        Raises:
            InputError: no package of that name (``section`` ``"name"``).
            FormatError: the row is not a valid package, or the database is corrupt.
        """
        package = self._lookup("name", name)
        if package is None:
            raise InputError(f"{self._path.name}: no package named {_quoted(name)}", section="name")
        return package

    def customer_ids(self) -> Iterator[str]:
        """Yield every customer id, sorted by code point (SQLite's UTF-8 order), streaming from the database.

        Raises:
            FormatError: a customer id that is not a text field, or the database is corrupt.
        """
        with self._reading():
            cursor = self._db.execute("SELECT customer_id FROM packages ORDER BY customer_id")
            try:
                for (customer_id,) in cursor:
                    yield self._checked_id(customer_id)
            finally:
                cursor.close()

    def export_one(self, customer_id: str, out: Path) -> None:
        """Write ``customer_id``'s package to the file ``out`` (mode 0600), under a temporary name then renamed.

        Raises:
            InputError: no package of that customer, or ``out`` exists or its directory does not.
            FormatError: the row is not a valid package, or the database is corrupt.
        """
        out = Path(out)
        package = self.package(customer_id)
        _fresh_target(out)
        tmp = out.with_name(f".{out.name}.package-tmp-{os.getpid()}")
        _remove(tmp)
        try:
            with _create_private(tmp) as fh:
                fh.write(package)
                fh.flush()
                os.fsync(fh.fileno())
            if os.path.lexists(out):
                raise InputError(f"{out}: appeared while the package was written", section=str(out))
            os.rename(tmp, out)
        except BaseException:
            _remove(tmp)
            raise
        _fsync_directory(out.parent)

    def export_all(self, out_dir: Path) -> int:
        """Write every package to the directory ``out_dir``, as ``open_sink(out_dir, "dir")`` publishes it.

        The result is byte for byte (names, contents, ``index.csv``, ``run.json``, modes) what
        ``solvency prove --packages-format dir`` writes for the same run. Returns the number of packages.

        Raises:
            InputError: ``out_dir`` exists or its parent does not.
            FormatError: a row is not valid (customer id, name or package), or the database is corrupt.
        """
        with open_sink(Path(out_dir), "dir") as sink:
            written = 0
            with self._reading():
                cursor = self._db.execute(
                    "SELECT customer_id, name, typeof(package), length(package), "
                    f"{_BOUNDED_PACKAGE} FROM packages ORDER BY customer_id",
                    (MAX_PACKAGE_BYTES,),
                )
                try:
                    for customer_id, name, kind, size, package in cursor:
                        customer_id = self._checked_id(customer_id)
                        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
                            raise _malformed(
                                self._path, "packages.name", f"package name {_quoted(str(name))} is not a keyed name"
                            )
                        sink.add(customer_id, name, self._checked_package(kind, size, package))
                        written += 1
                finally:
                    cursor.close()
            if written != self._count:
                raise _malformed(self._path, "meta.count", f"meta.count is {self._count} but {written} rows were read")
            sink.publish(self._meta)
        return written

    # -- helpers

    def _lookup(self, column: Literal["customer_id", "name"], value: str) -> bytes | None:
        with self._reading():
            row = self._db.execute(
                f"SELECT typeof(package), length(package), {_BOUNDED_PACKAGE} FROM packages WHERE {column} = ?",
                (MAX_PACKAGE_BYTES, value),
            ).fetchone()
        return None if row is None else self._checked_package(*row)

    def _checked_package(self, kind: object, size: object, package: object) -> bytes:
        if kind != "blob" or not isinstance(size, int):
            raise _malformed(self._path, "packages.package", f"a package is {kind}, not a BLOB")
        if size > MAX_PACKAGE_BYTES or not isinstance(package, bytes):
            raise _malformed(
                self._path, "packages.package", f"a package has {size} bytes, above the {MAX_PACKAGE_BYTES} allowed"
            )
        return package

    def _checked_id(self, customer_id: object) -> str:
        problem = text_problem(customer_id, MAX_ID_BYTES)
        if problem is not None:
            raise _malformed(self._path, "packages.customer_id", f"a customer id is not valid: {problem}")
        assert isinstance(customer_id, str)  # text_problem accepts only strings
        return customer_id

    def _reading(self) -> AbstractContextManager[None]:
        return _reading(self._path)


#: The package column when it is a BLOB of at most ``?`` bytes, else NULL (SQLite reads a
#: BLOB's length from the record header, so an oversized one is never loaded).
_BOUNDED_PACKAGE: Final[str] = "CASE WHEN typeof(package) = 'blob' AND length(package) <= ? THEN package END"


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Turn an SQLite error met while reading a checked store into :class:`FormatError` (field ``database``)."""
    try:
        yield
    except sqlite3.ProgrammingError:  # a closed store: a bug of the caller, not a malformed file
        raise
    except sqlite3.DatabaseError as exc:
        raise _malformed(path, "database", f"the database is corrupt ({exc})") from None


def _check_file(path: Path) -> None:
    """Refuse what is not a regular file holding an SQLite 3 database of the size its header states."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise _malformed(path, "file", "no such file") from None
    except OSError as exc:
        raise _malformed(path, "file", f"cannot read the file ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        what = "a symlink" if stat.S_ISLNK(st.st_mode) else ("a directory" if stat.S_ISDIR(st.st_mode) else "special")
        raise _malformed(path, "file", f"not a regular file ({what})")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise _malformed(path, "file", f"cannot read the file ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as fh:
        header = fh.read(_SQLITE_HEADER_SIZE)
    if len(header) < _SQLITE_HEADER_SIZE or not header.startswith(_SQLITE_MAGIC):
        raise _malformed(path, "database", "not an SQLite 3 database")
    (page_size,) = struct.unpack_from(">H", header, 16)
    page_size = 65536 if page_size == 1 else page_size
    (change_counter, pages) = struct.unpack_from(">II", header, 24)
    (valid_for,) = struct.unpack_from(">I", header, 92)
    # The in-header page count is valid when "version-valid-for" equals the change counter (SQLite >= 3.7.0).
    if valid_for == change_counter and pages and st.st_size != pages * page_size:
        how = "truncated" if st.st_size < pages * page_size else "longer than its header says"
        raise _malformed(
            path, "database", f"the database is {how} ({st.st_size} bytes, not {pages} pages of {page_size})"
        )


def _check_schema(db: sqlite3.Connection, path: Path) -> None:
    """Refuse a database without the §13 tables, exactly their columns, and the unique indexes."""
    for table, columns in _COLUMNS.items():
        found = db.execute("SELECT type FROM sqlite_schema WHERE name = ?", (table,)).fetchone()
        if found is None or found[0] != "table":
            raise _malformed(path, f"table {table}", f"no table {table}")
        rows = db.execute("SELECT name, type, \"notnull\", pk, hidden FROM pragma_table_xinfo(?)", (table,)).fetchall()
        have = frozenset((str(name), str(kind).upper(), notnull, pk) for name, kind, notnull, pk, _ in rows)
        # hidden: a generated or virtual-table column, which the format has not.
        if have != columns or len(rows) != len(columns) or any(row[4] for row in rows):
            raise _malformed(path, f"table {table}", f"table {table} does not have the columns of the format")
        unique = set()
        for index, is_unique, partial in db.execute(
            "SELECT name, \"unique\", partial FROM pragma_index_list(?)", (table,)
        ).fetchall():
            indexed = [row[0] for row in db.execute("SELECT name FROM pragma_index_info(?)", (index,))]
            if is_unique and not partial and len(indexed) == 1:
                unique.add(indexed[0])
        if not _UNIQUE[table] <= unique:
            missing = ", ".join(sorted(_UNIQUE[table] - unique))
            raise _malformed(path, f"table {table}", f"table {table} has no unique index on {missing}")


def _read_meta(db: sqlite3.Connection, path: Path) -> tuple[StoreMeta, int]:
    """Read and check the ``meta`` rows; return the metadata and ``count``."""
    rows = db.execute(
        "SELECT key, CASE WHEN typeof(value) = 'text' AND length(CAST(value AS BLOB)) <= ? THEN value END FROM meta "
        "LIMIT ?",
        (_MAX_RUN_BYTES, len(_META_KEYS) + 1),
    ).fetchall()
    values: dict[str, str] = {}
    for key, value in rows:
        if key not in _META_KEYS:
            raise _malformed(path, "meta", f"meta has an unknown key {_quoted(str(key))}")
        if not isinstance(value, str):
            raise _malformed(path, f"meta.{key}", f"meta.{key} is not text of at most {_MAX_RUN_BYTES} bytes")
        values[key] = value
    for key in _META_KEYS:
        if key not in values:
            raise _malformed(path, f"meta.{key}", f"meta has no {key}")
    if values["format"] != STORE_FORMAT:
        raise _malformed(path, "meta.format", f"meta.format is {_quoted(values['format'])}, not {STORE_FORMAT}")
    if values["format_version"] != str(STORE_FORMAT_VERSION):
        raise _malformed(
            path, "meta.format_version",
            f"meta.format_version is {_quoted(values['format_version'])}; this reader knows {STORE_FORMAT_VERSION}",
        )
    for key in ("exchange", "round"):
        problem = text_problem(values[key], MAX_LABEL_BYTES)
        if problem is not None:
            raise _malformed(path, f"meta.{key}", f"meta.{key}: {problem}")
    if not _DIGEST_RE.fullmatch(values["bundle_digest"]):
        raise _malformed(path, "meta.bundle_digest", "meta.bundle_digest is not 64 lower-case hex digits")
    if not _COUNT_RE.fullmatch(values["count"]):
        raise _malformed(path, "meta.count", f"meta.count {_quoted(values['count'])} is not a decimal count")
    meta = StoreMeta(
        values["exchange"], values["round"], bytes.fromhex(values["bundle_digest"]), values["run"].encode("utf-8")
    )
    return meta, int(values["count"])


# ---------------------------------------------------------------------------
# Helpers


def _check_meta(meta: StoreMeta) -> str:
    """Refuse metadata a reader would refuse; return ``run`` as text."""
    for where, value in (("exchange", meta.exchange), ("round", meta.round)):
        problem = text_problem(value, MAX_LABEL_BYTES)
        if problem is not None:
            raise InputError(f"{where}: {problem}", section=where)
    if not isinstance(meta.bundle_digest, bytes) or len(meta.bundle_digest) != _DIGEST_SIZE:
        raise InputError(f"the bundle digest must be {_DIGEST_SIZE} bytes", section="bundle_digest")
    if not isinstance(meta.run, bytes) or len(meta.run) > _MAX_RUN_BYTES:
        raise InputError(f"run.json must be bytes, at most {_MAX_RUN_BYTES}", section=_RUN_FILE)
    try:
        return meta.run.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("run.json is not UTF-8", section=_RUN_FILE) from None


def _index_line(customer_id: str, name: str) -> bytes:
    """One line of ``index.csv``: the id double-quoted, a ``"`` inside it doubled (§9)."""
    return ('"' + customer_id.replace('"', '""') + '",' + name + "\n").encode("utf-8")


def _create_private(path: Path) -> BufferedWriter:
    """Create ``path`` exclusively with mode 0600, open for writing.

    Raises:
        FileExistsError: ``path`` exists.
    """
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")



def _fresh_target(path: Path) -> None:
    # lexists: a dangling symlink or a symlink loop is also "something already there".
    if os.path.lexists(path):
        raise InputError(f"{path}: already exists; refusing to overwrite", section=str(path))
    if not path.parent.is_dir():
        raise InputError(f"{path.parent}: directory does not exist", section=str(path))


def _remove(path: Path) -> None:
    """Remove ``path`` (a file, a symlink or a directory tree) if it exists."""
    if not os.path.lexists(path):
        return
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def _fsync_files(paths: Iterable[str]) -> None:
    """Make every file of ``paths`` durable (fsync), several at once.

    One after another, each fsync waits for its own journal commit (ext4: about 0.6 ms a file, so
    10 minutes for a million packages); concurrent fsyncs share commits, about ten times faster.
    Paths are taken a batch at a time, so memory does not grow with their number.
    """
    iterator = iter(paths)
    with ThreadPoolExecutor(max_workers=_FSYNC_THREADS) as pool:
        for batch in iter(lambda: list(itertools.islice(iterator, _FSYNC_BATCH)), []):
            list(pool.map(_fsync_file, batch))


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(path: Path) -> None:
    """Make a rename in (or the entries of) ``path`` durable; a file system without directory fsync is skipped."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def _duplicate(what: Literal["customer id", "package name"], value: str) -> InputError:
    section = "customer_id" if what == "customer id" else "name"
    return InputError(f"{what} {_quoted(value)} was already added", section=section)


def _quoted(value: object) -> str:
    return quote_value(value) if isinstance(value, str) else repr(value)


def _malformed(path: Path, what: str, message: str) -> FormatError:
    return FormatError(f"{path}: {message}", section=str(path), file=path.name, field=what)
