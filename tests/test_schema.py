"""Parse-time validation of manifest.json and packages: each error is a FormatError whose ``section``
is the failing field's path, set where it is raised (no caller parses it back out of the message).

The inputs are the frozen v1 vectors (``tests/vectors``) with one field changed; a changed manifest
is re-signed (its bundle digest recomputed) so that only the changed field is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import verifier.bundle
import verifier.reading
from circuits.errors import FormatError
from circuits.jsonio import canonical_json
from circuits.manifest import Manifest, bundle_digest
from circuits.package import Package

VECTORS = Path(__file__).parent / "vectors"
MANIFEST: dict[str, Any] = json.loads((VECTORS / "bundle_v1" / "manifest.json").read_bytes())
PACKAGE: dict[str, Any] = json.loads((VECTORS / "package_v1.json").read_bytes())


def manifest_bytes(mutate: Callable[[dict[str, Any]], None]) -> bytes:
    """The frozen manifest with ``mutate`` applied, re-signed, in canonical form."""
    obj = json.loads(json.dumps(MANIFEST))
    mutate(obj)
    obj["bundle_digest"] = bundle_digest(obj).hex()
    return canonical_json(obj) + b"\n"


def package_bytes(mutate: Callable[[dict[str, Any]], None]) -> bytes:
    obj = json.loads(json.dumps(PACKAGE))
    mutate(obj)
    return json.dumps(obj).encode()


def _set(path: tuple[str | int, ...], value: object) -> Callable[[dict[str, Any]], None]:
    def mutate(obj: dict[str, Any]) -> None:
        target: Any = obj
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _fails(parse: Callable[[bytes], object], data: bytes, section: str) -> FormatError:
    with pytest.raises(FormatError) as info:
        parse(data)
    assert type(info.value) is FormatError
    assert info.value.section == section, str(info.value)
    return info.value


def test_the_frozen_vectors_parse() -> None:
    assert Manifest.from_bytes(manifest_bytes(lambda obj: None)).digest.hex() == MANIFEST["bundle_digest"]
    assert Package.from_bytes(package_bytes(lambda obj: None)).customer_id == PACKAGE["customer_id"]


@pytest.mark.parametrize(
    ("path", "value", "section"),
    [
        (("assets", 0, "reserves"), "-1", "manifest.assets[0].reserves"),
        (("assets", 0, "min_ratio", "num"), 0, "manifest.assets[0].min_ratio.num"),
        (("assets", 0, "min_ratio", "den"), 2, "manifest.assets[0].min_ratio"),
        (("assets", 1, "chunk_size"), 3, "manifest.assets[1].chunk_size"),
        (("assets", 0, "files", "leaves", "size"), 17, "manifest.assets[0].files.leaves.size"),
        (("assets", 0, "files", "solvency", "name"), "x.bin", "manifest.assets[0].files.solvency.name"),
        (("assets", 0, "extra"), 1, "manifest.assets[0]"),
        (("exchange",), "", "manifest.exchange"),
        (("round",), 7, "manifest.round"),
        (("assets",), [], "manifest.assets"),
        (("format_version",), 2, "manifest.format_version"),
    ],
)
def test_manifest_error_names_the_field_when_parsed_directly(path, value, section) -> None:
    _fails(Manifest.from_bytes, manifest_bytes(_set(path, value)), section)


def test_manifest_digest_and_json_errors_name_their_section() -> None:
    data = manifest_bytes(lambda obj: None).replace(b'"exchange":"', b'"exchange":"X')
    _fails(Manifest.from_bytes, data, "manifest.bundle_digest")
    _fails(Manifest.from_bytes, b"[" * 100, "manifest")
    _fails(Manifest.from_bytes, b'{"a": 1.5}', "manifest")


@pytest.mark.parametrize(
    ("path", "value", "section"),
    [
        (("customer_id",), "", "package.customer_id"),
        (("entries", 0, "merkle_path", 1), "zz", "package.entries[0].merkle_path[1]"),
        (("entries", 1, "leaf_index"), 99, "package.entries[1].leaf_index"),
        (("entries", 1, "unknown"), 0, "package.entries[1]"),
        (("entries",), [], "package.entries"),
    ],
)
def test_package_error_names_the_field_when_parsed_directly(path, value, section) -> None:
    _fails(Package.from_bytes, package_bytes(_set(path, value)), section)


def test_no_section_is_parsed_out_of_a_message() -> None:
    assert not hasattr(verifier.bundle, "section_of")
    assert not hasattr(verifier.reading, "section_of")


# --- A.5: duplicate JSON keys ---------------------------------------------------------------


def _with_duplicate(data: bytes, key: bytes, extra_value: bytes, occurrence: int = 0) -> bytes:
    """Insert ``"key": extra_value,`` right before the ``occurrence``-th ``"key":`` of ``data``."""
    start = -1
    for _ in range(occurrence + 1):
        start = data.index(b'"' + key + b'":', start + 1)
    return data[:start] + b'"' + key + b'":' + extra_value + b"," + data[start:]


PACKAGE_BYTES = (VECTORS / "package_v1.json").read_bytes()


def test_package_with_two_entries_arrays_is_malformed() -> None:
    """One `entries` shown by a lenient reader, another checked: refused whichever comes first."""
    other = json.dumps([PACKAGE["entries"][1]]).encode()
    for data in (
        _with_duplicate(PACKAGE_BYTES, b"entries", other),
        PACKAGE_BYTES.rstrip()[:-1] + b',"entries":' + other + b"}",
    ):
        _fails(Package.from_bytes, data, "package.entries")


@pytest.mark.parametrize(
    ("key", "value", "occurrence", "section"),
    [
        (b"amount", b'"1"', 0, "package.entries[0].amount"),
        (b"merkle_root", b'"00"', 1, "package.entries[1].merkle_root"),
        (b"customer_id", b'"someone else"', 0, "package.customer_id"),
        (b"format_version", b"1", 0, "package.format_version"),
    ],
)
def test_package_duplicate_key_names_the_key(key: bytes, value: bytes, occurrence: int, section: str) -> None:
    _fails(Package.from_bytes, _with_duplicate(PACKAGE_BYTES, key, value, occurrence), section)


def test_duplicate_of_an_unknown_key_is_named_with_json_quoting() -> None:
    data = b'{"a b\\n": 1, "a b\\n": 2}'
    _fails(Package.from_bytes, data, 'package["a b\\n"]')


def test_the_manifest_refuses_duplicate_keys_by_the_same_mechanism() -> None:
    data = manifest_bytes(lambda obj: None)
    _fails(Manifest.from_bytes, _with_duplicate(data, b"exchange", b'"Other Exchange"'), "manifest.exchange")
    _fails(Manifest.from_bytes, _with_duplicate(data, b"reserves", b'"1"', 1), "manifest.assets[1].reserves")


def test_cli_check_exits_3_on_a_package_with_duplicate_keys(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.exit_codes import EXIT_FORMAT
    from cli.main import app

    runner = CliRunner()
    for data, section in (
        (_with_duplicate(PACKAGE_BYTES, b"entries", b"[]"), "package.entries"),
        (_with_duplicate(PACKAGE_BYTES, b"amount", b'"5"', 1), "package.entries[1].amount"),
    ):
        path = tmp_path / "package.json"
        path.write_bytes(data)
        for extra in ([], ["--bundle", str(VECTORS / "bundle_v1")]):
            result = runner.invoke(app, ["check", str(path), *extra, "--json"])
            assert result.exit_code == EXIT_FORMAT, result.output
            assert json.loads(result.stdout)["failure_section"] == section
