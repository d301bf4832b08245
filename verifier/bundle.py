r"""Verify a proof bundle (``docs/FORMAT.md`` §7): returns a report or raises.

The procedure, in the order §7 prescribes, reporting the first failure with the
section it concerns:

1. ``manifest.json``: canonical, schema-exact, digest recomputed (:class:`Manifest`).
2. The directory holds exactly the listed files; each has the listed size and
   SHA-256, then the expected header.
3. Per asset, the leaves are streamed one chunk at a time: every commitment is
   decoded with full validation (canonical, on the curve, in the subgroup, not
   the identity), leaf ids strictly increase, and the Merkle root and
   ``C_L = sum_i V_i`` are accumulated and compared with the manifest.
4. Every chunk range proof (§3.2) is checked, ``batch_chunks`` chunks per MSM
   (:mod:`verifier.batch`). The chunk context binds the manifest's Merkle root,
   which step 3 compares with the recomputed root: a proof failure found while
   streaming is held back until the asset's steps 3 are done, so failures are
   reported in §7 order.
5. ``V_s = (den*R)*B - num*C_L`` and the solvency proof (§3.3); a disclosed
   opening of ``C_L`` is checked last.

Format version 4 (margin accounts, §14.5): every context binds the margin digest; the
two margin files are checked in step 2; after steps 3' to 4' of every asset comes the
margin step (:func:`verifier.margin.verify_margin`: records, their tree, the named
leaves, the debt totals ``C_D``, every account's proofs), then step 5 of every asset
for ``V_s = (den*R)*B - num*(C_L - C_D)`` and the disclosed debt and collateral.

Errors: :class:`~circuits.errors.FormatError` for malformed input (manifest,
file set, sizes, digests, headers, encodings, leaf order) and
:class:`~circuits.errors.VerificationError` for well-formed but false content
(Merkle root, ``C_L``, a range or solvency proof, a disclosed opening). Each
carries ``section`` (``"manifest.assets[0].reserves"``, ``"BTC.leaves.bin record
17"``, ``"BTC.rangeproofs.bin chunk 3"``, ``"BTC.solvency.bin"``, ...) and the partial
:class:`~verifier.report.BundleReport` as ``exc.report``.

Memory is bounded by ``batch_chunks`` chunks (their points and proof terms), not by
the bundle: data files are read with ``seek``/``read``, never whole.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from circuits.backends import GroupBackend, get_backend
from circuits.datafiles import (
    LEAF_RECORD_SIZE,
    MAGIC_SOLVENCY,
    SOLVENCY_RECORD_SIZE,
    iter_leaf_records,
    range_record_size,
)
from circuits.errors import FormatError, ParameterError, ProofError, VerificationError
from circuits.generators import PedersenGens
from circuits.group import Point
from circuits.manifest import MANIFEST_NAME, AssetEntry, Manifest
from circuits.merkle import MerkleAccumulator, leaf_hash
from circuits.proofs import RangeProof
from circuits.statements import SolvencyStatement
from verifier.batch import ProofBatch
from verifier.margin import MarginTotals, verify_margin
from verifier.range_proof import verify_range
from verifier.reading import (
    RecordReader,
    check_file,
    check_file_set,
    decode_chunk_proof,
    decode_debts,
    decode_leaf,
    decode_liabilities,
    file_roles,
    margin_file_roles,
    margin_section,
    read_manifest,
    read_small_file,
)
from verifier.report import AssetReport, BundleReport, MarginReport, format_units
from verifier.reserves import verify_reserves
from verifier.sum_tree import chunk_statement, chunk_where, verify_sum_tree

__all__ = ["verify_bundle", "verify_solvency"]

#: ``progress(done_chunks, total_chunks)``.
ProgressCallback = Callable[[int, int], None]


def solvency_statement(
    manifest: Manifest, asset: AssetEntry, C_L: Point, C_D: Point | None = None
) -> SolvencyStatement:
    """Return the solvency statement of ``asset`` for ``C_L`` (§3.3; with a wallet list, its digest and basis).

    Version 4 (§14.5): ``C_D`` is the asset's debt commitment, and the statement binds the
    margin digest and the records' root; ``V_s = (den*R)*B - num*(C_L - C_D)``.
    """
    margin = margin_section(manifest)
    if (margin is None) != (C_D is None):
        raise ParameterError("a debt commitment goes with a margin section (format version 4) exactly")
    return SolvencyStatement(
        exchange=manifest.exchange,
        round=manifest.round,
        symbol=asset.symbol,
        decimals=asset.decimals,
        reserves=asset.reserves,
        num=asset.num,
        den=asset.den,
        leaf_count=asset.leaf_count,
        merkle_root=asset.merkle_root,
        C_L=C_L,
        wallets_sha256=None if manifest.wallets is None else manifest.wallets.sha256,
        reserves_basis=asset.reserves_basis,
        margin_digest=None if margin is None else margin.params.digest(),
        margin_root=None if margin is None else margin.root,
        C_D=C_D,
    )


def verify_solvency(
    manifest: Manifest,
    asset: AssetEntry,
    C_L: Point,
    record: bytes,
    pc_gens: PedersenGens,
    asset_index: int,
    margin: MarginTotals | None = None,
) -> None:
    """Verify an asset's solvency proof (§3.3, §7 step 5) and a disclosed opening of ``C_L``.

    Version 4 (``margin``, the totals of :func:`verifier.margin.verify_margin`): the statement
    is for ``C_L - C_D`` (§14.5), and disclosed debt and collateral openings are checked after
    the disclosed liabilities: ``C_D`` and ``Σ (E_s - W_s)`` of the slots naming the asset.

    Raises:
        FormatError: the proof record does not parse.
        VerificationError: ``V_s`` is the identity, the proof is false, or a
            disclosed opening does not open its commitment.
    """
    be = pc_gens.B.backend
    section = asset.solvency.name
    try:
        proof = RangeProof.from_bytes(record, be)
    except FormatError as exc:
        raise FormatError(f"{section}: {exc}", section=section, file=section) from exc
    C_D = None if margin is None else margin.debt[asset_index]
    statement = solvency_statement(manifest, asset, C_L, C_D)
    range_statement = statement.range_statement(pc_gens)
    if range_statement.commitments[0].is_identity():
        what = "num*C_L" if C_D is None else "num*(C_L - C_D)"
        raise VerificationError(f"{section}: V_s = den*R*B - {what} is the identity", section=section, file=section)
    try:
        verify_range(range_statement, proof)
    except VerificationError as exc:
        raise VerificationError(
            f"{section}: the solvency proof does not verify: reserves {format_units(asset.reserves, asset.decimals)} "
            f"are not proven to be at least {asset.num}/{asset.den} of the liabilities ({exc})",
            section=section,
            file=section,
        ) from exc
    disclosed = [("disclosed_liabilities", asset.disclosed_liabilities, C_L, "C_L")]
    if margin is not None:
        disclosed += [
            ("disclosed_debt", asset.disclosed_debt, margin.debt[asset_index], "the debt commitment C_D"),
            (
                "disclosed_collateral", asset.disclosed_collateral, margin.collateral[asset_index],
                "the pledged collateral (the sum of E - W over the margin slots naming the asset)",
            ),
        ]
    for key, opening, commitment, what in disclosed:
        if opening is None:
            continue
        amount, blinding = opening
        if pc_gens.commit(amount, blinding) != commitment:
            where = f"manifest.assets[{asset_index}].{key}"
            raise VerificationError(
                f"{where}: the disclosed opening does not open {what}",
                section=where,
                file=MANIFEST_NAME,
                field=f"assets[{asset_index}].{key}",
            )


class ChunkProgress:
    """Counts verified chunk proofs over a whole run and reports ``(done, total)`` to a callback."""

    def __init__(self, total: int, callback: ProgressCallback | None) -> None:
        """Start at 0 of ``total`` chunks."""
        self.done = 0
        self.total = total
        self.callback = callback

    def advance(self, chunks: int) -> None:
        """Count ``chunks`` more verified chunks and report the new total."""
        self.done += chunks
        if self.callback is not None and chunks:
            self.callback(self.done, self.total)


#: ``watch[i](leaf_id, encoding)`` is called for leaf record ``i`` as it is streamed.
LeafWatch = Mapping[int, Callable[[bytes, bytes], None]]


def verify_asset(
    bundle: Path,
    manifest: Manifest,
    asset_index: int,
    C_L_manifest: Point,
    pc_gens: PedersenGens,
    report: AssetReport,
    batch_chunks: int = 16,
    progress: ChunkProgress | None = None,
    watch: LeafWatch | None = None,
    solvency: bool = True,
) -> Point:
    """Steps 3-5 of §7 for one asset whose data files passed :func:`verifier.reading.check_file`; return ``C_L``.

    ``solvency=False`` stops before step 5 (version 4 runs the margin step first, §14.5).

    Sets the ``*_ok`` flags of ``report`` as each step passes. ``watch`` lets a
    caller look at chosen leaf records in the same pass (the customer check
    compares its own record): ``watch[i]`` is called with record ``i``'s leaf id and
    commitment bytes right after the record's order check, and may raise (versions 1 and 2 only).

    A format-3 asset (:attr:`AssetEntry.has_sum_tree`) runs steps 3', 4 and 4'
    instead (:func:`verifier.sum_tree.verify_sum_tree`), then step 5.
    """
    progress = progress if progress is not None else ChunkProgress(manifest.assets[asset_index].chunk_count, None)
    watch = watch or {}
    asset = manifest.assets[asset_index]
    if asset.has_sum_tree:
        if watch:
            raise ParameterError("a leaf watch is for the leaf tree of format versions 1 and 2")
        C_L = verify_sum_tree(bundle, manifest, asset_index, C_L_manifest, pc_gens, report, batch_chunks,
                              progress.advance)
        if solvency:
            record = read_small_file(
                bundle / asset.solvency.name, asset.solvency, MAGIC_SOLVENCY, SOLVENCY_RECORD_SIZE
            )
            verify_solvency(manifest, asset, C_L, record, pc_gens, asset_index)
            report.solvency_ok = True
        return C_L
    be = pc_gens.B.backend
    m = asset.chunk_size
    leaves_section = asset.leaves.name
    proof_size = range_record_size(m)
    merkle = MerkleAccumulator()
    total = be.identity()
    add = be.add
    previous_id = b""
    batch = ProofBatch(batch_chunks, chunk_where(asset))

    with (
        RecordReader(bundle / asset.leaves.name, asset.leaves) as leaves,
        RecordReader(bundle / asset.range_proofs.name, asset.range_proofs) as proofs,
    ):
        for k in range(asset.chunk_count):
            commitments = []
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
                if i in watch:
                    watch[i](lid, encoding)
                V = decode_leaf(i, encoding, be, leaves_section)
                merkle.push(leaf_hash(lid, i, encoding))
                total = add(total, V.raw)
                commitments.append(V)
            record = proofs.read(proof_size)
            if batch.failure is not None:
                continue  # §7 order: finish step 3 for this asset before reporting a step-4 failure
            try:
                proof = decode_chunk_proof(record, be, asset, k)
            except FormatError as exc:
                batch.fail(k, exc)
                continue
            batch.add(k, chunk_statement(manifest, asset, k).range_statement(commitments), proof)
            if batch.full():
                progress.advance(batch.flush())
        progress.advance(batch.flush())
        leaves.finish()
        proofs.finish()

    root = merkle.root()
    if root != asset.merkle_root:
        raise VerificationError(
            f"{leaves_section}: the Merkle root of the leaves is {root.hex()}, the manifest says "
            f"{asset.merkle_root.hex()}",
            section=leaves_section,
            file=leaves_section,
        )
    report.merkle_root_ok = True
    C_L = Point(total, be)
    if C_L != C_L_manifest:
        raise VerificationError(
            f"{leaves_section}: the sum of the leaves C_L is not the manifest's liabilities_commitment",
            section=leaves_section,
            file=leaves_section,
        )
    report.sum_ok = True
    if batch.failure is not None:
        raise batch.failure
    report.range_proofs_ok = True

    if solvency:
        record = read_small_file(bundle / asset.solvency.name, asset.solvency, MAGIC_SOLVENCY, SOLVENCY_RECORD_SIZE)
        verify_solvency(manifest, asset, C_L, record, pc_gens, asset_index)
        report.solvency_ok = True
    return C_L


def new_asset_report(asset: AssetEntry) -> AssetReport:
    """Return the not-yet-verified :class:`AssetReport` of ``asset``."""
    disclosed = None if asset.disclosed_liabilities is None else asset.disclosed_liabilities[0]
    return AssetReport(
        symbol=asset.symbol,
        decimals=asset.decimals,
        reserves=asset.reserves,
        leaf_count=asset.leaf_count,
        chunk_count=asset.chunk_count,
        chunk_size=asset.chunk_size,
        min_ratio=(asset.num, asset.den),
        liabilities_disclosed=disclosed,
        reserves_basis=asset.reserves_basis,
        reserves_ok=asset.reserves_basis == "declared",
        sum_tree=asset.has_sum_tree,
        margin=asset.debt_commitment is not None,
        debt_disclosed=None if asset.disclosed_debt is None else asset.disclosed_debt[0],
        collateral_disclosed=None if asset.disclosed_collateral is None else asset.disclosed_collateral[0],
    )


def new_margin_report(manifest: Manifest) -> MarginReport | None:
    """Return the not-yet-verified :class:`MarginReport` of a format-4 bundle (``None`` without margin)."""
    margin = margin_section(manifest)
    if margin is None:
        return None
    params = margin.params
    return MarginReport(
        accounts=params.accounts,
        slots=params.slots,
        tiers=params.tiers,
        collateral_types=params.collateral_types,
        value_decimals=params.value_decimals,
        params_sha256=params.digest().hex(),
        root=margin.root.hex(),
    )


def check_published_digest(
    actual: bytes, published: bytes | None, section: str, what: str, *, file: str | None = None
) -> None:
    """Require ``actual`` to be the digest the exchange published, if the caller pinned one (§6, §8).

    Pinning the published digest is what defeats equivocation: a bundle shown to
    one party and a different one shown to another cannot both match it.

    Raises:
        VerificationError: the digests differ (``section`` and ``file`` as given, field ``bundle_digest``).
    """
    if published is not None and actual != published:
        raise VerificationError(
            f"{section}: {what} has digest {actual.hex()}, not the published digest {published.hex()}",
            section=section,
            file=file,
            field="bundle_digest",
        )


def verify_bundle(
    path: Path,
    *,
    backend: GroupBackend | None = None,
    batch_chunks: int = 16,
    progress: Callable[[int, int], None] | None = None,
    published_digest: bytes | None = None,
    eth_rpc: Mapping[str | None, str] | None = None,
) -> BundleReport:
    """Verify the bundle directory ``path`` (``docs/FORMAT.md`` §7). Returns the report or raises.

    ``progress(done_chunks, total_chunks)`` is called after each batch of chunk
    proofs (totals over all assets). ``batch_chunks`` chunk proofs share one MSM.
    ``published_digest``, if given, is the bundle digest the exchange published: a
    bundle with another digest fails right after the manifest is read.
    ``eth_rpc`` maps Ethereum chains of the wallet list (CAIP-2 ids) to JSON-RPC
    URLs whose nodes the stated balances are checked against (version 2 only); the
    key ``None`` stands for the wallet list's only Ethereum chain.

    Raises:
        FormatError: the bundle is malformed (``exc.section`` names where).
        VerificationError: the bundle is well formed but a check fails, or its
            digest is not ``published_digest`` (section ``"bundle_digest"``).
        Either carries the partial report as ``exc.report``.
    """
    be = backend or get_backend()
    if batch_chunks < 1:
        raise ParameterError(f"batch_chunks must be at least 1, got {batch_chunks}")
    report = BundleReport(ok=False, exchange="", round="", created="", bundle_digest="")
    try:
        path = Path(path)
        manifest = read_manifest(path)
        report.exchange, report.round, report.created = manifest.exchange, manifest.round, manifest.created
        report.bundle_digest = manifest.digest.hex()
        report.format_version = manifest.version
        report.assets = [new_asset_report(a) for a in manifest.assets]
        report.margin = new_margin_report(manifest)
        if eth_rpc and manifest.wallets is None:
            raise ParameterError(
                f"--eth-rpc: this bundle (format version {manifest.version}) has no wallet list; its reserves are "
                "declared",
                section="eth-rpc",
            )
        check_published_digest(manifest.digest, published_digest, "bundle_digest", "the bundle", file=MANIFEST_NAME)
        report.digest_pinned = published_digest is not None
        if not path.is_dir():
            raise FormatError(f"bundle {str(path)!r} is not a directory", section="bundle")
        liabilities = decode_liabilities(manifest, be)
        debts = decode_debts(manifest, be)

        check_file_set(path, manifest)
        for asset in manifest.assets:
            for entry, magic, count, record_size in file_roles(asset):
                check_file(path / entry.name, entry, magic, count, record_size)
        for entry, magic, count, record_size in margin_file_roles(manifest):
            check_file(path / entry.name, entry, magic, count, record_size)
        report.files_ok = True
        if manifest.wallets is not None:
            verify_reserves(path, manifest, report, eth_rpc)

        pc_gens = PedersenGens.default(be)
        counter = ChunkProgress(sum(a.chunk_count for a in manifest.assets), progress)
        if report.margin is None:
            for i, (asset_report, C_L) in enumerate(zip(report.assets, liabilities, strict=True)):
                verify_asset(path, manifest, i, C_L, pc_gens, asset_report, batch_chunks, counter)
        else:
            # §14.5: steps 3' to 4' for every asset, then the margin step, then every asset's step 5.
            sums = [
                verify_asset(path, manifest, i, C_L, pc_gens, asset_report, batch_chunks, counter, solvency=False)
                for i, (asset_report, C_L) in enumerate(zip(report.assets, liabilities, strict=True))
            ]
            totals = verify_margin(path, manifest, debts, pc_gens, report.margin, batch_chunks)
            for asset_report in report.assets:
                asset_report.debt_ok = True
            for i, (asset, asset_report, C_L) in enumerate(zip(manifest.assets, report.assets, sums, strict=True)):
                record = read_small_file(path / asset.solvency.name, asset.solvency, MAGIC_SOLVENCY,
                                         SOLVENCY_RECORD_SIZE)
                verify_solvency(manifest, asset, C_L, record, pc_gens, i, totals)
                asset_report.solvency_ok = True
    except ProofError as exc:
        report.fail(exc)
        exc.report = report
        raise
    report.ok = True
    return report
