"""A.3: control, format, bidi and separator characters are refused in exchange, round and customer id.

The forbidden set is the frozen table of ``circuits/text.py`` (Unicode 14.0.0 categories Cc, Cf, Zl,
Zp, Cs). At parse time a manifest (re-signed, so only the field is wrong) or a package holding one is a
FormatError with the field as ``section`` and CLI exit 3; at input a ledger or reserves file holding
one is an InputError naming the file, line (ledger) and field, and ``prove`` exits 4.
"""

from __future__ import annotations

import itertools
import json
import shutil
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from test_schema import MANIFEST, PACKAGE, VECTORS, manifest_bytes, package_bytes
from typer.testing import CliRunner

from circuits.errors import FormatError, InputError
from circuits.manifest import Manifest
from circuits.package import Package
from circuits.text import FORBIDDEN_RANGES, UNICODE_VERSION, check_text
from cli.exit_codes import EXIT_FORMAT, EXIT_INPUT
from cli.main import app
from prover.ledger import load_ledger
from prover.reserves import load_reserves

runner = CliRunner()

#: newline, ESC, RIGHT-TO-LEFT OVERRIDE, LINE SEPARATOR, ZERO WIDTH SPACE (and a few more).
BAD_CHARS = {
    "newline": "\n",
    "esc": "\x1b",
    "rlo": "\u202e",
    "line_separator": "\u2028",
    "zero_width_space": "\u200b",
    "carriage_return": "\r",
    "del": "\x7f",
    "paragraph_separator": "\u2029",
    "bom": "\ufeff",
    "tag": "\U000e0041",
}
CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def _forbidden_from_unicodedata() -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for cp in range(0x110000):
        if unicodedata.category(chr(cp)) in CATEGORIES:
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    return ranges


@pytest.mark.skipif(
    unicodedata.unidata_version != UNICODE_VERSION, reason=f"the table is of Unicode {UNICODE_VERSION}"
)
def test_the_frozen_table_is_unicode_14_cc_cf_zl_zp_cs():
    assert list(FORBIDDEN_RANGES) == _forbidden_from_unicodedata()


def test_the_table_is_sorted_disjoint_and_merged():
    for (lo, hi), (next_lo, _) in itertools.pairwise(FORBIDDEN_RANGES):
        assert lo <= hi < next_lo - 1
    assert FORBIDDEN_RANGES[0] == (0, 0x1F) and FORBIDDEN_RANGES[-1][1] <= 0x10FFFF


def test_check_text_refuses_every_table_end_and_accepts_its_neighbours():
    for lo, hi in FORBIDDEN_RANGES:
        for cp in {lo, hi}:
            if 0xD800 <= cp <= 0xDFFF:
                continue  # a lone surrogate fails the UTF-8 check first (same error class and section)
            with pytest.raises(FormatError) as info:
                check_text(f"a{chr(cp)}b", 256, "x.field")
            assert info.value.section == "x.field" and f"U+{cp:04X}" in str(info.value)
        for cp in (lo - 1, hi + 1):
            if 0 <= cp <= 0x10FFFF and not any(a <= cp <= b for a, b in FORBIDDEN_RANGES):
                if not 0xD800 <= cp <= 0xDFFF:
                    assert check_text(f"a{chr(cp)}b", 256, "x.field") == f"a{chr(cp)}b"
    with pytest.raises(FormatError, match="surrogate"):
        check_text("a\ud800", 256, "x.field")
    assert check_text("Börse 取引所 — العربية", 256, "x") == "Börse 取引所 — العربية"


# --- parse time: manifest and package ---------------------------------------------------------


@pytest.mark.parametrize("char", BAD_CHARS.values(), ids=BAD_CHARS.keys())
@pytest.mark.parametrize("field", ["exchange", "round"])
def test_manifest_text_field_with_a_forbidden_character_is_malformed(field: str, char: str) -> None:
    def mutate(obj: dict[str, Any]) -> None:
        obj[field] = obj[field][:4] + char + obj[field][4:]

    with pytest.raises(FormatError) as info:
        Manifest.from_bytes(manifest_bytes(mutate))
    assert type(info.value) is FormatError and info.value.section == f"manifest.{field}"
    assert char not in str(info.value)


@pytest.mark.parametrize("char", BAD_CHARS.values(), ids=BAD_CHARS.keys())
@pytest.mark.parametrize("field", ["exchange", "round", "customer_id"])
def test_package_text_field_with_a_forbidden_character_is_malformed(field: str, char: str) -> None:
    def mutate(obj: dict[str, Any]) -> None:
        obj[field] = char + obj[field]

    with pytest.raises(FormatError) as info:
        Package.from_bytes(package_bytes(mutate))
    assert type(info.value) is FormatError and info.value.section == f"package.{field}"


def _cli_json(*args: object) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize("char", ["\n", "\x1b", "\u202e", "\u2028", "\u200b"], ids=repr)
@pytest.mark.parametrize("field", ["exchange", "round"])
def test_cli_verify_and_inspect_exit_3_on_a_forbidden_character_in_the_manifest(
    tmp_path: Path, field: str, char: str
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(VECTORS / "bundle_v1", bundle)
    (bundle / "manifest.json").write_bytes(
        manifest_bytes(lambda obj: obj.__setitem__(field, char + MANIFEST[field]))
    )
    code, payload = _cli_json("verify", bundle, "--json")
    assert code == EXIT_FORMAT and payload["failure_section"] == f"manifest.{field}"
    result = runner.invoke(app, ["inspect", str(bundle)])
    assert result.exit_code == EXIT_FORMAT and isinstance(result.exception, SystemExit)
    assert char not in result.output.removesuffix("\n")


@pytest.mark.parametrize("char", ["\n", "\x1b", "\u202e", "\u2028", "\u200b"], ids=repr)
@pytest.mark.parametrize("field", ["exchange", "round", "customer_id"])
def test_cli_check_exits_3_on_a_forbidden_character_in_the_package(tmp_path: Path, field: str, char: str) -> None:
    path = tmp_path / "package.json"
    path.write_bytes(package_bytes(lambda obj: obj.__setitem__(field, PACKAGE[field] + char)))
    code, payload = _cli_json("check", path, "--bundle", VECTORS / "bundle_v1", "--json")
    assert code == EXIT_FORMAT and payload["failure_section"] == f"package.{field}"


# --- input: ledger and reserves ------------------------------------------------------------


RESERVES = {"exchange": "Ex", "round": "r1", "assets": [{"symbol": "BTC", "decimals": 8, "reserves": "10"}]}


def _write_reserves(path: Path, **changes: str) -> Path:
    path.write_text(json.dumps({**RESERVES, **changes}), encoding="utf-8")
    return path


def _ledger_with(path: Path, customer_id: str) -> Path:
    quoted = '"' + customer_id.replace('"', '""') + '"'
    path.write_text(f"customer_id,asset,amount\nalice,BTC,1\n{quoted},BTC,2\n", encoding="utf-8", newline="")
    return path


@pytest.mark.parametrize("char", BAD_CHARS.values(), ids=BAD_CHARS.keys())
def test_ledger_customer_id_with_a_forbidden_character_names_file_line_and_field(tmp_path: Path, char: str) -> None:
    reserves = load_reserves(_write_reserves(tmp_path / "reserves.json"))
    with pytest.raises(InputError) as info:
        load_ledger(_ledger_with(tmp_path / "ledger.csv", f"bob{char}x"), reserves)
    assert type(info.value) is InputError and info.value.section == "ledger.csv:3:customer_id"
    assert str(info.value).startswith("ledger.csv:3: customer_id: ") and char not in str(info.value)


@pytest.mark.parametrize("char", BAD_CHARS.values(), ids=BAD_CHARS.keys())
@pytest.mark.parametrize("field", ["exchange", "round"])
def test_reserves_label_with_a_forbidden_character_names_file_and_field(tmp_path: Path, field: str, char: str) -> None:
    path = _write_reserves(tmp_path / "reserves.json", **{field: f"a{char}b"})
    with pytest.raises(InputError) as info:
        load_reserves(path)
    assert type(info.value) is InputError and info.value.section == f"reserves.json:{field}"


@pytest.mark.parametrize("char", ["\n", "\x1b", "\u202e", "\u2028", "\u200b"], ids=repr)
@pytest.mark.parametrize("where", ["customer_id", "exchange", "round", "symbol"])
def test_cli_prove_exits_4_on_a_forbidden_character_in_its_input(tmp_path: Path, where: str, char: str) -> None:
    secret = tmp_path / "master.key"
    secret.write_bytes(bytes(range(32)))
    if where == "symbol":
        reserves = tmp_path / "reserves.json"
        reserves.write_text(
            json.dumps({**RESERVES, "assets": [{"symbol": f"BTC{char}", "decimals": 8, "reserves": "10"}]}),
            encoding="utf-8",
        )
    else:
        changes = {} if where == "customer_id" else {where: f"a{char}b"}
        reserves = _write_reserves(tmp_path / "reserves.json", **changes)
    ledger = _ledger_with(tmp_path / "ledger.csv", f"b{char}ob" if where == "customer_id" else "bob")
    result = runner.invoke(
        app,
        ["prove", "--ledger", str(ledger), "--reserves", str(reserves), "--secret", str(secret),
         "--packages-format", "dir",
         "--out", str(tmp_path / "bundle"), "--packages", str(tmp_path / "packages"), "--quiet"],
    )
    assert result.exit_code == EXIT_INPUT, result.output
    expected = {
        "customer_id": "error: ledger.csv:3: customer_id: ",
        "exchange": "error: reserves.json: exchange: ",
        "round": "error: reserves.json: round: ",
        "symbol": "error: reserves.json: assets[0].symbol: ",
    }[where]
    assert result.stderr.startswith(expected), result.stderr
    assert char not in result.stderr.removesuffix("\n")
    assert not (tmp_path / "bundle").exists()
