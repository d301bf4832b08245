r"""The customer check of a format-3 bundle (package format version 2, ``docs/FORMAT.md`` §8.1 "Version 3").

For each entry, alone (:func:`check_entry_alone`): the commitment ``V``, the leaf id, the
chunk's tree hash ``MTH_k`` from the leaf hash and ``chunk_path`` (a tree of ``m``
leaves), and that every ``node_path`` point decodes. The package alone cannot reach
the root (the chunk node's commitment is the sum of the chunk's leaves, which the
package does not hold): without the bundle the check is partial.

With the bundle (:func:`check_entry`), records are read **by offset** and nothing else
(:class:`verifier.reading.RecordFile`: regular file, size and header checked, no
SHA-256): the ``m`` leaf records of chunk ``k``, range proof ``k``, nodes records ``2k``,
every sibling and parent on the chunk's path (:func:`circuits.sumtree.chunk_path`), the
node proof of each parent (record ``split - 1``), and the solvency record, so the check
costs ``O(log N + m)`` whatever the bundle's size. Then, in the order of §8.1:

2. the chunk's records decode, ids increase, record ``leaf_index`` is the customer's;
3. the chunk proof (batched with 6 and 7);
4. record ``2k`` is ``(C_k, H_k)``, the chunk's MTH is the one ``chunk_path`` implies,
   each sibling record is the package's ``node_path`` entry, and each parent record is
   ``(C_self + C_sibling, sum_node_hash)``;
5. the root record is ``(merkle_root, liabilities_commitment)``;
6. each parent's node proof, over its two children's commitments;
7. the solvency proof for ``V_s`` from ``liabilities_commitment``, then a disclosed opening.

The range proofs of every entry (and of a margin account, :mod:`verifier.package_margin`) are
verified in one batch (:func:`verify_pending`); a failure is reported as the lowest item of
that order, and a structural failure of items 4 to 7 only after the earlier entries' proofs
and the chunk proof (item 3) are found true.

If the leaves file is absent or unreadable, items 2 and 3 are skipped: inclusion is
still checked (``MTH_k`` from ``chunk_path``, ``C_k`` from the nodes file), and the caller
marks the run partial. What this proves, and what it leaves to ``solvency verify``:
``docs/THREAT_MODEL.md`` §4.31.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from circuits.datafiles import iter_leaf_records, leaf_id
from circuits.errors import FormatError, ProofError, VerificationError
from circuits.generators import PedersenGens
from circuits.group import Point
from circuits.manifest import AssetEntry, Manifest
from circuits.merkle import leaf_hash, verify_merkle_path
from circuits.package import Package, SumTreeEntry
from circuits.proofs import RangeProof
from circuits.relations import RangeStatement
from circuits.sumtree import chunk_hash, chunk_node_hash, chunk_path, root_index, sum_node_hash
from verifier.batch import BatchVerificationError, verify_batch
from verifier.bundle import solvency_statement
from verifier.range_proof import verify_range
from verifier.reading import (
    OPEN_FLAGS,
    RecordFile,
    decode_chunk_proof,
    decode_leaf,
    decode_node,
    decode_node_proof,
    file_role_names,
    file_roles,
)
from verifier.report import EntryReport, format_units
from verifier.sum_tree import check_node_record, chunk_statement, node_statement

__all__: list[str] = []


def fail_check(
    entry: EntryReport, name: str, message: str, section: str, *, file: str | None = None, field: str | None = None
) -> VerificationError:
    """Record a failed check ``name`` of ``entry`` and return the error to raise."""
    entry.add(name, False, message)
    return VerificationError(f"{section}: {message}", section=section, file=file, field=field)


def _short(digest: bytes) -> str:
    return digest.hex()[:16] + "..."


@dataclass(frozen=True)
class EntryAlone:
    """What step 4 derives from a version-2 package entry alone."""

    #: The chunk's tree hash, from the leaf hash and ``chunk_path``.
    chunk_tree_hash: bytes
    #: The ``node_path`` entries, decoded: ``(commitment, hash)``, chunk level first.
    siblings: tuple[tuple[Point, bytes], ...]


def check_entry_alone(
    package: Package, package_file: str, i: int, entry: SumTreeEntry, V: Point, report: EntryReport,
    margin_leaf: tuple[bytes, bytes] | None = None,
) -> EntryAlone:
    """Step 4 of §8.1 for a version-2 entry: leaf id, ``MTH_k`` from ``chunk_path``, ``node_path`` points.

    ``margin_leaf`` is ``(leaf_id, leaf_salt)`` for the entry of a real slot of the customer's
    margin account (package format 3, §14.6): its leaf carries the record's margin leaf id and
    the margin salt, which are compared instead of §8's leaf id.

    Raises:
        VerificationError: the leaf id is not the hash of round, asset, customer id and salt.
        FormatError: ``chunk_path`` has the wrong length, or a ``node_path`` point or the
            ``liabilities_commitment`` does not decode (section: that field).
    """
    section = f"package.entries[{i}]"
    if margin_leaf is not None:
        if (entry.leaf_id, entry.leaf_salt) != margin_leaf:
            raise fail_check(
                report, "leaf id",
                "the leaf id is not your margin record's leaf id for this asset (or the salt is not your margin "
                "salt)", section, file=package_file, field=f"entries[{i}].leaf_id",
            )
        report.add(
            "leaf id", True,
            f"leaf id {_short(entry.leaf_id)} is your margin record's leaf id for {entry.asset}, which derives from "
            f"your customer id and margin salt",
        )
    elif leaf_id(package.round, entry.asset, package.customer_id, entry.leaf_salt) != entry.leaf_id:
        raise fail_check(
            report, "leaf id", "the leaf id is not the hash of round, asset, customer id and salt", section,
            file=package_file, field=f"entries[{i}].leaf_id",
        )
    else:
        report.add("leaf id", True, f"leaf id {_short(entry.leaf_id)} derives from your customer id and salt")
    m, k = entry.chunk_size, entry.chunk
    h = leaf_hash(entry.leaf_id, entry.leaf_index, V.to_bytes())
    try:
        mth = verify_merkle_path(h, entry.leaf_index - k * m, m, entry.chunk_path)
    except FormatError as exc:
        where = f"{section}.chunk_path"
        report.add("chunk path", False, str(exc))
        raise FormatError(
            f"{where}: {exc}", section=where, file=package_file, field=f"entries[{i}].chunk_path"
        ) from exc
    report.add(
        "chunk path", True,
        f"commitment to {report.amount_display} {entry.asset} at leaf {entry.leaf_index} is position "
        f"{entry.leaf_index - k * m} of chunk {k}, whose tree hash is {_short(mth)}",
    )
    siblings = []
    fields = [(f"node_path[{t}].commitment", item.commitment) for t, item in enumerate(entry.node_path)]
    fields.append(("liabilities_commitment", entry.liabilities_commitment))
    for name, encoding in fields:
        try:
            point = Point.from_bytes(encoding, V.backend)
        except FormatError as exc:
            where = f"{section}.{name}"
            report.add("node path", False, str(exc))
            raise FormatError(
                f"{where}: {exc}", section=where, file=package_file, field=f"entries[{i}].{name}"
            ) from exc
        siblings.append(point)
    report.add("node path", True, f"the {len(entry.node_path)} sibling commitments of your path decode")
    return EntryAlone(mth, tuple((C, item.hash) for C, item in zip(siblings, entry.node_path, strict=False)))


def leaves_absent(path: Path) -> bool:
    """Whether the leaves file is absent or cannot be read (§8.1: the check then ends partial).

    A path that exists but is not a regular file (a symlink, a FIFO) is not "absent": the
    caller opens it with :class:`RecordFile`, which reports it as malformed (§2).
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return True
    if not stat.S_ISREG(mode):
        return False
    try:
        os.close(os.open(path, OPEN_FLAGS))
    except OSError as exc:
        return exc.errno in (errno.EACCES, errno.EPERM, errno.ENOENT, errno.EIO)
    return False


#: One range proof of a check, for the shared batch: ``(section, file, field, statement, proof)``.
ProofItem = tuple[str, str, str, RangeStatement, RangeProof]


@dataclass
class Pending:
    """The range proofs of one part of a customer check (an entry, the margin account), waiting for one batch.

    ``on_fail(error)`` records the failed check (the error is raised after it); ``on_pass()`` records the
    passed checks and runs what §8.1 orders after the proofs (a disclosed opening; it may raise).
    """

    items: list[ProofItem]
    on_fail: Callable[[VerificationError], None]
    on_pass: Callable[[], None]


def verify_pending(pendings: list[Pending]) -> None:
    """Verify every pending proof of ``pendings`` in one batch (:func:`verifier.batch.verify_batch`).

    A failure is reported as the lowest item, in the order of ``pendings`` and of their items
    (§8.1's order); the owner's ``on_fail`` records it. Then each ``on_pass`` runs, in order.
    The list is emptied first, so a second call (while reporting the first one's failure) does nothing.

    Raises:
        VerificationError: a proof is false (section, file and field of its item).
    """
    done = list(pendings)
    pendings.clear()
    owners = [(pending, item) for pending in done for item in pending.items]
    if owners:
        try:
            verify_batch([item[3] for _, item in owners], [item[4] for _, item in owners])
        except BatchVerificationError as exc:
            pos = min(exc.bad_indices)
            pending, (section, file, field, _, _) = owners[pos]
            reason = exc.reasons.get(pos, "the range proof does not verify")
            error = VerificationError(f"{section}: {reason}", section=section, file=file, field=field)
            pending.on_fail(error)
            raise error from None
    for pending in done:
        pending.on_pass()


def _open(bundle: Path, asset: AssetEntry, role: str, files: list[RecordFile]) -> RecordFile:
    """Open the data file of ``role`` (a manifest ``files`` key) as a :class:`RecordFile`; remember it in ``files``."""
    roles = dict(zip(file_role_names(asset), file_roles(asset), strict=True))
    entry, magic, count, size = roles[role]
    f = RecordFile(bundle / entry.name, entry, magic, count, size)
    files.append(f)
    return f


def check_entry(
    bundle: Path,
    manifest: Manifest,
    asset_index: int,
    C_L: Point,
    package_file: str,
    i: int,
    entry: SumTreeEntry,
    V: Point,
    alone: EntryAlone,
    pc_gens: PedersenGens,
    report: EntryReport,
    advance: Callable[[int], None],
    earlier: Callable[[], None],
    C_D: Point | None = None,
) -> tuple[bool, Pending]:
    """Step 6 of §8.1 "Version 3" for entry ``i``; return whether the chunk was checked, and its proofs.

    ``C_L`` is the manifest's decoded ``liabilities_commitment`` of the asset, ``C_D`` its decoded
    ``debt_commitment`` (version 4, §14.5: the solvency statement is for ``C_L - C_D``).
    ``report.bytes_read`` gets the bytes read from each file. The entry's range proofs are
    returned, not verified (:func:`verify_pending` verifies every part of the check in one batch);
    ``earlier()`` verifies the proofs of the parts before this one, and is called before a
    structural failure of this entry is reported (§8.1 order).

    Raises:
        FormatError: a file is not regular, has another size or header, or a record does not decode.
        VerificationError: any comparison or proof of §8.1 fails (section as §8.1 names it).
    """
    asset = manifest.assets[asset_index]
    assert asset.nodes is not None and asset.node_proofs is not None, "a format-3 asset"
    section = f"package.entries[{i}]"
    if asset.chunk_size != entry.chunk_size or asset.liabilities_commitment != entry.liabilities_commitment:
        raise fail_check(
            report, "asset in bundle",
            f"the bundle's {entry.asset} chunk size and liabilities commitment are not the package's",
            section, file=package_file, field=f"entries[{i}].liabilities_commitment",
        )
    report.add("asset in bundle", True, f"the manifest's {entry.asset} chunk size and C_L are the package's")
    files: list[RecordFile] = []
    try:
        leaves = None if leaves_absent(bundle / asset.leaves.name) else _open(bundle, asset, "leaves", files)
        proofs = _open(bundle, asset, "range_proofs", files)
        nodes = _open(bundle, asset, "nodes", files)
        node_proofs = _open(bundle, asset, "node_proofs", files)
        solvency = _open(bundle, asset, "solvency", files)
        report.add("files", True, f"the {entry.asset} files are regular files with the manifest's sizes and headers")
        return _check_records(
            manifest, asset, asset_index, C_L, package_file, i, entry, V, alone, pc_gens, report, advance,
            leaves, proofs, nodes, node_proofs, solvency, earlier, C_D,
        )
    finally:
        for f in files:
            report.bytes_read[f.section] = f.bytes_read
            f.close()


def _check_records(
    manifest: Manifest,
    asset: AssetEntry,
    asset_index: int,
    C_L: Point,
    package_file: str,
    i: int,
    entry: SumTreeEntry,
    V: Point,
    alone: EntryAlone,
    pc_gens: PedersenGens,
    report: EntryReport,
    advance: Callable[[int], None],
    leaves: RecordFile | None,
    proofs: RecordFile,
    nodes: RecordFile,
    node_proofs: RecordFile,
    solvency: RecordFile,
    earlier: Callable[[], None],
    C_D: Point | None,
) -> tuple[bool, Pending]:
    """Items 2 to 7 of §8.1 "Version 3" over the opened files; the proofs are returned for the batch."""
    be = V.backend
    section = f"package.entries[{i}]"
    m, k = asset.chunk_size, entry.chunk
    leaves_section = asset.leaves.name
    items: list[ProofItem] = []

    # 2. the chunk's leaf records; 3. its range proof (parsed now, verified in the batch).
    chunk_C: Point | None = None
    chunk_mth = alone.chunk_tree_hash
    if leaves is not None:
        body = leaves.records(k * m, m)
        expected = entry.leaf_id + V.to_bytes()
        previous_id = b""
        commitments = []
        hashes = []
        total = be.identity()
        for j, lid, encoding in iter_leaf_records(body, k * m):
            where = f"{leaves_section} record {j}"
            if lid <= previous_id:
                report.add("leaf record", False, "leaf ids do not increase")
                raise FormatError(
                    f"{where}: leaf id is not greater than the previous one",
                    section=where, file=leaves_section, field=f"record {j}",
                )
            previous_id = lid
            if j == entry.leaf_index and lid + encoding != expected:
                raise fail_check(
                    report, "leaf record", "the bundle's leaf at your index is not your (leaf id, commitment)",
                    where, file=leaves_section, field=f"record {j}",
                )
            try:
                point = decode_leaf(j, encoding, be, leaves_section)
            except FormatError as exc:
                report.add("leaf record", False, str(exc))
                raise
            commitments.append(point)
            hashes.append(leaf_hash(lid, j, encoding))
            total = be.add(total, point.raw)
        report.add(
            "leaf record", True,
            f"record {entry.leaf_index} of {leaves_section} is your leaf id and commitment; the {m} records of "
            f"chunk {k} decode with increasing ids",
        )
        chunk_C = Point(total, be)
        chunk_mth = chunk_hash(hashes)
        where = f"{asset.range_proofs.name} chunk {k}"
        try:
            chunk_proof = decode_chunk_proof(proofs.record(k), be, asset, k)
        except FormatError as exc:
            report.add("chunk range proof", False, str(exc.__cause__ or exc))
            raise
        statement = chunk_statement(manifest, asset, k).range_statement(commitments)
        items.append((where, asset.range_proofs.name, f"chunk {k}", statement, chunk_proof))

    try:
        node_children = _check_path(
            asset, C_L, package_file, i, entry, alone, report, nodes, section, chunk_C, chunk_mth,
        )
        # 6. the parents' node proofs (parsed now, verified in the batch).
        for split, left, right in node_children:
            try:
                proof = decode_node_proof(node_proofs.record(split - 1), be, asset, split)
            except FormatError as exc:
                report.add("node proofs", False, str(exc.__cause__ or exc))
                raise
            name = node_proofs.section
            statement = node_statement(manifest, asset, split).range_statement(left, right)
            items.append((f"{name}[{split - 1}]", name, f"record {split - 1}", statement, proof))
        # 7. the solvency proof, for V_s from liabilities_commitment.
        name = asset.solvency.name
        try:
            solvency_proof = RangeProof.from_bytes(solvency.record(0), be)
        except FormatError as exc:
            report.add("solvency proof", False, str(exc))
            raise FormatError(f"{name}: {exc}", section=name, file=name) from exc
        solvency_range = solvency_statement(manifest, asset, C_L, C_D).range_statement(pc_gens)
        if solvency_range.commitments[0].is_identity():
            what = "num*C_L" if C_D is None else "num*(C_L - C_D)"
            raise fail_check(
                report, "solvency proof", f"V_s = den*R*B - {what} is the identity", name, file=name
            )
    except ProofError:
        # §8.1 order: the earlier entries' proofs, then a false chunk proof (item 3), before anything after it.
        earlier()
        if leaves is not None:
            chunk_where, chunk_file, chunk_field, statement, chunk_proof = items[0]
            try:
                verify_range(statement, chunk_proof)
            except VerificationError as exc:
                raise fail_check(
                    report, "chunk range proof", f"the range proof of chunk {k} does not verify ({exc})",
                    chunk_where, file=chunk_file, field=chunk_field,
                ) from exc
        raise
    items.append((name, name, "", solvency_range, solvency_proof))

    def on_fail(exc: VerificationError) -> None:
        failed = exc.file
        if leaves is not None and failed == asset.range_proofs.name:
            report.add("chunk range proof", False, str(exc))
        elif failed == node_proofs.section:
            if leaves is not None:
                report.add("chunk range proof", True, f"chunk {k} proves each balance in it is in [0, 2^64)")
            report.add("node proofs", False, str(exc))
        else:
            report.add("solvency proof", False, str(exc))

    def on_pass() -> None:
        advance(1)
        if leaves is not None:
            report.add(
                "chunk range proof", True,
                f"chunk {k} (leaves {k * m}..{k * m + m - 1}) proves each balance in it is in [0, 2^64)",
            )
        report.add(
            "node proofs", True,
            f"the {len(node_children)} node proofs on your path show each child sum is in [0, 2^128)",
        )
        disclosed = [("disclosed_liabilities", asset.disclosed_liabilities, C_L, "C_L")]
        if C_D is not None:
            disclosed.append(("disclosed_debt", asset.disclosed_debt, C_D, "the debt commitment C_D"))
        for key, opening, commitment, what in disclosed:
            if opening is None:
                continue
            amount, blinding = opening
            if pc_gens.commit(amount, blinding) != commitment:
                where = f"manifest.assets[{asset_index}].{key}"
                raise fail_check(
                    report, "solvency proof", f"the disclosed opening does not open {what}", where,
                    file="manifest.json", field=f"assets[{asset_index}].{key}",
                )
        against = "C_L, the root of the sum tree" if C_D is None else (
            "C_L - C_D: the liabilities commitment C_L, the root of the sum tree, less the debt commitment C_D")
        report.add(
            "solvency proof", True,
            f"the solvency proof verifies for reserves {format_units(asset.reserves, asset.decimals)} "
            f"{asset.symbol} against {against}",
        )

    return leaves is not None, Pending(items, on_fail, on_pass)


def _check_path(
    asset: AssetEntry,
    C_L: Point,
    package_file: str,
    i: int,
    entry: SumTreeEntry,
    alone: EntryAlone,
    report: EntryReport,
    nodes: RecordFile,
    section: str,
    chunk_C: Point | None,
    chunk_mth: bytes,
) -> list[tuple[int, Point, Point]]:
    """Items 4 and 5: the chunk node, the path's siblings and parents, the root; return ``(split, left, right)``."""
    k, chunks, nodes_section = entry.chunk, asset.chunk_count, nodes.section
    record = nodes.record(2 * k)
    if chunk_C is not None:
        H_k = chunk_node_hash(chunk_C.to_bytes(), chunk_mth)
        try:
            check_node_record(record, chunk_C, H_k, nodes_section, 2 * k, f"chunk node {k}")
        except ProofError as exc:
            report.add("chunk node", False, str(exc))
            raise
        if chunk_mth != alone.chunk_tree_hash:
            raise fail_check(
                report, "chunk node", "your chunk path does not lead to the tree hash of your chunk's leaves",
                section, file=package_file, field=f"entries[{i}].chunk_path",
            )
        C_self, H_self = chunk_C, H_k
    else:
        try:
            C_self, H_self = decode_node(record, C_L.backend, nodes_section, 2 * k)
        except FormatError as exc:
            report.add("chunk node", False, str(exc))
            raise
        if H_self != chunk_node_hash(C_self.to_bytes(), alone.chunk_tree_hash):
            where = f"{nodes_section}[{2 * k}]"
            raise fail_check(
                report, "chunk node", f"the hash of chunk node {k} does not bind the tree hash your chunk path gives",
                where, file=nodes_section, field=f"record {2 * k}",
            )
    report.add("chunk node", True, f"record {2 * k} of {nodes_section} is chunk node {k} with your leaf in it")

    children: list[tuple[int, Point, Point]] = []
    for t, step in enumerate(chunk_path(chunks, k)):
        try:
            C_sib, H_sib = decode_node(nodes.record(step.sibling), C_L.backend, nodes_section, step.sibling)
        except FormatError as exc:
            report.add("sum tree path", False, str(exc))
            raise
        if (C_sib, H_sib) != alone.siblings[t]:
            raise fail_check(
                report, "sum tree path",
                f"sibling {t} of your path (record {step.sibling}) is not the one your package's node_path lists",
                section, file=package_file, field=f"entries[{i}].node_path[{t}]",
            )
        if step.sibling_is_left:
            (C_left, H_left), (C_right, H_right) = (C_sib, H_sib), (C_self, H_self)
        else:
            (C_left, H_left), (C_right, H_right) = (C_self, H_self), (C_sib, H_sib)
        C_self = C_left + C_right
        H_self = sum_node_hash(C_self.to_bytes(), H_left, H_right)
        try:
            check_node_record(
                nodes.record(step.parent), C_self, H_self, nodes_section, step.parent,
                f"the sum node of split {step.parent_split}",
            )
        except ProofError as exc:
            report.add("sum tree path", False, str(exc))
            raise
        children.append((step.parent_split, C_left, C_right))
    report.add(
        "sum tree path", True,
        f"each of the {len(children)} sum nodes on your path is the sum of its children, and your node_path is "
        f"the bundle's",
    )
    assert (children[-1][0] * 2 - 1 if children else 2 * k) == root_index(chunks), "the path ends at the root"
    if H_self != asset.merkle_root or C_self != C_L:
        part = "hash is not the manifest's merkle_root" if H_self != asset.merkle_root else (
            "commitment is not the manifest's liabilities_commitment")
        raise fail_check(report, "root", f"the root of the sum tree's {part}", nodes_section, file=nodes_section)
    report.add("root", True, f"your path reaches the root {_short(asset.merkle_root)}, which commits to C_L")
    return children
