"""A tiny format-4 bundle writer for the verifier's margin tests (``docs/FORMAT.md`` §14), and its tampering helpers.

Built from circuits-level pieces (``circuits.margin``, ``circuits.statements``, ``circuits.sumtree``)
and the prover's range-proof core, so the verifier's margin tests do not wait for, nor depend on,
``prover/bundle.py``. It writes every file of §14 (leaves with margin leaf ids, sum trees and
their proofs under the v4 contexts, margin records and proofs, solvency proofs for ``C_L - C_D``)
and the customers' packages of format 3. Everything is seeded, so one call writes the same bytes.

This is test scaffolding, not an independent writer (``tests/bundle_factory.py`` is that): it
shares the circuits code with the verifier on purpose, and the tamper tests change its output
byte by byte and re-sign the manifest (:func:`resign`), so that only the tampered field is wrong.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bundle_factory import seeded_rng, seeded_scalar, spec_leaf_id

from circuits.backends import GroupBackend, get_backend
from circuits.constants import GROUP_ORDER, PROTOCOL_LABEL
from circuits.encoding import frame
from circuits.generators import PedersenGens, generator_set_id
from circuits.group import Point
from circuits.jsonio import canonical_json
from circuits.margin import (
    AssetMargin,
    MarginParams,
    MarginPartStatement,
    MarginRecord,
    SlotAmounts,
    SlotBlindings,
    Tier,
    account_excess,
    commit_record,
    margin_leaf_hash,
    margin_record_id,
    slot_amounts,
    split_excess,
    value_list,
    value_openings,
)
from circuits.merkle import MerkleTree, leaf_hash
from circuits.relations import Opening
from circuits.statements import ChunkStatement, NodeStatement, SolvencyStatement
from circuits.sumtree import (
    chunk_hash,
    chunk_node_hash,
    chunk_path,
    node_count,
    node_index_of,
    sum_node_hash,
    sum_nodes,
)
from prover import create_range_proof

EXCHANGE = "Margin Test Exchange"
ROUND = "2026-03-31"
CREATED = "2026-03-31T12:00:00Z"
HEADER = 16


def margin_leaf_id(record_id: bytes, symbol: str) -> bytes:
    """FORMAT §14.4: ``SHA256("zk-solvency margin leaf id v4" || record_id || frame(S))``."""
    return hashlib.sha256(b"zk-solvency margin leaf id v4" + record_id + frame(symbol.encode())).digest()


def header(magic: bytes, count: int, record_size: int) -> bytes:
    return magic + struct.pack("<II", count, record_size)


@dataclass(frozen=True)
class MarginAsset:
    """One asset: symbol, decimals, reserves, price (value units) and one schedule per collateral type."""

    symbol: str
    decimals: int
    reserves: int
    price: int
    haircuts: tuple[tuple[Tier, ...], ...]
    ratio: tuple[int, int] = (1, 1)
    disclose_liabilities: bool = False
    disclose_debt: bool = False
    disclose_collateral: bool = False


@dataclass(frozen=True)
class MarginAccount:
    """A margin customer: per asset it uses, ``(equity, debt, collateral per type)`` in base units."""

    customer: str
    holdings: dict[str, tuple[int, int, tuple[int, ...]]]


@dataclass
class BundleSpec:
    assets: tuple[MarginAsset, ...]
    spot: dict[str, dict[str, int]]  # symbol -> customer -> amount
    accounts: tuple[MarginAccount, ...]
    slots: int
    records: int  # M, a power of two >= len(accounts)
    collateral_types: tuple[str, ...] = ("loan",)
    value_decimals: int = 2
    chunk: int = 2
    seed: bytes = b"margin fixture v1"


@dataclass
class Leaf:
    leaf_id: bytes
    amount: int
    blinding: int
    customer: str | None
    salt: bytes
    V: bytes = b""


@dataclass
class Made:
    """The written bundle: its path, manifest object, packages (customer -> JSON object) and internals."""

    path: Path
    manifest: dict[str, Any]
    params: MarginParams
    packages: dict[str, dict[str, Any]] = field(default_factory=dict)
    leaves: dict[str, list[Leaf]] = field(default_factory=dict)
    #: The records in file order: ``(record_id, customer or None, record bytes)``.
    records: list[tuple[bytes, str | None, bytes]] = field(default_factory=list)

    def write_package(self, customer: str, dest: Path) -> Path:
        dest.write_text(json.dumps(self.packages[customer]))
        return dest

    def record_index(self, customer: str) -> int:
        return next(j for j, (_, c, _) in enumerate(self.records) if c == customer)

    @property
    def record_size(self) -> int:
        return self.params.record_size

    @property
    def proofs_record_size(self) -> int:
        return self.params.proofs_record_size


def default_spec(**changes: Any) -> BundleSpec:
    """Two assets (BTC tiered, USDT flat), two spot customers, one margin account, two records, two slots."""
    btc = MarginAsset(
        "BTC", 8, reserves=400_000_000, price=9_700_000,
        haircuts=((Tier(50_000_000, 95), Tier(None, 50)),),
    )
    usdt = MarginAsset("USDT", 6, reserves=1_000_000_000, price=100, haircuts=((Tier(None, 100),),))
    spec = BundleSpec(
        assets=(btc, usdt),
        spot={"BTC": {"alice": 100_000_000, "bob": 50_000_000}, "USDT": {"alice": 500_000_000}},
        accounts=(MarginAccount("carol", {"BTC": (200_000_000, 0, (10_000_000,)), "USDT": (0, 1_000_000_000, (0,))}),),
        slots=2,
        records=2,
    )
    for key, value in changes.items():
        setattr(spec, key, value)
    return spec


def _json_disclosed(amount: int, blinding: int) -> dict[str, str]:
    return {"amount": str(amount), "blinding": (blinding % GROUP_ORDER).to_bytes(32, "little").hex()}


def make_margin_bundle(out: Path, spec: BundleSpec | None = None, backend: GroupBackend | None = None) -> Made:
    """Write a valid format-4 bundle with its format-3 packages to ``out`` (which must not exist)."""
    spec = spec or default_spec()
    be = backend or get_backend("fast")
    pc = PedersenGens.default(be)
    seed = spec.seed
    rng = seeded_rng(seed + b"rng")
    symbols = [a.symbol for a in spec.assets]
    assert symbols == sorted(symbols)
    K = len(spec.collateral_types)
    params = MarginParams(
        value_decimals=spec.value_decimals,
        collateral_types=spec.collateral_types,
        slots=spec.slots,
        accounts=spec.records,
        assets=tuple(AssetMargin(a.symbol, a.decimals, a.price, a.haircuts) for a in spec.assets),
    )
    digest = params.digest()

    # -- accounts: ids, slot assets, leaves of each slot -------------------------------------
    @dataclass
    class Account:
        record_id: bytes
        customer: str | None
        salt: bytes
        # per slot: (asset position, equity, debt, collateral, dummy)
        slots: list[tuple[int, int, int, tuple[int, ...], bool]]
        leaves: list[Leaf] = field(default_factory=list)

    accounts: list[Account] = []
    for acc in spec.accounts:
        salt = hashlib.sha256(seed + b"margin salt" + acc.customer.encode()).digest()
        rid = margin_record_id(ROUND, acc.customer, salt)
        used = sorted(symbols.index(s) for s in acc.holdings)
        pad = [a for a in range(len(symbols)) if a not in used][: spec.slots - len(used)]
        slots = [(a, *acc.holdings[symbols[a]], False) for a in used] + [(a, 0, 0, (0,) * K, True) for a in pad]
        accounts.append(Account(rid, acc.customer, salt, sorted(slots)))
    for j in range(spec.records - len(spec.accounts)):
        rid = hashlib.sha256(seed + b"dummy account" + struct.pack("<I", j)).digest()
        accounts.append(Account(rid, None, b"", [(a, 0, 0, (0,) * K, True) for a in range(spec.slots)]))
    accounts.sort(key=lambda a: a.record_id)

    leaves: dict[str, list[Leaf]] = {s: [] for s in symbols}
    for S, holdings in spec.spot.items():
        for cid, amount in holdings.items():
            salt = hashlib.sha256(seed + b"salt" + frame(S.encode()) + cid.encode()).digest()
            blinding = seeded_scalar(seed, b"blinding", S.encode(), cid.encode())
            leaves[S].append(Leaf(spec_leaf_id(ROUND, S, cid, salt), amount, blinding, cid, salt))
    for acc in accounts:
        for a, equity, _, _, dummy in acc.slots:
            S = symbols[a]
            leaf = Leaf(
                margin_leaf_id(acc.record_id, S), equity,
                seeded_scalar(seed, b"margin leaf", acc.record_id, S.encode()),
                None if dummy else acc.customer, acc.salt,
            )
            leaves[S].append(leaf)
            acc.leaves.append(leaf)
    m = spec.chunk
    for S in symbols:
        n = len(leaves[S])
        target = max(m, -(-n // m) * m)
        for j in range(target - n):
            lid = hashlib.sha256(seed + b"dummy leaf" + frame(S.encode()) + struct.pack("<Q", j)).digest()
            blinding = seeded_scalar(seed, b"dummy leaf", S.encode(), struct.pack("<Q", j))
            leaves[S].append(Leaf(lid, 0, blinding, None, b""))
        leaves[S].sort(key=lambda leaf: leaf.leaf_id)
        for leaf in leaves[S]:
            leaf.V = pc.commit(leaf.amount, leaf.blinding).to_bytes()

    # -- records and their proofs -----------------------------------------------------------
    record_bytes: list[bytes] = []
    slot_data: list[list[tuple[SlotAmounts, SlotBlindings]]] = []
    lo_openings: list[Opening] = []
    for acc in accounts:
        pairs = []
        for (a, equity, debt, collateral, _), leaf in zip(acc.slots, acc.leaves, strict=True):
            index = next(i for i, x in enumerate(leaves[symbols[a]]) if x is leaf)
            amounts = slot_amounts(params, a, index, equity, debt, collateral)
            tag = acc.record_id + struct.pack("<H", a)
            blindings = SlotBlindings(
                seeded_scalar(seed, b"d", tag), seeded_scalar(seed, b"w", tag),
                tuple(seeded_scalar(seed, b"v", tag, bytes([k])) for k in range(K)),
                tuple(seeded_scalar(seed, b"h", tag, bytes([k])) for k in range(K)),
            )
            pairs.append((amounts, blindings))
        x = account_excess(params, [p[0] for p in pairs])
        lo = Opening(split_excess(x)[0], seeded_scalar(seed, b"lo", acc.record_id))
        record = commit_record(params, acc.record_id, pairs, lo, pc)
        record_bytes.append(record.to_bytes())
        slot_data.append(pairs)
        lo_openings.append(lo)
    tree = MerkleTree([margin_leaf_hash(r) for r in record_bytes])
    root = tree.root
    all_values: list[Point] = []
    all_openings: list[Opening] = []
    for j, (acc, pairs, lo, rb) in enumerate(zip(accounts, slot_data, lo_openings, record_bytes, strict=True)):
        record = MarginRecord.from_bytes(rb, params, j, [len(leaves[s]) for s in symbols], be)
        points = [pc.commit(leaf.amount, leaf.blinding) for leaf in acc.leaves]
        all_values += value_list(params, record, points, pc)
        all_openings += value_openings(params, pairs, [leaf.blinding for leaf in acc.leaves], lo)
    proof_records = []
    n = params.values_per_group
    for g in range(params.groups):
        values, openings = all_values[g * n : (g + 1) * n], all_openings[g * n : (g + 1) * n]
        parts = []
        for statement in MarginPartStatement.parts_of(params, EXCHANGE, ROUND, root, g):
            o, size = statement.offset, statement.size
            rs = statement.range_statement(values[o : o + size])
            parts.append(create_range_proof(rs, openings[o : o + size], rng=rng).to_bytes())
        proof_records.append(b"".join(parts))

    files: dict[str, bytes] = {
        "margin.records.bin": header(b"ZKSMRGN1", spec.records, params.record_size) + b"".join(record_bytes),
        "margin.proofs.bin": header(b"ZKSMRGP1", params.groups, params.proofs_record_size) + b"".join(proof_records),
    }

    # -- per asset: sum tree, proofs, solvency -----------------------------------------------
    asset_objs = []
    made = Made(out, {}, params)
    made.leaves = leaves
    tree_nodes: dict[str, dict[int, tuple[bytes, bytes]]] = {}
    for a, asset in enumerate(spec.assets):
        S = asset.symbol
        ls = leaves[S]
        n, chunks = len(ls), len(ls) // m
        hashes = [leaf_hash(leaf.leaf_id, i, leaf.V) for i, leaf in enumerate(ls)]
        # subtree (start, size) -> (value, blinding, C bytes, H)
        sub: dict[tuple[int, int], tuple[int, int, bytes, bytes]] = {}
        for k in range(chunks):
            chunk = ls[k * m : (k + 1) * m]
            v, b = sum(x.amount for x in chunk), sum(x.blinding for x in chunk) % GROUP_ORDER
            C = pc.commit(v, b).to_bytes()
            sub[(k, 1)] = (v, b, C, chunk_node_hash(C, chunk_hash(hashes[k * m : (k + 1) * m])))
        for node in sum_nodes(chunks):
            lv, lb, _, lh = sub[node.left]
            rv, rb, _, rh = sub[node.right]
            v, b = lv + rv, (lb + rb) % GROUP_ORDER
            C = pc.commit(v, b).to_bytes()
            sub[node.node] = (v, b, C, sum_node_hash(C, lh, rh))
        L, L_blinding, C_L_bytes, merkle_root = sub[(0, chunks)]
        records_by_index: dict[int, tuple[bytes, bytes]] = {}
        for (start, size), (_, _, C, H) in sub.items():
            records_by_index[node_index_of(start, size)] = (C, H)
        tree_nodes[S] = records_by_index
        nodes_file = b"".join(records_by_index[x][0] + records_by_index[x][1] for x in range(node_count(chunks)))
        proofs = []
        for k in range(chunks):
            chunk = ls[k * m : (k + 1) * m]
            st = ChunkStatement(
                exchange=EXCHANGE, round=ROUND, symbol=S, leaf_count=n, chunk_size=m, chunk=k,
                merkle_root=merkle_root, margin_digest=digest,
            ).range_statement([pc.commit(x.amount, x.blinding) for x in chunk])
            proofs.append(create_range_proof(st, [Opening(x.amount, x.blinding) for x in chunk], rng=rng).to_bytes())
        node_proofs = []
        for node in sorted(sum_nodes(chunks), key=lambda nd: nd.split):
            lv, lb, _, _ = sub[node.left]
            rv, rb, _, _ = sub[node.right]
            st = NodeStatement(
                exchange=EXCHANGE, round=ROUND, symbol=S, leaf_count=n, chunk_size=m, split=node.split,
                merkle_root=merkle_root, margin_digest=digest,
            ).range_statement(pc.commit(lv, lb), pc.commit(rv, rb))
            node_proofs.append(create_range_proof(st, [Opening(lv, lb), Opening(rv, rb)], rng=rng).to_bytes())
        debt, debt_b, coll, coll_b = 0, 0, 0, 0
        for acc, pairs in zip(accounts, slot_data, strict=True):
            for (amounts, b), leaf in zip(pairs, acc.leaves, strict=True):
                if amounts.asset == a:
                    debt, debt_b = debt + amounts.debt, debt_b + b.d
                    coll, coll_b = coll + amounts.equity - amounts.unpledged, coll_b + leaf.blinding - b.w
        C_L = pc.commit(L, L_blinding)
        C_D = pc.commit(debt, debt_b % GROUP_ORDER)
        num, den = asset.ratio
        statement = SolvencyStatement(
            exchange=EXCHANGE, round=ROUND, symbol=S, decimals=asset.decimals, reserves=asset.reserves, num=num,
            den=den, leaf_count=n, merkle_root=merkle_root, C_L=C_L, margin_digest=digest, margin_root=root, C_D=C_D,
        )
        solvency = create_range_proof(
            statement.range_statement(pc), [statement.opening(L, L_blinding, debt, debt_b)], rng=rng
        ).to_bytes()
        names = {
            "leaves": f"{S}.leaves.bin", "range_proofs": f"{S}.rangeproofs.bin", "solvency": f"{S}.solvency.bin",
            "nodes": f"{S}.nodes.bin", "node_proofs": f"{S}.nodeproofs.bin",
        }
        files[names["leaves"]] = header(b"ZKSLEAF1", n, 80) + b"".join(x.leaf_id + x.V for x in ls)
        files[names["range_proofs"]] = header(b"ZKSRNGP1", chunks, len(proofs[0])) + b"".join(proofs)
        files[names["solvency"]] = header(b"ZKSSOLV1", 1, len(solvency)) + solvency
        files[names["nodes"]] = header(b"ZKSNODE1", node_count(chunks), 80) + nodes_file
        files[names["node_proofs"]] = header(b"ZKSNODP1", chunks - 1, 1121) + b"".join(node_proofs)
        asset_objs.append(
            {
                "reserves_basis": "declared",
                "symbol": S,
                "decimals": asset.decimals,
                "reserves": str(asset.reserves),
                "min_ratio": {"num": num, "den": den},
                "leaf_count": n,
                "chunk_size": m,
                "range_bits": 64,
                "merkle_root": merkle_root.hex(),
                "liabilities_commitment": C_L_bytes.hex(),
                "disclosed_liabilities": _json_disclosed(L, L_blinding) if asset.disclose_liabilities else None,
                "debt_commitment": C_D.to_bytes().hex(),
                "disclosed_debt": _json_disclosed(debt, debt_b) if asset.disclose_debt else None,
                "disclosed_collateral": _json_disclosed(coll, coll_b) if asset.disclose_collateral else None,
                "files": {role: {"name": name, "size": 0, "sha256": ""} for role, name in names.items()},
            }
        )
        for i, leaf in enumerate(ls):
            if leaf.customer is None:
                continue
            package = made.packages.setdefault(leaf.customer, _package_skeleton(leaf.customer))
            k = i // m
            package["entries"].append(
                {
                    "asset": S,
                    "decimals": asset.decimals,
                    "amount": str(leaf.amount),
                    "blinding": leaf.blinding.to_bytes(32, "little").hex(),
                    "leaf_salt": leaf.salt.hex(),
                    "leaf_id": leaf.leaf_id.hex(),
                    "leaf_index": i,
                    "leaf_count": n,
                    "chunk_size": m,
                    "merkle_root": merkle_root.hex(),
                    "liabilities_commitment": C_L_bytes.hex(),
                    "chunk_path": [p.hex() for p in MerkleTree(hashes[k * m : (k + 1) * m]).path(i - k * m)],
                    "node_path": [
                        {"commitment": C.hex(), "hash": H.hex()}
                        for C, H in (records_by_index[step.sibling] for step in chunk_path(chunks, k))
                    ],
                }
            )

    # -- the margin entries of the packages ----------------------------------------------------
    for j, (acc, pairs, lo) in enumerate(zip(accounts, slot_data, lo_openings, strict=True)):
        made.records.append((acc.record_id, acc.customer, record_bytes[j]))
        if acc.customer is None:
            continue
        package = made.packages.setdefault(acc.customer, _package_skeleton(acc.customer))
        slots_json = []
        for (amounts, b), (_, _, _, _, dummy) in zip(pairs, acc.slots, strict=True):
            slots_json.append(
                {
                    "asset": symbols[amounts.asset],
                    "leaf_index": amounts.leaf,
                    "dummy": dummy,
                    "debt": str(amounts.debt),
                    "debt_blinding": b.d.to_bytes(32, "little").hex(),
                    "unpledged": str(amounts.unpledged),
                    "unpledged_blinding": b.w.to_bytes(32, "little").hex(),
                    "collateral": [
                        {
                            "type": name,
                            "amount": str(amounts.collateral[k]),
                            "value": str(amounts.values[k]),
                            "value_blinding": b.v[k].to_bytes(32, "little").hex(),
                            "haircut": str(amounts.haircuts[k]),
                            "haircut_blinding": b.h[k].to_bytes(32, "little").hex(),
                        }
                        for k, name in enumerate(spec.collateral_types)
                    ],
                }
            )
        package["margin"] = {
            "record_index": j,
            "record_count": spec.records,
            "record_id": acc.record_id.hex(),
            "margin_salt": acc.salt.hex(),
            "merkle_path": [p.hex() for p in tree.path(j)],
            "slots": slots_json,
            "lo": str(lo.v),
            "lo_blinding": lo.v_blinding.to_bytes(32, "little").hex(),
        }

    out.mkdir()
    for name, data in files.items():
        (out / name).write_bytes(data)
    margin_obj = params.to_json(root, {"records": {"name": "margin.records.bin", "size": 0, "sha256": ""},
                                       "proofs": {"name": "margin.proofs.bin", "size": 0, "sha256": ""}})
    manifest: dict[str, Any] = {
        "format": "zk-solvency-bundle",
        "format_version": 4,
        "protocol": PROTOCOL_LABEL.decode(),
        "generators": generator_set_id().hex(),
        "exchange": EXCHANGE,
        "round": ROUND,
        "created": CREATED,
        "assets": asset_objs,
        "margin": margin_obj,
    }
    made.manifest = resign(out, manifest)
    for package in made.packages.values():
        package["bundle_digest"] = made.manifest["bundle_digest"]
    return made


def _package_skeleton(customer: str) -> dict[str, Any]:
    return {
        "format": "zk-solvency-package",
        "format_version": 3,
        "exchange": EXCHANGE,
        "round": ROUND,
        "bundle_digest": "",
        "customer_id": customer,
        "entries": [],
        "margin": None,
    }


# --- tampering helpers ---------------------------------------------------------------------


def digest_of(manifest: dict[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k != "bundle_digest"}
    return hashlib.sha256(b"zk-solvency bundle v1\x00" + canonical_json(body)).hexdigest()


def load_manifest(bundle: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((bundle / "manifest.json").read_bytes())
    return manifest


def resign(bundle: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Recompute every listed file's size and SHA-256 (the margin files too) and the digest; write the manifest."""
    entries = [e for asset in manifest["assets"] for e in asset["files"].values()]
    if "margin" in manifest:
        entries += list(manifest["margin"]["files"].values())
    for entry in entries:
        if not (bundle / entry["name"]).is_file():
            continue  # a renamed or removed file keeps its entry (the test checks how that fails)
        data = (bundle / entry["name"]).read_bytes()
        entry["size"] = len(data)
        entry["sha256"] = hashlib.sha256(data).hexdigest()
    manifest["bundle_digest"] = digest_of(manifest)
    (bundle / "manifest.json").write_bytes(canonical_json(manifest) + b"\n")
    return manifest


def rewrite_manifest(bundle: Path, mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    manifest = load_manifest(bundle)
    mutate(manifest)
    return resign(bundle, manifest)


def rewrite_file(bundle: Path, name: str, mutate: Callable[[bytearray], None]) -> dict[str, Any]:
    data = bytearray((bundle / name).read_bytes())
    mutate(data)
    (bundle / name).write_bytes(bytes(data))
    return resign(bundle, load_manifest(bundle))


def slot_offset(params: MarginParams, s: int) -> int:
    """Offset of slot ``s`` inside a record."""
    return 32 + s * params.slot_size


def record_offset(params: MarginParams, j: int) -> int:
    return HEADER + j * params.record_size


def points_of(made: Made, symbol: str) -> Sequence[bytes]:
    return [leaf.V for leaf in made.leaves[symbol]]
