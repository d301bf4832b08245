"""The customer check (docs/FORMAT.md §8), with and without the bundle."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from bundle_factory import (
    AssetSpec,
    MadeBundle,
    load_manifest,
    make_bundle,
    resign,
    rewrite_file,
    rewrite_manifest,
    swap_records,
)

from circuits.errors import FormatError, ProofError, VerificationError
from verifier.package import check_package
from verifier.report import PackageReport

LEAF = 80
BTC = {f"user{i}": 10**7 * (i + 1) for i in range(11)}
ETH = {"user3": 2 * 10**18, "user7": 5, "user8": 0}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> MadeBundle:
    """BTC: 16 leaves, chunks of 4; ETH: 4 leaves, chunks of 2, ratio 5/4."""
    return make_bundle(
        tmp_path_factory.mktemp("pkg") / "bundle",
        [
            AssetSpec("BTC", BTC, reserves=10**9, chunk=4),
            AssetSpec("ETH", ETH, reserves=3 * 10**18, decimals=18, chunk=2, ratio=(5, 4)),
        ],
    )


@pytest.fixture
def bundle(made: MadeBundle, tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(made.path, copy)
    return copy


def _package(made: MadeBundle, customer: str, tmp_path: Path, edit: Any = None) -> Path:
    package = json.loads(json.dumps(made.packages[customer]))
    if edit is not None:
        edit(package)
    path = tmp_path / f"{customer}.json"
    path.write_text(json.dumps(package, indent=2))
    return path


def _fails(
    exc_type: type[ProofError], section: str, package: Path, bundle: Path | None = None, *, own_chunk_only: bool = False
) -> ProofError:
    with pytest.raises(exc_type) as info:
        check_package(package, bundle, own_chunk_only=own_chunk_only)
    exc = info.value
    assert type(exc) is exc_type, f"{type(exc).__name__}: {exc}"
    assert exc.section == section, str(exc)
    report = exc.report  # type: ignore[attr-defined]
    assert isinstance(report, PackageReport) and not report.ok
    assert report.failure_section == section
    assert report.failure_kind == ("malformed" if exc_type is FormatError else "false")
    json.dumps(report.to_json())
    return exc


# --- success -----------------------------------------------------------------------------------


def test_package_alone_passes_and_says_what_was_not_checked(made: MadeBundle, tmp_path: Path) -> None:
    report = check_package(_package(made, "user3", tmp_path))
    assert report.ok and not report.with_bundle
    assert (report.exchange, report.round, report.bundle_digest) == (
        made.manifest["exchange"],
        made.manifest["round"],
        made.manifest["bundle_digest"],
    )
    assert [e.asset for e in report.entries] == ["BTC", "ETH"]
    btc = report.entries[0]
    assert btc.amount == 4 * 10**7 and btc.amount_display == "0.40000000"
    assert [c.name for c in btc.checks] == ["leaf id", "merkle path"]
    assert all(passed for _, passed, _ in btc.checks)
    assert any("0.40000000" in s and f"of {btc.leaf_count}" in s for s in report.proven)
    assert any("NOT checked" in s and "--bundle" in s for s in report.not_proven)
    assert any("actually holds the stated reserves" in s for s in report.not_proven)
    assert any("other customers were included" in s for s in report.not_proven)
    data = json.loads(json.dumps(report.to_json()))
    assert data["entries"][1]["amount_display"] == "2.000000000000000000"
    # The report never carries the package's secrets.
    secrets = [e["blinding"] for e in made.packages["user3"]["entries"]]
    secrets += [e["leaf_salt"] for e in made.packages["user3"]["entries"]]
    assert not any(s in json.dumps(data) for s in secrets)


def test_package_with_bundle_checks_everything(made: MadeBundle, tmp_path: Path) -> None:
    report = check_package(_package(made, "user3", tmp_path), made.path)
    assert report.ok and report.with_bundle and (report.scope, report.status) == ("full", "pass")
    names = [c.name for c in report.entries[0].checks]
    assert names == [
        "leaf id",
        "merkle path",
        "bundle digest",
        "asset in bundle",
        "files",
        "leaf record",
        "merkle root",
        "liabilities sum",
        "range proofs",
        "solvency proof",
    ]
    assert all(e.ok for e in report.entries)
    text = " ".join(report.proven)
    assert made.manifest["bundle_digest"] in text
    assert "counted in the total BTC liabilities" in text and "5/4" in text
    assert "range proofs of all 4 BTC chunks" in text


def test_package_with_bundle_own_chunk_only_is_partial(made: MadeBundle, tmp_path: Path) -> None:
    report = check_package(_package(made, "user3", tmp_path), made.path, own_chunk_only=True)
    assert report.ok and (report.scope, report.status) == ("own-chunk", "partial")
    names = [c.name for c in report.entries[0].checks]
    assert names == [
        "leaf id",
        "merkle path",
        "bundle digest",
        "asset in bundle",
        "files",
        "leaf record",
        "merkle root",
        "liabilities sum",
        "chunk range proof",
        "solvency proof",
    ]
    assert not any("solvency proof" in s for s in report.proven)
    assert any("PARTIAL CHECK" in s and "NOT checked" in s and "solvency verify" in s for s in report.not_proven)
    assert not any("--bundle" in s for s in report.not_proven)
    assert any("other customers were included" in s for s in report.not_proven)
    assert any("published" in s for s in report.not_proven)


def test_zero_balance_customer_passes(made: MadeBundle, tmp_path: Path) -> None:
    report = check_package(_package(made, "user8", tmp_path), made.path)
    assert report.ok and report.entries[1].asset == "ETH"
    assert report.entries[1].amount_display == "0.000000000000000000"


# --- the package alone: wrong amount, blinding, salt, path ------------------------------------


def _edit_entry(index: int, **fields: Any) -> Any:
    def edit(package: dict[str, Any]) -> None:
        package["entries"][index].update(fields)

    return edit


def test_wrong_amount_is_false(made: MadeBundle, tmp_path: Path) -> None:
    path = _package(made, "user3", tmp_path, _edit_entry(0, amount=str(4 * 10**7 + 1)))
    exc = _fails(VerificationError, "package.entries[0]", path)
    checks = exc.report.entries[0].checks  # type: ignore[attr-defined]
    assert checks[-1].name == "merkle path" and checks[-1].passed is False


def test_wrong_blinding_is_false(made: MadeBundle, tmp_path: Path) -> None:
    path = _package(made, "user3", tmp_path, _edit_entry(1, blinding="01" + "00" * 31))
    _fails(VerificationError, "package.entries[1]", path)


def test_wrong_salt_or_customer_id_is_false(made: MadeBundle, tmp_path: Path) -> None:
    path = _package(made, "user3", tmp_path, _edit_entry(0, leaf_salt="00" * 32))
    exc = _fails(VerificationError, "package.entries[0]", path)
    assert exc.report.entries[0].checks[-1].name == "leaf id"  # type: ignore[attr-defined]

    def rename(package: dict[str, Any]) -> None:
        package["customer_id"] = "user4"

    _fails(VerificationError, "package.entries[0]", _package(made, "user3", tmp_path, rename))


def test_wrong_path_is_false(made: MadeBundle, tmp_path: Path) -> None:
    def edit(package: dict[str, Any]) -> None:
        path = package["entries"][0]["merkle_path"]
        path[1] = "00" * 32

    _fails(VerificationError, "package.entries[0]", _package(made, "user3", tmp_path, edit))


def test_wrong_index_is_false(made: MadeBundle, tmp_path: Path) -> None:
    def edit(package: dict[str, Any]) -> None:
        package["entries"][0]["leaf_index"] ^= 1

    _fails(VerificationError, "package.entries[0]", _package(made, "user3", tmp_path, edit))


def test_path_of_wrong_length_is_malformed(made: MadeBundle, tmp_path: Path) -> None:
    def edit(package: dict[str, Any]) -> None:
        package["entries"][0]["merkle_path"].pop()

    _fails(FormatError, "package.entries[0].merkle_path", _package(made, "user3", tmp_path, edit))


def test_malformed_package(made: MadeBundle, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    _fails(FormatError, "package", bad)
    path = _package(made, "user3", tmp_path, _edit_entry(0, amount="-5"))
    _fails(FormatError, "package.entries[0].amount", path)
    _fails(FormatError, "package", tmp_path / "missing.json")


# --- against the bundle ---------------------------------------------------------------------------


def test_package_from_another_bundle_is_false(made: MadeBundle, tmp_path: Path) -> None:
    other = make_bundle(
        tmp_path / "other",
        [AssetSpec("BTC", BTC, reserves=10**9, chunk=4)],
        round_label="2026-02-28T00:00:00Z",
    )
    path = other.write_package("user3", tmp_path / "other.json")
    assert check_package(path).ok  # a valid package...
    exc = _fails(VerificationError, "package.bundle_digest", path, made.path)  # ...for another bundle
    assert "another bundle" in str(exc)


def test_package_with_forged_digest_for_another_round_is_false(made: MadeBundle, tmp_path: Path) -> None:
    def edit(package: dict[str, Any]) -> None:
        package["round"] = "another round"

    # The leaf id binds the round, so this fails on its own; with the bundle it fails the same way first.
    path = _package(made, "user3", tmp_path, edit)
    _fails(VerificationError, "package.entries[0]", path, made.path)


def test_bundle_missing_the_asset_is_false(made: MadeBundle, tmp_path: Path) -> None:
    solo = make_bundle(tmp_path / "solo", [AssetSpec("BTC", BTC, reserves=10**9, chunk=4)])

    def edit(package: dict[str, Any]) -> None:
        package["bundle_digest"] = solo.manifest["bundle_digest"]

    path = _package(made, "user3", tmp_path, edit)
    _fails(VerificationError, "package.entries[1]", path, solo.path)


def _repoint(package_path: Path, bundle: Path) -> None:
    """Give the package the (re-signed) bundle's digest, as a colluding exchange could."""
    package = json.loads(package_path.read_text())
    package["bundle_digest"] = load_manifest(bundle)["bundle_digest"]
    package_path.write_text(json.dumps(package))


def test_leaf_record_not_the_customers_is_false(made: MadeBundle, bundle: Path, tmp_path: Path) -> None:
    index = made.packages["user3"]["entries"][0]["leaf_index"]
    other = (index + 1) % 16

    def mutate(data: bytearray) -> None:
        lo = 16 + index * LEAF + 32
        data[lo : lo + 48] = data[16 + other * LEAF + 32 : 16 + other * LEAF + 80]

    rewrite_file(bundle, "BTC.leaves.bin", mutate)
    path = _package(made, "user3", tmp_path)
    _repoint(path, bundle)
    exc = _fails(VerificationError, f"BTC.leaves.bin record {index}", path, bundle)
    assert exc.report.entries[0].checks[-1].name == "leaf record"  # type: ignore[attr-defined]


def test_leaves_not_summing_to_liabilities_is_false(made: MadeBundle, bundle: Path, tmp_path: Path) -> None:
    # An exchange that leaves a customer out of C_L: the manifest's C_L is the sum minus their leaf.
    from circuits.group import Point

    leaves = made.leaves["BTC"]
    target = next(i for i, leaf in enumerate(leaves) if leaf.customer == "user3")
    total = Point.identity()
    for i, leaf in enumerate(leaves):
        if i != target:
            total = total + Point.from_bytes(leaf.V)

    def mutate(m: dict[str, Any]) -> None:
        m["assets"][0]["liabilities_commitment"] = total.to_bytes().hex()

    rewrite_manifest(bundle, mutate)
    path = _package(made, "user3", tmp_path)
    _repoint(path, bundle)
    exc = _fails(VerificationError, "BTC.leaves.bin", path, bundle)
    assert exc.report.entries[0].checks[-1].name == "liabilities sum"  # type: ignore[attr-defined]


def test_false_chunk_proof_is_false(made: MadeBundle, bundle: Path, tmp_path: Path) -> None:
    index = made.packages["user3"]["entries"][0]["leaf_index"]
    k = index // 4
    record = (made.manifest["assets"][0]["files"]["range_proofs"]["size"] - 16) // 4
    rewrite_file(bundle, "BTC.rangeproofs.bin", lambda d: swap_records(d, k, (k + 1) % 4, record))
    path = _package(made, "user3", tmp_path)
    _repoint(path, bundle)
    # The full check verifies every chunk and names the first false one; the quick check, the customer's own.
    _fails(VerificationError, f"BTC.rangeproofs.bin chunk {min(k, (k + 1) % 4)}", path, bundle)
    _fails(VerificationError, f"BTC.rangeproofs.bin chunk {k}", path, bundle, own_chunk_only=True)


def test_false_solvency_proof_is_false(made: MadeBundle, bundle: Path, tmp_path: Path) -> None:
    def mutate(m: dict[str, Any]) -> None:
        m["assets"][1]["reserves"] = str(3 * 10**18 + 1)

    rewrite_manifest(bundle, mutate)
    path = _package(made, "user3", tmp_path)
    _repoint(path, bundle)
    exc = _fails(VerificationError, "ETH.solvency.bin", path, bundle)
    report = exc.report  # type: ignore[attr-defined]
    assert report.entries[0].ok and report.entries[1].checks[-1].name == "solvency proof"


def test_tampered_bundle_file_is_malformed(made: MadeBundle, bundle: Path, tmp_path: Path) -> None:
    data = bytearray((bundle / "ETH.rangeproofs.bin").read_bytes())
    data[40] ^= 1
    (bundle / "ETH.rangeproofs.bin").write_bytes(bytes(data))
    _fails(FormatError, "ETH.rangeproofs.bin", _package(made, "user3", tmp_path), bundle)


def _leaf_outside_subgroup(bundle: Path, bad_index: int) -> None:
    def mutate(data: bytearray) -> None:
        lo = 16 + bad_index * LEAF + 32
        data[lo : lo + 48] = bytes([0x80]) + bytes(47)  # x = 0: on the curve, not in the subgroup

    rewrite_file(bundle, "BTC.leaves.bin", mutate)


def test_non_subgroup_leaf_in_own_chunk_is_malformed(made: MadeBundle, bundle: Path, tmp_path: Path) -> None:
    """Leaves of the customer's own chunk enter a proof check, so they get the full subgroup check."""
    customer = next(c for c, p in made.packages.items() if p["entries"][0]["asset"] == "BTC")
    entry = made.packages[customer]["entries"][0]
    manifest = json.loads((bundle / "manifest.json").read_text())
    chunk = next(a["chunk_size"] for a in manifest["assets"] if a["symbol"] == "BTC")
    start = entry["leaf_index"] // chunk * chunk
    bad_index = next(i for i in range(start, start + chunk) if i != entry["leaf_index"])
    _leaf_outside_subgroup(bundle, bad_index)
    path = _package(made, customer, tmp_path)
    _repoint(path, bundle)
    exc = _fails(FormatError, f"BTC.leaves.bin record {bad_index}", path, bundle)
    assert "subgroup" in str(exc)


def test_non_subgroup_leaf_elsewhere_fails_the_check_and_full_verify_names_it(
    made: MadeBundle, bundle: Path, tmp_path: Path
) -> None:
    """The default check validates every leaf as `verify_bundle` does and names the exact malformed record;
    the quick --own-chunk-only check only sums leaves outside the own chunk, and still fails (root and sum
    no longer match the manifest)."""
    from verifier.bundle import verify_bundle

    customer = next(c for c, p in made.packages.items() if p["entries"][0]["asset"] == "BTC")
    entry = made.packages[customer]["entries"][0]
    manifest = json.loads((bundle / "manifest.json").read_text())
    chunk = next(a["chunk_size"] for a in manifest["assets"] if a["symbol"] == "BTC")
    n = entry["leaf_count"]
    start = entry["leaf_index"] // chunk * chunk
    bad_index = next(i for i in range(n) if not start <= i < start + chunk)
    _leaf_outside_subgroup(bundle, bad_index)
    path = _package(made, customer, tmp_path)
    _repoint(path, bundle)
    with pytest.raises(FormatError) as default:
        check_package(path, bundle)
    assert default.value.section == f"BTC.leaves.bin record {bad_index}"
    with pytest.raises(ProofError) as info:
        check_package(path, bundle, own_chunk_only=True)
    assert info.value.section is not None and info.value.section.startswith("BTC.leaves.bin")
    with pytest.raises(FormatError) as full:
        verify_bundle(bundle)
    assert full.value.section == f"BTC.leaves.bin record {bad_index}"


def test_real_writer_packages_check(tmp_path: Path) -> None:
    from prover.bundle import ProveOptions, write_bundle
    from prover.ledger import load_ledger
    from prover.reserves import load_reserves

    (tmp_path / "reserves.json").write_text(
        json.dumps(
            {
                "exchange": "Writer Test",
                "round": "r1",
                "assets": [{"symbol": "BTC", "decimals": 8, "reserves": "50"}],
            }
        )
    )
    rows = ["customer_id,asset,amount", *[f"alice{i},BTC,{i}.1" for i in range(6)]]
    (tmp_path / "ledger.csv").write_text("\n".join(rows) + "\n")
    spec = load_reserves(tmp_path / "reserves.json")
    result = write_bundle(
        load_ledger(tmp_path / "ledger.csv", spec),
        spec,
        bytes(32),
        tmp_path / "bundle",
        tmp_path / "packages",
        ProveOptions(chunk=2, jobs=1),
    )
    packages = sorted(p for p in result.packages_dir.glob("*.json") if p.name != "run.json")
    assert len(packages) == 6
    for package in packages[:3]:
        report = check_package(package, result.bundle_dir)
        assert report.ok and report.entries[0].asset == "BTC"
    # And a package of this round against a bundle of another (made by the factory) is refused.
    other = make_bundle(tmp_path / "other", [AssetSpec("BTC", {"x": 1}, reserves=5, chunk=1)])
    _fails(VerificationError, "package.bundle_digest", packages[0], other.path)
    resign(other.path, load_manifest(other.path))
