r"""The margin step of a format-4 bundle (``docs/FORMAT.md`` §14.4-§14.5, ``circuits/notes/42-margin.md``).

:func:`verify_margin` is step 6 of "Verification, version 4". One sequential pass over
``margin.records.bin`` and ``margin.proofs.bin``, account by account:

* **The record** is parsed (:meth:`circuits.margin.MarginRecord.from_bytes`: length, asset
  positions below the asset count and strictly increasing, leaf indices below their asset's
  leaf count, every point decoded with the subgroup check and not the identity) and its id
  must be greater than the previous record's; each failure is **malformed** (section
  ``margin.records.bin record <j>``) and reported at once. Its leaf hash is pushed into the
  records tree (§5.1's shape).
* **The named leaves.** Each slot's leaf is marked in a per-asset bitmap (``leaf_count`` bits:
  1/640 of the leaves file); a leaf marked twice is **false**. The leaf record is read by
  offset from ``<S>.leaves.bin`` (80 bytes, never the file), decoded with full validation,
  and its id must be the record's margin leaf id (§14.4; **false** otherwise). The first such
  false failure is kept and reported after the root comparison, as §14.5 orders it.
* **Sums.** ``C_D,a += D_s`` and ``Σ (E_s - W_s)`` per asset (the pledged collateral, for a
  disclosed opening).
* **The value list** (:func:`circuits.margin.value_list`, ``Q`` points per record) and, after
  each group's ``G`` records, the group's parts (proofs record ``g``): a derived point that is
  the identity is **false**, a proof record that does not parse **malformed**, a proof that does
  not verify **false**, all section ``margin.proofs.bin record <g>``. Proofs are batched
  (:class:`verifier.batch.ProofBatch`, about ``batch_accounts`` accounts per MSM); the lowest
  failing group is reported, after every failure of the records.

Then, in §14.5's order: the root against ``margin.root`` (**false**, section
``margin.records.bin``), the kept record failure, every asset's ``debt_commitment`` against
its sum (**false**, section ``manifest.assets[<a>].debt_commitment``), then the proofs.

Memory: one group of records, their leaves and the pending batch at a time, the tree's
``O(log M)`` stack and one bit per leaf of each asset. Both margin files are re-hashed as
they are read (:class:`verifier.reading.RecordReader`), so a file changed since step 2 is
malformed; leaf records are read by offset from the leaves files that step 3' streamed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from circuits.backends import GroupBackend
from circuits.datafiles import LEAF_RECORD_SIZE, MAGIC_LEAVES, range_record_size
from circuits.errors import FormatError, ProofError, VerificationError
from circuits.generators import PedersenGens
from circuits.group import Point
from circuits.manifest import MANIFEST_NAME, Manifest
from circuits.margin import (
    MARGIN_PROOFS_NAME,
    MARGIN_RECORDS_NAME,
    MarginParams,
    MarginPartStatement,
    MarginRecord,
    margin_leaf_hash,
    margin_leaf_id,
    value_labels,
    value_list,
)
from circuits.merkle import MerkleAccumulator
from circuits.proofs import RangeProof
from verifier.batch import ProofBatch
from verifier.reading import RecordFile, RecordReader, decode_leaf, margin_section
from verifier.report import MarginReport

__all__: list[str] = []

#: Keys of the proofs batch: ``group << PART_BITS | part`` (a group has at most 11 parts: ``G*Q <= 1024``).
PART_BITS = 5


@dataclass(frozen=True)
class MarginTotals:
    """What the margin step computed, per asset in manifest order."""

    #: ``C_D``: the sum of the ``D`` of every slot naming the asset (equal to its ``debt_commitment``).
    debt: tuple[Point, ...]
    #: ``Σ (E_s - W_s)`` over the same slots: the commitment to the collateral pledged in the asset.
    collateral: tuple[Point, ...]


def proofs_where(key: int) -> tuple[str, str, str]:
    """Name the group of a proofs-batch key: ``("margin.proofs.bin record <g>", file, "record <g> part <p>")``."""
    j, p = key >> PART_BITS, key & ((1 << PART_BITS) - 1)
    return f"{MARGIN_PROOFS_NAME} record {j}", MARGIN_PROOFS_NAME, f"record {j} part {p}"


def _records_error(j: int, message: str) -> VerificationError:
    where = f"{MARGIN_RECORDS_NAME} record {j}"
    return VerificationError(f"{where}: {message}", section=where, file=MARGIN_RECORDS_NAME, field=f"record {j}")


def _proofs_error(cls: type[ProofError], j: int, message: str) -> ProofError:
    where = f"{MARGIN_PROOFS_NAME} record {j}"
    return cls(f"{where}: {message}", section=where, file=MARGIN_PROOFS_NAME, field=f"record {j}")


def parse_group_proofs(data: bytes, params: MarginParams, j: int, backend: GroupBackend) -> list[RangeProof]:
    """Split proofs record ``j`` (group ``j``) into its parts' range proofs, in part order (§14.4).

    Raises:
        FormatError: a part does not parse; section ``margin.proofs.bin record <j>``.
    """
    proofs = []
    offset = 0
    for p, m in enumerate(params.parts):
        size = range_record_size(m)
        try:
            proofs.append(RangeProof.from_bytes(data[offset : offset + size], backend))
        except FormatError as exc:
            raise _proofs_error(FormatError, j, f"part {p} ({m} values): {exc}") from exc
        offset += size
    return proofs


def identity_value(values: Sequence[Point], params: MarginParams) -> str | None:
    """Return the label of the first derived value that is the identity, else ``None``.

    The record's own points were refused as the identity when parsed; the derived ones
    (``Rho``, the slacks, ``Hi``) are checked here (§14.4: the account is then false).
    """
    for label, point in zip(value_labels(params), values, strict=True):
        if point.is_identity():
            return label
    return None


class LeafFiles:
    """The leaves files of the bundle's assets, opened once each for reads by offset (80 bytes a record)."""

    def __init__(self, bundle: Path, manifest: Manifest) -> None:
        """Remember where the files are; each is opened (size and header checked) when first read."""
        self._bundle = bundle
        self._manifest = manifest
        self._files: dict[int, RecordFile] = {}

    def record(self, asset: int, leaf: int) -> bytes:
        """Return leaf record ``leaf`` of asset position ``asset``."""
        f = self._files.get(asset)
        if f is None:
            a = self._manifest.assets[asset]
            f = RecordFile(self._bundle / a.leaves.name, a.leaves, MAGIC_LEAVES, a.leaf_count, LEAF_RECORD_SIZE)
            self._files[asset] = f
        return f.record(leaf)

    def close(self) -> None:
        """Close every opened file."""
        for f in self._files.values():
            f.close()
        self._files.clear()


def verify_margin(
    bundle: Path,
    manifest: Manifest,
    debt_commitments: Sequence[Point],
    pc_gens: PedersenGens,
    report: MarginReport,
    batch_accounts: int = 16,
) -> MarginTotals:
    """Step 6 of §14.5 for a bundle whose files passed step 2 and whose assets passed steps 3' to 4'.

    ``debt_commitments`` are the manifest's decoded ``debt_commitment`` points, in manifest
    order. Sets ``report.records_ok``, ``debt_ok`` and ``proofs_ok`` as each check passes.

    Raises:
        FormatError: a record or proof record does not parse, or a file changed since step 2.
        VerificationError: the records' root, a leaf named twice or not carrying its margin leaf
            id, a debt total, a derived identity or a proof is false.
    """
    margin = margin_section(manifest)
    assert margin is not None, "verify_margin is for format-4 bundles"
    params = margin.params
    be = pc_gens.B.backend
    add, neg = be.add, be.neg
    n_assets = len(manifest.assets)
    leaf_counts = [a.leaf_count for a in manifest.assets]
    symbols = [a.symbol for a in manifest.assets]
    marks = [bytearray((n + 7) // 8) for n in leaf_counts]
    debt = [be.identity() for _ in range(n_assets)]
    collateral = [be.identity() for _ in range(n_assets)]
    tree = MerkleAccumulator()
    batch = ProofBatch(max(1, batch_accounts // params.group_size) * len(params.parts), proofs_where)
    group: list[tuple[MarginRecord, list[Point]]] = []
    records_failure: VerificationError | None = None
    previous_id = b""
    record_size, proofs_size = params.record_size, params.proofs_record_size
    leaves = LeafFiles(bundle, manifest)
    try:
        with (
            RecordReader(bundle / margin.records.name, margin.records) as records,
            RecordReader(bundle / margin.proofs.name, margin.proofs) as proofs,
        ):
            for j in range(params.accounts):
                data = records.read(record_size)
                record = MarginRecord.from_bytes(data, params, j, leaf_counts, be)
                if record.record_id <= previous_id:
                    where = f"{MARGIN_RECORDS_NAME} record {j}"
                    raise FormatError(
                        f"{where}: record id is not greater than the previous one",
                        section=where, file=MARGIN_RECORDS_NAME, field=f"record {j}",
                    )
                previous_id = record.record_id
                tree.push(margin_leaf_hash(data))
                points = []
                for s, slot in enumerate(record.slots):
                    a, i = slot.asset, slot.leaf
                    byte, bit = divmod(i, 8)
                    if marks[a][byte] >> bit & 1 and records_failure is None:
                        records_failure = _records_error(
                            j, f"slot {s}: leaf {i} of {symbols[a]} is named by an earlier slot (pledged twice)"
                        )
                    marks[a][byte] |= 1 << bit
                    leaf = leaves.record(a, i)
                    if leaf[:32] != margin_leaf_id(record.record_id, symbols[a]) and records_failure is None:
                        records_failure = _records_error(
                            j, f"slot {s}: leaf {i} of {symbols[a]} does not carry this record's margin leaf id"
                        )
                    E = decode_leaf(i, leaf[32:], be, manifest.assets[a].leaves.name)
                    points.append(E)
                    debt[a] = add(debt[a], slot.D.raw)
                    collateral[a] = add(collateral[a], add(E.raw, neg(slot.W.raw)))
                group.append((record, points))
                if len(group) < params.group_size:
                    continue
                g = j // params.group_size
                proof_record = proofs.read(proofs_size)
                if batch.failure is None:  # else the lowest failing group is kept; later ones cannot change it
                    _add_group(batch, params, manifest, margin.root, g, group, proof_record, pc_gens)
                    if batch.full():
                        batch.flush()
                group = []
            records.finish()
            proofs.finish()
    finally:
        leaves.close()

    root = tree.root()
    if root != margin.root:
        raise VerificationError(
            f"{MARGIN_RECORDS_NAME}: the records tree's root is {root.hex()}, margin.root is {margin.root.hex()}",
            section=MARGIN_RECORDS_NAME, file=MARGIN_RECORDS_NAME,
        )
    if records_failure is not None:
        raise records_failure
    report.records_ok = True
    sums = tuple(Point(p, be) for p in debt)
    for a, (C_D, stated) in enumerate(zip(sums, debt_commitments, strict=True)):
        if C_D != stated:
            where = f"manifest.assets[{a}].debt_commitment"
            raise VerificationError(
                f"{where}: the {symbols[a]} debt commitment is not the sum of the debts of the margin slots naming "
                f"{symbols[a]}",
                section=where, file=MANIFEST_NAME, field=f"assets[{a}].debt_commitment",
            )
    report.debt_ok = True
    batch.flush()  # the last pending proofs: checked only once the records and debt totals hold (§14.5 order)
    if batch.failure is not None:
        raise batch.failure
    report.proofs_ok = True
    return MarginTotals(sums, tuple(Point(p, be) for p in collateral))


def _add_group(
    batch: ProofBatch,
    params: MarginParams,
    manifest: Manifest,
    root: bytes,
    g: int,
    group: list[tuple[MarginRecord, list[Point]]],
    proof_record: bytes,
    pc_gens: PedersenGens,
) -> None:
    """Derive group ``g``'s value list (its records' lists, in order) and queue its parts (or its failure)."""
    key = g << PART_BITS
    values: list[Point] = []
    for i, (record, points) in enumerate(group):
        account_values = value_list(params, record, points, pc_gens)
        label = identity_value(account_values, params)
        if label is not None:
            j = g * params.group_size + i
            message = f"record {j}'s derived value {label!r} is the identity"
            batch.fail(key, _proofs_error(VerificationError, g, message))
            return
        values += account_values
    try:
        parts = parse_group_proofs(proof_record, params, g, pc_gens.B.backend)
    except FormatError as exc:
        batch.fail(key, exc)
        return
    for statement, proof in zip(
        MarginPartStatement.parts_of(params, manifest.exchange, manifest.round, root, g), parts, strict=True
    ):
        o, m = statement.offset, statement.size
        batch.add(key | statement.part, statement.range_statement(values[o : o + m]), proof)
