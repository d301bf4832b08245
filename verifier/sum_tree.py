r"""Full verification of an asset's Merkle sum tree (format version 3, ``docs/FORMAT.md`` §7 steps 3', 4, 4').

One sequential pass over the asset's four record files, chunk by chunk:

* **Step 3'.** The ``m`` leaf records of chunk ``k`` are decoded (canonical, on the curve,
  in the subgroup, not the identity) with their ids strictly increasing; ``C_k`` (their
  sum), ``MTH_k`` and ``H_k`` (``notes/41-sum-tree.md``) are compared with nodes record
  ``2k``. Then every sum node whose subtree ends with chunk ``k`` (children before
  parents, :func:`circuits.sumtree.sum_nodes`) is recomputed, ``C = C_left + C_right``
  and ``H = sum_node_hash(C, H_left, H_right)``, and compared with its record ``2j - 1``.
  Finally the root's hash is compared with ``merkle_root`` and its commitment with
  ``liabilities_commitment``.
* **Step 4.** Chunk ``k``'s range proof, batched (:class:`verifier.batch.ProofBatch`).
* **Step 4'.** The node proof of split ``j`` (record ``j - 1``), for
  :class:`~circuits.statements.NodeStatement` over the children's commitments, which
  step 3' has just recomputed from the leaves and found equal to their records; batched.

The nodes file is in-order (``2k`` a chunk node, ``2j - 1`` the sum node of split ``j``)
and the node proofs in split order, so both are read front to back: when chunk ``k`` is
reached, record ``2k - 1`` and node proof ``k - 1`` (split ``k``) are read and held until
that sum node's right subtree is complete. At most one record per level of the tree is
held, and one subtree per level on the stack: memory is ``O(m + log C)`` plus the
pending batches, never the leaves file nor all leaf hashes. Every file is re-hashed as it
is read (:class:`verifier.reading.RecordReader`), so a file changed since step 2 is
malformed.

Failures are reported in §7 order: a step-3' failure as soon as it is found (the
lowest chunk first), a chunk-proof failure (the lowest chunk) only once step 3' is
complete for the asset, a node-proof failure (the lowest split) after that.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from circuits.datafiles import LEAF_RECORD_SIZE, iter_leaf_records, node_proof_record_size, range_record_size
from circuits.errors import FormatError, VerificationError
from circuits.generators import PedersenGens
from circuits.group import Point
from circuits.manifest import AssetEntry, Manifest
from circuits.merkle import leaf_hash
from circuits.proofs import RangeProof
from circuits.statements import ChunkStatement, NodeStatement
from circuits.sumtree import NODE_RECORD_SIZE, chunk_hash, chunk_node_hash, sum_node_hash, sum_nodes
from verifier.batch import ProofBatch, Where
from verifier.reading import RecordReader, decode_chunk_proof, decode_leaf, decode_node, decode_node_proof
from verifier.report import AssetReport

__all__: list[str] = []


def margin_digest(manifest: Manifest) -> bytes | None:
    """Return the bundle's margin digest (§14.2), bound into every context of version 4; ``None`` before."""
    return None if manifest.margin is None else manifest.margin.digest()


def chunk_statement(manifest: Manifest, asset: AssetEntry, k: int) -> ChunkStatement:
    """Return the statement of chunk ``k`` of ``asset`` as the manifest states it (§3.2; v4: §14.5)."""
    return ChunkStatement(
        exchange=manifest.exchange,
        round=manifest.round,
        symbol=asset.symbol,
        leaf_count=asset.leaf_count,
        chunk_size=asset.chunk_size,
        chunk=k,
        merkle_root=asset.merkle_root,
        margin_digest=margin_digest(manifest),
    )


def node_statement(manifest: Manifest, asset: AssetEntry, split: int) -> NodeStatement:
    """Return the statement of the sum node with split ``split`` of ``asset`` (§3.5; v4: §14.5)."""
    return NodeStatement(
        exchange=manifest.exchange,
        round=manifest.round,
        symbol=asset.symbol,
        leaf_count=asset.leaf_count,
        chunk_size=asset.chunk_size,
        split=split,
        merkle_root=asset.merkle_root,
        margin_digest=margin_digest(manifest),
    )


def chunk_where(asset: AssetEntry) -> Where:
    """Name chunk ``k``'s range proof: ``("<S>.rangeproofs.bin chunk <k>", file, field)``."""
    name = asset.range_proofs.name
    return lambda k: (f"{name} chunk {k}", name, f"chunk {k}")


def node_proof_where(asset: AssetEntry) -> Where:
    """Name the node proof of split ``j``: ``("<S>.nodeproofs.bin[<j-1>]", file, field)``."""
    assert asset.node_proofs is not None, "a format-3 asset"
    name = asset.node_proofs.name
    return lambda j: (f"{name}[{j - 1}]", name, f"record {j - 1}")


def check_node_record(record: bytes, C: Point, H: bytes, section: str, index: int, what: str) -> None:
    """Require nodes record ``index`` to be ``C || H`` (§3.4): malformed if it does not decode, else false.

    Raises:
        FormatError: the record's commitment is not a valid point.
        VerificationError: the record is another commitment or hash (section ``"<S>.nodes.bin[<index>]"``).
    """
    expected = C.to_bytes() + H
    if record == expected:
        return
    recorded, _ = decode_node(record, C.backend, section, index)
    where = f"{section}[{index}]"
    part = "commitment" if recorded != C else "hash"
    raise VerificationError(
        f"{where}: the {part} of {what} is not what {'the leaves' if index % 2 == 0 else 'its children'} imply",
        section=where,
        file=section,
        field=f"record {index}",
    )


def verify_sum_tree(
    bundle: Path,
    manifest: Manifest,
    asset_index: int,
    C_L_manifest: Point,
    pc_gens: PedersenGens,
    report: AssetReport,
    batch_chunks: int,
    advance: Callable[[int], None],
) -> Point:
    """Steps 3', 4 and 4' of §7 for one format-3 asset whose files passed step 2; return ``C_L``.

    Sets ``report``'s ``merkle_root_ok``, ``sum_ok``, ``nodes_ok``, ``range_proofs_ok``
    and ``node_proofs_ok`` as each step passes; ``advance(chunks)`` counts verified chunk proofs.

    Raises:
        FormatError: a leaf, nodes or proof record does not decode, or a file changed since step 2.
        VerificationError: a node differs from what the leaves imply, the root is not the
            manifest's, or a chunk or node proof is false.
    """
    asset = manifest.assets[asset_index]
    assert asset.nodes is not None and asset.node_proofs is not None, "verify_sum_tree is for format-3 assets"
    be = pc_gens.B.backend
    add = be.add
    m, chunks = asset.chunk_size, asset.chunk_count
    leaves_section, nodes_section = asset.leaves.name, asset.nodes.name
    proof_size, node_proof_size = range_record_size(m), node_proof_record_size()
    chunk_batch = ProofBatch(batch_chunks, chunk_where(asset))
    node_batch = ProofBatch(batch_chunks, node_proof_where(asset))
    pending_records: dict[int, bytes] = {}  # split -> nodes record 2j-1, read but not yet compared
    pending_proofs: dict[int, RangeProof] = {}  # split -> parsed node proof, waiting for its right subtree
    stack: list[tuple[Point, bytes]] = []  # completed subtrees not yet combined: (commitment, hash)
    post_order = iter(sum_nodes(chunks))
    node = next(post_order, None)
    previous_id = b""

    with (
        RecordReader(bundle / asset.leaves.name, asset.leaves) as leaves,
        RecordReader(bundle / asset.range_proofs.name, asset.range_proofs) as proofs,
        RecordReader(bundle / asset.nodes.name, asset.nodes) as nodes,
        RecordReader(bundle / asset.node_proofs.name, asset.node_proofs) as node_proofs,
    ):
        for k in range(chunks):
            if k:
                pending_records[k] = nodes.read(NODE_RECORD_SIZE)
                node_record = node_proofs.read(node_proof_size)
                try:
                    pending_proofs[k] = decode_node_proof(node_record, be, asset, k)
                except FormatError as exc:
                    node_batch.fail(k, exc)
            chunk_record = nodes.read(NODE_RECORD_SIZE)

            commitments = []
            hashes = []
            total = be.identity()
            for i, lid, encoding in iter_leaf_records(leaves.read(m * LEAF_RECORD_SIZE), k * m):
                if lid <= previous_id:
                    where = f"{leaves_section} record {i}"
                    raise FormatError(
                        f"{where}: leaf id is not greater than the previous one",
                        section=where,
                        file=leaves_section,
                        field=f"record {i}",
                    )
                previous_id = lid
                V = decode_leaf(i, encoding, be, leaves_section)
                hashes.append(leaf_hash(lid, i, encoding))
                total = add(total, V.raw)
                commitments.append(V)
            C_k = Point(total, be)
            H_k = chunk_node_hash(C_k.to_bytes(), chunk_hash(hashes))
            check_node_record(chunk_record, C_k, H_k, nodes_section, 2 * k, f"chunk node {k}")

            record = proofs.read(proof_size)
            if chunk_batch.failure is None:  # §7 order: the lowest failing chunk, reported after step 3'
                try:
                    proof = decode_chunk_proof(record, be, asset, k)
                except FormatError as exc:
                    chunk_batch.fail(k, exc)
                else:
                    statement = chunk_statement(manifest, asset, k)
                    chunk_batch.add(k, statement.range_statement(commitments), proof)
                    if chunk_batch.full():
                        advance(chunk_batch.flush())

            stack.append((C_k, H_k))
            while node is not None and node.node[0] + node.node[1] == k + 1:
                C_right, H_right = stack.pop()
                C_left, H_left = stack.pop()
                C_node = C_left + C_right
                H_node = sum_node_hash(C_node.to_bytes(), H_left, H_right)
                check_node_record(
                    pending_records.pop(node.split), C_node, H_node, nodes_section, node.index,
                    f"the sum node of split {node.split}",
                )
                node_proof = pending_proofs.pop(node.split, None)
                if node_proof is not None:
                    node_statement_ = node_statement(manifest, asset, node.split)
                    node_batch.add(node.split, node_statement_.range_statement(C_left, C_right), node_proof)
                    if node_batch.full():
                        node_batch.flush()
                stack.append((C_node, H_node))
                node = next(post_order, None)
        advance(chunk_batch.flush())
        node_batch.flush()
        for reader in (leaves, proofs, nodes, node_proofs):
            reader.finish()

    assert len(stack) == 1 and not pending_records and node is None, "the post-order walk covers the tree"
    report.nodes_ok = True
    C_root, H_root = stack[0]
    if H_root != asset.merkle_root:
        raise VerificationError(
            f"{nodes_section}: the root of the sum tree has hash {H_root.hex()}, the manifest's merkle_root is "
            f"{asset.merkle_root.hex()}",
            section=nodes_section,
            file=nodes_section,
        )
    report.merkle_root_ok = True
    if C_root != C_L_manifest:
        raise VerificationError(
            f"{nodes_section}: the root of the sum tree commits to the sum of the leaves, which is not the "
            f"manifest's liabilities_commitment",
            section=nodes_section,
            file=nodes_section,
        )
    report.sum_ok = True
    if chunk_batch.failure is not None:
        raise chunk_batch.failure
    report.range_proofs_ok = True
    if node_batch.failure is not None:
        raise node_batch.failure
    report.node_proofs_ok = True
    return C_root
