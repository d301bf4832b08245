"""The customer check of a format-3 bundle (package format version 2, docs/FORMAT.md §8.1 "Version 3").

The check reads only the records it needs, by offset: this is shown structurally (the bytes read
are exactly the formula's, and garbage written over every other record, without re-signing, does
not change the verdict), never by time. Every package field is tampered with and the exact error
class and section asserted; cheating provers show what the check catches on its own, and what it
leaves to ``solvency verify`` (docs/THREAT_MODEL.md §4.31).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from adversary import CheatTreeAsset, customer_leaf, hidden_negative_tree, sorted_leaves, write_cheat_tree_bundle
from bundle_factory import AssetSpec, MadeBundle, load_manifest, make_bundle, make_tree_bundle, rewrite_file
from typer.testing import CliRunner

from circuits.backends import get_backend
from circuits.errors import FormatError, VerificationError
from circuits.generators import PedersenGens
from cli.main import app
from verifier.bundle import verify_bundle
from verifier.package import check_package

HEADER = 16
NODE = 80
NODE_PROOF = 1121
LEAF = 80
CHUNK_PROOF_M2 = 353 + 96 * 7  # lg(64 * 2) = 7 rounds
SOLVENCY = 1025
OTHER_POINT = PedersenGens.default(get_backend("fast")).commit(5, 6).to_bytes().hex()

#: BTC: 10 leaves in 5 chunks of 2. Chunk 0's path: sibling chunk 1 (record 2) under split 1
#: (record 1); sibling [2, 4) (record 5) under split 2 (record 3); sibling chunk 4 (record 8) under
#: the root, split 4 (record 7). Worked out by hand from docs/FORMAT.md §5.2.
PATH_NODES = {0, 1, 2, 3, 5, 7, 8}
PATH_SPLITS = {1, 2, 4}


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory) -> MadeBundle:
    assets = [
        AssetSpec("BTC", {f"cust-{i:02d}": 1000 + i for i in range(9)}, reserves=100_000, chunk=2, leaf_count=10),
        AssetSpec("ETH", {"cust-00": 7, "cust-01": 9}, reserves=16, chunk=1, leaf_count=3),
    ]
    return make_tree_bundle(tmp_path_factory.mktemp("v3") / "bundle", assets)


@pytest.fixture
def bundle(honest: MadeBundle, tmp_path: Path) -> Path:
    dst = tmp_path / "bundle"
    shutil.copytree(honest.path, dst)
    return dst


def _customer_in_chunk(made: MadeBundle, symbol: str, k: int, m: int) -> str:
    return next(leaf.customer for i, leaf in enumerate(made.leaves[symbol]) if i // m == k and leaf.customer)


@pytest.fixture
def chunk0(honest: MadeBundle) -> str:
    """A BTC customer whose leaf is in chunk 0 (a path of 3 sum nodes)."""
    return _customer_in_chunk(honest, "BTC", 0, 2)


def _package(made: MadeBundle, customer: str, tmp_path: Path, mutate: Callable[[dict[str, Any]], None] | None = None,
             symbol: str = "BTC", resigned: Path | None = None) -> Path:
    """``customer``'s package (``symbol`` only), mutated; for the digest of ``resigned`` if a test re-signed it."""
    package = copy.deepcopy(made.packages[customer])
    if resigned is not None:
        package["bundle_digest"] = load_manifest(resigned)["bundle_digest"]
    package["entries"] = [e for e in package["entries"] if e["asset"] == symbol]
    if mutate is not None:
        mutate(package)
    path = tmp_path / "package.json"
    path.write_text(json.dumps(package))
    return path


def _raises(package: Path, bundle: Path | None, cls: type[Exception], section: str, **kw: Any) -> None:
    with pytest.raises(cls) as info:
        check_package(package, bundle, **kw)
    assert type(info.value) is cls, info.value
    assert info.value.section == section, info.value  # type: ignore[attr-defined]


# --- honest checks ---------------------------------------------------------------------------------


def test_an_honest_customer_check_passes_with_claims_of_the_sum_tree(
    honest: MadeBundle, bundle: Path, chunk0: str, tmp_path: Path
) -> None:
    report = check_package(_package(honest, chunk0, tmp_path), bundle, customer_id=chunk0,
                           published_digest=bytes.fromhex(honest.manifest["bundle_digest"]))
    assert report.status == "pass" and report.scope == "sum-tree" and report.package_format_version == 2
    keys = {c.key for c in report.claims if c.proven}
    assert {"committed", "counted", "range_own_chunk", "sibling_sums", "solvency"} <= keys
    assert "range_all_chunks" not in keys
    limits = {c.key for c in report.claims if not c.proven}
    assert "other_chunks" in limits
    payload = report.to_json()
    assert payload["sum_tree_checked"] and not payload["all_chunk_proofs_checked"] and payload["ok"]


def test_every_entry_of_a_two_asset_package_passes(honest: MadeBundle, bundle: Path, tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    honest.write_package("cust-00", path)
    report = check_package(path, bundle, customer_id="cust-00")
    assert report.status == "pass" and [e.asset for e in report.entries] == ["BTC", "ETH"]


def test_a_one_chunk_tree_has_no_other_chunks_to_leave_out(tmp_path: Path) -> None:
    made = make_tree_bundle(tmp_path / "b", [AssetSpec("BTC", {"solo": 5}, reserves=5, chunk=2, leaf_count=2)])
    report = check_package(made.write_package("solo", tmp_path / "p.json"), made.path)
    assert report.status == "pass"
    assert not [c for c in report.claims if c.key in ("other_chunks", "sibling_sums")]


def test_without_the_bundle_the_check_is_partial(honest: MadeBundle, chunk0: str, tmp_path: Path) -> None:
    report = check_package(_package(honest, chunk0, tmp_path))
    assert report.status == "partial" and report.scope == "package"
    assert [c.key for c in report.claims if c.proven] == ["committed_in_package"]


def test_cli_check_exit_codes(honest: MadeBundle, bundle: Path, chunk0: str, tmp_path: Path) -> None:
    package = str(_package(honest, chunk0, tmp_path))
    full = CliRunner().invoke(app, ["check", package, "--bundle", str(bundle), "--customer-id", chunk0])
    assert full.exit_code == 0, full.output
    alone = CliRunner().invoke(app, ["check", package])
    assert alone.exit_code == 6, alone.output


def test_own_chunk_only_is_ignored_with_a_note(honest: MadeBundle, bundle: Path, chunk0: str, tmp_path: Path) -> None:
    package = _package(honest, chunk0, tmp_path)
    report = check_package(package, bundle, own_chunk_only=True)
    assert report.status == "pass" and report.scope == "sum-tree"
    assert [c.name for c in report.checks] == ["own chunk only"]
    result = CliRunner().invoke(app, ["check", str(package), "--bundle", str(bundle), "--own-chunk-only"])
    assert result.exit_code == 0, result.output
    assert "--own-chunk-only is not needed for a format-3 bundle" in result.output


# --- the cost: O(log N + m) records, shown structurally -----------------------------------------------


def test_the_check_reads_exactly_the_records_of_the_chunk_and_path(
    honest: MadeBundle, bundle: Path, chunk0: str, tmp_path: Path
) -> None:
    report = check_package(_package(honest, chunk0, tmp_path), bundle)
    (entry,) = report.entries
    depth = 3
    assert entry.bytes_read == {
        "BTC.leaves.bin": HEADER + 2 * LEAF,
        "BTC.rangeproofs.bin": HEADER + CHUNK_PROOF_M2,
        "BTC.nodes.bin": HEADER + (2 * depth + 1) * NODE,
        "BTC.nodeproofs.bin": HEADER + depth * NODE_PROOF,
        "BTC.solvency.bin": HEADER + SOLVENCY,
    }


def test_garbage_outside_the_needed_records_is_never_read(
    honest: MadeBundle, bundle: Path, chunk0: str, tmp_path: Path
) -> None:
    """Every record the check does not need is overwritten, without re-signing: the check still passes
    (it neither reads them nor hashes any file), while ``solvency verify`` rejects the bundle."""

    def spoil(name: str, record_size: int, keep: set[int]) -> None:
        data = bytearray((bundle / name).read_bytes())
        count = (len(data) - HEADER) // record_size
        for x in set(range(count)) - keep:
            data[HEADER + x * record_size : HEADER + (x + 1) * record_size] = b"\xee" * record_size
        (bundle / name).write_bytes(bytes(data))

    spoil("BTC.leaves.bin", LEAF, {0, 1})
    spoil("BTC.rangeproofs.bin", CHUNK_PROOF_M2, {0})
    spoil("BTC.nodes.bin", NODE, PATH_NODES)
    spoil("BTC.nodeproofs.bin", NODE_PROOF, {j - 1 for j in PATH_SPLITS})
    report = check_package(_package(honest, chunk0, tmp_path), bundle)
    assert report.status == "pass"
    with pytest.raises(FormatError) as info:
        verify_bundle(bundle)
    assert info.value.section == "BTC.leaves.bin"  # its SHA-256


def test_an_unneeded_record_changed_is_noticed_by_full_verify_only(
    honest: MadeBundle, bundle: Path, chunk0: str, tmp_path: Path
) -> None:
    """An off-path node proof (split 3) spoiled and re-signed: the customer's check cannot see it."""
    at = HEADER + 2 * NODE_PROOF + 193
    rewrite_file(bundle, "BTC.nodeproofs.bin", lambda d: d.__setitem__(at, d[at] ^ 1))
    assert check_package(_package(honest, chunk0, tmp_path, resigned=bundle), bundle).status == "pass"
    with pytest.raises(VerificationError) as info:
        verify_bundle(bundle)
    assert info.value.section == "BTC.nodeproofs.bin[2]"


# --- the leaves file absent ----------------------------------------------------------------------------


def test_without_the_leaves_file_inclusion_is_checked_and_the_run_is_partial(
    honest: MadeBundle, bundle: Path, chunk0: str, tmp_path: Path
) -> None:
    (bundle / "BTC.leaves.bin").unlink()
    package = _package(honest, chunk0, tmp_path)
    report = check_package(package, bundle)
    assert report.ok and report.status == "partial" and report.chunks_unchecked == ["BTC"]
    proven = {c.key for c in report.claims if c.proven}
    assert "committed" in proven and not proven & {"counted", "range_own_chunk", "solvency"}
    assert any(c.key == "chunk_unchecked" and "was NOT checked" in c.text for c in report.claims)
    assert "BTC.leaves.bin" not in report.entries[0].bytes_read
    result = CliRunner().invoke(app, ["check", str(package), "--bundle", str(bundle), "--json"])
    assert result.exit_code == 6 and json.loads(result.stdout)["chunks_unchecked"] == ["BTC"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file of mode 000")
def test_an_unreadable_leaves_file_is_like_an_absent_one(
    honest: MadeBundle, bundle: Path, chunk0: str, tmp_path: Path
) -> None:
    (bundle / "BTC.leaves.bin").chmod(0)
    assert check_package(_package(honest, chunk0, tmp_path), bundle).status == "partial"


def test_a_leaves_symlink_is_malformed_not_absent(
    honest: MadeBundle, bundle: Path, chunk0: str, tmp_path: Path
) -> None:
    target = tmp_path / "elsewhere.bin"
    (bundle / "BTC.leaves.bin").rename(target)
    (bundle / "BTC.leaves.bin").symlink_to(target)
    _raises(_package(honest, chunk0, tmp_path), bundle, FormatError, "BTC.leaves.bin")


def test_without_the_leaves_a_wrong_chunk_path_is_still_caught(
    honest: MadeBundle, bundle: Path, chunk0: str, tmp_path: Path
) -> None:
    (bundle / "BTC.leaves.bin").unlink()
    package = _package(honest, chunk0, tmp_path, lambda p: p["entries"][0]["chunk_path"].__setitem__(0, "00" * 32))
    _raises(package, bundle, VerificationError, "BTC.nodes.bin[0]")


@pytest.mark.parametrize(("name", "size"), [("BTC.nodes.bin", 1), ("BTC.nodeproofs.bin", 1), ("BTC.solvency.bin", 1)])
def test_a_needed_file_of_another_size_is_malformed(
    honest: MadeBundle, bundle: Path, chunk0: str, tmp_path: Path, name: str, size: int
) -> None:
    with (bundle / name).open("ab") as f:
        f.write(b"\0" * size)
    _raises(_package(honest, chunk0, tmp_path), bundle, FormatError, name)


@pytest.mark.parametrize("name", ["BTC.nodes.bin", "BTC.nodeproofs.bin", "BTC.rangeproofs.bin"])
def test_a_needed_file_with_another_header_is_malformed(
    honest: MadeBundle, bundle: Path, chunk0: str, tmp_path: Path, name: str
) -> None:
    data = bytearray((bundle / name).read_bytes())
    data[3] ^= 1
    (bundle / name).write_bytes(bytes(data))
    _raises(_package(honest, chunk0, tmp_path), bundle, FormatError, name)


# --- every package field --------------------------------------------------------------------------------


def _entry(key: str, value: object) -> Callable[[dict[str, Any]], None]:
    return lambda p: p["entries"][0].__setitem__(key, value)


def _path_item(t: int, key: str, value: str) -> Callable[[dict[str, Any]], None]:
    return lambda p: p["entries"][0]["node_path"][t].__setitem__(key, value)


def _top(key: str, value: object) -> Callable[[dict[str, Any]], None]:
    return lambda p: p.__setitem__(key, value)


def _bump_scalar(hexed: str) -> str:
    return ((int.from_bytes(bytes.fromhex(hexed), "little") + 1) % 2**252).to_bytes(32, "little").hex()


Case = tuple[str, Callable[[dict[str, Any]], None], type[Exception], str]


def _package_cases(entry: dict[str, Any]) -> list[Case]:
    i = entry["leaf_index"]
    E = "package.entries[0]"
    cases: list[Case] = [
        ("amount", _entry("amount", str(int(entry["amount"]) + 1)), VerificationError, f"BTC.leaves.bin record {i}"),
        ("blinding", _entry("blinding", _bump_scalar(entry["blinding"])), VerificationError,
         f"BTC.leaves.bin record {i}"),
        ("leaf_salt", _entry("leaf_salt", "00" * 32), VerificationError, E),
        ("leaf_id", _entry("leaf_id", "00" * 32), VerificationError, E),
        ("leaf_index", _entry("leaf_index", i ^ 1), VerificationError, f"BTC.leaves.bin record {i ^ 1}"),
        ("leaf_count", _entry("leaf_count", 20), FormatError, f"{E}.node_path"),
        ("chunk_size", _entry("chunk_size", 1), FormatError, f"{E}.chunk_path"),
        ("merkle_root", _entry("merkle_root", "ab" * 32), VerificationError, E),
        ("decimals", _entry("decimals", 2), VerificationError, E),
        ("asset", _entry("asset", "ETH"), VerificationError, E),
        ("liabilities_commitment", _entry("liabilities_commitment", OTHER_POINT), VerificationError, E),
        ("liabilities_commitment-invalid", _entry("liabilities_commitment", "ff" * 48), FormatError,
         f"{E}.liabilities_commitment"),
        ("chunk_path", lambda p: p["entries"][0]["chunk_path"].__setitem__(0, "00" * 32), VerificationError, E),
        ("node_path-short", lambda p: p["entries"][0]["node_path"].pop(), FormatError, f"{E}.node_path"),
        ("customer_id", _top("customer_id", "someone else"), VerificationError, E),
        ("round", _top("round", "another round"), VerificationError, E),
        ("exchange", _top("exchange", "Another Exchange"), VerificationError, "package.round"),
        ("bundle_digest", _top("bundle_digest", "ab" * 32), VerificationError, "package.bundle_digest"),
        ("format_version", _top("format_version", 1), FormatError, f"{E}.merkle_path"),
    ]
    for t in range(3):
        cases += [
            (f"node_path[{t}].hash", _path_item(t, "hash", "00" * 32), VerificationError, E),
            (f"node_path[{t}].commitment", _path_item(t, "commitment", OTHER_POINT), VerificationError, E),
            (f"node_path[{t}].commitment-invalid", _path_item(t, "commitment", "ff" * 48), FormatError,
             f"{E}.node_path[{t}].commitment"),
        ]
    return cases


CASE_NAMES = [c[0] for c in _package_cases({"leaf_index": 0, "amount": "1", "blinding": "00" * 32})]


@pytest.mark.parametrize("case", CASE_NAMES)
def test_every_package_field_is_checked(honest: MadeBundle, bundle: Path, chunk0: str, tmp_path: Path,
                                        case: str) -> None:
    entry = next(e for e in honest.packages[chunk0]["entries"] if e["asset"] == "BTC")
    _, mutate, cls, section = next(c for c in _package_cases(entry) if c[0] == case)
    _raises(_package(honest, chunk0, tmp_path, mutate), bundle, cls, section)


# --- the bundle's records on the path ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "record", "size", "offset", "cls", "section"),
    [
        ("BTC.nodes.bin", 0, NODE, 60, VerificationError, "BTC.nodes.bin[0]"),  # the chunk node's hash
        ("BTC.nodes.bin", 0, NODE, -1, FormatError, "BTC.nodes.bin[0]"),  # its commitment, not a point
        ("BTC.nodes.bin", 1, NODE, 60, VerificationError, "BTC.nodes.bin[1]"),  # a parent
        ("BTC.nodes.bin", 3, NODE, -1, FormatError, "BTC.nodes.bin[3]"),
        ("BTC.nodes.bin", 7, NODE, 60, VerificationError, "BTC.nodes.bin[7]"),  # the root
        ("BTC.nodes.bin", 2, NODE, 60, VerificationError, "package.entries[0]"),  # a sibling: not the node_path's
        ("BTC.nodes.bin", 5, NODE, -1, FormatError, "BTC.nodes.bin[5]"),  # a sibling that is not a point
        ("BTC.nodeproofs.bin", 0, NODE_PROOF, 200, VerificationError, "BTC.nodeproofs.bin[0]"),
        ("BTC.nodeproofs.bin", 1, NODE_PROOF, 0, FormatError, "BTC.nodeproofs.bin[1]"),  # the version byte
        ("BTC.nodeproofs.bin", 3, NODE_PROOF, 200, VerificationError, "BTC.nodeproofs.bin[3]"),
        ("BTC.rangeproofs.bin", 0, CHUNK_PROOF_M2, 200, VerificationError, "BTC.rangeproofs.bin chunk 0"),
        ("BTC.rangeproofs.bin", 0, CHUNK_PROOF_M2, 0, FormatError, "BTC.rangeproofs.bin chunk 0"),
        ("BTC.solvency.bin", 0, SOLVENCY, 200, VerificationError, "BTC.solvency.bin"),
        ("BTC.solvency.bin", 0, SOLVENCY, 0, FormatError, "BTC.solvency.bin"),
    ],
)
def test_every_record_on_the_path_is_checked(
    honest: MadeBundle, bundle: Path, chunk0: str, tmp_path: Path, name: str, record: int, size: int, offset: int,
    cls: type[Exception], section: str,
) -> None:
    """Offset -1: the record's commitment overwritten with bytes that are no point; 0 of a proof: its version."""
    at = HEADER + record * size + max(offset, 0)

    def mutate(d: bytearray) -> None:
        if offset < 0:
            d[at : at + 48] = b"\xff" * 48
        else:
            d[at] ^= 1 if offset else 0x06

    rewrite_file(bundle, name, mutate)
    _raises(_package(honest, chunk0, tmp_path, resigned=bundle), bundle, cls, section)


def test_a_chunk_proof_failure_is_reported_before_a_node_failure(
    honest: MadeBundle, bundle: Path, chunk0: str, tmp_path: Path
) -> None:
    at = HEADER + 193
    rewrite_file(bundle, "BTC.rangeproofs.bin", lambda d: d.__setitem__(at, d[at] ^ 1))
    at2 = HEADER + 7 * NODE + 60
    rewrite_file(bundle, "BTC.nodes.bin", lambda d: d.__setitem__(at2, d[at2] ^ 1))
    package = _package(honest, chunk0, tmp_path, resigned=bundle)
    _raises(package, bundle, VerificationError, "BTC.rangeproofs.bin chunk 0")


# --- packages and bundles of mismatched versions ------------------------------------------------------------


@pytest.fixture(scope="module")
def v1(tmp_path_factory: pytest.TempPathFactory) -> MadeBundle:
    return make_bundle(tmp_path_factory.mktemp("v1") / "bundle",
                       [AssetSpec("BTC", {"cust-00": 1000}, reserves=1000, chunk=2)])


def test_a_version_1_package_against_a_version_3_bundle_is_false(
    honest: MadeBundle, bundle: Path, v1: MadeBundle, tmp_path: Path
) -> None:
    package = copy.deepcopy(v1.packages["cust-00"])
    package["bundle_digest"] = honest.manifest["bundle_digest"]
    path = tmp_path / "p.json"
    path.write_text(json.dumps(package))
    _raises(path, bundle, VerificationError, "package.format_version")


def test_a_version_2_package_against_a_version_1_bundle_is_false(
    honest: MadeBundle, v1: MadeBundle, tmp_path: Path
) -> None:
    path = _package(honest, "cust-00", tmp_path, _top("bundle_digest", v1.manifest["bundle_digest"]))
    _raises(path, v1.path, VerificationError, "package.format_version")


# --- cheating provers ----------------------------------------------------------------------------------------


def test_a_negative_leaf_hidden_in_the_sibling_chunk_fails_the_customer_check(tmp_path: Path) -> None:
    made = write_cheat_tree_bundle(tmp_path / "b", [hidden_negative_tree()])
    package = tmp_path / "p.json"
    package.write_text(json.dumps(made.package("alice")))
    _raises(package, made.path, VerificationError, "BTC.nodeproofs.bin[0]")
    (made.path / "BTC.leaves.bin").unlink()  # even without the leaves: the node proof is on the path
    _raises(package, made.path, VerificationError, "BTC.nodeproofs.bin[0]")


@pytest.fixture(scope="module")
def off_sum(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Four chunks of 2; the sum node over chunks 2 and 3 (record 5) commits to 1000 instead of 2000."""
    leaves = sorted_leaves([customer_leaf("BTC", f"c{i}", 500) for i in range(8)])
    return write_cheat_tree_bundle(
        tmp_path_factory.mktemp("cheat") / "b",
        [CheatTreeAsset("BTC", leaves, reserves=3000, node_openings={5: (1000, 77)})],
    )


def _cheat_package(made: Any, k: int, tmp_path: Path) -> Path:
    customer = next(c for c, p in made.packages.items() if p["entries"][0]["leaf_index"] // 2 == k)
    path = tmp_path / f"p{k}.json"
    path.write_text(json.dumps(made.package(customer)))
    return path


def test_a_node_that_is_not_the_sum_of_its_children_fails_the_customers_below_it(off_sum: Any, tmp_path: Path) -> None:
    for k in (2, 3):
        _raises(_cheat_package(off_sum, k, tmp_path), off_sum.path, VerificationError, "BTC.nodes.bin[5]")


def test_a_node_that_is_not_the_sum_of_its_children_passes_a_customer_beside_it(off_sum: Any, tmp_path: Path) -> None:
    """The limit of the customer's check (docs/THREAT_MODEL.md §4.31): chunk 0's customer sees record 5 as a
    sibling whose sum is proven non-negative, not as the sum of its leaves. The full verifier catches it."""
    report = check_package(_cheat_package(off_sum, 0, tmp_path), off_sum.path)
    assert report.status == "pass"
    assert any(c.key == "other_chunks" and "nodes off your path" in c.text for c in report.claims)
    with pytest.raises(VerificationError) as info:
        verify_bundle(off_sum.path)
    assert info.value.section == "BTC.nodes.bin[5]"


def test_a_liabilities_commitment_other_than_the_root_fails_the_customer_check(tmp_path: Path) -> None:
    leaves = sorted_leaves([customer_leaf("BTC", f"c{i}", 500) for i in range(4)])
    made = write_cheat_tree_bundle(
        tmp_path / "b", [CheatTreeAsset("BTC", leaves, reserves=1000, liabilities=(1000, 5))]
    )
    _raises(_cheat_package(made, 0, tmp_path), made.path, VerificationError, "BTC.nodes.bin")
