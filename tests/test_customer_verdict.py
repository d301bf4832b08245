"""The customer check never claims more than it checked (issue 8, A.1).

The attack of the issue: an exchange owes 170 BTC and holds 120. It adds one fake
leaf committing to -50 in another chunk, so the leaves sum to 120 and the solvency
proof is honest; only that chunk's range proof is false (forged on the low 64 bits
of r - 50). Before the fix, `solvency check PKG --bundle B` of any customer outside
the forged chunk verified only their own chunk proof, printed "reserves >= total
liabilities" under proven, and exited 0.

Now the default check verifies every chunk proof of each of the customer's assets
(the bundle verifier's own per-asset verification), so it fails exactly as
`solvency verify` does; the quick `--own-chunk-only` check is PARTIAL (exit 6) and
says solvency was NOT checked. Every verdict sentence is a typed claim naming the
checks that back it; TABLE below states, for every sentence, which checks those
are, and no proven sentence may appear unless each of them ran and passed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from adversary import CheatAsset, CheatBundle, customer_leaf, dummy_leaf, negative, sorted_leaves, write_cheat_bundle
from bundle_factory import AssetSpec, MadeBundle, make_bundle
from typer.testing import CliRunner

from circuits.errors import VerificationError
from cli.exit_codes import EXIT_OK, EXIT_PARTIAL, EXIT_VERIFICATION
from cli.main import app
from verifier import check_package, verify_bundle
from verifier.report import CheckRef, Claim, PackageReport

VECTORS = Path(__file__).parent / "vectors"
BUNDLE = VECTORS / "bundle_v1"
PACKAGE = VECTORS / "package_v1.json"
DIGEST = "2c9288552fd7b2ce4f45236f909b81a0d6747c846b6ce38566d5eede771a15e5"
CUSTOMER = "cust-000003, Jr."

#: The attack: 170 owed, 120 held, a -50 leaf for an insider.
OWED = {"alice": 60, "bob": 50, "carol": 30, "dave": 30}
HELD = 120

runner = CliRunner()

# For every sentence (claim key), by scope ("*": any scope), the checks that back it; "S" stands for the
# claim's asset. A key absent from PROVEN_BY may only appear as a not-proven sentence.
PROVEN_BY: dict[str, dict[str, set[tuple[str | None, str]]]] = {
    "customer_id": {"*": {(None, "customer id"), ("S*", "leaf id")}},
    "published_digest": {
        "package": {(None, "published digest")},
        "own-chunk": {(None, "published digest"), ("S*", "bundle digest")},
        "full": {(None, "published digest"), ("S*", "bundle digest")},
    },
    "committed_in_package": {"package": {("S", "leaf id"), ("S", "merkle path")}},
    "committed": {
        scope: {("S", "leaf id"), ("S", "merkle path"), ("S", "bundle digest"), ("S", "asset in bundle"),
                ("S", "files"), ("S", "leaf record"), ("S", "merkle root")}
        for scope in ("own-chunk", "full")
    },
    "counted": {scope: {("S", "leaf record"), ("S", "liabilities sum")} for scope in ("own-chunk", "full")},
    "range_own_chunk": {"own-chunk": {("S", "chunk range proof")}},
    "range_all_chunks": {"full": {("S", "range proofs")}},
    "solvency": {"full": {("S", "liabilities sum"), ("S", "range proofs"), ("S", "solvency proof")}},
    "disclosed": {scope: {("S", "solvency proof")} for scope in ("own-chunk", "full")},
}
NOT_PROVEN = {
    "customer_id", "published_digest", "bundle_unchecked", "digest_unmatched", "solvency_unchecked",
    "reserves_held", "others_included",
}


def _expected_backing(claim: Claim, scope: str, assets: list[str]) -> set[tuple[str | None, str]]:
    by_scope = PROVEN_BY[claim.key]
    table = by_scope.get(scope, by_scope.get("*"))
    assert table is not None, f"claim {claim.key!r} may not be proven in scope {scope!r}"
    expanded: set[tuple[str | None, str]] = set()
    for asset, name in table:
        if asset == "S*":  # one per asset of the package
            expanded |= {(a, name) for a in assets}
        else:
            expanded.add((claim.asset if asset == "S" else asset, name))
    return expanded


def _ran_and_passed(report: PackageReport, ref: CheckRef) -> bool:
    """Looked up here, not with PackageReport.passed: the test does not trust the code it tests."""
    if ref.asset is None:
        found = [c for c in report.checks if c.name == ref.name]
    else:
        found = [c for e in report.entries if e.asset == ref.asset for c in e.checks if c.name == ref.name]
    return bool(found) and all(c.passed for c in found)


def assert_every_claim_backed(report: PackageReport) -> None:
    assets = [e.asset for e in report.entries]
    assert report.claims, "a passing check states a verdict"
    for claim in report.claims:
        if not claim.proven:
            assert claim.key in NOT_PROVEN, claim.key
            assert claim.backed_by == ()
            continue
        assert claim.key in PROVEN_BY, claim.key
        assert {(r.asset, r.name) for r in claim.backed_by} == _expected_backing(claim, report.scope, assets)
        for ref in claim.backed_by:
            assert _ran_and_passed(report, ref), f"{claim.key!r} is proven but {ref} did not run and pass"
    # JSON carries the same claims, and proven/not_proven are exactly their texts.
    data = json.loads(json.dumps(report.to_json()))
    assert [c["key"] for c in data["claims"]] == [c.key for c in report.claims]
    assert data["proven"] == [c.text for c in report.claims if c.proven]
    assert data["not_proven"] == [c.text for c in report.claims if not c.proven]


# --- the attack ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def attack(tmp_path_factory: pytest.TempPathFactory) -> CheatBundle:
    """BTC owes 170, holds 120; mallory's leaf commits to -50; 8 leaves in chunks of 2."""
    mallory = customer_leaf("BTC", "mallory", negative(50))
    leaves = [customer_leaf("BTC", c, v) for c, v in OWED.items()] + [mallory]
    leaves += [dummy_leaf("BTC", j) for j in range(8 - len(leaves))]
    return write_cheat_bundle(
        tmp_path_factory.mktemp("attack") / "bundle", [CheatAsset("BTC", sorted_leaves(leaves), HELD, chunk=2)]
    )


def _forged_chunk_and_outsider(attack: CheatBundle) -> tuple[int, str]:
    outcome = attack.assets["BTC"]
    k = outcome.index[customer_leaf("BTC", "mallory", 0).leaf_id] // 2
    assert outcome.forged_chunks == [k] and not outcome.solvency_forged  # only that chunk proof lies
    outsider = next(c for c, p in sorted(attack.packages.items()) if p["entries"][0]["leaf_index"] // 2 != k)
    return k, outsider


def _cli(*args: object) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stdout + result.stderr


def test_the_attack_is_what_the_issue_describes(attack: CheatBundle) -> None:
    k, _ = _forged_chunk_and_outsider(attack)
    # Leaves sum to 120 = the reserves, so the solvency proof is honest: only chunk k's proof is false.
    assert sum(OWED.values()) == 170 and HELD == 120
    code, _ = _cli("verify", attack.path, "--quiet")
    assert code == EXIT_VERIFICATION
    with pytest.raises(VerificationError) as info:
        verify_bundle(attack.path)
    assert info.value.section == f"BTC.rangeproofs.bin chunk {k}"


def test_default_check_of_a_customer_outside_the_forged_chunk_fails(attack: CheatBundle, tmp_path: Path) -> None:
    k, outsider = _forged_chunk_and_outsider(attack)
    package = tmp_path / "outsider.json"
    package.write_text(json.dumps(attack.package(outsider)))
    section = f"BTC.rangeproofs.bin chunk {k}"

    with pytest.raises(VerificationError) as info:
        check_package(package, attack.path, customer_id=outsider, published_digest=bytes.fromhex(attack.digest))
    error = info.value
    assert type(error) is VerificationError and error.section == section
    assert (error.file, error.field) == ("BTC.rangeproofs.bin", f"chunk {k}")
    assert isinstance(error.report, PackageReport) and error.report.claims == []
    assert error.report.entries[0].checks[-1].name == "range proofs"
    assert not error.report.entries[0].checks[-1].passed

    code, output = _cli("check", package, "--bundle", attack.path, "--customer-id", outsider)
    assert code == EXIT_VERIFICATION
    assert f"error: {section}: " in output and "PASS" not in output and "proven" not in output
    code, output = _cli("check", package, "--bundle", attack.path, "--json")
    payload = json.loads(output)
    assert (code, payload["exit_code"], payload["status"], payload["ok"]) == (
        EXIT_VERIFICATION, EXIT_VERIFICATION, "fail", False
    )
    assert (payload["failure_section"], payload["failure_kind"]) == (section, "false")
    assert payload["proven"] == [] and payload["claims"] == []


def test_own_chunk_only_check_is_partial_and_claims_no_solvency(attack: CheatBundle, tmp_path: Path) -> None:
    _, outsider = _forged_chunk_and_outsider(attack)
    package = tmp_path / "outsider.json"
    package.write_text(json.dumps(attack.package(outsider)))

    report = check_package(package, attack.path, own_chunk_only=True)
    assert report.ok and (report.scope, report.status) == ("own-chunk", "partial")
    assert_every_claim_backed(report)
    assert not {"solvency", "range_all_chunks"} & {c.key for c in report.claims if c.proven}
    assert "solvency_unchecked" in {c.key for c in report.claims if not c.proven}

    code, output = _cli("check", package, "--bundle", attack.path, "--own-chunk-only")
    assert code == EXIT_PARTIAL
    assert output.startswith("PARTIAL") and "PASS" not in output
    proven = [line for line in output.splitlines() if line.strip().startswith("proven:")]
    assert proven and not any("solvency" in line or "reserves" in line for line in proven)
    assert any("NOT checked" in line and "solvency verify" in line for line in output.splitlines()
               if "not proven:" in line)

    code, output = _cli("check", package, "--bundle", attack.path, "--own-chunk-only", "--json")
    payload = json.loads(output)
    assert (code, payload["exit_code"], payload["status"], payload["ok"]) == (EXIT_PARTIAL, EXIT_PARTIAL,
                                                                             "partial", False)
    assert (payload["scope"], payload["bundle_checked"], payload["all_chunk_proofs_checked"]) == (
        "own-chunk", True, False
    )
    assert not any(c["proven"] and c["key"] == "solvency" for c in payload["claims"])
    assert any("NOT checked" in s and "solvency" in s for s in payload["not_proven"])


def test_own_chunk_only_needs_the_bundle() -> None:
    code, output = _cli("check", PACKAGE, "--own-chunk-only")
    assert code == 2 and "--own-chunk-only" in output


# --- every sentence of honest verdicts ----------------------------------------------------------


@pytest.fixture(scope="module")
def disclosed(tmp_path_factory: pytest.TempPathFactory) -> MadeBundle:
    """BTC with disclosed liabilities and ratio 21/20, 8 leaves in chunks of 2."""
    holdings = {f"c{i}": 10**6 * (i + 1) for i in range(6)}
    return make_bundle(
        tmp_path_factory.mktemp("disclosed") / "bundle",
        [AssetSpec("BTC", holdings, reserves=10**8, chunk=2, ratio=(21, 20), disclose=True)],
    )


RUNS: list[tuple[str, dict[str, Any], str]] = [
    ("package", {}, "package"),
    ("package-pinned", {"customer_id": CUSTOMER, "published_digest": bytes.fromhex(DIGEST)}, "package"),
    ("full", {"bundle": True}, "full"),
    ("full-pinned", {"bundle": True, "customer_id": CUSTOMER, "published_digest": bytes.fromhex(DIGEST)}, "full"),
    ("own-chunk", {"bundle": True, "own_chunk_only": True}, "own-chunk"),
    ("own-chunk-pinned", {"bundle": True, "own_chunk_only": True, "customer_id": CUSTOMER,
                          "published_digest": bytes.fromhex(DIGEST)}, "own-chunk"),
]


@pytest.mark.parametrize(("name", "options", "scope"), RUNS, ids=[r[0] for r in RUNS])
def test_every_sentence_is_backed_by_checks_that_ran(name: str, options: dict[str, Any], scope: str) -> None:
    options = dict(options)
    bundle = BUNDLE if options.pop("bundle", False) else None
    report = check_package(PACKAGE, bundle, **options)
    assert report.ok and report.scope == scope
    assert report.status == ("pass" if scope == "full" else "partial")
    assert_every_claim_backed(report)
    keys = {c.key for c in report.claims if c.proven}
    if scope == "full":
        assert {"committed", "counted", "range_all_chunks", "solvency"} <= keys
    if "customer_id" in options:
        assert {"customer_id", "published_digest"} <= keys


def test_disclosed_liabilities_sentence_is_backed(disclosed: MadeBundle, tmp_path: Path) -> None:
    customer = sorted(disclosed.packages)[0]
    package = disclosed.write_package(customer, tmp_path / "p.json")
    for own_chunk_only in (False, True):
        report = check_package(package, disclosed.path, own_chunk_only=own_chunk_only)
        assert_every_claim_backed(report)
        assert "disclosed" in {c.key for c in report.claims if c.proven}


def test_cli_statuses_and_exit_codes_of_honest_runs() -> None:
    code, output = _cli("check", PACKAGE, "--bundle", BUNDLE, "--customer-id", CUSTOMER, "--digest", DIGEST)
    assert code == EXIT_OK and output.startswith("PASS")
    code, output = _cli("check", PACKAGE, "--bundle", BUNDLE, "--own-chunk-only")
    assert code == EXIT_PARTIAL and output.startswith("PARTIAL")


def test_a_proven_claim_without_passing_checks_is_refused() -> None:
    report = PackageReport(ok=False, exchange="", round="", bundle_digest="", with_bundle=True, scope="full")
    with pytest.raises(RuntimeError):
        report.claim(Claim("solvency", "reserves cover liabilities", True, "BTC"))  # backed by nothing
    with pytest.raises(RuntimeError):
        report.claim(Claim("solvency", "reserves cover liabilities", True, "BTC", (CheckRef("BTC", "range proofs"),)))
    report.claim(Claim("reserves_held", "not proven: reserves are held", False))
    assert report.not_proven == ["not proven: reserves are held"] and report.proven == []
