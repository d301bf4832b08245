"""The work directory of a run: its parameters and every finished task's result (``docs/FORMAT.md`` §9).

``solvency prove`` keeps, while it runs, a private directory (mode 0700)::

    run.json                 what makes the run reproducible: run nonce, created, the key id
                             of the master secret, a digest of the inputs and options
    results/<digest>.bin     the result of the task whose SHA-256 is <digest> (hex), written
                             under a temporary name and renamed, so a file is whole or absent

Task results are public (commitments, hashes, proofs); ``run.json`` holds the run nonce,
which is private (with the master secret it reproduces every blinding) but is not the
master. ``solvency prove --resume DIR`` reopens the directory, refuses it if the inputs,
the options or the master secret differ from the run that made it, and skips every
task whose result is there. The directory is removed when the run succeeds.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from circuits.errors import InputError

__all__: list[str] = []

_FORMAT: Final[str] = "zk-solvency-workdir"
_VERSION: Final[int] = 1
_RUN_FILE: Final[str] = "run.json"
_RESULTS: Final[str] = "results"
_MAX_RUN_FILE: Final[int] = 1 << 16


@dataclass(frozen=True)
class WorkRecord:
    """What ``run.json`` of a work directory records."""

    run_nonce: bytes
    created: str
    key_id: bytes
    inputs: bytes

    def to_bytes(self) -> bytes:
        """Return the file's content."""
        return (
            json.dumps(
                {
                    "format": _FORMAT,
                    "format_version": _VERSION,
                    "run_nonce": self.run_nonce.hex(),
                    "created": self.created,
                    "key_id": self.key_id.hex(),
                    "inputs": self.inputs.hex(),
                },
                indent=2,
                sort_keys=True,
            )
            + "\n"
        ).encode()


class WorkDir:
    """A run's work directory (create it with :meth:`create`, reopen it with :meth:`resume`)."""

    def __init__(self, path: Path, record: WorkRecord) -> None:
        """Use the directory ``path`` holding ``record``; call :meth:`create` or :meth:`resume` instead."""
        self.path = path
        self.record = record
        self.reused = 0
        self.written = 0

    @classmethod
    def create(cls, path: Path, record: WorkRecord) -> WorkDir:
        """Create ``path`` (mode 0700, it must not exist) and write ``run.json``.

        Raises:
            InputError: the path exists (perhaps a crashed run: resume it) or its parent does not.
        """
        if os.path.lexists(path):
            raise InputError(
                f"{path}: work directory already exists (a crashed run? continue it with --resume {path}, "
                "or remove it)",
                section="--workdir",
            )
        if not path.parent.is_dir():
            raise InputError(f"{path.parent}: directory does not exist", section="--workdir")
        path.mkdir(mode=0o700)
        (path / _RESULTS).mkdir(mode=0o700)
        _write_atomic(path / _RUN_FILE, record.to_bytes())
        return cls(path, record)

    @classmethod
    def resume(cls, path: Path, *, key_id: bytes, inputs: bytes) -> WorkDir:
        """Reopen the work directory of a run that did not finish.

        Raises:
            InputError: not a work directory, made with another master secret, or for other inputs or options.
        """
        run_file = path / _RUN_FILE
        if not path.is_dir() or path.is_symlink() or not run_file.is_file() or run_file.is_symlink():
            raise InputError(f"{path}: not a work directory of solvency prove (no run.json)", section="--resume")
        try:
            data = run_file.read_bytes()[: _MAX_RUN_FILE + 1]
            doc = json.loads(data)
            if len(data) > _MAX_RUN_FILE or doc["format"] != _FORMAT or doc["format_version"] != _VERSION:
                raise ValueError("not a work directory")
            record = WorkRecord(
                bytes.fromhex(doc["run_nonce"]), str(doc["created"]), bytes.fromhex(doc["key_id"]),
                bytes.fromhex(doc["inputs"]),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{run_file}: unreadable work directory record ({exc})", section="--resume") from None
        if record.key_id != key_id:
            raise InputError(f"{path}: the run was made with another master secret", section="--resume")
        if record.inputs != inputs:
            raise InputError(
                f"{path}: the ledger, reserves, wallets or options differ from the run being resumed",
                section="--resume",
            )
        results = path / _RESULTS
        results.mkdir(mode=0o700, exist_ok=True)
        for stale in results.glob(".*.tmp-*"):  # a result half-written when the run died
            stale.unlink(missing_ok=True)
        return cls(path, record)

    def _result_path(self, digest: str) -> Path:
        return self.path / _RESULTS / f"{digest}.bin"

    def get(self, digest: str, size: int | None = None) -> bytes | None:
        """Return the stored result of task ``digest`` (of ``size`` bytes if given), or ``None``."""
        try:
            data = self._result_path(digest).read_bytes()
        except FileNotFoundError:
            return None
        if size is not None and len(data) != size:
            return None
        self.reused += 1
        return data

    def put(self, digest: str, result: bytes) -> None:
        """Store the result of task ``digest`` atomically."""
        _write_atomic(self._result_path(digest), result)
        self.written += 1

    def remove(self) -> None:
        """Remove the directory (the run succeeded)."""
        shutil.rmtree(self.path, ignore_errors=True)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
