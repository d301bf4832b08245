"""``solvency verify`` of format-4 bundles: the margin step (docs/FORMAT.md §14.4-§14.5) and its report.

Honest bundles come from ``margin_fixture.make_margin_bundle`` (tiny: two assets, two records of two
slots, one collateral type, a two-tier BTC schedule). Every field of a margin record, the proofs file,
the manifest's ``margin`` object and the per-asset margin keys is tampered with, the manifest re-signed
where that lets the deeper check fire, and the exact error class and section asserted. A selection of
cases runs on both curve backends, which must agree on every verdict.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from margin_fixture import (
    HEADER,
    Made,
    default_spec,
    load_manifest,
    make_margin_bundle,
    record_offset,
    resign,
    rewrite_file,
    rewrite_manifest,
    slot_offset,
)
from typer.testing import CliRunner

from circuits.backends import get_backend
from circuits.datafiles import range_record_size
from circuits.errors import FormatError, ProofError, VerificationError
from circuits.generators import PedersenGens
from circuits.margin import AssetMargin, MarginParams, MarginPartStatement, Tier, margin_leaf_hash
from circuits.merkle import MerkleTree
from circuits.proofs import RangeProof
from cli.main import app
from verifier import verify_range
from verifier.bundle import verify_bundle
from verifier.inspect import file_error, inspect_bundle

runner = CliRunner()
PC = PedersenGens.default(get_backend("fast"))
#: A valid point that is no commitment of the bundle.
OTHER_POINT = PC.commit(12345, 678).to_bytes()
IDENTITY = bytes([0xC0]) + bytes(47)
#: Not a point: every flag bit set and a non-zero x (the infinity flag with a non-zero body).
NOT_A_POINT = bytes([0xFF]) * 48
RECORDS = "margin.records.bin"
PROOFS = "margin.proofs.bin"


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory) -> Made:
    return make_margin_bundle(tmp_path_factory.mktemp("v4") / "bundle")


@pytest.fixture(scope="module")
def two_groups(tmp_path_factory: pytest.TempPathFactory) -> Made:
    """Sixteen records (one account, fifteen dummies): two groups of G = 8, so moves between groups are tried."""
    made = make_margin_bundle(tmp_path_factory.mktemp("v4g") / "bundle", default_spec(records=16))
    assert made.params.group_size == 8 and made.params.groups == 2
    return made


@pytest.fixture
def bundle2(two_groups: Made, tmp_path: Path) -> Path:
    dst = tmp_path / "bundle"
    shutil.copytree(two_groups.path, dst)
    return dst


@pytest.fixture
def bundle(honest: Made, tmp_path: Path) -> Path:
    dst = tmp_path / "bundle"
    shutil.copytree(honest.path, dst)
    return dst


def rejected(path: Path, cls: type[ProofError], section: str, backend: str = "fast") -> ProofError:
    with pytest.raises(ProofError) as info:
        verify_bundle(path, backend=get_backend(backend))
    exc = info.value
    assert type(exc) is cls, exc
    assert exc.section == section, exc
    return exc


def reroot(bundle: Path) -> dict[str, Any]:
    """Recompute margin.root from the records as they are now (so only the tampered field is wrong), re-sign."""
    manifest = load_manifest(bundle)
    params = margin_params(manifest)
    data = (bundle / RECORDS).read_bytes()
    records = [data[HEADER + j * params.record_size : HEADER + (j + 1) * params.record_size]
               for j in range(params.accounts)]
    manifest["margin"]["root"] = MerkleTree([margin_leaf_hash(r) for r in records]).root.hex()
    return resign(bundle, manifest)


def margin_params(manifest: dict[str, Any]) -> MarginParams:
    """The margin parameters a manifest object states (its params_sha256 is recomputed from this)."""
    m = manifest["margin"]
    decimals = {a["symbol"]: a["decimals"] for a in manifest["assets"]}
    assets = tuple(
        AssetMargin(
            a["symbol"], decimals[a["symbol"]], int(a["price"]),
            tuple(
                tuple(Tier(None if t["up_to"] is None else int(t["up_to"]), t["ratio"]) for t in a["haircuts"][name])
                for name in m["collateral_types"]
            ),
        )
        for a in m["assets"]
    )
    return MarginParams(
        value_decimals=m["value_decimals"], collateral_types=tuple(m["collateral_types"]), slots=m["slots"],
        accounts=m["accounts"], assets=assets,
    )


def redigest(manifest: dict[str, Any]) -> None:
    manifest["margin"]["params_sha256"] = margin_params(manifest).digest().hex()


def patch(data: bytearray, offset: int, new: bytes) -> None:
    data[offset : offset + len(new)] = new


def record_field(made: Made, j: int, name: str, s: int = 0, k: int = 0) -> int:
    """Byte offset in margin.records.bin of field ``name`` of record ``j`` (slot ``s``, type ``k``)."""
    params = made.params
    base = record_offset(params, j)
    if name == "id":
        return base
    if name == "Lo":
        return base + 32 + params.slots * params.slot_size
    slot = base + slot_offset(params, s)
    return slot + {"asset": 0, "leaf": 2, "D": 6, "W": 54, "V": 102 + 96 * k, "H": 150 + 96 * k}[name]


# --- honest bundles -------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["fast", "reference"])
def test_an_honest_v4_bundle_verifies_on_both_backends(honest: Made, backend: str) -> None:
    report = verify_bundle(honest.path, backend=get_backend(backend))
    assert report.ok and report.format_version == 4 and report.margin_checked
    assert report.margin is not None
    assert (report.margin.accounts, report.margin.slots, report.margin.tiers, report.margin.collateral_types) == (
        2, 2, 2, ("loan",)
    )
    assert all(a.margin and a.debt_ok and a.ok for a in report.assets)


def test_the_report_lists_the_margin_section(honest: Made) -> None:
    payload = verify_bundle(honest.path).to_json()
    assert payload["margin_checked"] is True
    margin = payload["margin"]
    assert {k: margin[k] for k in ("checked", "accounts", "slots", "tiers", "types", "collateral_types")} == {
        "checked": True, "accounts": 2, "slots": 2, "tiers": 2, "types": 1, "collateral_types": ["loan"]
    }
    assert margin["params_sha256"] == honest.manifest["margin"]["params_sha256"]
    assert margin["root"] == honest.manifest["margin"]["root"]
    for a in payload["assets"]:
        assert a["margin"] and a["debt_ok"] and a["debt_disclosed"] is None and a["collateral_disclosed"] is None


def test_a_v3_bundle_reports_no_margin(tmp_path: Path) -> None:
    report = verify_bundle(Path(__file__).parent / "vectors" / "bundle_v3")
    assert report.margin is None and not report.margin_checked
    assert report.to_json()["margin"] is None
    from cli.reserves_text import verdict_sentence

    assert "margin" not in verdict_sentence(report)


def test_cli_verify_text_and_json(honest: Made) -> None:
    result = runner.invoke(app, ["verify", str(honest.path), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "every margin account's haircut collateral value covers its debt (2 accounts, padded)" in result.output
    assert "net liabilities (equity minus margin debt)" in result.output
    assert "margin: 2 records (padded with dummy accounts), 2 slots each" in result.output
    result = runner.invoke(app, ["verify", str(honest.path), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["status"] == "pass" and payload["margin_checked"] and payload["margin"]["accounts"] == 2


def test_the_verdict_claims_the_margin_step_only_when_it_ran(honest: Made) -> None:
    from cli.reserves_text import verdict_sentence

    report = verify_bundle(honest.path)
    assert "haircut collateral value covers its debt" in verdict_sentence(report)
    assert report.margin is not None
    report.margin.proofs_ok = False
    assert not report.margin_checked
    assert "haircut collateral value" not in verdict_sentence(report)


def test_margin_leaves_are_read_by_offset(honest: Made, monkeypatch: pytest.MonkeyPatch) -> None:
    """The margin step reads each named leaf's 80-byte record, never a leaves file (M*S reads)."""
    import verifier.reading

    reads: list[int] = []
    original = verifier.reading.RecordFile.record

    def counting(self: verifier.reading.RecordFile, index: int) -> bytes:
        reads.append(index)
        return original(self, index)

    monkeypatch.setattr(verifier.reading.RecordFile, "record", counting)
    verify_bundle(honest.path)
    assert len(reads) == honest.params.accounts * honest.params.slots


def test_margin_proofs_bind_the_parameters(honest: Made) -> None:
    """A margin proof verifies for its own statement only: not under another digest (price table), root or group."""
    from circuits.group import Point
    from circuits.margin import MarginRecord, value_list

    params = honest.params
    root = bytes.fromhex(honest.manifest["margin"]["root"])
    counts = [len(honest.leaves[a]) for a in ("BTC", "USDT")]
    leaves = {a: [leaf.V for leaf in honest.leaves[a]] for a in ("BTC", "USDT")}
    symbols = ["BTC", "USDT"]
    values = []
    for j in range(params.group_size):  # group 0: records 0 .. G-1, their value lists in record order
        record = MarginRecord.from_bytes(honest.records[j][2], params, j, counts, PC.B.backend)
        points = [Point.from_bytes(leaves[symbols[s.asset]][s.leaf]) for s in record.slots]
        values += value_list(params, record, points, PC)
    data = (honest.path / PROOFS).read_bytes()[HEADER:]
    size = range_record_size(params.parts[0])
    proof = RangeProof.from_bytes(data[:size])
    right = MarginPartStatement.parts_of(params, "Margin Test Exchange", "2026-03-31", root, 0)[0]
    verify_range(right.range_statement(values[: right.size]), proof)
    for other in (
        MarginPartStatement(**{**right.__dict__, "margin_digest": bytes(32)}),
        MarginPartStatement(**{**right.__dict__, "margin_root": bytes(32)}),
        MarginPartStatement(**{**right.__dict__, "group": 1}),
    ):
        with pytest.raises(VerificationError):
            verify_range(other.range_statement(values[: right.size]), proof)


# --- margin.records.bin: every field --------------------------------------------------------------------


def test_record_ids_must_increase(honest: Made, bundle: Path) -> None:
    rewrite_file(bundle, RECORDS, lambda d: patch(d, record_field(honest, 1, "id"), honest.records[0][0]))
    rejected(bundle, FormatError, f"{RECORDS} record 1")


def test_swapped_records_are_malformed(honest: Made, bundle: Path) -> None:
    size = honest.params.record_size

    def swap(d: bytearray) -> None:
        a, b = bytes(d[HEADER : HEADER + size]), bytes(d[HEADER + size : HEADER + 2 * size])
        d[HEADER : HEADER + 2 * size] = b + a

    rewrite_file(bundle, RECORDS, swap)
    rejected(bundle, FormatError, f"{RECORDS} record 1")


def test_a_changed_record_id_changes_the_root(honest: Made, bundle: Path) -> None:
    rewrite_file(bundle, RECORDS, lambda d: patch(d, record_field(honest, 0, "id"), bytes(32)))
    rejected(bundle, VerificationError, RECORDS)


def test_a_record_id_not_bound_to_its_leaves_is_false(honest: Made, bundle: Path) -> None:
    """Re-rooted: the record's named leaves carry the margin leaf ids of the old id (§14.4)."""
    rewrite_file(bundle, RECORDS, lambda d: patch(d, record_field(honest, 0, "id"), bytes(32)))
    reroot(bundle)
    exc = rejected(bundle, VerificationError, f"{RECORDS} record 0")
    assert "margin leaf id" in str(exc)


@pytest.mark.parametrize("j", [0, 1])
def test_an_asset_position_past_the_assets_is_malformed(honest: Made, bundle: Path, j: int) -> None:
    rewrite_file(bundle, RECORDS, lambda d: patch(d, record_field(honest, j, "asset", 1), (2).to_bytes(2, "little")))
    rejected(bundle, FormatError, f"{RECORDS} record {j}")


@pytest.mark.parametrize("j", [0, 1])
def test_slot_assets_must_increase(honest: Made, bundle: Path, j: int) -> None:
    rewrite_file(bundle, RECORDS, lambda d: patch(d, record_field(honest, j, "asset", 1), (0).to_bytes(2, "little")))
    rejected(bundle, FormatError, f"{RECORDS} record {j}")


@pytest.mark.parametrize("j", [0, 1])
def test_a_leaf_index_past_the_leaves_is_malformed(honest: Made, bundle: Path, j: int) -> None:
    rewrite_file(bundle, RECORDS, lambda d: patch(d, record_field(honest, j, "leaf", 0), (4).to_bytes(4, "little")))
    rejected(bundle, FormatError, f"{RECORDS} record {j}")


def test_a_slot_naming_a_spot_customers_leaf_is_false(honest: Made, bundle: Path) -> None:
    """A record naming alice's BTC leaf (a spot leaf id) as collateral: re-rooted, the leaf id check fires."""
    j = honest.record_index("carol")
    alice = next(i for i, leaf in enumerate(honest.leaves["BTC"]) if leaf.customer == "alice")
    rewrite_file(bundle, RECORDS, lambda d: patch(d, record_field(honest, j, "leaf", 0), alice.to_bytes(4, "little")))
    reroot(bundle)
    exc = rejected(bundle, VerificationError, f"{RECORDS} record {j}")
    assert "margin leaf id" in str(exc)


def test_a_leaf_named_twice_is_false(honest: Made, bundle: Path) -> None:
    """Record 1's BTC slot names record 0's BTC leaf: the later one is reported (pledged twice)."""
    data = (honest.path / RECORDS).read_bytes()
    leaf0 = data[record_field(honest, 0, "leaf", 0) : record_field(honest, 0, "leaf", 0) + 4]
    rewrite_file(bundle, RECORDS, lambda d: patch(d, record_field(honest, 1, "leaf", 0), leaf0))
    reroot(bundle)
    exc = rejected(bundle, VerificationError, f"{RECORDS} record 1")
    assert "pledged twice" in str(exc)


POINT_FIELDS = [("D", 0), ("W", 0), ("V", 0), ("H", 0), ("D", 1), ("W", 1), ("V", 1), ("H", 1), ("Lo", 0)]


@pytest.mark.parametrize(("name", "s"), POINT_FIELDS)
@pytest.mark.parametrize("bad", [NOT_A_POINT, IDENTITY], ids=["not-a-point", "identity"])
def test_a_record_point_that_does_not_decode_or_is_the_identity_is_malformed(
    honest: Made, bundle: Path, name: str, s: int, bad: bytes
) -> None:
    j = 1
    rewrite_file(bundle, RECORDS, lambda d: patch(d, record_field(honest, j, name, s), bad))
    rejected(bundle, FormatError, f"{RECORDS} record {j}")


@pytest.mark.parametrize(("name", "s"), POINT_FIELDS)
def test_a_changed_record_point_changes_the_root(honest: Made, bundle: Path, name: str, s: int) -> None:
    rewrite_file(bundle, RECORDS, lambda d: patch(d, record_field(honest, 0, name, s), OTHER_POINT))
    rejected(bundle, VerificationError, RECORDS)


@pytest.mark.parametrize(("name", "s"), [f for f in POINT_FIELDS if f[0] != "D"])
def test_a_changed_record_point_rerooted_breaks_the_proofs(honest: Made, bundle: Path, name: str, s: int) -> None:
    """Re-rooted, the records are consistent again, but every account's proofs bind the old root (§14.5): the
    lowest account, record 0, is reported whichever record was changed."""
    j = honest.record_index("carol")
    rewrite_file(bundle, RECORDS, lambda d: patch(d, record_field(honest, j, name, s), OTHER_POINT))
    reroot(bundle)
    rejected(bundle, VerificationError, f"{PROOFS} record 0")


@pytest.mark.parametrize("s", [0, 1])
def test_a_changed_debt_rerooted_breaks_the_debt_total(honest: Made, bundle: Path, s: int) -> None:
    j = honest.record_index("carol")
    rewrite_file(bundle, RECORDS, lambda d: patch(d, record_field(honest, j, "D", s), OTHER_POINT))
    reroot(bundle)
    rejected(bundle, VerificationError, f"manifest.assets[{s}].debt_commitment")


def test_a_changed_debt_with_a_matching_total_breaks_the_proofs(honest: Made, bundle: Path) -> None:
    """Debt moved out of carol's USDT slot and the manifest's C_D adjusted: her collateral proof no longer holds."""
    from circuits.group import Point

    j = honest.record_index("carol")
    offset = record_field(honest, j, "D", 1)
    old = Point.from_bytes((honest.path / RECORDS).read_bytes()[offset : offset + 48])
    rewrite_file(bundle, RECORDS, lambda d: patch(d, offset, OTHER_POINT))

    def adjust(m: dict[str, Any]) -> None:
        C_D = Point.from_bytes(bytes.fromhex(m["assets"][1]["debt_commitment"]))
        m["assets"][1]["debt_commitment"] = (C_D - old + Point.from_bytes(OTHER_POINT)).to_bytes().hex()

    rewrite_manifest(bundle, adjust)
    reroot(bundle)
    rejected(bundle, VerificationError, f"{PROOFS} record 0")  # every account's proofs bind the root


def test_a_truncated_records_file_is_malformed(honest: Made, bundle: Path) -> None:
    data = (bundle / RECORDS).read_bytes()
    (bundle / RECORDS).write_bytes(data[:-1])
    rejected(bundle, FormatError, RECORDS)


def test_a_records_header_with_another_count_is_malformed(honest: Made, bundle: Path) -> None:
    rewrite_file(bundle, RECORDS, lambda d: patch(d, 8, (3).to_bytes(4, "little")))
    rejected(bundle, FormatError, RECORDS)


def test_a_records_file_of_another_size_is_malformed_in_the_manifest(honest: Made, bundle: Path) -> None:
    rewrite_file(bundle, RECORDS, lambda d: d.extend(b"\0"))
    rejected(bundle, FormatError, "manifest.margin.files.records.size")


def test_a_missing_records_file_is_malformed(honest: Made, bundle: Path) -> None:
    (bundle / RECORDS).unlink()
    rejected(bundle, FormatError, RECORDS)


# --- margin.proofs.bin --------------------------------------------------------------------------------------


def proof_offset(made: Made, g: int, p: int) -> int:
    """Where part ``p`` of group ``g``'s proofs starts in margin.proofs.bin."""
    return HEADER + g * made.params.proofs_record_size + sum(range_record_size(m) for m in made.params.parts[:p])


def test_a_changed_proofs_file_is_malformed_unless_resigned(honest: Made, bundle: Path) -> None:
    data = bytearray((bundle / PROOFS).read_bytes())
    data[proof_offset(honest, 0, 0) + 1] ^= 1
    (bundle / PROOFS).write_bytes(bytes(data))
    rejected(bundle, FormatError, PROOFS)


@pytest.mark.parametrize("j", [0, 1])  # the group
@pytest.mark.parametrize("p", [0, 1, 2])
def test_a_proof_version_byte_is_malformed(two_groups: Made, bundle2: Path, j: int, p: int) -> None:
    rewrite_file(bundle2, PROOFS, lambda d: patch(d, proof_offset(two_groups, j, p), b"\x02"))
    rejected(bundle2, FormatError, f"{PROOFS} record {j}")


@pytest.mark.parametrize("j", [0, 1])  # the group
@pytest.mark.parametrize("p", [0, 1, 2])
def test_a_non_canonical_proof_scalar_is_malformed(two_groups: Made, bundle2: Path, j: int, p: int) -> None:
    rewrite_file(bundle2, PROOFS, lambda d: patch(d, proof_offset(two_groups, j, p) + 193, b"\xff" * 32))
    rejected(bundle2, FormatError, f"{PROOFS} record {j}")


@pytest.mark.parametrize("j", [0, 1])  # the group
@pytest.mark.parametrize("p", [0, 1, 2])
@pytest.mark.parametrize("at", [1, 49, 97, 145, 289], ids=["A", "S", "T1", "T2", "L0"])
def test_a_changed_proof_point_is_false(two_groups: Made, bundle2: Path, j: int, p: int, at: int) -> None:
    rewrite_file(bundle2, PROOFS, lambda d: patch(d, proof_offset(two_groups, j, p) + at, OTHER_POINT))
    rejected(bundle2, VerificationError, f"{PROOFS} record {j}")


def test_the_lowest_failing_group_is_reported(two_groups: Made, bundle2: Path) -> None:
    def both(d: bytearray) -> None:
        patch(d, proof_offset(two_groups, 1, 0) + 1, OTHER_POINT)
        patch(d, proof_offset(two_groups, 0, 2) + 1, OTHER_POINT)

    rewrite_file(bundle2, PROOFS, both)
    rejected(bundle2, VerificationError, f"{PROOFS} record 0")


def test_swapped_proof_records_are_false(two_groups: Made, bundle2: Path) -> None:
    size = two_groups.params.proofs_record_size

    def swap(d: bytearray) -> None:
        a, b = bytes(d[HEADER : HEADER + size]), bytes(d[HEADER + size : HEADER + 2 * size])
        d[HEADER : HEADER + 2 * size] = b + a

    rewrite_file(bundle2, PROOFS, swap)
    rejected(bundle2, VerificationError, f"{PROOFS} record 0")


def test_a_proofs_header_with_another_record_size_is_malformed(honest: Made, bundle: Path) -> None:
    rewrite_file(bundle, PROOFS, lambda d: patch(d, 12, (1).to_bytes(4, "little")))
    rejected(bundle, FormatError, PROOFS)


def test_a_proofs_file_of_another_size_is_malformed_in_the_manifest(honest: Made, bundle: Path) -> None:
    rewrite_file(bundle, PROOFS, lambda d: d.extend(b"\0"))
    rejected(bundle, FormatError, "manifest.margin.files.proofs.size")


def test_proofs_bind_the_records_root(honest: Made, bundle: Path) -> None:
    """margin.root and the records changed together (consistently): the proofs were made for the old root."""
    j = next(j for j, (_, c, _) in enumerate(honest.records) if c is None)
    rewrite_file(bundle, RECORDS, lambda d: patch(d, record_field(honest, j, "W", 0), OTHER_POINT))
    reroot(bundle)
    rejected(bundle, VerificationError, f"{PROOFS} record 0")


# --- the manifest's margin object ---------------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(m: dict[str, Any]) -> None:
        obj: Any = m
        keys = path.split(".")
        for key in keys[:-1]:
            obj = obj[int(key)] if isinstance(obj, list) else obj[key]
        last = keys[-1]
        if isinstance(obj, list):
            obj[int(last)] = value
        else:
            obj[last] = value

    return mutate


def _then_redigest(mutation: Mutation) -> Mutation:
    def mutate(m: dict[str, Any]) -> None:
        mutation(m)
        redigest(m)

    return mutate


def _rename_type(m: dict[str, Any]) -> None:
    m["margin"]["collateral_types"] = ["margin"]
    for a in m["margin"]["assets"]:
        a["haircuts"] = {"margin": a["haircuts"]["loan"]}


def _drop(key: str) -> Mutation:
    return lambda m: m["margin"].pop(key)


MANIFEST_CASES: list[tuple[str, Mutation, type[ProofError], str]] = [
    # Parameters changed without their digest: the manifest is malformed.
    ("value_decimals", _set("margin.value_decimals", 3), FormatError, "manifest.margin.params_sha256"),
    ("price", _set("margin.assets.0.price", "9700001"), FormatError, "manifest.margin.params_sha256"),
    ("ratio", _set("margin.assets.0.haircuts.loan.0.ratio", 90), FormatError, "manifest.margin.params_sha256"),
    ("up_to", _set("margin.assets.0.haircuts.loan.0.up_to", "50000001"), FormatError, "manifest.margin.params_sha256"),
    ("params_sha256", _set("margin.params_sha256", "00" * 32), FormatError, "manifest.margin.params_sha256"),
    # ... and with their digest recomputed: every chunk proof binds the digest (§14.5), so the first is false.
    ("value_decimals+digest", _then_redigest(_set("margin.value_decimals", 3)), VerificationError,
     "BTC.rangeproofs.bin chunk 0"),
    ("price+digest", _then_redigest(_set("margin.assets.1.price", "101")), VerificationError,
     "BTC.rangeproofs.bin chunk 0"),
    ("ratio+digest", _then_redigest(_set("margin.assets.0.haircuts.loan.0.ratio", 90)), VerificationError,
     "BTC.rangeproofs.bin chunk 0"),
    ("up_to+digest", _then_redigest(_set("margin.assets.0.haircuts.loan.0.up_to", "50000001")), VerificationError,
     "BTC.rangeproofs.bin chunk 0"),
    ("type+digest", _then_redigest(_rename_type), VerificationError, "BTC.rangeproofs.bin chunk 0"),
    # Schema rules.
    ("increasing ratio", _set("margin.assets.0.haircuts.loan.1.ratio", 96), FormatError,
     "manifest.margin.assets[0].haircuts.loan[1].ratio"),
    ("ratio over 100", _set("margin.assets.1.haircuts.loan.0.ratio", 101), FormatError,
     "manifest.margin.assets[1].haircuts.loan[0].ratio"),
    ("last up_to", _set("margin.assets.0.haircuts.loan.1.up_to", "60000000"), FormatError,
     "manifest.margin.assets[0].haircuts.loan[1].up_to"),
    ("zero price", _set("margin.assets.0.price", "0"), FormatError, "manifest.margin.assets[0].price"),
    ("symbol order", _set("margin.assets.0.symbol", "USDT"), FormatError, "manifest.margin.assets[0].symbol"),
    ("tiers", _set("margin.tiers", 3), FormatError, "manifest.margin.tiers"),
    ("accounts not a power of two", _set("margin.accounts", 3), FormatError, "manifest.margin.accounts"),
    ("accounts", _then_redigest(_set("margin.accounts", 4)), FormatError, "manifest.margin.files.records.size"),
    ("slots", _then_redigest(_set("margin.slots", 1)), FormatError, "manifest.margin.files.records.size"),
    ("records name", _set("margin.files.records.name", "margin.record.bin"), FormatError,
     "manifest.margin.files.records.name"),
    ("proofs name", _set("margin.files.proofs.name", "margin.proof.bin"), FormatError,
     "manifest.margin.files.proofs.name"),
    ("a type without schedules", _set("margin.collateral_types", ["loan", "margin"]), FormatError,
     "manifest.margin.assets[0].haircuts.margin"),
    ("types out of order", _set("margin.collateral_types", ["margin", "loan"]), FormatError,
     "manifest.margin.collateral_types"),
    ("extra key", _set("margin.extra", 1), FormatError, "manifest.margin"),
    ("missing root", _drop("root"), FormatError, "manifest.margin.root"),
    # The records' root: the tree rebuilt from the records is another (false, not malformed).
    ("root", _set("margin.root", "11" * 32), VerificationError, RECORDS),
    # Per asset: the debt commitment.
    ("debt_commitment not a point", _set("assets.0.debt_commitment", "ff" * 48), FormatError,
     "manifest.assets[0].debt_commitment"),
    ("debt_commitment other point", _set("assets.0.debt_commitment", OTHER_POINT.hex()), VerificationError,
     "manifest.assets[0].debt_commitment"),
    ("debt_commitment identity", _set("assets.1.debt_commitment", IDENTITY.hex()), VerificationError,
     "manifest.assets[1].debt_commitment"),
    ("disclosed_debt", _set("assets.1.disclosed_debt", {"amount": "1", "blinding": "00" * 32}), VerificationError,
     "manifest.assets[1].disclosed_debt"),
    ("disclosed_collateral", _set("assets.0.disclosed_collateral", {"amount": "1", "blinding": "00" * 32}),
     VerificationError, "manifest.assets[0].disclosed_collateral"),
    ("disclosed_debt malformed", _set("assets.1.disclosed_debt", {"amount": "-1", "blinding": "00" * 32}),
     FormatError, "manifest.assets[1].disclosed_debt.amount"),
    # The solvency proof is for C_L - C_D: lower BTC reserves below its liabilities (BTC has no debt).
    ("reserves", _set("assets.0.reserves", "340000000"), VerificationError, "BTC.solvency.bin"),
]


@pytest.mark.parametrize(("case", "mutate", "cls", "section"), MANIFEST_CASES, ids=[c[0] for c in MANIFEST_CASES])
def test_manifest_margin_tampering(
    bundle: Path, case: str, mutate: Mutation, cls: type[ProofError], section: str
) -> None:
    rewrite_manifest(bundle, mutate)
    rejected(bundle, cls, section)


@pytest.mark.parametrize(("role", "name"), [("records", RECORDS), ("proofs", PROOFS)])
def test_a_margin_file_digest_that_does_not_match_is_malformed(bundle: Path, role: str, name: str) -> None:
    """The listed SHA-256 changed and the bundle digest recomputed (the manifest is valid): step 2 names the file."""
    from margin_fixture import digest_of

    from circuits.jsonio import canonical_json

    manifest = load_manifest(bundle)
    manifest["margin"]["files"][role]["sha256"] = "00" * 32
    manifest["bundle_digest"] = digest_of(manifest)
    (bundle / "manifest.json").write_bytes(canonical_json(manifest) + b"\n")
    rejected(bundle, FormatError, name)


def test_a_v4_manifest_without_its_margin_object_is_malformed(bundle: Path) -> None:
    rewrite_manifest(bundle, lambda m: m.pop("margin"))
    rejected(bundle, FormatError, "manifest.margin")


def test_a_v3_manifest_with_the_v4_keys_is_malformed(bundle: Path) -> None:
    rewrite_manifest(bundle, _set("format_version", 3))
    exc = rejected(bundle, FormatError, "manifest.assets[0]")
    assert "debt_commitment" in str(exc)


def test_the_net_liabilities_are_proven(bundle: Path) -> None:
    """USDT: 500 of balances against 1000 of margin debt; reserves 0 still cover the (negative) net liabilities."""
    rewrite_manifest(bundle, _set("assets.1.reserves", "0"))
    rejected(bundle, VerificationError, "USDT.solvency.bin")  # the proof was made for the old reserves


def test_disclosed_debt_and_collateral_are_checked_and_reported(tmp_path: Path) -> None:
    spec = default_spec()
    btc, usdt = spec.assets
    from dataclasses import replace

    spec.assets = (replace(btc, disclose_collateral=True, disclose_debt=True), replace(usdt, disclose_debt=True))
    made = make_margin_bundle(tmp_path / "b", spec)
    report = verify_bundle(made.path)
    assert report.ok
    btc_r, usdt_r = report.assets
    assert (btc_r.debt_disclosed, btc_r.collateral_disclosed) == (0, 10_000_000)
    assert (usdt_r.debt_disclosed, usdt_r.collateral_disclosed) == (1_000_000_000, None)
    result = runner.invoke(app, ["verify", str(made.path), "--quiet"])
    assert "USDT: total debt disclosed 1000.000000" in result.output
    assert "BTC: total pledged collateral disclosed 0.10000000" in result.output
    rewrite_manifest(made.path, _set("assets.0.disclosed_collateral.amount", "10000001"))
    rejected(made.path, VerificationError, "manifest.assets[0].disclosed_collateral")


# --- both backends agree -------------------------------------------------------------------------------------

BOTH: list[tuple[str, Callable[[Made, Path], None], type[ProofError], str]] = [
    ("id order", lambda h, b: rewrite_file(b, RECORDS, lambda d: patch(d, record_field(h, 1, "id"), h.records[0][0])),
     FormatError, f"{RECORDS} record 1"),
    ("root", lambda h, b: rewrite_manifest(b, _set("margin.root", "11" * 32)), VerificationError, RECORDS),
    ("twice", lambda h, b: (rewrite_file(b, RECORDS, lambda d: patch(
        d, record_field(h, 1, "leaf", 0),
        (h.path / RECORDS).read_bytes()[record_field(h, 0, "leaf", 0) : record_field(h, 0, "leaf", 0) + 4])),
        reroot(b)) and None, VerificationError, f"{RECORDS} record 1"),
    ("debt", lambda h, b: rewrite_manifest(b, _set("assets.0.debt_commitment", OTHER_POINT.hex())),
     VerificationError, "manifest.assets[0].debt_commitment"),
    ("proof", lambda h, b: rewrite_file(b, PROOFS, lambda d: patch(d, proof_offset(h, 0, 1) + 1, OTHER_POINT)),
     VerificationError, f"{PROOFS} record 0"),
    ("digest", lambda h, b: rewrite_manifest(b, _then_redigest(_set("margin.assets.1.price", "101"))),
     VerificationError, "BTC.rangeproofs.bin chunk 0"),
]


@pytest.mark.parametrize("backend", ["fast", pytest.param("reference", marks=pytest.mark.slow)])
@pytest.mark.parametrize(("case", "tamper", "cls", "section"), BOTH, ids=[c[0] for c in BOTH])
def test_both_backends_agree(
    honest: Made, bundle: Path, backend: str, case: str, tamper: Callable[[Made, Path], None],
    cls: type[ProofError], section: str,
) -> None:
    tamper(honest, bundle)
    rejected(bundle, cls, section, backend)
    result = runner.invoke(app, ["verify", str(bundle), "--json"], env={"SOLVENCY_BACKEND": backend})
    payload = json.loads(result.stdout)
    assert result.exit_code == payload["exit_code"] == (1 if cls is VerificationError else 3)
    assert payload["failure_section"] == section
    assert payload["failure_kind"] == ("false" if cls is VerificationError else "malformed")
    assert payload["margin_checked"] is False


# --- inspect ----------------------------------------------------------------------------------------------------


def test_inspect_shows_the_margin_section(honest: Made) -> None:
    summary = inspect_bundle(honest.path)
    margin = summary["margin"]
    assert (margin["accounts"], margin["slots"], margin["tiers"], margin["types"]) == (2, 2, 2, 1)
    assert margin["params_sha256"] == honest.manifest["margin"]["params_sha256"]
    assert margin["values_per_account"] == 14 and margin["parts"] == [16, 8, 4]
    btc = margin["assets"][0]
    assert (btc["symbol"], btc["price"], btc["price_display"]) == ("BTC", "9700000", "97000.00")
    assert btc["haircuts"]["loan"] == [
        {"up_to": "50000000", "up_to_display": "500000.00", "ratio": 95},
        {"up_to": None, "up_to_display": None, "ratio": 50},
    ]
    assert [f["role"] for f in margin["files"]] == ["margin_records", "margin_proofs"]
    assert all(f["digest_ok"] for f in margin["files"]) and summary["files_ok"]
    assert summary["assets"][1]["debt_commitment"] == honest.manifest["assets"][1]["debt_commitment"]
    assert file_error(summary) is None


def test_inspect_names_a_changed_margin_file(honest: Made, bundle: Path) -> None:
    data = bytearray((bundle / PROOFS).read_bytes())
    data[-1] ^= 1
    (bundle / PROOFS).write_bytes(bytes(data))
    summary = inspect_bundle(bundle)
    assert not summary["files_ok"]
    error = file_error(summary)
    assert error is not None and error.section == PROOFS
    result = runner.invoke(app, ["inspect", str(bundle), "--json"])
    assert result.exit_code == 3
    assert json.loads(result.stdout)["margin"]["files"][1]["digest_ok"] is False
