"""docs/FORMAT.md and the code cannot drift apart: every normative constant is read from the spec and checked.

The spec marks its constants in fenced blocks whose info string is ``spec`` (FORMAT.md, conventions):
``name = value`` lines, a value being a decimal integer, ``hex:...``, ``U+XXXX..U+YYYY`` ranges or a byte
string of ``"ascii"`` and ``0xNN`` parts joined by ``||``. :func:`spec_constants` parses them; each test
below compares some of them with the code, by value and, where it is cheap, by behaviour (the code's
hash of the spec's preimage, the parser's answer at a bound and one past it). The set of names is pinned
too, so a constant cannot silently disappear from the spec, and the tags and magic bytes quoted in the
prose must be ones the spec blocks define.

Editing a constant on either side makes a test here fail.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
import struct
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from circuits import datafiles, jsonio, limits, merkle, sumtree, text
from circuits import manifest as manifest_fmt
from circuits import package as package_fmt
from circuits.backends import GroupBackend
from circuits.constants import (
    FIELD_MODULUS,
    GENS_CAPACITY,
    GENS_DST,
    GROUP_ORDER,
    POINT_SIZE,
    PROTOCOL_LABEL,
    RANGEPROOF_FORMAT_VERSION,
    SCALAR_SIZE,
)
from circuits.errors import FormatError
from circuits.generators import (
    GENS_VERSION,
    TABLE_PAIRS,
    TABLE_SHA256,
    BulletproofGens,
    PedersenGens,
    generator_set_id,
)
from circuits.group import Point
from circuits.proofs import MAX_IPP_ROUNDS, RangeProof
from circuits.statements import ChunkStatement, NodeStatement, SolvencyStatement

ROOT = Path(__file__).resolve().parent.parent
FORMAT = ROOT / "docs" / "FORMAT.md"
WIRE_NOTE = ROOT / "circuits" / "notes" / "60-wire-format.md"

SpecValue = int | bytes | tuple[tuple[int, int], ...]

# ---------------------------------------------------------------------------
# The parser of spec blocks

_BLOCK_RE = re.compile(r"^```spec[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
_LINE_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*) = (.+)")
_PART_RE = re.compile(r'\s*(?:"([^"]*)"|0x([0-9a-f]{2}))\s*')
_RANGE_RE = re.compile(r"U\+([0-9A-F]{4,6})(?:\.\.U\+([0-9A-F]{4,6}))?")


def parse_value(text: str) -> SpecValue:
    """Decode one spec value (the grammar of the FORMAT.md conventions)."""
    text = text.strip()
    if re.fullmatch(r"[0-9]+", text):
        return int(text)
    if re.fullmatch(r"0x[0-9a-f]{3,}", text):
        return int(text, 16)
    if text.startswith("hex:"):
        return bytes.fromhex(text[4:])
    if text.startswith("U+"):
        ranges = []
        for word in text.split():
            match = _RANGE_RE.fullmatch(word)
            assert match, f"bad code point range {word!r}"
            lo = int(match[1], 16)
            hi = int(match[2], 16) if match[2] else lo
            assert lo <= hi
            ranges.append((lo, hi))
        return tuple(ranges)
    out = b""
    for part in text.split("||"):
        match = _PART_RE.fullmatch(part)
        assert match, f"bad byte-string part {part!r} in {text!r}"
        out += match[1].encode("ascii") if match[1] is not None else bytes([int(match[2], 16)])
    return out


def spec_constants(markdown: str) -> dict[str, SpecValue]:
    """Return every ``name = value`` of the ``spec`` blocks; a line starting with spaces continues a value."""
    raw: dict[str, str] = {}
    for block in _BLOCK_RE.findall(markdown):
        name = None
        for line in block.splitlines():
            if not line.strip():
                continue
            if line[0] in " \t":
                assert name is not None, f"continuation line without a value: {line!r}"
                raw[name] += " " + line.strip()
                continue
            match = _LINE_RE.fullmatch(line.strip())
            assert match, f"spec line is not 'name = value': {line!r}"
            name = match[1]
            assert name not in raw, f"spec constant {name} defined twice"
            raw[name] = match[2]
    return {name: parse_value(value) for name, value in raw.items()}


SPEC_TEXT = FORMAT.read_text(encoding="utf-8")
SPEC = spec_constants(SPEC_TEXT)


def _int(name: str) -> int:
    value = SPEC[name]
    assert isinstance(value, int), name
    return value


def _bytes(name: str) -> bytes:
    value = SPEC[name]
    assert isinstance(value, bytes), name
    return value


def _str(name: str) -> str:
    return _bytes(name).decode("ascii")


def _ranges(name: str) -> tuple[tuple[int, int], ...]:
    value = SPEC[name]
    assert isinstance(value, tuple), name
    return value


def _le32(x: int) -> bytes:
    return struct.pack("<I", x)


def _le64(x: int) -> bytes:
    return struct.pack("<Q", x)


def _frame(s: bytes) -> bytes:
    return _le32(len(s)) + s


EXPECTED_NAMES = {
    # conventions
    "group_order", "field_modulus",
    # §2, §3
    "manifest_name", "symbol_pattern", "leaves_suffix", "range_proofs_suffix", "solvency_suffix",
    "header_size", "magic_leaves", "magic_range_proofs", "magic_solvency",
    "leaf_id_size", "point_size", "scalar_size", "leaf_record_size", "range_proof_fixed_size",
    "range_proof_round_size", "range_proof_version", "range_bits", "solvency_bits", "solvency_record_size",
    # §4, §5
    "tag_chunk_context", "tag_solvency_context", "tag_leaf_hash", "tag_node_hash", "max_merkle_path",
    # §6
    "max_manifest_bytes", "max_package_bytes", "max_json_depth", "max_json_int_digits", "json_short_escapes",
    "json_raw", "bundle_format", "bundle_format_version", "protocol", "tag_bundle_digest", "max_assets",
    "max_decimals", "max_reserves_exclusive", "max_disclosed_amount_exclusive", "max_ratio_term", "max_chunk",
    "max_leaves", "max_decimal_string_digits", "max_text_bytes", "text_unicode_version",
    "forbidden_code_points", "created_pattern",
    # §8
    "package_format", "package_format_version", "tag_leaf_id", "max_amount_exclusive", "max_entries",
    # §10
    "gens_dst", "gens_id_prefix", "gens_version", "gens_capacity", "generator_set_id", "gens_table_path",
    "gens_table_pairs", "gens_table_size", "gens_table_sha256", "gens_table_head", "B", "B_blinding",
    "G_vec_0", "G_vec_1", "H_vec_0", "H_vec_1",
    # §11
    "exit_ok", "exit_verification", "exit_usage", "exit_format", "exit_input", "exit_other", "exit_partial",
    # version 2: §2, §4, §6.3, §12
    "wallets_name", "tag_solvency_context_v2", "bundle_format_version_declared", "wallets_format",
    "wallets_format_version", "max_wallets", "max_attested", "max_chains", "max_wallets_bytes",
    "tag_control_message",
    # version 3: §2, §3.4, §3.5, §4, §5.2, §6.3, §8
    "nodes_suffix", "node_proofs_suffix", "magic_nodes", "magic_node_proofs", "node_record_size", "node_bits",
    "node_proof_record_size", "tag_node_context", "tag_chunk_node_hash", "tag_sum_node_hash",
    "bundle_format_version_wallets", "package_format_version_sum_tree",
    # version 4 (margin accounts): §14.2-§14.5
    "tag_margin_params", "max_margin_slots", "max_collateral_types", "max_tiers", "max_value_decimals",
    "max_margin_asset_decimals", "max_tier_boundary_exclusive", "max_margin_accounts",
    "bundle_format_version_margin", "margin_records_name", "margin_proofs_name",
    "magic_margin_records", "magic_margin_proofs", "tag_margin_record_hash", "tag_margin_id", "tag_margin_leaf_id",
    "tag_margin_context", "tag_solvency_context_v4", "package_format_version_margin",
}  # fmt: skip


def test_the_spec_blocks_define_exactly_the_pinned_constants() -> None:
    assert set(SPEC) == EXPECTED_NAMES


def test_the_parser_reads_every_value_form() -> None:
    doc = (
        'text\n```spec\nn = 12\nx = 0x1ff\nh = hex:00ff\ns = "ab" || 0x00\nr = U+0000..U+001F U+007F\n'
        "    U+D800..U+DFFF\n```\n```python\nx = 1\n```\n"
    )
    assert spec_constants(doc) == {
        "n": 12, "x": 511, "h": b"\x00\xff", "s": b"ab\x00", "r": ((0, 0x1F), (0x7F, 0x7F), (0xD800, 0xDFFF))
    }  # fmt: skip
    with pytest.raises(AssertionError):
        spec_constants("```spec\nn = 1\nn = 2\n```\n")


def test_every_tag_and_magic_quoted_in_the_prose_is_a_spec_constant() -> None:
    """A tag edited in a formula of the prose but not in its spec block (or the reverse) fails here.

    §9 (prover-side key derivation, informative: no verifier recomputes it) and §13 (the private package
    store, informative) are left out.
    """
    prose = _BLOCK_RE.sub("", SPEC_TEXT)
    prose = re.sub(r"^## 9\..*?(?=^## 10\.)", "", prose, flags=re.S | re.M)
    prose = re.sub(r"^## 13\..*?(?=^## 14\.|\Z)", "", prose, flags=re.S | re.M)  # the package store, informative
    assert "## 10." in prose and "## 9." not in prose and "## 13." not in prose and "## 14." in prose
    defined = {v for v in SPEC.values() if isinstance(v, bytes)}
    pieces = {v.strip(b"\x00\x01\x02\x03\x04") for v in defined if re.match(rb"[\x00-\x04]?(zk-solvency[ -]|ZKS)", v)}
    quoted = set(re.findall(r'"(zk-solvency[ -][^"]*)"', prose)) | set(re.findall(r"ZKS[A-Z]{4}[0-9]", prose))
    assert quoted, "the prose quotes no tag"
    for q in sorted(quoted):
        assert q.encode() in pieces, f"the prose quotes {q!r}, which no spec block defines"
    for p in sorted(pieces):
        assert p.decode() in prose, f"spec constant {p!r} is never used in the prose"


# ---------------------------------------------------------------------------
# §2-§5: names, headers, records, proofs, tags


def test_moduli() -> None:
    assert _int("group_order") == GROUP_ORDER
    assert _int("field_modulus") == FIELD_MODULUS
    note = WIRE_NOTE.read_text(encoding="utf-8")
    assert f"p = {FIELD_MODULUS:#x}" in note


def test_names_and_format_constants() -> None:
    assert _str("manifest_name") == manifest_fmt.MANIFEST_NAME
    assert _str("symbol_pattern") == "^" + limits.SYMBOL_RE.pattern + "$"
    assert _str("bundle_format") == manifest_fmt.BUNDLE_FORMAT
    assert _int("bundle_format_version") == manifest_fmt.BUNDLE_FORMAT_VERSION
    assert _int("bundle_format_version_declared") == manifest_fmt.BUNDLE_FORMAT_VERSION_DECLARED
    assert _str("wallets_name") == manifest_fmt.WALLETS_FILE
    assert _str("package_format") == package_fmt.PACKAGE_FORMAT
    assert _int("package_format_version") == package_fmt.PACKAGE_FORMAT_VERSION
    assert _bytes("protocol") == PROTOCOL_LABEL
    assert datafiles.data_file_names("BTC") == {
        "leaves": "BTC" + _str("leaves_suffix"),
        "range_proofs": "BTC" + _str("range_proofs_suffix"),
        "solvency": "BTC" + _str("solvency_suffix"),
        "nodes": "BTC" + _str("nodes_suffix"),
        "node_proofs": "BTC" + _str("node_proofs_suffix"),
    }


def test_headers_and_magic_bytes() -> None:
    magics = {
        "magic_leaves": datafiles.MAGIC_LEAVES,
        "magic_range_proofs": datafiles.MAGIC_RANGE_PROOFS,
        "magic_solvency": datafiles.MAGIC_SOLVENCY,
        "magic_nodes": datafiles.MAGIC_NODES,
        "magic_node_proofs": datafiles.MAGIC_NODE_PROOFS,
    }
    for name, code in magics.items():
        assert _bytes(name) == code, name
        assert len(code) == 8
        header = datafiles.encode_header(code, 5, 80)
        assert header == _bytes(name) + _le32(5) + _le32(80)
        assert len(header) == _int("header_size") == datafiles.HEADER_SIZE


def test_record_and_element_sizes() -> None:
    assert _int("point_size") == POINT_SIZE
    assert _int("scalar_size") == SCALAR_SIZE
    assert _int("leaf_id_size") == datafiles.LEAF_ID_SIZE
    assert _int("leaf_record_size") == datafiles.LEAF_RECORD_SIZE == _int("leaf_id_size") + _int("point_size")
    assert _int("range_proof_version") == RANGEPROOF_FORMAT_VERSION
    assert _int("range_bits") == limits.RANGE_BITS
    assert _int("solvency_bits") == limits.SOLVENCY_BITS
    fixed, per_round = _int("range_proof_fixed_size"), _int("range_proof_round_size")
    assert fixed == 1 + 4 * POINT_SIZE + 5 * SCALAR_SIZE and per_round == 2 * POINT_SIZE
    for k in range(MAX_IPP_ROUNDS + 1):
        assert RangeProof.size_for(k) == fixed + per_round * k, k
    for lg_m in range(_int("max_chunk").bit_length()):
        m = 1 << lg_m
        assert datafiles.range_record_size(m) == fixed + per_round * (6 + lg_m), m
    assert _int("solvency_record_size") == fixed + per_round * 7 == RangeProof.size_for(7)
    assert _int("node_bits") == limits.NODE_BITS
    assert _int("node_record_size") == sumtree.NODE_RECORD_SIZE == _int("point_size") + 32
    assert _int("node_proof_record_size") == datafiles.node_proof_record_size() == fixed + per_round * 8


def test_sum_tree_hashes_and_node_context_by_behaviour() -> None:
    C, left, right, mth = b"\x22" * 48, b"\x33" * 32, b"\x44" * 32, b"\x55" * 32
    assert sumtree.chunk_node_hash(C, mth) == hashlib.sha256(_bytes("tag_chunk_node_hash") + C + mth).digest()
    assert sumtree.sum_node_hash(C, left, right) == hashlib.sha256(
        _bytes("tag_sum_node_hash") + C + left + right
    ).digest()
    root = b"\x66" * 32
    node = NodeStatement(
        exchange="Ex", round="R1", symbol="BTC", leaf_count=64, chunk_size=4, split=8, merkle_root=root
    )
    assert node.context() == (
        _bytes("tag_node_context") + _frame(b"Ex") + _frame(b"R1") + _frame(b"BTC")
        + _le64(64) + _le64(4) + _le64(8) + root
    )  # fmt: skip
    assert datafiles.data_file_names("BTC")["nodes"] == "BTC" + _str("nodes_suffix")
    assert datafiles.data_file_names("BTC")["node_proofs"] == "BTC" + _str("node_proofs_suffix")


def test_the_size_table_of_the_wire_format_note() -> None:
    text = WIRE_NOTE.read_text(encoding="utf-8")
    header = re.search(r"^\| `n` \\ `m` \|(.*)\|$", text, re.M)
    assert header, "the size table of notes/60-wire-format.md is missing"
    ms = [int(c) for c in header[1].split("|")]
    rows = re.findall(r"^\| ([0-9]+) \|((?: \**[0-9,]+\** \|)+)$", text[header.end() :], re.M)
    assert len(rows) == 4
    for n, cells in rows:
        sizes = [int(c.strip(" *").replace(",", "")) for c in cells.strip(" |").split("|")]
        for m, size in zip(ms, sizes, strict=True):
            assert size == RangeProof.size_for((int(n) * m).bit_length() - 1), (n, m)


def test_the_example_manifest_sizes_follow_the_formulas() -> None:
    example = re.search(r"### 6\.3.*?```json\n(.*?)```", SPEC_TEXT, re.S)
    assert example
    body = example[1]
    leaf_count = int(re.search(r'"leaf_count": ([0-9]+)', body)[1])  # type: ignore[index]
    m = int(re.search(r'"chunk_size": ([0-9]+)', body)[1])  # type: ignore[index]
    sizes = {name: int(size) for name, size in re.findall(r'"name": "<S>\.([a-z]+)\.bin",\s*"size": ([0-9]+)', body)}
    assert sizes == {
        "leaves": datafiles.HEADER_SIZE + leaf_count * datafiles.LEAF_RECORD_SIZE,
        "rangeproofs": datafiles.HEADER_SIZE + leaf_count // m * datafiles.range_record_size(m),
        "solvency": datafiles.HEADER_SIZE + RangeProof.size_for(7),
    }


def test_hash_tags_by_behaviour() -> None:
    """The code's hashes and contexts are exactly the spec's formulas over the spec's tags."""
    lid, V, left, right = b"\x11" * 32, b"\x22" * 48, b"\x33" * 32, b"\x44" * 32
    assert merkle.leaf_hash(lid, 7, V) == hashlib.sha256(_bytes("tag_leaf_hash") + lid + _le64(7) + V).digest()
    assert merkle.node_hash(left, right) == hashlib.sha256(_bytes("tag_node_hash") + left + right).digest()
    salt = b"\x55" * 32
    assert (
        datafiles.leaf_id("R1", "BTC", "alice", salt)
        == hashlib.sha256(_bytes("tag_leaf_id") + _frame(b"R1") + _frame(b"BTC") + _frame(b"alice") + salt).digest()
    )
    root = b"\x66" * 32
    chunk = ChunkStatement(
        exchange="Ex", round="R1", symbol="BTC", leaf_count=64, chunk_size=4, chunk=3, merkle_root=root
    )
    assert chunk.context() == (
        _bytes("tag_chunk_context") + _frame(b"Ex") + _frame(b"R1") + _frame(b"BTC")
        + _le64(64) + _le64(4) + _le64(3) + root
    )  # fmt: skip
    C_L = PedersenGens.default().B_blinding
    solvency = SolvencyStatement(
        exchange="Ex", round="R1", symbol="BTC", decimals=8, reserves=2**100 + 5, num=5, den=4, leaf_count=64,
        merkle_root=root, C_L=C_L,
    )  # fmt: skip
    assert solvency.context() == (
        _bytes("tag_solvency_context") + _frame(b"Ex") + _frame(b"R1") + _frame(b"BTC") + _le64(8)
        + (2**100 + 5).to_bytes(16, "little") + _le64(5) + _le64(4) + _le64(64) + root + C_L.to_bytes()
    )  # fmt: skip
    digest = hashlib.sha256(b"a wallet list").digest()
    solvency_v2 = dataclasses.replace(solvency, wallets_sha256=digest, reserves_basis="wallets+attested")
    assert solvency_v2.context() == (
        _bytes("tag_solvency_context_v2") + _frame(b"Ex") + _frame(b"R1") + _frame(b"BTC") + _le64(8)
        + (2**100 + 5).to_bytes(16, "little") + _le64(5) + _le64(4) + _le64(64) + root + C_L.to_bytes() + digest
        + _frame(b"wallets+attested")
    )  # fmt: skip
    body = {"b": [1, "x"], "a": None}
    assert (
        manifest_fmt.bundle_digest({**body, "bundle_digest": "ff"})
        == hashlib.sha256(_bytes("tag_bundle_digest") + spec_canonical(body)).digest()
    )


def test_wallet_list_constants_and_control_message() -> None:
    """§12: the wallet list's constants, and the control message byte for byte."""
    from circuits import control
    from circuits import wallets as wallets_fmt

    assert _str("wallets_format") == wallets_fmt.WALLETS_FORMAT
    assert _int("wallets_format_version") == wallets_fmt.WALLETS_FORMAT_VERSION
    assert _int("max_wallets") == wallets_fmt.MAX_WALLETS
    assert _int("max_attested") == wallets_fmt.MAX_ATTESTED
    assert _int("max_chains") == wallets_fmt.MAX_CHAINS
    assert _int("max_wallets_bytes") == wallets_fmt.MAX_WALLETS_BYTES
    assert _bytes("tag_control_message") == control.CONTROL_MESSAGE_TAG.encode()
    expected = (
        _bytes("tag_control_message") + b"\nexchange: Ex\nround: R1\nchain: eip155:1\nheight: 7\nblock: 0x"
        + b"ab" * 32 + b"\naddress: 0xAbC"
    )  # fmt: skip
    assert control.control_message("Ex", "R1", "eip155:1", 7, "0x" + "ab" * 32, "0xAbC") == expected


def test_margin_constants_and_hashes_by_behaviour() -> None:
    """§14.2-§14.5: the margin limits, names and magic bytes, and each tag used as its formula says."""
    from circuits import margin

    assert _int("max_margin_slots") == limits.MAX_MARGIN_SLOTS
    assert _int("max_collateral_types") == limits.MAX_COLLATERAL_TYPES
    assert _int("max_tiers") == limits.MAX_TIERS
    assert _int("max_value_decimals") == limits.MAX_VALUE_DECIMALS
    assert _int("max_margin_asset_decimals") == limits.MAX_MARGIN_ASSET_DECIMALS
    assert _int("max_tier_boundary_exclusive") == limits.MAX_TIER_BOUNDARY == 1 << 56
    assert _int("max_margin_accounts") == limits.MAX_MARGIN_ACCOUNTS == 1 << 24
    assert _int("bundle_format_version_margin") == manifest_fmt.BUNDLE_FORMAT_VERSION_MARGIN
    assert _int("package_format_version_margin") == package_fmt.PACKAGE_FORMAT_VERSION_MARGIN
    assert _str("margin_records_name") == margin.MARGIN_RECORDS_NAME
    assert _str("margin_proofs_name") == margin.MARGIN_PROOFS_NAME
    assert _bytes("magic_margin_records") == margin.MAGIC_MARGIN_RECORDS
    assert _bytes("magic_margin_proofs") == margin.MAGIC_MARGIN_PROOFS
    record = b"\x12" * 80
    assert margin.margin_leaf_hash(record) == hashlib.sha256(_bytes("tag_margin_record_hash") + record).digest()
    salt = b"\x55" * 32
    assert margin.margin_record_id("R1", "alice", salt) == hashlib.sha256(
        _bytes("tag_margin_id") + _frame(b"R1") + _frame(b"alice") + salt
    ).digest()
    assert margin.margin_leaf_id(b"\x33" * 32, "BTC") == hashlib.sha256(
        _bytes("tag_margin_leaf_id") + b"\x33" * 32 + _frame(b"BTC")
    ).digest()
    params = margin.MarginParams(
        value_decimals=2, collateral_types=("loan",), slots=1, accounts=2,
        assets=(margin.AssetMargin("BTC", 8, 7, ((margin.Tier(None, 50),),)),),
    )  # fmt: skip
    assert params.digest() == hashlib.sha256(
        _bytes("tag_margin_params") + bytes([2]) + struct.pack("<HHHI", 1, 1, 1, 2) + _frame(b"loan")
        + _frame(b"BTC") + bytes([8]) + _le64(7) + bytes([1]) + _le64(0) + bytes([50])
    ).digest()  # fmt: skip
    digest, root = b"\x11" * 32, b"\x22" * 32
    part = margin.MarginPartStatement(
        exchange="Ex", round="R1", margin_digest=digest, margin_root=root, accounts=2, group=1, part=0,
        offset=0, size=8,
    )  # fmt: skip
    assert part.context() == (
        _bytes("tag_margin_context") + _frame(b"Ex") + _frame(b"R1") + digest + root
        + _le32(2) + _le32(1) + _le32(0) + _le32(0) + _le32(8)
    )  # fmt: skip
    C = PedersenGens.default().B
    solvency = SolvencyStatement(
        exchange="Ex", round="R1", symbol="BTC", decimals=8, reserves=5, num=1, den=1, leaf_count=64,
        merkle_root=root, C_L=C, margin_digest=digest, margin_root=root, C_D=C,
    )  # fmt: skip
    inner = dataclasses.replace(solvency, margin_digest=None, margin_root=None, C_D=None).context()
    assert solvency.context() == (
        _bytes("tag_solvency_context_v4") + _frame(inner) + digest + root + C.to_bytes()
    )
    chunk = ChunkStatement(
        exchange="Ex", round="R1", symbol="BTC", leaf_count=64, chunk_size=4, chunk=3, merkle_root=root,
        margin_digest=digest,
    )  # fmt: skip
    assert chunk.context() == dataclasses.replace(chunk, margin_digest=None).context() + digest


def test_merkle_path_length_is_malformed() -> None:
    """§5: a path too long or too short is malformed (FormatError), whatever its hashes."""
    tree = merkle.MerkleTree([bytes([i]) * 32 for i in range(5)])
    path = tree.path(4)
    assert merkle.verify_merkle_path(bytes([4]) * 32, 4, 5, path) == tree.root
    for bad in (path[:-1], [*path, b"\x00" * 32]):
        with pytest.raises(FormatError):
            merkle.verify_merkle_path(bytes([4]) * 32, 4, 5, bad)
    assert _int("max_merkle_path") == 64


# ---------------------------------------------------------------------------
# §6.1-§6.2: the JSON profile and the canonical form

_SHORT = {0x22: '\\"', 0x5C: "\\\\", 0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"}


def _spec_escape(c: int) -> str:
    """One code point as §6.2's table writes it (short escapes and the raw range from the spec block)."""
    short = {lo for lo, _ in _ranges("json_short_escapes")}
    ((raw_lo, raw_hi),) = _ranges("json_raw")
    if c in short:
        return _SHORT[c]
    if raw_lo <= c <= raw_hi:
        return chr(c)
    if c < 0x10000:
        return f"\\u{c:04x}"
    c -= 0x10000
    return f"\\u{0xD800 + (c >> 10):04x}\\u{0xDC00 + (c & 0x3FF):04x}"


def spec_canonical(value: Any) -> bytes:
    """§6.2 written from the text: a second encoder to compare the code's with."""

    def enc(v: Any) -> str:
        if v is None:
            return "null"
        if v is True or v is False:
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, str):
            return '"' + "".join(_spec_escape(ord(ch)) for ch in v) + '"'
        if isinstance(v, list):
            return "[" + ",".join(enc(x) for x in v) + "]"
        assert isinstance(v, dict)
        keys = sorted(v, key=lambda k: [ord(ch) for ch in k])
        return "{" + ",".join(enc(k) + ":" + enc(v[k]) for k in keys) + "}"

    return enc(value).encode("ascii")


def test_canonical_escapes_of_every_code_point() -> None:
    everything = "".join(chr(c) for c in range(0x110000))
    step = 0x8000
    for start in range(0, len(everything), step):
        piece = everything[start : start + step]
        assert jsonio.canonical_json(piece) == spec_canonical(piece), hex(start)
    assert jsonio.canonical_json("\x7f") == b'"\\u007f"'  # DEL is escaped (§6.2)
    assert jsonio.canonical_json("/\x1b\U0001f600") == b'"/\\u001b\\ud83d\\ude00"'


def test_canonical_key_order_is_by_code_point_not_utf16() -> None:
    obj = {"\U00010000": 1, "\uffff": 2, "b": [True, False, None], "B": {"z": 0, "a": 10**20}, "": -1}
    assert jsonio.canonical_json(obj) == spec_canonical(obj)
    assert jsonio.canonical_json(obj).startswith(b'{"":-1,"B":{"a":100000000000000000000,"z":0},"b":[true,false,null]')
    assert jsonio.canonical_json({"\U00010000": 1, "\uffff": 2}) == b'{"\\uffff":2,"\\ud800\\udc00":1}'


# ---------------------------------------------------------------------------
# §6.3-§6.5 and §8: limits, checked at the bound and one past it


def _manifest(**asset_changes: Any) -> dict[str, Any]:
    """A manifest written from §6.3 (no data files are needed to parse one)."""
    leaf_count, m = 8, 4
    asset: dict[str, Any] = {
        "symbol": "BTC",
        "decimals": 8,
        "reserves": "1000",
        "min_ratio": {"num": 1, "den": 1},
        "leaf_count": leaf_count,
        "chunk_size": m,
        "range_bits": 64,
        "merkle_root": "00" * 32,
        "liabilities_commitment": "c0" + "00" * 47,
        "disclosed_liabilities": None,
    }
    asset.update(asset_changes)
    n, mm = asset["leaf_count"], asset["chunk_size"]
    fixed, per_round = _int("range_proof_fixed_size"), _int("range_proof_round_size")
    sizes = {
        "leaves": 16 + 80 * n,
        "range_proofs": 16 + (n // mm) * (fixed + per_round * ((64 * mm).bit_length() - 1)),
        "solvency": 16 + _int("solvency_record_size"),
    }
    names = {"leaves": "leaves", "range_proofs": "rangeproofs", "solvency": "solvency"}
    asset["files"] = {
        role: {"name": f"{asset['symbol']}.{names[role]}.bin", "size": size, "sha256": "ab" * 32}
        for role, size in sizes.items()
    }
    return {
        "format": _str("bundle_format"),
        "format_version": _int("bundle_format_version_declared"),
        "protocol": _str("protocol"),
        "generators": _bytes("generator_set_id").hex(),
        "exchange": "Exchange",
        "round": "2026-01",
        "created": "2026-01-31T00:00:00Z",
        "assets": [asset],
    }


def _manifest_bytes(manifest: dict[str, Any]) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "bundle_digest"}
    digest = hashlib.sha256(_bytes("tag_bundle_digest") + spec_canonical(body)).hexdigest()
    return spec_canonical({**body, "bundle_digest": digest}) + b"\n"


def _manifest_refused(manifest: dict[str, Any]) -> str | None:
    """None if the manifest parses, else the section of the FormatError (a FormatError and nothing else)."""
    try:
        manifest_fmt.Manifest.from_bytes(_manifest_bytes(manifest))
    except FormatError as exc:
        assert type(exc) is FormatError
        return exc.section
    return None


def _parses_manifest(manifest: dict[str, Any]) -> bool:
    return _manifest_refused(manifest) is None


def _package(customer_id: str = "alice", **entry_changes: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "asset": "BTC",
        "decimals": 8,
        "amount": "5",
        "blinding": "01" + "00" * 31,
        "leaf_salt": "00" * 32,
        "leaf_id": "00" * 32,
        "leaf_index": 0,
        "leaf_count": 8,
        "merkle_root": "00" * 32,
        "merkle_path": ["00" * 32] * 3,
    }
    entry.update(entry_changes)
    return {
        "format": _str("package_format"),
        "format_version": _int("package_format_version"),
        "exchange": "Exchange",
        "round": "2026-01",
        "bundle_digest": "00" * 32,
        "customer_id": customer_id,
        "entries": [entry],
    }


def _package_refused(package: dict[str, Any] | bytes) -> str | None:
    """None if the package parses, else the section of the FormatError (a FormatError and nothing else)."""
    data = package if isinstance(package, bytes) else spec_canonical(package)
    try:
        package_fmt.Package.from_bytes(data)
    except FormatError as exc:
        assert type(exc) is FormatError
        return exc.section
    return None


def _parses_package(package: dict[str, Any] | bytes) -> bool:
    return _package_refused(package) is None


def test_the_reference_manifest_and_package_parse() -> None:
    assert _parses_manifest(_manifest())
    assert _parses_package(_package())


def test_manifest_numeric_bounds() -> None:
    reserves = _int("max_reserves_exclusive")
    assert reserves == 1 << limits.SOLVENCY_BITS
    assert _parses_manifest(_manifest(reserves=str(reserves - 1)))
    assert _manifest_refused(_manifest(reserves=str(reserves))) == "manifest.assets[0].reserves"
    assert _manifest_refused(_manifest(reserves="0" + str(reserves - 1))) == "manifest.assets[0].reserves"
    assert _int("max_decimal_string_digits") == 78
    assert _int("max_decimals") == limits.MAX_DECIMALS
    assert _parses_manifest(_manifest(decimals=_int("max_decimals")))
    assert _manifest_refused(_manifest(decimals=_int("max_decimals") + 1)) == "manifest.assets[0].decimals"
    term = _int("max_ratio_term")
    assert term == limits.MAX_RATIO_TERM
    assert _parses_manifest(_manifest(min_ratio={"num": term, "den": term - 1}))
    assert _manifest_refused(_manifest(min_ratio={"num": term + 1, "den": 1})) == "manifest.assets[0].min_ratio.num"
    disclosed = _int("max_disclosed_amount_exclusive")
    assert disclosed == 1 << 96
    assert _parses_manifest(_manifest(disclosed_liabilities={"amount": str(disclosed - 1), "blinding": "00" * 32}))
    bad = {"amount": str(disclosed), "blinding": "00" * 32}
    assert _manifest_refused(_manifest(disclosed_liabilities=bad)) == "manifest.assets[0].disclosed_liabilities.amount"
    chunk = _int("max_chunk")
    assert chunk == limits.MAX_CHUNK
    assert _parses_manifest(_manifest(chunk_size=chunk, leaf_count=chunk))
    assert _manifest_refused(_manifest(chunk_size=2 * chunk, leaf_count=2 * chunk)) == "manifest.assets[0].chunk_size"
    leaves = _int("max_leaves")
    assert leaves == limits.MAX_LEAVES == (1 << 32) - 1
    assert _parses_manifest(_manifest(chunk_size=1, leaf_count=leaves))
    assert _manifest_refused(_manifest(chunk_size=1, leaf_count=leaves + 1)) == "manifest.assets[0].leaf_count"
    assert _int("max_assets") == limits.MAX_ASSETS == _int("max_entries")


def test_package_bounds() -> None:
    amount = _int("max_amount_exclusive")
    assert amount == 1 << limits.RANGE_BITS
    assert _parses_package(_package(amount=str(amount - 1)))
    assert _package_refused(_package(amount=str(amount))) == "package.entries[0].amount"
    longest = _int("max_merkle_path")
    assert _parses_package(_package(merkle_path=["00" * 32] * longest))
    assert _package_refused(_package(merkle_path=["00" * 32] * (longest + 1))) == "package.entries[0].merkle_path"
    assert _package_refused(_package(leaf_index=8)) == "package.entries[0].leaf_index"


def test_text_field_byte_limit() -> None:
    limit = _int("max_text_bytes")
    assert limit == limits.MAX_LABEL_BYTES == limits.MAX_ID_BYTES
    at_limit = "é" * (limit // 2)  # 2 UTF-8 bytes each
    assert _parses_package(_package(customer_id=at_limit))
    assert _package_refused(_package(customer_id=at_limit + "a")) == "package.customer_id"
    assert _package_refused(_package(customer_id="")) == "package.customer_id"
    manifest = _manifest()
    assert _parses_manifest({**manifest, "exchange": "x" * limit})
    assert _manifest_refused({**manifest, "exchange": "x" * (limit + 1)}) == "manifest.exchange"
    assert _manifest_refused({**manifest, "round": ""}) == "manifest.round"


def test_file_size_limits() -> None:
    limit = _int("max_package_bytes")
    assert limit == limits.MAX_PACKAGE_BYTES
    body = spec_canonical(_package())
    assert _parses_package(body + b" " * (limit - len(body)))
    assert _package_refused(body + b" " * (limit - len(body) + 1)) == "package"
    assert _int("max_manifest_bytes") == limits.MAX_MANIFEST_BYTES
    with pytest.raises(FormatError):
        manifest_fmt.Manifest.from_bytes(b" " * (limits.MAX_MANIFEST_BYTES + 1))


def test_json_number_and_nesting_limits() -> None:
    digits = _int("max_json_int_digits")
    assert digits == limits.MAX_JSON_INT_DIGITS
    assert jsonio.load_json(b"[" + b"9" * digits + b"]", 100, "t")[0] == [int("9" * digits)]
    with pytest.raises(FormatError):
        jsonio.load_json(b"[" + b"9" * (digits + 1) + b"]", 100, "t")
    for number in (b"1.0", b"1e3", b"-1E3", b"NaN", b"Infinity", b"-Infinity"):
        with pytest.raises(FormatError):
            jsonio.load_json(b"[" + number + b"]", 100, "t")
    depth = _int("max_json_depth")
    assert depth == limits.MAX_JSON_DEPTH
    accepted = depth // 2
    assert jsonio.load_json(b"[" * accepted + b"]" * accepted, 1000, "t")[0] is not None
    nested = b'{"a":' * accepted + b"0" + b"}" * accepted
    assert jsonio.load_json(nested, 1000, "t")[0] is not None
    for d in (depth + 1, 10 * depth, 100_000):
        with pytest.raises(FormatError):
            jsonio.load_json(b"[" * d + b"]" * d, 10**6, "t")


def test_json_text_rules() -> None:
    """§6.1: strict UTF-8, no byte order mark, no raw control character in a string, no repeated key."""
    good = spec_canonical(_package())
    assert _parses_package(good)
    assert _parses_package(json.dumps(_package(), indent=2).encode())  # a package need not be canonical
    assert not _parses_package(b"\xef\xbb\xbf" + good)
    assert not _parses_package(good.replace(b'"alice"', b'"al\x01ice"'))
    assert not _parses_package(good.replace(b'"alice"', b'"al\xc3ice"'))
    assert not _parses_package(good.replace(b'"alice"', b'"al\xed\xa0\x80ice"'))  # an encoded surrogate
    # (canonical keys are sorted: an entry starts with "amount", the package with "bundle_digest")
    assert good.count(b'{"amount"') == 1 and good.count(b'{"bundle_digest"') == 1
    assert _package_refused(good.replace(b'{"amount"', b'{"amount":"6","amount"')) == "package.entries[0].amount"
    assert _package_refused(good.replace(b'{"bundle_digest"', b'{"round":"x","bundle_digest"')) == "package.round"


def test_a_manifest_must_be_canonical() -> None:
    data = _manifest_bytes(_manifest())
    manifest_fmt.Manifest.from_bytes(data)
    for bad in (
        data[:-1],
        data + b"\n",
        data.replace(b"\n", b"\r\n"),
        b" " + data,
        data.replace(b'"Exchange"', b'"Exch\\u0061nge"'),
        data.replace(b":", b": ", 1),
    ):
        with pytest.raises(FormatError):
            manifest_fmt.Manifest.from_bytes(bad)
    raw_del = _manifest()
    raw_del["exchange"] = "Ex\x7fchange"
    with pytest.raises(FormatError):  # canonical as \u007f, and DEL is forbidden in a text field anyway
        manifest_fmt.Manifest.from_bytes(_manifest_bytes(raw_del).replace(b"\\u007f", b"\x7f"))


def _outside(c: int) -> bool:
    return not any(lo <= c <= hi for lo, hi in _ranges("forbidden_code_points"))


def test_forbidden_code_points_are_the_codes_table() -> None:
    assert _ranges("forbidden_code_points") == text.FORBIDDEN_RANGES
    assert _str("text_unicode_version") == text.UNICODE_VERSION


def test_forbidden_code_points_are_unicode_14_categories() -> None:
    """The frozen table equals Unicode 14.0.0's Cc, Cf, Zl, Zp, Cs (checked where Python ships 14.0.0)."""
    ranges = _ranges("forbidden_code_points")
    assert all(a[1] + 1 < b[0] for a, b in itertools.pairwise(ranges)), "sorted, disjoint, merged"
    if unicodedata.unidata_version != _str("text_unicode_version"):
        pytest.skip(f"Python {sys.version_info[:2]} ships Unicode {unicodedata.unidata_version}")
    forbidden = {"Cc", "Cf", "Zl", "Zp", "Cs"}
    for c in range(0x110000):
        assert (unicodedata.category(chr(c)) in forbidden) == (not _outside(c)), hex(c)


def test_forbidden_code_points_are_refused_in_text_fields() -> None:
    """Each range's ends are refused in a customer id, and the code points just outside are accepted."""
    for lo, hi in _ranges("forbidden_code_points"):
        for c in {lo, hi}:
            # a lone surrogate can only arrive as a \\u escape
            assert _package_refused(_package(customer_id="a" + chr(c))) == "package.customer_id", hex(c)
        for c in (lo - 1, hi + 1):
            if 0 < c < 0x110000 and _outside(c):
                assert _parses_package(_package(customer_id="a" + chr(c))), hex(c)


@pytest.mark.parametrize(
    ("created", "ok"),
    [
        ("2026-01-31T00:00:00Z", True),
        ("2024-02-29T23:59:59Z", True),
        ("0001-01-01T00:00:00Z", True),
        ("9999-12-31T23:59:59Z", True),
        ("2000-02-29T12:00:00Z", True),
        ("2026-13-45T25:61:61Z", False),
        ("2023-02-29T00:00:00Z", False),
        ("1900-02-29T00:00:00Z", False),
        ("2026-04-31T00:00:00Z", False),
        ("2026-01-31T24:00:00Z", False),
        ("2026-01-31T23:60:00Z", False),
        ("2016-12-31T23:59:60Z", False),
        ("0000-01-01T00:00:00Z", False),
        ("\u0662\u0660\u0662\u0666-01-31T00:00:00Z", False),
        ("2026-01-31t00:00:00Z", False),
        ("2026-01-31T00:00:00z", False),
        ("2026-01-31T00:00:00+00:00", False),
        ("2026-01-31T00:00:00.5Z", False),
        ("2026-1-31T00:00:00Z", False),
    ],
)
def test_created_is_strict_rfc3339_utc(created: str, ok: bool) -> None:
    pattern = re.compile(_str("created_pattern"))
    assert _manifest_refused({**_manifest(), "created": created}) == (None if ok else "manifest.created")
    if ok:
        assert pattern.fullmatch(created)


# ---------------------------------------------------------------------------
# §10: generators


def test_generator_constants() -> None:
    assert _bytes("gens_dst") == GENS_DST
    assert len(GENS_DST) == 57
    assert _int("gens_version") == GENS_VERSION
    assert _int("gens_capacity") == GENS_CAPACITY
    assert _int("gens_table_pairs") == TABLE_PAIRS
    assert _bytes("gens_table_sha256").hex() == TABLE_SHA256
    assert _bytes("generator_set_id") == generator_set_id() == hashlib.sha256(
        _bytes("gens_id_prefix") + _frame(_bytes("gens_dst")) + _le32(_int("gens_version"))
        + _le64(_int("gens_capacity"))
    ).digest()  # fmt: skip


def test_the_shipped_table() -> None:
    data = (ROOT / _str("gens_table_path")).read_bytes()
    assert len(data) == _int("gens_table_size") == 96 * (2 + 2 * _int("gens_table_pairs"))
    assert hashlib.sha256(data).digest() == _bytes("gens_table_sha256")
    assert data.startswith(_bytes("gens_table_head"))


KNOWN_ANSWERS: dict[str, tuple[bytes, int]] = {
    # name: (message, index of the point in the shipped table)
    "B": (b"B", 0),
    "B_blinding": (b"B_blinding", 1),
    "G_vec_0": (b"G" + _le32(0), 2),
    "H_vec_0": (b"H" + _le32(0), 3),
    "G_vec_1": (b"G" + _le32(1), 4),
    "H_vec_1": (b"H" + _le32(1), 5),
}


def test_generator_known_answers(backend: GroupBackend) -> None:
    """Derived from the spec's DST and messages, loaded from the table, and used by the code: all agree."""
    table = (ROOT / _str("gens_table_path")).read_bytes()
    pc = PedersenGens.default(backend)
    bp = BulletproofGens.default(backend)
    used = {
        "B": pc.B, "B_blinding": pc.B_blinding, "G_vec_0": bp.G(2)[0], "G_vec_1": bp.G(2)[1],
        "H_vec_0": bp.H(2)[0], "H_vec_1": bp.H(2)[1],
    }  # fmt: skip
    for name, (message, slot) in KNOWN_ANSWERS.items():
        derived = Point.hash_to_curve(message, _bytes("gens_dst"), backend)
        assert derived.to_bytes() == _bytes(name), name
        assert backend.to_xy(derived.raw) == table[96 * slot : 96 * slot + 96], name
        assert used[name] == derived, name


# ---------------------------------------------------------------------------
# §11: exit codes


def test_exit_codes() -> None:
    from cli import exit_codes

    names: dict[str, Callable[[], int]] = {
        "exit_ok": lambda: exit_codes.EXIT_OK,
        "exit_verification": lambda: exit_codes.EXIT_VERIFICATION,
        "exit_usage": lambda: exit_codes.EXIT_USAGE,
        "exit_format": lambda: exit_codes.EXIT_FORMAT,
        "exit_input": lambda: exit_codes.EXIT_INPUT,
        "exit_other": lambda: exit_codes.EXIT_OTHER,
        "exit_partial": lambda: exit_codes.EXIT_PARTIAL,
    }
    for name, code in names.items():
        assert _int(name) == code(), name
    assert [_int(n) for n in names] == list(range(7))


# ---------------------------------------------------------------------------
# Error kinds the spec states that no other test pins (§3.3, §7 step 5)


def _parseable_proof(lg_bits: int) -> bytes:
    """A record that parses as a RangeProof (valid points and scalars) but proves nothing."""
    B = PedersenGens.default().B.to_bytes()
    one = (1).to_bytes(32, "little")
    return bytes([RANGEPROOF_FORMAT_VERSION]) + B * 4 + one * 3 + B * (2 * lg_bits) + one * 2


def test_identity_surplus_commitment_is_false(tmp_path: Path) -> None:
    """§3.3: leaves summing to exactly R*B (blindings cancel) make V_s the identity: false (exit 1), not
    malformed, at the solvency file."""
    from adversary import CheatAsset, CheatLeaf, write_cheat_bundle
    from typer.testing import CliRunner

    from circuits.constants import GROUP_ORDER as r
    from circuits.errors import VerificationError
    from cli.main import app
    from verifier.bundle import verify_bundle

    b = 12345
    leaves = [CheatLeaf(b"\x01" * 32, 100, b), CheatLeaf(b"\x02" * 32, 0, r - b)]
    record = _parseable_proof(7)
    assert len(record) == _int("solvency_record_size")
    made = write_cheat_bundle(tmp_path / "b", [CheatAsset("BTC", leaves, 100, solvency_record=record)])
    with pytest.raises(VerificationError) as info:
        verify_bundle(made.path)
    assert type(info.value) is VerificationError and info.value.section == "BTC.solvency.bin"
    assert "identity" in str(info.value)
    result = CliRunner().invoke(app, ["verify", str(made.path), "--json", "--quiet"])
    payload = json.loads(result.stdout)
    assert result.exit_code == _int("exit_verification")
    assert (payload["failure_section"], payload["failure_kind"]) == ("BTC.solvency.bin", "false")


def test_the_transcript_labels_of_notes_50() -> None:
    """The fixed data rows of the label table (notes/50-transcript.md) are the code's tags."""
    from circuits import schedule

    note = (ROOT / "circuits" / "notes" / "50-transcript.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r'^\| ([0-9]+) \| A \| `[a-z-]+` \| `b"([^"]+)"`', note, re.M))
    assert rows == {
        "1": PROTOCOL_LABEL.decode(),
        "2": schedule.RANGE_APP_LABEL.decode(),
        "3": schedule._RANGEPROOF_DOMAIN.decode(),
        "20": schedule._IPP_DOMAIN.decode(),
    }
