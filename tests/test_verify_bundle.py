"""The bundle verifier (docs/FORMAT.md §7) against bundles written from the spec.

Bundles come from ``tests/bundle_factory.py``, which re-implements the format from
the spec text (an independent check of the ``circuits`` format modules), and, once, from the
real writer ``prover.bundle.write_bundle``. Each tamper test makes exactly one
thing wrong (re-signing the manifest where needed) and asserts the exception
class, the section and the partial report.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from bundle_factory import (
    AssetSpec,
    MadeBundle,
    load_manifest,
    make_bundle,
    resign,
    rewrite_file,
    rewrite_manifest,
    swap_records,
)

from circuits.backends import get_backend
from circuits.errors import FormatError, ParameterError, ProofError, VerificationError
from circuits.group import Point
from verifier.bundle import verify_bundle
from verifier.inspect import inspect_bundle
from verifier.reading import read_manifest
from verifier.report import AssetReport, BundleReport, format_units

LEAF = 80
BTC_HOLDINGS = {f"customer-{i:02d}": (i * 37_000_000) % 900_000_000 for i in range(13)}
ETH_HOLDINGS = {f"customer-{i:02d}": 10**18 * i for i in range(0, 20, 3)}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> MadeBundle:
    """BTC: 16 leaves in 4 chunks of 4; ETH: ratio 3/2, disclosed, 8 leaves in 4 chunks of 2."""
    root = tmp_path_factory.mktemp("bundles")
    return make_bundle(
        root / "bundle",
        [
            AssetSpec("BTC", BTC_HOLDINGS, reserves=30 * 10**8, chunk=4),
            AssetSpec("ETH", ETH_HOLDINGS, reserves=10**20, decimals=18, chunk=2, ratio=(3, 2), disclose=True),
        ],
    )


@pytest.fixture
def bundle(made: MadeBundle, tmp_path: Path) -> Path:
    """A private copy of the good bundle, to tamper with."""
    copy = tmp_path / "bundle"
    shutil.copytree(made.path, copy)
    return copy


def _fails(exc_type: type[ProofError], path: Path, section: str | None = None, **kwargs: object) -> ProofError:
    with pytest.raises(exc_type) as info:
        verify_bundle(path, **kwargs)  # type: ignore[arg-type]
    exc = info.value
    assert type(exc) is exc_type, f"{type(exc).__name__}: {exc}"
    if section is not None:
        assert exc.section == section, str(exc)
    report = exc.report  # type: ignore[attr-defined]
    assert isinstance(report, BundleReport)
    assert report.ok is False
    assert report.failure == str(exc)
    assert report.failure_section == exc.section
    assert report.failure_kind == ("malformed" if exc_type is FormatError else "false")
    json.dumps(report.to_json())
    return exc


# --- the good bundle -----------------------------------------------------------------


def test_valid_bundle_verifies_with_full_report(made: MadeBundle) -> None:
    calls: list[tuple[int, int]] = []
    report = verify_bundle(made.path, progress=lambda done, total: calls.append((done, total)))
    assert report.ok and report.failure is None and report.failure_section is None and report.failure_kind is None
    assert (report.exchange, report.round, report.created) == (
        made.manifest["exchange"],
        made.manifest["round"],
        made.manifest["created"],
    )
    assert report.bundle_digest == made.manifest["bundle_digest"]
    btc, eth = report.assets
    assert btc == AssetReport(
        symbol="BTC",
        decimals=8,
        reserves=30 * 10**8,
        leaf_count=16,
        chunk_count=4,
        chunk_size=4,
        min_ratio=(1, 1),
        liabilities_disclosed=None,
        merkle_root_ok=True,
        sum_ok=True,
        range_proofs_ok=True,
        solvency_ok=True,
        reserves_basis="declared",
        reserves_ok=True,
    )
    assert btc.reserves_display == "30.00000000"
    assert (eth.symbol, eth.leaf_count, eth.chunk_count, eth.chunk_size, eth.min_ratio) == ("ETH", 8, 4, 2, (3, 2))
    assert eth.liabilities_disclosed == sum(ETH_HOLDINGS.values())
    assert eth.ok and btc.ok
    data = json.loads(json.dumps(report.to_json()))
    assert data["ok"] is True
    assert data["assets"][1]["liabilities_disclosed"] == str(sum(ETH_HOLDINGS.values()))
    assert data["assets"][1]["reserves_display"] == "100.000000000000000000"
    assert data["assets"][1]["min_ratio"] == {"num": 3, "den": 2}
    # Progress: after each batch, cumulative over the bundle, ending at the total.
    assert calls[-1] == (8, 8)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


@pytest.mark.parametrize("batch_chunks", [1, 3, 100])
def test_batch_size_does_not_change_the_result(made: MadeBundle, batch_chunks: int) -> None:
    calls: list[tuple[int, int]] = []
    report = verify_bundle(made.path, batch_chunks=batch_chunks, progress=lambda d, t: calls.append((d, t)))
    assert report.ok
    assert calls[-1] == (8, 8)
    if batch_chunks == 1:
        assert calls == [(k, 8) for k in range(1, 9)]


def test_batch_chunks_must_be_positive(made: MadeBundle) -> None:
    with pytest.raises(ParameterError):
        verify_bundle(made.path, batch_chunks=0)


def test_reference_backend_verifies_a_tiny_bundle(tmp_path: Path) -> None:
    tiny = make_bundle(tmp_path / "tiny", [AssetSpec("XRP", {"a": 5, "b": 7}, reserves=20, decimals=0, chunk=2)])
    report = verify_bundle(tiny.path, backend=get_backend("reference"))
    assert report.ok and report.assets[0].leaf_count == 2


def test_read_manifest_accepts_the_directory_or_the_file(made: MadeBundle) -> None:
    assert read_manifest(made.path).digest.hex() == made.manifest["bundle_digest"]
    assert read_manifest(made.path / "manifest.json").digest.hex() == made.manifest["bundle_digest"]


def test_inspect_summarises_without_verifying(bundle: Path) -> None:
    summary = inspect_bundle(bundle)
    assert summary["verified"] is False and summary["files_ok"] is True and summary["extra_files"] == []
    assert [a["symbol"] for a in summary["assets"]] == ["BTC", "ETH"]
    assert summary["assets"][0]["reserves_display"] == "30.00000000"
    assert all(f["digest_ok"] for a in summary["assets"] for f in a["files"])
    json.dumps(summary)
    # A flipped byte and an extra file show up, but inspect still does not raise.
    data = bytearray((bundle / "BTC.rangeproofs.bin").read_bytes())
    data[100] ^= 1
    (bundle / "BTC.rangeproofs.bin").write_bytes(bytes(data))
    (bundle / "notes.txt").write_text("hi")
    summary = inspect_bundle(bundle)
    assert summary["files_ok"] is False and summary["extra_files"] == ["notes.txt"]
    flags = {f["name"]: f["digest_ok"] for a in summary["assets"] for f in a["files"]}
    assert flags["BTC.rangeproofs.bin"] is False and flags["BTC.leaves.bin"] is True


def test_format_units() -> None:
    assert format_units(0, 8) == "0.00000000"
    assert format_units(150_000_000, 8) == "1.50000000"
    assert format_units(12, 0) == "12"
    assert format_units(10**30 + 1, 30) == "1.000000000000000000000000000001"


# --- step 1: the manifest --------------------------------------------------------------


def test_manifest_byte_flip_is_malformed(bundle: Path) -> None:
    data = bytearray((bundle / "manifest.json").read_bytes())
    data[len(data) // 2] ^= 0x01
    (bundle / "manifest.json").write_bytes(bytes(data))
    exc = _fails(FormatError, bundle)
    assert exc.section is not None and exc.section.startswith("manifest")
    assert exc.report.exchange == "" and exc.report.assets == []  # type: ignore[attr-defined]


def test_manifest_edit_without_resigning_breaks_the_digest(bundle: Path) -> None:
    manifest = load_manifest(bundle)
    manifest["assets"][0]["reserves"] = "3000000001"
    (bundle / "manifest.json").write_bytes(json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode() + b"\n")
    _fails(FormatError, bundle, "manifest.bundle_digest")


def test_non_canonical_manifest_is_malformed(bundle: Path) -> None:
    manifest = load_manifest(bundle)
    (bundle / "manifest.json").write_text(json.dumps(manifest, sort_keys=True, indent=1) + "\n")
    _fails(FormatError, bundle, "manifest")


def test_manifest_field_out_of_range_names_the_field(bundle: Path) -> None:
    def mutate(m: dict) -> None:
        m["assets"][0]["reserves"] = str(1 << 128)

    rewrite_manifest(bundle, mutate)
    _fails(FormatError, bundle, "manifest.assets[0].reserves")


def test_liabilities_commitment_not_a_point_is_malformed(bundle: Path) -> None:
    def mutate(m: dict) -> None:
        m["assets"][1]["liabilities_commitment"] = "80" + "00" * 47  # x = 0: on the curve, order 3

    rewrite_manifest(bundle, mutate)
    _fails(FormatError, bundle, "manifest.assets[1].liabilities_commitment")


def test_missing_manifest_or_bundle(bundle: Path, tmp_path: Path) -> None:
    _fails(FormatError, tmp_path / "nope", "bundle")
    (bundle / "manifest.json").unlink()
    _fails(FormatError, bundle, "manifest")


def test_oversized_manifest_is_rejected_without_reading_it_all(bundle: Path) -> None:
    with open(bundle / "manifest.json", "ab") as f:
        f.truncate((16 << 20) + 10)
    _fails(FormatError, bundle, "manifest")


# --- step 2: file set, sizes, digests, headers ---------------------------------------------


def test_extra_file_is_malformed(bundle: Path) -> None:
    (bundle / "README.txt").write_text("unexpected")
    _fails(FormatError, bundle, "README.txt")


def test_extra_directory_is_malformed(bundle: Path) -> None:
    (bundle / "sub").mkdir()
    _fails(FormatError, bundle, "sub")


def test_missing_file_is_malformed(bundle: Path) -> None:
    (bundle / "ETH.solvency.bin").unlink()
    exc = _fails(FormatError, bundle, "ETH.solvency.bin")
    assert "missing" in str(exc)


@pytest.mark.parametrize("name", ["BTC.leaves.bin", "BTC.rangeproofs.bin", "ETH.solvency.bin"])
def test_data_file_byte_flip_breaks_its_digest(bundle: Path, name: str) -> None:
    data = bytearray((bundle / name).read_bytes())
    data[-5] ^= 0x40
    (bundle / name).write_bytes(bytes(data))
    exc = _fails(FormatError, bundle, name)
    assert "SHA-256" in str(exc)


def test_truncated_file_is_malformed(bundle: Path) -> None:
    data = (bundle / "BTC.leaves.bin").read_bytes()
    (bundle / "BTC.leaves.bin").write_bytes(data[:-1])
    exc = _fails(FormatError, bundle, "BTC.leaves.bin")
    assert "size" in str(exc)


def test_bad_header_is_malformed_even_with_good_digests(bundle: Path) -> None:
    def mutate(data: bytearray) -> None:
        data[0:8] = b"ZKSLEAF2"

    rewrite_file(bundle, "ETH.leaves.bin", mutate)
    exc = _fails(FormatError, bundle, "ETH.leaves.bin")
    assert "magic" in str(exc)

    def count(data: bytearray) -> None:
        data[0:8] = b"ZKSLEAF1"
        data[8] = 9

    rewrite_file(bundle, "ETH.leaves.bin", count)
    exc = _fails(FormatError, bundle, "ETH.leaves.bin")
    assert "header says 9 records" in str(exc)


# --- step 3: leaves -------------------------------------------------------------------------


def test_leaves_out_of_order_are_malformed(bundle: Path) -> None:
    rewrite_file(bundle, "BTC.leaves.bin", lambda d: swap_records(d, 5, 6, LEAF))
    exc = _fails(FormatError, bundle, "BTC.leaves.bin record 6")
    assert "leaf id" in str(exc)


def test_duplicate_leaf_id_is_malformed(bundle: Path) -> None:
    def mutate(data: bytearray) -> None:
        data[16 + 3 * LEAF : 16 + 3 * LEAF + 32] = data[16 + 2 * LEAF : 16 + 2 * LEAF + 32]

    rewrite_file(bundle, "BTC.leaves.bin", mutate)
    _fails(FormatError, bundle, "BTC.leaves.bin record 3")


def _not_on_curve() -> bytes:
    for x in range(1, 100):
        enc = bytes([0x80]) + x.to_bytes(47, "big")
        try:
            Point.from_bytes(enc)
        except FormatError as exc:
            if "curve" in str(exc):
                return enc
    raise AssertionError("no x off the curve found")


@pytest.mark.parametrize(
    ("encoding", "why"),
    [
        (bytes([0xC0]) + bytes(47), "identity"),
        (bytes([0x80]) + bytes(47), "subgroup"),  # x = 0 is a point of order 3
        (None, "curve"),
        (bytes([0x00]) + bytes(47), "compression"),
    ],
)
def test_bad_commitment_encoding_is_malformed(bundle: Path, encoding: bytes | None, why: str) -> None:
    enc = encoding if encoding is not None else _not_on_curve()

    def mutate(data: bytearray) -> None:
        data[16 + 9 * LEAF + 32 : 16 + 10 * LEAF] = enc

    rewrite_file(bundle, "BTC.leaves.bin", mutate)
    exc = _fails(FormatError, bundle, "BTC.leaves.bin record 9")
    assert why in str(exc)


def test_wrong_merkle_root_is_false_and_reported_before_the_proofs(bundle: Path) -> None:
    # The chunk contexts bind the manifest root, so every BTC range proof fails too;
    # §7 order says the root mismatch (step 3) is what is reported.
    def mutate(m: dict) -> None:
        m["assets"][0]["merkle_root"] = "ab" * 32

    rewrite_manifest(bundle, mutate)
    exc = _fails(VerificationError, bundle, "BTC.leaves.bin")
    assert "Merkle root" in str(exc)
    btc, eth = exc.report.assets  # type: ignore[attr-defined]
    assert not btc.merkle_root_ok and not btc.range_proofs_ok and not eth.merkle_root_ok


def test_wrong_liabilities_commitment_is_false(bundle: Path, made: MadeBundle) -> None:
    other = made.leaves["ETH"][0].V.hex()

    def mutate(m: dict) -> None:
        m["assets"][1]["liabilities_commitment"] = other

    rewrite_manifest(bundle, mutate)
    exc = _fails(VerificationError, bundle, "ETH.leaves.bin")
    assert "C_L" in str(exc)
    btc, eth = exc.report.assets  # type: ignore[attr-defined]
    assert btc.ok and eth.merkle_root_ok and not eth.sum_ok


def test_replaced_leaf_is_false(bundle: Path, made: MadeBundle) -> None:
    # A valid commitment swapped in for leaf 2 (digests re-signed): root and C_L both change.
    def mutate(data: bytearray) -> None:
        data[16 + 2 * LEAF + 32 : 16 + 3 * LEAF] = made.leaves["ETH"][0].V

    rewrite_file(bundle, "BTC.leaves.bin", mutate)
    _fails(VerificationError, bundle, "BTC.leaves.bin")


# --- step 4: chunk range proofs --------------------------------------------------------------


@pytest.mark.parametrize("batch_chunks", [1, 16])
def test_range_proof_from_another_chunk_is_false_and_named(bundle: Path, made: MadeBundle, batch_chunks: int) -> None:
    size = made.manifest["assets"][0]["files"]["range_proofs"]["size"]
    record = (size - 16) // 4
    rewrite_file(bundle, "BTC.rangeproofs.bin", lambda d: swap_records(d, 1, 3, record))
    exc = _fails(VerificationError, bundle, "BTC.rangeproofs.bin chunk 1", batch_chunks=batch_chunks)
    btc = exc.report.assets[0]  # type: ignore[attr-defined]
    assert btc.merkle_root_ok and btc.sum_ok and not btc.range_proofs_ok and not btc.solvency_ok


def test_range_proof_with_a_non_canonical_scalar_is_malformed(bundle: Path, made: MadeBundle) -> None:
    size = made.manifest["assets"][1]["files"]["range_proofs"]["size"]
    record = (size - 16) // 4

    def mutate(data: bytearray) -> None:
        start = 16 + 2 * record + 193  # t_x of chunk 2
        data[start : start + 32] = b"\xff" * 32

    rewrite_file(bundle, "ETH.rangeproofs.bin", mutate)
    exc = _fails(FormatError, bundle, "ETH.rangeproofs.bin chunk 2")
    assert "t_x" in str(exc)


def test_range_proof_for_another_context_is_false(bundle: Path, made: MadeBundle, tmp_path: Path) -> None:
    # Same leaves, another round label: every proof is valid for its own context only.
    other = make_bundle(
        tmp_path / "other",
        [AssetSpec("BTC", BTC_HOLDINGS, reserves=30 * 10**8, chunk=4)],
        round_label="another round",
    )
    shutil.copy(other.path / "BTC.rangeproofs.bin", bundle / "BTC.rangeproofs.bin")
    resign(bundle, load_manifest(bundle))
    _fails(VerificationError, bundle, "BTC.rangeproofs.bin chunk 0")


# --- step 5: solvency -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [("reserves", "999999999"), ("reserves", "3000000001"), ("min_ratio", {"num": 21, "den": 20})],
)
def test_solvency_proof_against_other_statement_is_false(bundle: Path, field: str, value: object) -> None:
    def mutate(m: dict) -> None:
        m["assets"][0][field] = value

    rewrite_manifest(bundle, mutate)
    exc = _fails(VerificationError, bundle, "BTC.solvency.bin")
    btc = exc.report.assets[0]  # type: ignore[attr-defined]
    assert btc.merkle_root_ok and btc.sum_ok and btc.range_proofs_ok and not btc.solvency_ok


def test_solvency_proofs_swapped_between_assets_is_false(bundle: Path) -> None:
    btc, eth = (bundle / "BTC.solvency.bin").read_bytes(), (bundle / "ETH.solvency.bin").read_bytes()
    (bundle / "BTC.solvency.bin").write_bytes(eth)
    (bundle / "ETH.solvency.bin").write_bytes(btc)
    resign(bundle, load_manifest(bundle))
    _fails(VerificationError, bundle, "BTC.solvency.bin")


def test_wrong_disclosed_liabilities_are_false(bundle: Path) -> None:
    def mutate(m: dict) -> None:
        amount = int(m["assets"][1]["disclosed_liabilities"]["amount"])
        m["assets"][1]["disclosed_liabilities"]["amount"] = str(amount - 1)

    rewrite_manifest(bundle, mutate)
    exc = _fails(VerificationError, bundle, "manifest.assets[1].disclosed_liabilities")
    eth = exc.report.assets[1]  # type: ignore[attr-defined]
    assert eth.range_proofs_ok and not eth.solvency_ok  # the disclosed opening is part of step 5


def test_file_changed_between_hash_and_read_is_caught(bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import verifier.bundle as vb

    real = vb.check_file

    def check_then_tamper(path: Path, *args: object) -> None:
        real(path, *args)  # type: ignore[arg-type]
        if path.name == "BTC.leaves.bin":
            data = bytearray(path.read_bytes())
            vb_swap = bytes(data[16 + 32 : 16 + 80])
            data[16 + 32 : 16 + 80] = bytes(data[16 + 80 + 32 : 16 + 160])
            data[16 + 80 + 32 : 16 + 160] = vb_swap
            path.write_bytes(bytes(data))

    monkeypatch.setattr(vb, "check_file", check_then_tamper)
    # Swapped commitments keep ids in order but change the root: the re-hash notices first.
    exc = _fails(FormatError, bundle, "BTC.leaves.bin")
    assert "changed" in str(exc)


# --- the real writer -----------------------------------------------------------------------


def test_bundle_from_the_prover_verifies(tmp_path: Path) -> None:
    from prover.bundle import ProveOptions, write_bundle
    from prover.ledger import load_ledger
    from prover.reserves import load_reserves

    reserves = {
        "exchange": "Writer Test",
        "round": "2026-02-01T00:00:00Z",
        "assets": [
            {"symbol": "BTC", "decimals": 8, "reserves": "100"},
            {"symbol": "USDT", "decimals": 6, "reserves": "5000"},
        ],
    }
    (tmp_path / "reserves.json").write_text(json.dumps(reserves))
    rows = ["customer_id,asset,amount"]
    rows += [f"c{i},BTC,{i}.5" for i in range(5)]
    rows += [f"c{i},USDT,{100 * i}.25" for i in range(3)]
    (tmp_path / "ledger.csv").write_text("\n".join(rows) + "\n")
    spec = load_reserves(tmp_path / "reserves.json")
    started = time.perf_counter()
    result = write_bundle(
        load_ledger(tmp_path / "ledger.csv", spec),
        spec,
        bytes(range(32)),
        tmp_path / "bundle",
        tmp_path / "packages",
        ProveOptions(chunk=4, jobs=1, min_ratio=(11, 10), disclose_liabilities=True),
    )
    assert time.perf_counter() - started < 30
    report = verify_bundle(result.bundle_dir)
    assert report.ok and [a.symbol for a in report.assets] == ["BTC", "USDT"]
    assert report.assets[0].liabilities_disclosed == sum(i * 10**8 + 5 * 10**7 for i in range(5))
    assert report.assets[0].min_ratio == (11, 10)
