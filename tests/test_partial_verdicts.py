"""Partial checks must not look like full ones (issue 8, A.6).

* `solvency check PACKAGE` without `--bundle` checks only that the package is
  self-consistent. A package fabricated from scratch (no bundle exists at all)
  passes that, so the verdict is PARTIAL: exit 6, `"status": "partial"`,
  `"ok": false`, `"bundle_checked": false`, never PASS/0/ok:true.
* `solvency inspect` still prints its summary, and exits 3 (FormatError naming the
  first file) when a file is missing, extra, or has the wrong size or SHA-256.
* Every exit code 0-6 is documented in cli/exit_codes.py and the README table.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
from pathlib import Path

import pytest
from bundle_factory import package_skeleton
from typer.testing import CliRunner

from circuits.datafiles import leaf_id
from circuits.generators import PedersenGens
from circuits.group import random_scalar
from circuits.merkle import leaf_hash
from cli import exit_codes
from cli.exit_codes import EXIT_FORMAT, EXIT_OK, EXIT_PARTIAL
from cli.main import app
from verifier import check_package, inspect_bundle
from verifier.inspect import file_error

ROOT = Path(__file__).resolve().parent.parent
VECTORS = Path(__file__).parent / "vectors"
BUNDLE = VECTORS / "bundle_v1"
runner = CliRunner()


def _fabricated_package(path: Path) -> Path:
    """A self-consistent package for a bundle that does not exist: one leaf, its own Merkle root."""
    exchange, round_label, customer = "Nowhere Exchange", "2026-06-30T00:00:00Z", "victim"
    amount, blinding, salt = 123_456_789, random_scalar(), secrets.token_bytes(32)
    V = PedersenGens.default().commit(amount, blinding).to_bytes()
    lid = leaf_id(round_label, "BTC", customer, salt)
    package = package_skeleton(exchange, round_label, customer)
    package["bundle_digest"] = secrets.token_hex(32)
    package["entries"].append({
        "asset": "BTC", "decimals": 8, "amount": str(amount), "blinding": blinding.to_bytes(32, "little").hex(),
        "leaf_salt": salt.hex(), "leaf_id": lid.hex(), "leaf_index": 0, "leaf_count": 1,
        "merkle_root": leaf_hash(lid, 0, V).hex(), "merkle_path": [],
    })
    path.write_text(json.dumps(package))
    return path


def test_a_package_fabricated_from_scratch_is_partial_not_pass(tmp_path: Path) -> None:
    package = _fabricated_package(tmp_path / "fabricated.json")
    report = check_package(package)
    assert report.ok and (report.scope, report.status) == ("package", "partial")
    data = report.to_json()  # the library's own JSON agrees: checks passed, but not ok
    assert (data["ok"], data["checks_passed"], data["status"]) == (False, True, "partial")

    result = runner.invoke(app, ["check", str(package)])
    assert result.exit_code == EXIT_PARTIAL, result.output
    assert result.stdout.startswith("PARTIAL") and "PASS" not in result.stdout
    assert "nothing about the bundle was checked" in result.stdout

    result = runner.invoke(app, ["check", str(package), "--json"])
    assert result.exit_code == EXIT_PARTIAL
    payload = json.loads(result.stdout)
    assert (payload["status"], payload["ok"], payload["exit_code"]) == ("partial", False, EXIT_PARTIAL)
    assert (payload["bundle_checked"], payload["with_bundle"], payload["scope"]) == (False, False, "package")
    assert payload["failure"] is None and payload["failure_kind"] is None
    assert any("nothing about the bundle was checked" in s for s in payload["not_proven"])
    assert not any("solvency" in s or "range proof" in s for s in payload["proven"])


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(BUNDLE, copy)
    return copy


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 1
    path.write_bytes(bytes(data))


CASES = [
    ("digest", lambda b: _flip(b / "BTC.rangeproofs.bin", 40), "BTC.rangeproofs.bin", "SHA-256"),
    ("size", lambda b: (b / "ETH.leaves.bin").write_bytes((b / "ETH.leaves.bin").read_bytes() + b"\0"),
     "ETH.leaves.bin", "size"),
    ("missing", lambda b: (b / "ETH.solvency.bin").unlink(), "ETH.solvency.bin", "missing"),
    ("extra", lambda b: (b / "notes.txt").write_text("hi"), "notes.txt", "unexpected file"),
    # Two problems: the first file in `solvency verify` order is named (the BTC file before the ETH one).
    ("first-of-two", lambda b: (_flip(b / "ETH.leaves.bin", 20), _flip(b / "BTC.leaves.bin", 20)),
     "BTC.leaves.bin", "SHA-256"),
]


@pytest.mark.parametrize(("case", "damage", "name", "why"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_inspect_exits_3_naming_the_first_bad_file(
    bundle: Path, case: str, damage: object, name: str, why: str, as_json: bool
) -> None:
    damage(bundle)  # type: ignore[operator]
    error = file_error(inspect_bundle(bundle))
    assert error is not None and (error.section, error.file) == (name, name) and why in str(error)
    result = runner.invoke(app, ["inspect", str(bundle), *(["--json"] if as_json else [])])
    assert result.exit_code == EXIT_FORMAT, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and name in lines[0] and why in lines[0]
    if as_json:
        summary = json.loads(result.stdout)  # the summary is still printed
        assert summary["files_ok"] is False and summary["verified"] is False
    else:
        assert "inspect does not verify proofs" in result.stdout and '"files_ok": false' in result.stdout


def test_inspect_of_an_intact_bundle_exits_0(bundle: Path) -> None:
    assert file_error(inspect_bundle(bundle)) is None
    result = runner.invoke(app, ["inspect", str(bundle), "--json"])
    assert result.exit_code == EXIT_OK and json.loads(result.stdout)["files_ok"] is True


def test_every_exit_code_is_documented() -> None:
    codes = {name: getattr(exit_codes, name) for name in exit_codes.__all__ if name.startswith("EXIT_")}
    assert sorted(codes.values()) == list(range(7)) and codes["EXIT_PARTIAL"] == 6
    doc = exit_codes.__doc__ or ""
    readme = (ROOT / "README.md").read_text()
    table = {int(m.group(1)): m.group(2) for m in re.finditer(r"^\| `(\d)` \| (.+?) \|$", readme, re.M)}
    assert sorted(table) == list(range(7)), "README has one table row per exit code 0-6"
    for code in range(7):
        assert re.search(rf"^{code}\s+\S", doc, re.M), f"cli/exit_codes.py does not document {code}"
    assert "partial" in table[6].lower() and "partial" in doc.lower()
