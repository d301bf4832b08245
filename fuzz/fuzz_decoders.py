r"""Atheris (libFuzzer) harness for every zk-solvency decoder.

Usage (see ``fuzz/README.md``)::

    python fuzz/fuzz_decoders.py TARGET [libFuzzer flags] [corpus dirs]
    python fuzz/fuzz_decoders.py manifest -max_total_time=60 fuzz/corpus/manifest

One entry point, :func:`dispatch`, routes a fuzz input to the decoder named by the
target (:data:`TARGETS`). The only exception a decoder may raise is the project's
:class:`~circuits.errors.FormatError` (the bundle verifier and the customer check
may also raise :class:`~circuits.errors.VerificationError`); :func:`dispatch`
swallows exactly those and lets anything else propagate, so atheris reports it as
a crash. Some targets also assert a property (a parsed value re-encodes to the
same bytes, a Merkle path has the length the tree implies, a tampered data file
never verifies): an ``AssertionError`` is a crash too.

The module imports neither atheris nor the library at import time, so the test
suite can import :func:`dispatch` without atheris (``tests/test_fuzz_decoders.py``
runs it on the seed corpus) and :func:`main` can import the library inside
``atheris.instrument_imports()`` for coverage feedback.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Final

__all__ = ["ROLES", "TARGETS", "Fixture", "dispatch", "fixture", "main", "merkle_path_length"]

#: Repository root (this file is ``<root>/fuzz/fuzz_decoders.py``).
ROOT: Final[Path] = Path(__file__).resolve().parents[1]

#: Data-file roles of a bundle asset, in the order a selector byte picks them.
ROLES: Final[tuple[str, ...]] = ("leaves", "range_proofs", "solvency")

#: Offset of the inner-product proof inside a range proof (version, 4 points, 3 scalars).
IPP_OFFSET: Final[int] = 1 + 4 * 48 + 3 * 32


@cache
def _lib() -> SimpleNamespace:
    """Import the library once; :func:`main` calls this inside ``atheris.instrument_imports``."""
    from circuits import datafiles, jsonio, manifest, merkle, package
    from circuits.backends import get_backend
    from circuits.errors import FormatError, ProofError, VerificationError
    from circuits.group import Point, scalar_from_bytes, scalar_to_bytes
    from circuits.proofs import InnerProductProof, RangeProof
    from verifier.bundle import verify_bundle
    from verifier.package import check_package
    from verifier.reading import decode_leaf

    return SimpleNamespace(
        datafiles=datafiles,
        jsonio=jsonio,
        manifest=manifest,
        merkle=merkle,
        package=package,
        fast=get_backend("fast"),
        FormatError=FormatError,
        ProofError=ProofError,
        VerificationError=VerificationError,
        Point=Point,
        scalar_from_bytes=scalar_from_bytes,
        scalar_to_bytes=scalar_to_bytes,
        InnerProductProof=InnerProductProof,
        RangeProof=RangeProof,
        decode_leaf=decode_leaf,
        verify_bundle=verify_bundle,
        check_package=check_package,
    )


# ---------------------------------------------------------------------------
# A tiny valid bundle (for the data-file and customer targets and the seed corpus)


@dataclass(frozen=True)
class Fixture:
    """A tiny valid bundle: ``pristine`` is never modified, ``work`` is rewritten per input."""

    root: Path
    pristine: Path
    work: Path
    names: dict[str, str]
    files: dict[str, bytes]
    manifest: bytes
    package: bytes


def make_tiny_bundle(root: Path) -> Fixture:
    """Write a one-asset, two-leaf bundle and one customer's package under ``root``.

    Uses ``tests/bundle_factory.py`` (a writer built from ``docs/FORMAT.md``).
    """
    tests_dir = str(ROOT / "tests")
    if tests_dir not in sys.path:
        sys.path.insert(0, tests_dir)
    from bundle_factory import AssetSpec, make_bundle

    made = make_bundle(root / "pristine", [AssetSpec("XRP", {"alice": 5, "bob": 7}, reserves=20, decimals=0, chunk=2)])
    shutil.copytree(made.path, root / "work")
    asset = made.manifest["assets"][0]
    names = {role: asset["files"][role]["name"] for role in ROLES}
    files = {role: (made.path / names[role]).read_bytes() for role in ROLES}
    package = json.dumps(made.packages["alice"]).encode()
    return Fixture(root, made.path, root / "work", names, files, (made.path / "manifest.json").read_bytes(), package)


@cache
def fixture() -> Fixture:
    """The process-wide tiny bundle, written once into a temporary directory."""
    return make_tiny_bundle(Path(tempfile.mkdtemp(prefix="zks-fuzz-")))


def _resign(fx: Fixture, role: str, content: bytes) -> bytes:
    """Return ``manifest.json`` with ``role``'s size and SHA-256 set for ``content`` and a fresh digest."""
    lib = _lib()
    manifest: dict[str, Any] = json.loads(fx.manifest)
    entry = manifest["assets"][0]["files"][role]
    entry["size"] = len(content)
    entry["sha256"] = hashlib.sha256(content).hexdigest()
    manifest["bundle_digest"] = lib.manifest.bundle_digest(manifest).hex()
    return bytes(lib.jsonio.canonical_json(manifest) + b"\n")


# ---------------------------------------------------------------------------
# Targets: each returns True if the input was accepted, False on FormatError


def merkle_path_length(index: int, size: int) -> int:
    """Length of the RFC 6962 audit path of leaf ``index`` in a tree of ``size`` leaves (an oracle)."""
    length = 0
    while size > 1:
        k = 1 << ((size - 1).bit_length() - 1)
        if index < k:
            size = k
        else:
            index, size = index - k, size - k
        length += 1
    return length


def _point(data: bytes) -> bool:
    lib = _lib()
    try:
        loose = lib.Point.from_bytes_without_subgroup_check(data, lib.fast)
    except lib.FormatError:
        loose = None
    try:
        full = lib.Point.from_bytes(data, lib.fast)
    except lib.FormatError:
        assert loose is None or loose.to_bytes() == data, "on-curve decoding does not re-encode"
        return False
    assert loose is not None, "a point in G1 failed the on-curve-only decoding"
    assert full.to_bytes() == data == loose.to_bytes(), "decoded point does not re-encode to its bytes"
    return True


def _point_reference(data: bytes) -> bool:
    """Both backends decode alike: same accept/reject, same re-encoding (the reference one is py_ecc)."""
    lib = _lib()
    from circuits.backends import get_backend

    results = []
    for backend in (lib.fast, get_backend("reference")):
        try:
            results.append(lib.Point.from_bytes(data, backend).to_bytes())
        except lib.FormatError:
            results.append(None)
    assert results[0] == results[1], f"backends disagree: {results}"
    return results[0] is not None


def _scalar(data: bytes) -> bool:
    lib = _lib()
    try:
        k = lib.scalar_from_bytes(data)
    except lib.FormatError:
        return False
    assert lib.scalar_to_bytes(k) == data, "scalar does not re-encode"
    return True


def _proof(data: bytes) -> bool:
    """A range proof; its tail is also fed to the inner-product proof decoder."""
    lib = _lib()
    try:
        ipp = lib.InnerProductProof.from_bytes(data[IPP_OFFSET:], lib.fast)
    except lib.FormatError:
        pass
    else:
        assert ipp.to_bytes() == data[IPP_OFFSET:], "inner-product proof does not re-encode"
    try:
        proof = lib.RangeProof.from_bytes(data, lib.fast)
    except lib.FormatError:
        return False
    assert proof.to_bytes() == data, "range proof does not re-encode"
    assert proof.serialized_size() == len(data)
    return True


def _manifest_once(data: bytes) -> bool:
    lib = _lib()
    try:
        manifest = lib.manifest.Manifest.from_bytes(data)
    except lib.FormatError:
        return False
    assert manifest.to_bytes() == data, "manifest does not re-encode to its (canonical) bytes"
    return True


def _manifest(data: bytes) -> bool:
    """The bytes as given, then (if they are a JSON object) canonicalised and re-signed.

    Almost every byte-level mutation breaks the canonical form, the first check; the
    second call lets the fuzzer reach the schema checks behind it.
    """
    lib = _lib()
    accepted = _manifest_once(data)
    try:
        obj = json.loads(data)
        if not isinstance(obj, dict):
            return accepted
        obj["bundle_digest"] = lib.manifest.bundle_digest(obj).hex()
        canonical = bytes(lib.jsonio.canonical_json(obj) + b"\n")
    except (ValueError, RecursionError):  # not JSON, or NaN/Infinity that canonical JSON cannot hold
        return accepted
    return _manifest_once(canonical) or accepted


def _package(data: bytes) -> bool:
    lib = _lib()
    try:
        package = lib.package.Package.from_bytes(data)
    except lib.FormatError:
        return False
    assert lib.package.Package.from_bytes(package.to_bytes()) == package, "package does not round-trip"
    assert json.loads(data) == package.to_json(), "package accepted fields it does not re-encode"
    return True


def _header(data: bytes) -> bool:
    """``selector (1) || LE32 count || LE32 record_size || header``."""
    lib = _lib()
    b = lib.datafiles
    if len(data) < 9:
        return False
    magic = (b.MAGIC_LEAVES, b.MAGIC_RANGE_PROOFS, b.MAGIC_SOLVENCY)[data[0] % 3]
    count, record_size = struct.unpack_from("<II", data, 1)
    header = data[9:]
    try:
        b.check_header(header, magic, count, record_size, "fuzz.bin")
    except lib.FormatError as exc:
        assert exc.section == "fuzz.bin", "header error does not name its section"
        assert header != b.encode_header(magic, count, record_size), "a matching header was rejected"
        return False
    assert header == b.encode_header(magic, count, record_size), "a mismatching header was accepted"
    return True


def _leaves(data: bytes) -> bool:
    """A whole leaves file: header (count from the length), then every record decoded as the verifier does."""
    lib = _lib()
    b = lib.datafiles
    count = max(0, len(data) - b.HEADER_SIZE) // b.LEAF_RECORD_SIZE
    try:
        b.check_header(data[: b.HEADER_SIZE], b.MAGIC_LEAVES, count, b.LEAF_RECORD_SIZE, "fuzz.leaves.bin")
        body = data[b.HEADER_SIZE :]
        records = list(b.iter_leaf_records(body, 0))
        assert b"".join(lid + enc for _, lid, enc in records) == body, "records do not cover the body"
        for i, _lid, encoding in records:
            lib.decode_leaf(i, encoding, lib.fast, "fuzz.leaves.bin")
    except lib.FormatError:
        return False
    return True


def _merkle_path(data: bytes) -> bool:
    """``LE64 index || LE64 tree_size || leaf hash (32) || path (32 bytes each)``."""
    lib = _lib()
    if len(data) < 48:
        return False
    index, size = struct.unpack_from("<QQ", data)
    leaf, rest = data[16:48], data[48:]
    path = [rest[i : i + 32] for i in range(0, len(rest) - len(rest) % 32, 32)]
    expected_ok = index < size and len(path) == merkle_path_length(index, size)
    try:
        root = lib.merkle.verify_merkle_path(leaf, index, size, path)
    except lib.FormatError:
        assert not expected_ok, "a path of the right length was rejected"
        return False
    assert expected_ok, "a path of the wrong length or an index outside the tree was accepted"
    assert len(root) == 32
    return True


def _expect_proof_error(exc: BaseException) -> None:
    """Re-raise ``exc`` unless it is a FormatError or VerificationError carrying a section."""
    lib = _lib()
    if not isinstance(exc, lib.FormatError | lib.VerificationError):
        raise exc
    assert isinstance(exc.section, str) and exc.section, f"{type(exc).__name__} without a section: {exc}"


def _datafile(data: bytes) -> bool:
    """``selector (1) || content``: the selected data file of the tiny bundle becomes ``content``, re-signed."""
    lib = _lib()
    fx = fixture()
    if not data:
        return False
    role, content = ROLES[data[0] % len(ROLES)], data[1:]
    path, manifest = fx.work / fx.names[role], fx.work / "manifest.json"
    try:
        path.write_bytes(content)
        manifest.write_bytes(_resign(fx, role, content))
        try:
            lib.verify_bundle(fx.work)
        except lib.ProofError as exc:
            _expect_proof_error(exc)
            return False
    finally:
        path.write_bytes(fx.files[role])
        manifest.write_bytes(fx.manifest)
    assert content == fx.files[role], "a tampered data file verified"
    return True


def _customer(data: bytes) -> bool:
    """The customer check of a fuzzed package against the tiny bundle."""
    lib = _lib()
    fx = fixture()
    path = fx.root / "package.json"
    path.write_bytes(data)
    try:
        lib.check_package(path, fx.pristine)
    except lib.ProofError as exc:
        _expect_proof_error(exc)
        return False
    assert lib.package.Package.from_bytes(data) == lib.package.Package.from_bytes(fx.package), (
        "a package other than the customer's passed the check"
    )
    return True


#: Target name -> routing function (``True``: accepted; ``False``: rejected with an allowed error).
TARGETS: Final[dict[str, Callable[[bytes], bool]]] = {
    "point": _point,
    "point_reference": _point_reference,
    "scalar": _scalar,
    "proof": _proof,
    "manifest": _manifest,
    "package": _package,
    "header": _header,
    "leaves": _leaves,
    "merkle_path": _merkle_path,
    "datafile": _datafile,
    "customer": _customer,
}


def dispatch(target: str, data: bytes) -> bool:
    """Feed ``data`` to ``target``; return whether it was accepted. Any other exception propagates.

    Raises:
        KeyError: unknown target.
    """
    return TARGETS[target](bytes(data))


def main(argv: list[str] | None = None) -> None:
    """Run atheris on one target: ``fuzz_decoders.py TARGET [libFuzzer flags] [corpus dirs]``."""
    args = list(sys.argv if argv is None else argv)
    if len(args) < 2 or args[1] not in TARGETS:
        sys.exit(f"usage: {args[0]} {{{','.join(TARGETS)}}} [libFuzzer flags] [corpus dirs]")
    target = args.pop(1)
    sys.path.insert(0, str(ROOT))

    import atheris

    with atheris.instrument_imports(include=["circuits", "verifier"]):
        _lib()
        # Load the reference backend, as SOLVENCY_BACKEND=reference does: importing py_ecc raises the
        # recursion limit to 100000, the worst case for the JSON decoders (deep nesting).
        from circuits.backends import get_backend

        get_backend("reference")
    if target in ("datafile", "customer"):
        fixture()
    route = TARGETS[target]

    def test_one_input(data: bytes) -> None:
        route(data)

    atheris.Setup(args, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
