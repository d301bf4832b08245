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
