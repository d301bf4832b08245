"""Full verification of format-3 bundles (the Merkle sum tree, docs/FORMAT.md §7 steps 3' and 4').

Honest bundles come from the independent writer ``bundle_factory.make_tree_bundle``; cheating ones
from ``adversary.write_cheat_tree_bundle``. Every field of every nodes and node-proofs record is
tampered with, re-signed, and the exact error class and section asserted.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest
from adversary import CheatTreeAsset, customer_leaf, hidden_negative_tree, sorted_leaves, write_cheat_tree_bundle
from bundle_factory import (
    AssetSpec,
    MadeBundle,
    TreeNode,
    make_tree_bundle,
    rewrite_file,
    rewrite_manifest,
    spec_in_order,
    spec_siblings,
    spec_tree,
)
from typer.testing import CliRunner

from circuits.backends import get_backend
from circuits.errors import FormatError, VerificationError
from circuits.generators import PedersenGens
from circuits.limits import NODE_BITS
from circuits.sumtree import chunk_path, node_count, node_index_of, sum_nodes
from cli.main import app
from verifier.bundle import verify_bundle
from verifier.inspect import inspect_bundle

HEADER = 16
NODE = 80
NODE_PROOF = 1121
#: A valid point that is no node's commitment.
OTHER_POINT = PedersenGens.default(get_backend("fast")).commit(12345, 678).to_bytes()


def _assets() -> list[AssetSpec]:
    return [
        AssetSpec("BTC", {f"cust-{i:02d}": 1000 + i for i in range(9)}, reserves=100_000, chunk=2, leaf_count=10),
        AssetSpec("ETH", {"cust-00": 7}, reserves=7, chunk=1, leaf_count=1),
    ]


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory) -> MadeBundle:
    return make_tree_bundle(tmp_path_factory.mktemp("v3") / "bundle", _assets())


@pytest.fixture
def bundle(honest: MadeBundle, tmp_path: Path) -> Path:
    dst = tmp_path / "bundle"
    shutil.copytree(honest.path, dst)
    return dst


def _raises(path: Path, cls: type[Exception], section: str) -> None:
    with pytest.raises(cls) as info:
        verify_bundle(path)
    assert type(info.value) is cls, info.value
    assert info.value.section == section, info.value  # type: ignore[attr-defined]


# --- honest bundles -------------------------------------------------------------------------------


@pytest.mark.parametrize("chunks", [1, 2, 3, 5, 6, 8, 11])
def test_the_factory_numbering_is_the_library_numbering(chunks: int) -> None:
    """The factory's in-order walk and sibling lists (written from FORMAT.md §5.2) agree with circuits.sumtree."""
    pc = PedersenGens.default(get_backend("fast"))
    leaves = [TreeNode(k, 1, 0, 1, b"", bytes([k]) * 32) for k in range(chunks)]
    root = spec_tree(leaves, pc)
    order = spec_in_order(root)
    assert len(order) == node_count(chunks)
    for x, node in enumerate(order):
        assert node_index_of(node.start, node.size) == x
        if node.size > 1:
            assert 2 * node.split - 1 == x
    for k in range(chunks):
        steps = chunk_path(chunks, k)
        assert [node_index_of(n.start, n.size) for n in spec_siblings(root, k)] == [s.sibling for s in steps]
    assert NODE_PROOF == 353 + 96 * ((2 * NODE_BITS).bit_length() - 1)


@pytest.mark.parametrize(("leaves", "chunk"), [(1, 1), (2, 1), (3, 1), (6, 2), (7, 1), (16, 4), (12, 4)])
def test_honest_tree_bundles_of_every_shape_verify(tmp_path: Path, leaves: int, chunk: int) -> None:
    holdings = {f"c{i}": 10 * i + 1 for i in range(min(leaves, 3))}
    made = make_tree_bundle(
        tmp_path / "b", [AssetSpec("BTC", holdings, reserves=10_000, chunk=chunk, leaf_count=leaves)]
    )
    seen: list[tuple[int, int]] = []
    report = verify_bundle(made.path, progress=lambda d, t: seen.append((d, t)))
    assert report.ok and report.format_version == 3
    (asset,) = report.assets
    assert asset.sum_tree and asset.nodes_ok and asset.node_proofs_ok and asset.ok
    assert seen and seen[-1] == (leaves // chunk, leaves // chunk)


def test_the_report_says_the_sum_tree_and_node_proofs_were_checked(bundle: Path) -> None:
    report = verify_bundle(bundle, batch_chunks=2)
    payload = report.to_json()
    assert [(a["sum_tree"], a["nodes_ok"], a["node_proofs_ok"], a["ok"]) for a in payload["assets"]] == [
        (True, True, True, True), (True, True, True, True)
    ]
    assert [a.reserves_basis for a in report.assets] == ["declared", "declared"]
    assert payload["sum_tree_checked"] and payload["reserves_declared"]
    frozen_v1 = verify_bundle(Path(__file__).parent / "vectors" / "bundle_v1")
    assert not frozen_v1.sum_tree_checked and frozen_v1.reserves_declared


def test_cli_verify_of_a_tree_bundle_exits_0(bundle: Path) -> None:
    result = CliRunner().invoke(app, ["verify", str(bundle), "--quiet", "--json"])
    assert result.exit_code == 0, result.output


def test_inspect_lists_the_nodes_and_node_proofs_files(bundle: Path) -> None:
    summary = inspect_bundle(bundle)
    btc = summary["assets"][0]
    assert [f["role"] for f in btc["files"]] == ["leaves", "range_proofs", "solvency", "nodes", "node_proofs"]
    assert btc["sum_tree"] and summary["files_ok"] and summary["format_version"] == 3
    assert [f["size"] for f in btc["files"][3:]] == [HEADER + NODE * 9, HEADER + NODE_PROOF * 4]


# --- step 2: the two new files ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["BTC.nodes.bin", "BTC.nodeproofs.bin", "ETH.nodeproofs.bin"])
def test_a_missing_node_file_is_malformed(bundle: Path, name: str) -> None:
    (bundle / name).unlink()
    _raises(bundle, FormatError, name)


@pytest.mark.parametrize("name", ["BTC.nodes.bin", "BTC.nodeproofs.bin"])
def test_a_changed_node_file_not_resigned_is_malformed(bundle: Path, name: str) -> None:
    data = bytearray((bundle / name).read_bytes())
    data[-1] ^= 1
    (bundle / name).write_bytes(bytes(data))
    _raises(bundle, FormatError, name)


@pytest.mark.parametrize(("name", "offset"), [("BTC.nodes.bin", 0), ("BTC.nodes.bin", 8), ("BTC.nodeproofs.bin", 12)])
def test_a_node_file_header_is_checked(bundle: Path, name: str, offset: int) -> None:
    rewrite_file(bundle, name, lambda d: d.__setitem__(offset, d[offset] ^ 1))
    _raises(bundle, FormatError, name)


# --- step 3': every field of every nodes record ------------------------------------------------------


@pytest.mark.parametrize("x", range(node_count(5)))
@pytest.mark.parametrize("how", ["commitment-invalid", "commitment-other", "hash"])
def test_every_nodes_record_field_is_checked(bundle: Path, x: int, how: str) -> None:
    at = HEADER + x * NODE

    def mutate(d: bytearray) -> None:
        if how == "commitment-invalid":
            d[at : at + 48] = b"\xff" * 48
        elif how == "commitment-other":
            d[at : at + 48] = OTHER_POINT
        else:
            d[at + 48 + 5] ^= 0x40

    rewrite_file(bundle, "BTC.nodes.bin", mutate)
    _raises(bundle, FormatError if how == "commitment-invalid" else VerificationError, f"BTC.nodes.bin[{x}]")


def test_the_one_chunk_tree_root_is_chunk_node_0(bundle: Path) -> None:
    rewrite_file(bundle, "ETH.nodes.bin", lambda d: d.__setitem__(HEADER + 60, d[HEADER + 60] ^ 1))
    _raises(bundle, VerificationError, "ETH.nodes.bin[0]")


def test_swapped_node_records_are_false(bundle: Path) -> None:
    def swap(d: bytearray) -> None:
        a, b = slice(HEADER, HEADER + NODE), slice(HEADER + 2 * NODE, HEADER + 3 * NODE)
        d[a], d[b] = bytes(d[b]), bytes(d[a])

    rewrite_file(bundle, "BTC.nodes.bin", swap)
    _raises(bundle, VerificationError, "BTC.nodes.bin[0]")


def test_a_root_other_than_the_manifest_root_is_false(bundle: Path) -> None:
    rewrite_manifest(bundle, lambda m: m["assets"][0].__setitem__("merkle_root", "ab" * 32))
    _raises(bundle, VerificationError, "BTC.nodes.bin")


def test_a_root_commitment_other_than_the_liabilities_commitment_is_false(bundle: Path) -> None:
    rewrite_manifest(bundle, lambda m: m["assets"][0].__setitem__("liabilities_commitment", OTHER_POINT.hex()))
    _raises(bundle, VerificationError, "BTC.nodes.bin")


def test_a_node_failure_is_reported_before_a_chunk_proof_failure(bundle: Path) -> None:
    rewrite_file(bundle, "BTC.rangeproofs.bin", lambda d: d.__setitem__(HEADER + 200, d[HEADER + 200] ^ 1))
    at = HEADER + 8 * NODE + 70
    rewrite_file(bundle, "BTC.nodes.bin", lambda d: d.__setitem__(at, d[at] ^ 1))
    _raises(bundle, VerificationError, "BTC.nodes.bin[8]")


def test_a_leaf_record_failure_in_a_tree_bundle_names_the_record(bundle: Path) -> None:
    rewrite_file(bundle, "BTC.leaves.bin", lambda d: d.__setitem__(slice(HEADER + 3 * 80 + 32, HEADER + 4 * 80),
                                                                     b"\xff" * 48))
    _raises(bundle, FormatError, "BTC.leaves.bin record 3")


# --- step 4': every field of every node proof ---------------------------------------------------------

#: (field, offset, length, kind): each proof field overwritten with bytes that do not parse
#: (``invalid``) or that parse and are false (``other``).
PROOF_FIELDS = [
    ("version", 0, 1, "invalid"),
    ("A", 1, 48, "invalid"), ("A", 1, 48, "other"),
    ("S", 49, 48, "other"), ("T_1", 97, 48, "invalid"), ("T_2", 145, 48, "other"),
    ("t_x", 193, 32, "invalid"), ("t_x", 193, 32, "other"),
    ("t_x_blinding", 225, 32, "other"), ("e_blinding", 257, 32, "invalid"),
    ("L_0", 289, 48, "other"), ("R_7", 289 + 7 * 96 + 48, 48, "invalid"),
    ("a", 289 + 8 * 96, 32, "other"), ("b", 321 + 8 * 96, 32, "invalid"),
]


@pytest.mark.parametrize("j", range(1, 5))
@pytest.mark.parametrize(("name", "offset", "size", "kind"), PROOF_FIELDS, ids=[f"{f[0]}-{f[3]}" for f in PROOF_FIELDS])
def test_every_node_proof_field_is_checked(bundle: Path, j: int, name: str, offset: int, size: int, kind: str) -> None:
    at = HEADER + (j - 1) * NODE_PROOF + offset

    def mutate(d: bytearray) -> None:
        if kind == "invalid":
            d[at : at + size] = b"\x07" if size == 1 else b"\xff" * size
        elif size == 48:
            d[at : at + size] = OTHER_POINT
        else:
            d[at : at + size] = struct.pack("<Q", 99) + bytes(size - 8)

    rewrite_file(bundle, "BTC.nodeproofs.bin", mutate)
    _raises(bundle, FormatError if kind == "invalid" else VerificationError, f"BTC.nodeproofs.bin[{j - 1}]")


def test_a_node_proof_replayed_from_another_split_is_false(bundle: Path) -> None:
    def replay(d: bytearray) -> None:
        d[HEADER : HEADER + NODE_PROOF] = bytes(d[HEADER + NODE_PROOF : HEADER + 2 * NODE_PROOF])

    rewrite_file(bundle, "BTC.nodeproofs.bin", replay)
    _raises(bundle, VerificationError, "BTC.nodeproofs.bin[0]")


def test_the_lowest_failing_node_proof_is_reported(bundle: Path) -> None:
    """Node proofs complete in post-order (splits 1, 3, 2, 4 for 5 chunks); the lowest split is reported."""
    assert [n.split for n in sum_nodes(5)] == [1, 3, 2, 4]

    def spoil(d: bytearray) -> None:
        for j in (3, 2):
            at = HEADER + (j - 1) * NODE_PROOF + 193
            d[at : at + 32] = struct.pack("<Q", 5) + bytes(24)

    rewrite_file(bundle, "BTC.nodeproofs.bin", spoil)
    for batch in (1, 2, 16):
        with pytest.raises(VerificationError) as info:
            verify_bundle(bundle, batch_chunks=batch)
        assert info.value.section == "BTC.nodeproofs.bin[1]"


def test_a_chunk_proof_failure_is_reported_before_a_node_proof_failure(bundle: Path) -> None:
    rewrite_file(bundle, "BTC.nodeproofs.bin", lambda d: d.__setitem__(HEADER + 200, d[HEADER + 200] ^ 1))
    rewrite_file(bundle, "BTC.rangeproofs.bin",
                 lambda d: d.__setitem__(slice(HEADER + 193, HEADER + 225), struct.pack("<Q", 5) + bytes(24)))
    _raises(bundle, VerificationError, "BTC.rangeproofs.bin chunk 0")


# --- cheating provers -----------------------------------------------------------------------------------


def test_a_negative_leaf_hidden_in_a_sibling_chunk_fails_full_verification(tmp_path: Path) -> None:
    """The chunk beside alice's holds a leaf of -900: its chunk proof and its parent's node proof are forged."""
    made = write_cheat_tree_bundle(tmp_path / "b", [hidden_negative_tree()])
    outcome = made.assets["BTC"]
    assert outcome.forged_nodes == [1] and not outcome.solvency_forged and len(outcome.forged_chunks) == 1
    _raises(made.path, VerificationError, f"BTC.rangeproofs.bin chunk {outcome.forged_chunks[0]}")


def test_a_node_commitment_that_is_not_the_sum_of_its_children_fails_full_verification(tmp_path: Path) -> None:
    leaves = [customer_leaf("BTC", f"c{i}", 500) for i in range(8)]
    made = write_cheat_tree_bundle(
        tmp_path / "b", [CheatTreeAsset("BTC", sorted_leaves(leaves), reserves=3000, node_openings={5: (1000, 77)})]
    )
    assert not made.assets["BTC"].forged_nodes and not made.assets["BTC"].solvency_forged
    _raises(made.path, VerificationError, "BTC.nodes.bin[5]")


def test_a_stated_liabilities_commitment_other_than_the_root_fails(tmp_path: Path) -> None:
    leaves = [customer_leaf("BTC", f"c{i}", 500) for i in range(4)]
    made = write_cheat_tree_bundle(
        tmp_path / "b", [CheatTreeAsset("BTC", sorted_leaves(leaves), reserves=1000, liabilities=(1000, 5))]
    )
    _raises(made.path, VerificationError, "BTC.nodes.bin")
