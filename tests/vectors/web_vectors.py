#!/usr/bin/env python3
"""Cross-language vectors for the browser check's JS crypto core (``web_v1.json``), computed by the Python code.

The JS module ``web/src/`` mirrors ``circuits/`` and ``verifier/``; ``web/test/*.test.mjs`` replay
this file (and the frozen ``transcript_v1.json``, ``range_proof_v1.json`` and ``bundle_v*/``). Every
expected outcome here is what the Python code returns or raises, never a value typed by hand:

* ``points``: 48-byte (and wrong-length) encodings: valid ones, non-canonical flags, ``x >= p``,
  off the curve, on the curve but outside the subgroup. ``output`` is the canonical re-encoding, or
  ``null`` when :meth:`Point.from_bytes` raises (``error`` names the class); ``unchecked`` is the
  outcome of :meth:`Point.from_bytes_without_subgroup_check`.
* ``scalars``: 32-byte (and wrong-length) encodings; ``output`` the decimal value or ``null``.
* ``hash_to_curve``: RFC 9380 ``hash_to_curve`` (BLS12381G1_XMD:SHA-256_SSWU_RO_) under the project's
  DST and under RFC 9380's own test DST.
* ``generators``: the generator set id, ``B``, ``B_blinding`` and ``G_vec[i]``, ``H_vec[i]`` at
  indices inside and past the shipped table.
* ``msm`` and ``commitments``: multi-scalar multiplications and Pedersen commitments.
* ``merkle``: leaf ids, leaf-tree roots and audit paths (and paths of the wrong length), the sum
  tree's paths and node lists, chunk/sum-node hashes, margin record hashes and ids.
* ``range_proof_classes``: for each case of ``range_proof_v1.json``, the exact class Python raises
  and at which stage (``parse`` or ``verify``).
* ``tampered``: byte flips, truncations and extensions of a valid proof, and flips of its
  commitments and context, each with the class Python raises (``null`` = still verifies).
* ``chunk64``: one 64-leaf chunk proof (n = 64, m = 64) with its commitments and chunk context
  (FORMAT §4), for the JS test and ``bench/web_range_bench.mjs``.

Nothing is random: inputs come from SHAKE256 of a fixed seed. Regeneration must give an identical
file (``--check``).

Usage (from the repository root)::

    python tests/vectors/web_vectors.py           # write web_v1.json
    python tests/vectors/web_vectors.py --check   # exit 1 if regeneration differs
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from circuits.backends import GroupBackend, get_backend
from circuits.constants import FIELD_MODULUS, GENS_DST, GROUP_ORDER, POINT_SIZE, SCALAR_SIZE
from circuits.errors import FormatError, ParameterError, ProofError, VerificationError
from circuits.generators import BulletproofGens, PedersenGens, generator_set_id
from circuits.group import Point, msm, scalar_from_bytes
from circuits.margin import margin_leaf_hash, margin_leaf_id, margin_record_id
from circuits.merkle import MerkleTree, leaf_hash, verify_merkle_path
from circuits.proofs import RangeProof
from circuits.relations import Opening, RangeStatement
from circuits.statements import ChunkStatement
from circuits.sumtree import chunk_hash, chunk_node_hash, chunk_path, root_index, sum_node_hash, sum_nodes
from prover import prove_range
from verifier import verify_range

Json = dict[str, Any]

VECTORS_DIR = Path(__file__).resolve().parent
OUT_PATH = VECTORS_DIR / "web_v1.json"
RANGE_VECTORS = VECTORS_DIR / "range_proof_v1.json"
BACKEND = "fast"
SEED = b"zk-solvency web_v1 vectors"
RFC9380_DST = b"QUUX-V01-CS02-with-BLS12381G1_XMD:SHA-256_SSWU_RO_"


def shake(tag: str, size: int) -> bytes:
    """``size`` deterministic bytes: SHAKE256(SEED || "|" || tag)."""
    return hashlib.shake_256(SEED + b"|" + tag.encode()).digest(size)


def shake_scalar(tag: str) -> int:
    """A deterministic non-zero scalar."""
    for attempt in itertools.count():
        k = int.from_bytes(shake(f"{tag}/{attempt}", 64), "little") % GROUP_ORDER
        if k:
            return k
    raise AssertionError("unreachable")


def shake_rng(tag: str) -> Callable[[int], bytes]:
    """A deterministic ``rng(size) -> bytes`` for the prover."""
    counter = itertools.count()
    return lambda size: shake(f"rng/{tag}/{next(counter)}", size)


def _sqrt_mod_p(a: int) -> int | None:
    y = pow(a, (FIELD_MODULUS + 1) // 4, FIELD_MODULUS)
    return y if y * y % FIELD_MODULUS == a % FIELD_MODULUS else None


def _compressed(x: int, y_is_larger: bool, flags: int = 0x80) -> bytes:
    data = bytearray(x.to_bytes(POINT_SIZE, "big"))
    data[0] |= flags | (0x20 if y_is_larger else 0)
    return bytes(data)


def _error_name(exc: ProofError) -> str:
    for cls in (FormatError, VerificationError, ParameterError):
        if type(exc) is cls:
            return cls.__name__
    raise AssertionError(f"unexpected error class {type(exc).__name__}")


# ---------------------------------------------------------------------------
# Points and scalars
# ---------------------------------------------------------------------------


def point_cases(be: GroupBackend) -> list[Json]:
    """Encodings and Python's verdict on each."""
    G = Point.generator(be)
    pc = PedersenGens.default(be)
    cases: list[tuple[str, bytes]] = [
        ("generator", G.to_bytes()),
        ("identity", Point.identity(be).to_bytes()),
        ("B", pc.B.to_bytes()),
        ("B_blinding", pc.B_blinding.to_bytes()),
    ]
    for i in range(6):
        P = G * shake_scalar(f"point {i}")
        cases.append((f"multiple_{i}", P.to_bytes()))
        cases.append((f"multiple_{i}_negated", (-P).to_bytes()))
    valid = G.to_bytes()
    x_g = int.from_bytes(bytes([valid[0] & 0x1F]) + valid[1:], "big")
    off_curve = [x for x in itertools.islice(itertools.count(1), 200) if _sqrt_mod_p(x**3 + 4) is None][:4]
    on_curve = [x for x in itertools.islice(itertools.count(1), 200) if _sqrt_mod_p(x**3 + 4) is not None][:4]
    cases += [
        ("sign_bit_flipped_generator", bytes([valid[0] ^ 0x20]) + valid[1:]),
        ("compression_flag_cleared", bytes([valid[0] & 0x7F]) + valid[1:]),
        ("infinity_flag_set_on_point", bytes([valid[0] | 0x40]) + valid[1:]),
        ("identity_with_sign_bit", bytes([0xE0]) + bytes(47)),
        ("identity_with_nonzero_x", bytes([0xC0]) + bytes(46) + b"\x01"),
        ("identity_with_nonzero_first_byte", bytes([0xC1]) + bytes(47)),
        ("infinity_without_compression", bytes([0x40]) + bytes(47)),
        ("all_zero", bytes(48)),
        ("x_equal_to_p", _compressed(FIELD_MODULUS, False)),
        ("x_p_plus_generator_x", _compressed(FIELD_MODULUS + x_g, bool(valid[0] & 0x20))),
        ("x_all_ones", bytes([0x9F]) + b"\xff" * 47),
        ("x_zero", _compressed(0, False)),
        ("x_zero_sign", _compressed(0, True)),
        ("uncompressed_generator", be.to_xy(G.raw)),
        ("uncompressed_generator_flagged", bytes([be.to_xy(G.raw)[0] | 0x80]) + be.to_xy(G.raw)[1:]),
        ("empty", b""),
        ("truncated_47", valid[:47]),
        ("extended_49", valid + b"\x00"),
        ("one_byte", b"\xc0"),
    ]
    for x in off_curve:
        cases.append((f"off_curve_x_{x}", _compressed(x, False)))
        cases.append((f"off_curve_x_{x}_sign", _compressed(x, True)))
    for x in on_curve:
        y = _sqrt_mod_p(x**3 + 4)
        assert y is not None
        cases.append((f"not_in_subgroup_x_{x}", _compressed(x, y > FIELD_MODULUS - y)))
        cases.append((f"not_in_subgroup_x_{x}_other_y", _compressed(x, y < FIELD_MODULUS - y)))
    out: list[Json] = []
    for name, data in cases:
        case: Json = {"name": name, "hex": data.hex()}
        try:
            case["output"], case["error"] = Point.from_bytes(data, be).to_bytes().hex(), None
        except FormatError as exc:
            case["output"], case["error"] = None, _error_name(exc)
        try:
            case["unchecked"] = Point.from_bytes_without_subgroup_check(data, be).to_bytes().hex()
        except FormatError:
            case["unchecked"] = None
        out.append(case)
    return out


def scalar_cases() -> list[Json]:
    """Scalar encodings and Python's verdict on each."""
    r = GROUP_ORDER
    raw: list[tuple[str, bytes]] = [
        ("zero", bytes(32)),
        ("one", (1).to_bytes(32, "little")),
        ("r_minus_one", (r - 1).to_bytes(32, "little")),
        ("r", r.to_bytes(32, "little")),
        ("r_plus_one", (r + 1).to_bytes(32, "little")),
        ("two_255", (1 << 255).to_bytes(32, "little")),
        ("all_ones", b"\xff" * 32),
        ("random", shake_scalar("scalar").to_bytes(32, "little")),
        ("big_endian_one", (1).to_bytes(32, "big")),
        ("short_31", bytes(31)),
        ("long_33", bytes(33)),
        ("empty", b""),
    ]
    out = []
    for name, data in raw:
        try:
            value: str | None = str(scalar_from_bytes(data))
        except FormatError:
            value = None
        out.append({"name": name, "hex": data.hex(), "output": value})
    return out


def hash_to_curve_cases(be: GroupBackend) -> list[Json]:
    """hash_to_curve under the project DST and under RFC 9380's test DST."""
    msgs: list[tuple[bytes, bytes]] = [(m, GENS_DST) for m in (b"B", b"B_blinding", b"", b"G", b"x" * 300)]
    msgs += [(b"G" + struct.pack("<I", i), GENS_DST) for i in (0, 7, 4095, 4096, 8191, 8192, 131071)]
    msgs += [(b"H" + struct.pack("<I", i), GENS_DST) for i in (0, 4096)]
    msgs += [(m, RFC9380_DST) for m in (b"", b"abc", b"abcdef0123456789", b"q128_" + b"q" * 128, b"a512_" + b"a" * 512)]
    return [
        {"dst": dst.hex(), "msg": msg.hex(), "output": Point.hash_to_curve(msg, dst, be).to_bytes().hex()}
        for msg, dst in msgs
    ]


def generator_vectors(be: GroupBackend) -> Json:
    """The generator set id and generators at indices inside and past the shipped table."""
    pc = PedersenGens.default(be)
    bp = BulletproofGens.default(be)
    indices = [0, 1, 2, 63, 64, 1000, 4095, 4096, 8191, 8192, 8193, 8196]
    G = bp.G(max(indices) + 1)
    H = bp.H(max(indices) + 1)
    return {
        "generator_set_id": generator_set_id().hex(),
        "B": pc.B.to_bytes().hex(),
        "B_blinding": pc.B_blinding.to_bytes().hex(),
        "G_vec": {str(i): G[i].to_bytes().hex() for i in indices},
        "H_vec": {str(i): H[i].to_bytes().hex() for i in indices},
    }


def msm_cases(be: GroupBackend) -> list[Json]:
    """MSMs with scalars in and out of [0, r) (negative ones too); Python's msm reduces mod r."""
    G = Point.generator(be)
    pc = PedersenGens.default(be)
    points = [pc.B, pc.B_blinding, G, G * 5, G * shake_scalar("msm point")]
    cases = []
    scalar_sets = [
        [1, 0, 0, 0, 0],
        [0, 0, 0, 0, 0],
        [2, 3, 5, 7, 11],
        [GROUP_ORDER - 1, GROUP_ORDER, GROUP_ORDER + 1, -1, -(GROUP_ORDER + 2)],
        [shake_scalar(f"msm {i}") for i in range(5)],
    ]
    for scalars in scalar_sets:
        cases.append({
            "points": [P.to_bytes().hex() for P in points],
            "scalars": [str(k) for k in scalars],
            "output": msm(scalars, points).to_bytes().hex(),
        })
    commits = []
    for v, blinding in [(0, 1), (1, 0), (2**64 - 1, shake_scalar("c1")), (12345, shake_scalar("c2")), (0, 0)]:
        commits.append({"v": str(v), "blinding": str(blinding), "output": pc.commit(v, blinding).to_bytes().hex()})
    return [{"msm": cases, "commitments": commits}]


# ---------------------------------------------------------------------------
# Merkle trees
# ---------------------------------------------------------------------------


def merkle_vectors(be: GroupBackend) -> Json:
    """Leaf ids, leaf-tree roots and paths, sum-tree shapes and hashes, margin hashes and ids."""
    from circuits.datafiles import leaf_id

    G = Point.generator(be)
    leaf_ids = [
        {"round": rnd, "symbol": sym, "customer_id": cid, "salt": shake(f"salt {i}", 32).hex(),
         "output": leaf_id(rnd, sym, cid, shake(f"salt {i}", 32)).hex()}
        for i, (rnd, sym, cid) in enumerate([
            ("2026-01-31T00:00:00Z", "BTC", "cust-000001"),
            ("2026-11-24T00:00:00Z#3", "ETH", "cust-000001 Zo\u00eb"),
            ("", "A", ""),
            ("r\u00f6und \u2603", "USDT-ERC20", "\U0001f600 customer"),
        ])
    ]
    trees = []
    for size in [*range(1, 18), 31, 32, 33]:
        hashes = [
            leaf_hash(hashlib.sha256(b"id" + struct.pack("<I", i)).digest(), i, (G * (i + 1)).to_bytes())
            for i in range(size)
        ]
        tree = MerkleTree(hashes)
        paths = [[p.hex() for p in tree.path(i)] for i in range(size)]
        for i in range(size):
            assert verify_merkle_path(hashes[i], i, size, tree.path(i)) == tree.root
        bad = []
        for i in sorted({0, size // 2, size - 1}):
            path = tree.path(i)
            for name, wrong in (("extra", [*path, hashes[0]]), ("short", path[:-1])):
                if name == "short" and not path:
                    continue
                try:
                    verify_merkle_path(hashes[i], i, size, wrong)
                    outcome = None
                except FormatError as exc:
                    outcome = _error_name(exc)
                bad.append({"index": i, "path": [p.hex() for p in wrong], "error": outcome})
        for index in (-1, size):
            try:
                verify_merkle_path(hashes[0], index, size, tree.path(0))
                outcome = None
            except FormatError as exc:
                outcome = _error_name(exc)
            bad.append({"index": index, "path": [p.hex() for p in tree.path(0)], "error": outcome})
        trees.append({"leaves": [h.hex() for h in hashes], "root": tree.root.hex(), "paths": paths, "bad_paths": bad})
    sum_trees = []
    for chunks in [*range(1, 10), 13, 16, 17]:
        sum_trees.append({
            "chunks": chunks,
            "root_index": root_index(chunks),
            "paths": [
                [[s.sibling, s.parent, s.parent_split, s.sibling_is_left] for s in chunk_path(chunks, k)]
                for k in range(chunks)
            ],
            "sum_nodes": [[n.split, n.index, list(n.node), list(n.left), list(n.right)] for n in sum_nodes(chunks)],
        })
    leaves4 = [shake(f"chunk leaf {i}", 32) for i in range(4)]
    C = (G * 3).to_bytes()
    node_hashes = {
        "chunk_hash_1": chunk_hash(leaves4[:1]).hex(),
        "chunk_hash_4": chunk_hash(leaves4).hex(),
        "leaves": [h.hex() for h in leaves4],
        "commitment": C.hex(),
        "chunk_node_hash": chunk_node_hash(C, leaves4[0]).hex(),
        "sum_node_hash": sum_node_hash(C, leaves4[1], leaves4[2]).hex(),
    }
    record = shake("margin record", 32 + 2 * (102 + 96 * 2) + 48)
    salt = shake("margin salt", 32)
    rid = margin_record_id("2026-01-31T00:00:00Z", "cust-000001 Zo\u00eb", salt)
    margin = {
        "record": record.hex(),
        "record_hash": margin_leaf_hash(record).hex(),
        "round": "2026-01-31T00:00:00Z",
        "customer_id": "cust-000001 Zo\u00eb",
        "salt": salt.hex(),
        "record_id": rid.hex(),
        "symbol": "ETH",
        "margin_leaf_id": margin_leaf_id(rid, "ETH").hex(),
    }
    return {"leaf_ids": leaf_ids, "trees": trees, "sum_trees": sum_trees, "node_hashes": node_hashes, "margin": margin}


# ---------------------------------------------------------------------------
# Range proofs: the exact classes of the frozen cases, tampering, a 64-leaf chunk
# ---------------------------------------------------------------------------


def _outcome(
    be: GroupBackend, n: int, context: bytes, commitments: list[bytes], proof: bytes
) -> tuple[str, str | None]:
    """``(stage, class)``: where Python stops and with which class (``("verify", None)`` = verifies)."""
    try:
        points = tuple(Point.from_bytes(c, be) for c in commitments)
        statement = RangeStatement(points, n, context)
        parsed = RangeProof.from_bytes(proof, be)
    except (FormatError, ParameterError) as exc:
        return "parse", _error_name(exc)
    try:
        verify_range(statement, parsed)
    except (VerificationError, ParameterError) as exc:
        return "verify", _error_name(exc)
    return "verify", None


def range_proof_classes(be: GroupBackend) -> dict[str, list[str | None]]:
    """For each frozen case: ``[stage, class]``."""
    doc = json.loads(RANGE_VECTORS.read_text(encoding="utf-8"))
    out: dict[str, list[str | None]] = {}
    for case in doc["cases"]:
        inp = case["input"]
        stage, cls = _outcome(
            be, inp["n"], bytes.fromhex(inp["context"]), [bytes.fromhex(c) for c in inp["commitments"]],
            bytes.fromhex(inp["proof"]),
        )
        out[case["name"]] = [stage, cls]
    return out


def tampered_cases(be: GroupBackend) -> Json:
    """Flips of a valid proof (n = 8, m = 4, five rounds), of its commitments and of its context."""
    doc = json.loads(RANGE_VECTORS.read_text(encoding="utf-8"))
    base = next(case for case in doc["cases"] if case["name"] == "base_n8_m4")["input"]
    n, context = base["n"], bytes.fromhex(base["context"])
    V = [bytes.fromhex(c) for c in base["commitments"]]
    P = bytes.fromhex(base["proof"])
    rounds = 5
    ipp = 1 + 4 * POINT_SIZE + 3 * SCALAR_SIZE
    fields: list[tuple[str, int]] = [("version", 0)]
    fields += [(name, 1 + POINT_SIZE * i) for i, name in enumerate(("A", "S", "T_1", "T_2"))]
    scalar_names = ("t_x", "t_x_blinding", "e_blinding")
    fields += [(name, 1 + 4 * POINT_SIZE + SCALAR_SIZE * i) for i, name in enumerate(scalar_names)]
    for k in range(rounds):
        fields += [(f"L_vec[{k}]", ipp + 2 * POINT_SIZE * k), (f"R_vec[{k}]", ipp + 2 * POINT_SIZE * k + POINT_SIZE)]
    fields += [("a", ipp + 2 * POINT_SIZE * rounds), ("b", ipp + 2 * POINT_SIZE * rounds + SCALAR_SIZE)]
    flips: list[tuple[int, int]] = [(0, 0x01), (0, 0x02)]
    for name, offset in fields[1:]:
        if name in ("t_x", "t_x_blinding", "e_blinding", "a", "b"):
            # low byte (still canonical: false), top byte 0x80 (>= r: malformed), top byte 0x01 (mostly canonical)
            flips += [(offset, 0x01), (offset + SCALAR_SIZE - 1, 0x80), (offset + SCALAR_SIZE - 1, 0x01)]
        else:
            # compression flag, infinity flag, sign bit (the negation: false), an x byte (off curve / subgroup)
            flips += [(offset, 0x80), (offset, 0x40), (offset, 0x20), (offset + 47, 0x01)]
    proof_cases: list[Json] = []
    for offset, mask in flips:
        tampered = bytearray(P)
        tampered[offset] ^= mask
        stage, cls = _outcome(be, n, context, V, bytes(tampered))
        proof_cases.append({"offset": offset, "mask": mask, "stage": stage, "error": cls})
    lengths: list[Json] = []
    for size in (0, 1, 288, 289, 352, 353, len(P) - 96, len(P) - 1, len(P) + 1, len(P) + 96):
        data = P[:size] if size <= len(P) else P + shake(f"extension {size}", size - len(P))
        stage, cls = _outcome(be, n, context, V, data)
        lengths.append({"size": size, "hex": data.hex(), "stage": stage, "error": cls})
    commitment_cases: list[Json] = []
    for j in range(len(V)):
        for offset, mask in ((0, 0x20), (0, 0x80), (47, 0x01)):
            tampered_V = [bytearray(c) for c in V]
            tampered_V[j][offset] ^= mask
            stage, cls = _outcome(be, n, context, [bytes(c) for c in tampered_V], P)
            commitment_cases.append({"index": j, "offset": offset, "mask": mask, "stage": stage, "error": cls})
    context_cases: list[Json] = []
    for offset in range(len(context)):
        tampered_c = bytearray(context)
        tampered_c[offset] ^= 0x01
        stage, cls = _outcome(be, n, bytes(tampered_c), V, P)
        context_cases.append({"offset": offset, "mask": 1, "stage": stage, "error": cls})
    return {
        "base": "base_n8_m4",
        "proof": proof_cases,
        "lengths": lengths,
        "commitments": commitment_cases,
        "context": context_cases,
    }


def chunk64(be: GroupBackend) -> Json:
    """One 64-leaf chunk proof, as a bundle's ``<S>.rangeproofs.bin`` record holds it (FORMAT §3.2, §4)."""
    statement = ChunkStatement(
        exchange="Web Check Exchange",
        round="2026-12-01T00:00:00Z",
        symbol="BTC",
        leaf_count=256,
        chunk_size=64,
        chunk=2,
        merkle_root=shake("chunk64 root", 32),
    )
    values = [int.from_bytes(shake(f"chunk64 value {j}", 8), "little") >> (j % 40) for j in range(64)]
    values[0], values[1] = 0, 2**64 - 1
    openings = [Opening(v, shake_scalar(f"chunk64 blinding {j}")) for j, v in enumerate(values)]
    context = statement.context()
    range_statement, proof = prove_range(openings, 64, context=context, backend=be, rng=shake_rng("chunk64"))
    verify_range(range_statement, proof)
    return {
        "exchange": statement.exchange,
        "round": statement.round,
        "symbol": statement.symbol,
        "leaf_count": statement.leaf_count,
        "chunk_size": statement.chunk_size,
        "chunk": statement.chunk,
        "merkle_root": statement.merkle_root.hex(),
        "context": context.hex(),
        "commitments": [V.to_bytes().hex() for V in range_statement.commitments],
        "proof": proof.to_bytes().hex(),
    }


def web_vectors() -> Json:
    """Build the ``web_v1.json`` document (deterministic)."""
    be = get_backend(BACKEND)
    return {
        "version": 1,
        "description": "Cross-language vectors for web/src (the browser check's crypto core), computed by "
        "tests/vectors/web_vectors.py from circuits/ and verifier/.",
        "points": point_cases(be),
        "scalars": scalar_cases(),
        "hash_to_curve": hash_to_curve_cases(be),
        "generators": generator_vectors(be),
        "msm": msm_cases(be)[0],
        "merkle": merkle_vectors(be),
        "range_proof_classes": range_proof_classes(be),
        "tampered": tampered_cases(be),
        "chunk64": chunk64(be),
    }


def render(doc: Json) -> str:
    """The canonical text of the vector file (sorted keys, trailing newline)."""
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write ``web_v1.json``, or with ``--check`` compare; return the exit code."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed file; write nothing")
    args = parser.parse_args(argv)
    text = render(web_vectors())
    if args.check:
        if not OUT_PATH.exists() or OUT_PATH.read_text(encoding="utf-8") != text:
            sys.stderr.write(f"DIFFERS  {OUT_PATH.name}\n")
            return 1
        sys.stdout.write(f"ok       {OUT_PATH.name}\n")
        return 0
    OUT_PATH.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote    {OUT_PATH.name}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
