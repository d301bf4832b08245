"""The `solvency` pipeline end to end through the CLI (issue 3, "Tests"), with ``typer.testing.CliRunner``.

Every command runs in-process against ``cli.main.app``: keygen, gen-ledger, prove,
verify, check, inspect and demo. The expensive proofs are made once per module
(``e2e``: 200 synthetic customers x 3 assets; ``small``: four bundles of a
hand-written 2-asset ledger). Input parsing, the verifier and the customer check are
unit-tested in ``test_inputs.py``, ``test_verify_bundle.py`` and ``test_package.py``;
here each is exercised through the command line: exit codes, messages, and what is
(not) written to disk.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from circuits.constants import GROUP_ORDER
from circuits.datafiles import range_record_size
from circuits.jsonio import canonical_json
from circuits.manifest import bundle_digest
from cli.exit_codes import EXIT_FORMAT, EXIT_INPUT, EXIT_OK, EXIT_PARTIAL, EXIT_VERIFICATION
from cli.main import app
from prover.amounts import format_amount, parse_amount

runner = CliRunner()

HEADER = "customer_id,asset,amount\n"
EXCHANGE = "Pipeline Test Exchange"
ROUND_A = "2026-11-24T00:00:00Z"
ROUND_B = "2026-11-25T00:00:00Z"
TWO_64 = 1 << 64
TWO_128 = 1 << 128
DECIMALS = {"BTC": 8, "ETH": 9, "USDT": 6}


# ---------------------------------------------------------------------------
# Helpers


def solvency(*args: object) -> Result:
    """Run ``solvency ARGS...`` in-process."""
    return runner.invoke(app, [str(a) for a in args])


def succeeded(result: Result) -> Result:
    assert result.exit_code == EXIT_OK, f"exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    return result


def refused(result: Result, code: int) -> str:
    """Assert a clean refusal with ``code`` (one ``error:`` line, no traceback); return the message."""
    assert result.exit_code == code, f"exit {result.exit_code}, expected {code}\n{result.output}\n{result.exception!r}"
    # An uncaught exception would be result.exception (and a traceback for a real user).
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0].removeprefix("error: ")


def prove(ledger: Path, reserves: Path, secret: Path, out: Path, packages: Path, *extra: object) -> Result:
    return solvency(
        "prove", "--packages-format", "dir", "--ledger", ledger, "--reserves", reserves, "--secret", secret,
        "--out", out, "--packages", packages, "--quiet", *extra,
    )


def verify_json(bundle: Path) -> tuple[int, dict[str, Any]]:
    result = solvency("verify", bundle, "--json")
    return result.exit_code, json.loads(result.stdout)


def write_ledger(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(("customer_id", "asset", "amount"))
        writer.writerows(rows)
    return path


def write_reserves(path: Path, reserves: dict[str, str], round_label: str = ROUND_A) -> Path:
    doc = {
        "exchange": EXCHANGE,
        "round": round_label,
        "assets": [{"symbol": s, "decimals": DECIMALS[s], "reserves": r} for s, r in reserves.items()],
    }
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def manifest_of(bundle: Path) -> dict[str, Any]:
    return json.loads((bundle / "manifest.json").read_bytes())


def resign(bundle: Path, manifest: dict[str, Any]) -> str:
    """Recompute every file's size and SHA-256 and the bundle digest, write the manifest canonically."""
    for asset in manifest["assets"]:
        for entry in asset["files"].values():
            data = (bundle / entry["name"]).read_bytes()
            entry["size"] = len(data)
            entry["sha256"] = hashlib.sha256(data).hexdigest()
    manifest["bundle_digest"] = bundle_digest(manifest).hex()
    (bundle / "manifest.json").write_bytes(canonical_json(manifest) + b"\n")
    return manifest["bundle_digest"]


def packages_of(packages: Path) -> dict[str, dict[str, Any]]:
    """Return ``{customer_id: package}`` through ``index.csv``."""
    with (packages / "index.csv").open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        assert next(reader) == ["customer_id", "file"]
        return {cid: json.loads((packages / name).read_bytes()) for cid, name in reader}


def package_path(packages: Path, customer_id: str) -> Path:
    with (packages / "index.csv").open(encoding="utf-8", newline="") as f:
        return packages / next(name for cid, name in csv.reader(f) if cid == customer_id)


def leaves(bundle: Path, symbol: str) -> bytes:
    return (bundle / f"{symbol}.leaves.bin").read_bytes()


def assert_nothing_written(parent: Path, expected: set[str]) -> None:
    """``parent`` holds exactly ``expected``: no bundle, no packages, no temporary-directory leftovers."""
    assert {p.name for p in parent.iterdir()} == expected


# ---------------------------------------------------------------------------
# 1. End to end: gen-ledger, keygen, prove, verify, check, inspect (one proof for the module)


@dataclass
class E2E:
    root: Path
    ledger: Path
    reserves: Path
    secret: Path
    bundle: Path
    packages: Path
    prove_result: Result


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> E2E:
    root = tmp_path_factory.mktemp("e2e")
    succeeded(solvency("gen-ledger", "--customers", 200, "--assets", "BTC,ETH,USDT", "--seed", 1, "--out", root / "in"))
    succeeded(solvency("keygen", root / "master.key"))
    ledger, reserves = root / "in" / "ledger.csv", root / "in" / "reserves.json"
    result = succeeded(
        prove(ledger, reserves, root / "master.key", root / "bundle", root / "packages", "--chunk", 16)
    )
    return E2E(root, ledger, reserves, root / "master.key", root / "bundle", root / "packages", result)


def _ledger_rows(path: Path) -> dict[tuple[str, str], str]:
    with path.open(encoding="utf-8", newline="") as f:
        return {(r["customer_id"], r["asset"]): r["amount"] for r in csv.DictReader(f)}


def test_e2e_prove_writes_bundle_and_packages(e2e: E2E) -> None:
    out = e2e.prove_result.stdout
    assert "self-check: the bundle verifies" in out
    assert "200 customer packages" in out
    assert e2e.prove_result.stderr == ""  # --quiet: no progress bars
    assert (e2e.secret.stat().st_size, stat.S_IMODE(e2e.secret.stat().st_mode)) == (32, 0o600)
    manifest = manifest_of(e2e.bundle)
    assert manifest["bundle_digest"] in out
    assert [a["symbol"] for a in manifest["assets"]] == ["BTC", "ETH", "USDT"]
    kinds = ("leaves", "rangeproofs", "solvency", "nodes", "nodeproofs")
    expected = {"manifest.json"} | {f"{s}.{k}.bin" for s in DECIMALS for k in kinds}
    assert {p.name for p in e2e.bundle.iterdir()} == expected
    # Atomic writes leave no temporary directories behind.
    assert_nothing_written(e2e.root, {"in", "master.key", "bundle", "packages"})

    rows = _ledger_rows(e2e.ledger)
    holders = {s: sum(1 for _, a in rows if a == s) for s in DECIMALS}
    for asset in manifest["assets"]:
        assert asset["chunk_size"] == 16
        assert asset["leaf_count"] == 1 << (holders[asset["symbol"]] - 1).bit_length()  # next power of two
        assert asset["disclosed_liabilities"] is None
        assert asset["min_ratio"] == {"num": 1, "den": 1}

    # One private package per customer, holding exactly their ledger rows.
    packages = packages_of(e2e.packages)
    assert len(packages) == len({cid for cid, _ in rows}) == 200
    assert len([p for p in e2e.packages.glob("*.json") if p.name != "run.json"]) == 200
    for cid, package in packages.items():
        assert package["customer_id"] == cid and package["round"] == manifest["round"]
        assert package["bundle_digest"] == manifest["bundle_digest"]
        got = {(cid, e["asset"]): int(e["amount"]) for e in package["entries"]}
        want = {k: parse_amount(v, DECIMALS[k[1]]) for k, v in rows.items() if k[0] == cid}
        assert got == want
    assert stat.S_IMODE(e2e.packages.stat().st_mode) & 0o077 == 0
    for path in e2e.packages.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path.name


def test_e2e_verify_text(e2e: E2E) -> None:
    result = succeeded(solvency("verify", e2e.bundle, "--quiet"))
    out = result.stdout
    assert "PASS" in out and "FAIL" not in out
    assert f"exchange Example Exchange, round {manifest_of(e2e.bundle)['round']}" in out
    assert manifest_of(e2e.bundle)["bundle_digest"] in out
    for symbol in DECIMALS:
        assert symbol in out
    assert "not proven" in out  # the honest caveat
    assert "Traceback" not in result.output


def test_e2e_verify_json(e2e: E2E) -> None:
    code, report = verify_json(e2e.bundle)
    assert code == EXIT_OK
    manifest = manifest_of(e2e.bundle)
    assert report["ok"] is True and report["failure"] is None and report["failure_section"] is None
    assert report["bundle_digest"] == manifest["bundle_digest"]
    assert (report["exchange"], report["round"]) == ("Example Exchange", manifest["round"])
    reserves = {a["symbol"]: a for a in json.loads(e2e.reserves.read_text())["assets"]}
    assert [a["symbol"] for a in report["assets"]] == ["BTC", "ETH", "USDT"]
    for asset, listed in zip(report["assets"], manifest["assets"], strict=True):
        assert asset["ok"] is True
        assert asset["merkle_root_ok"] and asset["sum_ok"] and asset["range_proofs_ok"] and asset["solvency_ok"]
        assert asset["leaf_count"] == listed["leaf_count"]
        assert asset["chunk_count"] == listed["leaf_count"] // 16
        assert asset["min_ratio"] == {"num": 1, "den": 1}
        assert asset["liabilities_disclosed"] is None
        spec = reserves[asset["symbol"]]
        assert int(asset["reserves"]) == parse_amount(spec["reserves"], spec["decimals"])


def _pick_customers(packages: dict[str, dict[str, Any]]) -> list[str]:
    """Customers holding 3 assets, 1 asset, and ids that need CSV quoting or are not ASCII."""
    by_count = {n: sorted(c for c, p in packages.items() if len(p["entries"]) == n) for n in (1, 2, 3)}
    picked = [by_count[3][0], by_count[1][0], by_count[2][0]]
    picked += [c for c in sorted(packages) if "," in c or '"' in c or not c.isascii()][:3]
    assert len(picked) == 6 and len(set(picked)) == 6
    return picked


def test_e2e_check_several_customers_without_bundle(e2e: E2E) -> None:
    packages = packages_of(e2e.packages)
    for cid in _pick_customers(packages):
        path = package_path(e2e.packages, cid)
        result = solvency("check", path)
        assert result.exit_code == EXIT_PARTIAL, result.output  # the package alone: a partial check
        out = result.stdout
        assert out.startswith("PARTIAL")
        for entry in packages[cid]["entries"]:
            assert f"Your {entry['asset']} balance" in out
        assert "NOT checked" in out  # without --bundle the proofs are not checked, and it says so
        result = solvency("check", path, "--json")
        assert result.exit_code == EXIT_PARTIAL
        report = json.loads(result.stdout)
        assert (report["status"], report["ok"], report["exit_code"]) == ("partial", False, EXIT_PARTIAL)
        assert report["with_bundle"] is False and report["bundle_checked"] is False
        assert [e["asset"] for e in report["entries"]] == [e["asset"] for e in packages[cid]["entries"]]


def test_e2e_check_several_customers_with_bundle(e2e: E2E) -> None:
    packages = packages_of(e2e.packages)
    rows = _ledger_rows(e2e.ledger)
    for cid in _pick_customers(packages):
        path = package_path(e2e.packages, cid)
        out = succeeded(solvency("check", path, "--bundle", e2e.bundle)).stdout
        assert out.startswith("PASS")
        assert "sum nodes reaches the bundle's" in out and "The node proofs of the" in out
        report = json.loads(succeeded(solvency("check", path, "--bundle", e2e.bundle, "--json")).stdout)
        assert report["ok"] is True and report["with_bundle"] is True
        assert report["bundle_digest"] == manifest_of(e2e.bundle)["bundle_digest"]
        assert len(report["entries"]) == len(packages[cid]["entries"])
        for entry in report["entries"]:
            assert entry["ok"] is True
            assert int(entry["amount"]) == parse_amount(rows[(cid, entry["asset"])], DECIMALS[entry["asset"]])
            names = {c["name"] for c in entry["checks"] if c["passed"]}
            assert {"leaf id", "chunk path", "node path", "bundle digest", "leaf record", "chunk node",
                    "sum tree path", "root", "chunk range proof", "node proofs", "solvency proof"} <= names
        # The report is public: it holds neither the blinding nor the salt.
        for entry in packages[cid]["entries"]:
            assert entry["blinding"] not in json.dumps(report) and entry["leaf_salt"] not in json.dumps(report)


def test_e2e_inspect(e2e: E2E) -> None:
    manifest = manifest_of(e2e.bundle)
    result = succeeded(solvency("inspect", e2e.bundle))
    assert "does not verify" in result.stdout
    assert manifest["bundle_digest"] in result.stdout
    summary = json.loads(succeeded(solvency("inspect", e2e.bundle, "--json")).stdout)
    assert summary["verified"] is False and summary["files_ok"] is True and summary["extra_files"] == []
    assert summary["bundle_digest"] == manifest["bundle_digest"]
    assert [(a["symbol"], a["leaf_count"], a["chunk_count"]) for a in summary["assets"]] == [
        (a["symbol"], a["leaf_count"], a["leaf_count"] // 16) for a in manifest["assets"]
    ]
    assert all(f["digest_ok"] for a in summary["assets"] for f in a["files"])


# ---------------------------------------------------------------------------
# 2. Bad input: exit 4, the file, line and field named, nothing written

BOOK = "book.csv"
VAULT = "vault.json"
GOOD_ROWS = "alice,BTC,1.5\nbob,ETH,2\n"
GOOD_RESERVES = {"exchange": EXCHANGE, "round": ROUND_A, "assets": [
    {"symbol": "BTC", "decimals": 8, "reserves": "1000"},
    {"symbol": "ETH", "decimals": 9, "reserves": "1000"},
]}


def _reserves_with(reserves: str) -> dict[str, Any]:
    doc = json.loads(json.dumps(GOOD_RESERVES))
    doc["assets"][0]["reserves"] = reserves
    return doc


# (case, ledger text, reserves document or raw JSON text, message prefix (file:line: field:), reason)
BAD_INPUTS = [
    ("negative_amount", HEADER + GOOD_ROWS + "carol,BTC,-1\n", GOOD_RESERVES, "book.csv:4: amount: ", "negative"),
    ("too_many_decimals", HEADER + "alice,BTC,0.123456789\n", GOOD_RESERVES, "book.csv:2: amount: ",
     "too many decimals"),
    ("amount_2_64_base_units", HEADER + f"alice,BTC,{format_amount(TWO_64, 8)}\n", GOOD_RESERVES,
     "book.csv:2: amount: ", "2^64 base units or more"),
    ("amount_far_above_2_64", HEADER + GOOD_ROWS + "carol,ETH," + "9" * 40 + "\n", GOOD_RESERVES,
     "book.csv:4: amount: ", "2^64 base units or more"),
    ("duplicate_row", HEADER + GOOD_ROWS + "alice,ETH,1\nalice,BTC,3\n", GOOD_RESERVES,
     "book.csv:5: customer_id: ", "lines 2 and 5"),
    ("unknown_asset", HEADER + GOOD_ROWS + "carol,DOGE,7\n", GOOD_RESERVES, "book.csv:4: asset: ", "unknown asset"),
    ("malformed_csv_quote", HEADER + GOOD_ROWS + '"carol,BTC,1\n', GOOD_RESERVES, "book.csv:4: row: ",
     "malformed CSV"),
    ("malformed_csv_fields", HEADER + "alice,BTC\n", GOOD_RESERVES, "book.csv:2: row: ", "expected 3 fields"),
    ("malformed_csv_header", "id,asset,amount\n" + GOOD_ROWS, GOOD_RESERVES, "book.csv:1: header: ",
     "expected exactly"),
    ("empty_ledger", HEADER, GOOD_RESERVES, "book.csv:2: row: ", "empty ledger"),
    ("empty_ledger_file", "", GOOD_RESERVES, "book.csv:1: header: ", "empty ledger"),
    ("malformed_json", HEADER + GOOD_ROWS, '{"exchange": "X",\n  "round": }', "vault.json: file: ",
     "malformed JSON at line 2"),
    ("malformed_json_truncated", HEADER + GOOD_ROWS, json.dumps(GOOD_RESERVES)[:-3], "vault.json: file: ",
     "malformed JSON"),
    ("reserves_2_128", HEADER + GOOD_ROWS, _reserves_with(format_amount(TWO_128, 8)),
     "vault.json: assets[0].reserves: ", "2^128 base units or more"),
    ("reserves_far_above_2_128", HEADER + GOOD_ROWS, _reserves_with("9" * 60), "vault.json: assets[0].reserves: ",
     "2^128 base units or more"),
    ("reserves_too_many_decimals", HEADER + GOOD_ROWS, _reserves_with("1.123456789"),
     "vault.json: assets[0].reserves: ", "too many decimals"),
]


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "master.key"
    path.write_bytes(bytes(range(32)))
    return path


@pytest.mark.parametrize(
    ("ledger", "reserves", "prefix", "reason"), [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_input_is_refused_and_nothing_is_written(
    tmp_path: Path, secret: Path, ledger: str, reserves: Any, prefix: str, reason: str
) -> None:
    (tmp_path / BOOK).write_text(ledger, encoding="utf-8")
    (tmp_path / VAULT).write_text(reserves if isinstance(reserves, str) else json.dumps(reserves), encoding="utf-8")
    result = prove(tmp_path / BOOK, tmp_path / VAULT, secret, tmp_path / "bundle", tmp_path / "packages")
    message = refused(result, EXIT_INPUT)
    assert message.startswith(prefix), message
    assert reason in message, message
    assert result.stdout == ""
    assert_nothing_written(tmp_path, {BOOK, VAULT, "master.key"})


def test_bad_input_with_progress_bars_is_still_a_clean_error(tmp_path: Path, secret: Path) -> None:
    (tmp_path / BOOK).write_text(HEADER + "alice,BTC,-1\n", encoding="utf-8")
    (tmp_path / VAULT).write_text(json.dumps(GOOD_RESERVES), encoding="utf-8")
    result = solvency(
        "prove", "--packages-format", "dir", "--ledger", tmp_path / BOOK, "--reserves", tmp_path / VAULT,
        "--secret", secret,
        "--out", tmp_path / "bundle", "--packages", tmp_path / "packages",
    )
    assert result.exit_code == EXIT_INPUT and isinstance(result.exception, SystemExit)
    assert "error: book.csv:2: amount: " in result.stderr and "Traceback" not in result.output
    assert_nothing_written(tmp_path, {BOOK, VAULT, "master.key"})


@pytest.fixture
def good_inputs(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / BOOK).write_text(HEADER + GOOD_ROWS, encoding="utf-8")
    (tmp_path / VAULT).write_text(json.dumps(GOOD_RESERVES), encoding="utf-8")
    return tmp_path / BOOK, tmp_path / VAULT


def test_keygen_creates_0600_and_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    out = succeeded(solvency("keygen", path)).stdout
    assert "wrote a new 32-byte master secret" in out
    data = path.read_bytes()
    assert len(data) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    message = refused(solvency("keygen", path), EXIT_INPUT)
    assert "already exists" in message and "master.key" in message
    assert path.read_bytes() == data
    # Two keys are different.
    succeeded(solvency("keygen", tmp_path / "other.key"))
    assert (tmp_path / "other.key").read_bytes() != data


@pytest.mark.parametrize("existing", ["bundle", "packages"])
def test_prove_refuses_an_existing_output_directory(
    tmp_path: Path, secret: Path, good_inputs: tuple[Path, Path], existing: str
) -> None:
    (tmp_path / existing).mkdir()
    (tmp_path / existing / "precious.txt").write_text("keep me")
    message = refused(prove(*good_inputs, secret, tmp_path / "bundle", tmp_path / "packages"), EXIT_INPUT)
    assert "already exists" in message and existing in message
    assert [p.name for p in (tmp_path / existing).iterdir()] == ["precious.txt"]
    assert (tmp_path / existing / "precious.txt").read_text() == "keep me"
    assert_nothing_written(tmp_path, {BOOK, VAULT, "master.key", existing})


def test_prove_refuses_a_missing_secret_file(tmp_path: Path, good_inputs: tuple[Path, Path]) -> None:
    message = refused(prove(*good_inputs, tmp_path / "nokey.key", tmp_path / "b", tmp_path / "p"), EXIT_INPUT)
    assert "nokey.key" in message and "cannot read" in message
    assert_nothing_written(tmp_path, {BOOK, VAULT})


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_prove_refuses_a_secret_of_the_wrong_length(tmp_path: Path, good_inputs: tuple[Path, Path], size: int) -> None:
    key = tmp_path / "short.key"
    content = bytes((7 * i + 1) % 256 for i in range(size))
    key.write_bytes(content)
    message = refused(prove(*good_inputs, key, tmp_path / "b", tmp_path / "p"), EXIT_INPUT)
    assert "short.key" in message and "exactly 32 bytes" in message
    if size:
        assert content.hex() not in message and content[:8].hex() not in message  # never leaks the secret
    assert_nothing_written(tmp_path, {BOOK, VAULT, "short.key"})


def test_prove_refuses_the_same_path_for_bundle_and_packages(
    tmp_path: Path, secret: Path, good_inputs: tuple[Path, Path]
) -> None:
    result = prove(*good_inputs, secret, tmp_path / "out", tmp_path / "out", "--chunk", 1)
    refused(result, EXIT_INPUT)
    assert_nothing_written(tmp_path, {BOOK, VAULT, "master.key"})


def test_gen_ledger_refuses_bad_assets(tmp_path: Path) -> None:
    message = refused(solvency("gen-ledger", "--customers", 5, "--assets", "btc", "--out", tmp_path / "in"),
                      EXIT_INPUT)
    assert message.startswith("gen-ledger: assets: ")
    assert not (tmp_path / "in" / "ledger.csv").exists()


def test_gen_ledger_edge_cases_adds_maximal_balances_only_on_request(tmp_path: Path) -> None:
    """The demo ledger holds no 2^64 - 1 balance (C.8); ``--edge-cases`` adds a few for tests."""
    def base_units(name: str, *extra: object) -> list[int]:
        succeeded(solvency("gen-ledger", "--customers", 300, "--assets", "BTC,ETH,USDT", "--out", tmp_path / name,
                           *extra))
        rows = _ledger_rows(tmp_path / name / "ledger.csv")
        return [parse_amount(v, DECIMALS[asset]) for (_, asset), v in rows.items()]

    assert TWO_64 - 1 not in base_units("plain")
    assert TWO_64 - 1 in base_units("edge", "--edge-cases")


def test_gen_ledger_refuses_an_out_path_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("not a directory")
    refused(solvency("gen-ledger", "--customers", 5, "--out", tmp_path / "taken"), EXIT_INPUT)
    assert (tmp_path / "taken").read_text() == "not a directory"


# ---------------------------------------------------------------------------
# 3. Insolvent, --min-ratio, --disclose-liabilities


@pytest.mark.parametrize("insolvent", ["BTC", "ETH"])
def test_insolvent_asset_is_refused(tmp_path: Path, secret: Path, insolvent: str) -> None:
    # Liabilities 10 BTC + 1 satoshi and 10 ETH + 1 gwei; reserves cover the solvent asset exactly
    # and fall one base unit short for the other.
    ledger = write_ledger(tmp_path / BOOK, [
        ("alice", "BTC", "6"), ("bob", "BTC", "4.00000001"), ("carol", "ETH", "10"), ("dave", "ETH", "0.000000001"),
    ])
    reserves = {"BTC": "10.00000001", "ETH": "10.000000001"}
    reserves[insolvent] = "10"
    write_reserves(tmp_path / VAULT, reserves)
    message = refused(prove(ledger, tmp_path / VAULT, secret, tmp_path / "b", tmp_path / "p"), EXIT_INPUT)
    assert f"insolvent for {insolvent}" in message
    other = "ETH" if insolvent == "BTC" else "BTC"
    assert f"insolvent for {other}" not in message
    assert_nothing_written(tmp_path, {BOOK, VAULT, "master.key"})


def _ratio_inputs(tmp_path: Path, btc_reserves: str) -> tuple[Path, Path]:
    """BTC liabilities exactly 100 BTC; ETH comfortably covered."""
    ledger = write_ledger(tmp_path / BOOK, [
        ("alice", "BTC", "60"), ("bob", "BTC", "39.99999999"), ("carol", "BTC", "0.00000001"), ("carol", "ETH", "1"),
    ])
    return ledger, write_reserves(tmp_path / VAULT, {"BTC": btc_reserves, "ETH": "2"})


def test_min_ratio_refuses_reserves_of_only_1_04_times_liabilities(tmp_path: Path, secret: Path) -> None:
    ledger, reserves = _ratio_inputs(tmp_path, "104")
    result = prove(ledger, reserves, secret, tmp_path / "b", tmp_path / "p", "--min-ratio", "1.05")
    message = refused(result, EXIT_INPUT)
    assert "insolvent for BTC" in message and "21/20" in message
    assert_nothing_written(tmp_path, {BOOK, VAULT, "master.key"})
    # Without --min-ratio the same inputs are solvent (1.04 >= 1): only the ratio refused them.
    succeeded(prove(ledger, reserves, secret, tmp_path / "b", tmp_path / "p", "--chunk", 2))


def test_min_ratio_accepts_exactly_the_ratio(tmp_path: Path, secret: Path) -> None:
    ledger, reserves = _ratio_inputs(tmp_path, "105")  # surplus 20*105 - 21*100 = 0
    succeeded(prove(ledger, reserves, secret, tmp_path / "b", tmp_path / "p", "--min-ratio", "1.05", "--chunk", 2))
    code, report = verify_json(tmp_path / "b")
    assert code == EXIT_OK and report["ok"] is True


def test_min_ratio_1_05_with_reserves_of_1_06_times_liabilities(tmp_path: Path, secret: Path) -> None:
    ledger, reserves = _ratio_inputs(tmp_path, "106")
    result = succeeded(prove(ledger, reserves, secret, tmp_path / "b", tmp_path / "p", "--min-ratio", "1.05"))
    assert "self-check: the bundle verifies" in result.stdout
    assert [a["min_ratio"] for a in manifest_of(tmp_path / "b")["assets"]] == [{"num": 21, "den": 20}] * 2
    code, report = verify_json(tmp_path / "b")
    assert code == EXIT_OK and report["ok"] is True
    btc = next(a for a in report["assets"] if a["symbol"] == "BTC")
    assert btc["min_ratio"] == {"num": 21, "den": 20}  # 105/100 in lowest terms
    assert btc["solvency_ok"] is True and btc["reserves"] == str(106 * 10**8)
    assert "1.05" in succeeded(solvency("verify", tmp_path / "b")).stdout
    # The customer hears about the ratio too.
    carol = package_path(tmp_path / "p", "carol")
    assert "21/20 (1.05)" in succeeded(solvency("check", carol, "--bundle", tmp_path / "b")).stdout


@pytest.mark.parametrize("ratio", ["0.9", "abc", "1e5", "-1.05", "", "0", "1.0000000001", "1,05"])
def test_bad_min_ratio_is_refused(tmp_path: Path, secret: Path, ratio: str) -> None:
    ledger, reserves = _ratio_inputs(tmp_path, "200")
    message = refused(prove(ledger, reserves, secret, tmp_path / "b", tmp_path / "p", "--min-ratio", ratio),
                      EXIT_INPUT)
    assert "--min-ratio" in message
    assert_nothing_written(tmp_path, {BOOK, VAULT, "master.key"})


def test_disclose_liabilities_verifies_and_a_tampered_disclosure_fails(tmp_path: Path, secret: Path) -> None:
    ledger, reserves = _ratio_inputs(tmp_path, "150")
    succeeded(prove(ledger, reserves, secret, tmp_path / "b", tmp_path / "p", "--disclose-liabilities", "--chunk", 2))
    code, report = verify_json(tmp_path / "b")
    assert code == EXIT_OK and report["ok"] is True
    disclosed = {
        a["symbol"]: (a["liabilities_disclosed"], a["liabilities_disclosed_display"]) for a in report["assets"]
    }
    assert disclosed == {"BTC": (str(100 * 10**8), "100.00000000"), "ETH": (str(10**9), "1.000000000")}
    out = succeeded(solvency("check", package_path(tmp_path / "p", "carol"), "--bundle", tmp_path / "b")).stdout
    assert "disclosed total BTC liabilities of 100.00000000 BTC" in out

    # The exchange understates its liabilities by one satoshi and re-signs the manifest.
    manifest = manifest_of(tmp_path / "b")
    assert manifest["assets"][0]["disclosed_liabilities"]["amount"] == str(100 * 10**8)
    manifest["assets"][0]["disclosed_liabilities"]["amount"] = str(100 * 10**8 - 1)
    resign(tmp_path / "b", manifest)
    result = solvency("verify", tmp_path / "b", "--quiet")
    message = refused(result, EXIT_VERIFICATION)
    assert message.startswith("manifest.assets[0].disclosed_liabilities: ")
    assert "FAIL [manifest.assets[0].disclosed_liabilities]" in result.stdout
    code, report = verify_json(tmp_path / "b")
    assert code == EXIT_VERIFICATION
    assert (report["ok"], report["exit_code"], report["failure_kind"]) == (False, EXIT_VERIFICATION, "false")
    assert report["failure_section"] == "manifest.assets[0].disclosed_liabilities"


# ---------------------------------------------------------------------------
# 4-5. Determinism, and packages of another round or bundle (four small bundles for the module)

SMALL_ROWS = [
    *[(f"user-{i:02d}", "BTC", format_amount(10**6 * (i + 1), 8)) for i in range(8)],
    ("Zo\u00eb \u00c5str\u00f6m", "BTC", "0.25"),
    ('the "whale", Jr.', "BTC", "12.5"),
    ("user-03", "ETH", "2.000000001"),
    ("user-05", "ETH", "0"),
    ("\u5c71\u7530 \U0001f680", "ETH", "7.5"),
    ('the "whale", Jr.', "ETH", "100"),
    ("user-09", "ETH", "0.000000001"),
]
SMALL_RESERVES = {"BTC": "20", "ETH": "200"}


@dataclass
class Small:
    root: Path
    ledger: Path
    reserves_a: Path
    reserves_b: Path
    secret_1: Path
    secret_2: Path

    def bundle(self, name: str) -> Path:
        return self.root / name / "bundle"

    def packages(self, name: str) -> Path:
        return self.root / name / "packages"

    def run_nonce(self, name: str) -> str:
        """The hex run nonce of a run (its ``run.json``), for ``--run-nonce``."""
        nonce: str = json.loads((self.packages(name) / "run.json").read_bytes())["run_nonce"]
        return nonce


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Small:
    """Bundles of one 2-asset ledger: a1, a1_fresh (round A, secret 1, each its own run nonce), a1_again (a1
    reproduced with a1's --run-nonce), b1 (round B), a2 (secret 2)."""
    root = tmp_path_factory.mktemp("small")
    made = Small(
        root, write_ledger(root / "ledger.csv", SMALL_ROWS),
        write_reserves(root / "reserves-a.json", SMALL_RESERVES, ROUND_A),
        write_reserves(root / "reserves-b.json", SMALL_RESERVES, ROUND_B),
        root / "secret-1.key", root / "secret-2.key",
    )
    succeeded(solvency("keygen", made.secret_1))
    succeeded(solvency("keygen", made.secret_2))
    for name, reserves, secret in (
        ("a1", made.reserves_a, made.secret_1),
        ("a1_again", made.reserves_a, made.secret_1),
        ("a1_fresh", made.reserves_a, made.secret_1),
        ("b1", made.reserves_b, made.secret_1),
        ("a2", made.reserves_a, made.secret_2),
    ):
        (root / name).mkdir()
        nonce = ("--run-nonce", made.run_nonce("a1")) if name == "a1_again" else ()
        succeeded(prove(made.ledger, reserves, secret, made.bundle(name), made.packages(name), "--chunk", 4, *nonce))
    return made


def _public_leaf_data(bundle: Path) -> dict[str, Any]:
    manifest = manifest_of(bundle)
    return {
        a["symbol"]: (a["leaf_count"], a["merkle_root"], a["liabilities_commitment"], leaves(bundle, a["symbol"]))
        for a in manifest["assets"]
    }


def _without_digest(packages: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {cid: {k: v for k, v in p.items() if k != "bundle_digest"} for cid, p in packages.items()}


def test_same_run_nonce_gives_the_same_commitments_ids_and_roots(small: Small, tmp_path: Path) -> None:
    """``--run-nonce`` of an earlier run (same secret, ledger and round) reproduces that run's leaves."""
    first, second = small.bundle("a1"), small.bundle("a1_again")
    assert _public_leaf_data(first) == _public_leaf_data(second)
    for symbol in ("BTC", "ETH"):
        assert leaves(first, symbol) == leaves(second, symbol)  # ids and commitments, dummies included
    # The packages (blindings, salts, leaf ids, indices, paths) are the same too; only the bundle
    # digest differs, since each run's range proofs use fresh randomness.
    again = packages_of(small.packages("a1_again"))
    assert _without_digest(packages_of(small.packages("a1"))) == _without_digest(again)
    # Leaves are ordered by leaf id, not by ledger position: shuffled rows give the same leaves.
    shuffled = write_ledger(tmp_path / "shuffled.csv", SMALL_ROWS[::-1])
    succeeded(prove(shuffled, small.reserves_a, small.secret_1, tmp_path / "b", tmp_path / "p", "--chunk", 4,
                    "--run-nonce", small.run_nonce("a1")))
    assert _public_leaf_data(tmp_path / "b") == _public_leaf_data(first)


def test_another_run_round_or_secret_gives_fresh_leaves(small: Small) -> None:
    """A second run on the same inputs (a fresh run nonce), another round or another secret share no leaf."""
    assert small.run_nonce("a1_fresh") != small.run_nonce("a1")
    a1 = _public_leaf_data(small.bundle("a1"))
    for other in ("a1_fresh", "b1", "a2"):
        data = _public_leaf_data(small.bundle(other))
        for symbol in ("BTC", "ETH"):
            count, root, C_L, body = data[symbol]
            assert count == a1[symbol][0]
            assert root != a1[symbol][1] and C_L != a1[symbol][2]
            records = {body[i : i + 80] for i in range(16, len(body), 80)}
            old = a1[symbol][3]
            assert records.isdisjoint(old[i : i + 80] for i in range(16, len(old), 80))
            ids = {r[:32] for r in records}
            assert ids.isdisjoint(old[i : i + 32] for i in range(16, len(old), 80))


@pytest.mark.parametrize(
    ("package_from", "bundle_from"),
    [("a1", "b1"), ("b1", "a1"), ("a2", "a1"), ("a1", "a2"), ("a1_again", "a1"), ("a1_fresh", "a1")],
    ids=["round_a_vs_round_b", "round_b_vs_round_a", "other_secret", "other_secret_reverse", "same_run_nonce_rerun",
         "same_inputs_rerun"],
)
def test_package_from_another_round_or_bundle_is_rejected(small: Small, package_from: str, bundle_from: str) -> None:
    path = package_path(small.packages(package_from), "user-03")
    succeeded(solvency("check", path, "--bundle", small.bundle(package_from)))
    message = refused(solvency("check", path, "--bundle", small.bundle(bundle_from)), EXIT_VERIFICATION)
    assert message.startswith("package.bundle_digest: ")
    assert "another bundle or round" in message


def _forged(small: Small, package_from: str, customer: str, bundle_from: str, tmp_path: Path) -> Path:
    """The customer's package with its bundle digest replaced by another bundle's."""
    package = json.loads(package_path(small.packages(package_from), customer).read_bytes())
    package["bundle_digest"] = manifest_of(small.bundle(bundle_from))["bundle_digest"]
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(package))
    return path


def test_package_of_another_round_with_a_forged_digest_is_still_rejected(small: Small, tmp_path: Path) -> None:
    path = _forged(small, "a1", "user-03", "b1", tmp_path)
    message = refused(solvency("check", path, "--bundle", small.bundle("b1")), EXIT_VERIFICATION)
    assert ROUND_A in message and ROUND_B in message and "round" in message


def test_package_of_another_bundle_with_a_forged_digest_is_still_rejected(small: Small, tmp_path: Path) -> None:
    path = _forged(small, "a2", "user-03", "a1", tmp_path)
    message = refused(solvency("check", path, "--bundle", small.bundle("a1")), EXIT_VERIFICATION)
    # The digest now matches, but the package's leaves are not this bundle's.
    assert message.startswith("package.entries[0]: ") and "Merkle root" in message, message
    # With --json the failure is a JSON payload on stdout, like `verify --json`.
    result = solvency("check", path, "--bundle", small.bundle("a1"), "--json")
    assert result.exit_code == EXIT_VERIFICATION
    payload = json.loads(result.stdout)
    assert payload["ok"] is False and payload["exit_code"] == EXIT_VERIFICATION
    assert payload["failure_section"].startswith("package.entries[0]")


# ---------------------------------------------------------------------------
# 6. Tampered bundles


@pytest.fixture
def tampered(e2e: E2E, tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(e2e.bundle, copy)
    return copy


def _btc_customers_by_chunk(e2e: E2E) -> dict[int, list[str]]:
    chunks: dict[int, list[str]] = {}
    for cid, package in packages_of(e2e.packages).items():
        for entry in package["entries"]:
            if entry["asset"] == "BTC":
                chunks.setdefault(entry["leaf_index"] // 16, []).append(cid)
    return chunks


def test_flipped_byte_in_a_range_proof_file_is_malformed(tampered: Path) -> None:
    path = tampered / "BTC.rangeproofs.bin"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    result = solvency("verify", tampered, "--quiet")
    message = refused(result, EXIT_FORMAT)
    assert message.startswith("BTC.rangeproofs.bin: ") and "SHA-256" in message
    assert "FAIL [BTC.rangeproofs.bin]" in result.stdout
    code, report = verify_json(tampered)
    assert code == EXIT_FORMAT
    assert (report["ok"], report["exit_code"], report["failure_kind"]) == (False, EXIT_FORMAT, "malformed")
    assert report["failure_section"] == "BTC.rangeproofs.bin"


def test_resigned_tampered_range_proof_fails_naming_the_chunk(e2e: E2E, tampered: Path, tmp_path: Path) -> None:
    chunks = _btc_customers_by_chunk(e2e)
    k = sorted(chunks)[1]
    size = range_record_size(16)
    path = tampered / "BTC.rangeproofs.bin"
    data = bytearray(path.read_bytes())
    at = 16 + k * size + 193  # t_x: a canonical scalar stays canonical after + 1 (mod r)
    t_x = int.from_bytes(data[at : at + 32], "little")
    data[at : at + 32] = ((t_x + 1) % GROUP_ORDER).to_bytes(32, "little")
    path.write_bytes(bytes(data))
    new_digest = resign(tampered, manifest_of(tampered))

    section = f"BTC.rangeproofs.bin chunk {k}"
    result = solvency("verify", tampered, "--quiet")
    message = refused(result, EXIT_VERIFICATION)
    assert message.startswith(f"{section}: ")
    assert f"FAIL [{section}]" in result.stdout
    code, report = verify_json(tampered)
    assert code == EXIT_VERIFICATION
    assert (report["ok"], report["exit_code"], report["failure_kind"]) == (False, EXIT_VERIFICATION, "false")
    assert report["failure_section"] == section and "rangeproofs" in report["failure"]
    btc = report["assets"][0]
    assert btc["symbol"] == "BTC" and btc["range_proofs_ok"] is False and btc["ok"] is False

    # An exchange that re-issued packages naming the tampered bundle: the check of a customer of the
    # tampered chunk catches it. A format-3 check reads only the customer's own chunk and path, so a
    # customer of another chunk passes, and their verdict says the other chunks rest on
    # `solvency verify` (which fails above); --own-chunk-only changes nothing for format 3.
    def forged(cid: str) -> Path:
        package = json.loads(package_path(e2e.packages, cid).read_bytes())
        package["bundle_digest"] = new_digest
        out = tmp_path / f"{hashlib.sha256(cid.encode()).hexdigest()[:8]}.json"
        out.write_text(json.dumps(package))
        return out

    message = refused(solvency("check", forged(chunks[k][0]), "--bundle", tampered), EXIT_VERIFICATION)
    assert message.startswith(f"{section}: ")
    other = next(c for j, cs in sorted(chunks.items()) if j != k for c in cs)
    result = succeeded(solvency("check", forged(other), "--bundle", tampered))
    assert "does NOT prove that the other BTC chunks' range proofs hold" in result.stdout
    result = succeeded(solvency("check", forged(other), "--bundle", tampered, "--own-chunk-only"))
    assert "does NOT prove that the other BTC chunks' range proofs hold" in result.stdout


# ---------------------------------------------------------------------------
# 7. --pad-to


def test_pad_to_512(small: Small, tmp_path: Path) -> None:
    result = prove(
        small.ledger, small.reserves_a, small.secret_1, tmp_path / "b", tmp_path / "p", "--pad-to", 512, "--chunk", 64,
        "--run-nonce", small.run_nonce("a1"),
    )
    succeeded(result)
    manifest = manifest_of(tmp_path / "b")
    assert [(a["symbol"], a["leaf_count"], a["chunk_size"]) for a in manifest["assets"]] == [
        ("BTC", 512, 64), ("ETH", 512, 64)
    ]
    summary = json.loads(succeeded(solvency("inspect", tmp_path / "b", "--json")).stdout)
    assert [(a["leaf_count"], a["chunk_count"]) for a in summary["assets"]] == [(512, 8), (512, 8)]
    # Padding changes only the leaf count: the real leaves are the unpadded bundle's (same round, secret, run nonce).
    body = leaves(small.bundle("a1"), "BTC")
    real = {body[i : i + 80] for i in range(16, len(body), 80)}
    padded = leaves(tmp_path / "b", "BTC")
    assert real <= {padded[i : i + 80] for i in range(16, len(padded), 80)}
    path = package_path(tmp_path / "p", 'the "whale", Jr.')
    report = json.loads(succeeded(solvency("check", path, "--bundle", tmp_path / "b", "--json")).stdout)
    assert report["ok"] is True and [e["leaf_count"] for e in report["entries"]] == [512, 512]


@pytest.mark.parametrize(("pad_to", "reason"), [(8, "below the 10 customers holding BTC"), (96, "multiple of")])
def test_bad_pad_to_is_refused(small: Small, tmp_path: Path, pad_to: int, reason: str) -> None:
    result = prove(small.ledger, small.reserves_a, small.secret_1, tmp_path / "b", tmp_path / "p", "--pad-to", pad_to)
    message = refused(result, EXIT_INPUT)
    assert "--pad-to" in message and reason in message
    assert_nothing_written(tmp_path, set())


# ---------------------------------------------------------------------------
# 8. Scale (deselected by default: pytest -m slow)


@pytest.mark.slow
def test_scale_4096_customers_one_asset(tmp_path: Path) -> None:
    succeeded(solvency("gen-ledger", "--customers", 4096, "--assets", "BTC", "--seed", 5, "--out", tmp_path / "in"))
    succeeded(solvency("keygen", tmp_path / "master.key"))
    result = prove(
        tmp_path / "in" / "ledger.csv", tmp_path / "in" / "reserves.json", tmp_path / "master.key",
        tmp_path / "bundle", tmp_path / "packages",
    )
    assert "4,096 customer packages" in succeeded(result).stdout
    code, report = verify_json(tmp_path / "bundle")
    assert code == EXIT_OK and report["ok"] is True
    assert [(a["leaf_count"], a["chunk_count"]) for a in report["assets"]] == [(4096, 64)]
    packages = sorted(p for p in (tmp_path / "packages").glob("*.json") if p.name != "run.json")
    assert len(packages) == 4096
    check = json.loads(succeeded(solvency("check", packages[len(packages) // 2], "--bundle", tmp_path / "bundle",
                                          "--json")).stdout)
    assert check["ok"] is True and check["entries"][0]["leaf_count"] == 4096


# ---------------------------------------------------------------------------
# 9. demo (about 8 s: the only one)


def test_demo_runs_everything_and_catches_tampering() -> None:
    result = succeeded(solvency("demo"))
    out = result.stdout
    assert "PASS" in out
    assert "rejected with exit code 3" in out and "SHA-256" in out
    assert "demo complete" in out
    assert "Traceback" not in result.output
