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
        (("format_version",), 5, "manifest.format_version"),
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


# --- created: strict RFC 3339 UTC ------------------------------------------------------------

BAD_CREATED = [
    "2026-13-45T25:61:61Z",  # the example: month, day, hour, minute, second all out of range
    "\u0662\u0660\u0662\u0666-01-31T00:00:00Z",  # Arabic-Indic digits (matched by \d)
    "\uff12\uff10\uff12\uff16-01-31T00:00:00Z",  # full-width digits
    "2023-02-29T00:00:00Z",  # Feb 29 of a non-leap year
    "2100-02-29T00:00:00Z",  # divisible by 100, not by 400
    "2026-04-31T00:00:00Z",
    "2026-00-10T00:00:00Z",
    "2026-01-00T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "2016-12-31T23:59:60Z",  # a leap second
    "2026-01-31T24:00:00Z",
    "2026-01-31T23:60:00Z",
    "2026-01-31T00:00:00z",
    "2026-01-31t00:00:00Z",
    "2026-01-31 00:00:00Z",
    "2026-01-31T00:00:00.5Z",
    "2026-01-31T00:00:00.000Z",
    "2026-01-31T00:00:00+00:00",
    "2026-01-31T01:00:00+01:00",
    "2026-01-31T00:00:00",
    "2026-1-31T00:00:00Z",
    "+2026-01-31T00:00:00Z",
    " 2026-01-31T00:00:00Z",
    "2026-01-31T00:00:00Z\n",
    "",
]
GOOD_CREATED = ["2026-01-31T00:05:00Z", "2024-02-29T23:59:59Z", "2000-02-29T00:00:00Z", "0001-01-01T00:00:00Z",
                "9999-12-31T23:59:59Z"]


@pytest.mark.parametrize("created", BAD_CREATED, ids=repr)
def test_manifest_created_must_be_strict_rfc3339_utc(created: str) -> None:
    _fails(Manifest.from_bytes, manifest_bytes(_set(("created",), created)), "manifest.created")


@pytest.mark.parametrize("created", [20260131, None, ["2026-01-31T00:00:00Z"]], ids=repr)
def test_manifest_created_must_be_a_string(created: object) -> None:
    _fails(Manifest.from_bytes, manifest_bytes(_set(("created",), created)), "manifest.created")


@pytest.mark.parametrize("created", GOOD_CREATED)
def test_manifest_created_accepts_real_utc_times(created: str) -> None:
    assert Manifest.from_bytes(manifest_bytes(_set(("created",), created))).created == created


@pytest.mark.parametrize("created", ["2026-13-45T25:61:61Z", "\u0662\u0660\u0662\u0666-01-31T00:00:00Z",
                                     "2023-02-29T00:00:00Z", "2016-12-31T23:59:60Z", "2026-01-31T00:00:00+00:00"],
                         ids=repr)
def test_cli_verify_and_inspect_exit_3_on_a_bad_created(tmp_path: Path, created: str) -> None:
    import shutil

    from typer.testing import CliRunner

    from cli.exit_codes import EXIT_FORMAT
    from cli.main import app

    bundle = tmp_path / "bundle"
    shutil.copytree(VECTORS / "bundle_v1", bundle)
    (bundle / "manifest.json").write_bytes(manifest_bytes(_set(("created",), created)))
    runner = CliRunner()
    result = runner.invoke(app, ["verify", str(bundle), "--json"])
    assert result.exit_code == EXIT_FORMAT and json.loads(result.stdout)["failure_section"] == "manifest.created"
    result = runner.invoke(app, ["inspect", str(bundle)])
    assert result.exit_code == EXIT_FORMAT and "manifest.created" in result.output


def test_the_prover_writes_a_strict_created_and_refuses_a_bad_one(tmp_path: Path) -> None:
    from circuits.errors import InputError, ParameterError
    from circuits.manifest import created_problem
    from prover.bundle import ProveOptions, _utc_now, write_bundle
    from prover.ledger import load_ledger
    from prover.reserves import load_reserves

    assert created_problem(_utc_now()) is None
    assert created_problem(json.loads((VECTORS / "bundle_v1" / "manifest.json").read_bytes())["created"]) is None
    with pytest.raises(ParameterError):
        Manifest.build("Ex", "r", "2026-13-45T25:61:61Z", [])
    (tmp_path / "reserves.json").write_text(
        json.dumps({"exchange": "Ex", "round": "r", "assets": [{"symbol": "BTC", "decimals": 8, "reserves": "1"}]})
    )
    (tmp_path / "ledger.csv").write_text("customer_id,asset,amount\nalice,BTC,0.5\n")
    reserves = load_reserves(tmp_path / "reserves.json")
    ledger = load_ledger(tmp_path / "ledger.csv", reserves)
    with pytest.raises(InputError) as info:
        write_bundle(ledger, reserves, bytes(32), tmp_path / "b", tmp_path / "p",
                     ProveOptions(created="2016-12-31T23:59:60Z", jobs=1))
    assert info.value.section == "created"
    assert not (tmp_path / "b").exists() and not (tmp_path / "p").exists()
