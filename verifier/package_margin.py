r"""The customer check of a margin account (package format 3, ``docs/FORMAT.md`` §14.6, ``notes/42``).

**The package alone** (:func:`check_margin_alone`): the record id is
``SHA256(tag_margin_id || frame(T) || frame(customer_id) || margin_salt)``, each real slot's
unpledged equity plus its pledged collateral is the balance of the package's entry for that
asset, and the commitments ``D, W, V, H, Lo`` of the record are computed from the package's
amounts and blindings. (The entries of the real slots' assets carry the margin leaf ids of the
record, which §8.1's step 4 recomputes: :func:`slot_leaf_ids`.)

**With the bundle** (:func:`check_margin`), reading records by offset only, never a whole file
(:class:`verifier.reading.RecordFile`):

1. the manifest's margin section has the package's record count, slot count and collateral
   types; each collateral value is ``floor(P*c / 10^d)`` and each haircut ``100*h(V)`` under the
   manifest's price and schedule (**false**, section ``package.margin``);
2. record ``record_index`` of ``margin.records.bin`` parses (**malformed**), has the package's id,
   and its audit path leads to ``margin.root``; its slots name the package's slots; every
   ``D, W, V, H, Lo`` is the commitment of the package's opening (**false**, ``package.margin``);
3. the leaves of the dummy slots are read by offset from their assets' leaves files; each named
   leaf carries the record's margin leaf id (**false**, section ``<S>.leaves.bin record <i>``);
4. the account's group ``g = record_index // G``: the other records ``g*G .. g*G + G - 1`` are read
   by offset (parsed, **malformed** otherwise) with their slots' leaves; record ``g`` of
   ``margin.proofs.bin`` parses (**malformed**), the group's value list (each record's
   :func:`circuits.margin.value_list`, in record order) has no identity (**false**), and its parts' proofs go into
   the check's one batch with the spot entries' proofs (:func:`verifier.package_tree.verify_pending`),
   as do the solvency proofs of the slots' assets that are not among the package's entries
   (version-4 statements, ``C_L - C_D`` from the manifest).

If a leaves file the group needs is absent or unreadable, the account's proofs cannot be checked:
the record, its path and its openings still are, and the caller marks the run partial. What the
check proves, and that the debt totals being the sums of all records rests on ``solvency verify``,
is stated by the verdict (:mod:`verifier.package`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from circuits.datafiles import LEAF_RECORD_SIZE, MAGIC_LEAVES, MAGIC_SOLVENCY, SOLVENCY_RECORD_SIZE
from circuits.errors import FormatError, ProofError, VerificationError
from circuits.generators import PedersenGens
from circuits.group import Point
from circuits.manifest import Manifest
from circuits.margin import (
    MAGIC_MARGIN_PROOFS,
    MAGIC_MARGIN_RECORDS,
    MarginParams,
    MarginPartStatement,
    MarginRecord,
    collateral_value,
    margin_leaf_hash,
    margin_leaf_id,
    margin_record_id,
    scaled_haircut,
    value_list,
)
from circuits.merkle import verify_merkle_path
from circuits.package import MarginEntry, Package
from circuits.proofs import RangeProof
from verifier.bundle import solvency_statement
from verifier.margin import identity_value, parse_group_proofs
from verifier.package_tree import Pending, ProofItem, leaves_absent
from verifier.reading import RecordFile, decode_leaf, margin_section
from verifier.report import MarginAccountReport, PackageReport, format_units

__all__: list[str] = []

SECTION = "package.margin"


def _fail(report: PackageReport, name: str, message: str, section: str = SECTION, *, file: str | None = "package",
          field: str | None = "margin") -> VerificationError:
    """Record a failed margin check ``name`` and return the error to raise."""
    report.add(name, False, message)
    return VerificationError(f"{section}: {message}", section=section, file=file, field=field)


def slot_leaf_ids(package: Package) -> dict[str, tuple[bytes, bytes]]:
    """Return, per asset of a real slot, the ``(leaf_id, leaf_salt)`` its package entry must carry (§14.6).

    The leaf id is the margin leaf id of the record whose id derives from the customer id and
    ``margin_salt``; the salt is ``margin_salt``. Empty for a package without a margin account.
    """
    margin = package.margin
    if margin is None:
        return {}
    record_id = margin_record_id(package.round, package.customer_id, margin.margin_salt)
    return {s.asset: (margin_leaf_id(record_id, s.asset), margin.margin_salt) for s in margin.slots if not s.dummy}


@dataclass(frozen=True)
class MarginAlone:
    """What the package alone gives of the margin account: the commitments its record must hold."""

    #: Per slot: ``D``, ``W``, and per type ``V`` and ``H``.
    D: tuple[Point, ...]
    W: tuple[Point, ...]
    V: tuple[tuple[Point, ...], ...]
    H: tuple[tuple[Point, ...], ...]
    Lo: Point


def check_margin_alone(
    package: Package, package_file: str, pc_gens: PedersenGens, report: PackageReport
) -> MarginAlone:
    """The margin checks a package allows on its own (§14.6): record id, amounts, commitments.

    Raises:
        VerificationError: the record id is not the hash of round, customer id and salt, or a real
            slot's unpledged equity and collateral do not add up to the entry's balance.
    """
    margin = package.margin
    assert margin is not None, "a package with a margin account"
    if margin_record_id(package.round, package.customer_id, margin.margin_salt) != margin.record_id:
        raise _fail(
            report, "margin record id", "the margin record id is not the hash of round, customer id and margin salt",
            file=package_file, field="margin.record_id",
        )
    report.add("margin record id", True, f"margin record id {margin.record_id.hex()[:16]}... derives from your "
                                         "customer id and margin salt")
    balances = {e.asset: e.amount for e in package.entries}
    for s, slot in enumerate(margin.slots):
        if slot.dummy:
            continue
        pledged = sum(c.amount for c in slot.collateral)
        if slot.unpledged + pledged != balances[slot.asset]:
            where = f"{SECTION}.slots[{s}]"
            raise _fail(
                report, "margin amounts",
                f"your {slot.asset} unpledged equity and pledged collateral do not add up to your {slot.asset} balance",
                where, file=package_file, field=f"margin.slots[{s}]",
            )
    report.add("margin amounts", True, "in each of your margin slots, unpledged equity plus pledged collateral is "
                                       "your balance in that asset")
    commit = pc_gens.commit
    return MarginAlone(
        tuple(commit(s.debt, s.debt_blinding) for s in margin.slots),
        tuple(commit(s.unpledged, s.unpledged_blinding) for s in margin.slots),
        tuple(tuple(commit(c.value, c.value_blinding) for c in s.collateral) for s in margin.slots),
        tuple(tuple(commit(c.haircut, c.haircut_blinding) for c in s.collateral) for s in margin.slots),
        commit(margin.lo, margin.lo_blinding),
    )


def _check_shape(manifest: Manifest, params: MarginParams, margin: MarginEntry, report: PackageReport) -> list[int]:
    """Step 1: the package's record count, slots and types are the manifest's, and its values are the schedule's.

    Returns the manifest position of each slot's asset.
    """
    if margin.record_count != params.accounts or len(margin.slots) != params.slots or (
        margin.collateral_types != params.collateral_types
    ):
        raise _fail(
            report, "margin parameters",
            f"the package's margin account ({margin.record_count} records, {len(margin.slots)} slots, types "
            f"{', '.join(margin.collateral_types)}) does not fit the bundle's margin section ({params.accounts} "
            f"records, {params.slots} slots, types {', '.join(params.collateral_types)})",
        )
    symbols = [a.symbol for a in manifest.assets]
    positions = []
    for s, slot in enumerate(margin.slots):
        if slot.asset not in symbols:
            raise _fail(report, "margin parameters", f"slot {s}: the bundle has no asset {slot.asset}")
        a = symbols.index(slot.asset)
        positions.append(a)
        asset = params.assets[a]
        for k, c in enumerate(slot.collateral):
            value = collateral_value(asset.price, c.amount, asset.decimals)
            haircut = scaled_haircut(asset.haircuts[k], c.value)
            if c.value != value or c.haircut != haircut:
                what = "value" if c.value != value else "haircut value"
                raise _fail(
                    report, "margin parameters",
                    f"slot {s} ({slot.asset}, {c.type}): the package's collateral {what} is not the one the "
                    f"bundle's price and haircut schedule give ({value if c.value != value else haircut})",
                )
    report.add(
        "margin parameters", True,
        "the bundle's margin section has your record count, slot count and collateral types, and each collateral "
        "value and haircut value of your package is the one its price and haircut schedule give",
    )
    return positions


def _check_record(
    margin: MarginEntry, record: MarginRecord, data: bytes, root: bytes, positions: Sequence[int],
    alone: MarginAlone, report: PackageReport,
) -> None:
    """Step 2: the record's id, its path to ``margin.root``, its slots and its commitments are the package's."""
    if record.record_id != margin.record_id:
        raise _fail(report, "margin record", f"record {margin.record_index} of the bundle is another account's")
    try:
        found = verify_merkle_path(margin_leaf_hash(data), margin.record_index, margin.record_count, margin.merkle_path)
    except FormatError as exc:  # the schema fixes the length; kept for a path checked against another count
        where = f"{SECTION}.merkle_path"
        report.add("margin record", False, str(exc))
        raise FormatError(f"{where}: {exc}", section=where, field="margin.merkle_path") from exc
    if found != root:
        raise _fail(
            report, "margin record", "your margin record's audit path does not lead to the bundle's margin.root"
        )
    report.add(
        "margin record", True,
        f"record {margin.record_index} of the {margin.record_count} margin records (dummy accounts included) is "
        f"yours, and its audit path reaches margin.root {root.hex()[:16]}...",
    )
    for s, (slot, named, a) in enumerate(zip(margin.slots, record.slots, positions, strict=True)):
        if (named.asset, named.leaf) != (a, slot.leaf_index):
            raise _fail(
                report, "margin slots",
                f"slot {s} of your record names another leaf than your package's ({slot.asset} leaf {slot.leaf_index})",
            )
    report.add("margin slots", True, f"the {len(margin.slots)} slots of your record name your package's leaves")
    for s, (slot, named) in enumerate(zip(margin.slots, record.slots, strict=True)):
        pairs = [("debt", named.D, alone.D[s]), ("unpledged equity", named.W, alone.W[s])]
        for k, c in enumerate(slot.collateral):
            pairs += [(f"{c.type} value", named.V[k], alone.V[s][k]), (f"{c.type} haircut", named.H[k], alone.H[s][k])]
        for what, got, expected in pairs:
            if got != expected:
                raise _fail(
                    report, "margin openings",
                    f"slot {s} ({slot.asset}): the record's {what} commitment is not the one your package opens",
                )
    if record.Lo != alone.Lo:
        raise _fail(report, "margin openings", "the record's Lo commitment is not the one your package opens")
    report.add(
        "margin openings", True,
        "every commitment of your record (debt, unpledged equity, collateral values, haircut values, Lo) opens to "
        "your package's amounts",
    )


def check_margin(
    bundle: Path,
    manifest: Manifest,
    package: Package,
    entry_points: Mapping[str, Point],
    alone: MarginAlone,
    liabilities: Sequence[Point],
    debts: Sequence[Point],
    pc_gens: PedersenGens,
    report: PackageReport,
    earlier: Callable[[], None],
) -> Pending:
    """§14.6 with the bundle: steps 1 to 4 of this module; returns the account's proofs for the batch.

    Sets ``report.margin`` (:class:`~verifier.report.MarginAccountReport`) before it starts.

    ``entry_points`` are the package entries' commitments ``V`` by asset (the real slots' leaves);
    ``liabilities`` and ``debts`` the manifest's decoded commitments, in manifest order.
    ``earlier()`` verifies the spot entries' proofs and is called before a failure here is raised.

    Raises:
        FormatError: a margin file is not regular or has another size or header, or a record does not parse.
        VerificationError: any comparison of §14.6 fails, or a derived value is the identity.
    """
    margin = package.margin
    section = margin_section(manifest)
    assert margin is not None and section is not None, "a margin account and a margin section"
    params = section.params
    result = MarginAccountReport(margin.record_index, margin.record_count, len(margin.slots))
    report.margin = result
    files: list[RecordFile] = []
    try:
        return _check_margin_files(
            bundle, manifest, package, margin, section.root, params, entry_points, alone, liabilities, debts,
            pc_gens, report, result, files,
        )
    except ProofError:
        earlier()
        raise
    finally:
        for f in files:
            result.bytes_read[f.section] = f.bytes_read
            f.close()


def _check_margin_files(
    bundle: Path,
    manifest: Manifest,
    package: Package,
    margin: MarginEntry,
    root: bytes,
    params: MarginParams,
    entry_points: Mapping[str, Point],
    alone: MarginAlone,
    liabilities: Sequence[Point],
    debts: Sequence[Point],
    pc_gens: PedersenGens,
    report: PackageReport,
    result: MarginAccountReport,
    files: list[RecordFile],
) -> Pending:
    be = pc_gens.B.backend
    section = margin_section(manifest)
    assert section is not None
    positions = _check_shape(manifest, params, margin, report)
    j = margin.record_index

    def open_file(path: Path, *args: Any) -> RecordFile:
        f = RecordFile(path, *args)
        files.append(f)
        return f

    records = open_file(bundle / section.records.name, section.records, MAGIC_MARGIN_RECORDS, params.accounts,
                        params.record_size)
    data = records.record(j)
    record = MarginRecord.from_bytes(data, params, j, [a.leaf_count for a in manifest.assets], be)
    _check_record(margin, record, data, root, positions, alone, report)

    # 3. the leaves: the real slots' are the package's entries; the dummy slots' are read by offset.
    leaf_files: dict[int, RecordFile] = {}
    points: list[Point] = []
    for s, (slot, a) in enumerate(zip(margin.slots, positions, strict=True)):
        asset = manifest.assets[a]
        if not slot.dummy:
            points.append(entry_points[slot.asset])
            continue
        if leaves_absent(bundle / asset.leaves.name):
            report.add(
                "margin leaves", True,
                f"NOT checked: the {asset.symbol} leaves file is absent or unreadable, so dummy slot {s}'s leaf "
                f"could not be read",
            )
            return Pending([], lambda exc: None, lambda: None)
        leaves = leaf_files.get(a)
        if leaves is None:
            leaves = open_file(bundle / asset.leaves.name, asset.leaves, MAGIC_LEAVES, asset.leaf_count,
                               LEAF_RECORD_SIZE)
            leaf_files[a] = leaves
        leaf = leaves.record(slot.leaf_index)
        where = f"{asset.leaves.name} record {slot.leaf_index}"
        if leaf[:32] != margin_leaf_id(record.record_id, asset.symbol):
            raise _fail(
                report, "margin leaves",
                f"the leaf named by dummy slot {s} does not carry your record's margin leaf id", where,
                file=asset.leaves.name, field=f"record {slot.leaf_index}",
            )
        try:
            points.append(decode_leaf(slot.leaf_index, leaf[32:], be, asset.leaves.name))
        except FormatError as exc:
            report.add("margin leaves", False, str(exc))
            raise
    report.add("margin leaves", True, "the leaves of your record's slots are your leaves and, for padding slots, "
                                      "zero leaves carrying your record's margin leaf id")

    # 4. the group's proofs: records g*G .. g*G + G - 1 (the other records and their leaves read by offset), and
    #    the solvency proofs of slot assets the entries do not cover.
    values = value_list(params, record, points, pc_gens)
    label = identity_value(values, params)
    name = section.proofs.name
    G = params.group_size
    g = j // G
    if label is not None:
        where = f"{name} record {g}"
        raise _fail(report, "margin proofs", f"the derived value {label!r} is the identity", where,
                    file=name, field=f"record {g}")
    leaf_counts = [a.leaf_count for a in manifest.assets]
    group_values: list[Point] = []
    for i in range(g * G, (g + 1) * G):
        if i == j:
            group_values += values
            continue
        other = MarginRecord.from_bytes(records.record(i), params, i, leaf_counts, be)
        other_points = []
        for slot_i in other.slots:
            asset = manifest.assets[slot_i.asset]
            f = leaf_files.get(slot_i.asset)
            if f is None:
                if leaves_absent(bundle / asset.leaves.name):
                    report.add(
                        "margin proofs", True,
                        f"NOT checked: the {asset.symbol} leaves file is absent or unreadable, so the leaves of "
                        f"record {i}, which shares your account's proofs, could not be read",
                    )
                    return Pending([], lambda exc: None, lambda: None)
                f = open_file(bundle / asset.leaves.name, asset.leaves, MAGIC_LEAVES, asset.leaf_count,
                              LEAF_RECORD_SIZE)
                leaf_files[slot_i.asset] = f
            other_points.append(decode_leaf(slot_i.leaf, f.record(slot_i.leaf)[32:], be, asset.leaves.name))
        other_values = value_list(params, other, other_points, pc_gens)
        other_label = identity_value(other_values, params)
        if other_label is not None:
            raise _fail(report, "margin proofs", f"record {i}'s derived value {other_label!r} is the identity",
                        f"{name} record {g}", file=name, field=f"record {g}")
        group_values += other_values
    proofs = open_file(bundle / section.proofs.name, section.proofs, MAGIC_MARGIN_PROOFS, params.groups,
                       params.proofs_record_size)
    try:
        parts = parse_group_proofs(proofs.record(g), params, g, be)
    except FormatError as exc:
        report.add("margin proofs", False, str(exc))
        raise
    items: list[ProofItem] = []
    for statement, proof in zip(
        MarginPartStatement.parts_of(params, manifest.exchange, manifest.round, root, g), parts, strict=True
    ):
        o, m = statement.offset, statement.size
        items.append((f"{name} record {g}", name, f"record {g} part {statement.part}",
                      statement.range_statement(group_values[o : o + m]), proof))
    covered = {e.asset for e in package.entries}
    extra = sorted({a for a, slot in zip(positions, margin.slots, strict=True) if slot.asset not in covered})
    for a in extra:
        asset = manifest.assets[a]
        solvency = open_file(bundle / asset.solvency.name, asset.solvency, MAGIC_SOLVENCY, 1, SOLVENCY_RECORD_SIZE)
        try:
            proof = RangeProof.from_bytes(solvency.record(0), be)
        except FormatError as exc:
            report.add("margin solvency", False, str(exc))
            raise FormatError(f"{asset.solvency.name}: {exc}", section=asset.solvency.name,
                              file=asset.solvency.name) from exc
        solvency_range = solvency_statement(manifest, asset, liabilities[a], debts[a]).range_statement(pc_gens)
        if solvency_range.commitments[0].is_identity():
            raise _fail(report, "margin solvency", "V_s = den*R*B - num*(C_L - C_D) is the identity",
                        asset.solvency.name, file=asset.solvency.name, field=None)
        items.append((asset.solvency.name, asset.solvency.name, "", solvency_range, proof))
    result.proofs = len(parts)
    extra_symbols = [manifest.assets[a].symbol for a in extra]

    def on_fail(exc: VerificationError) -> None:
        if exc.file == name:
            report.add("margin proofs", False, str(exc))
        else:
            report.add("margin proofs", True, f"the {len(parts)} range proofs of your margin account's group verify")
            report.add("margin solvency", False, str(exc))

    def on_pass() -> None:
        result.proofs_checked = True
        shared = f" (shared with the {G - 1} other records of your group)" if G > 1 else ""
        report.add(
            "margin proofs", True,
            f"the {len(parts)} range proofs of your account's {params.values_per_account} values{shared} verify: "
            f"every debt, unpledged equity, floor remainder, collateral value, tier slack and excess limb is in "
            f"[0, 2^64)",
        )
        if extra_symbols:
            report.add(
                "margin solvency", True,
                f"the solvency proofs of {', '.join(extra_symbols)} (assets of your padding slots) verify against "
                f"C_L - C_D",
            )

    return Pending(items, on_fail, on_pass)


def margin_values(package: Package, manifest: Manifest) -> tuple[str, str]:
    """Return the account's haircut collateral value and debt value as decimal strings of the quote currency.

    The haircut value is ``Σ H / 100`` value units; the debt value ``Σ P*d / 10^d`` (exact).
    """
    margin, section = package.margin, margin_section(manifest)
    assert margin is not None and section is not None
    params = section.params
    q, d_max = params.value_decimals, params.d_max
    symbols = [a.symbol for a in manifest.assets]
    haircut = sum(c.haircut for s in margin.slots for c in s.collateral)
    debt = 0
    for s in margin.slots:
        a = params.assets[symbols.index(s.asset)]
        debt += a.price * s.debt * 10 ** (d_max - a.decimals)
    return _trim(format_units(haircut, q + 2)), _trim(format_units(debt, q + d_max))


def _trim(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


#: The ``proven`` / ``not_proven`` helpers of the verdict (:func:`verifier.package._claims`).
ClaimFn = Callable[..., None]


def margin_claims(
    package: Package, manifest: Manifest | None, report: PackageReport, proven: ClaimFn, not_proven: ClaimFn
) -> None:
    """The verdict's sentences for the customer's margin account, in the style of the spot lines.

    They state what this check established and nothing more: the record committed, its openings,
    (M) for this account; that the debt totals are the sums of all records is ``solvency verify``'s.
    """
    margin = package.margin
    assert margin is not None
    real = [s for s in margin.slots if not s.dummy]
    decimals = {e.asset: e.decimals for e in package.entries}
    parts = []
    for s in real:
        d = decimals[s.asset]
        items = [f"debt {format_units(s.debt, d)} {s.asset}"] if s.debt else []
        items += [
            f"{format_units(c.amount, d)} {s.asset} pledged as {c.type} collateral" for c in s.collateral if c.amount
        ]
        parts.append(", ".join(items) if items else f"no {s.asset} debt and no {s.asset} pledged")
    summary = "; ".join(parts)
    alone_checks = ((None, "margin record id"), (None, "margin amounts"))
    if manifest is None or report.margin is None:
        proven(
            "margin_in_package",
            f"Your margin account's record id derives from your customer id, and your package's margin amounts are "
            f"consistent with your balances ({summary}).",
            None, *alone_checks,
        )
        not_proven(
            "margin_unchecked",
            "PARTIAL CHECK (no --bundle): your margin record, its openings and its collateral proofs were NOT "
            "looked up in any bundle.",
        )
        return
    q = margin_section(manifest)
    assert q is not None
    haircut, debt_value = margin_values(package, manifest)
    record_checks = (*alone_checks, (None, "margin parameters"), (None, "margin record"), (None, "margin slots"))
    proven(
        "margin_committed",
        f"Your margin account is record {margin.record_index} of the bundle's {margin.record_count} margin records "
        f"(padded with dummy accounts): its audit path reaches margin.root {q.root.hex()}, which every margin and "
        f"solvency proof of the bundle binds, and its {len(margin.slots)} slots name your leaves.",
        None, *record_checks,
    )
    proven(
        "margin_openings",
        f"Your record opens as your package says: {summary}; each collateral value and haircut value is the one "
        f"the bundle's price and haircut schedule give.",
        None, *record_checks, (None, "margin openings"),
    )
    if report.margin.proofs_checked:
        proven(
            "margin_condition",
            f"Condition (M) holds for your account: its {report.margin.proofs} range proofs verify, so the haircut "
            f"value of your pledged collateral ({haircut} in the quote currency, from floor-rounded collateral "
            f"values) covers the value of your debt ({debt_value}, exact), no collateral exceeds your "
            f"balance, and every amount is non-negative.",
            None, *record_checks, (None, "margin openings"), (None, "margin leaves"), (None, "margin proofs"),
        )
    else:
        not_proven(
            "margin_proofs_unchecked",
            "PARTIAL CHECK: a leaves file of one of your padding slots was absent or unreadable, so your margin "
            "account's collateral proofs were NOT checked: it was NOT checked here that your collateral covers "
            "your debt.",
        )
    not_proven(
        "margin_debt_totals",
        "That each asset's debt commitment C_D is exactly the sum of the debts of every margin record (so that "
        "no debt is subtracted from the liabilities without a record whose collateral proof holds) is checked "
        "by `solvency verify`, not by this check.",
    )
