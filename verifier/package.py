r"""The customer check (``docs/FORMAT.md`` §8): is my balance counted, and is the exchange solvent?

Without a bundle, for each entry of the package the customer recomputes their
commitment ``V``, the leaf id, the leaf hash and the Merkle path up to the package's
``merkle_root`` (the formulas and the order of the checks: ``docs/FORMAT.md`` §8.1).

That establishes only that the package is self-consistent; nothing about the bundle
is checked, so the verdict is *partial* (status ``"partial"``, exit 6 in the CLI).

With the bundle (scope ``"full"``, the default), they also check the bundle digest,
exchange and round, that the manifest's root and leaf count are the package's, and
then verify each of their assets exactly as ``solvency verify`` does
(:func:`verifier.bundle.verify_asset`: the data files' SHA-256, every leaf decoded
with full validation, the Merkle root, ``C_L = sum of the leaves``, EVERY chunk range
proof batch-verified, the solvency proof and a disclosed opening), looking at their
own leaf record in the same pass. Solvency needs every chunk proof: one negative
leaf in any chunk lowers ``C_L`` as much as it likes, so nothing less backs a
solvency claim.

With ``own_chunk_only`` (scope ``"own-chunk"``) only the chunk proof holding the
customer's leaf is verified (leaves outside it are only summed): the verdict says
in plain words that the other chunks, and hence solvency, were NOT checked, and the
status is ``"partial"``.

A package of format 3 (a format-4 bundle) is checked as one of format 2, with the v4
contexts and solvency statements, and its margin account, if any, as ``docs/FORMAT.md``
§14.6 says (:mod:`verifier.package_margin`): its proofs join the entries' in one batch,
and the verdict says what was proven for the account, and that the debt totals being the
sums of every record rests on ``solvency verify``.

Every sentence of the verdict is a :class:`~verifier.report.Claim` naming the
checks that back it; a proven claim is refused unless they all ran and passed.

Returns a :class:`~verifier.report.PackageReport` or raises
:class:`~circuits.errors.FormatError` (malformed package or bundle) /
:class:`~circuits.errors.VerificationError` (a check fails), with ``section``
(``"package.entries[0]"``, ``"BTC.leaves.bin record 17"``, ...), ``file``, ``field``
and the partial report as ``report``. The package holds secrets: nothing here logs
the blinding or the salt, and the report holds neither.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Final

from circuits.backends import GroupBackend, get_backend
from circuits.datafiles import (
    LEAF_RECORD_SIZE,
    MAGIC_SOLVENCY,
    SOLVENCY_RECORD_SIZE,
    iter_leaf_records,
    leaf_id,
    range_record_size,
)
from circuits.errors import FormatError, ParameterError, ProofError, VerificationError
from circuits.generators import PedersenGens
from circuits.group import Point
from circuits.limits import MAX_PACKAGE_BYTES
from circuits.manifest import AssetEntry, Manifest
from circuits.merkle import MerkleAccumulator, leaf_hash, verify_merkle_path
from circuits.package import Package, PackageEntry, SumTreeEntry
from verifier.bundle import (
    ChunkProgress,
    check_published_digest,
    new_asset_report,
    verify_asset,
    verify_solvency,
)
from verifier.package_margin import check_margin, check_margin_alone, margin_claims, slot_leaf_ids
from verifier.package_tree import EntryAlone, Pending, check_entry, check_entry_alone, verify_pending
from verifier.range_proof import verify_range
from verifier.reading import (
    RecordReader,
    check_file,
    decode_chunk_proof,
    decode_debts,
    decode_leaf,
    decode_liabilities,
    file_roles,
    read_json_file,
    read_manifest,
    read_record,
    read_small_file,
)
from verifier.report import (
    AssetReport,
    BundleReport,
    CheckRef,
    Claim,
    EntryReport,
    PackageReport,
    Scope,
    format_ratio,
    format_units,
)
from verifier.reserves import verify_reserves
from verifier.sum_tree import chunk_statement

__all__ = ["check_package", "read_package"]

#: The bundle format versions a package of each format version is for (§8, §14.6).
_BUNDLE_VERSIONS: Final[dict[int, tuple[int, ...]]] = {1: (1, 2), 2: (3,), 3: (4,)}

#: Leaf records read per ``read`` call while scanning a leaves file (bounded memory).
SCAN_RECORDS: Final[int] = 4096


def _short(digest: bytes) -> str:
    return digest.hex()[:16] + "..."


def read_package(path: Path) -> Package:
    """Read and validate a customer package (a file over ``MAX_PACKAGE_BYTES`` is refused unread).

    Raises:
        FormatError: unreadable or malformed; ``section`` names the field where known.
    """
    return read_json_file(path, MAX_PACKAGE_BYTES, "package", repr(str(path)), Package.from_bytes)


def _fail(
    entry: EntryReport, name: str, message: str, section: str, *, file: str | None = None, field: str | None = None
) -> VerificationError:
    """Record a failed check and return the error to raise."""
    entry.add(name, False, message)
    return VerificationError(f"{section}: {message}", section=section, file=file, field=field)


def _check_entry_alone(
    package: Package, package_file: str, i: int, entry: PackageEntry, V: Point, report: EntryReport
) -> None:
    """The checks a package allows on its own: leaf id and Merkle path."""
    section = f"package.entries[{i}]"
    if leaf_id(package.round, entry.asset, package.customer_id, entry.leaf_salt) != entry.leaf_id:
        raise _fail(
            report, "leaf id", "the leaf id is not the hash of round, asset, customer id and salt", section,
            file=package_file, field=f"entries[{i}].leaf_id",
        )
    report.add("leaf id", True, f"leaf id {_short(entry.leaf_id)} derives from your customer id and salt")
    h = leaf_hash(entry.leaf_id, entry.leaf_index, V.to_bytes())
    try:
        root = verify_merkle_path(h, entry.leaf_index, entry.leaf_count, entry.merkle_path)
    except FormatError as exc:
        where = f"{section}.merkle_path"
        report.add("merkle path", False, str(exc))
        raise FormatError(
            f"{where}: {exc}", section=where, file=package_file, field=f"entries[{i}].merkle_path"
        ) from exc
    if root != entry.merkle_root:
        raise _fail(
            report,
            "merkle path",
            f"the Merkle path from your commitment (amount {report.amount_display}) does not lead to the root "
            f"{_short(entry.merkle_root)}",
            section,
            file=package_file,
            field=f"entries[{i}].merkle_path",
        )
    report.add(
        "merkle path",
        True,
        f"commitment to {report.amount_display} {entry.asset} at leaf {entry.leaf_index} of {entry.leaf_count} "
        f"leads to root {_short(entry.merkle_root)}",
    )


def _scan_leaves(
    bundle: Path, asset: AssetEntry, entry: PackageEntry, V: Point, report: EntryReport
) -> tuple[Point, list[Point]]:
    """Stream the asset's leaves once; check order, the customer's record and the root; sum them.

    Returns ``C_L`` (the sum of all leaves) and the commitments of the chunk
    holding ``entry.leaf_index``. The chunk's leaves are fully validated (they
    enter a proof verification); the others are only summed and the sum compared
    with the manifest's validated ``C_L``, so they are decoded on the curve without
    the subgroup check (about 3x faster; ``solvency verify`` checks every leaf fully).
    """
    be = V.backend
    path = bundle / asset.leaves.name
    section = asset.leaves.name
    n = asset.leaf_count
    m = asset.chunk_size
    chunk_start = entry.leaf_index // m * m
    expected_record = entry.leaf_id + V.to_bytes()
    merkle = MerkleAccumulator()
    total = be.identity()
    add = be.add
    chunk: list[Point] = []
    previous_id = b""
    with RecordReader(path, asset.leaves) as leaves:
        for first in range(0, n, SCAN_RECORDS):
            stop = min(first + SCAN_RECORDS, n)
            body = leaves.read((stop - first) * LEAF_RECORD_SIZE)
            for i, lid, encoding in iter_leaf_records(body, first):
                where = f"{section} record {i}"
                if lid <= previous_id:
                    raise FormatError(
                        f"{where}: leaf id is not greater than the previous one",
                        section=where, file=section, field=f"record {i}",
                    )
                previous_id = lid
                if i == entry.leaf_index and lid + encoding != expected_record:
                    raise _fail(
                        report, "leaf record", "the bundle's leaf at your index is not your (leaf id, commitment)",
                        where, file=section, field=f"record {i}",
                    )
                in_chunk = chunk_start <= i < chunk_start + m
                point = decode_leaf(i, encoding, be, section, subgroup_check=in_chunk)
                if in_chunk:
                    chunk.append(point)
                total = add(total, point.raw)
                merkle.push(leaf_hash(lid, i, encoding))
        leaves.finish()
    report.add("leaf record", True, f"record {entry.leaf_index} of {section} is your leaf id and commitment")
    root = merkle.root()
    if root != asset.merkle_root:
        raise _fail(
            report,
            "merkle root",
            f"the leaves hash to root {_short(root)}, the manifest says {_short(asset.merkle_root)}",
            section,
            file=section,
        )
    report.add("merkle root", True, f"all {asset.leaf_count} leaves hash to the manifest's root")
    return Point(total, be), chunk


def _asset_in_bundle(
    manifest: Manifest, package_file: str, i: int, entry: PackageEntry | SumTreeEntry, report: EntryReport
) -> int:
    """Find the entry's asset in the manifest and require the package's decimals, root and leaf count."""
    section = f"package.entries[{i}]"
    index = next((k for k, a in enumerate(manifest.assets) if a.symbol == entry.asset), None)
    if index is None:
        raise _fail(
            report, "asset in bundle", f"the bundle has no asset {entry.asset}", section,
            file=package_file, field=f"entries[{i}].asset",
        )
    asset = manifest.assets[index]
    if asset.decimals != entry.decimals:
        raise _fail(
            report,
            "asset in bundle",
            f"the bundle gives {entry.asset} {asset.decimals} decimals, the package {entry.decimals}",
            section,
            file=package_file,
            field=f"entries[{i}].decimals",
        )
    if asset.merkle_root != entry.merkle_root or asset.leaf_count != entry.leaf_count:
        raise _fail(
            report,
            "asset in bundle",
            f"the bundle's {entry.asset} Merkle root and leaf count ({_short(asset.merkle_root)}, {asset.leaf_count}) "
            f"are not the package's ({_short(entry.merkle_root)}, {entry.leaf_count})",
            section,
            file=package_file,
            field=f"entries[{i}].merkle_root",
        )
    report.add("asset in bundle", True, f"the manifest's {entry.asset} root and leaf count are the package's")
    return index


#: The steps of :func:`verifier.bundle.verify_asset`, in order: (flag of the asset report, check name).
_ASSET_STEPS: Final = (
    ("merkle_root_ok", "merkle root"),
    ("sum_ok", "liabilities sum"),
    ("range_proofs_ok", "range proofs"),
    ("solvency_ok", "solvency proof"),
)


def _asset_step_detail(name: str, asset: AssetEntry) -> str:
    if name == "merkle root":
        return f"all {asset.leaf_count} leaves hash to the manifest's root"
    if name == "liabilities sum":
        return f"your commitment is one of the {asset.leaf_count} leaves summing to C_L"
    if name == "range proofs":
        return (
            f"all {asset.chunk_count} chunk range proofs verify: every one of the {asset.leaf_count} committed "
            f"balances is in [0, 2^64)"
        )
    return (
        f"reserves {format_units(asset.reserves, asset.decimals)} {asset.symbol} >= "
        f"{format_ratio(asset.num, asset.den)} x liabilities"
    )


def _record_asset_steps(
    report: EntryReport, asset: AssetEntry, verified: AssetReport, error: ProofError | None
) -> None:
    """Turn the flags :func:`verify_asset` set into checks: the passed steps, then the failed one (if any)."""
    for flag, name in _ASSET_STEPS:
        if getattr(verified, flag):
            report.add(name, True, _asset_step_detail(name, asset))
            continue
        if error is not None and (not report.checks or report.checks[-1].passed):
            failed = "leaf records" if isinstance(error, FormatError) and flag == "merkle_root_ok" else name
            report.add(failed, False, str(error))
        return


def _check_whole_asset(
    bundle: Path,
    manifest: Manifest,
    index: int,
    C_L: Point,
    entry: PackageEntry,
    V: Point,
    pc_gens: PedersenGens,
    report: EntryReport,
    batch_chunks: int,
    progress: ChunkProgress,
) -> None:
    """Scope ``"full"``: verify the entry's asset as ``solvency verify`` does, watching the customer's own record."""
    asset = manifest.assets[index]
    for file_entry, magic, count, record_size in file_roles(asset):
        check_file(bundle / file_entry.name, file_entry, magic, count, record_size)
    report.add("files", True, f"the {entry.asset} data files have the manifest's SHA-256 digests")
    expected = entry.leaf_id + V.to_bytes()
    leaves = asset.leaves.name

    def own_record(lid: bytes, encoding: bytes) -> None:
        if lid + encoding != expected:
            raise _fail(
                report, "leaf record", "the bundle's leaf at your index is not your (leaf id, commitment)",
                f"{leaves} record {entry.leaf_index}", file=leaves, field=f"record {entry.leaf_index}",
            )
        report.add("leaf record", True, f"record {entry.leaf_index} of {leaves} is your leaf id and commitment")

    verified = new_asset_report(asset)
    try:
        verify_asset(
            bundle, manifest, index, C_L, pc_gens, verified, batch_chunks, progress, {entry.leaf_index: own_record}
        )
    except ProofError as exc:
        _record_asset_steps(report, asset, verified, exc)
        raise
    _record_asset_steps(report, asset, verified, None)


def _check_own_chunk(
    bundle: Path,
    manifest: Manifest,
    index: int,
    C_L_manifest: Point,
    entry: PackageEntry,
    V: Point,
    pc_gens: PedersenGens,
    report: EntryReport,
) -> None:
    """Scope ``"own-chunk"``: the customer's record, root and sum, their own chunk proof, the solvency proof."""
    asset = manifest.assets[index]
    m = asset.chunk_size
    proof_size = range_record_size(m)
    for file, magic, count, record_size in file_roles(asset)[:2]:  # leaves, range proofs
        check_file(bundle / file.name, file, magic, count, record_size)
    report.add("files", True, f"the {entry.asset} leaves and range-proof files have the manifest's SHA-256 digests")

    C_L, chunk = _scan_leaves(bundle, asset, entry, V, report)
    if C_L != C_L_manifest:
        raise _fail(
            report,
            "liabilities sum",
            "the leaves do not sum to the manifest's liabilities commitment",
            asset.leaves.name,
            file=asset.leaves.name,
        )
    report.add("liabilities sum", True, f"your commitment is one of the {asset.leaf_count} leaves summing to C_L")

    k = entry.leaf_index // m
    name = asset.range_proofs.name
    where = f"{name} chunk {k}"
    record = read_record(bundle / name, asset.range_proofs, k, proof_size)
    try:
        proof = decode_chunk_proof(record, V.backend, asset, k)
    except FormatError as exc:
        report.add("chunk range proof", False, str(exc.__cause__ or exc))
        raise
    try:
        verify_range(chunk_statement(manifest, asset, k).range_statement(chunk), proof)
    except VerificationError as exc:
        raise _fail(
            report, "chunk range proof", f"the range proof of chunk {k} does not verify ({exc})", where,
            file=name, field=f"chunk {k}",
        ) from exc
    report.add(
        "chunk range proof",
        True,
        f"chunk {k} (leaves {k * m}..{k * m + m - 1}) proves each balance in it is in [0, 2^64)",
    )

    record = read_small_file(bundle / asset.solvency.name, asset.solvency, MAGIC_SOLVENCY, SOLVENCY_RECORD_SIZE)
    try:
        verify_solvency(manifest, asset, C_L, record, pc_gens, index)
    except ProofError as exc:
        report.add("solvency proof", False, str(exc))
        raise
    report.add(
        "solvency proof",
        True,
        f"the solvency proof verifies for reserves {format_units(asset.reserves, asset.decimals)} {asset.symbol} "
        f"against C_L (which rests on every chunk proof, not all checked here)",
    )


def _claims(package: Package, manifest: Manifest | None, report: PackageReport) -> None:
    """State the verdict: each sentence a :class:`Claim`, each proven one backed by the checks that ran."""
    digest = package.bundle_digest.hex()

    def proven(key: str, text: str, asset: str | None, *checks: tuple[str | None, str]) -> None:
        report.claim(Claim(key, text, True, asset, tuple(CheckRef(a, n) for a, n in checks)))

    def not_proven(key: str, text: str, asset: str | None = None) -> None:
        report.claim(Claim(key, text, False, asset))

    if report.customer_id_confirmed:
        proven(
            "customer_id",
            f"The package is for your customer id {package.customer_id!r}, and every leaf id derives from it.",
            None, (None, "customer id"), *((e.asset, "leaf id") for e in package.entries),
        )
    else:
        not_proven(
            "customer_id",
            f"The package is for customer id {package.customer_id!r}; that this is YOUR id was not checked "
            f"(pass --customer-id): a package for someone else would pass too.",
        )
    if report.digest_pinned:
        if manifest is not None:
            proven(
                "published_digest",
                f"The package and the bundle match the bundle digest you gave as the published one, {digest}.",
                None, (None, "published digest"), *((e.asset, "bundle digest") for e in package.entries),
            )
        else:
            proven(
                "published_digest",
                f"The package names the bundle digest you gave as the published one, {digest}.",
                None, (None, "published digest"),
            )
    for entry, r in zip(package.entries, report.entries, strict=True):
        S = entry.asset
        if isinstance(entry, SumTreeEntry):
            _tree_claims(entry, r, manifest, report, proven, not_proven)
            continue
        if manifest is None:
            proven(
                "committed_in_package",
                f"Your {S} balance {r.amount_display} is committed in leaf {entry.leaf_index} of {entry.leaf_count} "
                f"under the {S} Merkle root {entry.merkle_root.hex()} stated in your package.",
                S, (S, "leaf id"), (S, "merkle path"),
            )
            continue
        asset = next(a for a in manifest.assets if a.symbol == S)
        k = entry.leaf_index // asset.chunk_size
        proven(
            "committed",
            f"Your {S} balance {r.amount_display} is committed in leaf {entry.leaf_index} of {entry.leaf_count} of "
            f"the bundle with digest {digest}.",
            S, (S, "leaf id"), (S, "merkle path"), (S, "bundle digest"), (S, "asset in bundle"), (S, "files"),
            (S, "leaf record"), (S, "merkle root"),
        )
        proven(
            "counted",
            f"Your {S} commitment is counted in the total {S} liabilities: all {asset.leaf_count} leaves of the "
            f"bundle sum to its liabilities commitment.",
            S, (S, "leaf record"), (S, "liabilities sum"),
        )
        if asset.den == 1 and asset.num == 1:
            ratio = "at least the total"
        else:
            ratio = f"at least {format_ratio(asset.num, asset.den)} times the total"
        reserves = f"{format_units(asset.reserves, asset.decimals)} {S}"
        wallets = manifest.wallets is not None and report.scope in ("full", "sum-tree")
        if wallets:
            attested = " and attested entries (which no signature proves)" if (
                asset.reserves_basis == "wallets+attested") else ""
            proven(
                "reserves_wallets",
                f"The {S} reserves of {reserves} are the sum of the bundle's {S} wallets{attested}; every wallet's "
                f"proof of control was checked for this exchange, round and snapshot block.",
                S, (S, "reserves"),
            )
        if report.scope == "full":
            proven(
                "range_all_chunks",
                (
                    f"The range proofs of all {asset.chunk_count} {S} chunks show"
                    if asset.chunk_count > 1
                    else f"The range proof of the one {S} chunk shows"
                )
                + f" that every committed {S} balance, yours included, is between 0 and 2^64 base units "
                "(none is negative).",
                S, (S, "range proofs"),
            )
            proven(
                "solvency",
                f"The {S} solvency proof, with every {S} balance proven non-negative, shows that the stated reserves "
                f"of {reserves} are {ratio} {S} liabilities, your balance included.",
                S, (S, "liabilities sum"), (S, "range proofs"), (S, "solvency proof"),
            )
        else:
            proven(
                "range_own_chunk",
                f"The range proof of chunk {k} shows that your committed balance and the others in that chunk are "
                f"each between 0 and 2^64 base units (none is negative).",
                S, (S, "chunk range proof"),
            )
            others = (
                f"the range proofs of the other {asset.chunk_count - 1} {S} chunks"
                if asset.chunk_count > 1 else f"the {S} range proofs beyond your chunk"
            )
            not_proven(
                "solvency_unchecked",
                f"PARTIAL CHECK (--own-chunk-only): {others} were NOT checked here, so it was NOT checked that no "
                f"{S} balance is negative, and hence NOT that the reserves of {reserves} cover the {S} "
                f"liabilities: solvency rests on the full `solvency verify` of the bundle (or this check without "
                f"--own-chunk-only).",
                S,
            )
        if asset.disclosed_liabilities is not None:
            proven(
                "disclosed",
                f"The exchange disclosed total {S} liabilities of "
                f"{format_units(asset.disclosed_liabilities[0], asset.decimals)} {S}, and that opening was checked.",
                S, (S, "solvency proof"),
            )
    if package.margin is not None:
        margin_claims(package, manifest, report, proven, not_proven)
    if manifest is None:
        symbols = ", ".join(e.asset for e in package.entries)
        not_proven(
            "bundle_unchecked",
            f"PARTIAL CHECK (no --bundle): the package is self-consistent, but nothing about the bundle was "
            f"checked: its {symbols} range proofs and solvency proofs were NOT checked, and your leaf was not "
            f"looked up in it (run with --bundle).",
        )
        not_proven(
            "digest_unmatched",
            f"Your package names bundle digest {digest}; without --bundle it was not compared with any bundle.",
        )
    elif not report.digest_pinned:
        not_proven(
            "published_digest",
            f"This does not prove that this bundle is the one the exchange published to everyone: compare its "
            f"digest {digest} with the digest the exchange published (for example in a public archive), or pass "
            f"it as --digest.",
        )
    if manifest is not None and manifest.wallets is not None and report.scope in ("full", "sum-tree"):
        not_proven(
            "reserves_held",
            "This does not prove the wallet balances are what the chain says (they are as stated by the exchange "
            "at the snapshot block; `solvency verify --eth-rpc` checks Ethereum balances against a node), that the "
            "coins were not borrowed for the snapshot, nor that no other exchange claims the same wallets.",
        )
    else:
        not_proven(
            "reserves_held",
            "This does not prove the exchange actually holds the stated reserves; they are declared by the exchange"
            + (f" (format version {manifest.version}, no wallet list)." if manifest is not None
               and manifest.wallets is None else "."),
        )
    not_proven(
        "others_included",
        "This does not prove other customers were included; each customer must check their own package.",
    )


#: The ``proven`` / ``not_proven`` helpers of :func:`_claims`.
ClaimFn = Callable[..., None]


def _tree_claims(
    entry: SumTreeEntry, r: EntryReport, manifest: Manifest | None, report: PackageReport,
    proven: ClaimFn, not_proven: ClaimFn,
) -> None:
    """The verdict's sentences for one entry of a version-2 package (format-3 bundle, §8.1 "Version 3").

    They state what the by-offset check establishes and nothing more: the customer's
    chunk and path, not the other chunks nor the nodes off the path (``docs/THREAT_MODEL.md`` §4.31).
    """
    S, k = entry.asset, entry.chunk
    if manifest is None:
        proven(
            "committed_in_package",
            f"Your {S} balance {r.amount_display} is committed in leaf {entry.leaf_index} of {entry.leaf_count} "
            f"(chunk {k}), and your package's chunk path gives that chunk's tree hash; the climb to the root "
            f"{entry.merkle_root.hex()} needs the bundle's nodes.",
            S, (S, "leaf id"), (S, "chunk path"), (S, "node path"),
        )
        return
    asset = next(a for a in manifest.assets if a.symbol == S)
    depth = len(entry.node_path)
    nodes = f"{depth} sum node" + ("" if depth == 1 else "s")
    digest = manifest.digest.hex()
    leaves = S not in report.chunks_unchecked
    path_checks = ((S, "bundle digest"), (S, "asset in bundle"), (S, "files"), (S, "chunk node"),
                   (S, "sum tree path"), (S, "root"))
    if leaves:
        proven(
            "committed",
            f"Your {S} balance {r.amount_display} is committed in leaf {entry.leaf_index} of {entry.leaf_count} "
            f"(chunk {k}) of the bundle with digest {digest}: the bundle's record holds your leaf, and your chunk's "
            f"path of {nodes} reaches the bundle's {S} root.",
            S, (S, "leaf id"), (S, "chunk path"), (S, "leaf record"), *path_checks,
        )
        proven(
            "counted",
            f"Your {S} commitment is counted in the total {S} liabilities: your chunk's commitment is the sum of its "
            f"{asset.chunk_size} leaves, and each node on your path is the sum of its children up to the root, "
            f"whose commitment is the liabilities commitment C_L.",
            S, (S, "leaf record"), *path_checks,
        )
        proven(
            "range_own_chunk",
            f"The range proof of chunk {k} shows that your committed balance and the others in that chunk are each "
            f"between 0 and 2^64 base units (none is negative).",
            S, (S, "chunk range proof"),
        )
    else:
        proven(
            "committed",
            f"Your {S} leaf (balance {r.amount_display}) is in the {S} sum tree of the bundle with digest {digest}: "
            f"your chunk path gives chunk {k}'s tree hash, which chunk node {k} binds, and its path of {nodes} "
            f"reaches the bundle's {S} root.",
            S, (S, "leaf id"), (S, "chunk path"), *path_checks,
        )
        not_proven(
            "chunk_unchecked",
            f"PARTIAL CHECK: the {S} leaves file was absent or unreadable, so chunk {k}'s range proof was NOT "
            f"checked, nor that chunk {k}'s commitment is the sum of its leaves: it was NOT checked that your "
            f"balance is counted in C_L, nor that the other balances of your chunk are non-negative.",
            S,
        )
    if depth:
        proven(
            "sibling_sums",
            f"The node proofs of the {nodes} on your path show that every subtree beside your path, and "
            f"your own branch, sums to between 0 and 2^128 base units: no negative total hides beside your balance "
            f"in C_L.",
            S, (S, "node proofs"), *path_checks,
        )
    if asset.den == 1 and asset.num == 1:
        ratio = "at least the total"
    else:
        ratio = f"at least {format_ratio(asset.num, asset.den)} times the total"
    reserves = f"{format_units(asset.reserves, asset.decimals)} {S}"
    if asset.reserves_basis != "declared" and manifest.wallets is not None:
        attested = " and attested entries (which no signature proves)" if (
            asset.reserves_basis == "wallets+attested") else ""
        proven(
            "reserves_wallets",
            f"The {S} reserves of {reserves} are the sum of the bundle's {S} wallets{attested}; every wallet's "
            f"proof of control was checked for this exchange, round and snapshot block.",
            S, (S, "reserves"),
        )
    solvency_checks = [(S, "root"), (S, "node proofs"), (S, "solvency proof")]
    # Version 4: the proof is for the net liabilities C_L - C_D (balances less margin debt, §14.5).
    net = "" if manifest.margin is None else (
        " less the margin debt committed in the bundle's debt commitment C_D (net liabilities C_L - C_D)")
    if leaves:
        solvency_checks.append((S, "chunk range proof"))
        proven(
            "solvency",
            f"The {S} solvency proof shows that the stated reserves of {reserves} are {ratio} {S} liabilities C_L"
            f"{net}, "
            + ("in which your balance is counted beside sums proven non-negative." if depth else
               f"the sum of the one chunk's {asset.chunk_size} balances, each proven non-negative."),
            S, *solvency_checks,
        )
    else:
        proven(
            "solvency_of_C_L",
            f"The {S} solvency proof shows that the stated reserves of {reserves} are {ratio} liabilities committed "
            f"in C_L, the root of the sum tree{net}.",
            S, *solvency_checks,
        )
    if asset.chunk_count > 1:
        not_proven(
            "other_chunks",
            f"This check read only your chunk and your path: it does NOT prove that the other {S} chunks' range "
            f"proofs hold, nor that the nodes off your path are the sums of their leaves; that rests on the full "
            f"`solvency verify` of the bundle.",
            S,
        )
    if asset.disclosed_liabilities is not None:
        proven(
            "disclosed",
            f"The exchange disclosed total {S} liabilities of "
            f"{format_units(asset.disclosed_liabilities[0], asset.decimals)} {S}, and that opening was checked.",
            S, (S, "solvency proof"),
        )
    if asset.disclosed_debt is not None:
        proven(
            "disclosed_debt",
            f"The exchange disclosed total {S} margin debt of {format_units(asset.disclosed_debt[0], asset.decimals)} "
            f"{S}, and that opening of the debt commitment C_D was checked.",
            S, (S, "solvency proof"),
        )


def _check_reserves(bundle: Path, manifest: Manifest, package: Package, entries: list[EntryReport]) -> None:
    """Scope ``"full"``, version 2: the reserves are the wallet list's, exactly as ``solvency verify`` checks them."""
    scratch = BundleReport(
        ok=False, exchange=manifest.exchange, round=manifest.round, created=manifest.created,
        bundle_digest=manifest.digest.hex(), assets=[new_asset_report(a) for a in manifest.assets],
    )
    try:
        verify_reserves(bundle, manifest, scratch)
    except ProofError:
        for e in entries:
            e.add("reserves", False, "the wallet list does not back the stated reserves")
        raise
    by_symbol = {a.symbol: a for a in scratch.assets}
    for entry, e in zip(package.entries, entries, strict=True):
        a = by_symbol[entry.asset]
        e.add(
            "reserves", True,
            f"all {a.wallet_count} {entry.asset} wallets' proofs of control hold and they back the stated reserves",
        )


def check_package(
    package_path: Path,
    bundle_path: Path | None = None,
    *,
    backend: GroupBackend | None = None,
    customer_id: str | None = None,
    published_digest: bytes | None = None,
    own_chunk_only: bool = False,
    batch_chunks: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> PackageReport:
    """Run the customer check of ``docs/FORMAT.md`` §8. Returns the report or raises.

    ``customer_id``, if given, is the customer's own id: a package made out to
    another id fails (an exchange showing two customers the same leaf would have to
    hand one of them a package for the other's id). ``published_digest``, if given,
    is the bundle digest the exchange published: the package (and the bundle, with
    ``bundle_path``) must carry it, which is what defeats equivocation.

    With ``bundle_path`` every asset of the package is verified as ``solvency
    verify`` verifies it (all chunk proofs, ``batch_chunks`` per MSM;
    ``progress(done, total)`` counts chunks), unless ``own_chunk_only``: then only
    the chunk holding each leaf is, and the report's scope is ``"own-chunk"``
    (status ``"partial"``). Without ``bundle_path`` the scope is ``"package"``
    (status ``"partial"`` as well).

    Raises:
        FormatError: the package or the bundle is malformed (``exc.section`` names where).
        VerificationError: a check fails: a wrong amount, blinding, salt or path, a
            package for another customer, bundle or published digest; with the
            bundle, a leaf, proof or sum mismatch.
        ParameterError: ``own_chunk_only`` without a bundle, or ``batch_chunks`` < 1.
        Each carries the partial report as ``exc.report``.
    """
    be = backend or get_backend()
    if own_chunk_only and bundle_path is None:
        raise ParameterError("own_chunk_only needs the bundle")
    if batch_chunks < 1:
        raise ParameterError(f"batch_chunks must be at least 1, got {batch_chunks}")
    scope: Scope = "package" if bundle_path is None else "own-chunk" if own_chunk_only else "full"
    report = PackageReport(
        ok=False, exchange="", round="", bundle_digest="", with_bundle=bundle_path is not None, scope=scope
    )
    package_file = Path(package_path).name
    try:
        package = read_package(Path(package_path))
        report.package_format_version = package.format_version
        tree = all(isinstance(e, SumTreeEntry) for e in package.entries)  # package format version 2
        if tree and bundle_path is not None:
            report.scope = "sum-tree"
            if own_chunk_only:
                report.add(
                    "own chunk only", True,
                    "--own-chunk-only was ignored: the check of a format-3 bundle reads only your chunk and your "
                    "path in the sum tree anyway, and verifies your chunk's proof",
                )
            own_chunk_only = False
        report.exchange, report.round = package.exchange, package.round
        report.bundle_digest = package.bundle_digest.hex()
        report.customer_id = package.customer_id
        if customer_id is not None:
            if package.customer_id != customer_id:
                report.add("customer id", False, "the package is made out to another customer id")
                raise VerificationError(
                    f"package.customer_id: the package is made out to customer id {package.customer_id!r}, "
                    f"not {customer_id!r}",
                    section="package.customer_id",
                    file=package_file,
                    field="customer_id",
                )
            report.add("customer id", True, "the package is made out to the customer id you gave")
        report.customer_id_confirmed = customer_id is not None
        check_published_digest(
            package.bundle_digest, published_digest, "package.bundle_digest", "the package's bundle", file=package_file
        )
        if published_digest is not None:
            report.add("published digest", True, "the package names the bundle digest you gave")
        report.digest_pinned = published_digest is not None
        pc_gens = PedersenGens.default(be)
        entries = [EntryReport(e.asset, e.decimals, e.amount, e.leaf_index, e.leaf_count) for e in package.entries]
        report.entries = entries
        commitments = [pc_gens.commit(e.amount, e.blinding) for e in package.entries]
        alone: list[EntryAlone | None] = []
        margin_leaves = slot_leaf_ids(package)
        for i, (entry, V, entry_report) in enumerate(zip(package.entries, commitments, entries, strict=True)):
            if isinstance(entry, SumTreeEntry):
                alone.append(
                    check_entry_alone(package, package_file, i, entry, V, entry_report, margin_leaves.get(entry.asset))
                )
            else:
                _check_entry_alone(package, package_file, i, entry, V, entry_report)
                alone.append(None)
        margin_alone = None if package.margin is None else check_margin_alone(package, package_file, pc_gens, report)

        manifest: Manifest | None = None
        if bundle_path is not None:
            bundle = Path(bundle_path)
            manifest = read_manifest(bundle)
            if package.bundle_digest != manifest.digest:
                raise VerificationError(
                    f"package.bundle_digest: the package is for another bundle or round (digest "
                    f"{_short(package.bundle_digest)}, the bundle's is {_short(manifest.digest)})",
                    section="package.bundle_digest",
                    file=package_file,
                    field="bundle_digest",
                )
            if (package.exchange, package.round) != (manifest.exchange, manifest.round):
                raise VerificationError(
                    f"package: the package is for {package.exchange!r} round {package.round!r}, the bundle for "
                    f"{manifest.exchange!r} round {manifest.round!r}",
                    section="package.round",
                    file=package_file,
                    field="round",
                )
            bundle_versions = _BUNDLE_VERSIONS[package.format_version]
            if manifest.version not in bundle_versions:
                raise VerificationError(
                    f"package.format_version: a package of format version {package.format_version} is for bundles "
                    f"of format version {' or '.join(map(str, bundle_versions))}, this bundle is of format version "
                    f"{manifest.version}",
                    section="package.format_version",
                    file=package_file,
                    field="format_version",
                )
            liabilities = decode_liabilities(manifest, be)
            debts = decode_debts(manifest, be)
            indices = []
            for i, (entry, entry_report) in enumerate(zip(package.entries, entries, strict=True)):
                entry_report.add(
                    "bundle digest", True, f"the package is for this bundle (digest {_short(manifest.digest)})"
                )
                indices.append(_asset_in_bundle(manifest, package_file, i, entry, entry_report))
            if manifest.wallets is not None and not own_chunk_only:
                _check_reserves(bundle, manifest, package, entries)
            if tree:
                counter = ChunkProgress(len(indices), progress)
                pendings: list[Pending] = []

                def earlier() -> None:
                    verify_pending(pendings)

                for i, (entry, V, entry_report, k, entry_alone) in enumerate(
                    zip(package.entries, commitments, entries, indices, alone, strict=True)
                ):
                    assert isinstance(entry, SumTreeEntry) and entry_alone is not None, "package version 2 or 3"
                    try:
                        checked, pending = check_entry(
                            bundle, manifest, k, liabilities[k], package_file, i, entry, V, entry_alone, pc_gens,
                            entry_report, counter.advance, earlier, debts[k] if debts else None,
                        )
                    except ProofError:
                        earlier()  # §8.1 order: a false proof of an earlier entry first
                        raise
                    pendings.append(pending)
                    if not checked:
                        report.chunks_unchecked.append(entry.asset)
                if margin_alone is not None:
                    points = {e.asset: V for e, V in zip(package.entries, commitments, strict=True)}
                    pendings.append(
                        check_margin(
                            bundle, manifest, package, points, margin_alone, liabilities, debts, pc_gens, report,
                            earlier,
                        )
                    )
                verify_pending(pendings)
            counter = ChunkProgress(sum(manifest.assets[k].chunk_count for k in indices), progress)
            for entry, V, entry_report, k in zip(package.entries, commitments, entries, indices, strict=True):
                if not isinstance(entry, PackageEntry):
                    continue
                if own_chunk_only:
                    _check_own_chunk(bundle, manifest, k, liabilities[k], entry, V, pc_gens, entry_report)
                else:
                    _check_whole_asset(
                        bundle, manifest, k, liabilities[k], entry, V, pc_gens, entry_report, batch_chunks, counter
                    )
        _claims(package, manifest, report)
        report.ok = True
    except ProofError as exc:
        report.fail(exc)
        exc.report = report
        raise
    return report
