"""Bundles written by a cheating prover (``tests/adversary.py``), rejected by the verifier and the CLI.

Each bundle here is complete and correctly signed: every file size, SHA-256, header,
Merkle root, context and the bundle digest is what the verifier recomputes, and
every proof the statement allows is honest. Only the statement lies: a negative
balance, a liabilities commitment that is not the sum of the leaves, a wrapped
surplus, an omitted customer, a proof replayed from another round, asset or bundle,
a duplicated leaf id, a leaf shown to two customers, leaves moved between chunks
or assets, a balance of ``2^64 + x``, an identity or small-order leaf. Where the
honest prover refuses, the cheater runs the proving algorithm on the wrapped value
(``adversary.forge_range_proof``) and each test asserts which proof was forged.

Every attack runs on both curve backends, through the library (exact exception
class and ``section``) and through ``solvency verify --json`` / ``solvency check
--json`` (exact exit code, ``failure_section`` and ``failure_kind``). Bundles are
built once per module with the fast backend (their bytes do not depend on the
backend) and kept tiny (2-6 leaves, chunks of 2) for the pure-Python backend.

Limits documented here on purpose: an omitted customer, an understated balance and a
leaf moved to another asset give bundles that ``solvency verify`` accepts; only the
customer concerned can catch them, and these tests show that their check does.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from adversary import (
    IDENTITY,
    CheatAsset,
    CheatBundle,
    CheatLeaf,
    customer_leaf,
    dummy_leaf,
    fixed_leaf,
    merkle_path,
    negative,
    read_record,
    replace_record,
    sorted_leaves,
    with_torsion,
    write_cheat_bundle,
)
from bundle_factory import rewrite_manifest
from margin_cases import cli, cli_failure

from circuits.backends import get_backend
from circuits.constants import GROUP_ORDER
from circuits.errors import FormatError, ProofError, VerificationError
from circuits.generators import PedersenGens
from circuits.group import Point
from cli.exit_codes import EXIT_OK
from verifier.bundle import verify_bundle, verify_solvency
from verifier.package import check_package
from verifier.reading import read_manifest
from verifier.report import BundleReport, PackageReport

BACKENDS = ["fast", "reference"]
both_backends = pytest.mark.parametrize("backend_name", BACKENDS)

ROUND_B = "2026-02-28T00:00:00Z"
#: An insolvent asset: liabilities 140 against reserves of 100.
LEDGER = {"alice": 60, "bob": 50, "carol": 30}
RESERVES = 100


# --- helpers ------------------------------------------------------------------------------


def _leaves(
    symbol: str, holdings: dict[str, int], *, pad_to: int = 0, extra: tuple[CheatLeaf, ...] = ()
) -> list[CheatLeaf]:
    leaves = [customer_leaf(symbol, c, v) for c, v in holdings.items()] + list(extra)
    leaves += [dummy_leaf(symbol, j) for j in range(pad_to - len(leaves))]
    return sorted_leaves(leaves)


def _leaf(leaves: list[CheatLeaf], customer: str) -> CheatLeaf:
    return next(leaf for leaf in leaves if leaf.customer == customer)


def rejected(bundle: Path, backend_name: str, exc_type: type[ProofError], section: str) -> ProofError:
    """``verify_bundle`` raises exactly ``exc_type`` at ``section``; ``solvency verify --json`` agrees."""
    with pytest.raises(ProofError) as info:
        verify_bundle(bundle, backend=get_backend(backend_name))
    exc = info.value
    assert type(exc) is exc_type, f"{type(exc).__name__}: {exc}"
    assert exc.section == section, str(exc)
    assert isinstance(exc.report, BundleReport) and exc.report.failure_section == section  # type: ignore[attr-defined]
    cli_failure(*cli(backend_name, "verify", bundle, "--json", "--quiet"), exc_type, section)
    return exc


def accepted(bundle: Path, backend_name: str) -> BundleReport:
    """``verify_bundle`` passes and ``solvency verify --json`` exits 0."""
    report = verify_bundle(bundle, backend=get_backend(backend_name))
    assert report.ok
    code, payload = cli(backend_name, "verify", bundle, "--json", "--quiet")
    assert (code, payload["ok"]) == (EXIT_OK, True), payload
    return report


def _check_args(package: Path, bundle: Path, customer_id: str | None) -> list[object]:
    args: list[object] = ["check", package, "--bundle", bundle, "--json"]
    return args if customer_id is None else [*args, "--customer-id", customer_id]


def check_rejected(
    package: Path,
    bundle: Path,
    backend_name: str,
    exc_type: type[ProofError],
    section: str,
    *,
    customer_id: str | None = None,
) -> ProofError:
    """``check_package`` raises exactly ``exc_type`` at ``section``; ``solvency check --json`` agrees."""
    with pytest.raises(ProofError) as info:
        check_package(package, bundle, backend=get_backend(backend_name), customer_id=customer_id)
    exc = info.value
    assert type(exc) is exc_type, f"{type(exc).__name__}: {exc}"
    assert exc.section == section, str(exc)
    assert isinstance(exc.report, PackageReport) and not exc.report.ok  # type: ignore[attr-defined]
    cli_failure(*cli(backend_name, *_check_args(package, bundle, customer_id)), exc_type, section)
    return exc


def check_accepted(package: Path, bundle: Path, backend_name: str, *, customer_id: str | None = None) -> PackageReport:
    """``check_package`` passes and ``solvency check --json`` exits 0."""
    report = check_package(package, bundle, backend=get_backend(backend_name), customer_id=customer_id)
    assert report.ok
    code, payload = cli(backend_name, *_check_args(package, bundle, customer_id))
    assert (code, payload["ok"]) == (EXIT_OK, True), payload
    return report


def _write(package: dict[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(package))
    return path


def _solvency_proof_alone_verifies(bundle: Path, backend_name: str, **statement: int) -> None:
    """Check the asset-0 solvency proof against the manifest's C_L (fields of ``statement`` replaced)."""
    be = get_backend(backend_name)
    manifest = read_manifest(bundle)
    asset = dataclasses.replace(manifest.assets[0], **statement)
    C_L = Point.from_bytes(asset.liabilities_commitment, be)
    verify_solvency(manifest, asset, C_L, read_record(bundle, asset.solvency.name, 0), PedersenGens.default(be), 0)


# --- 1. a negative balance ------------------------------------------------------------------


@pytest.fixture(scope="module")
def negative_leaf(tmp_path_factory: pytest.TempPathFactory) -> CheatBundle:
    """Insolvent BTC (140 owed, 100 held) with an insider leaf committing to -50."""
    mallory = customer_leaf("BTC", "mallory", negative(50))
    leaves = _leaves("BTC", LEDGER, extra=(mallory,))
    return write_cheat_bundle(tmp_path_factory.mktemp("neg") / "bundle", [CheatAsset("BTC", leaves, RESERVES)])


@both_backends
def test_negative_leaf_hiding_a_debt_fails_its_chunk_proof(
    negative_leaf: CheatBundle, backend_name: str, tmp_path: Path
) -> None:
    """Attack: a leaf commits to -50 (r - 50), so the leaves sum to 90 <= 100 while 140 is owed; the
    solvency proof is honest for that sum. Mechanism: the leaf's chunk range proof, forged on the low 64
    bits of r - 50, does not verify (and neither does the customer check of the leaf's chunk neighbour)."""
    outcome = negative_leaf.assets["BTC"]
    i = outcome.index[customer_leaf("BTC", "mallory", 0).leaf_id]
    k = i // 2
    assert outcome.forged_chunks == [k] and not outcome.solvency_forged
    exc = rejected(negative_leaf.path, backend_name, VerificationError, f"BTC.rangeproofs.bin chunk {k}")
    btc = exc.report.assets[0]  # type: ignore[attr-defined]
    assert btc.merkle_root_ok and btc.sum_ok and not btc.range_proofs_ok and not btc.solvency_ok
    # The solvency proof on its own verifies: only the range proof stands between the debt and a PASS.
    _solvency_proof_alone_verifies(negative_leaf.path, backend_name)
    neighbour = next(c for c, p in negative_leaf.packages.items() if p["entries"][0]["leaf_index"] == i ^ 1)
    package = _write(negative_leaf.package(neighbour), tmp_path / "neighbour.json")
    check_rejected(package, negative_leaf.path, backend_name, VerificationError, f"BTC.rangeproofs.bin chunk {k}")


# --- 2. liabilities above reserves, commitments massaged --------------------------------------


@pytest.fixture(scope="module")
def massaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CheatBundle]:
    """Insolvent BTC (140 owed, 100 held), padded to 4 leaves, massaged five ways."""
    root = tmp_path_factory.mktemp("massaged")
    leaves = _leaves("BTC", LEDGER, pad_to=4)
    bob = _leaf(leaves, "bob")
    blinding_sum = sum(leaf.blinding for leaf in leaves)
    understated = [CheatLeaf(bob.leaf_id, 5, bob.blinding, "bob", bob.salt) if leaf is bob else leaf for leaf in leaves]
    specs = {
        # C_L' commits to 90 (a blinding of the cheater's choice), the solvency proof is honest for C_L'.
        "smaller_total": CheatAsset("BTC", leaves, RESERVES, liabilities=(90, 12345)),
        # C_L' is the sum of every leaf but bob's; the solvency proof is honest for C_L'.
        "leaf_left_out_of_the_sum": CheatAsset(
            "BTC", leaves, RESERVES, liabilities=(140 - 50, blinding_sum - bob.blinding)
        ),
        # Honest C_L (140), the solvency proof forged on the wrapped surplus 100 - 140 mod r.
        "wrapped_surplus": CheatAsset("BTC", leaves, RESERVES),
        # Proof made for reserves of 200 (true there), the manifest states the real 100.
        "proof_for_other_reserves": CheatAsset("BTC", leaves, RESERVES, solvency_reserves=200),
        # Bob's leaf commits to 5 instead of 50 (same blinding): 95 <= 100, every proof honest.
        "understated_leaf": CheatAsset("BTC", understated, RESERVES),
    }
    return {name: write_cheat_bundle(root / name, [spec]) for name, spec in specs.items()}


@both_backends
@pytest.mark.parametrize("case", ["smaller_total", "leaf_left_out_of_the_sum"])
def test_stated_liabilities_not_the_sum_of_the_leaves_is_false(
    massaged: dict[str, CheatBundle], backend_name: str, case: str
) -> None:
    """Attack: the manifest's C_L commits to less than the leaves (a fresh commitment to 90, or the sum
    without bob's leaf), with a solvency proof that is honest and valid for that C_L. Mechanism: the
    verifier sums the leaves itself and compares the sum with the manifest's C_L (false, leaves file)."""
    bundle = massaged[case]
    outcome = bundle.assets["BTC"]
    assert outcome.forged_chunks == [] and not outcome.solvency_forged
    exc = rejected(bundle.path, backend_name, VerificationError, "BTC.leaves.bin")
    assert "C_L" in str(exc)
    btc = exc.report.assets[0]  # type: ignore[attr-defined]
    assert btc.merkle_root_ok and not btc.sum_ok
    _solvency_proof_alone_verifies(bundle.path, backend_name)  # valid for the C_L it was made for


@both_backends
def test_solvency_proof_forged_on_a_wrapped_surplus_is_false(
    massaged: dict[str, CheatBundle], backend_name: str
) -> None:
    """Attack: honest leaves and C_L (140 owed, 100 held); the surplus 100 - 140 wraps to r - 40, which
    the honest prover cannot even encode, so the cheater proves its low 128 bits. Mechanism: V_s is
    recomputed from R and C_L, and r - 40 has no opening in [0, 2^128) (false, solvency file)."""
    bundle = massaged["wrapped_surplus"].path
    outcome = massaged["wrapped_surplus"].assets["BTC"]
    assert outcome.forged_chunks == [] and outcome.solvency_forged
    exc = rejected(bundle, backend_name, VerificationError, "BTC.solvency.bin")
    btc = exc.report.assets[0]  # type: ignore[attr-defined]
    assert btc.merkle_root_ok and btc.sum_ok and btc.range_proofs_ok and not btc.solvency_ok


@both_backends
def test_solvency_proof_made_for_other_reserves_is_false(massaged: dict[str, CheatBundle], backend_name: str) -> None:
    """Attack: an insolvent exchange proves solvency for reserves of 200 (true there) and publishes the
    attested 100. Mechanism: V_s = den*R*B - num*C_L and the solvency context are recomputed from the
    manifest's R (false, solvency file); the same proof verifies against R = 200."""
    bundle = massaged["proof_for_other_reserves"].path
    assert not massaged["proof_for_other_reserves"].assets["BTC"].solvency_forged
    rejected(bundle, backend_name, VerificationError, "BTC.solvency.bin")
    _solvency_proof_alone_verifies(bundle, backend_name, reserves=200)


@both_backends
def test_understated_leaf_passes_verify_and_is_caught_by_its_customer(
    massaged: dict[str, CheatBundle], backend_name: str, tmp_path: Path
) -> None:
    """Attack: bob's leaf commits to 5 instead of 50, so 95 <= 100; every proof is honest, and
    `solvency verify` passes (a documented limit). Mechanism: bob's check recomputes his commitment from
    his real balance, which is not in the tree (false, his package entry); a package stating 5 passes, and
    shows 5, for him to compare with his statement."""
    made = massaged["understated_leaf"]
    accepted(made.path, backend_name)
    lie = made.package("bob")
    assert lie["entries"][0]["amount"] == "5"
    truth = json.loads(json.dumps(lie))
    truth["entries"][0]["amount"] = "50"
    exc = check_rejected(
        _write(truth, tmp_path / "truth.json"), made.path, backend_name, VerificationError, "package.entries[0]"
    )
    assert exc.report.entries[0].checks[-1].name == "merkle path"  # type: ignore[attr-defined]
    report = check_accepted(_write(lie, tmp_path / "lie.json"), made.path, backend_name)
    assert report.entries[0].amount == 5


# --- 3. a customer omitted --------------------------------------------------------------------


FULL = {"alice": 60, "bob": 50, "carol": 30, "dave": 20}


@pytest.fixture(scope="module")
def omission(tmp_path_factory: pytest.TempPathFactory) -> tuple[CheatBundle, CheatBundle]:
    """An honest bundle of the round and one of the same round without carol (padded to 4 leaves)."""
    root = tmp_path_factory.mktemp("omission")
    honest = write_cheat_bundle(root / "honest", [CheatAsset("BTC", _leaves("BTC", FULL), 500)])
    without = {c: v for c, v in FULL.items() if c != "carol"}
    omitting = write_cheat_bundle(root / "omitting", [CheatAsset("BTC", _leaves("BTC", without, pad_to=4), 500)])
    assert "carol" not in omitting.packages and omitting.assets["BTC"].forged_chunks == []
    return honest, omitting


@both_backends
def test_bundle_omitting_a_customer_passes_verify(omission: tuple[CheatBundle, CheatBundle], backend_name: str) -> None:
    """Attack: carol is left out and the bundle is otherwise honest. Mechanism: none in `solvency verify`,
    which passes (a documented limit, docs/FORMAT.md §1): only carol's own check can catch it (below)."""
    accepted(omission[1].path, backend_name)


def _carol_package(case: str, honest: CheatBundle, omitting: CheatBundle) -> dict[str, Any]:
    package = honest.package("carol")
    if case == "honest_package":
        return package
    package["bundle_digest"] = omitting.digest
    if case == "forged_path":
        entry = package["entries"][0]
        slot = omitting.assets["BTC"].index[dummy_leaf("BTC", 0).leaf_id]
        entry["merkle_root"] = omitting.assets["BTC"].root.hex()
        entry["leaf_index"] = slot
        entry["merkle_path"] = [p.hex() for p in merkle_path(omitting.path, "BTC", slot)]
    return package


@both_backends
@pytest.mark.parametrize(
    ("case", "section", "check"),
    [
        ("honest_package", "package.bundle_digest", None),
        ("repointed_digest", "package.entries[0]", "asset in bundle"),
        ("forged_path", "package.entries[0]", "merkle path"),
    ],
)
def test_omitted_customer_catches_the_omission(
    omission: tuple[CheatBundle, CheatBundle],
    backend_name: str,
    case: str,
    section: str,
    check: str | None,
    tmp_path: Path,
) -> None:
    """Attack: carol, left out, is handed her package from the honest bundle of the round; or that package
    re-pointed at the omitting bundle's digest; or also given its root and a dummy leaf's index and path.
    Mechanism: her package names another digest (false, package.bundle_digest); its root is not the
    bundle's ("asset in bundle"); her own commitment and leaf id do not hash up that path ("merkle path")."""
    honest, omitting = omission
    package = _write(_carol_package(case, honest, omitting), tmp_path / "carol.json")
    exc = check_rejected(package, omitting.path, backend_name, VerificationError, section)
    if check is not None:
        assert exc.report.entries[0].checks[-1].name == check  # type: ignore[attr-defined]


# --- 4. proofs replayed from another round, asset or bundle -----------------------------------


@pytest.fixture(scope="module")
def replays(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Bundles A (round A) and B (round B) with byte-identical BTC and ETH leaves, C (round B, another
    exchange) with the same BTC leaves; copies of B with one record taken from elsewhere."""
    root = tmp_path_factory.mktemp("replays")
    leaves = [fixed_leaf(j, v) for j, v in enumerate([5, 7])]

    def assets() -> list[CheatAsset]:
        return [CheatAsset("BTC", leaves, 100), CheatAsset("ETH", leaves, 100)]

    a = write_cheat_bundle(root / "a", assets())
    b = write_cheat_bundle(root / "b", assets(), round_label=ROUND_B)
    c = write_cheat_bundle(root / "c", assets()[:1], round_label=ROUND_B, exchange="Shadow Exchange Ltd")
    # Identical commitments, root and C_L: only the context (round, asset, exchange) differs.
    assert (a.path / "BTC.leaves.bin").read_bytes() == (b.path / "BTC.leaves.bin").read_bytes()
    assert a.assets["BTC"].root == b.assets["BTC"].root == b.assets["ETH"].root == c.assets["BTC"].root
    assert a.assets["BTC"].liabilities == b.assets["BTC"].liabilities == c.assets["BTC"].liabilities
    assert verify_bundle(a.path).ok and verify_bundle(c.path).ok  # each replayed record is valid where it was made
    sources = {
        "chunk_from_round_a": (a.path, "BTC.rangeproofs.bin", 0),
        "chunk_from_asset_eth": (b.path, "ETH.rangeproofs.bin", 0),
        "chunk_from_other_exchange": (c.path, "BTC.rangeproofs.bin", 0),
        "solvency_from_round_a": (a.path, "BTC.solvency.bin", 0),
    }
    out = {}
    for case, (src, name, k) in sources.items():
        dst = root / case
        shutil.copytree(b.path, dst)
        target = "BTC.solvency.bin" if name.endswith("solvency.bin") else "BTC.rangeproofs.bin"
        replace_record(dst, target, k, read_record(src, name, k))
        out[case] = dst
    return out


@both_backends
@pytest.mark.parametrize(
    ("case", "section"),
    [
        ("chunk_from_round_a", "BTC.rangeproofs.bin chunk 0"),
        ("chunk_from_asset_eth", "BTC.rangeproofs.bin chunk 0"),
        ("chunk_from_other_exchange", "BTC.rangeproofs.bin chunk 0"),
        ("solvency_from_round_a", "BTC.solvency.bin"),
    ],
)
def test_proof_replayed_from_another_round_asset_or_bundle_is_false(
    replays: dict[str, Path], backend_name: str, case: str, section: str
) -> None:
    """Attack: round B's bundle reuses round A's chunk proof or solvency proof, ETH's chunk proof, or
    another exchange's proof of the same round, over byte-identical commitments, root and C_L, and the
    manifest is re-signed. Mechanism: the contexts bind exchange, round and symbol (false, the record)."""
    rejected(replays[case], backend_name, VerificationError, section)


# --- 5. duplicated leaf id; one leaf shown to two customers -------------------------------------


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CheatBundle]:
    """``duplicate``: alice's id on two leaves; ``shared``: bob (50, like alice) left out of the bundle."""
    root = tmp_path_factory.mktemp("shared")
    leaves = _leaves("BTC", {"alice": 50, "bob": 50, "carol": 20})
    alice = _leaf(leaves, "alice")
    at = leaves.index(alice) + 1
    twin = CheatLeaf(alice.leaf_id, 0, 777)  # a second record under alice's id, committing to 0
    duplicate = write_cheat_bundle(root / "duplicate", [CheatAsset("BTC", [*leaves[:at], twin, *leaves[at:]], 500)])
    omitting_bob = _leaves("BTC", {"alice": 50, "carol": 20}, pad_to=4)
    return {
        "duplicate": duplicate,
        "shared": write_cheat_bundle(root / "shared", [CheatAsset("BTC", omitting_bob, 500)]),
    }


@both_backends
def test_two_leaves_with_one_id_are_malformed(shared: dict[str, CheatBundle], backend_name: str) -> None:
    """Attack: two records carry alice's leaf id (her real leaf and a twin), with every proof, hash and
    digest recomputed honestly. Mechanism: leaf ids must strictly increase (malformed, the second record)."""
    made = shared["duplicate"]
    outcome = made.assets["BTC"]
    assert outcome.forged_chunks == [] and not outcome.solvency_forged
    second = outcome.index[customer_leaf("BTC", "alice", 0).leaf_id]
    exc = rejected(made.path, backend_name, FormatError, f"BTC.leaves.bin record {second}")
    assert "leaf id" in str(exc)


@both_backends
def test_one_leaf_shown_to_two_customers_fails_the_second_customer(
    shared: dict[str, CheatBundle], backend_name: str, tmp_path: Path
) -> None:
    """Attack (Maxwell-tree style): bob, with alice's balance of 50, is left out and shown alice's leaf:
    his package carries alice's opening, salt, leaf id, index and path. Mechanism: the leaf id is
    SHA256(round, asset, customer id, salt), so bob's id does not give alice's leaf id (false, his entry);
    alice's package verbatim passes on its own but fails `--customer-id bob` (false, package.customer_id)."""
    made = shared["shared"]
    as_bob = made.package("alice")
    as_bob["customer_id"] = "bob"
    exc = check_rejected(
        _write(as_bob, tmp_path / "bob.json"), made.path, backend_name, VerificationError, "package.entries[0]"
    )
    assert exc.report.entries[0].checks[-1].name == "leaf id"  # type: ignore[attr-defined]
    alices = _write(made.package("alice"), tmp_path / "alice.json")
    check_rejected(alices, made.path, backend_name, VerificationError, "package.customer_id", customer_id="bob")


# --- 6 and 10. statement fields edited in the manifest, re-signed ------------------------------


MANIFEST_EDITS: dict[str, tuple[str, object, str]] = {
    "leaf_count_halved": ("leaf_count", 2, "manifest.assets[0].files.leaves.size"),
    "leaf_count_not_a_multiple": ("leaf_count", 3, "manifest.assets[0].leaf_count"),
    "chunk_size_doubled": ("chunk_size", 4, "manifest.assets[0].files.range_proofs.size"),
    "reserves_r_minus_1": ("reserves", str(GROUP_ORDER - 1), "manifest.assets[0].reserves"),
    "ratio_num_2_32": ("min_ratio", {"num": 1 << 32, "den": 1}, "manifest.assets[0].min_ratio.num"),
    "ratio_below_1": ("min_ratio", {"num": 1, "den": 2}, "manifest.assets[0].min_ratio"),
    "ratio_not_in_lowest_terms": ("min_ratio", {"num": 2, "den": 2}, "manifest.assets[0].min_ratio"),
}


@pytest.fixture(scope="module")
def edited(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """A solvent 4-leaf bundle; ``edited(case)`` is a re-signed copy with one manifest field changed."""
    root = tmp_path_factory.mktemp("edited")
    base = write_cheat_bundle(root / "base", [CheatAsset("BTC", _leaves("BTC", FULL), 500)]).path
    made: dict[str, Path] = {}

    def get(case: str) -> Path:
        if case not in made:
            field, value, _ = MANIFEST_EDITS[case]
            shutil.copytree(base, root / case)
            rewrite_manifest(root / case, lambda m: m["assets"][0].__setitem__(field, value))
            made[case] = root / case
        return made[case]

    return get


@both_backends
@pytest.mark.parametrize("case", sorted(MANIFEST_EDITS))
def test_statement_fields_edited_and_resigned_are_malformed(
    edited: Callable[[str], Path], backend_name: str, case: str
) -> None:
    """Attack: the exchange edits its own statement and re-signs: leaf_count or chunk_size (to hide or
    re-cut leaves), reserves of r - 1 (so den*R wraps), a ratio term of 2^32, a ratio below 1 or not in
    lowest terms. Mechanism: the manifest parser bounds every field and derives the file sizes from
    leaf_count and chunk_size, before any curve work (malformed, the field)."""
    rejected(edited(case), backend_name, FormatError, MANIFEST_EDITS[case][2])


# --- 8. a leaf left out of the Merkle tree ------------------------------------------------------


@pytest.fixture(scope="module")
def out_of_tree(tmp_path_factory: pytest.TempPathFactory) -> CheatBundle:
    """Solvent BTC whose manifest root is computed over the leaves without bob's (chunks proved for it)."""
    leaves = _leaves("BTC", FULL)
    tree = [leaf for leaf in leaves if leaf.customer != "bob"]
    spec = CheatAsset("BTC", leaves, 500, tree_leaves=tree)
    return write_cheat_bundle(tmp_path_factory.mktemp("tree") / "bundle", [spec])


@both_backends
def test_leaf_counted_in_the_sum_but_left_out_of_the_tree_is_false(out_of_tree: CheatBundle, backend_name: str) -> None:
    """Attack: bob's leaf is in the leaves file and in C_L, but the published root (which the chunk proofs
    bind, honestly) is over the other leaves. Mechanism: the verifier computes the root and C_L from the
    same leaves in one pass (false, leaves file: Merkle root)."""
    assert out_of_tree.assets["BTC"].forged_chunks == []
    exc = rejected(out_of_tree.path, backend_name, VerificationError, "BTC.leaves.bin")
    assert "Merkle root" in str(exc)
    assert not exc.report.assets[0].merkle_root_ok  # type: ignore[attr-defined]


# --- 9. leaves moved between chunks or assets ---------------------------------------------------


SIX = {"alice": 6, "bob": 5, "carol": 4, "dave": 3, "erin": 2, "frank": 1}


@pytest.fixture(scope="module")
def moved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CheatBundle]:
    """Six leaves in three chunks of two, moved two ways; and a leaf moved from ETH to BTC."""
    root = tmp_path_factory.mktemp("moved")
    leaves = _leaves("BTC", SIX)
    honest = write_cheat_bundle(root / "honest", [CheatAsset("BTC", leaves, 100)])
    three, four = leaves[3], leaves[4]
    swapped = [*leaves]  # commitments of records 3 and 4 exchanged, ids kept in order
    swapped[3] = CheatLeaf(three.leaf_id, four.value, four.blinding)
    swapped[4] = CheatLeaf(four.leaf_id, three.value, three.blinding)
    stale = {0: read_record(honest.path, "BTC.rangeproofs.bin", 0)}
    resorted = [leaves[0], leaves[2], leaves[1], *leaves[3:]]
    btc = _leaves("BTC", {"alice": 60, "bob": 50})
    eth = _leaves("ETH", {"carol": 30, "dave": 40})
    carol = _leaf(eth, "carol")
    return {
        # Re-indexed across chunks 1 and 2, which are re-proved; chunk 0 keeps its old proof.
        "reindexed_stale_chunk": write_cheat_bundle(
            root / "reindexed", [CheatAsset("BTC", swapped, 100, chunk_records=stale)]
        ),
        # Records 1 and 2 exchanged whole (ids out of order), every chunk re-proved.
        "resorted": write_cheat_bundle(root / "resorted", [CheatAsset("BTC", resorted, 100)]),
        # ETH owes 70 against 40: carol's ETH leaf is moved into BTC (owes 140 against 200), all re-proved.
        "asset_move": write_cheat_bundle(
            root / "asset_move",
            [
                CheatAsset("BTC", sorted_leaves([*btc, carol, dummy_leaf("BTC", 0)]), 200),
                CheatAsset("ETH", [leaf for leaf in eth if leaf is not carol], 40, chunk=1),
            ],
        ),
    }


@both_backends
@pytest.mark.parametrize(
    ("case", "exc_type", "section"),
    [
        ("reindexed_stale_chunk", VerificationError, "BTC.rangeproofs.bin chunk 0"),
        ("resorted", FormatError, "BTC.leaves.bin record 2"),
    ],
)
def test_leaves_moved_between_chunks_are_caught(
    moved: dict[str, CheatBundle], backend_name: str, case: str, exc_type: type[ProofError], section: str
) -> None:
    """Attack: leaves move between chunks: either two commitments are exchanged under the same ids
    (chunks 1 and 2) and only the two touched chunks are re-proved, or two whole records are exchanged
    (chunks 0 and 1) and every chunk is re-proved. Mechanism: every chunk context binds the Merkle root,
    which covers every leaf, so untouched chunk 0's old proof, over unchanged commitments, is false for
    the new root; and ids must strictly increase (malformed, the first record out of order)."""
    outcome = moved[case].assets["BTC"]
    assert outcome.forged_chunks == [] and not outcome.solvency_forged
    rejected(moved[case].path, backend_name, exc_type, section)


@both_backends
def test_leaf_moved_to_another_asset_is_caught_by_its_customer(
    moved: dict[str, CheatBundle], backend_name: str, tmp_path: Path
) -> None:
    """Attack: ETH is insolvent (70 owed, 40 held); carol's ETH leaf is moved into BTC (surplus there), and
    every proof is honest, so `solvency verify` passes (a limit). Mechanism: her leaf id binds the asset, so
    a package entry pointing her at the leaf in BTC fails her check (false, her entry: leaf id)."""
    made = moved["asset_move"]
    accepted(made.path, backend_name)
    package = made.package("carol")
    entry = package["entries"][0]
    assert entry["asset"] == "BTC"  # the only place her leaf is
    exc = check_rejected(
        _write(package, tmp_path / "carol.json"), made.path, backend_name, VerificationError, "package.entries[0]"
    )
    assert exc.report.entries[0].checks[-1].name == "leaf id"  # type: ignore[attr-defined]


# --- 10. field wraparound of a balance --------------------------------------------------------------


@pytest.fixture(scope="module")
def wrapped_balance(tmp_path_factory: pytest.TempPathFactory) -> dict[int, CheatBundle]:
    """alice (60) and erin (2^64, or 2^64 + 7) in one chunk; reserves of 2^65 cover them."""
    root = tmp_path_factory.mktemp("wrap")
    return {
        value: write_cheat_bundle(
            root / str(value),
            [CheatAsset("BTC", _leaves("BTC", {"alice": 60, "erin": value}), 1 << 65)],
        )
        for value in (1 << 64, (1 << 64) + 7)
    }


@both_backends
@pytest.mark.parametrize("value", [1 << 64, (1 << 64) + 7], ids=["2^64", "2^64+7"])
def test_balance_of_2_64_or_more_fails_its_chunk_proof(
    wrapped_balance: dict[int, CheatBundle], backend_name: str, value: int
) -> None:
    """Attack: a balance of 2^64 (+ 7), whose low 64 bits are 0 (7): the cheater's best range proof is the
    honest proof of 0 (7) against a commitment to 2^64 (+ 7). Mechanism: the range proof is about the
    committed integer, not its low bits (false, the chunk); the solvency proof is honest and not reached."""
    made = wrapped_balance[value]
    outcome = made.assets["BTC"]
    k = outcome.index[customer_leaf("BTC", "erin", 0).leaf_id] // 2
    assert outcome.forged_chunks == [k] and not outcome.solvency_forged
    rejected(made.path, backend_name, VerificationError, f"BTC.rangeproofs.bin chunk {k}")


# --- 11. identity and small-order leaves -----------------------------------------------------------


def _last_dummy(j: int, *, encoding: bytes | None = None) -> CheatLeaf:
    """A dummy leaf sorting after every customer leaf (id 0xff..), committing to 0."""
    base = dummy_leaf("BTC", j)
    return CheatLeaf(b"\xff" * 31 + bytes([j]), 0, base.blinding, encoding=encoding)


@pytest.fixture(scope="module")
def bad_points(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CheatBundle]:
    """alice and bob in chunk 0; chunk 1 holds two dummies: one the identity, or both with torsion."""
    root = tmp_path_factory.mktemp("points")
    customers = _leaves("BTC", {"alice": 60, "bob": 50})
    identity = [*customers, _last_dummy(0), CheatLeaf(b"\xff" * 32, 0, 0, encoding=IDENTITY)]
    torsion = [*customers, with_torsion(_last_dummy(0), 1), with_torsion(_last_dummy(1), 2)]
    return {
        "identity": write_cheat_bundle(root / "identity", [CheatAsset("BTC", identity, 500)]),
        "torsion": write_cheat_bundle(root / "torsion", [CheatAsset("BTC", torsion, 500)]),
    }


@both_backends
@pytest.mark.parametrize(("case", "record", "why"), [("identity", 3, "identity"), ("torsion", 2, "subgroup")])
def test_identity_or_small_order_leaf_is_malformed(
    bad_points: dict[str, CheatBundle], backend_name: str, case: str, record: int, why: str
) -> None:
    """Attack: a padding leaf is the identity (0 with blinding 0, free padding); or two padding leaves
    carry the order-3 point T and 2T, which cancel, so C_L is the honest sum and in the subgroup; root,
    proofs and digests are recomputed. Mechanism: every leaf is decoded with the subgroup check and the
    identity is refused (malformed, the record)."""
    made = bad_points[case]
    pc = PedersenGens.default(get_backend("fast"))
    honest = [*_leaves("BTC", {"alice": 60, "bob": 50}), _last_dummy(0)]
    if case == "torsion":
        honest.append(_last_dummy(1))
    total = pc.commit(0, 0)
    for leaf in honest:
        total = total + pc.commit(leaf.value, leaf.blinding)
    assert made.assets["BTC"].liabilities == total.to_bytes()  # C_L is the honest, valid sum
    exc = rejected(made.path, backend_name, FormatError, f"BTC.leaves.bin record {record}")
    assert why in str(exc)


@both_backends
def test_small_order_leaves_outside_a_customers_chunk_fail_the_full_check(
    bad_points: dict[str, CheatBundle], backend_name: str, tmp_path: Path
) -> None:
    """The customer check verifies the customer's assets as `solvency verify` does: alice (chunk 0) is told
    that record 2 (chunk 1, order-3 torsion) is malformed. Limit of the quick --own-chunk-only check: it
    decodes leaves outside the customer's chunk without the subgroup check and only compares their sum with
    C_L; T and 2T cancel, so it passes, PARTIAL (not proven: the other chunks). Nothing is gained: those
    leaves enter no proof that check relies on, and it says solvency was NOT checked."""
    made = bad_points["torsion"]
    package = _write(made.package("alice"), tmp_path / "alice.json")
    check_rejected(package, made.path, backend_name, FormatError, "BTC.leaves.bin record 2")
    report = check_package(package, made.path, backend=get_backend(backend_name), own_chunk_only=True)
    assert report.ok and report.status == "partial"
    assert any("NOT checked" in line for line in report.not_proven)
    assert "solvency" not in {c.key for c in report.claims if c.proven}
