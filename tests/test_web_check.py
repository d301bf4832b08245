"""The browser customer check (``web/src/check.js``) gives the Python check's verdict (issue 12).

Real bundles and packages are written by the project's own prover (:func:`prover.bundle.write_bundle`,
chunks of 2, one job): a format-3 bundle of two assets, the same ledger proved for another round, and a
format-4 bundle with margin accounts (one account with a padding slot). The frozen ``tests/vectors/``
bundles and packages of every format version are checked too. Every case is run twice, by
:func:`verifier.package.check_package` over a bundle directory holding exactly the files the customer
picked, and by the JS module under node (``web/test/check_cli.mjs``, one process for all the cases),
and the two verdicts must agree: status and exit code, every claim (key, asset, text, proven) in order,
the checks that ran (name and pass, and the detail of every passed one), the bytes read, and on failure
the error's class, kind, section, file and field. Only the failure message and the detail of a failed
check may differ (they quote the decoders' own messages).

The cases: the package alone; the package with the files its check needs (the manifest, the asset's
range proofs, nodes, node proofs, solvency and leaves); the same without the leaves (partial); the whole
bundle; a margin account; tampered packages (each field class) and bundles; a package of another round;
a wrong pinned digest and customer id. One step of the Python check is not mirrored: a bundle with a
wallet list (``solvency prove --wallets``) has its wallets' proofs of control verified by Python, not
by the browser, whose verdict is then Python's made partial, saying the wallets were NOT checked.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from reserves_fixtures import prove_v2, signed_list

from circuits.errors import ProofError
from circuits.jsonio import canonical_json
from circuits.manifest import bundle_digest
from cli.verdict import verdict_json
from prover.bundle import ProveOptions, write_bundle
from prover.ledger import load_ledger
from prover.margin_inputs import load_margin_file, margin_accounts
from prover.reserves import load_reserves
from verifier.package import check_package

ROOT = Path(__file__).resolve().parents[1]
CLI = ROOT / "web" / "test" / "check_cli.mjs"
VECTORS = Path(__file__).parent / "vectors"
NONCE = bytes(range(100, 132))
MASTER = bytes(range(32))
CREATED = "2026-12-04T00:00:00Z"
EXCHANGE = "Web Exchange"

SPOT_LEDGER = [
    "customer_id,asset,amount",
    "alice,BTC,1.5", "alice,ETH,2", "bob,BTC,0.5", "carol,ETH,3", "dave,BTC,1", "erin,BTC,0.25", "zoë,ETH,0.125",
]
MARGIN_LEDGER = [
    "customer_id,asset,amount,debt,collateral_loan",
    "alice,BTC,1.5,,", "bob,BTC,2,,1.5", "bob,USDT,0,50000,", "frank,USDT,1000,500,600", "carol,ETH,3,,",
]
MARGIN = {
    "value_decimals": 2,
    "collateral_types": ["loan"],
    "assets": [
        {"symbol": "BTC", "price": "97000.00", "haircuts": {"loan": [{"ratio": 95}]}},
        {"symbol": "ETH", "price": "3500.00",
         "haircuts": {"loan": [{"up_to": "10000.00", "ratio": 90}, {"ratio": 50}]}},
        {"symbol": "USDT", "price": "1.00", "haircuts": {"loan": [{"ratio": 100}]}},
    ],
}


@dataclass
class Made:
    """A proved round: its bundle directory and each customer's package (parsed JSON)."""

    bundle: Path
    packages: dict[str, dict[str, Any]]
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return str(self.manifest["bundle_digest"])


def _prove(root: Path, round_label: str, ledger_rows: list[str], assets: list[dict[str, str | int]],
           margin: dict[str, Any] | None = None) -> Made:
    root.mkdir(parents=True)
    (root / "reserves.json").write_text(json.dumps({"exchange": EXCHANGE, "round": round_label, "assets": assets}))
    (root / "ledger.csv").write_text("\n".join(ledger_rows) + "\n", encoding="utf-8")
    spec = load_reserves(root / "reserves.json")
    ledger = load_ledger(root / "ledger.csv", spec)
    accounts = None
    if margin is not None:
        (root / "margin.json").write_text(json.dumps(margin))
        accounts = margin_accounts(ledger, load_margin_file(root / "margin.json", spec.assets))
    (root / "out").mkdir()
    result = write_bundle(
        ledger, spec, MASTER, root / "out" / "bundle", root / "out" / "packages",
        ProveOptions(chunk=2, jobs=1, run_nonce=NONCE, created=CREATED), margin=accounts,
    )
    packages = {}
    for path in result.packages_dir.glob("*.json"):
        data = json.loads(path.read_bytes())
        if "customer_id" in data:
            packages[data["customer_id"]] = data
    manifest = json.loads((result.bundle_dir / "manifest.json").read_bytes())
    return Made(result.bundle_dir, packages, manifest)


SPOT_ASSETS: list[dict[str, str | int]] = [
    {"symbol": "BTC", "decimals": 8, "reserves": "10"}, {"symbol": "ETH", "decimals": 9, "reserves": "40"},
]


@pytest.fixture(scope="module")
def spot(tmp_path_factory: pytest.TempPathFactory) -> Made:
    """A format-3 bundle: BTC (4 customers, 4 chunks of 2) and ETH (3 customers, 2 chunks)."""
    return _prove(tmp_path_factory.mktemp("spot") / "r1", "r-web-1", SPOT_LEDGER, SPOT_ASSETS)


@pytest.fixture(scope="module")
def other_round(tmp_path_factory: pytest.TempPathFactory) -> Made:
    """The same ledger proved for another round."""
    return _prove(tmp_path_factory.mktemp("spot") / "r2", "r-web-2", SPOT_LEDGER, SPOT_ASSETS)


@pytest.fixture(scope="module")
def margin(tmp_path_factory: pytest.TempPathFactory) -> Made:
    """A format-4 bundle: bob pledges BTC against a USDT debt; frank (USDT only) has a padding slot."""
    assets: list[dict[str, str | int]] = [
        *SPOT_ASSETS, {"symbol": "USDT", "decimals": 6, "reserves": "100000"},
    ]
    return _prove(tmp_path_factory.mktemp("margin") / "r1", "r-web-m", MARGIN_LEDGER, assets, MARGIN)


# --- running both checks ----------------------------------------------------------------------------


@dataclass
class Case:
    """One customer check: the package, the bundle files picked (``None``: no bundle), the pins."""

    name: str
    package: Path
    files: list[Path] | None = None
    digest: str | None = None
    customer_id: str | None = None


def _python(case: Case, scratch: Path) -> dict[str, Any]:
    bundle = None
    if case.files is not None:
        bundle = scratch / f"bundle-{case.name}"
        bundle.mkdir()
        for path in case.files:
            shutil.copyfile(path, bundle / path.name)
    try:
        report = check_package(
            case.package, bundle, customer_id=case.customer_id,
            published_digest=None if case.digest is None else bytes.fromhex(case.digest),
        )
    except ProofError as exc:
        out = verdict_json(exc.report, exc)
        out["error_class"] = type(exc).__name__
        return out
    out = verdict_json(report)
    out["error_class"] = None
    return out


def _js(cases: list[Case], scratch: Path) -> list[dict[str, Any]]:
    node = shutil.which("node")
    assert node is not None, "node is needed (Node 20, `npm ci` for node_modules)"
    spec = [
        {"package": str(c.package), "files": None if c.files is None else [str(p) for p in c.files],
         "digest": c.digest, "customer_id": c.customer_id}
        for c in cases
    ]
    path = scratch / "cases.json"
    path.write_text(json.dumps(spec))
    done = subprocess.run([node, str(CLI), "--cases", str(path)], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    out: list[dict[str, Any]] = json.loads(done.stdout)
    return out


_TOP = ("status", "ok", "exit_code", "checks_passed", "scope", "exchange", "round", "bundle_digest", "with_bundle",
        "bundle_checked", "all_chunk_proofs_checked", "package_format_version", "sum_tree_checked",
        "chunks_unchecked", "margin_checked", "margin", "customer_id", "customer_id_confirmed", "digest_pinned",
        "proven", "not_proven", "error_class", "failure_kind", "failure_section", "failure_file", "failure_field")


def _checks(checks: list[dict[str, Any]]) -> list[tuple[str, bool, str | None]]:
    """A list of checks, each with its detail when it passed (a failed one quotes a decoder's message)."""
    return [(c["name"], c["passed"], c["detail"] if c["passed"] else None) for c in checks]


def comparable(verdict: dict[str, Any]) -> dict[str, Any]:
    """What the two implementations must agree on (everything but the failure message)."""
    out = {key: verdict[key] for key in _TOP}
    out["claims"] = [(c["key"], c["asset"], c["text"], c["proven"], c["backed_by"]) for c in verdict["claims"]]
    out["checks"] = _checks(verdict["checks"])
    out["entries"] = [
        {**{k: v for k, v in e.items() if k != "checks"}, "checks": _checks(e["checks"])} for e in verdict["entries"]
    ]
    return out


def _agree(cases: list[Case], scratch: Path) -> list[dict[str, Any]]:
    """Run every case in both checks; require the same verdict; return the Python verdicts."""
    js = _js(cases, scratch)
    python = [_python(c, scratch) for c in cases]
    for case, j, p in zip(cases, js, python, strict=True):
        assert comparable(j) == comparable(p), case.name
    return python


def _write(path: Path, package: dict[str, Any]) -> Path:
    path.write_text(json.dumps(package, ensure_ascii=False), encoding="utf-8")
    return path


def _needed(made: Made, symbols: list[str], *, leaves: bool = True, extra: tuple[str, ...] = ()) -> list[Path]:
    """The files the check of ``symbols`` reads: the manifest and each asset's files (leaves optional)."""
    names = ["manifest.json", *extra]
    for s in symbols:
        names += [f"{s}.rangeproofs.bin", f"{s}.nodes.bin", f"{s}.nodeproofs.bin", f"{s}.solvency.bin"]
        if leaves:
            names.append(f"{s}.leaves.bin")
    return [made.bundle / n for n in names]


def _all(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file())


def _only(package: dict[str, Any], symbol: str) -> dict[str, Any]:
    """The package with its ``symbol`` entry only (still a valid package: each entry stands alone)."""
    out = copy.deepcopy(package)
    out["entries"] = [e for e in out["entries"] if e["asset"] == symbol]
    return out


# --- honest checks -----------------------------------------------------------------------------------


def test_honest_checks_agree_with_python(spot: Made, tmp_path: Path) -> None:
    alice = _write(tmp_path / "alice.json", spot.packages["alice"])
    btc = _write(tmp_path / "alice-btc.json", _only(spot.packages["alice"], "BTC"))
    zoe = _write(tmp_path / "zoë.json", spot.packages["zoë"])
    cases = [
        Case("alone", alice),
        Case("alone-pinned", alice, digest=spot.digest, customer_id="alice"),
        Case("needed", alice, _needed(spot, ["BTC", "ETH"]), spot.digest, "alice"),
        Case("one-leaves", alice, [*_needed(spot, ["BTC"]), *_needed(spot, ["ETH"], leaves=False)[1:]]),
        Case("btc-needed-unpinned", btc, _needed(spot, ["BTC"])),
        Case("btc-no-leaves", btc, _needed(spot, ["BTC"], leaves=False), spot.digest.upper(), "alice"),
        Case("btc-whole-bundle", btc, _all(spot.bundle), spot.digest, "alice"),
        Case("zoe", zoe, _all(spot.bundle), spot.digest, "zoë"),
    ]
    verdicts = _agree(cases, tmp_path)
    assert [v["status"] for v in verdicts] == [
        "partial", "partial", "pass", "partial", "pass", "partial", "pass", "pass",
    ]


def test_a_margin_account_agrees_with_python(margin: Made, tmp_path: Path) -> None:
    bob = _write(tmp_path / "bob.json", margin.packages["bob"])
    frank = _write(tmp_path / "frank.json", margin.packages["frank"])
    carol = _write(tmp_path / "carol.json", margin.packages["carol"])
    margin_files = ("margin.records.bin", "margin.proofs.bin")
    cases = [
        Case("bob-alone", bob, customer_id="bob"),
        # bob's proofs cover his group's records (FORMAT §14.4), whose slots may name any asset's leaves.
        Case("bob-needed", bob, _needed(margin, [a["symbol"] for a in margin.manifest["assets"]], extra=margin_files),
             margin.digest, "bob"),
        Case("frank", frank, _all(margin.bundle), margin.digest, "frank"),
        # frank's padding slot names a BTC leaf and needs BTC's solvency proof: without the BTC leaves, partial.
        Case("frank-no-dummy-leaves", frank,
             [*_needed(margin, ["USDT"], extra=margin_files), margin.bundle / "BTC.solvency.bin"]),
        Case("frank-no-margin-files", frank, _needed(margin, ["USDT"])),
        Case("carol", carol, _all(margin.bundle), margin.digest, "carol"),
    ]
    verdicts = _agree(cases, tmp_path)
    assert [v["status"] for v in verdicts] == ["partial", "pass", "pass", "partial", "fail", "pass"]
    assert verdicts[1]["margin_checked"] and not verdicts[3]["margin_checked"]


def test_the_frozen_vectors_agree_with_python(tmp_path: Path) -> None:
    customers = {1: "cust-000003, Jr.", 2: "cust-000000 Zo\u00eb \u00c5str\u00f6m", 3: "cust-000001 Zo\u00eb",
                 4: "cust-000001 Zo\u00eb"}
    cases = []
    for v, customer in customers.items():
        package = VECTORS / f"package_v{v}.json"
        digest = json.loads(package.read_bytes())["bundle_digest"]
        cases += [
            Case(f"v{v}-alone", package, customer_id=customer),
            Case(f"v{v}", package, _all(VECTORS / f"bundle_v{v}"), digest, customer),
        ]
    verdicts = _agree([c for c in cases if c.name != "v2"], tmp_path)
    assert [v["status"] for v in verdicts] == ["partial", "pass", "partial", "partial", "pass", "partial", "pass"]
    # The v2 bundle has a wallet list, whose proofs of control the browser check does not verify: partial.
    (v2,) = [c for c in cases if c.name == "v2"]
    _agree_but_wallets([v2], tmp_path)


def _wallets_unchecked(python: dict[str, Any]) -> dict[str, Any]:
    """The verdict the browser check must give where Python's checked a wallet list: the same, but partial.

    The wallets' proofs of control are not verified in the browser: no "reserves" check runs, and each
    ``reserves_wallets`` sentence is a not-proven one (its text is compared apart).
    """
    out = copy.deepcopy(python)
    if out["status"] != "fail":
        out.update(status="partial", ok=False, exit_code=6)
    for e in out["entries"]:
        e["checks"] = [c for c in e["checks"] if c["name"] != "reserves"]
        e["ok"] = all(c["passed"] for c in e["checks"])
    for c in out["claims"]:
        if c["key"] == "reserves_wallets":
            c.update(proven=False, backed_by=[], text="(wallets)")
    out["proven"] = [c["text"] for c in out["claims"] if c["proven"]]
    out["not_proven"] = [c["text"] for c in out["claims"] if not c["proven"]]
    return out


def _agree_but_wallets(cases: list[Case], scratch: Path) -> list[dict[str, Any]]:
    """As :func:`_agree`, for bundles with a wallet list: Python's verdict, partial, reserves NOT checked."""
    js = _js(cases, scratch)
    python = [_python(c, scratch) for c in cases]
    for case, j, p in zip(cases, js, python, strict=True):
        texts = [c["text"] for c in j["claims"] if c["key"] == "reserves_wallets"]
        assert texts and all(t.startswith("PARTIAL CHECK (browser)") and "did NOT verify" in t for t in texts)
        assert j["wallets_unchecked"] and j["status"] == "partial", case.name
        for c in j["claims"]:
            if c["key"] == "reserves_wallets":
                c["text"] = "(wallets)"
        j["proven"] = [c["text"] for c in j["claims"] if c["proven"]]
        j["not_proven"] = [c["text"] for c in j["claims"] if not c["proven"]]
        assert comparable(j) == comparable(_wallets_unchecked(p)), case.name
    return python


@pytest.fixture(scope="module")
def wallets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Any]]]:
    """A format-3 bundle with a signed wallet list (``solvency prove --wallets``) and its packages."""
    work = tmp_path_factory.mktemp("wallets")
    ledger, wallet_list, _, _ = signed_list(work, customers=6, assets=("BTC", "ETH"))
    bundle, _ = prove_v2(work, wallet_list, ledger)
    packages = {}
    for path in (work / "bundle-pkg").glob("*.json"):
        data = json.loads(path.read_bytes())
        if "customer_id" in data:
            packages[data["customer_id"]] = data
    return bundle, packages


def test_a_bundle_with_a_wallet_list_is_partial_and_says_the_wallets_were_not_checked(
    wallets: tuple[Path, dict[str, dict[str, Any]]], tmp_path: Path
) -> None:
    bundle, packages = wallets
    customer, package = sorted(packages.items())[0]
    path = _write(tmp_path / "package.json", package)
    digest = package["bundle_digest"]
    files = [p for p in _all(bundle) if p.name != "wallets.json"]
    cases = [
        Case("whole", path, _all(bundle), digest, customer), Case("no-wallets-file", path, files, digest, customer),
    ]
    verdicts = _agree_but_wallets(cases[:1], tmp_path)
    assert verdicts[0]["status"] == "pass"
    # The browser check does not read wallets.json at all: without it, the same partial verdict.
    (js,) = _js(cases[1:], tmp_path)
    assert js["status"] == "partial" and js["wallets_unchecked"]


# --- failures ----------------------------------------------------------------------------------------


def _hex_bump(text: str) -> str:
    return ("1" if text[0] != "1" else "2") + text[1:]


Mutation = Callable[[dict[str, Any]], None]


def _entry(i: int, key: str, value: Any) -> Mutation:
    def mutate(p: dict[str, Any]) -> None:
        p["entries"][i][key] = value(p["entries"][i][key]) if callable(value) else value
    return mutate


def _package_mutations(package: dict[str, Any]) -> Iterator[tuple[str, Mutation]]:
    e = package["entries"][0]
    yield "amount", _entry(0, "amount", lambda a: str(int(a) + 1))
    yield "amount-format", _entry(0, "amount", lambda a: int(a))
    yield "amount-range", _entry(0, "amount", str(1 << 64))
    yield "blinding", _entry(0, "blinding", _hex_bump)
    yield "blinding-noncanonical", _entry(0, "blinding", "ff" * 32)
    yield "salt", _entry(0, "leaf_salt", _hex_bump)
    yield "leaf-id", _entry(0, "leaf_id", _hex_bump)
    yield "leaf-index", _entry(0, "leaf_index", lambda i: i ^ 1)
    yield "leaf-count", _entry(0, "leaf_count", lambda n: n + 2)
    yield "chunk-size", _entry(0, "chunk_size", 4)
    yield "merkle-root", _entry(0, "merkle_root", _hex_bump)
    yield "liabilities", _entry(0, "liabilities_commitment", lambda c: e["node_path"][0]["commitment"])
    yield "liabilities-point", _entry(0, "liabilities_commitment", "ff" * 48)
    yield "chunk-path", _entry(0, "chunk_path", lambda p: [_hex_bump(p[0])])
    yield "chunk-path-length", _entry(0, "chunk_path", lambda p: [*p, p[0]])
    yield "node-hash", _entry(0, "node_path", lambda p: [{**p[0], "hash": _hex_bump(p[0]["hash"])}, *p[1:]])
    yield "node-commitment", _entry(
        0, "node_path", lambda p: [{**p[0], "commitment": e["liabilities_commitment"]}, *p[1:]]
    )
    yield "node-point", _entry(0, "node_path", lambda p: [{**p[0], "commitment": "a0" + "00" * 47}, *p[1:]])
    yield "node-path-length", _entry(0, "node_path", lambda p: p[:-1])
    yield "decimals", _entry(0, "decimals", 7)
    yield "asset", _entry(0, "asset", "DOGE")
    yield "unknown-field", _entry(0, "extra", 1)

    def top(key: str, value: Any) -> Mutation:
        def mutate(p: dict[str, Any]) -> None:
            p[key] = value
        return mutate

    yield "round", top("round", "r-other")
    yield "exchange", top("exchange", "Other\u202eExchange")
    yield "customer", top("customer_id", "mallory")
    yield "digest", top("bundle_digest", _hex_bump(package["bundle_digest"]))
    yield "version", top("format_version", 1)
    yield "version-3", top("format_version", 3)
    yield "no-entries", top("entries", [])


def test_tampered_packages_fail_as_python_does(spot: Made, tmp_path: Path) -> None:
    package = spot.packages["alice"]
    files = _needed(spot, ["BTC", "ETH"])
    cases = []
    for name, mutate in _package_mutations(package):
        tampered = copy.deepcopy(package)
        mutate(tampered)
        path = _write(tmp_path / f"{name}.json", tampered)
        cases += [Case(f"{name}-alone", path), Case(name, path, files, spot.digest, "alice")]
    raw = json.dumps(package)
    for name, text in [("not-json", raw[:-1]), ("float", raw.replace('"leaf_count":', '"leaf_count":1.0,"x":', 1)),
                       ("duplicate", raw.replace('"round":', '"round":"x","round":', 1)),
                       ("bom", "\ufeff" + raw), ("deep", "[" * 40 + "]" * 40)]:
        path = tmp_path / f"{name}.json"
        path.write_text(text, encoding="utf-8")
        cases.append(Case(name, path, files))
    verdicts = _agree(cases, tmp_path)
    passed = [c.name for c, v in zip(cases, verdicts, strict=True) if v["status"] != "fail"]
    assert all(name.endswith("-alone") for name in passed), passed
    kinds = {c.name: (v["error_class"], v["failure_section"]) for c, v in zip(cases, verdicts, strict=True)}
    index = package["entries"][0]["leaf_index"]
    assert kinds["amount"] == kinds["blinding"] == ("VerificationError", f"BTC.leaves.bin record {index}")
    false_entry = ("VerificationError", "package.entries[0]")
    assert kinds["salt-alone"] == kinds["node-hash"] == kinds["chunk-path"] == false_entry
    assert kinds["chunk-path-length-alone"] == ("FormatError", "package.entries[0].chunk_path")
    assert kinds["node-point-alone"] == ("FormatError", "package.entries[0].node_path[0].commitment")
    assert kinds["customer"] == ("VerificationError", "package.customer_id")
    assert kinds["digest"] == ("VerificationError", "package.bundle_digest")
    assert kinds["duplicate"] == ("FormatError", "package.round")


def test_a_package_of_another_round_and_wrong_pins_fail_as_python_does(
    spot: Made, other_round: Made, tmp_path: Path
) -> None:
    alice = _write(tmp_path / "alice.json", spot.packages["alice"])
    later = _write(tmp_path / "alice-r2.json", other_round.packages["alice"])
    cases = [
        Case("other-round", later, _needed(spot, ["BTC", "ETH"])),
        Case("other-round-pinned", later, _all(spot.bundle), spot.digest, "alice"),
        Case("wrong-digest", alice, _all(spot.bundle), other_round.digest, "alice"),
        Case("wrong-digest-alone", alice, digest=other_round.digest),
        Case("wrong-customer", alice, _all(spot.bundle), spot.digest, "bob"),
        Case("wrong-customer-alone", alice, customer_id="alice "),
    ]
    verdicts = _agree(cases, tmp_path)
    assert [(v["error_class"], v["failure_section"]) for v in verdicts] == [
        ("VerificationError", "package.bundle_digest"),
        ("VerificationError", "package.bundle_digest"),
        ("VerificationError", "package.bundle_digest"),
        ("VerificationError", "package.bundle_digest"),
        ("VerificationError", "package.customer_id"),
        ("VerificationError", "package.customer_id"),
    ]


def _spoil(made: Made, scratch: Path, name: str, change: Callable[[bytearray], None]) -> list[Path]:
    """The whole bundle with file ``name`` changed (not re-signed: only what the check reads shows it)."""
    out = scratch / f"spoiled-{name}-{len(list(scratch.iterdir()))}"
    shutil.copytree(made.bundle, out)
    data = bytearray((out / name).read_bytes())
    change(data)
    (out / name).write_bytes(bytes(data))
    return _all(out)


def _flip(offset: int) -> Callable[[bytearray], None]:
    def change(data: bytearray) -> None:
        data[offset] ^= 1
    return change


def test_tampered_bundles_fail_as_python_does(spot: Made, tmp_path: Path) -> None:
    alice = _write(tmp_path / "alice.json", _only(spot.packages["alice"], "BTC"))
    index = spot.packages["alice"]["entries"][0]["leaf_index"]
    leaf = 16 + 80 * index
    proof = 16 + (353 + 96 * 7) * (index // 2)
    cases = [
        Case("leaf-id", alice, _spoil(spot, tmp_path, "BTC.leaves.bin", _flip(leaf))),
        Case("leaf-point", alice, _spoil(spot, tmp_path, "BTC.leaves.bin", _flip(leaf + 40))),
        Case("neighbour-leaf", alice, _spoil(spot, tmp_path, "BTC.leaves.bin", _flip(16 + 80 * (index ^ 1) + 40))),
        Case("other-chunk-leaf", alice, _spoil(spot, tmp_path, "BTC.leaves.bin", _flip(16 + 80 * (index ^ 2) + 40))),
        Case("chunk-proof-scalar", alice, _spoil(spot, tmp_path, "BTC.rangeproofs.bin", _flip(proof + 200))),
        Case("chunk-proof-point", alice, _spoil(spot, tmp_path, "BTC.rangeproofs.bin", _flip(proof + 10))),
        Case("chunk-node", alice, _spoil(spot, tmp_path, "BTC.nodes.bin", _flip(16 + 80 * (index // 2 * 2) + 60))),
        Case("sibling-node", alice,
             _spoil(spot, tmp_path, "BTC.nodes.bin", _flip(16 + 80 * ((index // 2) ^ 1) * 2 + 60))),
        Case("node-proof", alice, _spoil(spot, tmp_path, "BTC.nodeproofs.bin", _flip(16 + 200))),
        Case("node-proof-version", alice, _spoil(spot, tmp_path, "BTC.nodeproofs.bin", _flip(16))),
        Case("solvency", alice, _spoil(spot, tmp_path, "BTC.solvency.bin", _flip(16 + 210))),
        Case("eth-solvency", alice, _spoil(spot, tmp_path, "ETH.solvency.bin", _flip(16 + 210))),
        Case("header", alice, _spoil(spot, tmp_path, "BTC.nodes.bin", _flip(9))),
        Case("size", alice, _spoil(spot, tmp_path, "BTC.nodes.bin", lambda d: d.extend(b"\0"))),
        Case("manifest", alice, _spoil(spot, tmp_path, "manifest.json", lambda d: d.extend(b"\n"))),
        Case("missing-nodes", alice, [p for p in _all(spot.bundle) if p.name != "BTC.nodes.bin"]),
        Case("missing-manifest", alice, [p for p in _all(spot.bundle) if p.name != "manifest.json"]),
    ]
    verdicts = _agree(cases, tmp_path)
    kinds = {c.name: (v["error_class"], v["failure_section"]) for c, v in zip(cases, verdicts, strict=True)}
    # The check reads alice's chunk, her path and her asset's solvency proof; what lies elsewhere it never sees.
    assert {name for name, kind in kinds.items() if kind == (None, None)} == {"other-chunk-leaf", "eth-solvency"}
    assert kinds["chunk-proof-scalar"] == ("VerificationError", f"BTC.rangeproofs.bin chunk {index // 2}")
    assert kinds["node-proof-version"] == ("FormatError", "BTC.nodeproofs.bin[0]")
    assert kinds["missing-nodes"] == ("FormatError", "BTC.nodes.bin")


def test_tampered_margin_files_fail_as_python_does(margin: Made, tmp_path: Path) -> None:
    bob = _write(tmp_path / "bob.json", margin.packages["bob"])
    frank = _write(tmp_path / "frank.json", margin.packages["frank"])
    bob_record = margin.packages["bob"]["margin"]["record_index"]
    (dummy,) = [s for s in margin.packages["frank"]["margin"]["slots"] if s["dummy"]]
    section = margin.manifest["margin"]
    record_size = (section["files"]["records"]["size"] - 16) // section["accounts"]
    Q = section["slots"] * (3 + len(section["collateral_types"]) * (1 + section["tiers"])) + 2
    G = 1  # FORMAT §14.4: proofs by group of G records
    while 2 * G <= min(section["accounts"], 8) and 2 * G * Q <= 1024:
        G *= 2
    bob_group = bob_record // G
    proofs_size = (section["files"]["proofs"]["size"] - 16) // (section["accounts"] // G)
    records, proofs = "margin.records.bin", "margin.proofs.bin"
    cases = [
        Case("record", bob, _spoil(margin, tmp_path, records, _flip(16 + record_size * bob_record + 40))),
        Case("record-id", bob, _spoil(margin, tmp_path, records, _flip(16 + record_size * bob_record))),
        Case("proof", bob, _spoil(margin, tmp_path, proofs, _flip(16 + proofs_size * bob_group + 200))),
        Case("proof-point", bob, _spoil(margin, tmp_path, proofs, _flip(16 + proofs_size * bob_group + 10))),
        Case("dummy-leaf", frank,
             _spoil(margin, tmp_path, f"{dummy['asset']}.leaves.bin", _flip(16 + 80 * dummy["leaf_index"] + 1))),
        Case("extra-solvency", frank, _spoil(margin, tmp_path, f"{dummy['asset']}.solvency.bin", _flip(16 + 210))),
    ]
    verdicts = _agree(cases, tmp_path)
    kinds = {c.name: (v["error_class"], v["failure_section"]) for c, v in zip(cases, verdicts, strict=True)}
    assert kinds["proof"] == ("VerificationError", f"margin.proofs.bin record {bob_group}")
    assert kinds["dummy-leaf"] == ("VerificationError", f"{dummy['asset']}.leaves.bin record {dummy['leaf_index']}")
    assert kinds["extra-solvency"] == ("VerificationError", f"{dummy['asset']}.solvency.bin")

def _resigned(made: Made, scratch: Path, name: str, change: Callable[[dict[str, Any]], None]) -> list[Path]:
    """The whole bundle with its manifest changed by ``change`` and re-signed (a new, valid bundle digest)."""
    out = scratch / f"resigned-{name}"
    shutil.copytree(made.bundle, out)
    manifest = copy.deepcopy(made.manifest)
    change(manifest)
    manifest["bundle_digest"] = bundle_digest(manifest).hex()
    (out / "manifest.json").write_bytes(canonical_json(manifest) + b"\n")
    return _all(out)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set the manifest member at ``path`` ("assets.0.reserves") to ``value`` (a callable: of the old value)."""
    def change(manifest: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = manifest
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        key_: Any = int(last) if isinstance(node, list) else last
        node[key_] = value(node[key_]) if callable(value) else value
    return change


def _manifest_mutations() -> Iterator[tuple[str, Callable[[dict[str, Any]], None]]]:
    yield "unknown-key", _set("extra", 1)
    yield "version", _set("format_version", 2)
    yield "protocol", _set("protocol", "other")
    yield "generators", _set("generators", "00" * 32)
    yield "exchange-bidi", _set("exchange", "Web\u202eExchange")
    yield "round", _set("round", "r-other")
    yield "created", _set("created", "2026-02-29T00:00:00Z")
    yield "created-format", _set("created", "2026-12-04 00:00:00Z")
    yield "no-assets", _set("assets", [])
    yield "reserves", _set("assets.0.reserves", str(1 << 128))
    yield "reserves-int", _set("assets.0.reserves", 10)
    yield "ratio", _set("assets.0.min_ratio", {"num": 4, "den": 2})
    yield "ratio-below-1", _set("assets.0.min_ratio", {"num": 1, "den": 2})
    yield "chunk", _set("assets.0.chunk_size", 3)
    yield "leaf-count", _set("assets.0.leaf_count", 7)
    yield "range-bits", _set("assets.0.range_bits", 32)
    yield "root", _set("assets.0.merkle_root", _hex_bump)
    yield "liabilities-point", _set("assets.0.liabilities_commitment", "a0" + "00" * 47)
    yield "liabilities-other", _set("assets.0.liabilities_commitment", _hex_bump)
    yield "disclosed", _set("assets.0.disclosed_liabilities", {"amount": "1", "blinding": "00" * 32})
    yield "file-name", _set("assets.0.files.leaves.name", "X.leaves.bin")
    yield "file-size", _set("assets.0.files.nodes.size", lambda s: s + 80)
    yield "basis", _set("assets.0.reserves_basis", "wallets")
    yield "symbols", _set("assets", lambda a: list(reversed(a)))
    yield "wallets", _set("wallets", {"name": "wallets.json", "size": 2, "sha256": "00" * 32})


def _margin_mutations() -> Iterator[tuple[str, Callable[[dict[str, Any]], None]]]:
    yield "params-digest", _set("margin.params_sha256", _hex_bump)
    yield "tiers", _set("margin.tiers", 3)
    yield "accounts", _set("margin.accounts", 3)
    yield "slots", _set("margin.slots", 4)
    yield "types", _set("margin.collateral_types", ["margin", "loan"])
    yield "asset-symbol", _set("margin.assets.0.symbol", "ETH")
    yield "price", _set("margin.assets.0.price", "0")
    yield "ratio-up", _set("margin.assets.1.haircuts.loan.1.ratio", 95)
    yield "last-up-to", _set("margin.assets.1.haircuts.loan.1.up_to", "5")
    yield "records-size", _set("margin.files.records.size", lambda s: s + 1)
    yield "debt-point", _set("assets.0.debt_commitment", "a0" + "00" * 47)
    yield "root", _set("margin.root", _hex_bump)


def test_tampered_manifests_fail_as_python_does(spot: Made, margin: Made, tmp_path: Path) -> None:
    cases = []
    for made, customer, mutations in [(spot, "alice", _manifest_mutations()), (margin, "bob", _margin_mutations())]:
        for name, change in mutations:
            files = _resigned(made, tmp_path, f"{customer}-{name}", change)
            package = copy.deepcopy(made.packages[customer])
            package["bundle_digest"] = json.loads((files[0].parent / "manifest.json").read_bytes())["bundle_digest"]
            cases.append(Case(f"{customer}-{name}", _write(tmp_path / f"m-{customer}-{name}.json", package), files))
    raw = (spot.bundle / "manifest.json").read_bytes()
    for name, data in [("spaces", raw.replace(b'","', b'", "', 1)), ("crlf", raw[:-1] + b"\r\n"),
                       ("digest", raw.replace(spot.digest.encode(), _hex_bump(spot.digest).encode())),
                       ("duplicate", raw.replace(b'{"assets":', b'{"assets":[],"assets":', 1))]:
        out = tmp_path / f"raw-{name}"
        shutil.copytree(spot.bundle, out)
        (out / "manifest.json").write_bytes(data)
        cases.append(Case(name, _write(tmp_path / "alice.json", spot.packages["alice"]), _all(out)))
    verdicts = _agree(cases, tmp_path)
    kinds = {c.name: (v["error_class"], v["failure_section"]) for c, v in zip(cases, verdicts, strict=True)}
    assert all(kind[0] is not None for kind in kinds.values()), kinds
    assert kinds["alice-created"] == ("FormatError", "manifest.created")
    assert kinds["bob-params-digest"] == ("FormatError", "manifest.margin.params_sha256")
    assert kinds["bob-ratio-up"] == ("FormatError", "manifest.margin.assets[1].haircuts.loan[1].ratio")
    assert kinds["digest"] == ("FormatError", "manifest.bundle_digest")


def _resigned_files(bundle: Path, scratch: Path, name: str, changes: dict[str, Callable[[bytearray], None]],
                    package: Path) -> tuple[list[Path], Path]:
    """A copy of ``bundle`` whose files are changed and listed anew in a re-signed manifest; and the package for it.

    Format 1 and 2 checks hash every data file: re-listing the changed files' SHA-256 lets a change reach the
    checks behind the hash (leaf order, the customer's record, a chunk proof).
    """
    out = scratch / f"v1-{name}"
    shutil.copytree(bundle, out)
    manifest = json.loads((out / "manifest.json").read_bytes())
    for file_name, change in changes.items():
        data = bytearray((out / file_name).read_bytes())
        change(data)
        (out / file_name).write_bytes(bytes(data))
        for asset in manifest["assets"]:
            for entry in asset["files"].values():
                if entry["name"] == file_name:
                    entry["sha256"] = hashlib.sha256(bytes(data)).hexdigest()
    manifest["bundle_digest"] = bundle_digest(manifest).hex()
    (out / "manifest.json").write_bytes(canonical_json(manifest) + b"\n")
    resigned = json.loads(package.read_bytes())
    resigned["bundle_digest"] = manifest["bundle_digest"]
    return _all(out), _write(scratch / f"v1-{name}.json", resigned)


def _swap_records(first: int, second: int, size: int) -> Callable[[bytearray], None]:
    def change(data: bytearray) -> None:
        a, b = 16 + first * size, 16 + second * size
        data[a:a + size], data[b:b + size] = data[b:b + size], data[a:a + size]
    return change


def test_a_format_1_bundle_is_checked_whole_as_python_does(tmp_path: Path) -> None:
    """Package format 1 with its bundle: every file hashed, every leaf read, every chunk proof verified."""
    bundle, package = VECTORS / "bundle_v1", VECTORS / "package_v1.json"
    chunk = 353 + 96 * 8  # BTC: chunks of 4 leaves, lg(64 * 4) = 8 rounds
    cases = [Case("sha256", package, _spoil(Made(bundle, {}), tmp_path, "BTC.rangeproofs.bin", _flip(16 + 200)))]
    for name, changes in [
        ("chunk-1-proof", {"BTC.rangeproofs.bin": _flip(16 + chunk + 200)}),
        ("chunk-1-point", {"BTC.rangeproofs.bin": _flip(16 + chunk + 10)}),
        ("leaf-order", {"BTC.leaves.bin": _swap_records(5, 6, 80)}),
        ("own-record", {"BTC.leaves.bin": _swap_records(0, 1, 80)}),
        ("other-leaf-point", {"BTC.leaves.bin": _flip(16 + 80 * 6 + 40)}),
        ("solvency", {"ETH.solvency.bin": _flip(16 + 210)}),
    ]:
        files, resigned = _resigned_files(bundle, tmp_path, name, changes, package)
        cases.append(Case(name, resigned, files))
    verdicts = _agree(cases, tmp_path)
    kinds = {c.name: (v["error_class"], v["failure_section"]) for c, v in zip(cases, verdicts, strict=True)}
    assert kinds == {
        "sha256": ("FormatError", "BTC.rangeproofs.bin"),
        "chunk-1-proof": ("VerificationError", "BTC.rangeproofs.bin chunk 1"),
        "chunk-1-point": ("FormatError", "BTC.rangeproofs.bin chunk 1"),
        "leaf-order": ("FormatError", "BTC.leaves.bin record 6"),
        "own-record": ("VerificationError", "BTC.leaves.bin record 0"),
        "other-leaf-point": ("FormatError", "BTC.leaves.bin record 6"),
        "solvency": ("VerificationError", "ETH.solvency.bin"),
    }
