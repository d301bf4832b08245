"""CLI hygiene (issue: "No traceback reaches the user for any user error; messages never contain secrets").

1. Secret scan. One small real round is made with the CLI (``keygen``, ``gen-ledger``
   with 20 customers x BTC,ETH, ``prove --chunk 4``). Every secret of the round is
   recomputed from the master secret and the run nonce of ``run.json`` with the
   derivation of ``prover/keys.py`` (``docs/FORMAT.md`` §9): the run nonce, the HKDF
   PRK, each customer's and each dummy leaf's blinding and raw OKM, each leaf salt,
   each asset's blinding sum and surplus blinding, and the master itself. The derivation is tied to the produced files
   (packages, leaf ids, ``C_L``) so the list is provably complete. Every byte of
   every bundle file and everything the CLI printed is scanned for each secret in
   raw little/big-endian, lower/upper hex, decimal and base64 (any alignment), and
   for any 8-byte window (16 hex digits) of it. Positive controls show the scanner
   finds a blinding in a package and a master secret planted in any encoding.
2. No traceback for user errors: a table over every subcommand of missing files,
   directories for files and vice versa, empty, binary and non-UTF-8 files, JSON
   lists, symlink loops, dangling symlinks, NUL bytes and bad option values; each
   must exit with its documented code (2 usage, 3 malformed, 4 input) and one
   ``error:`` line naming the file or field.
3. Failures with secrets in play (forged packages, corrupted secret files, ledger
   errors, tampered bundles) print no blinding, salt, PRK or master secret.
4. The installed ``solvency`` console script behaves as ``CliRunner`` does.

The bad prove inputs of ``test_pipeline_cli.py`` (ledger/reserves content) are not repeated.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from circuits.backends import get_backend
from circuits.constants import GROUP_ORDER
from circuits.datafiles import leaf_id
from circuits.encoding import frame
from circuits.generators import PedersenGens
from circuits.jsonio import canonical_json
from circuits.manifest import bundle_digest
from cli.exit_codes import EXIT_FORMAT, EXIT_INPUT, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_VERIFICATION
from cli.main import app
from prover.amounts import parse_amount
from prover.keys import RunSecrets, hkdf_expand, hkdf_extract

runner = CliRunner()

CUSTOMERS = 20
ASSETS = ("BTC", "ETH")
CHUNK = 4
WINDOW = 8  # bytes of a secret that count as a partial leak
T_X_OFFSET = 193  # offset of t_x in a range-proof record (see test_pipeline_cli.py)


# ---------------------------------------------------------------------------
# Running the CLI


def solvency(*args: object, env: Mapping[str, str] | None = None) -> Result:
    """Run ``solvency ARGS...`` in-process."""
    return runner.invoke(app, [str(a) for a in args], env=env)


def streams(result: Result) -> tuple[str, str]:
    """Return ``(stdout, stderr)``; with an old Click that mixes them, stderr is empty and stdout holds both."""
    try:
        err = result.stderr
    except ValueError:  # Click < 8.2 with mix_stderr=True
        err = ""
    return result.stdout, err


def printed(result: Result) -> str:
    """Everything the command printed, stdout then stderr."""
    out, err = streams(result)
    return out + err


def succeeded(result: Result) -> Result:
    assert result.exit_code == EXIT_OK, f"exit {result.exit_code}\n{printed(result)}\n{result.exception!r}"
    return result


def assert_clean_exit(result: Result, code: int) -> None:
    """The exit code is ``code``, no exception escaped the command, and no traceback was printed."""
    out, err = streams(result)
    assert result.exit_code == code, f"exit {result.exit_code}, expected {code}\n{out}\n{err}\n{result.exception!r}"
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in out and "Traceback" not in err


def error_line(result: Result) -> str:
    """The single non-blank stderr line of a refused command, which must start with ``error: ``."""
    _, err = streams(result)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one error line, got:\n{err}"
    assert lines[0].startswith("error: "), lines[0]
    return lines[0].removeprefix("error: ")


def usage_message(result: Result) -> str:
    """Click's usage error on stderr, its box drawing removed and its wrapped lines joined."""
    _, err = streams(result)
    assert err.startswith("Usage: "), err
    return " ".join(err.replace("\u2502", " ").split())


# ---------------------------------------------------------------------------
# The secret scanner


def _to_bytes(value: int | bytes) -> bytes:
    return value.to_bytes(32, "little") if isinstance(value, int) else value


def encodings(secret: bytes) -> dict[str, bytes]:
    """Every whole encoding of ``secret`` (given in its little-endian byte form) a leak could take."""
    out: dict[str, bytes] = {}
    for order, raw in (("le", secret), ("be", secret[::-1])):
        out[f"raw-{order}"] = raw
        out[f"hex-{order}"] = raw.hex().encode()
        out[f"HEX-{order}"] = raw.hex().upper().encode()
        out[f"decimal-{order}"] = str(int.from_bytes(raw, "big")).encode()
        # Base64 at each of the three alignments, so a secret inside a longer base64 text is found too.
        for shift in range(3):
            body = raw[shift : shift + (len(raw) - shift) // 3 * 3]
            out[f"base64-{order}-{shift}"] = base64.b64encode(body).rstrip(b"=")
            out[f"base64url-{order}-{shift}"] = base64.urlsafe_b64encode(body).rstrip(b"=")
    return out


def _windows(data: bytes, size: int) -> set[bytes]:
    return {data[i : i + size] for i in range(len(data) - size + 1)}


@dataclass
class Scanner:
    """Finds any of a set of secrets, whole or as an 8-byte window, in bytes."""

    secrets: dict[str, bytes]
    _whole: list[tuple[str, str, bytes]] = field(init=False, default_factory=list)
    _raw_windows: dict[bytes, str] = field(init=False, default_factory=dict)
    _hex_windows: dict[bytes, str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        for label, secret in self.secrets.items():
            assert len(secret) >= WINDOW, label
            self._whole.extend((label, kind, needle) for kind, needle in encodings(secret).items())
            for raw in (secret, secret[::-1]):
                for window in _windows(raw, WINDOW):
                    self._raw_windows[window] = label
                    self._hex_windows[window.hex().encode()] = label

    def find(self, data: bytes | str) -> list[str]:
        """Return ``"<secret>: <encoding>"`` for every secret found in ``data`` (empty if none)."""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        found = [f"{label}: {kind}" for label, kind, needle in self._whole if needle in data]
        found += [f"{self._raw_windows[w]}: 8-byte window" for w in _windows(data, WINDOW) & self._raw_windows.keys()]
        hex_text = data.lower()  # upper-case hex too
        found += [
            f"{self._hex_windows[w]}: 16-hex-digit window"
            for w in _windows(hex_text, 2 * WINDOW) & self._hex_windows.keys()
        ]
        return sorted(set(found))


# ---------------------------------------------------------------------------
# One small round, made with the CLI, and every secret of it


@dataclass
class Round:
    root: Path
    secret_file: Path
    ledger: Path
    reserves: Path
    bundle: Path
    packages: Path
    master: bytes
    round_label: str
    run_nonce: bytes
    holders: dict[str, list[str]]  # asset -> customer ids
    amounts: dict[tuple[str, str], int]  # (asset, customer) -> base units
    blindings: dict[tuple[str, str], int]
    salts: dict[tuple[str, str], bytes]
    secrets: dict[str, bytes]  # label -> little-endian bytes
    outputs: dict[str, str]  # what each CLI run printed
    scanner: Scanner

    def package(self, customer_id: str) -> Path:
        with (self.packages / "index.csv").open(encoding="utf-8", newline="") as f:
            return self.packages / next(name for cid, name in csv.reader(f) if cid == customer_id)

    def manifest(self) -> dict[str, Any]:
        manifest: dict[str, Any] = json.loads((self.bundle / "manifest.json").read_bytes())
        return manifest


def _read_inputs(ledger: Path, reserves: Path) -> tuple[dict[str, list[str]], dict[tuple[str, str], int]]:
    decimals = {a["symbol"]: a["decimals"] for a in json.loads(reserves.read_text(encoding="utf-8"))["assets"]}
    holders: dict[str, list[str]] = {s: [] for s in decimals}
    amounts: dict[tuple[str, str], int] = {}
    with ledger.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            holders[row["asset"]].append(row["customer_id"])
            amounts[(row["asset"], row["customer_id"])] = parse_amount(row["amount"], decimals[row["asset"]])
    return holders, amounts


def _derive_round_secrets(
    master: bytes, exchange: str, round_label: str, run_nonce: bytes, holders: dict[str, list[str]],
    leaf_counts: dict[str, int],
) -> tuple[dict[str, bytes], dict[tuple[str, str], int], dict[tuple[str, str], bytes], dict[str, set[bytes]]]:
    """Every secret of the run (§9): returns ``(secrets, blindings, salts, dummy leaf ids)``."""
    salt = b"zk-solvency run v2" + frame(exchange.encode("utf-8")) + frame(round_label.encode("utf-8")) + run_nonce
    prk = hkdf_extract(salt, master)
    derived = RunSecrets(master, exchange, round_label, run_nonce)
    secrets: dict[str, bytes] = {"master secret": master, "run nonce": run_nonce, "HKDF PRK": prk}
    blindings: dict[tuple[str, str], int] = {}
    salts: dict[tuple[str, str], bytes] = {}
    dummy_ids: dict[str, set[bytes]] = {}
    for symbol, customers in holders.items():
        total = 0
        for cid in customers:
            okm = hkdf_expand(prk, b"leaf" + frame(symbol.encode()) + frame(cid.encode()), 96)
            v_blinding, salt = derived.leaf(symbol, cid)
            # The PRK computed here is the one prover/keys.py uses: the OKM reproduces its outputs.
            assert (v_blinding, salt) == ((int.from_bytes(okm[:64], "little") % GROUP_ORDER) or 1, okm[64:])
            blindings[(symbol, cid)], salts[(symbol, cid)] = v_blinding, salt
            secrets[f"{symbol} blinding of {cid!r}"] = _to_bytes(v_blinding)
            secrets[f"{symbol} leaf_salt of {cid!r}"] = salt
            secrets[f"{symbol} OKM[0:64] of {cid!r}"] = okm[:64]
            total += v_blinding
        dummy_ids[symbol] = set()
        for j in range(leaf_counts[symbol] - len(customers)):
            okm = hkdf_expand(prk, b"dummy" + frame(symbol.encode()) + j.to_bytes(8, "little"), 96)
            v_blinding, dummy_id = derived.dummy(symbol, j)
            assert (v_blinding, dummy_id) == ((int.from_bytes(okm[:64], "little") % GROUP_ORDER) or 1, okm[64:])
            secrets[f"{symbol} blinding of dummy leaf {j}"] = _to_bytes(v_blinding)
            secrets[f"{symbol} OKM[0:64] of dummy leaf {j}"] = okm[:64]
            dummy_ids[symbol].add(dummy_id)  # public: dummy leaf ids are in the leaves file
            total += v_blinding
        secrets[f"{symbol} sum of blindings"] = _to_bytes(total % GROUP_ORDER)
        secrets[f"{symbol} surplus blinding"] = _to_bytes(-total % GROUP_ORDER)  # min ratio 1/1
    return secrets, blindings, salts, dummy_ids


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Round:
    """A 20-customer BTC,ETH round proved with ``--chunk 4``, and every secret of it."""
    root = tmp_path_factory.mktemp("hygiene")
    outputs: dict[str, str] = {}
    key, ledger, reserves = root / "master.key", root / "in" / "ledger.csv", root / "in" / "reserves.json"
    bundle, packages = root / "bundle", root / "packages"
    outputs["keygen"] = printed(succeeded(solvency("keygen", key)))
    outputs["gen-ledger"] = printed(succeeded(solvency(
        "gen-ledger", "--customers", CUSTOMERS, "--assets", ",".join(ASSETS), "--seed", 3, "--out", root / "in"
    )))
    outputs["prove"] = printed(succeeded(solvency(  # with progress bars: they print too
        "prove", "--ledger", ledger, "--reserves", reserves, "--secret", key, "--out", bundle,
        "--packages-format", "dir",
        "--packages", packages, "--chunk", CHUNK,
    )))
    master = key.read_bytes()
    assert len(master) == 32
    manifest = json.loads((bundle / "manifest.json").read_bytes())
    run = json.loads((packages / "run.json").read_bytes())
    assert run["exchange"] == manifest["exchange"] and run["round"] == manifest["round"]
    run_nonce = bytes.fromhex(run["run_nonce"])
    assert len(run_nonce) == 32
    holders, amounts = _read_inputs(ledger, reserves)
    leaf_counts = {a["symbol"]: a["leaf_count"] for a in manifest["assets"]}
    secrets, blindings, salts, dummy_ids = _derive_round_secrets(
        master, manifest["exchange"], manifest["round"], run_nonce, holders, leaf_counts
    )

    # The derivation covers every leaf of the bundle: the leaf ids are exactly the customers' and the
    # dummies', and the derived blindings open each asset's liabilities commitment C_L.
    pc = PedersenGens.default(get_backend())
    for asset in manifest["assets"]:
        symbol = asset["symbol"]
        body = (bundle / f"{symbol}.leaves.bin").read_bytes()
        ids = {body[i : i + 32] for i in range(16, len(body), 80)}
        real = {leaf_id(manifest["round"], symbol, cid, salts[(symbol, cid)]) for cid in holders[symbol]}
        assert ids == real | dummy_ids[symbol] and len(ids) == asset["leaf_count"]
        assert len(dummy_ids[symbol]) > 0  # the round has dummy leaves to scan for
        liabilities = sum(amounts[(symbol, cid)] for cid in holders[symbol])
        blinding_sum = int.from_bytes(secrets[f"{symbol} sum of blindings"], "little")
        assert pc.commit(liabilities, blinding_sum).to_bytes().hex() == asset["liabilities_commitment"]

    made = Round(
        root, key, ledger, reserves, bundle, packages, master, manifest["round"], run_nonce, holders, amounts,
        blindings, salts, secrets, outputs, Scanner(secrets),
    )
    # Each package holds exactly its customer's derived blindings and salts.
    customers = sorted({cid for cids in holders.values() for cid in cids})
    assert len(customers) == CUSTOMERS
    for cid in customers:
        package = json.loads(made.package(cid).read_bytes())
        got = {(e["asset"], e["blinding"], e["leaf_salt"]) for e in package["entries"]}
        assert got == {(s, _to_bytes(blindings[(s, cid)]).hex(), salts[(s, cid)].hex()) for s in ASSETS
                       if (s, cid) in blindings}
    return made


# ---------------------------------------------------------------------------
# 1. Secret scan of the bundle and of everything printed


def test_bundle_holds_no_secret_in_any_encoding(made: Round) -> None:
    """Every byte of every bundle file (manifest text included) is free of every secret of the round."""
    files = sorted(p for p in made.bundle.rglob("*") if p.is_file())
    assert {p.name for p in files} == {"manifest.json"} | {
        f"{s}.{kind}.bin" for s in ASSETS for kind in ("leaves", "rangeproofs", "solvency", "nodes", "nodeproofs")
    }
    # 2 assets x (customers + dummies) blindings, salts, OKMs, plus sums, PRK and master.
    assert len(made.secrets) >= 2 + 4 + 3 * CUSTOMERS
    for path in files:
        data = path.read_bytes()
        assert made.scanner.find(data) == [], path.name
    manifest_text = (made.bundle / "manifest.json").read_text(encoding="utf-8")
    assert made.scanner.find(manifest_text) == []
    assert made.scanner.find(json.dumps(json.loads(manifest_text), indent=2)) == []


def test_scanner_finds_the_blindings_and_salts_a_package_legitimately_holds(made: Round) -> None:
    """Positive control: the same scanner finds each secret of a customer package, and only that customer's."""
    cid = next(c for c in made.holders["BTC"] if c in made.holders["ETH"])
    found = made.scanner.find(made.package(cid).read_bytes())
    for symbol in ASSETS:
        assert f"{symbol} blinding of {cid!r}: hex-le" in found
        assert f"{symbol} leaf_salt of {cid!r}: hex-le" in found
        assert f"{symbol} blinding of {cid!r}: 16-hex-digit window" in found
    assert all(f"of {cid!r}" in hit for hit in found), found
    assert not any("master" in hit or "PRK" in hit or "nonce" in hit for hit in found)


def test_disclosed_liabilities_are_the_only_secret_a_bundle_may_publish(made: Round, tmp_path: Path) -> None:
    """Positive control on a real bundle: --disclose-liabilities publishes each blinding sum, found; nothing else.

    The run is reproduced with the fixture's run nonce, so its blindings are the ones the scanner knows.
    """
    bundle = tmp_path / "bundle"
    succeeded(solvency("prove", "--ledger", made.ledger, "--reserves", made.reserves, "--secret", made.secret_file,
                       "--packages-format", "dir",
                       "--out", bundle, "--packages", tmp_path / "packages", "--chunk", CHUNK, "--quiet",
                       "--disclose-liabilities", "--run-nonce", made.run_nonce.hex()))
    found = {hit.split(": ")[0] for path in bundle.iterdir() for hit in made.scanner.find(path.read_bytes())}
    assert found == {f"{symbol} sum of blindings" for symbol in ASSETS}


def _plant(encoding: str, secret: bytes) -> bytes:
    """``secret`` in one encoding, with surrounding context so that only a substring search finds it."""
    if encoding == "window":
        return secret[11 : 11 + WINDOW]
    if encoding == "hex-window":
        return secret[::-1][3 : 3 + WINDOW].hex().upper().encode()
    if encoding.startswith("base64-in-stream"):
        prefix = b"\x01" * int(encoding[-1])
        return base64.b64encode(prefix + secret + b"trailing bytes")
    return encodings(secret)[encoding]


PLANTED = ["raw-le", "raw-be", "hex-le", "HEX-le", "hex-be", "HEX-be", "decimal-le", "decimal-be",
           "base64url-le-0", "base64-be-0", "base64-in-stream-0", "base64-in-stream-1", "base64-in-stream-2",
           "window", "hex-window"]


@pytest.mark.parametrize("encoding", PLANTED)
def test_scanner_finds_a_master_secret_planted_into_a_bundle_file(made: Round, tmp_path: Path, encoding: str) -> None:
    """Positive control: the master planted (whole or in part) into a copy of a bundle file is found."""
    for name in ("BTC.rangeproofs.bin", "manifest.json"):
        data = (made.bundle / name).read_bytes()
        copy = tmp_path / name
        copy.write_bytes(data[: len(data) // 2] + _plant(encoding, made.master) + data[len(data) // 2 :])
        found = made.scanner.find(copy.read_bytes())
        assert any(hit.startswith("master secret: ") for hit in found), (name, encoding, found)


def test_cli_output_holds_no_secret(made: Round) -> None:
    """Nothing keygen, gen-ledger, prove, verify, inspect or check printed holds a secret (reports included)."""
    outputs = dict(made.outputs)
    outputs["verify"] = printed(succeeded(solvency("verify", made.bundle)))
    outputs["verify --json"] = printed(succeeded(solvency("verify", made.bundle, "--json")))
    outputs["inspect"] = printed(succeeded(solvency("inspect", made.bundle)))
    outputs["inspect --json"] = printed(succeeded(solvency("inspect", made.bundle, "--json")))
    customers = sorted({cid for cids in made.holders.values() for cid in cids})
    digest = made.manifest()["bundle_digest"]
    outputs["verify --digest"] = printed(succeeded(solvency("verify", made.bundle, "--digest", digest, "--quiet")))
    for k, cid in enumerate(customers):
        path = made.package(cid)
        variants: list[tuple[str, ...]] = [("--bundle", str(made.bundle), "--json")]
        if k < 4:  # the other variants print the same sentences: a few customers suffice
            pinned = ("--bundle", str(made.bundle), "--digest", digest, "--customer-id", cid)
            variants += [(), ("--json",), ("--bundle", str(made.bundle)), pinned, (*pinned, "--json")]
        for extra in variants:
            result = solvency("check", path, *extra)
            # Without --bundle the check is partial (exit 6): the package alone, nothing about the bundle.
            assert_clean_exit(result, EXIT_OK if "--bundle" in extra else EXIT_PARTIAL)
            outputs[f"check {cid!r} {' '.join(extra)}"] = printed(result)
    assert json.loads(outputs[f"check {customers[0]!r} --json"])["status"] == "partial"
    assert json.loads(outputs[f"check {customers[0]!r} --bundle {made.bundle} --json"])["ok"] is True
    for label, text in outputs.items():
        assert made.scanner.find(text) == [], label


# ---------------------------------------------------------------------------
# 2. No traceback for any user error: (id, argv template, exit code, fragment the message must hold)
#
# Templates: {S} is a module sandbox of bad files, {T} a fresh per-test directory, {B} the real bundle,
# {P} a real package, {D} the packages directory, {L}/{R}/{K} a good tiny ledger, reserves and secret.

PROVE = ["prove", "--packages-format", "dir", "--ledger", "{L}", "--reserves", "{R}", "--secret", "{K}", "--quiet"]
PROVE_OUT = [*PROVE, "--out", "{T}/bundle", "--packages", "{T}/packages"]

USER_ERRORS: list[tuple[str, list[str], int, str]] = [
    # keygen
    ("keygen-into-a-directory", ["keygen", "{S}/adir"], EXIT_INPUT, "adir"),
    ("keygen-parent-missing", ["keygen", "{T}/no/such/master.key"], EXIT_INPUT, "no/such/master.key"),
    ("keygen-parent-is-a-file", ["keygen", "{S}/garbage/master.key"], EXIT_INPUT, "garbage/master.key"),
    ("keygen-symlink-loop", ["keygen", "{S}/loop1"], EXIT_INPUT, "loop1"),
    ("keygen-dangling-symlink", ["keygen", "{S}/dangle"], EXIT_INPUT, "dangle"),
    ("keygen-nul-in-path", ["keygen", "{T}/a\x00b"], EXIT_USAGE, "null byte"),
    ("keygen-missing-argument", ["keygen"], EXIT_USAGE, "Missing argument"),
    ("keygen-extra-argument", ["keygen", "{T}/a", "{T}/b"], EXIT_USAGE, "unexpected extra argument"),
    # gen-ledger
    ("gen-ledger-zero-customers", ["gen-ledger", "--out", "{T}/in", "--customers", "0"], EXIT_USAGE, "--customers"),
    ("gen-ledger-customers-not-an-integer", ["gen-ledger", "--out", "{T}/in", "--customers", "x"], EXIT_USAGE,
     "--customers"),
    ("gen-ledger-too-many-customers", ["gen-ledger", "--out", "{T}/in", "--customers", str(10**30)], EXIT_INPUT,
     "customers"),
    ("gen-ledger-no-asset", ["gen-ledger", "--out", "{T}/in", "--customers", "3", "--assets", " , "], EXIT_INPUT,
     "assets"),
    ("gen-ledger-duplicate-asset", ["gen-ledger", "--out", "{T}/in", "--customers", "3", "--assets", "BTC,BTC"],
     EXIT_INPUT, "assets"),
    ("gen-ledger-negative-seed", ["gen-ledger", "--out", "{T}/in", "--customers", "3", "--seed", "-1"], EXIT_INPUT,
     "seed"),
    ("gen-ledger-seed-not-an-integer", ["gen-ledger", "--out", "{T}/in", "--seed", "x"], EXIT_USAGE, "--seed"),
    ("gen-ledger-out-under-a-file", ["gen-ledger", "--out", "{S}/garbage/in", "--customers", "3"], EXIT_INPUT,
     "--out"),
    ("gen-ledger-out-symlink-loop", ["gen-ledger", "--out", "{S}/loop1", "--customers", "3"], EXIT_INPUT, "--out"),
    ("gen-ledger-ledger-csv-is-a-directory", ["gen-ledger", "--out", "{S}/blocked", "--customers", "3"], EXIT_INPUT,
     "ledger.csv"),
    ("gen-ledger-nul-in-out", ["gen-ledger", "--out", "{T}/a\x00b"], EXIT_USAGE, "null byte"),
    ("gen-ledger-missing-out", ["gen-ledger", "--customers", "3"], EXIT_USAGE, "--out"),
    # prove: the files
    ("prove-ledger-missing", [*PROVE_OUT, "--ledger", "{S}/missing.csv"], EXIT_INPUT, "missing.csv:1: file: "),
    ("prove-ledger-is-a-directory", [*PROVE_OUT, "--ledger", "{S}/adir"], EXIT_INPUT, "adir:1: file: "),
    ("prove-ledger-binary-garbage", [*PROVE_OUT, "--ledger", "{S}/garbage"], EXIT_INPUT, "garbage:1: header: "),
    ("prove-ledger-not-utf8", [*PROVE_OUT, "--ledger", "{S}/nonutf8"], EXIT_INPUT, "nonutf8:1: header: "),
    ("prove-ledger-symlink-loop", [*PROVE_OUT, "--ledger", "{S}/loop1"], EXIT_INPUT, "loop1:1: file: "),
    ("prove-reserves-missing", [*PROVE_OUT, "--reserves", "{S}/missing.json"], EXIT_INPUT, "missing.json: file: "),
    ("prove-reserves-is-a-directory", [*PROVE_OUT, "--reserves", "{S}/adir"], EXIT_INPUT, "adir: file: "),
    ("prove-reserves-empty", [*PROVE_OUT, "--reserves", "{S}/empty"], EXIT_INPUT, "empty: file: "),
    ("prove-reserves-json-list", [*PROVE_OUT, "--reserves", "{S}/list.json"], EXIT_INPUT, "list.json: file: "),
    ("prove-reserves-binary-garbage", [*PROVE_OUT, "--reserves", "{S}/garbage"], EXIT_INPUT, "garbage: file: "),
    ("prove-reserves-not-utf8", [*PROVE_OUT, "--reserves", "{S}/nonutf8"], EXIT_INPUT, "nonutf8: file: "),
    ("prove-reserves-symlink-loop", [*PROVE_OUT, "--reserves", "{S}/loop1"], EXIT_INPUT, "loop1: file: "),
    ("prove-reserves-is-the-bundle", [*PROVE_OUT, "--reserves", "{B}"], EXIT_INPUT, "bundle: file: "),
    ("prove-secret-is-a-directory", [*PROVE_OUT, "--secret", "{S}/adir"], EXIT_INPUT, "adir"),
    ("prove-secret-symlink-loop", [*PROVE_OUT, "--secret", "{S}/loop1"], EXIT_INPUT, "loop1"),
    ("prove-secret-binary-garbage", [*PROVE_OUT, "--secret", "{S}/garbage"], EXIT_INPUT, "garbage"),
    ("prove-secret-is-a-package", [*PROVE_OUT, "--secret", "{P}"], EXIT_INPUT, ".json"),
    # prove: the outputs
    ("prove-out-is-a-file", [*PROVE, "--out", "{S}/garbage", "--packages", "{T}/p"], EXIT_INPUT, "garbage"),
    ("prove-out-parent-missing", [*PROVE, "--out", "{T}/no/such", "--packages", "{T}/p"], EXIT_INPUT,
     "no: directory does not exist"),
    ("prove-out-under-a-file", [*PROVE, "--out", "{S}/garbage/b", "--packages", "{T}/p"], EXIT_INPUT, "garbage"),
    ("prove-out-is-the-bundle", [*PROVE, "--out", "{B}", "--packages", "{T}/p"], EXIT_INPUT, "already exists"),
    ("prove-out-symlink-loop", [*PROVE, "--out", "{S}/loop1", "--packages", "{T}/p"], EXIT_INPUT, "loop1"),
    ("prove-out-dangling-symlink", [*PROVE, "--out", "{S}/dangle", "--packages", "{T}/p"], EXIT_INPUT, "dangle"),
    ("prove-packages-is-a-file", [*PROVE, "--out", "{T}/b", "--packages", "{S}/garbage"], EXIT_INPUT, "garbage"),
    ("prove-packages-symlink-loop", [*PROVE, "--out", "{T}/b", "--packages", "{S}/loop1"], EXIT_INPUT, "loop1"),
    ("prove-packages-dangling-symlink", [*PROVE, "--out", "{T}/b", "--packages", "{S}/dangle"], EXIT_INPUT,
     "dangle"),
    ("prove-packages-inside-out", [*PROVE, "--out", "{T}/b", "--packages", "{T}/b/p"], EXIT_INPUT, "--packages"),
    # prove: option values
    ("prove-chunk-zero", [*PROVE_OUT, "--chunk", "0"], EXIT_INPUT, "--chunk"),
    ("prove-chunk-not-a-power-of-two", [*PROVE_OUT, "--chunk", "3"], EXIT_INPUT, "--chunk"),
    ("prove-chunk-too-large", [*PROVE_OUT, "--chunk", "2048"], EXIT_INPUT, "--chunk"),
    ("prove-chunk-not-an-integer", [*PROVE_OUT, "--chunk", "four"], EXIT_USAGE, "--chunk"),
    ("prove-pad-to-zero", [*PROVE_OUT, "--pad-to", "0"], EXIT_INPUT, "--pad-to"),
    ("prove-pad-to-negative", [*PROVE_OUT, "--pad-to", "-1"], EXIT_INPUT, "--pad-to"),
    ("prove-jobs-zero", [*PROVE_OUT, "--jobs", "0"], EXIT_USAGE, "--jobs"),
    ("prove-unknown-backend", [*PROVE_OUT, "--backend", "nope"], EXIT_INPUT, "backend"),
    ("prove-missing-option", ["prove", "--packages-format", "dir", "--ledger", "{L}"], EXIT_USAGE, "Missing option"),
    ("prove-unknown-option", [*PROVE_OUT, "--frobnicate"], EXIT_USAGE, "No such option"),
    ("prove-nul-in-ledger", [*PROVE_OUT, "--ledger", "{T}/a\x00b"], EXIT_USAGE, "null byte"),
    # verify
    ("verify-missing", ["verify", "{S}/missing", "--quiet"], EXIT_FORMAT, "missing"),
    ("verify-missing-with-progress", ["verify", "{S}/missing"], EXIT_FORMAT, "missing"),
    ("verify-binary-file", ["verify", "{S}/garbage", "--quiet"], EXIT_FORMAT, "manifest"),
    ("verify-empty-file", ["verify", "{S}/empty", "--quiet"], EXIT_FORMAT, "manifest"),
    ("verify-not-utf8", ["verify", "{S}/nonutf8", "--quiet"], EXIT_FORMAT, "manifest"),
    ("verify-empty-directory", ["verify", "{S}/adir", "--quiet"], EXIT_FORMAT, "manifest.json"),
    ("verify-symlink-loop", ["verify", "{S}/loop1", "--quiet"], EXIT_FORMAT, "loop1"),
    ("verify-a-package", ["verify", "{P}", "--quiet"], EXIT_FORMAT, "manifest.format"),
    ("verify-the-packages-directory", ["verify", "{D}", "--quiet"], EXIT_FORMAT, "manifest.json"),
    ("verify-the-manifest-file", ["verify", "{B}/manifest.json", "--quiet"], EXIT_FORMAT, "not a directory"),
    ("verify-data-file-is-a-directory", ["verify", "{S}/bundle-with-dir", "--quiet"], EXIT_FORMAT,
     "BTC.solvency.bin"),
    ("verify-data-file-symlink-loop", ["verify", "{S}/bundle-with-loop", "--quiet"], EXIT_FORMAT,
     "BTC.leaves.bin"),
    ("verify-unknown-backend", ["verify", "{B}", "--backend", "nope"], EXIT_INPUT, "backend"),
    ("verify-nul-in-path", ["verify", "{T}/a\x00b"], EXIT_USAGE, "null byte"),
    ("verify-missing-argument", ["verify"], EXIT_USAGE, "Missing argument"),
    # check
    ("check-missing", ["check", "{S}/missing.json"], EXIT_FORMAT, "missing.json"),
    ("check-package-is-a-bundle-directory", ["check", "{B}"], EXIT_FORMAT, "package"),
    ("check-empty-file", ["check", "{S}/empty"], EXIT_FORMAT, "package"),
    ("check-binary-garbage", ["check", "{S}/garbage"], EXIT_FORMAT, "package"),
    ("check-not-utf8", ["check", "{S}/nonutf8"], EXIT_FORMAT, "package"),
    ("check-json-list", ["check", "{S}/list.json"], EXIT_FORMAT, "package: expected an object"),
    ("check-symlink-loop", ["check", "{S}/loop1"], EXIT_FORMAT, "loop1"),
    ("check-the-manifest", ["check", "{B}/manifest.json"], EXIT_FORMAT, "package.format"),
    ("check-bundle-missing", ["check", "{P}", "--bundle", "{S}/missing"], EXIT_FORMAT, "missing"),
    ("check-bundle-is-a-file", ["check", "{P}", "--bundle", "{S}/garbage"], EXIT_FORMAT, "manifest"),
    ("check-bundle-is-the-package", ["check", "{P}", "--bundle", "{P}"], EXIT_FORMAT, "manifest.format"),
    ("check-bundle-is-the-packages-directory", ["check", "{P}", "--bundle", "{D}"], EXIT_FORMAT,
     "manifest.json"),
    ("check-bundle-symlink-loop", ["check", "{P}", "--bundle", "{S}/loop1"], EXIT_FORMAT, "loop1"),
    ("check-bundle-data-file-is-a-directory", ["check", "{P}", "--bundle", "{S}/bundle-with-dir"], EXIT_FORMAT,
     "BTC.solvency.bin"),
    ("check-bundle-data-file-symlink-loop", ["check", "{P}", "--bundle", "{S}/bundle-with-loop"], EXIT_FORMAT,
     "BTC.leaves.bin"),
    ("check-unknown-backend", ["check", "{P}", "--backend", "nope"], EXIT_INPUT, "backend"),
    ("check-nul-in-path", ["check", "{T}/a\x00b"], EXIT_USAGE, "null byte"),
    # inspect
    ("inspect-missing", ["inspect", "{S}/missing"], EXIT_FORMAT, "missing"),
    ("inspect-binary-file", ["inspect", "{S}/garbage"], EXIT_FORMAT, "manifest"),
    ("inspect-empty-directory", ["inspect", "{S}/adir"], EXIT_FORMAT, "manifest.json"),
    ("inspect-symlink-loop", ["inspect", "{S}/loop1"], EXIT_FORMAT, "loop1"),
    ("inspect-a-package", ["inspect", "{P}", "--json"], EXIT_FORMAT, "manifest.format"),
    ("inspect-nul-in-path", ["inspect", "{T}/a\x00b"], EXIT_USAGE, "null byte"),
    ("inspect-unknown-option", ["inspect", "{B}", "--verify"], EXIT_USAGE, "No such option"),
    # demo
    ("demo-zero-customers", ["demo", "--customers", "0"], EXIT_USAGE, "--customers"),
    ("demo-customers-not-an-integer", ["demo", "--customers", "many"], EXIT_USAGE, "--customers"),
    ("demo-unknown-backend", ["demo", "--customers", "2", "--backend", "nope"], EXIT_INPUT, "backend"),
    ("demo-bad-asset", ["demo", "--customers", "2", "--assets", "btc"], EXIT_INPUT, "assets"),
    ("demo-keep-exists", ["demo", "--customers", "2", "--keep", "{S}/adir"], EXIT_INPUT, "adir"),
    ("demo-keep-is-a-file", ["demo", "--customers", "2", "--keep", "{S}/garbage"], EXIT_INPUT, "garbage"),
    ("demo-keep-under-a-file", ["demo", "--customers", "2", "--keep", "{S}/garbage/demo"], EXIT_INPUT, "garbage"),
    ("demo-keep-dangling-symlink", ["demo", "--customers", "2", "--keep", "{S}/dangle"], EXIT_INPUT, "dangle"),
    ("demo-keep-symlink-loop", ["demo", "--customers", "2", "--keep", "{S}/loop1"], EXIT_INPUT, "loop1"),
    # range-demo and the app itself
    ("range-demo-zero-values", ["dev", "range-demo", "--values", "0"], EXIT_USAGE, "--values"),
    ("range-demo-zero-m", ["dev", "range-demo", "--m", "0"], EXIT_USAGE, "--m"),
    ("range-demo-n-not-an-integer", ["dev", "range-demo", "--n", "x"], EXIT_USAGE, "--n"),
    ("range-demo-bit-size-zero", ["dev", "range-demo", "--values", "2", "--m", "2", "--n", "0"], EXIT_INPUT,
     "bit size"),
    ("unknown-command", ["frobnicate"], EXIT_USAGE, "No such command"),
]


@dataclass
class Sandbox:
    root: Path
    ledger: Path
    reserves: Path
    secret: Path


@pytest.fixture(scope="module")
def sandbox(made: Round, tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    """Bad files of every kind, a good tiny ledger, and bundles with a broken data file."""
    root = tmp_path_factory.mktemp("sandbox")
    (root / "empty").write_bytes(b"")
    (root / "garbage").write_bytes(hashlib.sha256(b"garbage").digest() * 10)  # 320 bytes, not UTF-8
    (root / "nonutf8").write_bytes(b"\xff\xfe\x00customer_id,asset,amount\n")
    (root / "list.json").write_text("[1, 2]\n")
    (root / "adir").mkdir()
    (root / "loop1").symlink_to(root / "loop2")
    (root / "loop2").symlink_to(root / "loop1")
    (root / "dangle").symlink_to(root / "no-such-target")
    (root / "blocked" / "ledger.csv").mkdir(parents=True)
    shutil.copytree(made.bundle, root / "bundle-with-dir")
    (root / "bundle-with-dir" / "BTC.solvency.bin").unlink()
    (root / "bundle-with-dir" / "BTC.solvency.bin").mkdir()
    shutil.copytree(made.bundle, root / "bundle-with-loop")
    (root / "bundle-with-loop" / "BTC.leaves.bin").unlink()
    (root / "bundle-with-loop" / "BTC.leaves.bin").symlink_to("BTC.leaves.bin")
    ledger = root / "ledger.csv"
    ledger.write_text("customer_id,asset,amount\nalice,BTC,1.5\nbob,ETH,2\n", encoding="utf-8")
    reserves = root / "reserves.json"
    reserves.write_text(json.dumps({"exchange": "Hygiene", "round": "r1", "assets": [
        {"symbol": "BTC", "decimals": 8, "reserves": "10"}, {"symbol": "ETH", "decimals": 9, "reserves": "10"},
    ]}), encoding="utf-8")
    return Sandbox(root, ledger, reserves, made.secret_file)


def _argv(template: list[str], sandbox: Sandbox, made: Round, tmp: Path) -> list[str]:
    package = made.package(made.holders["BTC"][0])
    values = {"S": sandbox.root, "T": tmp, "B": made.bundle, "P": package, "D": made.packages,
              "L": sandbox.ledger, "R": sandbox.reserves, "K": sandbox.secret, "X": "{X}"}
    return [arg.format(**{k: str(v) for k, v in values.items()}) for arg in template]


@pytest.mark.parametrize(("argv", "code", "fragment"), [c[1:] for c in USER_ERRORS], ids=[c[0] for c in USER_ERRORS])
def test_user_error_exits_cleanly_with_one_line(
    made: Round, sandbox: Sandbox, tmp_path: Path, argv: list[str], code: int, fragment: str
) -> None:
    """Each user mistake exits with its documented code and one message naming the file or field, no traceback."""
    before = {p.name for p in sandbox.root.iterdir()}
    result = solvency(*_argv(argv, sandbox, made, tmp_path))
    assert_clean_exit(result, code)
    if code == EXIT_USAGE:
        assert fragment in usage_message(result)
    else:
        message = error_line(result)
        assert fragment in message, message
    # A refused command leaves nothing behind in the sandbox (no temporary directories either).
    assert {p.name for p in sandbox.root.iterdir()} == before
    assert not (sandbox.root / "adir").exists() or not any((sandbox.root / "adir").iterdir())


@pytest.mark.parametrize(
    ("argv", "section"),
    [
        (["verify", "{S}/missing", "--json"], "bundle"),
        (["verify", "{S}/garbage", "--json"], "manifest"),
        (["verify", "{S}/bundle-with-dir", "--json"], "BTC.solvency.bin"),
        (["check", "{S}/list.json", "--json"], "package"),
        (["check", "{S}/loop1", "--json"], "package"),
        (["check", "{P}", "--bundle", "{S}/adir", "--json"], "manifest"),
    ],
    ids=["verify-missing", "verify-binary", "verify-dir-data-file", "check-list", "check-loop", "check-empty-bundle"],
)
def test_json_user_error_is_a_json_payload(
    made: Round, sandbox: Sandbox, tmp_path: Path, argv: list[str], section: str
) -> None:
    """With --json a malformed input is reported as a JSON document on stdout, exit 3, no traceback."""
    result = solvency(*_argv(argv, sandbox, made, tmp_path))
    assert_clean_exit(result, EXIT_FORMAT)
    out, _ = streams(result)
    payload = json.loads(out)
    assert payload["ok"] is False and payload["exit_code"] == EXIT_FORMAT
    assert payload["failure_section"] == section and payload["failure"]


# A path given on the command line is checked by Click (os.access): an unreadable one is a usage error.
# A file the command finds inside a readable bundle directory is malformed input.
UNREADABLE = [
    ("ledger", [*PROVE_OUT, "--ledger", "{X}"], EXIT_USAGE, "is not readable"),
    ("reserves", [*PROVE_OUT, "--reserves", "{X}"], EXIT_USAGE, "is not readable"),
    ("secret", [*PROVE_OUT, "--secret", "{X}"], EXIT_USAGE, "is not readable"),
    ("package", ["check", "{X}"], EXIT_USAGE, "is not readable"),
    ("bundle-directory", ["inspect", "{X}"], EXIT_USAGE, "is not readable"),
    ("manifest", ["verify", "{X}", "--quiet"], EXIT_FORMAT, "cannot read manifest.json"),
    ("manifest-of-check", ["check", "{P}", "--bundle", "{X}"], EXIT_FORMAT, "cannot read manifest.json"),
    ("data-file", ["verify", "{X}", "--quiet"], EXIT_FORMAT, "BTC.leaves.bin: cannot read"),
    ("data-file-of-check", ["check", "{P}", "--bundle", "{X}"], EXIT_FORMAT, "BTC.leaves.bin: cannot read"),
    ("data-file-of-inspect", ["inspect", "{X}", "--json"], EXIT_FORMAT, "BTC.leaves.bin"),
]


@pytest.mark.parametrize(("what", "argv", "code", "fragment"), UNREADABLE, ids=[c[0] for c in UNREADABLE])
def test_unreadable_file_exits_cleanly(
    made: Round, sandbox: Sandbox, tmp_path: Path, what: str, argv: list[str], code: int, fragment: str
) -> None:
    """A file the user may not read (mode 000) is refused with its code; skipped where mode 000 is readable."""
    copies = {"ledger": sandbox.ledger, "reserves": sandbox.reserves, "secret": sandbox.secret,
              "package": made.package(made.holders["BTC"][0])}
    if what in copies:
        target = argument = tmp_path / f"unreadable-{what}"
        shutil.copyfile(copies[what], target)
    else:
        argument = tmp_path / "bundle"
        shutil.copytree(made.bundle, argument)
        target = argument / {"manifest": "manifest.json", "data-file": "BTC.leaves.bin"}.get(what.split("-of-")[0], "")
    target.chmod(0)
    try:
        try:
            if target.is_dir():
                os.listdir(target)
            else:
                target.open("rb").close()
        except PermissionError:
            pass
        else:
            pytest.skip("mode 000 does not stop this user from reading (root)")
        result = solvency(*(a.replace("{X}", str(argument)) for a in _argv(argv, sandbox, made, tmp_path)))
        assert_clean_exit(result, code)
        if code == EXIT_USAGE:
            assert fragment in usage_message(result)
        elif what == "data-file-of-inspect":  # inspect prints its summary, then names the file it cannot hash
            files = json.loads(streams(result)[0])["assets"][0]["files"]
            assert [f["digest_ok"] for f in files] == [False, True, True]
            assert fragment in error_line(result)
        else:
            assert fragment in error_line(result)
    finally:
        target.chmod(0o700)


# ---------------------------------------------------------------------------
# 3. Failures with secrets in play print no secret


def _forged_package(made: Round, tmp_path: Path, change: str) -> tuple[Path, list[bytes]]:
    """A customer's package with one field changed; returns it and the forged secret values to look for."""
    cid = next(c for c in made.holders["BTC"] if c in made.holders["ETH"])
    package = json.loads(made.package(cid).read_bytes())
    entry = package["entries"][0]
    forged: list[bytes] = []
    if change == "blinding":
        value = (int.from_bytes(bytes.fromhex(entry["blinding"]), "little") + 1) % GROUP_ORDER
        entry["blinding"] = value.to_bytes(32, "little").hex()
        forged.append(value.to_bytes(32, "little"))
    elif change == "blinding-not-canonical":
        value = int.from_bytes(bytes.fromhex(entry["blinding"]), "little") + GROUP_ORDER
        assert value < 1 << 256
        entry["blinding"] = value.to_bytes(32, "little").hex()
        forged.append(value.to_bytes(32, "little"))
    elif change == "blinding-upper-case":
        entry["blinding"] = entry["blinding"].upper()
    elif change == "salt":
        salt = bytearray(bytes.fromhex(entry["leaf_salt"]))
        salt[5] ^= 0x40
        entry["leaf_salt"] = salt.hex()
        forged.append(bytes(salt))
    elif change == "amount":
        entry["amount"] = str(int(entry["amount"]) + 1)
    elif change == "blindings-swapped":
        second = package["entries"][1]
        entry["blinding"], second["blinding"] = second["blinding"], entry["blinding"]
    path = tmp_path / f"forged-{change}.json"
    path.write_text(json.dumps(package, indent=1))
    return path, forged


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ("blinding", EXIT_VERIFICATION),
        ("blinding-not-canonical", EXIT_FORMAT),
        ("blinding-upper-case", EXIT_FORMAT),
        ("salt", EXIT_VERIFICATION),
        ("amount", EXIT_VERIFICATION),
        ("blindings-swapped", EXIT_VERIFICATION),
    ],
)
def test_failed_customer_check_prints_no_secret(made: Round, tmp_path: Path, change: str, code: int) -> None:
    """A forged package is refused, with and without --bundle, as text and JSON, without printing any secret.

    A format-3 package alone cannot climb to the root (its chunk's commitment is in the bundle), so a
    forged amount or blinding alone ends PARTIAL (exit 6), and is refused (exit 1) with the bundle.
    """
    path, forged = _forged_package(made, tmp_path, change)
    scanner = Scanner({**made.secrets, **{f"forged value {i}": v for i, v in enumerate(forged)}})
    for extra in ((), ("--json",), ("--bundle", made.bundle), ("--bundle", made.bundle, "--json")):
        result = solvency("check", path, *extra)
        alone = "--bundle" not in extra and change in ("blinding", "amount", "blindings-swapped")
        expected = EXIT_PARTIAL if alone else code
        assert_clean_exit(result, expected)
        if "--json" in extra:
            payload = json.loads(streams(result)[0])
            assert payload["ok"] is False and payload["exit_code"] == expected
        elif not alone:
            # Format 3 compares the leaf record at the customer's index first: that is where a forged V shows.
            assert error_line(result).startswith(("package", "BTC.leaves.bin record", "ETH.leaves.bin record"))
        assert scanner.find(printed(result)) == [], (extra, printed(result))


def test_pinning_failures_print_no_secret(made: Round) -> None:
    """Another customer's package, or a bundle other than the published one, is false (exit 1), printing no secret."""
    cid, other = made.holders["BTC"][:2]
    package = made.package(cid)
    wrong_digest = hashlib.sha256(b"another bundle").hexdigest()
    runs = {
        "check --customer-id": ("check", package, "--customer-id", other),
        "check --bundle --customer-id": ("check", package, "--bundle", made.bundle, "--customer-id", other),
        "check --bundle --digest": ("check", package, "--bundle", made.bundle, "--digest", wrong_digest),
        "verify --digest": ("verify", made.bundle, "--digest", wrong_digest, "--quiet"),
    }
    for label, argv in runs.items():
        for extra in ((), ("--json",)):
            result = solvency(*argv, *extra)
            assert_clean_exit(result, EXIT_VERIFICATION)
            if extra:
                assert json.loads(streams(result)[0])["exit_code"] == EXIT_VERIFICATION
            else:
                error_line(result)
            assert made.scanner.find(printed(result)) == [], (label, extra)


@pytest.mark.parametrize(
    "content",
    ["appended-byte", "truncated", "hex-text", "hex-text-newline", "base64-text", "doubled"],
)
def test_corrupted_secret_file_is_refused_without_printing_it(made: Round, sandbox: Sandbox, tmp_path: Path,
                                                              content: str) -> None:
    """A secret file that is the real master re-encoded or damaged is refused (exit 4) and never echoed."""
    master = made.master
    data = {
        "appended-byte": master + b"\n",
        "truncated": master[:31],
        "hex-text": master.hex().encode(),
        "hex-text-newline": master.hex().upper().encode() + b"\n",
        "base64-text": base64.b64encode(master),
        "doubled": master * 2,
    }[content]
    key = tmp_path / "master.key"
    key.write_bytes(data)
    result = solvency("prove", "--ledger", made.ledger, "--reserves", made.reserves, "--secret", key,
                      "--packages-format", "dir",
                      "--out", tmp_path / "b", "--packages", tmp_path / "p", "--quiet")
    assert_clean_exit(result, EXIT_INPUT)
    assert "master.key" in error_line(result) and "32 bytes" in error_line(result)
    assert made.scanner.find(printed(result)) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["master.key"]


def test_keygen_over_a_real_secret_does_not_print_it(made: Round) -> None:
    """keygen refuses to overwrite the real master secret and does not echo it."""
    result = solvency("keygen", made.secret_file)
    assert_clean_exit(result, EXIT_INPUT)
    assert "already exists" in error_line(result)
    assert made.scanner.find(printed(result)) == []
    assert made.secret_file.read_bytes() == made.master


@pytest.mark.parametrize("failure", ["ledger-row", "insolvent", "existing-out", "pad-to", "unknown-customer-asset"])
def test_refused_prove_with_the_real_master_prints_no_secret(made: Round, tmp_path: Path, failure: str) -> None:
    """prove refused after the master is loaded (bad ledger row, insolvent, bad outputs) prints no secret."""
    ledger = tmp_path / "ledger.csv"
    reserves = tmp_path / "reserves.json"
    text = made.ledger.read_text(encoding="utf-8")
    doc = json.loads(made.reserves.read_text(encoding="utf-8"))
    out = tmp_path / "bundle"
    extra: list[str] = []
    expected = ""
    if failure == "ledger-row":
        text += "late-customer,BTC,-0.5\n"
        expected = "ledger.csv:"
    elif failure == "unknown-customer-asset":
        text += "late-customer,DOGE,1\n"
        expected = "asset"
    elif failure == "insolvent":
        doc["assets"][1]["reserves"] = "0"
        expected = "insolvent for ETH"
    elif failure == "existing-out":
        out.mkdir()
        expected = "already exists"
    elif failure == "pad-to":
        extra = ["--pad-to", "3"]
        expected = "--pad-to"
    ledger.write_text(text, encoding="utf-8")
    reserves.write_text(json.dumps(doc), encoding="utf-8")
    result = solvency("prove", "--ledger", ledger, "--reserves", reserves, "--secret", made.secret_file,
                      "--packages-format", "dir",
                      "--out", out, "--packages", tmp_path / "packages", *extra)
    assert_clean_exit(result, EXIT_INPUT)
    assert expected in error_line(result)
    assert made.scanner.find(printed(result)) == []


def _resign(bundle: Path) -> None:
    """Recompute every file's size and SHA-256 and the bundle digest (the exchange re-signs its tampering)."""
    manifest = json.loads((bundle / "manifest.json").read_bytes())
    for asset in manifest["assets"]:
        for entry in asset["files"].values():
            data = (bundle / entry["name"]).read_bytes()
            entry["size"], entry["sha256"] = len(data), hashlib.sha256(data).hexdigest()
    manifest["bundle_digest"] = bundle_digest(manifest).hex()
    (bundle / "manifest.json").write_bytes(canonical_json(manifest) + b"\n")


def _tamper(bundle: Path, how: str) -> None:
    if how == "flipped-byte":
        path = bundle / "ETH.rangeproofs.bin"
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
    elif how == "resigned-range-proof":
        path = bundle / "BTC.rangeproofs.bin"
        data = bytearray(path.read_bytes())
        t_x = int.from_bytes(data[16 + T_X_OFFSET : 16 + T_X_OFFSET + 32], "little")
        data[16 + T_X_OFFSET : 16 + T_X_OFFSET + 32] = ((t_x + 1) % GROUP_ORDER).to_bytes(32, "little")
        path.write_bytes(bytes(data))
        _resign(bundle)
    elif how == "resigned-swapped-leaves":
        path = bundle / "BTC.leaves.bin"
        data = bytearray(path.read_bytes())
        first, second = data[16 + 32 : 16 + 80], data[16 + 80 + 32 : 16 + 160]
        data[16 + 32 : 16 + 80], data[16 + 80 + 32 : 16 + 160] = second, first
        path.write_bytes(bytes(data))
        _resign(bundle)


@pytest.mark.parametrize(
    ("how", "code"),
    [("flipped-byte", EXIT_FORMAT), ("resigned-range-proof", EXIT_VERIFICATION),
     ("resigned-swapped-leaves", EXIT_VERIFICATION)],
)
def test_tampered_bundle_failure_prints_no_secret(made: Round, tmp_path: Path, how: str, code: int) -> None:
    """verify and a customer check of a tampered bundle fail cleanly, as text and JSON, printing no secret."""
    bundle = tmp_path / "bundle"
    shutil.copytree(made.bundle, bundle)
    _tamper(bundle, how)
    runs = [solvency("verify", bundle, "--quiet"), solvency("verify", bundle, "--json"), solvency("verify", bundle)]
    if how != "flipped-byte":  # a customer holding the packages of the re-signed bundle checks it
        digest = json.loads((bundle / "manifest.json").read_bytes())["bundle_digest"]
        for cid in made.holders["BTC"][:3]:
            package = json.loads(made.package(cid).read_bytes())
            package["bundle_digest"] = digest
            forged = tmp_path / "package.json"
            forged.write_text(json.dumps(package))
            runs += [solvency("check", forged, "--bundle", bundle), solvency("check", forged, "--bundle", bundle,
                                                                              "--json")]
    for result in runs:
        assert result.exit_code in (EXIT_OK, code), printed(result)
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        assert "Traceback" not in printed(result)
        assert made.scanner.find(printed(result)) == [], printed(result)
    assert all(r.exit_code == code for r in runs[:3])


# ---------------------------------------------------------------------------
# 4. The installed console script


def _console_script() -> list[str]:
    script = shutil.which("solvency")
    if script is not None:
        return [script]
    return [sys.executable, "-c", "from cli.main import app; app(prog_name='solvency')"]


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [(["verify", "{missing}"], EXIT_FORMAT, "does not exist"), (["check", "{garbage}"], EXIT_FORMAT, "package")],
    ids=["verify-missing-bundle", "check-binary-package"],
)
def test_console_script_exits_cleanly(tmp_path: Path, args: list[str], code: int, fragment: str) -> None:
    """The real ``solvency`` process exits like CliRunner: the code, one ``error:`` line, no traceback."""
    (tmp_path / "garbage").write_bytes(bytes(range(256)))
    argv = [a.format(missing=tmp_path / "no-bundle", garbage=tmp_path / "garbage") for a in args]
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    done = subprocess.run([*_console_script(), *argv], capture_output=True, text=True, env=env, timeout=120,
                          check=False)
    assert done.returncode == code, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], done.stderr

