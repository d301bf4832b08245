"""Every bundle section mutated: a table-driven matrix of tampering, checked through the CLI and the library.

One tiny two-asset bundle (``tests/bundle_factory.py``, built once with the fast
backend) is copied per case and mutated in exactly one way:

=====================  ===========================================================
asset ``A``            3 customers + 1 dummy = 4 leaves, chunk 2 (2 chunk proofs of
                       1,025 bytes), ratio 3/2, liabilities not disclosed
asset ``B``            2 customers + 2 dummies = 4 leaves, chunk 4 (1 chunk proof
                       of 1,121 bytes), ratio 1/1, liabilities disclosed
=====================  ===========================================================

**Data files** (:data:`DATA_CASES`, all six): flip one byte at the start (the magic)
and in the header's count, in the middle (``size // 2``) and at the end; truncate
(one byte, one record); append (one byte, one record); swap two records (records 0
and 1; the one-record solvency files are swapped with each other, and
``B.rangeproofs.bin`` has a single record so it has no swap). Each mutation runs
in two modes:

* ``raw``: the manifest is untouched, so §7 step 2 catches the file by its size or
  SHA-256: always exit 3 with the file name as section;
* ``resigned``: the cheater recomputes the manifest's sizes, SHA-256s and bundle
  digest (``bundle_factory.resign``), so the deeper check fires; the table gives
  its exact class, section and a word of the message.

**manifest.json** (:data:`MANIFEST_BYTE_CASES`): flip a byte at the start, middle and
end, truncate, append (raw only: what is left is not canonical JSON, nothing can be
re-signed), and (:data:`FIELD_CASES`) one or more cases for every top-level key and
every per-asset key, each a changed value that still parses ("flip": a digit, a
character, a hex nibble) and an out-of-range, wrong-type or missing value
("invalid"), both without re-signing (the schema check or the digest fires) and
re-signed (the digest recomputed; the section the spec makes responsible fires).
The manifest's records are its assets: swap them, drop one, duplicate one.

Every case is run with both curve backends, against the same expectation: that
is how "the reference backend gives the same results as the fast one" is shown.
Each test asserts the exit code, ``failure_section``, ``failure_kind`` and
``exit_code`` of ``solvency verify --json`` and the exact exception class, section
and a word of the message of :func:`verifier.bundle.verify_bundle`. A few cases
also check the text report (``FAIL [section]``, no traceback).

Byte positions are chosen so that the outcome does not depend on the random bytes
of this bundle, except with negligible probability; the reason is written next to
each row. The file sizes the positions rely on are asserted by
:func:`test_file_sizes_match_the_table`.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from bundle_factory import AssetSpec, MadeBundle, load_manifest, make_bundle, resign
from click.testing import Result
from typer.testing import CliRunner

from circuits.backends import BACKEND_ENV, BACKEND_NAMES, get_backend
from circuits.errors import FormatError, ProofError, VerificationError
from cli.main import app
from verifier.bundle import verify_bundle

HEADER = 16
LEAF = 80  # 32-byte leaf id || 48-byte point V
#: Data files of the bundle: size in bytes, record size, the manifest path of its entry.
FILES: dict[str, tuple[int, int, str]] = {
    "A.leaves.bin": (16 + 4 * 80, 80, "assets[0].files.leaves"),
    "A.rangeproofs.bin": (16 + 2 * 1025, 1025, "assets[0].files.range_proofs"),  # 353 + 96*lg(64*2)
    "A.solvency.bin": (16 + 1025, 1025, "assets[0].files.solvency"),  # 353 + 96*lg(128)
    "B.leaves.bin": (16 + 4 * 80, 80, "assets[1].files.leaves"),
    "B.rangeproofs.bin": (16 + 1121, 1121, "assets[1].files.range_proofs"),  # 353 + 96*lg(64*4)
    "B.solvency.bin": (16 + 1025, 1025, "assets[1].files.solvency"),
}
BACKENDS = list(BACKEND_NAMES)


# --- expectations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """Outcome of verifying a mutated bundle: exit code 0/1/3, the section, a word of the message."""

    code: int
    section: str | None = None
    says: str = ""


def malformed(section: str, says: str = "") -> Expect:
    """FormatError, exit 3."""
    return Expect(3, section, says)


def false(section: str, says: str = "") -> Expect:
    """VerificationError, exit 1: well formed, but a check fails."""
    return Expect(1, section, says)


ACCEPTED = Expect(0)
DIGEST = malformed("manifest.bundle_digest", "does not match")  # an edit the cheater did not re-sign


# --- data-file mutations ---------------------------------------------------------------------

Mutation = Callable[[Path], None]  # applied to the bundle directory


def _edit(name: str, fn: Callable[[bytearray], None]) -> Mutation:
    def run(bundle: Path) -> None:
        data = bytearray((bundle / name).read_bytes())
        fn(data)
        (bundle / name).write_bytes(bytes(data))

    return run


def flip(name: str, offset: int, mask: int) -> Mutation:
    """XOR the byte at ``offset`` (negative: from the end) with ``mask``."""

    def fn(data: bytearray) -> None:
        data[offset] ^= mask

    return _edit(name, fn)


def truncate(name: str, n: int) -> Mutation:
    def fn(data: bytearray) -> None:
        del data[-n:]

    return _edit(name, fn)


def append(name: str, n: int) -> Mutation:
    """Append ``n`` bytes: a zero byte, or a copy of the last record."""

    def fn(data: bytearray) -> None:
        data += b"\x00" if n == 1 else data[-n:]

    return _edit(name, fn)


def swap(name: str, record: int) -> Mutation:
    """Swap records 0 and 1."""

    def fn(data: bytearray) -> None:
        first, second = slice(HEADER, HEADER + record), slice(HEADER + record, HEADER + 2 * record)
        data[first], data[second] = bytes(data[second]), bytes(data[first])

    return _edit(name, fn)


def swap_files(a: str, b: str) -> Mutation:
    def run(bundle: Path) -> None:
        data_a, data_b = (bundle / a).read_bytes(), (bundle / b).read_bytes()
        (bundle / a).write_bytes(data_b)
        (bundle / b).write_bytes(data_a)

    return run


@dataclass(frozen=True)
class DataCase:
    """One mutation of one data file; ``raw`` is always malformed with the file as section."""

    file: str
    mutation: str
    mutate: Mutation
    resigned: Expect
    raw_says: str = "SHA-256"  # "size" when the length changes

    @property
    def raw(self) -> Expect:
        return malformed(self.file, self.raw_says)


def _header_and_length_cases(name: str) -> list[DataCase]:
    """The same for every file: header flips, truncation and appending (re-signed: §7 steps 1-2)."""
    _, record, entry = FILES[name]
    size_field = f"manifest.{entry}.size"  # resign() writes the new size; §6 derives it from the counts
    return [
        DataCase(name, "flip-start", flip(name, 0, 0x01), malformed(name, "bad magic")),
        DataCase(name, "flip-header-count", flip(name, 8, 0x01), malformed(name, "header says")),
        DataCase(name, "truncate-byte", truncate(name, 1), malformed(size_field, "expected"), "size"),
        DataCase(name, "truncate-record", truncate(name, record), malformed(size_field, "expected"), "size"),
        DataCase(name, "append-byte", append(name, 1), malformed(size_field, "expected"), "size"),
        DataCase(name, "append-record", append(name, record), malformed(size_field, "expected"), "size"),
    ]


# Offsets below are file offsets. Record layouts: leaves (id 0-31, V 32-79, V[0] holds the flags, V[1:48]
# is x); RangeProof (docs/FORMAT.md §3, notes/60-wire-format.md): version 0, A 1, S 49, T_1 97, T_2 145,
# t_x 193, t_x_blinding 225, e_blinding 257, L_0 R_0 ... from 289, then a, b (32 bytes each, little-endian).
# * A flipped bit of x gives an x that is off the curve or off the subgroup (a random x is in the
#   prime-order subgroup with probability ~2^-126): malformed, the record named.
# * Flipping 0x20 of a point's first byte negates the point: still valid, so the content is false.
# * Flipping 0x80 of a scalar's last (most significant) byte makes it >= 2^255 > r: not canonical.
# * Flipping a low bit of a scalar keeps it below r (unless it is within 2^200 of r): valid but false.
# * Flipping the last bit of a leaf id keeps the ids increasing (unless two ids differ by 1): the Merkle
#   root changes.
DATA_CASES: list[DataCase] = [
    *_header_and_length_cases("A.leaves.bin"),
    # 168 = 16 + 80 + 72: record 1, V[40] (x)
    DataCase("A.leaves.bin", "flip-middle", flip("A.leaves.bin", 168, 0x01),
             malformed("A.leaves.bin record 1", "commitment")),
    # last byte: record 3, V[47] (x)
    DataCase("A.leaves.bin", "flip-end", flip("A.leaves.bin", -1, 0x80),
             malformed("A.leaves.bin record 3", "commitment")),
    # 127 = 16 + 80 + 31: record 1, the last byte of its leaf id
    DataCase("A.leaves.bin", "flip-leaf-id", flip("A.leaves.bin", 127, 0x01),
             false("A.leaves.bin", "Merkle root")),
    # 208 = 16 + 160 + 32: record 2, V[0] sign bit: -V, a valid point (root checked before C_L, §7 step 3)
    DataCase("A.leaves.bin", "flip-point-sign", flip("A.leaves.bin", 208, 0x20),
             false("A.leaves.bin", "Merkle root")),
    DataCase("A.leaves.bin", "swap-records", swap("A.leaves.bin", LEAF),
             malformed("A.leaves.bin record 1", "leaf id")),

    *_header_and_length_cases("A.rangeproofs.bin"),
    # 1033 = 16 + 1017: chunk 0, byte 24 of b (993-1024): a valid but wrong scalar
    DataCase("A.rangeproofs.bin", "flip-middle", flip("A.rangeproofs.bin", 1033, 0x01),
             false("A.rangeproofs.bin chunk 0")),
    # last byte: chunk 1, the top byte of b
    DataCase("A.rangeproofs.bin", "flip-end", flip("A.rangeproofs.bin", -1, 0x80),
             malformed("A.rangeproofs.bin chunk 1", "b: scalar is not canonical")),
    # 1042 = 16 + 1025 + 1: chunk 1, A[0] sign bit: -A, a valid point
    DataCase("A.rangeproofs.bin", "flip-point-sign", flip("A.rangeproofs.bin", 1042, 0x20),
             false("A.rangeproofs.bin chunk 1")),
    # each chunk now carries the other chunk's proof: both false, the first is reported
    DataCase("A.rangeproofs.bin", "swap-records", swap("A.rangeproofs.bin", 1025),
             false("A.rangeproofs.bin chunk 0")),

    *_header_and_length_cases("A.solvency.bin"),
    # 520 = 16 + 504 = 16 + 289 + 4*48 + 23: L_vec[2], byte 23 (x)
    DataCase("A.solvency.bin", "flip-middle", flip("A.solvency.bin", 520, 0x01),
             malformed("A.solvency.bin", "L_vec[2]")),
    DataCase("A.solvency.bin", "flip-end", flip("A.solvency.bin", -1, 0x80),
             malformed("A.solvency.bin", "b: scalar is not canonical")),
    # one record per solvency file: swap the two assets' files (same size); A is checked first
    DataCase("A.solvency.bin", "swap-with-B.solvency.bin", swap_files("A.solvency.bin", "B.solvency.bin"),
             false("A.solvency.bin", "solvency proof does not verify")),

    # Asset B is verified after asset A, which passes in full first (§7 order, per asset).
    *_header_and_length_cases("B.leaves.bin"),
    DataCase("B.leaves.bin", "flip-middle", flip("B.leaves.bin", 168, 0x01),
             malformed("B.leaves.bin record 1", "commitment")),
    DataCase("B.leaves.bin", "flip-end", flip("B.leaves.bin", -1, 0x80),
             malformed("B.leaves.bin record 3", "commitment")),
    DataCase("B.leaves.bin", "swap-records", swap("B.leaves.bin", LEAF),
             malformed("B.leaves.bin record 1", "leaf id")),

    # One chunk, so no swap inside the file (a swap with A's file is a size change: see truncate/append).
    *_header_and_length_cases("B.rangeproofs.bin"),
    # 568 = 16 + 552 = 16 + 289 + 5*48 + 23: R_vec[2], byte 23 (x)
    DataCase("B.rangeproofs.bin", "flip-middle", flip("B.rangeproofs.bin", 568, 0x01),
             malformed("B.rangeproofs.bin chunk 0", "R_vec[2]")),
    DataCase("B.rangeproofs.bin", "flip-end", flip("B.rangeproofs.bin", -1, 0x80),
             malformed("B.rangeproofs.bin chunk 0", "b: scalar is not canonical")),

    # (its swap is A.solvency.bin's swap-with-B.solvency.bin)
    *_header_and_length_cases("B.solvency.bin"),
    DataCase("B.solvency.bin", "flip-middle", flip("B.solvency.bin", 520, 0x01),
             malformed("B.solvency.bin", "L_vec[2]")),
    DataCase("B.solvency.bin", "flip-end", flip("B.solvency.bin", -1, 0x80),
             malformed("B.solvency.bin", "b: scalar is not canonical")),
]  # fmt: skip


# --- manifest mutations ----------------------------------------------------------------------


@dataclass(frozen=True)
class ManifestByteCase:
    """A byte-level edit of manifest.json that leaves no canonical JSON to re-sign."""

    mutation: str
    edit: Callable[[bytearray], None]
    expect: Expect


def _flip_at(position: Callable[[bytearray], int], mask: int) -> Callable[[bytearray], None]:
    def fn(data: bytearray) -> None:
        data[position(data)] ^= mask

    return fn


MANIFEST_BYTE_CASES: list[ManifestByteCase] = [
    # "{" -> "z": not JSON
    ManifestByteCase("flip-start", _flip_at(lambda d: 0, 0x01), malformed("manifest", "not valid JSON")),
    # the manifest is ASCII, so any byte XOR 0x80 is invalid UTF-8, whatever character it hits
    ManifestByteCase("flip-middle", _flip_at(lambda d: len(d) // 2, 0x80), malformed("manifest", "not valid JSON")),
    # the final "\n" -> "\v", which is not JSON whitespace
    ManifestByteCase("flip-end", _flip_at(lambda d: -1, 0x01), malformed("manifest", "not valid JSON")),
    # without its final newline the JSON still parses but is not canonical (§6)
    ManifestByteCase("truncate-byte", lambda d: d.pop(), malformed("manifest", "canonical")),
    ManifestByteCase("truncate-half", lambda d: d.__delitem__(slice(len(d) // 2, None)),
                     malformed("manifest", "not valid JSON")),
    ManifestByteCase("append-byte", lambda d: d.extend(b" "), malformed("manifest", "canonical")),
]  # fmt: skip

Edit = Callable[[dict[str, Any], Path], None]  # applied to the manifest object (and the bundle directory)


def _parts(path: str) -> list[str | int]:
    """Split ``"assets[0].files.leaves.size"`` into ``["assets", 0, "files", "leaves", "size"]``."""
    return [int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", path)]


def _parent(manifest: dict[str, Any], path: str) -> tuple[Any, str | int]:
    *head, last = _parts(path)
    obj: Any = manifest
    for key in head:
        obj = obj[key]
    return obj, last


def put(path: str, value: Any) -> Edit:
    """Set the field at ``path`` to ``value`` (a callable is applied to the old value)."""

    def run(manifest: dict[str, Any], bundle: Path) -> None:
        parent, key = _parent(manifest, path)
        parent[key] = value(parent[key]) if callable(value) else value

    return run


def delete(path: str) -> Edit:
    def run(manifest: dict[str, Any], bundle: Path) -> None:
        parent, key = _parent(manifest, path)
        del parent[key]

    return run


def last_char(text: str) -> str:
    """Flip the low bit of the last character: "Ltd" -> "Lte", "100" -> "101"."""
    return text[:-1] + chr(ord(text[-1]) ^ 0x01)


def nibble(index: int, mask: int = 0x1) -> Callable[[str], str]:
    """Flip bits of hex digit ``index`` (the result is still a lowercase hex digit)."""

    def fn(text: str) -> str:
        return text[:index] + format(int(text[index], 16) ^ mask, "x") + text[index + 1 :]

    return fn


def relabel(old: str, new: str) -> Edit:
    """Rename an asset consistently: symbol, file names, files on disk."""

    def run(manifest: dict[str, Any], bundle: Path) -> None:
        asset = next(a for a in manifest["assets"] if a["symbol"] == old)
        asset["symbol"] = new
        for entry in asset["files"].values():
            new_name = entry["name"].replace(f"{old}.", f"{new}.", 1)
            (bundle / entry["name"]).rename(bundle / new_name)
            entry["name"] = new_name

    return run


@dataclass(frozen=True)
class FieldCase:
    """An edit of the manifest object, written back as canonical JSON, then maybe re-signed."""

    field: str  # the manifest path the case is about ("assets[0].reserves"); "assets" for its records
    mutation: str
    edit: Edit
    raw: Expect  # the bundle_digest is left as it was
    resigned: Expect | None  # bundle_digest recomputed; None when the edit is of bundle_digest itself


def field_error(path: str, says: str = "") -> Expect:
    """A §6 schema failure: malformed, naming the field, re-signed or not (the schema is checked first)."""
    return malformed(f"manifest.{path}" if path else "manifest", says)


def _same(path: str, says: str = "") -> dict[str, Expect]:
    """``raw`` and ``resigned`` alike: the schema is checked before the digest (``Manifest.from_bytes``)."""
    return {"raw": field_error(path, says), "resigned": field_error(path, says)}


A, B = "assets[0]", "assets[1]"  # A: ratio 3/2, not disclosed; B: disclosed
A_FILES = {role: f"{A}.files.{role}" for role in ("leaves", "range_proofs", "solvency")}
A_FILE_NAMES = {"leaves": "A.leaves.bin", "range_proofs": "A.rangeproofs.bin", "solvency": "A.solvency.bin"}
A_SIZES = {role: FILES[name][0] for role, name in A_FILE_NAMES.items()}
DISCLOSED = f"manifest.{B}.disclosed_liabilities"

FIELD_CASES: list[FieldCase] = [
    # --- top level: constants (a different value is another format: malformed either way)
    FieldCase("format", "flip", put("format", last_char), **_same("format")),
    FieldCase("format_version", "flip", put("format_version", 5), **_same("format_version")),  # 4 is margin (§14)
    FieldCase("format_version", "invalid", put("format_version", "1"), **_same("format_version")),
    FieldCase("protocol", "flip", put("protocol", last_char), **_same("protocol")),
    FieldCase("generators", "flip", put("generators", nibble(0)), **_same("generators")),
    # --- top level: labels bound into every proof's context (§4)
    FieldCase("exchange", "flip", put("exchange", last_char), DIGEST, false("A.rangeproofs.bin chunk 0")),
    FieldCase("exchange", "invalid", put("exchange", ""), **_same("exchange")),
    FieldCase("round", "flip", put("round", last_char), DIGEST, false("A.rangeproofs.bin chunk 0")),
    FieldCase("round", "invalid", put("round", "x" * 257), **_same("round")),
    # created is bound by the digest only: re-signed it verifies, and only a pinned digest catches it
    # (test_resigned_but_accepted_edits_fail_against_the_published_digest)
    FieldCase("created", "flip", put("created", lambda t: t.replace(":00Z", ":01Z")), DIGEST, ACCEPTED),
    FieldCase("created", "invalid", put("created", "2026-01-31 00:05:00"), **_same("created")),
    FieldCase("created", "missing", delete("created"), **_same("created", "missing")),
    FieldCase("bundle_digest", "flip", put("bundle_digest", nibble(63)), DIGEST, None),
    FieldCase("bundle_digest", "invalid", put("bundle_digest", str.upper), field_error("bundle_digest"), None),
    FieldCase("manifest", "unknown-key", put("note", "x"), **_same("", "unknown field")),
    # --- the manifest's records: its assets
    FieldCase("assets", "swap-records", put("assets", lambda a: a[::-1]), **_same("assets", "sorted")),
    FieldCase("assets", "append-record", put("assets", lambda a: [*a, a[-1]]), **_same("assets", "unique")),
    # without B the directory holds three unlisted files; the first in sorted order is named (§7 step 2)
    FieldCase("assets", "truncate-record", put("assets", lambda a: a[:1]), DIGEST,
              malformed("B.leaves.bin", "unexpected file")),
    FieldCase("assets", "invalid", put("assets", []), **_same("assets", "empty")),
    # --- per asset (A unless noted)
    # a new symbol no longer matches the file names, which are checked first (schema)
    FieldCase(f"{A}.symbol", "flip", put(f"{A}.symbol", "C"), **_same(f"{A_FILES['leaves']}.name")),
    FieldCase(f"{A}.symbol", "invalid", put(f"{A}.symbol", "a"), **_same(f"{A}.symbol")),
    # renamed consistently (files too): the chunk contexts bind the symbol (§4)
    FieldCase(f"{A}.symbol", "relabel", relabel("A", "A0"), DIGEST, false("A0.rangeproofs.bin chunk 0")),
    FieldCase(f"{A}.decimals", "flip", put(f"{A}.decimals", 3), DIGEST, false("A.solvency.bin", "solvency")),
    FieldCase(f"{A}.decimals", "invalid", put(f"{A}.decimals", 31), **_same(f"{A}.decimals")),
    # a float never gets as far as the schema: §6 JSON has integers only (section: the manifest)
    FieldCase(f"{A}.decimals", "float", put(f"{A}.decimals", 2.0), **_same("", "non-integer")),
    FieldCase(f"{A}.reserves", "flip", put(f"{A}.reserves", last_char), DIGEST, false("A.solvency.bin", "solvency")),
    FieldCase(f"{A}.reserves", "invalid", put(f"{A}.reserves", str(1 << 128)), **_same(f"{A}.reserves")),
    FieldCase(f"{A}.reserves", "missing", delete(f"{A}.reserves"), **_same(f"{A}.reserves", "missing")),
    FieldCase(f"{A}.min_ratio.num", "flip", put(f"{A}.min_ratio.num", 5), DIGEST, false("A.solvency.bin")),
    FieldCase(f"{A}.min_ratio.num", "invalid", put(f"{A}.min_ratio.num", 0), **_same(f"{A}.min_ratio.num")),
    FieldCase(f"{A}.min_ratio.den", "flip", put(f"{A}.min_ratio.den", 1), DIGEST, false("A.solvency.bin")),
    FieldCase(f"{A}.min_ratio.den", "invalid", put(f"{A}.min_ratio.den", "2"), **_same(f"{A}.min_ratio.den")),
    # 3/4 < 1: each term in range, the ratio is not
    FieldCase(f"{A}.min_ratio", "invalid", put(f"{A}.min_ratio.den", 4), **_same(f"{A}.min_ratio", ">= 1")),
    # leaf_count and chunk_size fix the files' sizes (§3), and those are checked against the manifest's
    FieldCase(f"{A}.leaf_count", "flip", put(f"{A}.leaf_count", 8), **_same(f"{A_FILES['leaves']}.size")),
    FieldCase(f"{A}.leaf_count", "invalid", put(f"{A}.leaf_count", 3), **_same(f"{A}.leaf_count", "multiple")),
    FieldCase(f"{A}.chunk_size", "flip", put(f"{A}.chunk_size", 4), **_same(f"{A_FILES['range_proofs']}.size")),
    FieldCase(f"{A}.chunk_size", "invalid", put(f"{A}.chunk_size", 3), **_same(f"{A}.chunk_size", "power of two")),
    FieldCase(f"{A}.range_bits", "flip", put(f"{A}.range_bits", 32), **_same(f"{A}.range_bits")),
    FieldCase(f"{A}.merkle_root", "flip", put(f"{A}.merkle_root", nibble(5)), DIGEST,
              false("A.leaves.bin", "Merkle root")),
    FieldCase(f"{A}.merkle_root", "invalid", put(f"{A}.merkle_root", str.upper), **_same(f"{A}.merkle_root")),
    # hex digit 0 holds the flags: 0x2 of it is the sign bit, so -C_L, a valid point: the sum is false
    FieldCase(f"{A}.liabilities_commitment", "flip-sign", put(f"{A}.liabilities_commitment", nibble(0, 0x2)),
              DIGEST, false("A.leaves.bin", "C_L")),
    # the last hex digit is in x: off the curve or the subgroup, found when it is decoded (§7 step 1)
    FieldCase(f"{A}.liabilities_commitment", "flip", put(f"{A}.liabilities_commitment", nibble(95)),
              DIGEST, malformed(f"manifest.{A}.liabilities_commitment")),
    FieldCase(f"{A}.liabilities_commitment", "invalid", put(f"{A}.liabilities_commitment", lambda h: h[:-2]),
              **_same(f"{A}.liabilities_commitment", "48 bytes")),
    FieldCase(f"{B}.disclosed_liabilities.amount", "flip", put(f"{B}.disclosed_liabilities.amount", last_char),
              DIGEST, false(DISCLOSED, "does not open")),
    FieldCase(f"{B}.disclosed_liabilities.amount", "invalid",
              put(f"{B}.disclosed_liabilities.amount", str(1 << 96)), **_same(f"{B}.disclosed_liabilities.amount")),
    # hex digit 0 is in the least significant byte (little-endian): still a canonical scalar
    FieldCase(f"{B}.disclosed_liabilities.blinding", "flip", put(f"{B}.disclosed_liabilities.blinding", nibble(0)),
              DIGEST, false(DISCLOSED, "does not open")),
    FieldCase(f"{B}.disclosed_liabilities.blinding", "invalid",
              put(f"{B}.disclosed_liabilities.blinding", "ff" * 32),
              **_same(f"{B}.disclosed_liabilities.blinding", "not canonical")),
    FieldCase(f"{A}", "unknown-key", put(f"{A}.note", "x"), **_same(A, "unknown field")),
    *[
        case
        for role, path in A_FILES.items()
        for case in (
            FieldCase(f"{path}.name", "flip", put(f"{path}.name", last_char), **_same(f"{path}.name")),
            FieldCase(f"{path}.size", "flip", put(f"{path}.size", A_SIZES[role] + 1), **_same(f"{path}.size")),
            FieldCase(f"{path}.size", "invalid", put(f"{path}.size", str(A_SIZES[role])), **_same(f"{path}.size")),
            # re-signed, the listed digest is wrong for the file: §7 step 2 names the file
            FieldCase(f"{path}.sha256", "flip", put(f"{path}.sha256", nibble(10)), DIGEST,
                      malformed(A_FILE_NAMES[role], "SHA-256")),
            FieldCase(f"{path}.sha256", "invalid", put(f"{path}.sha256", str.upper), **_same(f"{path}.sha256")),
        )
    ],
]  # fmt: skip

# --- the bundle ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> MadeBundle:
    """The good bundle (see the module docstring), built once with the fast backend."""
    return make_bundle(
        tmp_path_factory.mktemp("mutations") / "bundle",
        [
            AssetSpec("A", {"alice": 5, "bob": 7, "carol": 11}, reserves=100, decimals=2, chunk=2, ratio=(3, 2)),
            AssetSpec("B", {"alice": 1000, "dave": 42}, reserves=5000, decimals=0, chunk=4, disclose=True),
        ],
        backend=get_backend("fast"),
    )


@pytest.fixture
def bundle(made: MadeBundle, tmp_path: Path) -> Path:
    """A private copy of the good bundle, to mutate."""
    copy = tmp_path / "bundle"
    shutil.copytree(made.path, copy)
    return copy


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _write_manifest(bundle: Path, manifest: dict[str, Any], *, sign: bool) -> None:
    """Write ``manifest`` canonically; with ``sign``, recompute bundle_digest (§6) as a cheater would.

    Only the digest: ``bundle_factory.rewrite_manifest`` would also restore the files' sizes and
    SHA-256s, undoing the ``files.*`` cases.
    """
    if sign:
        body = {k: v for k, v in manifest.items() if k != "bundle_digest"}
        manifest["bundle_digest"] = hashlib.sha256(b"zk-solvency bundle v1\x00" + _canonical(body)).hexdigest()
    (bundle / "manifest.json").write_bytes(_canonical(manifest) + b"\n")


# --- checking --------------------------------------------------------------------------------

runner = CliRunner()


def _verify_cli(bundle: Path, backend_name: str, *extra: str) -> Result:
    return runner.invoke(app, ["verify", str(bundle), "--quiet", *extra], env={BACKEND_ENV: backend_name})


def check(bundle: Path, expect: Expect, backend_name: str) -> None:
    """Verify ``bundle`` with the library and the CLI; both must give ``expect``."""
    be = get_backend(backend_name)
    if expect.code == 0:
        assert verify_bundle(bundle, backend=be).ok
    else:
        with pytest.raises(ProofError) as info:
            verify_bundle(bundle, backend=be)
        exc = info.value
        assert type(exc) is (FormatError if expect.code == 3 else VerificationError), f"{type(exc).__name__}: {exc}"
        assert exc.section == expect.section, str(exc)
        assert expect.says in str(exc), str(exc)

    result = _verify_cli(bundle, backend_name, "--json")
    assert result.exit_code == expect.code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    payload = json.loads(result.stdout)
    assert payload["ok"] is (expect.code == 0)
    if expect.code:
        assert payload["exit_code"] == expect.code
        assert payload["failure_section"] == expect.section
        assert payload["failure_kind"] == {1: "false", 3: "malformed"}[expect.code]
        assert expect.says in payload["failure"]


def _apply_data(bundle: Path, case: DataCase, mode: str) -> Expect:
    case.mutate(bundle)
    if mode == "raw":
        return case.raw
    resign(bundle, load_manifest(bundle))
    return case.resigned


def _apply_field(bundle: Path, case: FieldCase, mode: str) -> Expect:
    manifest = load_manifest(bundle)
    case.edit(manifest, bundle)
    _write_manifest(bundle, manifest, sign=mode == "resigned")
    expect = case.raw if mode == "raw" else case.resigned
    assert expect is not None
    return expect


def _field_id(field: str) -> str:
    return field if field == "manifest" else f"manifest.{field}"


DATA_PARAMS = [
    pytest.param(case, mode, be, id=f"{case.file}-{case.mutation}-{mode}-{be}")
    for case in DATA_CASES
    for mode in ("raw", "resigned")
    for be in BACKENDS
]
MANIFEST_BYTE_PARAMS = [
    pytest.param(case, be, id=f"manifest.json-{case.mutation}-raw-{be}")
    for case in MANIFEST_BYTE_CASES
    for be in BACKENDS
]
FIELD_PARAMS = [
    pytest.param(case, mode, be, id=f"{_field_id(case.field)}-{case.mutation}-{mode}-{be}")
    for case in FIELD_CASES
    for mode in ("raw", "resigned")
    if mode == "raw" or case.resigned is not None
    for be in BACKENDS
]


# --- the matrix ------------------------------------------------------------------------------


@pytest.mark.parametrize(("case", "mode", "backend_name"), DATA_PARAMS)
def test_data_file_mutation(bundle: Path, case: DataCase, mode: str, backend_name: str) -> None:
    check(bundle, _apply_data(bundle, case, mode), backend_name)


@pytest.mark.parametrize(("case", "backend_name"), MANIFEST_BYTE_PARAMS)
def test_manifest_byte_mutation(bundle: Path, case: ManifestByteCase, backend_name: str) -> None:
    data = bytearray((bundle / "manifest.json").read_bytes())
    case.edit(data)
    (bundle / "manifest.json").write_bytes(bytes(data))
    check(bundle, case.expect, backend_name)


@pytest.mark.parametrize(("case", "mode", "backend_name"), FIELD_PARAMS)
def test_manifest_field_mutation(bundle: Path, case: FieldCase, mode: str, backend_name: str) -> None:
    check(bundle, _apply_field(bundle, case, mode), backend_name)


# --- around the matrix -----------------------------------------------------------------------


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_the_unmutated_bundle_verifies(made: MadeBundle, backend_name: str) -> None:
    check(made.path, ACCEPTED, backend_name)


def test_file_sizes_match_the_table(made: MadeBundle) -> None:
    """The byte positions of DATA_CASES assume these sizes and record sizes."""
    manifest = load_manifest(made.path)
    for name, (size, record, entry) in FILES.items():
        assert (made.path / name).stat().st_size == size, name
        parent, key = _parent(manifest, entry)
        assert parent[key]["name"] == name and parent[key]["size"] == size
        assert (size - HEADER) % record == 0
    assert sorted(p.name for p in made.path.iterdir()) == sorted([*FILES, "manifest.json"])
    assert [a["disclosed_liabilities"] is not None for a in manifest["assets"]] == [False, True]
    assert manifest["assets"][0]["min_ratio"] == {"num": 3, "den": 2}


def test_every_data_file_gets_every_mutation(made: MadeBundle) -> None:
    done = {(c.file, c.mutation) for c in DATA_CASES}
    for name in FILES:
        for mutation in (
            "flip-start",
            "flip-middle",
            "flip-end",
            "truncate-byte",
            "truncate-record",
            "append-byte",
            "append-record",
        ):
            assert (name, mutation) in done, (name, mutation)
    swapped = {c.file for c in DATA_CASES if c.mutation.startswith("swap")}
    # B.rangeproofs.bin holds one record; B.solvency.bin is swapped with A.solvency.bin.
    assert swapped == set(FILES) - {"B.rangeproofs.bin", "B.solvency.bin"}


def _leaf_paths(obj: Any, prefix: str) -> set[str]:
    if isinstance(obj, dict):
        out = {prefix} if prefix else set()
        for key, value in obj.items():
            out |= _leaf_paths(value, f"{prefix}.{key}" if prefix else key)
        return out
    return {prefix}


def test_every_manifest_field_is_mutated(made: MadeBundle) -> None:
    """Every key of the manifest (top level and per asset, nested ones too) has a case, in both modes."""
    manifest = load_manifest(made.path)
    wanted = set(manifest)
    for asset in manifest["assets"]:
        wanted |= {f"assets[*].{p}" for p in _leaf_paths(asset, "")}
    # objects whose keys are mutated one by one
    structural = {
        "assets[*].files",
        "assets[*].files.leaves",
        "assets[*].files.range_proofs",
        "assets[*].files.solvency",
        "assets[*].disclosed_liabilities",
        "assets[*].min_ratio",
    }
    covered = {re.sub(r"assets\[\d\]", "assets[*]", c.field) for c in FIELD_CASES}
    assert wanted - covered - structural == set(), sorted(wanted - covered - structural)
    resigned = {re.sub(r"assets\[\d\]", "assets[*]", c.field) for c in FIELD_CASES if c.resigned is not None}
    assert wanted - resigned - structural == {"bundle_digest"}


@pytest.mark.parametrize(
    ("case", "mode"),
    [
        pytest.param(
            next(c for c in DATA_CASES if (c.file, c.mutation) == ("A.leaves.bin", "flip-middle")),
            "resigned",
            id="A.leaves.bin-flip-middle-resigned",
        ),
        pytest.param(
            next(c for c in DATA_CASES if (c.file, c.mutation) == ("A.rangeproofs.bin", "flip-middle")),
            "resigned",
            id="A.rangeproofs.bin-flip-middle-resigned",
        ),
        pytest.param(
            next(c for c in DATA_CASES if (c.file, c.mutation) == ("B.solvency.bin", "flip-start")),
            "raw",
            id="B.solvency.bin-flip-start-raw",
        ),
    ],
)
@pytest.mark.parametrize("backend_name", BACKENDS)
def test_text_report_names_the_section(bundle: Path, case: DataCase, mode: str, backend_name: str) -> None:
    expect = _apply_data(bundle, case, mode)
    result = _verify_cli(bundle, backend_name)
    assert result.exit_code == expect.code
    assert f"FAIL [{expect.section}]" in result.stdout, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_text_report_names_a_manifest_field(bundle: Path, backend_name: str) -> None:
    case = next(c for c in FIELD_CASES if (c.field, c.mutation) == (f"{A}.reserves", "invalid"))
    expect = _apply_field(bundle, case, "resigned")
    result = _verify_cli(bundle, backend_name)
    assert result.exit_code == 3
    assert f"FAIL [{expect.section}]" in result.stdout, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_resigned_but_accepted_edits_fail_against_the_published_digest(
    made: MadeBundle, bundle: Path, backend_name: str
) -> None:
    """A re-signed edit the verifier cannot see (``created``) changes the digest a customer pins (§6, §8)."""
    accepted = [c for c in FIELD_CASES if c.resigned == ACCEPTED]
    assert [c.field for c in accepted] == ["created"]
    _apply_field(bundle, accepted[0], "resigned")
    published = made.manifest["bundle_digest"]
    with pytest.raises(VerificationError) as info:
        verify_bundle(bundle, backend=get_backend(backend_name), published_digest=bytes.fromhex(published))
    assert type(info.value) is VerificationError and info.value.section == "bundle_digest"
    result = _verify_cli(bundle, backend_name, "--json", "--digest", published)
    assert result.exit_code == 1, result.output
    payload = json.loads(result.stdout)
    assert (payload["failure_section"], payload["failure_kind"]) == ("bundle_digest", "false")
