"""Errors carry their structure in fields, and ``verify --json`` / ``check --json`` share one verdict shape (C.4).

* :class:`ProofError` declares ``section``, ``file``, ``field``, ``kind`` and a typed
  ``report`` (default ``None``): no ``type: ignore`` attaches it.
* The JSON of both commands is built by :func:`cli.verdict.verdict_json` alone and
  always has the keys ``status, ok, exit_code, failure, failure_section,
  failure_kind, failure_file, failure_field``, filled from the error's fields.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from circuits.errors import (
    FormatError,
    InputError,
    ParameterError,
    ProofError,
    VerificationError,
    WitnessError,
)
from cli.exit_codes import EXIT_FORMAT, EXIT_OK, EXIT_VERIFICATION
from cli.main import app
from cli.verdict import verdict_json
from verifier import check_package, verify_bundle
from verifier.report import BundleReport, PackageReport

ROOT = Path(__file__).resolve().parent.parent
VECTORS = Path(__file__).parent / "vectors"
BUNDLE = VECTORS / "bundle_v1"
PACKAGE = VECTORS / "package_v1.json"
DIGEST = "2c9288552fd7b2ce4f45236f909b81a0d6747c846b6ce38566d5eede771a15e5"
WRONG = "ab" * 32
VERDICT_KEYS = {
    "status", "ok", "exit_code", "failure", "failure_section", "failure_kind", "failure_file", "failure_field"
}


def _json(args: list[str]) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(app, [*args, "--json"])
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize(
    ("cls", "kind"),
    [(FormatError, "malformed"), (VerificationError, "false"), (ParameterError, "input"), (WitnessError, "input"),
     (InputError, "input"), (ProofError, None)],
)
def test_errors_declare_their_fields(cls: type[ProofError], kind: str | None) -> None:
    error = cls("boom")
    assert (error.section, error.file, error.field, error.report, error.kind) == (None, None, None, None, kind)
    error = cls("boom", section="BTC.rangeproofs.bin chunk 3", file="BTC.rangeproofs.bin", field="chunk 3")
    assert (error.section, error.file, error.field) == ("BTC.rangeproofs.bin chunk 3", "BTC.rangeproofs.bin", "chunk 3")


def test_no_report_is_attached_with_type_ignore() -> None:
    for path in sorted((ROOT / "verifier").rglob("*.py")):
        assert "type: ignore" not in path.read_text(), path


def test_the_library_report_is_typed_and_attached() -> None:
    with pytest.raises(VerificationError) as info:
        verify_bundle(BUNDLE, published_digest=bytes.fromhex(WRONG))
    error = info.value
    assert isinstance(error.report, BundleReport) and error.report.ok is False
    assert (error.section, error.file, error.field) == ("bundle_digest", "manifest.json", "bundle_digest")
    assert (error.report.failure_file, error.report.failure_field) == ("manifest.json", "bundle_digest")

    with pytest.raises(VerificationError) as info:
        check_package(PACKAGE, BUNDLE, customer_id="someone else")
    error = info.value
    assert isinstance(error.report, PackageReport)
    assert (error.section, error.file, error.field) == ("package.customer_id", PACKAGE.name, "customer_id")


def test_verify_and_check_fail_with_one_shape() -> None:
    code, verify = _json(["verify", str(BUNDLE), "--digest", WRONG])
    assert code == EXIT_VERIFICATION
    assert VERDICT_KEYS <= set(verify)
    assert {k: verify[k] for k in VERDICT_KEYS - {"failure"}} == {
        "status": "fail", "ok": False, "exit_code": EXIT_VERIFICATION, "failure_section": "bundle_digest",
        "failure_kind": "false", "failure_file": "manifest.json", "failure_field": "bundle_digest",
    }
    code, check = _json(["check", str(PACKAGE), "--bundle", str(BUNDLE), "--digest", WRONG])
    assert code == EXIT_VERIFICATION
    assert VERDICT_KEYS <= set(check)
    assert {k: check[k] for k in VERDICT_KEYS - {"failure"}} == {
        "status": "fail", "ok": False, "exit_code": EXIT_VERIFICATION, "failure_section": "package.bundle_digest",
        "failure_kind": "false", "failure_file": PACKAGE.name, "failure_field": "bundle_digest",
    }


def test_malformed_input_has_the_same_shape(tmp_path: Path) -> None:
    (tmp_path / "garbage.json").write_bytes(b"\xff not json")
    code, check = _json(["check", str(tmp_path / "garbage.json")])
    assert code == EXIT_FORMAT and VERDICT_KEYS <= set(check)
    assert (check["status"], check["ok"], check["exit_code"], check["failure_kind"]) == (
        "fail", False, EXIT_FORMAT, "malformed"
    )
    bundle = tmp_path / "b"
    shutil.copytree(BUNDLE, bundle)
    (bundle / "extra").write_bytes(b"")
    code, verify = _json(["verify", str(bundle)])
    assert code == EXIT_FORMAT and VERDICT_KEYS <= set(verify)
    assert (verify["status"], verify["ok"], verify["exit_code"], verify["failure_kind"]) == (
        "fail", False, EXIT_FORMAT, "malformed"
    )


def test_verify_passes_with_the_same_shape() -> None:
    code, verify = _json(["verify", str(BUNDLE), "--digest", DIGEST])
    assert code == EXIT_OK
    assert {k: verify[k] for k in VERDICT_KEYS} == {
        "status": "pass", "ok": True, "exit_code": EXIT_OK, "failure": None, "failure_section": None,
        "failure_kind": None, "failure_file": None, "failure_field": None,
    }


def test_one_function_builds_the_verdict() -> None:
    """Only cli/verdict.py names the failure keys: the commands cannot drift apart."""
    for path in sorted((ROOT / "cli").rglob("*.py")):
        if path.name != "verdict.py":
            assert not re.search(r"failure_(section|kind|file|field)|exit_code=", path.read_text()), path
    assert VERDICT_KEYS <= set(verdict_json(None, FormatError("x")))


def test_file_errors_name_their_file_in_a_field(tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    shutil.copytree(BUNDLE, bundle)
    data = bytearray((bundle / "BTC.rangeproofs.bin").read_bytes())
    data[40] ^= 1
    (bundle / "BTC.rangeproofs.bin").write_bytes(bytes(data))
    code, verify = _json(["verify", str(bundle)])
    assert (code, verify["failure_section"], verify["failure_file"]) == (
        EXIT_FORMAT, "BTC.rangeproofs.bin", "BTC.rangeproofs.bin"
    )
    code, check = _json(["check", str(PACKAGE), "--bundle", str(bundle)])
    assert (code, check["failure_section"], check["failure_file"]) == (
        EXIT_FORMAT, "BTC.rangeproofs.bin", "BTC.rangeproofs.bin"
    )
    (tmp_path / "p.json").write_bytes(b"[]")
    code, check = _json(["check", str(tmp_path / "p.json")])
    assert (code, check["failure_kind"], check["failure_file"]) == (EXIT_FORMAT, "malformed", "p.json")


def test_schema_errors_name_their_field(tmp_path: Path) -> None:
    """A malformed manifest or package field is named in ``field`` (its JSON path), not only in the message."""
    import json

    from circuits.errors import FormatError
    from circuits.package import Package
    from verifier.package import check_package

    frozen = Path(__file__).parent / "vectors" / "package_v1.json"
    doc = json.loads(frozen.read_text())
    doc["entries"][1]["leaf_index"] = -1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(FormatError) as caught:
        check_package(bad)
    assert caught.value.section == "package.entries[1].leaf_index"
    assert caught.value.field == "entries[1].leaf_index"
    assert caught.value.file == "bad.json"
    doc = json.loads(frozen.read_text())
    doc["customer_id"] = "a\x1bb"
    with pytest.raises(FormatError) as caught:
        Package.from_bytes(json.dumps(doc).encode())
    assert (caught.value.section, caught.value.field) == ("package.customer_id", "customer_id")
