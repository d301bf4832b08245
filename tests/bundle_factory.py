"""Write small, valid proof bundles straight from ``docs/FORMAT.md``, for verifier tests.

This deliberately does NOT use ``prover/bundle.py`` nor the encoders of the
``circuits`` format modules (frame, statements and their contexts, hashes, Merkle tree,
canonical JSON, digest, headers): each is re-written here from the spec text, so a bundle that this
factory writes and the verifier accepts is an independent check of the format.
Only the cryptographic primitives are shared: Pedersen commitments
(``PedersenGens``) and range proofs (``prover.prove_range``).

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
from circuits.relations import Opening, RangeStatement
from prover import create_range_proof, prove_range

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
        S, m = spec.symbol, spec.chunk
        leaves = _spec_leaves(spec, pc, seed, round_label)
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

        proofs = []
        for k in range(n_chunks):
            chunk = leaves[k * m : (k + 1) * m]
            ctx = spec_chunk_context(exchange, round_label, S, n_leaves, m, k, root)
            _, proof = prove_range(
                [Opening(leaf.amount, leaf.blinding) for leaf in chunk], 64, context=ctx, backend=be, rng=rng
            )
            proofs.append(proof.to_bytes())
        node_proofs: dict[int, bytes] = {}
        for node in in_order:
            if node.left is None or node.right is None:
                continue
            ctx = spec_node_context(exchange, round_label, S, n_leaves, m, node.split, root)
            _, proof = prove_range(
                [Opening(node.left.value, node.left.blinding), Opening(node.right.value, node.right.blinding)],
                128, context=ctx, backend=be, rng=rng,
            )
            node_proofs[node.split] = proof.to_bytes()

        L, blinding_sum = root_node.value, root_node.blinding
        num, den = spec.ratio
        C_L = pc.commit(L, blinding_sum)
        V_s = pc.B * (den * spec.reserves) - C_L * num
        ctx = spec_solvency_context(
            exchange, round_label, S, spec.decimals, spec.reserves, num, den, n_leaves, root, C_L.to_bytes()
        )
        surplus = (den * spec.reserves - num * L) % GROUP_ORDER
        solvency = create_range_proof(
            RangeStatement((V_s,), 128, ctx), [Opening(surplus, (-num * blinding_sum) % GROUP_ORDER)], rng=rng
        ).to_bytes()
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
            "solvency": (f"{S}.solvency.bin", _header(b"ZKSSOLV1", 1, len(solvency)) + solvency),
            "nodes": (
                f"{S}.nodes.bin",
                _header(b"ZKSNODE1", len(in_order), 80) + b"".join(node.C + node.H for node in in_order),
            ),
            "node_proofs": (
                f"{S}.nodeproofs.bin",
                _header(b"ZKSNODP1", n_chunks - 1, node_proof_size)
                + b"".join(node_proofs[j] for j in range(1, n_chunks)),
            ),
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
                "files": file_objs,
            }
        )
        made.leaves[S] = leaves
        for i, leaf in enumerate(leaves):
            if leaf.customer is None:
                continue
            package = made.packages.setdefault(leaf.customer, package_skeleton(exchange, round_label, leaf.customer))
            package["format_version"] = 2
            k = i // m
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
                    "chunk_size": m,
                    "merkle_root": root.hex(),
                    "liabilities_commitment": C_L.to_bytes().hex(),
                    "chunk_path": [p.hex() for p in spec_path(hashes[k * m : (k + 1) * m], i - k * m)],
                    "node_path": [{"commitment": n.C.hex(), "hash": n.H.hex()} for n in spec_siblings(root_node, k)],
                }
            )
    manifest: dict[str, Any] = {
        "format": "zk-solvency-bundle",
        "format_version": 3,
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
