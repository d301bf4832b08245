"""A cheating prover: complete, correctly hashed and signed bundles whose content lies.

``tests/bundle_factory.py`` writes honest bundles and lets a test break one thing
afterwards. This module is the other side of the threat model (``docs/THREAT_MODEL.md``):
an exchange that controls *everything* it writes. It assembles a bundle from an
explicit list of leaves ``(leaf_id, value, blinding)`` with the library's own
primitives (``PedersenGens.commit``, :class:`~circuits.group.Point` arithmetic, the
encoders of ``circuits.datafiles`` and ``circuits.jsonio``, the typed statements of
``circuits.statements``, :class:`~circuits.merkle.MerkleTree`, and the prover's
range-proof algorithm), so every file size, SHA-256, header,
Merkle root, context and the bundle digest is exactly what the verifier recomputes.
Only the statement is false, in whatever way the test asks:

* a leaf value may be anything mod ``r``: "negative" (``r - x``, see :func:`negative`),
  ``2^64 + x``, ...; a leaf's commitment may be replaced by raw bytes (the identity,
  a point with a small-order component: :func:`with_torsion`);
* the manifest's ``C_L`` may be a commitment to any ``(L', blinding)`` instead of the
  sum of the leaves (``CheatAsset.liabilities``);
* the Merkle root may be computed over other leaves than the ones written
  (``CheatAsset.tree_leaves``);
* the solvency proof may be made for other reserves (``CheatAsset.solvency_reserves``);
* any chunk proof or the solvency proof may be taken from elsewhere
  (``CheatAsset.chunk_records`` / ``solvency_record``, or :func:`replace_record` /
  :func:`copy_data_file` after the fact, which re-sign the manifest).

Format version 3 (:func:`write_cheat_tree_bundle`, :class:`CheatTreeAsset`): the same
leaves in a Merkle sum tree, where any node's commitment may be replaced by a commitment
to another opening (``node_openings``; every node above it is then recomputed from it,
so the tree hashes and the root stay consistent), and ``C_L`` may differ from the root's
commitment (``liabilities``). Node proofs are honest where their children's openings are
in ``[0, 2^128)`` and forged otherwise.

Proofs: where the statement is true, the cheater uses the honest
:func:`prover.create_range_proof` (which re-checks every opening, so the honest
parts of a cheating bundle are provably honest). Where the honest prover refuses
(a value outside ``[0, 2^n)``, a wrapped surplus that ``_witness_bytes`` cannot even
encode), the cheater does the best a cheater can: :func:`forge_range_proof` runs the
same algorithm (``prover.range_proof._prove``) on the low ``n`` bits of the wrapped
value, giving a well-formed proof that is false. :class:`AssetOutcome` records which
proofs were forged, so a test can assert that the part it expects to fail is the
only forged one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bundle_factory import (
    CREATED,
    EXCHANGE,
    ROUND,
    load_manifest,
    package_skeleton,
    resign,
    seeded_rng,
    seeded_scalar,
)

from circuits.backends import GroupBackend, get_backend
from circuits.constants import GROUP_ORDER, PROTOCOL_LABEL
from circuits.datafiles import (
    HEADER_SIZE,
    LEAF_RECORD_SIZE,
    MAGIC_LEAVES,
    MAGIC_NODE_PROOFS,
    MAGIC_NODES,
    MAGIC_RANGE_PROOFS,
    MAGIC_SOLVENCY,
    data_file_names,
    encode_header,
    leaf_id,
    node_proof_record_size,
)
from circuits.errors import WitnessError
from circuits.generators import PedersenGens, generator_set_id
from circuits.group import Point
from circuits.jsonio import canonical_json
from circuits.manifest import bundle_digest
from circuits.merkle import MerkleTree, leaf_hash
from circuits.proofs import RangeProof
from circuits.relations import Opening, RangeStatement
from circuits.statements import ChunkStatement, NodeStatement, SolvencyStatement
from circuits.sumtree import (
    NODE_RECORD_SIZE,
    chunk_hash,
    chunk_node_hash,
    chunk_path,
    node_index_of,
    root_index,
    sum_node_hash,
    sum_nodes,
)
from prover import create_range_proof
from prover.range_proof import _prove

__all__ = [
    "IDENTITY",
    "SEED",
    "SMALL_ORDER_POINT",
    "AssetOutcome",
    "CheatAsset",
    "CheatBundle",
    "CheatLeaf",
    "CheatTreeAsset",
    "copy_data_file",
    "customer_leaf",
    "dummy_leaf",
    "fixed_leaf",
    "forge_range_proof",
    "hidden_negative_tree",
    "merkle_path",
    "negative",
    "prove_or_forge",
    "read_record",
    "replace_record",
    "sorted_leaves",
    "with_torsion",
    "write_cheat_bundle",
    "write_cheat_tree_bundle",
]

#: Default secret seed of the cheater's blindings and salts.
SEED = b"adversary seed"
#: The compressed identity (point at infinity).
IDENTITY = bytes([0xC0]) + bytes(47)
#: ``(0, 2)``: on the curve, of order 3, outside the prime-order subgroup.
SMALL_ORDER_POINT = bytes([0x80]) + bytes(47)

RandomSource = Callable[[int], bytes]


# --- values, leaves -------------------------------------------------------------------


def negative(x: int) -> int:
    """Return ``-x`` as a scalar, ``r - x``: what a cheater commits to for a negative balance."""
    return (-x) % GROUP_ORDER


@dataclass(frozen=True)
class CheatLeaf:
    """One leaf as the cheater writes it.

    ``value`` and ``blinding`` are what the cheater *claims* the commitment opens
    to (any integers; reduced mod ``r``). ``encoding``, if set, replaces the
    commitment's 48 bytes (then ``value``/``blinding`` are the cheater's best
    opening, used for ``C_L`` bookkeeping and proofs).
    """

    leaf_id: bytes
    value: int
    blinding: int
    customer: str | None = None
    salt: bytes = b""
    encoding: bytes | None = None

    def commitment(self, pc: PedersenGens) -> bytes:
        """Return the 48 bytes written into the leaves file."""
        if self.encoding is not None:
            return self.encoding
        return pc.commit(self.value, self.blinding).to_bytes()


def customer_leaf(symbol: str, customer: str, value: int, *, round_label: str = ROUND, seed: bytes = SEED) -> CheatLeaf:
    """A customer's leaf with the spec's leaf id; salt and blinding derive from ``seed`` (not the round)."""
    salt = hashlib.sha256(seed + b"salt" + symbol.encode() + b"\x00" + customer.encode()).digest()
    blinding = seeded_scalar(seed, b"blinding", symbol.encode(), customer.encode())
    return CheatLeaf(leaf_id(round_label, symbol, customer, salt), value, blinding, customer, salt)


def dummy_leaf(symbol: str, j: int, *, seed: bytes = SEED, value: int = 0) -> CheatLeaf:
    """Padding leaf ``j`` of ``symbol`` (a commitment to ``value``, 0 for honest padding)."""
    lid = hashlib.sha256(seed + b"dummy" + symbol.encode() + struct.pack("<Q", j)).digest()
    return CheatLeaf(lid, value, seeded_scalar(seed, b"dummy", symbol.encode(), struct.pack("<Q", j)))


def fixed_leaf(j: int, value: int, *, seed: bytes = SEED) -> CheatLeaf:
    """A leaf whose id and blinding depend on ``j`` and ``seed`` only (the same in every round and asset)."""
    lid = bytes([j]) + hashlib.sha256(seed + b"fixed" + struct.pack("<Q", j)).digest()[1:]
    return CheatLeaf(lid, value, seeded_scalar(seed, b"fixed", struct.pack("<Q", j)))


def sorted_leaves(leaves: Sequence[CheatLeaf]) -> list[CheatLeaf]:
    """The leaves in the honest order (strictly increasing ids, if unique)."""
    return sorted(leaves, key=lambda leaf: leaf.leaf_id)


def with_torsion(leaf: CheatLeaf, k: int, backend: GroupBackend | None = None) -> CheatLeaf:
    """``leaf`` with ``k`` times the order-3 point added to its commitment (same claimed opening).

    Two leaves with ``k = 1`` and ``k = 2`` leave the sum of the leaves, hence ``C_L``,
    unchanged and in the prime-order subgroup.
    """
    be = backend or get_backend("fast")
    V = PedersenGens.default(be).commit(leaf.value, leaf.blinding)
    T = Point.from_bytes_without_subgroup_check(SMALL_ORDER_POINT, be)
    for _ in range(k % 3):
        V = V + T
    return CheatLeaf(leaf.leaf_id, leaf.value, leaf.blinding, leaf.customer, leaf.salt, V.to_bytes())


# --- proofs ---------------------------------------------------------------------------


def forge_range_proof(
    statement: RangeStatement, openings: Sequence[tuple[int, int]], *, rng: RandomSource | None = None
) -> RangeProof:
    """Run the honest proving algorithm on openings it would refuse; the proof is well formed and false.

    ``prove_range``/``create_range_proof`` raise :class:`WitnessError` for a value
    outside ``[0, 2^n)`` (and ``_witness_bytes`` cannot encode a 255-bit value), so
    the cheater calls the algorithm (``prover.range_proof._prove``) directly with
    the only witness it accepts: the low ``n`` bits of each (wrapped) value, and the
    true blindings. For an in-range value this is the honest proof.
    """
    mask = (1 << statement.n) - 1
    witness = [Opening((v % GROUP_ORDER) & mask, b % GROUP_ORDER) for v, b in openings]
    pc = PedersenGens.default(statement.commitments[0].backend)
    return _prove(statement, witness, pc, rng, 1)


def prove_or_forge(
    statement: RangeStatement, openings: Sequence[tuple[int, int]], *, rng: RandomSource | None = None
) -> tuple[bytes, bool]:
    """The honest proof if the statement is true for ``openings``, else a forged one; ``(bytes, forged)``."""
    try:
        witness = [Opening(v % GROUP_ORDER, b % GROUP_ORDER) for v, b in openings]
        return create_range_proof(statement, witness, rng=rng).to_bytes(), False
    except WitnessError:
        return forge_range_proof(statement, openings, rng=rng).to_bytes(), True


# --- the writer -----------------------------------------------------------------------


@dataclass
class CheatAsset:
    """One asset as the cheater writes it.

    ``leaves`` are written in this exact order (``leaf_count = len(leaves)``).
    ``tree_leaves``: the leaves the manifest's Merkle root is computed over (default
    ``leaves``). ``liabilities``: an opening ``(L, blinding)`` of the ``C_L`` to state
    instead of the sum of the leaves; the solvency proof is made for it.
    ``solvency_reserves``: the reserves the solvency proof is made for (default
    ``reserves``, the manifest's). ``chunk_records`` / ``solvency_record``: proof
    records taken from elsewhere, written instead of proving.
    """

    symbol: str
    leaves: Sequence[CheatLeaf]
    reserves: int
    decimals: int = 8
    chunk: int = 2
    ratio: tuple[int, int] = (1, 1)
    tree_leaves: Sequence[CheatLeaf] | None = None
    liabilities: tuple[int, int] | None = None
    solvency_reserves: int | None = None
    chunk_records: Mapping[int, bytes] = field(default_factory=dict)
    solvency_record: bytes | None = None


@dataclass
class AssetOutcome:
    """What the cheater wrote for one asset, for tests to assert on."""

    symbol: str
    leaf_count: int
    root: bytes
    liabilities: bytes
    #: Leaf id -> position in the leaves file (the last one, for duplicated ids).
    index: dict[bytes, int]
    #: Chunks whose proof is a forgery (not the ones copied from ``chunk_records``).
    forged_chunks: list[int]
    solvency_forged: bool
    #: Format version 3: the splits whose node proof is a forgery.
    forged_nodes: list[int] = field(default_factory=list)


@dataclass
class CheatBundle:
    """A written cheating bundle: its path, manifest, outcome per asset, and customer packages."""

    path: Path
    manifest: dict[str, Any]
    assets: dict[str, AssetOutcome]
    packages: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """The bundle digest (hex)."""
        return str(self.manifest["bundle_digest"])

    def package(self, customer: str) -> dict[str, Any]:
        """A deep copy of ``customer``'s package, to hand out as is or edited."""
        return json.loads(json.dumps(self.packages[customer]))  # type: ignore[no-any-return]


def package_entry(
    symbol: str, decimals: int, leaf: CheatLeaf, index: int, leaf_count: int, root: bytes, path: Sequence[bytes]
) -> dict[str, Any]:
    """One package entry (docs/FORMAT.md §8) for ``leaf`` at ``index``."""
    return {
        "asset": symbol,
        "decimals": decimals,
        "amount": str(leaf.value),
        "blinding": (leaf.blinding % GROUP_ORDER).to_bytes(32, "little").hex(),
        "leaf_salt": leaf.salt.hex(),
        "leaf_id": leaf.leaf_id.hex(),
        "leaf_index": index,
        "leaf_count": leaf_count,
        "merkle_root": root.hex(),
        "merkle_path": [p.hex() for p in path],
    }


def write_cheat_bundle(
    out: Path,
    assets: Sequence[CheatAsset],
    *,
    exchange: str = EXCHANGE,
    round_label: str = ROUND,
    created: str = CREATED,
    seed: bytes = SEED,
    backend: GroupBackend | None = None,
) -> CheatBundle:
    """Write the bundle ``assets`` describe at ``out`` (a new directory), signed like an honest one.

    Packages are made for every customer leaf that is in its asset's tree, has an
    amount below ``2^64`` (a package cannot say more) and a customer name.
    """
    be = backend or get_backend("fast")
    pc = PedersenGens.default(be)
    rng = seeded_rng(seed + b"proofs")
    out.mkdir()
    made = CheatBundle(out, {}, {})
    asset_objs = []
    for spec in sorted(assets, key=lambda a: a.symbol):
        S, m = spec.symbol, spec.chunk
        leaves = list(spec.leaves)
        n = len(leaves)
        encodings = [leaf.commitment(pc) for leaf in leaves]
        tree_leaves = list(spec.tree_leaves if spec.tree_leaves is not None else leaves)
        tree_hashes = [leaf_hash(leaf.leaf_id, i, leaf.commitment(pc)) for i, leaf in enumerate(tree_leaves)]
        tree = MerkleTree(tree_hashes)
        root = tree.root

        points = [Point.from_bytes_without_subgroup_check(e, be) for e in encodings]
        total = Point.identity(be)
        for V in points:
            total = total + V
        L = sum(leaf.value for leaf in leaves) % GROUP_ORDER
        blinding_sum = sum(leaf.blinding for leaf in leaves) % GROUP_ORDER
        if spec.liabilities is None:
            C_L = total
        else:
            L, blinding_sum = (x % GROUP_ORDER for x in spec.liabilities)
            C_L = pc.commit(L, blinding_sum)

        proofs: list[bytes] = []
        forged: list[int] = []
        for k in range(n // m):
            if k in spec.chunk_records:
                proofs.append(spec.chunk_records[k])
                continue
            chunk = list(zip(leaves[k * m : (k + 1) * m], points[k * m : (k + 1) * m], strict=True))
            # The transcript refuses an identity commitment outright: the cheater proves the chunk
            # with a commitment to 0 in its place (the verifier never gets that far).
            commitments = tuple(pc.commit(0, 1) if V.is_identity() else V for _, V in chunk)
            openings = [(0, 1) if V.is_identity() else (leaf.value, leaf.blinding) for leaf, V in chunk]
            statement = ChunkStatement(
                exchange=exchange, round=round_label, symbol=S, leaf_count=n, chunk_size=m, chunk=k, merkle_root=root
            )
            record, was_forged = prove_or_forge(statement.range_statement(commitments), openings, rng=rng)
            proofs.append(record)
            if was_forged:
                forged.append(k)

        num, den = spec.ratio
        proof_reserves = spec.reserves if spec.solvency_reserves is None else spec.solvency_reserves
        solvency_forged = False
        if spec.solvency_record is not None:
            solvency = spec.solvency_record
        else:
            solvency_statement = SolvencyStatement(
                exchange=exchange,
                round=round_label,
                symbol=S,
                decimals=spec.decimals,
                reserves=proof_reserves,
                num=num,
                den=den,
                leaf_count=n,
                merkle_root=root,
                C_L=C_L,
            )
            surplus = (den * proof_reserves - num * L) % GROUP_ORDER
            solvency, solvency_forged = prove_or_forge(
                solvency_statement.range_statement(pc), [(surplus, -num * blinding_sum)], rng=rng
            )

        names = data_file_names(S)
        files = {
            "leaves": encode_header(MAGIC_LEAVES, n, LEAF_RECORD_SIZE)
            + b"".join(leaf.leaf_id + e for leaf, e in zip(leaves, encodings, strict=True)),
            "range_proofs": encode_header(MAGIC_RANGE_PROOFS, len(proofs), len(proofs[0])) + b"".join(proofs),
            "solvency": encode_header(MAGIC_SOLVENCY, 1, len(solvency)) + solvency,
        }
        file_objs = {}
        for role, data in files.items():
            (out / names[role]).write_bytes(data)
            file_objs[role] = {"name": names[role], "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        asset_objs.append(
            {
                "symbol": S,
                "decimals": spec.decimals,
                "reserves": str(spec.reserves),
                "min_ratio": {"num": num, "den": den},
                "leaf_count": n,
                "chunk_size": m,
                "range_bits": 64,
                "merkle_root": root.hex(),
                "liabilities_commitment": C_L.to_bytes().hex(),
                "disclosed_liabilities": None,
                "files": file_objs,
            }
        )
        made.assets[S] = AssetOutcome(
            S, n, root, C_L.to_bytes(), {leaf.leaf_id: i for i, leaf in enumerate(leaves)}, forged, solvency_forged
        )
        for i, leaf in enumerate(tree_leaves):
            if leaf.customer is None or not 0 <= leaf.value < 1 << 64:
                continue
            package = made.packages.setdefault(leaf.customer, package_skeleton(exchange, round_label, leaf.customer))
            package["entries"].append(package_entry(S, spec.decimals, leaf, i, len(tree_leaves), root, tree.path(i)))

    manifest: dict[str, Any] = {
        "format": "zk-solvency-bundle",
        "format_version": 1,
        "protocol": PROTOCOL_LABEL.decode(),
        "generators": generator_set_id().hex(),
        "exchange": exchange,
        "round": round_label,
        "created": created,
        "assets": asset_objs,
    }
    manifest["bundle_digest"] = bundle_digest(manifest).hex()
    (out / "manifest.json").write_bytes(canonical_json(manifest) + b"\n")
    made.manifest = manifest
    for package in made.packages.values():
        package["bundle_digest"] = manifest["bundle_digest"]
    return made


# --- format version 3: the sum tree ---------------------------------------------------------


@dataclass
class CheatTreeAsset:
    """One asset of a format-3 cheating bundle (declared reserves, no wallet list).

    ``node_openings`` maps a nodes-file record index (in-order, ``2k`` a chunk node,
    ``2j - 1`` a sum node) to the opening ``(value, blinding)`` whose commitment the
    cheater writes for that node instead of the true sum; parents are recomputed from it.
    ``liabilities``: the opening of a ``C_L`` to state instead of the root's commitment.
    """

    symbol: str
    leaves: Sequence[CheatLeaf]
    reserves: int
    decimals: int = 8
    chunk: int = 2
    ratio: tuple[int, int] = (1, 1)
    node_openings: Mapping[int, tuple[int, int]] = field(default_factory=dict)
    liabilities: tuple[int, int] | None = None


@dataclass
class _TreeNode:
    C: Point
    H: bytes
    value: int
    blinding: int


def _opened(
    pc: PedersenGens, openings: Mapping[int, tuple[int, int]], index: int, C: Point, value: int, blinding: int
) -> tuple[Point, int, int]:
    """Node ``index``'s commitment and opening: the true ones, or the cheater's from ``openings``."""
    if index in openings:
        value, blinding = (x % GROUP_ORDER for x in openings[index])
        return pc.commit(value, blinding), value, blinding
    return C, value % GROUP_ORDER, blinding % GROUP_ORDER


def tree_package_entry(
    symbol: str, decimals: int, leaf: CheatLeaf, index: int, leaf_count: int, m: int, root: bytes, C_L: bytes,
    chunk_hashes: Sequence[bytes], siblings: Sequence[tuple[bytes, bytes]],
) -> dict[str, Any]:
    """One entry of a version-2 package (docs/FORMAT.md §8) for ``leaf`` at ``index``."""
    k = index // m
    return {
        "asset": symbol,
        "decimals": decimals,
        "amount": str(leaf.value),
        "blinding": (leaf.blinding % GROUP_ORDER).to_bytes(32, "little").hex(),
        "leaf_salt": leaf.salt.hex(),
        "leaf_id": leaf.leaf_id.hex(),
        "leaf_index": index,
        "leaf_count": leaf_count,
        "chunk_size": m,
        "merkle_root": root.hex(),
        "liabilities_commitment": C_L.hex(),
        "chunk_path": [p.hex() for p in MerkleTree(list(chunk_hashes)).path(index - k * m)],
        "node_path": [{"commitment": c.hex(), "hash": h.hex()} for c, h in siblings],
    }


def hidden_negative_tree(customer: str = "alice", amount: int = 1000, hidden: int = 900) -> CheatTreeAsset:
    """Four BTC leaves in two chunks of 2: ``customer``'s and a 0 in one chunk, ``-hidden`` and a 0 in the other.

    Reserves are ``amount - hidden``: the true liabilities ``amount`` exceed them, and the
    negative leaf hides the difference. Its chunk proof and its parent's node proof are forged.
    """
    leaves = sorted_leaves([customer_leaf("BTC", customer, amount), *(dummy_leaf("BTC", j) for j in range(3))])
    own = next(i for i, leaf in enumerate(leaves) if leaf.customer == customer)
    other = 2 if own < 2 else 0
    leaves[other] = dataclasses.replace(leaves[other], value=negative(hidden))
    return CheatTreeAsset("BTC", leaves, reserves=amount - hidden)


def write_cheat_tree_bundle(
    out: Path,
    assets: Sequence[CheatTreeAsset],
    *,
    exchange: str = EXCHANGE,
    round_label: str = ROUND,
    created: str = CREATED,
    seed: bytes = SEED,
    backend: GroupBackend | None = None,
) -> CheatBundle:
    """Write the format-3 bundle ``assets`` describe at ``out``, signed like an honest one, with packages.

    Packages (version 2) are made for every customer leaf with an amount below ``2^64``.
    """
    be = backend or get_backend("fast")
    pc = PedersenGens.default(be)
    rng = seeded_rng(seed + b"tree proofs")
    out.mkdir()
    made = CheatBundle(out, {}, {})
    asset_objs = []
    for spec in sorted(assets, key=lambda a: a.symbol):
        S, m = spec.symbol, spec.chunk
        leaves = list(spec.leaves)
        n = len(leaves)
        chunks = n // m
        encodings = [leaf.commitment(pc) for leaf in leaves]
        points = [Point.from_bytes_without_subgroup_check(e, be) for e in encodings]
        hashes = [leaf_hash(leaf.leaf_id, i, e) for i, (leaf, e) in enumerate(zip(leaves, encodings, strict=True))]
        nodes: dict[int, _TreeNode] = {}

        for k in range(chunks):
            C = Point.identity(be)
            for V in points[k * m : (k + 1) * m]:
                C = C + V
            part = leaves[k * m : (k + 1) * m]
            C, value, blinding = _opened(
                pc, spec.node_openings, 2 * k, C, sum(x.value for x in part), sum(x.blinding for x in part)
            )
            H = chunk_node_hash(C.to_bytes(), chunk_hash(hashes[k * m : (k + 1) * m]))
            nodes[2 * k] = _TreeNode(C, H, value, blinding)
        node_records: dict[int, bytes] = {}
        forged_nodes: list[int] = []
        for node in sum_nodes(chunks):
            left, right = nodes[node_index_of(*node.left)], nodes[node_index_of(*node.right)]
            C, value, blinding = _opened(pc, spec.node_openings, node.index, left.C + right.C, left.value + right.value,
                                        left.blinding + right.blinding)
            nodes[node.index] = _TreeNode(C, sum_node_hash(C.to_bytes(), left.H, right.H), value, blinding)
        root_node = nodes[root_index(chunks)]
        root = root_node.H
        for node in sum_nodes(chunks):
            left, right = nodes[node_index_of(*node.left)], nodes[node_index_of(*node.right)]
            statement = NodeStatement(
                exchange=exchange, round=round_label, symbol=S, leaf_count=n, chunk_size=m, split=node.split,
                merkle_root=root,
            )
            record, was_forged = prove_or_forge(
                statement.range_statement(left.C, right.C),
                [(left.value, left.blinding), (right.value, right.blinding)], rng=rng,
            )
            node_records[node.split] = record
            if was_forged:
                forged_nodes.append(node.split)

        proofs: list[bytes] = []
        forged: list[int] = []
        for k in range(chunks):
            chunk_statement = ChunkStatement(
                exchange=exchange, round=round_label, symbol=S, leaf_count=n, chunk_size=m, chunk=k, merkle_root=root
            )
            record, was_forged = prove_or_forge(
                chunk_statement.range_statement(points[k * m : (k + 1) * m]),
                [(leaf.value, leaf.blinding) for leaf in leaves[k * m : (k + 1) * m]], rng=rng,
            )
            proofs.append(record)
            if was_forged:
                forged.append(k)

        L, blinding_sum = root_node.value, root_node.blinding
        C_L = root_node.C
        if spec.liabilities is not None:
            L, blinding_sum = (x % GROUP_ORDER for x in spec.liabilities)
            C_L = pc.commit(L, blinding_sum)
        num, den = spec.ratio
        solvency_statement = SolvencyStatement(
            exchange=exchange, round=round_label, symbol=S, decimals=spec.decimals, reserves=spec.reserves, num=num,
            den=den, leaf_count=n, merkle_root=root, C_L=C_L,
        )
        solvency, solvency_forged = prove_or_forge(
            solvency_statement.range_statement(pc),
            [((den * spec.reserves - num * L) % GROUP_ORDER, -num * blinding_sum)], rng=rng,
        )
        names = data_file_names(S)
        files = {
            "leaves": encode_header(MAGIC_LEAVES, n, LEAF_RECORD_SIZE)
            + b"".join(leaf.leaf_id + e for leaf, e in zip(leaves, encodings, strict=True)),
            "range_proofs": encode_header(MAGIC_RANGE_PROOFS, len(proofs), len(proofs[0])) + b"".join(proofs),
            "solvency": encode_header(MAGIC_SOLVENCY, 1, len(solvency)) + solvency,
            "nodes": encode_header(MAGIC_NODES, 2 * chunks - 1, NODE_RECORD_SIZE)
            + b"".join(nodes[x].C.to_bytes() + nodes[x].H for x in range(2 * chunks - 1)),
            "node_proofs": encode_header(MAGIC_NODE_PROOFS, chunks - 1, node_proof_record_size())
            + b"".join(node_records[j] for j in range(1, chunks)),
        }
        file_objs = {}
        for role, data in files.items():
            (out / names[role]).write_bytes(data)
            file_objs[role] = {"name": names[role], "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        asset_objs.append(
            {
                "reserves_basis": "declared",
                "symbol": S,
                "decimals": spec.decimals,
                "reserves": str(spec.reserves),
                "min_ratio": {"num": num, "den": den},
                "leaf_count": n,
                "chunk_size": m,
                "range_bits": 64,
                "merkle_root": root.hex(),
                "liabilities_commitment": C_L.to_bytes().hex(),
                "disclosed_liabilities": None,
                "files": file_objs,
            }
        )
        made.assets[S] = AssetOutcome(
            S, n, root, C_L.to_bytes(), {leaf.leaf_id: i for i, leaf in enumerate(leaves)}, forged, solvency_forged,
            forged_nodes,
        )
        for i, leaf in enumerate(leaves):
            if leaf.customer is None or not 0 <= leaf.value < 1 << 64:
                continue
            k = i // m
            siblings = [(nodes[s.sibling].C.to_bytes(), nodes[s.sibling].H) for s in chunk_path(chunks, k)]
            package = made.packages.setdefault(leaf.customer, package_skeleton(exchange, round_label, leaf.customer))
            package["format_version"] = 2
            package["entries"].append(
                tree_package_entry(S, spec.decimals, leaf, i, n, m, root, C_L.to_bytes(),
                                   hashes[k * m : (k + 1) * m], siblings)
            )
    manifest: dict[str, Any] = {
        "format": "zk-solvency-bundle",
        "format_version": 3,
        "protocol": PROTOCOL_LABEL.decode(),
        "generators": generator_set_id().hex(),
        "exchange": exchange,
        "round": round_label,
        "created": created,
        "assets": asset_objs,
    }
    manifest["bundle_digest"] = bundle_digest(manifest).hex()
    (out / "manifest.json").write_bytes(canonical_json(manifest) + b"\n")
    made.manifest = manifest
    for package in made.packages.values():
        package["bundle_digest"] = manifest["bundle_digest"]
    return made


# --- after the fact: records from elsewhere ---------------------------------------------


def read_record(bundle: Path, name: str, k: int) -> bytes:
    """Return record ``k`` of the data file ``name`` (record size from its header)."""
    data = (bundle / name).read_bytes()
    (size,) = struct.unpack_from("<I", data, 12)
    return data[HEADER_SIZE + k * size : HEADER_SIZE + (k + 1) * size]


def merkle_path(bundle: Path, symbol: str, index: int) -> list[bytes]:
    """Return the audit path of leaf ``index`` over the leaves file of ``symbol`` as written."""
    data = (bundle / data_file_names(symbol)["leaves"]).read_bytes()[HEADER_SIZE:]
    hashes = [
        leaf_hash(data[o : o + 32], i, data[o + 32 : o + LEAF_RECORD_SIZE])
        for i, o in enumerate(range(0, len(data), LEAF_RECORD_SIZE))
    ]
    return MerkleTree(hashes).path(index)


def replace_record(bundle: Path, name: str, k: int, record: bytes) -> dict[str, Any]:
    """Put ``record`` at position ``k`` of ``name`` and re-sign the manifest; return it."""
    data = bytearray((bundle / name).read_bytes())
    (size,) = struct.unpack_from("<I", data, 12)
    if len(record) != size:
        raise ValueError(f"record of {len(record)} bytes for records of {size}")
    data[HEADER_SIZE + k * size : HEADER_SIZE + (k + 1) * size] = record
    (bundle / name).write_bytes(bytes(data))
    return resign(bundle, load_manifest(bundle))


def copy_data_file(src: Path, dst: Path, name: str, as_name: str | None = None) -> dict[str, Any]:
    """Copy data file ``name`` of bundle ``src`` over ``as_name`` (default ``name``) of ``dst``; re-sign ``dst``."""
    shutil.copyfile(src / name, dst / (as_name or name))
    return resign(dst, load_manifest(dst))
