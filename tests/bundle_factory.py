"""Write small, valid proof bundles straight from ``docs/FORMAT.md``, for verifier tests.

This deliberately does NOT use ``prover/bundle.py`` nor the encoders of the
``circuits`` format modules (frame, statements and their contexts, hashes, Merkle tree,
canonical JSON, digest, headers): each is re-written here from the spec text, so a bundle that this
factory writes and the verifier accepts is an independent check of the format.
Only the cryptographic primitives are shared: Pedersen commitments
(``PedersenGens``), points (``Point``) and range proofs (``prover.prove_range``, ``create_range_proof``, and
the proving algorithm itself for a forged proof).

Writers: :func:`make_bundle` (format 1), :func:`make_tree_bundle` (format 3, the sum tree) and
:func:`make_margin_bundle` (format 4, margin accounts: §14 and ``circuits/notes/42-margin.md``: tier lines,
haircuts, margin digest, record and margin leaf ids, records, value lists, the records tree, the v4 contexts
and solvency statement, the manifest's and the package's margin objects, none of it from ``circuits.margin``).
The format-4 writer is also a cheating prover: :class:`SlotSpec`, :class:`AccountSpec` and :class:`MarginSpec`
override the honest witness (haircut, value, unpledged equity, the leaf a slot names, the low limb of the
excess, the stated debt total), and a proof whose statement is then false is forged (:data:`FORGE_MODES`)
and recorded in :class:`MarginOutcome`, so a test can assert exactly which proof a verifier must reject.

Helpers at the bottom rewrite a bundle in place (``rewrite_manifest``,
``rewrite_file``) and re-sign the manifest (file sizes, SHA-256s, bundle
digest), so a test can make exactly one thing wrong.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from circuits.backends import GroupBackend, get_backend
from circuits.constants import GROUP_ORDER, PROTOCOL_LABEL
from circuits.generators import PedersenGens, generator_set_id
from circuits.group import Point
from circuits.relations import Opening, RangeStatement
from prover import create_range_proof, prove_range
from prover.range_proof import _prove

EXCHANGE = "Test Exchange Ltd"
ROUND = "2026-01-31T00:00:00Z"
CREATED = "2026-01-31T00:05:00Z"


# --- encodings, from docs/FORMAT.md ------------------------------------------------


def _frame(s: bytes) -> bytes:
    return struct.pack("<I", len(s)) + s


def _canonical(obj: Any) -> bytes:
    # §6: keys sorted by code point, "," and ":" separators, \\uXXXX escapes, no floats.
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _digest(manifest: dict[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k != "bundle_digest"}
    return hashlib.sha256(b"zk-solvency bundle v1" + b"\x00" + _canonical(body)).hexdigest()


def spec_leaf_id(round_label: str, symbol: str, customer_id: str, salt: bytes) -> bytes:
    return hashlib.sha256(
        b"zk-solvency leaf id v1"
        + _frame(round_label.encode())
        + _frame(symbol.encode())
        + _frame(customer_id.encode())
        + salt
    ).digest()


def spec_leaf_hash(lid: bytes, i: int, V: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + b"zk-solvency leaf v1" + lid + struct.pack("<Q", i) + V).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def spec_mth(hashes: Sequence[bytes]) -> bytes:
    """RFC 6962 §2.1 MTH over leaf hashes."""
    if len(hashes) == 1:
        return hashes[0]
    k = _split(len(hashes))
    return _node(spec_mth(hashes[:k]), spec_mth(hashes[k:]))


def spec_path(hashes: Sequence[bytes], m: int) -> list[bytes]:
    """RFC 6962 §2.1.1 audit path of leaf m, leaf-level sibling first."""
    if len(hashes) == 1:
        return []
    k = _split(len(hashes))
    if m < k:
        return [*spec_path(hashes[:k], m), spec_mth(hashes[k:])]
    return [*spec_path(hashes[k:], m - k), spec_mth(hashes[:k])]


def spec_chunk_context(
    exchange: str, round_label: str, symbol: str, leaf_count: int, m: int, k: int, root: bytes
) -> bytes:
    return (
        b"zk-solvency chunk v1"
        + _frame(exchange.encode())
        + _frame(round_label.encode())
        + _frame(symbol.encode())
        + struct.pack("<Q", leaf_count)
        + struct.pack("<Q", m)
        + struct.pack("<Q", k)
        + root
    )


def spec_solvency_context(
    exchange: str,
    round_label: str,
    symbol: str,
    decimals: int,
    reserves: int,
    num: int,
    den: int,
    leaf_count: int,
    root: bytes,
    C_L: bytes,
) -> bytes:
    return (
        b"zk-solvency solvency v1"
        + _frame(exchange.encode())
        + _frame(round_label.encode())
        + _frame(symbol.encode())
        + struct.pack("<Q", decimals)
        + reserves.to_bytes(16, "little")
        + struct.pack("<Q", num)
        + struct.pack("<Q", den)
        + struct.pack("<Q", leaf_count)
        + root
        + C_L
    )


def _header(magic: bytes, count: int, record_size: int) -> bytes:
    return magic + struct.pack("<I", count) + struct.pack("<I", record_size)


# --- the factory ------------------------------------------------------------------


@dataclass
class AssetSpec:
    """One asset to write: ``holdings`` maps customer id -> amount (base units)."""

    symbol: str
    holdings: dict[str, int]
    reserves: int
    decimals: int = 8
    chunk: int = 4
    leaf_count: int | None = None  # default: next power of two >= customers (at least chunk)
    ratio: tuple[int, int] = (1, 1)
    disclose: bool = False


@dataclass
class Leaf:
    leaf_id: bytes
    amount: int
    blinding: int
    customer: str | None
    salt: bytes
    V: bytes = b""


@dataclass
class MadeBundle:
    path: Path
    manifest: dict[str, Any]
    packages: dict[str, dict[str, Any]] = field(default_factory=dict)
    leaves: dict[str, list[Leaf]] = field(default_factory=dict)
    margin: MarginOutcome | None = None
    forged: dict[str, list[str]] = field(default_factory=dict)  # per asset: the spot proofs forged (v3, v4)

    def write_package(self, customer: str, dest: Path) -> Path:
        dest.write_text(json.dumps(self.packages[customer]))
        return dest


def seeded_scalar(seed: bytes, *parts: bytes) -> int:
    """A reproducible non-zero scalar from ``seed`` and framed ``parts`` (blindings of test bundles)."""
    h = hashlib.sha512(seed + b"".join(_frame(p) for p in parts)).digest()
    return int.from_bytes(h, "little") % GROUP_ORDER or 1


def package_skeleton(exchange: str, round_label: str, customer: str) -> dict[str, Any]:
    """A §8 package with no entries yet; ``bundle_digest`` is filled in once the manifest is written."""
    return {
        "format": "zk-solvency-package",
        "format_version": 1,
        "exchange": exchange,
        "round": round_label,
        "bundle_digest": "",
        "customer_id": customer,
        "entries": [],
    }


def seeded_rng(seed: bytes) -> Callable[[int], bytes]:
    """A reproducible byte source for the provers' ``rng`` argument."""
    counter = [0]

    def rng(n: int) -> bytes:
        counter[0] += 1
        return hashlib.shake_256(seed + struct.pack("<Q", counter[0])).digest(n)

    return rng


#: How a cheating prover makes a range proof for a value outside ``[0, 2^n)`` (it cannot make a true one):
#: ``"low_bits"`` proves the value's low ``n`` bits, ``"negated"`` proves ``r - v`` (a negative value's
#: magnitude), ``"shifted"`` proves ``v + 2^(n-1)`` mod ``2^n``. All run the honest algorithm with the true
#: blindings, so the proof is well formed and false.
FORGE_MODES = ("low_bits", "negated", "shifted")


def forge_witness(v: int, n: int, mode: str) -> int:
    """The in-range value a cheater proves instead of ``v`` (``mode`` of :data:`FORGE_MODES`)."""
    v %= GROUP_ORDER
    if mode == "low_bits":
        return v % (1 << n)
    if mode == "negated":
        return (GROUP_ORDER - v) % (1 << n)
    if mode == "shifted":
        return (v + (1 << (n - 1))) % (1 << n)
    raise ValueError(f"unknown forge mode {mode!r}")


def prove_or_forge(
    statement: RangeStatement,
    openings: Sequence[tuple[int, int]],
    rng: Callable[[int], bytes] | None = None,
    forge: str = "low_bits",
) -> tuple[bytes, bool]:
    """The honest proof if every opening is in range (``create_range_proof``), else a forged one.

    Returns ``(proof bytes, forged)``. The openings are ``(value, blinding)`` integers, reduced mod ``r``.
    """
    witness = [(v % GROUP_ORDER, b % GROUP_ORDER) for v, b in openings]
    if all(v < 1 << statement.n for v, _ in witness):
        proof = create_range_proof(statement, [Opening(v, b) for v, b in witness], rng=rng)
        return proof.to_bytes(), False
    forged = [Opening(forge_witness(v, statement.n, forge), b) for v, b in witness]
    return _prove(statement, forged, PedersenGens.default(statement.commitments[0].backend), rng, 1).to_bytes(), True


def _spec_leaves(spec: AssetSpec, pc: PedersenGens, seed: bytes, round_label: str) -> list[Leaf]:
    """The asset's customer and padding leaves, sorted by leaf id, with their commitments."""
    S, m = spec.symbol, spec.chunk
    n_leaves = spec.leaf_count or max(m, 1 << max(0, (len(spec.holdings) - 1).bit_length()))
    leaves = []
    for cid, amount in spec.holdings.items():
        salt = hashlib.sha256(seed + b"salt" + _frame(S.encode()) + cid.encode()).digest()
        blinding = seeded_scalar(seed, b"blinding", S.encode(), cid.encode())
        leaves.append(Leaf(spec_leaf_id(round_label, S, cid, salt), amount, blinding, cid, salt))
    for j in range(n_leaves - len(leaves)):
        dummy_id = hashlib.sha256(seed + b"dummy" + _frame(S.encode()) + struct.pack("<Q", j)).digest()
        leaves.append(Leaf(dummy_id, 0, seeded_scalar(seed, b"dummy", S.encode(), struct.pack("<Q", j)), None, b""))
    leaves.sort(key=lambda leaf: leaf.leaf_id)
    for leaf in leaves:
        leaf.V = pc.commit(leaf.amount, leaf.blinding).to_bytes()
    return leaves


def make_bundle(
    out: Path,
    assets: Sequence[AssetSpec],
    *,
    exchange: str = EXCHANGE,
    round_label: str = ROUND,
    seed: bytes = b"factory seed",
    backend: GroupBackend | None = None,
    prove_chunk: Callable[[str, int], bool] | None = None,
) -> MadeBundle:
    """Write a valid bundle at ``out`` (a new directory) and return it with its customers' packages.

    ``prove_chunk(symbol, k)``, if given, selects the chunks that get a real range
    proof; the others get a copy of another chunk's proof (so the bundle is only
    good for checks that read the selected chunks: customer-check timing).
    """
    be = backend or get_backend("fast")
    pc = PedersenGens.default(be)
    rng = seeded_rng(seed + b"rng")
    out.mkdir()
    made = MadeBundle(out, {})
    asset_objs = []
    for spec in sorted(assets, key=lambda a: a.symbol):
        S = spec.symbol
        m = spec.chunk
        leaves = _spec_leaves(spec, pc, seed, round_label)
        n_leaves = len(leaves)
        hashes = [spec_leaf_hash(leaf.leaf_id, i, leaf.V) for i, leaf in enumerate(leaves)]
        root = spec_mth(hashes)
        proofs: list[bytes] = []
        for k in range(n_leaves // m):
            if proofs and prove_chunk is not None and not prove_chunk(S, k):
                proofs.append(proofs[0])
                continue
            chunk = leaves[k * m : (k + 1) * m]
            ctx = spec_chunk_context(exchange, round_label, S, n_leaves, m, k, root)
            statement, proof = prove_range(
                [Opening(leaf.amount, leaf.blinding) for leaf in chunk], 64, context=ctx, backend=be, rng=rng
            )
            assert [V.to_bytes() for V in statement.commitments] == [leaf.V for leaf in chunk]
            proofs.append(proof.to_bytes())
        L = sum(leaf.amount for leaf in leaves)
        blinding_sum = sum(leaf.blinding for leaf in leaves) % GROUP_ORDER
        C_L = pc.commit(L, blinding_sum)
        num, den = spec.ratio
        V_s = pc.B * (den * spec.reserves) - C_L * num
        ctx = spec_solvency_context(
            exchange, round_label, S, spec.decimals, spec.reserves, num, den, n_leaves, root, C_L.to_bytes()
        )
        surplus = (den * spec.reserves - num * L) % GROUP_ORDER
        solvency = create_range_proof(
            RangeStatement((V_s,), 128, ctx), [Opening(surplus, (-num * blinding_sum) % GROUP_ORDER)], rng=rng
        ).to_bytes()
        files = {
            "leaves": (
                f"{S}.leaves.bin",
                _header(b"ZKSLEAF1", n_leaves, 80) + b"".join(leaf.leaf_id + leaf.V for leaf in leaves),
            ),
            "range_proofs": (
                f"{S}.rangeproofs.bin",
                _header(b"ZKSRNGP1", len(proofs), len(proofs[0])) + b"".join(proofs),
            ),
            "solvency": (f"{S}.solvency.bin", _header(b"ZKSSOLV1", 1, len(solvency)) + solvency),
        }
        file_objs = {}
        for role, (name, data) in files.items():
            (out / name).write_bytes(data)
            file_objs[role] = {"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        disclosed = None
        if spec.disclose:
            disclosed = {"amount": str(L), "blinding": blinding_sum.to_bytes(32, "little").hex()}
        asset_objs.append(
            {
                "symbol": S,
                "decimals": spec.decimals,
                "reserves": str(spec.reserves),
                "min_ratio": {"num": num, "den": den},
                "leaf_count": n_leaves,
                "chunk_size": m,
                "range_bits": 64,
                "merkle_root": root.hex(),
                "liabilities_commitment": C_L.to_bytes().hex(),
                "disclosed_liabilities": disclosed,
                "files": file_objs,
            }
        )
        made.leaves[S] = leaves
        for i, leaf in enumerate(leaves):
            if leaf.customer is None:
                continue
            package = made.packages.setdefault(leaf.customer, package_skeleton(exchange, round_label, leaf.customer))
            package["entries"].append(
                {
                    "asset": S,
                    "decimals": spec.decimals,
                    "amount": str(leaf.amount),
                    "blinding": leaf.blinding.to_bytes(32, "little").hex(),
                    "leaf_salt": leaf.salt.hex(),
                    "leaf_id": leaf.leaf_id.hex(),
                    "leaf_index": i,
                    "leaf_count": n_leaves,
                    "merkle_root": root.hex(),
                    "merkle_path": [p.hex() for p in spec_path(hashes, i)],
                }
            )
    manifest: dict[str, Any] = {
        "format": "zk-solvency-bundle",
        "format_version": 1,
        "protocol": PROTOCOL_LABEL.decode(),
        "generators": generator_set_id().hex(),
        "exchange": exchange,
        "round": round_label,
        "created": CREATED,
        "assets": asset_objs,
    }
    manifest["bundle_digest"] = _digest(manifest)
    (out / "manifest.json").write_bytes(_canonical(manifest) + b"\n")
    made.manifest = manifest
    for package in made.packages.values():
        package["bundle_digest"] = manifest["bundle_digest"]
    return made


# --- format version 3: the Merkle sum tree (docs/FORMAT.md §3.4, §3.5, §4, §5.2, §6.3, §8) -------------


def spec_chunk_node_hash(C: bytes, mth: bytes) -> bytes:
    """§5.2: ``H_k = SHA256(0x02 || "zk-solvency chunk node v3" || C_k || MTH_k)``."""
    return hashlib.sha256(b"\x02" + b"zk-solvency chunk node v3" + C + mth).digest()


def spec_sum_node_hash(C: bytes, left: bytes, right: bytes) -> bytes:
    """§5.2: ``H = SHA256(0x03 || "zk-solvency sum node v3" || C || H_left || H_right)``."""
    return hashlib.sha256(b"\x03" + b"zk-solvency sum node v3" + C + left + right).digest()


def spec_node_context(
    exchange: str, round_label: str, symbol: str, leaf_count: int, m: int, j: int, root: bytes
) -> bytes:
    """§4: ``node_context(j)``."""
    return (
        b"zk-solvency node v3"
        + _frame(exchange.encode())
        + _frame(round_label.encode())
        + _frame(symbol.encode())
        + struct.pack("<Q", leaf_count)
        + struct.pack("<Q", m)
        + struct.pack("<Q", j)
        + root
    )


@dataclass
class TreeNode:
    """A node of the chunk tree as §5.2 defines it: chunks ``[start, start + size)``."""

    start: int
    size: int
    value: int
    blinding: int
    C: bytes
    H: bytes
    left: TreeNode | None = None
    right: TreeNode | None = None

    @property
    def split(self) -> int:
        assert self.right is not None
        return self.right.start


def spec_tree(chunk_nodes: Sequence[TreeNode], pc: PedersenGens) -> TreeNode:
    """Build the sum tree over the chunk nodes with the RFC 6962 shape (§5.2), recursively."""
    if len(chunk_nodes) == 1:
        return chunk_nodes[0]
    k = _split(len(chunk_nodes))
    left, right = spec_tree(chunk_nodes[:k], pc), spec_tree(chunk_nodes[k:], pc)
    value, blinding = left.value + right.value, (left.blinding + right.blinding) % GROUP_ORDER
    C = pc.commit(value, blinding).to_bytes()
    return TreeNode(left.start, left.size + right.size, value, blinding, C, spec_sum_node_hash(C, left.H, right.H),
                    left, right)


def spec_in_order(node: TreeNode) -> list[TreeNode]:
    """The nodes in order (left subtree, node, right subtree): the record order of the nodes file (§3.4)."""
    if node.left is None or node.right is None:
        return [node]
    return [*spec_in_order(node.left), node, *spec_in_order(node.right)]


def spec_siblings(root: TreeNode, k: int) -> list[TreeNode]:
    """The siblings of chunk node ``k`` and of its ancestors below the root, chunk level first (§8)."""
    out: list[TreeNode] = []
    node = root
    while (left := node.left) is not None and (right := node.right) is not None:
        if k < right.start:
            out.append(right)
            node = left
        else:
            out.append(left)
            node = right
    return out[::-1]


@dataclass
class TreeAsset:
    """One asset of a sum-tree bundle as written: its files, manifest entry, tree and package entries."""

    spec: AssetSpec
    leaves: list[Leaf]
    hashes: list[bytes]
    root_node: TreeNode
    files: dict[str, tuple[str, bytes]]
    obj: dict[str, Any]
    forged: list[str] = field(default_factory=list)  # "chunk <k>", "node <j>", "solvency": proofs forged

    @property
    def root(self) -> bytes:
        return self.root_node.H

    def package_entry(self, i: int) -> dict[str, Any]:
        """The §8 (package format 2) entry of leaf ``i``."""
        leaf, m = self.leaves[i], self.spec.chunk
        k = i // m
        return {
            "asset": self.spec.symbol,
            "decimals": self.spec.decimals,
            "amount": str(leaf.amount),
            "blinding": leaf.blinding.to_bytes(32, "little").hex(),
            "leaf_salt": leaf.salt.hex(),
            "leaf_id": leaf.leaf_id.hex(),
            "leaf_index": i,
            "leaf_count": len(self.leaves),
            "chunk_size": m,
            "merkle_root": self.root.hex(),
            "liabilities_commitment": self.root_node.C.hex(),
            "chunk_path": [p.hex() for p in spec_path(self.hashes[k * m : (k + 1) * m], i - k * m)],
            "node_path": [{"commitment": n.C.hex(), "hash": n.H.hex()} for n in spec_siblings(self.root_node, k)],
        }


#: ``solvency(statement_context_v1, C_L, L, blinding_L) -> (context, V_s, surplus, surplus_blinding)``
SolvencyRelation = Callable[[bytes, Point, int, int], tuple[bytes, Point, int, int]]


def _tree_asset(
    spec: AssetSpec,
    leaves: list[Leaf],
    pc: PedersenGens,
    rng: Callable[[int], bytes],
    exchange: str,
    round_label: str,
    *,
    context_suffix: bytes = b"",
    solvency: SolvencyRelation | None = None,
    forge: str = "low_bits",
) -> TreeAsset:
    """The sum tree, chunk, node and solvency proofs of one asset (§3.2-§3.5, §4, §5.2).

    ``context_suffix`` is appended to every chunk and node context (version 4: the margin digest, §14.5);
    ``solvency`` replaces the version-1 solvency relation (version 4: ``C_L - C_D``, its own context).
    """
    be = pc.B.backend
    S, m = spec.symbol, spec.chunk
    n_leaves = len(leaves)
    n_chunks = n_leaves // m
    hashes = [spec_leaf_hash(leaf.leaf_id, i, leaf.V) for i, leaf in enumerate(leaves)]
    chunk_nodes = []
    for k in range(n_chunks):
        chunk = leaves[k * m : (k + 1) * m]
        value = sum(leaf.amount for leaf in chunk)
        blinding = sum(leaf.blinding for leaf in chunk) % GROUP_ORDER
        C = pc.commit(value, blinding).to_bytes()
        chunk_nodes.append(
            TreeNode(k, 1, value, blinding, C, spec_chunk_node_hash(C, spec_mth(hashes[k * m : (k + 1) * m])))
        )
    root_node = spec_tree(chunk_nodes, pc)
    root = root_node.H
    in_order = spec_in_order(root_node)

    forged: list[str] = []
    proofs = []
    for k in range(n_chunks):
        chunk = leaves[k * m : (k + 1) * m]
        ctx = spec_chunk_context(exchange, round_label, S, n_leaves, m, k, root) + context_suffix
        statement = RangeStatement(tuple(Point.from_bytes(leaf.V, be) for leaf in chunk), 64, ctx)
        proof, was_forged = prove_or_forge(statement, [(leaf.amount, leaf.blinding) for leaf in chunk], rng, forge)
        proofs.append(proof)
        forged += [f"chunk {k}"] * was_forged
    node_proofs: dict[int, bytes] = {}
    for node in in_order:
        if node.left is None or node.right is None:
            continue
        ctx = spec_node_context(exchange, round_label, S, n_leaves, m, node.split, root) + context_suffix
        children = (node.left, node.right)
        statement = RangeStatement(tuple(Point.from_bytes(c.C, be) for c in children), 128, ctx)
        proof, was_forged = prove_or_forge(statement, [(c.value, c.blinding) for c in children], rng, forge)
        node_proofs[node.split] = proof
        forged += [f"node {node.split}"] * was_forged

    L, blinding_sum = root_node.value, root_node.blinding
    num, den = spec.ratio
    C_L = pc.commit(L, blinding_sum)
    ctx = spec_solvency_context(
        exchange, round_label, S, spec.decimals, spec.reserves, num, den, n_leaves, root, C_L.to_bytes()
    )
    if solvency is None:
        V_s = pc.B * (den * spec.reserves) - C_L * num
        surplus, surplus_blinding = den * spec.reserves - num * L, -num * blinding_sum
    else:
        ctx, V_s, surplus, surplus_blinding = solvency(ctx, C_L, L, blinding_sum)
    solvency_proof, was_forged = prove_or_forge(
        RangeStatement((V_s,), 128, ctx), [(surplus, surplus_blinding)], rng, forge
    )
    forged += ["solvency"] * was_forged
    node_proof_size = 353 + 96 * 8
    files = {
        "leaves": (
            f"{S}.leaves.bin",
            _header(b"ZKSLEAF1", n_leaves, 80) + b"".join(leaf.leaf_id + leaf.V for leaf in leaves),
        ),
        "range_proofs": (
            f"{S}.rangeproofs.bin",
            _header(b"ZKSRNGP1", len(proofs), len(proofs[0])) + b"".join(proofs),
        ),
        "solvency": (f"{S}.solvency.bin", _header(b"ZKSSOLV1", 1, len(solvency_proof)) + solvency_proof),
        "nodes": (
            f"{S}.nodes.bin",
            _header(b"ZKSNODE1", len(in_order), 80) + b"".join(node.C + node.H for node in in_order),
        ),
        "node_proofs": (
            f"{S}.nodeproofs.bin",
            _header(b"ZKSNODP1", n_chunks - 1, node_proof_size) + b"".join(node_proofs[j] for j in range(1, n_chunks)),
        ),
    }
    disclosed = None
    if spec.disclose:
        disclosed = {"amount": str(L), "blinding": blinding_sum.to_bytes(32, "little").hex()}
    obj = {
        "reserves_basis": "declared",
        "symbol": S,
        "decimals": spec.decimals,
        "reserves": str(spec.reserves),
        "min_ratio": {"num": num, "den": den},
        "leaf_count": n_leaves,
        "chunk_size": m,
        "range_bits": 64,
        "merkle_root": root.hex(),
        "liabilities_commitment": C_L.to_bytes().hex(),
        "disclosed_liabilities": disclosed,
        "files": {},
    }
    return TreeAsset(spec, leaves, hashes, root_node, files, obj, forged)


def _write_files(out: Path, asset: TreeAsset) -> None:
    """Write the asset's data files and fill in its manifest ``files`` object."""
    for role, (name, data) in asset.files.items():
        (out / name).write_bytes(data)
        asset.obj["files"][role] = {"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _manifest(exchange: str, round_label: str, version: int, asset_objs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "format": "zk-solvency-bundle",
        "format_version": version,
        "protocol": PROTOCOL_LABEL.decode(),
        "generators": generator_set_id().hex(),
        "exchange": exchange,
        "round": round_label,
        "created": CREATED,
        "assets": asset_objs,
    }


def _finish(out: Path, made: MadeBundle, manifest: dict[str, Any]) -> MadeBundle:
    manifest["bundle_digest"] = _digest(manifest)
    (out / "manifest.json").write_bytes(_canonical(manifest) + b"\n")
    made.manifest = manifest
    for package in made.packages.values():
        package["bundle_digest"] = manifest["bundle_digest"]
    return made


def make_tree_bundle(
    out: Path,
    assets: Sequence[AssetSpec],
    *,
    exchange: str = EXCHANGE,
    round_label: str = ROUND,
    seed: bytes = b"factory seed v3",
    backend: GroupBackend | None = None,
) -> MadeBundle:
    """Write a valid format-3 bundle (declared reserves, no wallet list) and its version-2 packages.

    Built from docs/FORMAT.md alone, like :func:`make_bundle`: its own node hashes, its own
    in-order numbering (a recursive in-order walk, not the ``2k`` / ``2j - 1`` formula) and its own
    package entries. Range proofs use a seeded source, so the same call writes the same bytes.
    """
    be = backend or get_backend("fast")
    pc = PedersenGens.default(be)
    rng = seeded_rng(seed + b"rng")
    out.mkdir()
    made = MadeBundle(out, {})
    asset_objs = []
    for spec in sorted(assets, key=lambda a: a.symbol):
        asset = _tree_asset(spec, _spec_leaves(spec, pc, seed, round_label), pc, rng, exchange, round_label)
        _write_files(out, asset)
        asset_objs.append(asset.obj)
        made.leaves[spec.symbol] = asset.leaves
        for i, leaf in enumerate(asset.leaves):
            if leaf.customer is None:
                continue
            package = made.packages.setdefault(leaf.customer, package_skeleton(exchange, round_label, leaf.customer))
            package["format_version"] = 2
            package["entries"].append(asset.package_entry(i))
    return _finish(out, made, _manifest(exchange, round_label, 3, asset_objs))


# --- format version 4: margin accounts (docs/FORMAT.md §14, circuits/notes/42-margin.md) --------------
#
# Everything below is computed here from the text of §14 and notes/42: tier lines, haircuts, the margin
# digest, record ids and margin leaf ids, records, the value list, the records tree, the contexts, the v4
# solvency statement, the manifest's margin object and the package's margin object. Only the group, the
# Pedersen generators and the range-proof algorithm are shared with the library.

TWO_64 = 1 << 64
#: The number of the first part in ``margin_context(j, p)`` (§14.5).
FIRST_PART = 0

#: A haircut schedule as §14.1 writes it: ``(up_to, ratio)`` per tier, ``up_to`` in value units, ``None`` last.
Schedule = Sequence[tuple[int | None, int]]


def spec_tier_lines(schedule: Schedule, tiers: int | None = None) -> list[tuple[int, int]]:
    """§14.2: the lines ``(A_t, r_t)``, ``A_t = Σ_{j<t} r_j (b_j - b_{j-1}) - r_t b_{t-1}``, extended to ``tiers``."""
    lines, below, previous = [], 0, 0  # below = Σ_{j<t} r_j (b_j - b_{j-1}); previous = b_{t-1}
    for up_to, ratio in schedule:
        lines.append((below - ratio * previous, ratio))
        if up_to is not None:
            below += ratio * (up_to - previous)
            previous = up_to
    return lines + [lines[-1]] * ((tiers or len(lines)) - len(lines))


def spec_scaled_haircut(schedule: Schedule, value: int) -> int:
    """``100 h(V) = Σ_t r_t clip(V - b_{t-1}, 0, b_t - b_{t-1})`` (notes/42), from the definition."""
    total, previous = 0, 0
    for up_to, ratio in schedule:
        top = value if up_to is None else min(value, up_to)
        total += ratio * max(0, top - previous)
        if up_to is None:
            break
        previous = up_to
    return total


def spec_margin_record_id(round_label: str, customer_id: str, margin_salt: bytes) -> bytes:
    """§14.4: ``SHA256("zk-solvency margin id v1" || frame(T) || frame(customer_id) || margin_salt)``."""
    return hashlib.sha256(
        b"zk-solvency margin id v1" + _frame(round_label.encode()) + _frame(customer_id.encode()) + margin_salt
    ).digest()


def spec_margin_leaf_id(record_id: bytes, symbol: str) -> bytes:
    """§14.4: ``SHA256("zk-solvency margin leaf id v4" || record_id || frame(S))``."""
    return hashlib.sha256(b"zk-solvency margin leaf id v4" + record_id + _frame(symbol.encode())).digest()


def spec_margin_record_hash(record: bytes) -> bytes:
    """§14.4: ``SHA256(0x04 || "zk-solvency margin record v4" || record_j)``."""
    return hashlib.sha256(b"\x04" + b"zk-solvency margin record v4" + record).digest()


def spec_parts(Q: int) -> list[int]:
    """§14.4: the powers of two of ``Q``'s binary expansion, largest first (applied to a group's ``G*Q``)."""
    return [1 << i for i in reversed(range(Q.bit_length())) if Q >> i & 1]


def spec_group_size(M: int, Q: int) -> int:
    """§14.4: ``G``, the largest power of two ``<= min(M, 8)`` with ``G*Q <= 1024`` (at least 1)."""
    G = 1
    while 2 * G <= min(M, 8) and 2 * G * Q <= 1024:
        G *= 2
    return G


def spec_margin_context(
    exchange: str, round_label: str, digest: bytes, root: bytes, M: int, g: int, p: int, o: int, m: int
) -> bytes:
    """§14.5: ``margin_context(g, p)``, ``g`` the group."""
    return (
        b"zk-solvency margin v4"
        + _frame(exchange.encode())
        + _frame(round_label.encode())
        + digest
        + root
        + struct.pack("<IIIII", M, g, p, o, m)
    )


def spec_solvency_context_v4(context: bytes, digest: bytes, root: bytes, C_D: bytes) -> bytes:
    """§14.5: ``"zk-solvency solvency v4" || frame(solvency_context()) || margin_digest || margin_root || C_D``."""
    return b"zk-solvency solvency v4" + _frame(context) + digest + root + C_D


@dataclass
class MarginAssetSpec:
    """The public margin parameters of one asset: its price and, per collateral type, its schedule."""

    symbol: str
    price: int  # value units per whole unit of the asset
    haircuts: dict[str, Schedule]


@dataclass
class SlotSpec:
    """One real slot of a margin account: the debt and the collateral pledged per type, in base units.

    The equity is the customer's holding of ``asset`` (an ``AssetSpec.holdings`` entry; 0 if absent).
    Every other field is a cheating prover's override of the honest witness (``None`` / absent = honest):
    ``unpledged`` the ``w`` committed (honest: equity - Σ collateral), ``values`` the ``V`` per type
    (honest: ``floor(P*c/10^d)``), ``haircuts`` the ``H`` per type (honest: ``min_t(A_t + r_t V)``),
    ``leaf_of`` the ``(customer, asset)`` whose leaf the slot names instead of the account's own (another
    margin account's slot leaf, or a spot customer's leaf; ``asset`` must be the slot's).
    """

    asset: str
    debt: int = 0
    collateral: dict[str, int] = field(default_factory=dict)
    unpledged: int | None = None
    values: dict[str, int] = field(default_factory=dict)
    haircuts: dict[str, int] = field(default_factory=dict)
    leaf_of: str | None = None


@dataclass
class AccountSpec:
    """A margin account: its customer and real slots (padded with dummy slots to ``S``).

    ``dummy_assets`` picks the assets of the dummy slots (default: the first ones the account does not use).
    ``lo``, if set, is the claimed low limb of the excess (honest: ``x mod 2^64``; ``Hi`` follows from it).
    """

    customer: str
    slots: Sequence[SlotSpec]
    dummy_assets: Sequence[str] | None = None
    lo: int | None = None


@dataclass
class MarginSpec:
    """The round's margin section. ``assets`` covers every bundle asset; ``accounts`` the real accounts.

    ``slots`` (default: the most slots any account uses) and ``accounts_padded`` (``M``, default: the next
    power of two) are the public counts. Cheats: ``debt_shift`` adds ``shift*B`` to an asset's stated
    ``debt_commitment`` (a debt added to, or left out of, the total; the solvency proof is made for the
    stated total); ``disclose_debt`` / ``disclose_collateral`` publish the openings of §14.3.
    """

    value_decimals: int
    collateral_types: Sequence[str]
    assets: Sequence[MarginAssetSpec]
    accounts: Sequence[AccountSpec]
    slots: int | None = None
    accounts_padded: int | None = None
    debt_shift: dict[str, int] = field(default_factory=dict)
    disclose_debt: bool = False
    disclose_collateral: bool = False


@dataclass
class SlotWitness:
    """One slot as written: asset position, leaf index and the openings ``(value mod r, blinding)``."""

    asset: int
    symbol: str
    leaf: int
    dummy: bool
    equity: tuple[int, int]
    debt: tuple[int, int]
    unpledged: tuple[int, int]
    collateral: tuple[int, ...]
    values: tuple[tuple[int, int], ...]
    haircuts: tuple[tuple[int, int], ...]


@dataclass
class MarginRecordInfo:
    """One record of ``margin.records.bin`` as written, with its witness and which parts of its group were forged
    because of its values."""

    index: int
    record_id: bytes
    customer: str | None  # None: a dummy account
    margin_salt: bytes
    slots: list[SlotWitness]
    lo: tuple[int, int]
    excess: int  # x as an integer (negative: the account does not cover its debt)
    record: bytes = b""
    openings: list[tuple[int, int]] = field(default_factory=list)  # the Q values of the value list
    points: list[Point] = field(default_factory=list)
    forged_parts: list[int] = field(default_factory=list)


@dataclass
class MarginOutcome:
    """What :func:`make_margin_bundle` wrote in the margin section."""

    digest: bytes
    root: bytes
    slots: int
    tiers: int
    values_per_account: int
    group_size: int
    parts: list[int]
    record_size: int
    proofs_record_size: int
    records: list[MarginRecordInfo]
    debt: dict[str, tuple[int, int]]  # per asset: the opening of the stated debt total

    def record_of(self, customer: str) -> MarginRecordInfo:
        return next(rec for rec in self.records if rec.customer == customer)

    def group_of(self, rec: MarginRecordInfo) -> int:
        """The group (record of ``margin.proofs.bin``) whose proofs cover ``rec``'s values."""
        return rec.index // self.group_size

    def part_at(self, rec: MarginRecordInfo, k: int) -> int:
        """The part of ``rec``'s group covering value ``k`` of ``rec``'s list."""
        position = (rec.index % self.group_size) * self.values_per_account + k
        offset = 0
        for p, size in enumerate(self.parts):
            if position < offset + size:
                return p
            offset += size
        raise IndexError(k)

    @property
    def forged(self) -> list[tuple[int, int]]:
        """``(group, part)`` of every forged margin proof."""
        return sorted({(self.group_of(rec), p) for rec in self.records for p in rec.forged_parts})


def _margin_salt(seed: bytes, key: bytes) -> bytes:
    return hashlib.sha256(seed + b"margin salt" + _frame(key)).digest()


def _commit_bytes(pc: PedersenGens, opening: tuple[int, int]) -> bytes:
    return pc.commit(opening[0] % GROUP_ORDER, opening[1] % GROUP_ORDER).to_bytes()


def spec_margin_digest(
    q: int,
    S: int,
    T_max: int,
    M: int,
    types: Sequence[str],
    assets: Sequence[tuple[str, int, int, Sequence[Schedule]]],
) -> bytes:
    """§14.2: ``margin_digest``; ``assets`` as ``(symbol, decimals, price, schedule per type)`` in manifest order."""
    data = b"zk-solvency margin params v4" + struct.pack("<BHHHI", q, S, len(types), T_max, M)
    data += b"".join(_frame(t.encode()) for t in types)
    for symbol, decimals, price, schedules in assets:
        data += _frame(symbol.encode()) + struct.pack("<BQ", decimals, price)
        for schedule in schedules:
            data += struct.pack("<B", len(schedule))
            data += b"".join(struct.pack("<QB", up_to or 0, ratio) for up_to, ratio in schedule)
    return hashlib.sha256(data).digest()


def manifest_margin_digest(manifest: dict[str, Any]) -> bytes:
    """§14.3: ``margin_digest`` computed from a manifest's ``margin`` object and asset decimals (for tampering)."""
    margin = manifest["margin"]
    decimals = {a["symbol"]: a["decimals"] for a in manifest["assets"]}
    types = margin["collateral_types"]
    return spec_margin_digest(
        margin["value_decimals"], margin["slots"], margin["tiers"], margin["accounts"], types,
        [
            (
                a["symbol"], decimals[a["symbol"]], int(a["price"]),
                [[(None if t["up_to"] is None else int(t["up_to"]), t["ratio"]) for t in a["haircuts"][k]]
                 for k in types],
            )
            for a in margin["assets"]
        ],
    )


def spec_value_list(
    record: MarginRecordInfo,
    points: dict[str, Any],
    leaf_points: Sequence[Point],
    pc: PedersenGens,
    lines: Callable[[int, int], list[tuple[int, int]]],
    prices: Sequence[int],
    decimals: Sequence[int],
    d_max: int,
) -> list[Point]:
    """§14.4: the ``Q`` points of the account's value list, computed from its record's points and leaves."""
    out: list[Point] = []
    Delta = 10**d_max
    inv64 = pow(TWO_64, -1, GROUP_ORDER)
    X = Point.identity(pc.B.backend)
    for s, slot in enumerate(record.slots):
        P, delta = prices[slot.asset], 10 ** decimals[slot.asset]
        D, W = points["D"][s], points["W"][s]
        Vs, Hs = points["V"][s], points["H"][s]
        Rho = (leaf_points[s] - W) * P - sum(Vs[1:], Vs[0]) * delta
        out += [D, W, Rho]
        for k, (V, H) in enumerate(zip(Vs, Hs, strict=True)):
            out.append(V)
            out += [pc.B * A + V * r - H for A, r in lines(slot.asset, k)]
            X = X + H * Delta
        X = X - D * (100 * P * (Delta // delta))
    Lo = points["Lo"]
    return [*out, Lo, (X - Lo) * inv64]


def make_margin_bundle(
    out: Path,
    assets: Sequence[AssetSpec],
    margin: MarginSpec,
    *,
    exchange: str = EXCHANGE,
    round_label: str = ROUND,
    seed: bytes = b"factory seed v4",
    backend: GroupBackend | None = None,
    forge: str = "low_bits",
) -> MadeBundle:
    """Write a format-4 bundle (a sum tree per asset plus a margin section) and its version-3 packages.

    Honest by default; the overrides of :class:`SlotSpec`, :class:`AccountSpec` and :class:`MarginSpec` make
    the cheating prover's bundle, whose every hash, size, digest and context is still right: a proof whose
    statement is false is forged (``forge``, :data:`FORGE_MODES`) and recorded in ``made.margin``.
    """
    be = backend or get_backend("fast")
    pc = PedersenGens.default(be)
    rng = seeded_rng(seed + b"rng")
    specs = sorted(assets, key=lambda a: a.symbol)
    symbols = [spec.symbol for spec in specs]
    position = {s: a for a, s in enumerate(symbols)}
    by_symbol = {m.symbol: m for m in margin.assets}
    types = list(margin.collateral_types)
    K = len(types)
    schedules = [[by_symbol[s].haircuts[t] for t in types] for s in symbols]
    prices = [by_symbol[s].price for s in symbols]
    decimals = [spec.decimals for spec in specs]
    T_max = max(len(sched) for per_type in schedules for sched in per_type)
    S = margin.slots or max(len(acc.slots) for acc in margin.accounts)
    M = margin.accounts_padded or 1 << max(0, (len(margin.accounts) - 1).bit_length())
    d_max = max(decimals)
    Delta = 10**d_max
    digest = spec_margin_digest(
        margin.value_decimals, S, T_max, M, types,
        [(s, decimals[a], prices[a], schedules[a]) for a, s in enumerate(symbols)],
    )

    def lines(a: int, k: int) -> list[tuple[int, int]]:
        return spec_tier_lines(schedules[a][k], T_max)

    # Records: ids first (leaf ids depend on them), then the slots' assets.
    planned: list[tuple[bytes, str | None, bytes, list[tuple[int, SlotSpec | None]], int | None]] = []
    for acc in margin.accounts:
        salt = _margin_salt(seed, acc.customer.encode())
        real = [(position[sl.asset], sl) for sl in acc.slots]
        used = {a for a, _ in real}
        free = [position[s] for s in acc.dummy_assets] if acc.dummy_assets is not None else [
            a for a in range(len(symbols)) if a not in used
        ]
        slots: list[tuple[int, SlotSpec | None]] = [*real, *((a, None) for a in free[: S - len(real)])]
        planned.append((spec_margin_record_id(round_label, acc.customer, salt), acc.customer, salt, slots, acc.lo))
    for j in range(M - len(margin.accounts)):
        rid = hashlib.sha256(seed + b"dummy account" + struct.pack("<I", j)).digest()
        planned.append((rid, None, b"", [(a, None) for a in range(S)], None))
    planned.sort(key=lambda p: p[0])

    # Leaves: every slot naming its own leaf gets a margin leaf (the customer's equity, or 0).
    holdings = {spec.symbol: spec.holdings for spec in specs}
    leaf_lists: dict[str, list[Leaf]] = {}
    own: dict[tuple[str, str], Leaf] = {}  # (customer, symbol) -> the leaf that customer's slot names
    for spec in specs:
        Sym, m = spec.symbol, spec.chunk
        leaves: list[Leaf] = []
        slotted: set[str] = set()
        for rid, customer, salt, slots, _ in planned:
            for a, sl in slots:
                if symbols[a] != Sym or (sl is not None and sl.leaf_of is not None):
                    continue
                is_real = customer is not None and sl is not None
                amount = holdings[Sym].get(customer, 0) if is_real and customer is not None else 0
                leaf = Leaf(
                    spec_margin_leaf_id(rid, Sym), amount, seeded_scalar(seed, b"margin leaf", rid, Sym.encode()),
                    customer if is_real else None, salt if is_real else b"",
                )
                leaves.append(leaf)
                if is_real and customer is not None:
                    slotted.add(customer)
                    own[customer, Sym] = leaf
        for cid, amount in spec.holdings.items():
            if cid in slotted:
                continue
            salt = hashlib.sha256(seed + b"salt" + _frame(Sym.encode()) + cid.encode()).digest()
            blinding = seeded_scalar(seed, b"blinding", Sym.encode(), cid.encode())
            leaf = Leaf(spec_leaf_id(round_label, Sym, cid, salt), amount, blinding, cid, salt)
            leaves.append(leaf)
            own[cid, Sym] = leaf
        n_leaves = spec.leaf_count or max(m, 1 << max(0, (len(leaves) - 1).bit_length()))
        for j in range(n_leaves - len(leaves)):
            dummy_id = hashlib.sha256(seed + b"dummy" + _frame(Sym.encode()) + struct.pack("<Q", j)).digest()
            blinding = seeded_scalar(seed, b"dummy", Sym.encode(), struct.pack("<Q", j))
            leaves.append(Leaf(dummy_id, 0, blinding, None, b""))
        leaves.sort(key=lambda leaf: leaf.leaf_id)
        for leaf in leaves:
            leaf.V = pc.commit(leaf.amount, leaf.blinding).to_bytes()
        leaf_lists[Sym] = leaves
    index_of = {Sym: {leaf.leaf_id: i for i, leaf in enumerate(leaves)} for Sym, leaves in leaf_lists.items()}

    # The witness of every slot, the records, the tree.
    records: list[MarginRecordInfo] = []
    for j, (rid, customer, salt, slots, lo_claim) in enumerate(planned):
        witnesses = []
        for s, (a, sl) in enumerate(sorted(slots, key=lambda x: x[0])):
            Sym = symbols[a]

            def blind(role: bytes, k: int = 0, rid: bytes = rid, s: int = s) -> int:
                return seeded_scalar(seed, b"margin blinding", rid, struct.pack("<QQ", s, k), role)

            if sl is None:
                leaf = next(lf for lf in leaf_lists[Sym] if lf.leaf_id == spec_margin_leaf_id(rid, Sym))
                c = (0,) * K
                w, d = 0, 0
                values = [0] * K
                hcuts = [0] * K
            else:
                leaf = own[(sl.leaf_of or customer or ""), Sym]
                c = tuple(sl.collateral.get(t, 0) for t in types)
                d = sl.debt
                w = leaf.amount - sum(c) if sl.unpledged is None else sl.unpledged
                values = [
                    sl.values.get(t, prices[a] * c[k] // 10 ** decimals[a]) for k, t in enumerate(types)
                ]
                hcuts = [
                    sl.haircuts.get(t, min(A + r * values[k] for A, r in lines(a, k))) for k, t in enumerate(types)
                ]
            witnesses.append(
                SlotWitness(
                    a, Sym, index_of[Sym][leaf.leaf_id], sl is None, (leaf.amount, leaf.blinding),
                    (d, blind(b"d")), (w, blind(b"w")), c,
                    tuple((values[k], blind(b"V", k)) for k in range(K)),
                    tuple((hcuts[k], blind(b"H", k)) for k in range(K)),
                )
            )
        x = Delta * sum(h for sw in witnesses for h, _ in sw.haircuts) - sum(
            100 * prices[sw.asset] * (Delta // 10 ** decimals[sw.asset]) * sw.debt[0] for sw in witnesses
        )
        # The excess as the verifier's points define it, mod r; a cheater splits its smallest representative.
        x %= GROUP_ORDER
        x = x - GROUP_ORDER if x > GROUP_ORDER // 2 else x
        lo = x % TWO_64 if lo_claim is None else lo_claim
        lo_blinding = seeded_scalar(seed, b"margin blinding lo", rid)
        rec = MarginRecordInfo(j, rid, customer, salt, witnesses, (lo, lo_blinding), x)
        body = rid
        for sw in witnesses:
            body += struct.pack("<HI", sw.asset, sw.leaf) + _commit_bytes(pc, sw.debt) + _commit_bytes(pc, sw.unpledged)
            for V, H in zip(sw.values, sw.haircuts, strict=True):
                body += _commit_bytes(pc, V) + _commit_bytes(pc, H)
        rec.record = body + _commit_bytes(pc, rec.lo)
        records.append(rec)
    record_hashes = [spec_margin_record_hash(rec.record) for rec in records]
    margin_root = spec_mth(record_hashes)
    record_size = 32 + S * (6 + 96 + 96 * K) + 48
    assert all(len(rec.record) == record_size for rec in records)

    # The value list of every account: openings by the notes' arithmetic, points by the format's (checked equal).
    Q = S * (3 + K * (1 + T_max)) + 2
    G = spec_group_size(M, Q)
    parts = spec_parts(G * Q)
    inv64 = pow(TWO_64, -1, GROUP_ORDER)
    for rec in records:
        openings: list[tuple[int, int]] = []
        X = (0, 0)
        for sw in rec.slots:
            P, delta = prices[sw.asset], 10 ** decimals[sw.asset]
            (e, be_), (w, bw) = sw.equity, sw.unpledged
            sum_v = sum(v for v, _ in sw.values)
            sum_bv = sum(b for _, b in sw.values)
            openings += [sw.debt, sw.unpledged, (P * (e - w) - delta * sum_v, P * (be_ - bw) - delta * sum_bv)]
            for k, ((v, bv), (h, bh)) in enumerate(zip(sw.values, sw.haircuts, strict=True)):
                openings.append((v, bv))
                openings += [(A + r * v - h, r * bv - bh) for A, r in lines(sw.asset, k)]
                X = (X[0] + Delta * h, X[1] + Delta * bh)
            coefficient = 100 * P * (Delta // delta)
            X = (X[0] - coefficient * sw.debt[0], X[1] - coefficient * sw.debt[1])
        lo, blo = rec.lo
        openings += [rec.lo, ((X[0] - lo) * inv64, (X[1] - blo) * inv64)]
        rec.openings = [(v % GROUP_ORDER, b % GROUP_ORDER) for v, b in openings]
        leaf_points = [Point.from_bytes(leaf_lists[sw.symbol][sw.leaf].V, be) for sw in rec.slots]
        points: dict[str, Any] = {
            "D": [Point.from_bytes(_commit_bytes(pc, sw.debt), be) for sw in rec.slots],
            "W": [Point.from_bytes(_commit_bytes(pc, sw.unpledged), be) for sw in rec.slots],
            "V": [[Point.from_bytes(_commit_bytes(pc, v), be) for v in sw.values] for sw in rec.slots],
            "H": [[Point.from_bytes(_commit_bytes(pc, h), be) for h in sw.haircuts] for sw in rec.slots],
            "Lo": Point.from_bytes(_commit_bytes(pc, rec.lo), be),
        }
        rec.points = spec_value_list(rec, points, leaf_points, pc, lines, prices, decimals, d_max)
        assert len(rec.points) == Q
        assert all(pc.commit(v, b) == V for (v, b), V in zip(rec.openings, rec.points, strict=True))

    # Per asset: the debt total (as stated), the sum tree and its proofs, the v4 solvency statement.
    debt: dict[str, tuple[int, int]] = {}
    for a, Sym in enumerate(symbols):
        slots_here = [sw for rec in records for sw in rec.slots if sw.asset == a]
        D = sum(sw.debt[0] for sw in slots_here) + margin.debt_shift.get(Sym, 0)
        debt[Sym] = (D, sum(sw.debt[1] for sw in slots_here) % GROUP_ORDER)
    made = MadeBundle(out, {})
    out.mkdir()
    asset_objs = []
    tree_assets = {}
    for a, spec in enumerate(specs):
        D, bD = debt[spec.symbol]
        C_D = pc.commit(D % GROUP_ORDER, bD)

        def solvency(
            context: bytes, C_L: Point, L: int, bL: int, spec: AssetSpec = spec, D: int = D, bD: int = bD,
            C_D: Point = C_D,
        ) -> tuple[bytes, Point, int, int]:
            num, den = spec.ratio
            ctx = spec_solvency_context_v4(context, digest, margin_root, C_D.to_bytes())
            V_s = pc.B * (den * spec.reserves) - (C_L - C_D) * num
            return ctx, V_s, den * spec.reserves - num * (L - D), -num * (bL - bD)

        asset = _tree_asset(
            spec, leaf_lists[spec.symbol], pc, rng, exchange, round_label,
            context_suffix=digest, solvency=solvency, forge=forge,
        )
        _write_files(out, asset)
        asset.obj["debt_commitment"] = C_D.to_bytes().hex()
        asset.obj["disclosed_debt"] = (
            {"amount": str(D), "blinding": bD.to_bytes(32, "little").hex()} if margin.disclose_debt else None
        )
        pledged = [sw for rec in records for sw in rec.slots if sw.asset == a]
        collateral = (
            sum(sw.equity[0] - sw.unpledged[0] for sw in pledged),
            sum(sw.equity[1] - sw.unpledged[1] for sw in pledged) % GROUP_ORDER,
        )
        asset.obj["disclosed_collateral"] = (
            {"amount": str(collateral[0] % GROUP_ORDER), "blinding": collateral[1].to_bytes(32, "little").hex()}
            if margin.disclose_collateral else None
        )
        asset_objs.append(asset.obj)
        tree_assets[spec.symbol] = asset
        made.forged[spec.symbol] = asset.forged
        made.leaves[spec.symbol] = asset.leaves

    # The margin proofs: one record per group of G records, popcount(G*Q) parts over their value lists.
    proof_records = []
    for g in range(M // G):
        members = records[g * G : (g + 1) * G]
        group_points = [V for rec in members for V in rec.points]
        group_openings = [o for rec in members for o in rec.openings]
        owner = [rec for rec in members for _ in range(Q)]
        body, offset = b"", 0
        for p, size in enumerate(parts):
            ctx = spec_margin_context(exchange, round_label, digest, margin_root, M, g, p + FIRST_PART, offset, size)
            statement = RangeStatement(tuple(group_points[offset : offset + size]), 64, ctx)
            proof, forged = prove_or_forge(statement, group_openings[offset : offset + size], rng, forge)
            if forged:
                for i in range(offset, offset + size):
                    if group_openings[i][0] >= TWO_64 and p not in owner[i].forged_parts:
                        owner[i].forged_parts.append(p)
            body += proof
            offset += size
        proof_records.append(body)
    proofs_record_size = sum(353 + 96 * (6 + size.bit_length() - 1) for size in parts)
    assert all(len(body) == proofs_record_size for body in proof_records)
    margin_files = {
        "records": ("margin.records.bin", _header(b"ZKSMRGN1", M, record_size) + b"".join(r.record for r in records)),
        "proofs": ("margin.proofs.bin", _header(b"ZKSMRGP1", M // G, proofs_record_size) + b"".join(proof_records)),
    }
    files_obj = {}
    for role, (name, data) in margin_files.items():
        (out / name).write_bytes(data)
        files_obj[role] = {"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    manifest = _manifest(exchange, round_label, 4, asset_objs)
    manifest["margin"] = {
        "value_decimals": margin.value_decimals,
        "collateral_types": types,
        "slots": S,
        "tiers": T_max,
        "accounts": M,
        "params_sha256": digest.hex(),
        "root": margin_root.hex(),
        "assets": [
            {
                "symbol": Sym,
                "price": str(prices[a]),
                "haircuts": {
                    t: [{"up_to": None if b is None else str(b), "ratio": r} for b, r in schedules[a][k]]
                    for k, t in enumerate(types)
                },
            }
            for a, Sym in enumerate(symbols)
        ],
        "files": files_obj,
    }
    made.margin = MarginOutcome(
        digest, margin_root, S, T_max, Q, G, parts, record_size, proofs_record_size, records, debt
    )

    # Packages (format 3): the spot entries of format 2, and the margin object of §14.6.
    for asset in tree_assets.values():
        for i, leaf in enumerate(asset.leaves):
            if leaf.customer is None:
                continue
            package = made.packages.setdefault(leaf.customer, package_skeleton(exchange, round_label, leaf.customer))
            package["format_version"] = 3
            package["margin"] = None
            package["entries"].append(asset.package_entry(i))
    for rec in records:
        if rec.customer is None or rec.customer not in made.packages:
            continue
        made.packages[rec.customer]["margin"] = margin_package_object(rec, M, record_hashes, types)
    return _finish(out, made, manifest)


def _scalar_hex(b: int) -> str:
    return (b % GROUP_ORDER).to_bytes(32, "little").hex()


def margin_package_object(
    rec: MarginRecordInfo, M: int, record_hashes: Sequence[bytes], types: Sequence[str]
) -> dict[str, Any]:
    """§14.6: the package's ``margin`` object of the account of record ``rec``."""
    return {
        "record_index": rec.index,
        "record_count": M,
        "record_id": rec.record_id.hex(),
        "margin_salt": rec.margin_salt.hex(),
        "merkle_path": [p.hex() for p in spec_path(record_hashes, rec.index)],
        "slots": [
            {
                "asset": sw.symbol,
                "leaf_index": sw.leaf,
                "dummy": sw.dummy,
                "debt": str(sw.debt[0] % GROUP_ORDER),
                "debt_blinding": _scalar_hex(sw.debt[1]),
                "unpledged": str(sw.unpledged[0] % GROUP_ORDER),
                "unpledged_blinding": _scalar_hex(sw.unpledged[1]),
                "collateral": [
                    {
                        "type": t,
                        "amount": str(sw.collateral[k]),
                        "value": str(sw.values[k][0] % GROUP_ORDER),
                        "value_blinding": _scalar_hex(sw.values[k][1]),
                        "haircut": str(sw.haircuts[k][0] % GROUP_ORDER),
                        "haircut_blinding": _scalar_hex(sw.haircuts[k][1]),
                    }
                    for k, t in enumerate(types)
                ],
            }
            for sw in rec.slots
        ],
        "lo": str(rec.lo[0] % GROUP_ORDER),
        "lo_blinding": _scalar_hex(rec.lo[1]),
    }


# --- tampering helpers ---------------------------------------------------------------


def load_manifest(bundle: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((bundle / "manifest.json").read_bytes())
    return manifest


def resign(bundle: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Recompute every listed file's size and SHA-256 and the bundle digest; write the manifest."""
    for asset in manifest["assets"]:
        for entry in asset["files"].values():
            data = (bundle / entry["name"]).read_bytes()
            entry["size"] = len(data)
            entry["sha256"] = hashlib.sha256(data).hexdigest()
    for entry in manifest.get("margin", {}).get("files", {}).values():
        data = (bundle / entry["name"]).read_bytes()
        entry["size"] = len(data)
        entry["sha256"] = hashlib.sha256(data).hexdigest()
    if "wallets" in manifest:
        data = (bundle / manifest["wallets"]["name"]).read_bytes()
        manifest["wallets"]["size"] = len(data)
        manifest["wallets"]["sha256"] = hashlib.sha256(data).hexdigest()
    manifest["bundle_digest"] = _digest(manifest)
    (bundle / "manifest.json").write_bytes(_canonical(manifest) + b"\n")
    return manifest


def rewrite_manifest(bundle: Path, mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Apply ``mutate`` to the manifest, then re-sign it (so only the mutation is wrong)."""
    manifest = load_manifest(bundle)
    mutate(manifest)
    return resign(bundle, manifest)


def rewrite_file(bundle: Path, name: str, mutate: Callable[[bytearray], None]) -> dict[str, Any]:
    """Apply ``mutate`` to a data file's bytes, then re-sign the manifest."""
    data = bytearray((bundle / name).read_bytes())
    mutate(data)
    (bundle / name).write_bytes(bytes(data))
    return resign(bundle, load_manifest(bundle))


def swap_records(data: bytearray, i: int, j: int, record_size: int, header: int = 16) -> None:
    a = slice(header + i * record_size, header + (i + 1) * record_size)
    b = slice(header + j * record_size, header + (j + 1) * record_size)
    data[a], data[b] = bytes(data[b]), bytes(data[a])
