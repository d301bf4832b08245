"""``solvency check`` of a format-3 package against a format-4 bundle: the margin account (docs/FORMAT.md §14.6).

The bundle (``margin_fixture``) has three assets and four records of two slots: carol borrows USDT against
BTC (two real slots), dave borrows ETH against ETH (one real slot and a padding slot in BTC, an asset he
has no entry in), and two dummy accounts. Every field of the package's margin entry is tampered with, and
the bundle's margin files as a check reads them (by offset, never hashed), with the exact error class and
section asserted; honest checks and a selection of failures run on both curve backends.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from margin_fixture import (
    HEADER,
    Made,
    MarginAccount,
    MarginAsset,
    default_spec,
    load_manifest,
    make_margin_bundle,
    record_offset,
    rewrite_manifest,
    slot_offset,
)
from typer.testing import CliRunner

from circuits.backends import get_backend
from circuits.datafiles import range_record_size
from circuits.errors import FormatError, ProofError, VerificationError
from circuits.generators import PedersenGens
from circuits.margin import Tier
from cli.main import app
from verifier.package import check_package

runner = CliRunner()
PC = PedersenGens.default(get_backend("fast"))
OTHER_POINT = PC.commit(12345, 678).to_bytes()
IDENTITY = bytes([0xC0]) + bytes(47)
RECORDS = "margin.records.bin"
PROOFS = "margin.proofs.bin"


def check_spec() -> Any:
    spec = default_spec()
    btc, usdt = spec.assets
    eth = MarginAsset("ETH", 9, reserves=20_000_000_000, price=300_000, haircuts=((Tier(None, 80),),))
    spec.assets = (btc, eth, usdt)
    spec.spot = {**spec.spot, "ETH": {"bob": 1_000_000_000}}
    spec.accounts = (
        *spec.accounts,
        MarginAccount("dave", {"ETH": (10_000_000_000, 500_000_000, (1_000_000_000,))}),
    )
    spec.records = 4
    return spec


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory) -> Made:
    return make_margin_bundle(tmp_path_factory.mktemp("v4check") / "bundle", check_spec())


@pytest.fixture
def bundle(honest: Made, tmp_path: Path) -> Path:
    dst = tmp_path / "bundle"
    shutil.copytree(honest.path, dst)
    return dst


def package_file(made: Made, customer: str, tmp: Path, mutate: Callable[[dict[str, Any]], None] | None = None) -> Path:
    package = json.loads(json.dumps(made.packages[customer]))
    if mutate is not None:
        mutate(package)
    path = tmp / f"{customer}.json"
    path.write_text(json.dumps(package))
    return path


def rejected(package: Path, bundle: Path | None, cls: type[ProofError], section: str, backend: str = "fast",
             customer: str | None = None) -> ProofError:
    with pytest.raises(ProofError) as info:
        check_package(package, bundle, backend=get_backend(backend), customer_id=customer)
    exc = info.value
    assert type(exc) is cls, exc
    assert exc.section == section, exc
    return exc


def patch_file(path: Path, offset: int, new: bytes) -> None:
    """Change bytes of a data file WITHOUT re-signing: the customer check reads records by offset, unhashed."""
    data = bytearray(path.read_bytes())
    data[offset : offset + len(new)] = new
    path.write_bytes(bytes(data))


def follow_digest(bundle: Path, package: Path) -> None:
    """Point the package at the bundle's (re-signed) digest, so the check reaches the tampered part."""
    obj = json.loads(package.read_text())
    obj["bundle_digest"] = load_manifest(bundle)["bundle_digest"]
    package.write_text(json.dumps(obj))


# --- honest checks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["fast", "reference"])
@pytest.mark.parametrize("customer", ["carol", "dave"])
def test_a_margin_customer_passes_on_both_backends(honest: Made, tmp_path: Path, customer: str, backend: str) -> None:
    report = check_package(package_file(honest, customer, tmp_path), honest.path, backend=get_backend(backend),
                           customer_id=customer)
    assert report.status == "pass"
    assert report.margin is not None and report.margin.proofs_checked and report.margin.proofs == 3
    keys = [c.key for c in report.claims]
    assert {"margin_committed", "margin_openings", "margin_condition", "margin_debt_totals"} <= set(keys)
    names = {c.name for c in report.checks if c.passed}
    assert {"margin record id", "margin amounts", "margin parameters", "margin record", "margin slots",
            "margin openings", "margin leaves", "margin proofs"} <= names


def test_a_spot_customer_of_a_v4_bundle_passes(honest: Made, tmp_path: Path) -> None:
    for customer in ("alice", "bob"):
        report = check_package(package_file(honest, customer, tmp_path), honest.path, customer_id=customer)
        assert report.status == "pass" and report.margin is None
        assert not any(c.key.startswith("margin") for c in report.claims)
        solvency = next(c.text for c in report.claims if c.key == "solvency")
        assert "net liabilities C_L - C_D" in solvency


def test_the_verdict_states_what_was_proven_for_the_account(honest: Made, tmp_path: Path) -> None:
    report = check_package(package_file(honest, "carol", tmp_path), honest.path, customer_id="carol")
    text = {c.key: c.text for c in report.claims}
    j = honest.record_index("carol")
    assert f"record {j} of the bundle's 4 margin records" in text["margin_committed"]
    assert honest.manifest["margin"]["root"] in text["margin_committed"]
    assert "debt 1000.000000 USDT" in text["margin_openings"]
    assert "0.10000000 BTC pledged as loan collateral" in text["margin_openings"]
    assert "(9215 in the quote currency" in text["margin_condition"]
    assert "covers the value of your debt (1000, exact)" in text["margin_condition"]
    assert "`solvency verify`" in text["margin_debt_totals"]
    debt_claim = next(c for c in report.claims if c.key == "margin_debt_totals")
    assert not debt_claim.proven


def test_the_padding_slot_leaf_and_its_assets_solvency_are_checked(honest: Made, tmp_path: Path) -> None:
    """dave's padding slot names a zero BTC leaf (read by offset) and BTC's solvency proof is verified."""
    report = check_package(package_file(honest, "dave", tmp_path), honest.path, customer_id="dave")
    checks = {c.name: c.detail for c in report.checks}
    assert "BTC" in checks["margin solvency"]
    assert report.margin is not None
    params = honest.params
    read = dict(report.margin.bytes_read)
    # The group's G = 4 records (dave's and the three others sharing its proofs), one proofs record, and by
    # offset every slot leaf of the group but dave's one real slot (his package entry): 4*2 - 1 leaves.
    assert params.group_size == 4
    assert read.pop(RECORDS) == HEADER + params.group_size * params.record_size
    assert read.pop(PROOFS) == HEADER + params.proofs_record_size
    assert read.pop("BTC.solvency.bin") == HEADER + 1025
    assert set(read) <= {"BTC.leaves.bin", "ETH.leaves.bin", "USDT.leaves.bin"} and "BTC.leaves.bin" in read
    assert all((n - HEADER) % 80 == 0 for n in read.values())
    assert sum((n - HEADER) // 80 for n in read.values()) == params.group_size * params.slots - 1


def test_every_proof_of_the_check_is_one_batch(honest: Made, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import verifier.package_tree

    calls: list[int] = []
    original = verifier.package_tree.verify_batch

    def counting(statements: Any, proofs: Any) -> None:
        calls.append(len(statements))
        original(statements, proofs)

    monkeypatch.setattr(verifier.package_tree, "verify_batch", counting)
    check_package(package_file(honest, "carol", tmp_path), honest.path)
    # one batch: per entry its chunk proof, the node proofs on its path and its solvency proof; then the
    # margin account's 3 parts.
    assert len(calls) == 1 and calls[0] >= 2 * 2 + 3


def test_cli_check_text_and_json(honest: Made, tmp_path: Path) -> None:
    path = package_file(honest, "carol", tmp_path)
    result = runner.invoke(app, ["check", str(path), "--bundle", str(honest.path), "--customer-id", "carol"])
    assert result.exit_code == 0, result.output
    assert "proven: Condition (M) holds for your account" in result.output
    assert "not proven: That each asset's debt commitment C_D" in result.output
    result = runner.invoke(app, ["check", str(path), "--bundle", str(honest.path), "--json"])
    payload = json.loads(result.stdout)
    assert result.exit_code == 0 and payload["margin_checked"] and payload["margin"]["proofs"] == 3


def test_without_the_bundle_the_margin_check_is_partial(honest: Made, tmp_path: Path) -> None:
    report = check_package(package_file(honest, "carol", tmp_path), None)
    assert report.status == "partial" and report.margin is None
    keys = {c.key: c.proven for c in report.claims}
    assert keys["margin_in_package"] is True and keys["margin_unchecked"] is False
    result = runner.invoke(app, ["check", str(package_file(honest, "carol", tmp_path))])
    assert result.exit_code == 6


def test_an_absent_padding_leaves_file_makes_the_check_partial(honest: Made, bundle: Path, tmp_path: Path) -> None:
    (bundle / "BTC.leaves.bin").unlink()
    report = check_package(package_file(honest, "dave", tmp_path), bundle, customer_id="dave")
    assert report.status == "partial" and report.margin_unchecked
    keys = {c.key for c in report.claims}
    assert "margin_proofs_unchecked" in keys and "margin_condition" not in keys
    assert report.to_json()["margin_checked"] is False
    result = runner.invoke(app, ["check", str(package_file(honest, "dave", tmp_path)), "--bundle", str(bundle)])
    assert result.exit_code == 6


# --- the package's margin entry: every field ----------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def m_set(path: str, value: Any) -> Mutation:
    """Set ``package.margin.<path>`` (dots; list indices as numbers)."""

    def mutate(p: dict[str, Any]) -> None:
        obj: Any = p["margin"]
        keys = path.split(".")
        for key in keys[:-1]:
            obj = obj[int(key)] if isinstance(obj, list) else obj[key]
        last = keys[-1]
        if isinstance(obj, list):
            obj[int(last)] = value
        else:
            obj[last] = value

    return mutate


def m_bump(path: str, delta: int = 1) -> Mutation:
    def mutate(p: dict[str, Any]) -> None:
        obj: Any = p["margin"]
        keys = path.split(".")
        for key in keys[:-1]:
            obj = obj[int(key)] if isinstance(obj, list) else obj[key]
        obj[keys[-1]] = str(int(obj[keys[-1]]) + delta)

    return mutate


def m_flip_hex(path: str) -> Mutation:
    def mutate(p: dict[str, Any]) -> None:
        obj: Any = p["margin"]
        keys = path.split(".")
        for key in keys[:-1]:
            obj = obj[int(key)] if isinstance(obj, list) else obj[key]
        last = int(keys[-1]) if isinstance(obj, list) else keys[-1]
        value = obj[last]
        obj[last] = ("1" if value[0] != "1" else "2") + value[1:]

    return mutate


def m_blinding(path: str) -> Mutation:
    return m_set(path, (12345).to_bytes(32, "little").hex())


def _both(*mutations: Mutation) -> Mutation:
    def mutate(p: dict[str, Any]) -> None:
        for m in mutations:
            m(p)

    return mutate


M = "package.margin"
#: carol's slots: 0 BTC (collateral 0.1 BTC), 1 USDT (debt 1000).
CAROL_CASES: list[tuple[str, Mutation, type[ProofError], str]] = [
    ("record_index", lambda p: p["margin"].update(record_index=(p["margin"]["record_index"] + 1) % 4),
     VerificationError, M),
    ("record_index range", m_set("record_index", 4), FormatError, f"{M}.record_index"),
    ("record_count", m_set("record_count", 3), FormatError, f"{M}.record_count"),
    ("record_count path", m_set("record_count", 8), FormatError, f"{M}.merkle_path"),
    ("record_id", m_flip_hex("record_id"), VerificationError, M),
    ("record_id hex", m_set("record_id", "zz" * 32), FormatError, f"{M}.record_id"),
    ("margin_salt", m_flip_hex("margin_salt"), VerificationError, "package.entries[0]"),
    ("merkle_path", m_flip_hex("merkle_path.0"), VerificationError, M),
    ("merkle_path length", lambda p: p["margin"]["merkle_path"].pop(), FormatError, f"{M}.merkle_path"),
    ("slot asset", m_set("slots.0.asset", "ETH"), FormatError, f"{M}.slots[0]"),
    ("slot leaf_index", lambda p: p["margin"]["slots"][0].update(
        leaf_index=(p["margin"]["slots"][0]["leaf_index"] + 1) % 6), FormatError, f"{M}.slots[0]"),
    ("slot dummy", m_set("slots.0.dummy", True), FormatError, f"{M}.slots[0]"),
    ("slot dummy type", m_set("slots.0.dummy", 1), FormatError, f"{M}.slots[0].dummy"),
    ("debt", m_bump("slots.1.debt"), VerificationError, M),
    ("debt range", m_set("slots.1.debt", str(1 << 64)), FormatError, f"{M}.slots[1].debt"),
    ("debt_blinding", m_blinding("slots.1.debt_blinding"), VerificationError, M),
    ("debt_blinding canonical", m_set("slots.1.debt_blinding", "ff" * 32), FormatError,
     f"{M}.slots[1].debt_blinding"),
    ("unpledged", m_bump("slots.0.unpledged"), VerificationError, f"{M}.slots[0]"),
    ("unpledged_blinding", m_blinding("slots.0.unpledged_blinding"), VerificationError, M),
    ("collateral type", m_set("slots.0.collateral.0.type", "margin"), FormatError, f"{M}.slots[1].collateral"),
    ("collateral types", _both(m_set("slots.0.collateral.0.type", "margin"),
                               m_set("slots.1.collateral.0.type", "margin")), VerificationError, M),
    ("collateral amount", m_bump("slots.0.collateral.0.amount"), VerificationError, f"{M}.slots[0]"),
    ("collateral amount and unpledged", _both(m_bump("slots.0.collateral.0.amount", 10_000_000),
                                              m_bump("slots.0.unpledged", -10_000_000)), VerificationError, M),
    ("collateral amount tiny", _both(m_bump("slots.0.collateral.0.amount"), m_bump("slots.0.unpledged", -1)),
     VerificationError, M),
    ("value", m_bump("slots.0.collateral.0.value"), VerificationError, M),
    ("value_blinding", m_blinding("slots.0.collateral.0.value_blinding"), VerificationError, M),
    ("haircut", m_bump("slots.0.collateral.0.haircut"), VerificationError, M),
    ("haircut range", m_set("slots.0.collateral.0.haircut", str(1 << 72)), FormatError,
     f"{M}.slots[0].collateral[0].haircut"),
    ("haircut_blinding", m_blinding("slots.0.collateral.0.haircut_blinding"), VerificationError, M),
    ("lo", m_bump("lo"), VerificationError, M),
    ("lo_blinding", m_blinding("lo_blinding"), VerificationError, M),
    ("extra key", m_set("extra", 1), FormatError, M),
    ("missing key", lambda p: p["margin"].pop("lo"), FormatError, f"{M}.lo"),
    ("too many slots", lambda p: p["margin"]["slots"].append(
        {**p["margin"]["slots"][1], "asset": "ZZZ", "dummy": True, "debt": "0"}), VerificationError, M),
    ("no margin", lambda p: p.update(margin=None), VerificationError, "package.entries[0]"),
    ("entry leaf_salt", lambda p: p["entries"][0].update(leaf_salt="00" * 32), VerificationError,
     "package.entries[0]"),
    ("format 2", lambda p: p.update(format_version=2), FormatError, "package"),
]


@pytest.mark.parametrize(("case", "mutate", "cls", "section"), CAROL_CASES, ids=[c[0] for c in CAROL_CASES])
def test_package_margin_tampering(
    honest: Made, tmp_path: Path, case: str, mutate: Mutation, cls: type[ProofError], section: str
) -> None:
    rejected(package_file(honest, "carol", tmp_path, mutate), honest.path, cls, section)


#: dave's slots: 0 BTC (padding), 1 ETH (debt 0.5 ETH against 1 ETH pledged).
DAVE_CASES: list[tuple[str, Mutation, type[ProofError], str]] = [
    ("padding leaf_index", lambda p: p["margin"]["slots"][0].update(
        leaf_index=(p["margin"]["slots"][0]["leaf_index"] + 1) % 6), VerificationError, M),
    ("padding amounts", m_set("slots.0.debt", "1"), FormatError, f"{M}.slots[0]"),
    ("padding asset", m_set("slots.0.asset", "USDT"), FormatError, f"{M}.slots"),
    ("padding becomes real", m_set("slots.0.dummy", False), FormatError, f"{M}.slots[0]"),
    ("padding debt_blinding", m_blinding("slots.0.debt_blinding"), VerificationError, M),
]


@pytest.mark.parametrize(("case", "mutate", "cls", "section"), DAVE_CASES, ids=[c[0] for c in DAVE_CASES])
def test_package_margin_tampering_of_a_padding_slot(
    honest: Made, tmp_path: Path, case: str, mutate: Mutation, cls: type[ProofError], section: str
) -> None:
    rejected(package_file(honest, "dave", tmp_path, mutate), honest.path, cls, section)


def test_the_package_alone_catches_what_needs_no_bundle(honest: Made, tmp_path: Path) -> None:
    rejected(package_file(honest, "carol", tmp_path, m_flip_hex("record_id")), None, VerificationError, M)
    rejected(package_file(honest, "carol", tmp_path, m_bump("slots.0.unpledged")), None, VerificationError,
             f"{M}.slots[0]")
    # An opening is only compared with the bundle's record: alone, the package still passes (partial).
    report = check_package(package_file(honest, "carol", tmp_path, m_bump("slots.1.debt")), None)
    assert report.status == "partial"


# --- the bundle's margin files as the check reads them --------------------------------------------------------


def test_a_changed_record_point_is_false(honest: Made, bundle: Path, tmp_path: Path) -> None:
    j = honest.record_index("carol")
    patch_file(bundle / RECORDS, record_offset(honest.params, j) + slot_offset(honest.params, 1) + 6, OTHER_POINT)
    rejected(package_file(honest, "carol", tmp_path), bundle, VerificationError, M)


def test_a_record_point_that_does_not_decode_is_malformed(honest: Made, bundle: Path, tmp_path: Path) -> None:
    j = honest.record_index("carol")
    patch_file(bundle / RECORDS, record_offset(honest.params, j) + slot_offset(honest.params, 0) + 54, IDENTITY)
    rejected(package_file(honest, "carol", tmp_path), bundle, FormatError, f"{RECORDS} record {j}")


def test_a_record_of_another_account_is_false(honest: Made, bundle: Path, tmp_path: Path) -> None:
    """carol's record swapped for dave's (both valid records): the id differs."""
    size, params = honest.params.record_size, honest.params
    j, k = honest.record_index("carol"), honest.record_index("dave")
    data = (bundle / RECORDS).read_bytes()
    dave = data[record_offset(params, k) : record_offset(params, k) + size]
    patch_file(bundle / RECORDS, record_offset(params, j), dave)
    rejected(package_file(honest, "carol", tmp_path), bundle, VerificationError, M)


def proof_offset(made: Made, g: int, p: int) -> int:
    """Where part ``p`` of group ``g``'s proofs starts in margin.proofs.bin."""
    return HEADER + g * made.params.proofs_record_size + sum(range_record_size(m) for m in made.params.parts[:p])


def group_of(made: Made, customer: str) -> int:
    return made.record_index(customer) // made.params.group_size


@pytest.mark.parametrize("p", [0, 1, 2])
def test_a_changed_account_proof_is_false(honest: Made, bundle: Path, tmp_path: Path, p: int) -> None:
    assert len(honest.params.parts) == 3
    g = group_of(honest, "carol")
    patch_file(bundle / PROOFS, proof_offset(honest, g, p) + 1, OTHER_POINT)
    rejected(package_file(honest, "carol", tmp_path), bundle, VerificationError, f"{PROOFS} record {g}")


@pytest.mark.parametrize("p", [0, 1, 2])
def test_a_malformed_account_proof_is_malformed(honest: Made, bundle: Path, tmp_path: Path, p: int) -> None:
    g = group_of(honest, "carol")
    patch_file(bundle / PROOFS, proof_offset(honest, g, p), b"\x07")
    rejected(package_file(honest, "carol", tmp_path), bundle, FormatError, f"{PROOFS} record {g}")


def test_a_changed_record_of_the_same_group_breaks_the_proofs(honest: Made, bundle: Path, tmp_path: Path) -> None:
    """carol's proofs cover the value lists of her whole group: dave's record (same group) with another ``W``
    makes her check false at the group's proofs, though her own record and path still hold."""
    params = honest.params
    assert group_of(honest, "carol") == group_of(honest, "dave") == 0
    k = honest.record_index("dave")
    patch_file(bundle / RECORDS, record_offset(params, k) + 32 + 6 + 48, OTHER_POINT)  # slot 0's W
    rejected(package_file(honest, "carol", tmp_path), bundle, VerificationError, f"{PROOFS} record 0")


def test_a_padding_leaf_without_the_margin_leaf_id_is_false(honest: Made, bundle: Path, tmp_path: Path) -> None:
    slot = honest.packages["dave"]["margin"]["slots"][0]
    assert slot["dummy"] and slot["asset"] == "BTC"
    i = slot["leaf_index"]
    patch_file(bundle / "BTC.leaves.bin", HEADER + 80 * i, bytes(32))
    rejected(package_file(honest, "dave", tmp_path), bundle, VerificationError, f"BTC.leaves.bin record {i}")


def test_a_padding_leaf_that_does_not_decode_is_malformed(honest: Made, bundle: Path, tmp_path: Path) -> None:
    i = honest.packages["dave"]["margin"]["slots"][0]["leaf_index"]
    patch_file(bundle / "BTC.leaves.bin", HEADER + 80 * i + 32, IDENTITY)
    rejected(package_file(honest, "dave", tmp_path), bundle, FormatError, f"BTC.leaves.bin record {i}")


def test_a_changed_padding_leaf_point_breaks_the_proofs(honest: Made, bundle: Path, tmp_path: Path) -> None:
    i = honest.packages["dave"]["margin"]["slots"][0]["leaf_index"]
    patch_file(bundle / "BTC.leaves.bin", HEADER + 80 * i + 32, OTHER_POINT)
    g = group_of(honest, "dave")
    rejected(package_file(honest, "dave", tmp_path), bundle, VerificationError, f"{PROOFS} record {g}")


def test_a_padding_assets_solvency_proof_is_checked(honest: Made, bundle: Path, tmp_path: Path) -> None:
    patch_file(bundle / "BTC.solvency.bin", HEADER + 1, OTHER_POINT)
    rejected(package_file(honest, "dave", tmp_path), bundle, VerificationError, "BTC.solvency.bin")


def test_a_missing_records_file_is_malformed(honest: Made, bundle: Path, tmp_path: Path) -> None:
    (bundle / RECORDS).unlink()
    rejected(package_file(honest, "carol", tmp_path), bundle, FormatError, RECORDS)


def test_a_records_file_of_another_size_is_malformed(honest: Made, bundle: Path, tmp_path: Path) -> None:
    with (bundle / PROOFS).open("ab") as f:
        f.write(b"\0")
    rejected(package_file(honest, "carol", tmp_path), bundle, FormatError, PROOFS)


def test_a_package_for_another_bundle_fails(honest: Made, tmp_path: Path) -> None:
    other = make_margin_bundle(tmp_path / "other", replace(check_spec(), seed=b"another round"))
    rejected(package_file(honest, "carol", tmp_path), other.path, VerificationError, "package.bundle_digest")


def test_a_v4_package_against_a_v3_bundle_fails(honest: Made, tmp_path: Path) -> None:
    from bundle_factory import AssetSpec, make_tree_bundle
    from margin_fixture import EXCHANGE, ROUND

    v3 = make_tree_bundle(tmp_path / "v3", [AssetSpec("BTC", {"carol": 1}, reserves=10, chunk=1)],
                          exchange=EXCHANGE, round_label=ROUND)
    digest = v3.manifest["bundle_digest"]
    path = package_file(honest, "carol", tmp_path, lambda p: p.update(bundle_digest=digest))
    rejected(path, v3.path, VerificationError, "package.format_version")


# --- manifest changes the check sees (the package follows the re-signed digest) ----------------------------------


def test_a_changed_margin_root_fails_the_solvency_proofs_that_bind_it(
    honest: Made, bundle: Path, tmp_path: Path
) -> None:
    """The entries' solvency proofs (checked before the margin account, §8.1 order) bind margin.root (§14.5)."""
    rewrite_manifest(bundle, lambda m: m["margin"].update(root="11" * 32))
    path = package_file(honest, "carol", tmp_path)
    follow_digest(bundle, path)
    rejected(path, bundle, VerificationError, "BTC.solvency.bin")


def test_the_solvency_proofs_are_for_the_net_liabilities(honest: Made, bundle: Path, tmp_path: Path) -> None:
    """Another debt_commitment in the manifest: the USDT solvency proof (for C_L - C_D) no longer verifies."""
    rewrite_manifest(bundle, lambda m: m["assets"][2].update(debt_commitment=OTHER_POINT.hex()))
    path = package_file(honest, "carol", tmp_path)
    follow_digest(bundle, path)
    rejected(path, bundle, VerificationError, "USDT.solvency.bin")


def test_a_changed_price_is_caught_by_the_first_proof(honest: Made, bundle: Path, tmp_path: Path) -> None:
    """The price table is bound into every transcript: the first chunk proof the check verifies fails."""
    from test_margin_verify import redigest

    def cheaper(m: dict[str, Any]) -> None:
        m["margin"]["assets"][0]["price"] = "9700001"
        redigest(m)

    rewrite_manifest(bundle, cheaper)
    path = package_file(honest, "carol", tmp_path)
    follow_digest(bundle, path)
    exc = rejected(path, bundle, VerificationError, "BTC.rangeproofs.bin chunk " + str(
        honest.packages["carol"]["entries"][0]["leaf_index"] // 2))
    assert exc.file == "BTC.rangeproofs.bin"


def test_a_disclosed_debt_is_checked(honest: Made, bundle: Path, tmp_path: Path) -> None:
    rewrite_manifest(bundle, lambda m: m["assets"][2].update(disclosed_debt={"amount": "1", "blinding": "00" * 32}))
    path = package_file(honest, "carol", tmp_path)
    follow_digest(bundle, path)
    rejected(path, bundle, VerificationError, "manifest.assets[2].disclosed_debt")


# --- both backends agree -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["fast", "reference"])
def test_both_backends_agree_on_failures(honest: Made, bundle: Path, tmp_path: Path, backend: str) -> None:
    j = group_of(honest, "carol")
    rejected(package_file(honest, "carol", tmp_path, m_bump("slots.1.debt")), honest.path, VerificationError, M,
             backend)
    patch_file(bundle / PROOFS, proof_offset(honest, j, 1) + 1, OTHER_POINT)
    result = runner.invoke(app, ["check", str(package_file(honest, "carol", tmp_path)), "--bundle", str(bundle),
                                 "--json"], env={"SOLVENCY_BACKEND": backend})
    payload = json.loads(result.stdout)
    assert result.exit_code == payload["exit_code"] == 1
    assert payload["failure_section"] == f"{PROOFS} record {j}" and payload["failure_kind"] == "false"
    assert payload["margin_checked"] is False


def test_the_package_never_leaks_into_the_report(honest: Made, tmp_path: Path) -> None:
    report = check_package(package_file(honest, "carol", tmp_path), honest.path)
    text = json.dumps(report.to_json())
    margin = honest.packages["carol"]["margin"]
    for secret in (margin["margin_salt"], margin["lo_blinding"], margin["slots"][0]["debt_blinding"],
                   margin["slots"][0]["collateral"][0]["value_blinding"]):
        assert secret not in text
    assert hashlib.sha256(text.encode()).hexdigest()  # the report is JSON-serialisable


def test_a_format_2_package_against_a_v4_bundle_fails(honest: Made, tmp_path: Path) -> None:
    def downgrade(p: dict[str, Any]) -> None:
        p["format_version"] = 2
        p.pop("margin")

    rejected(package_file(honest, "alice", tmp_path, downgrade), honest.path, VerificationError,
             "package.format_version")
