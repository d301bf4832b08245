// The frozen bundles (tests/vectors/bundle_v1 .. bundle_v4, the ones tests/test_frozen_bundle_v*.py
// verify forever) through the JS crypto core: every point and every range proof decodes, every chunk,
// node and solvency proof verifies (in one batch per bundle; chunk 0 of each asset also alone) under the
// context docs/FORMAT.md §4 / §14.5 gives (built here from the manifest), the Merkle roots (leaf tree, sum tree, margin records) are the manifest's, the leaves sum to
// liabilities_commitment; and the frozen packages' paths (package_v*.json) lead to their roots.
// Margin value-list proofs (§14.4) are decoded, not verified: their value lists are the check's
// (web/src/check.js), not the crypto core's.

import assert from 'node:assert/strict';
import test from 'node:test';
import { sha256 } from '@noble/hashes/sha2.js';
import { concat, equalBytes, frame, fromHex, le128, le16, le32, le64, le8, toHex, utf8 } from '../src/bytes.js';
import { VerificationError } from '../src/errors.js';
import { pedersenGens } from '../src/generators.js';
import { loadShippedTable } from '../src/generators_node.js';
import {
  chunkHash,
  chunkNodeHash,
  chunkPath,
  leafHash,
  leafId,
  marginLeafId,
  marginRecordHash,
  marginRecordId,
  merkleRoot,
  rootIndex,
  sumNodeHash,
  sumNodes,
  verifyMerklePath,
} from '../src/merkle.js';
import { IDENTITY, decodePoint, encodePoint, msm } from '../src/points.js';
import { decodeRangeProof, rangeProofSize, verifyRangeProof, verifyRangeProofBatch } from '../src/range_proof.js';
import { readVectorBytes, readVectors } from './vectors.mjs';

assert.ok(loadShippedTable());

const HEADER = 16;
const lg = (x) => 31 - Math.clz32(x);
const hex = (P) => toHex(encodePoint(P));

/** The records of a data file after checking its header (§3). */
function records(bytes, magic, count, size) {
  assert.equal(new TextDecoder().decode(bytes.subarray(0, 8)), magic);
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER);
  assert.deepEqual([view.getUint32(8, true), view.getUint32(12, true)], [count, size]);
  assert.equal(bytes.length, HEADER + count * size);
  return Array.from({ length: count }, (_, i) => bytes.subarray(HEADER + i * size, HEADER + (i + 1) * size));
}

/** margin_digest of §14.2, from the manifest's margin object. */
function marginDigest(manifest) {
  const margin = manifest.margin;
  const parts = [
    utf8('zk-solvency margin params v4'),
    le8(margin.value_decimals),
    le16(margin.slots),
    le16(margin.collateral_types.length),
    le16(margin.tiers),
    le32(margin.accounts),
    ...margin.collateral_types.map((t) => frame(utf8(t))),
  ];
  manifest.margin.assets.forEach((a, i) => {
    parts.push(frame(utf8(a.symbol)), le8(manifest.assets[i].decimals), le64(BigInt(a.price)));
    for (const type of margin.collateral_types) {
      const tiers = a.haircuts[type];
      parts.push(le8(tiers.length));
      for (const t of tiers) parts.push(le64(t.up_to === null ? 0n : BigInt(t.up_to)), le8(t.ratio));
    }
  });
  return sha256(concat(...parts));
}

function contexts(manifest, asset) {
  const digest = manifest.format_version === 4 ? marginDigest(manifest) : new Uint8Array(0);
  const head = (tag) =>
    concat(utf8(tag), frame(utf8(manifest.exchange)), frame(utf8(manifest.round)), frame(utf8(asset.symbol)));
  const root = fromHex(asset.merkle_root);
  return {
    digest,
    chunk: (k) => concat(head('zk-solvency chunk v1'), le64(asset.leaf_count), le64(asset.chunk_size), le64(k), root, digest),
    node: (j) => concat(head('zk-solvency node v3'), le64(asset.leaf_count), le64(asset.chunk_size), le64(j), root, digest),
    solvency: (C_L) => {
      const wallets = manifest.wallets ?? null;
      const inner = concat(
        head(wallets === null ? 'zk-solvency solvency v1' : 'zk-solvency solvency v2'),
        le64(asset.decimals),
        le128(BigInt(asset.reserves)),
        le64(asset.min_ratio.num),
        le64(asset.min_ratio.den),
        le64(asset.leaf_count),
        root,
        encodePoint(C_L),
        wallets === null ? new Uint8Array(0) : concat(fromHex(wallets.sha256), frame(utf8(asset.reserves_basis))),
      );
      if (manifest.format_version !== 4) return inner;
      return concat(
        utf8('zk-solvency solvency v4'),
        frame(inner),
        digest,
        fromHex(manifest.margin.root),
        fromHex(asset.debt_commitment),
      );
    },
  };
}

function checkAsset(dir, manifest, asset, batch) {
  const file = (section) => readVectorBytes(`${dir}/${asset.files[section].name}`);
  const m = asset.chunk_size;
  const chunks = asset.leaf_count / m;
  const ctx = contexts(manifest, asset);
  const where = (section) => ({ section, file: section });

  // Leaves (§3.1): every point decodes (subgroup-checked), ids strictly increasing.
  const leaves = records(file('leaves'), 'ZKSLEAF1', asset.leaf_count, 80).map((rec, i) => {
    const V = decodePoint(rec.subarray(32), where(`${asset.symbol}.leaves.bin record ${i}`));
    assert.ok(!V.is0());
    return { id: rec.subarray(0, 32), V, bytes: rec.subarray(32), hash: leafHash(rec.subarray(0, 32), i, rec.subarray(32)) };
  });
  for (let i = 1; i < leaves.length; i += 1) assert.ok(toHex(leaves[i - 1].id) < toHex(leaves[i].id));
  const C_L = leaves.reduce((acc, leaf) => acc.add(leaf.V), IDENTITY);
  assert.equal(hex(C_L), asset.liabilities_commitment, 'the leaves sum to liabilities_commitment');

  // Chunk proofs (§3.2): every one verifies under its chunk context, and not under another chunk's.
  const proofs = records(file('range_proofs'), 'ZKSRNGP1', chunks, rangeProofSize(lg(64 * m)));
  proofs.forEach((rec, k) => {
    const section = `${asset.symbol}.rangeproofs.bin chunk ${k}`;
    const proof = decodeRangeProof(rec, m, 64, where(section));
    const commitments = leaves.slice(k * m, k * m + m).map((leaf) => leaf.V);
    batch.push({ commitments, proof, bits: 64, context: ctx.chunk(k), section });
    if (k === 0) {
      assert.equal(verifyRangeProof({ commitments, proof, bits: 64, context: ctx.chunk(k), section }), undefined, section);
      assert.throws(() => verifyRangeProof({ commitments, proof, bits: 64, context: ctx.chunk(k + 1) }), VerificationError);
    }
  });

  // The tree: the leaf tree's root (v1, v2), or the sum tree's nodes, root and node proofs (v3, v4).
  if (asset.files.nodes === undefined) {
    assert.equal(toHex(merkleRoot(leaves.map((leaf) => leaf.hash))), asset.merkle_root);
  } else {
    const nodes = records(file('nodes'), 'ZKSNODE1', 2 * chunks - 1, 80).map((rec, x) => ({
      C: decodePoint(rec.subarray(0, 48), where(`${asset.symbol}.nodes.bin[${x}]`)),
      H: rec.subarray(48),
    }));
    for (let k = 0; k < chunks; k += 1) {
      const part = leaves.slice(k * m, k * m + m);
      const C_k = part.reduce((acc, leaf) => acc.add(leaf.V), IDENTITY);
      assert.ok(nodes[2 * k].C.equals(C_k), `chunk node ${k} commitment`);
      assert.ok(equalBytes(nodes[2 * k].H, chunkNodeHash(encodePoint(C_k), chunkHash(part.map((l) => l.hash)))));
    }
    const nodeProofs = records(file('node_proofs'), 'ZKSNODP1', chunks - 1, rangeProofSize(8));
    for (const s of sumNodes(chunks)) {
      const [left, right] = [nodes[nodeIndexOf(s.left)], nodes[nodeIndexOf(s.right)]];
      const C = left.C.add(right.C);
      assert.ok(nodes[s.index].C.equals(C));
      assert.ok(equalBytes(nodes[s.index].H, sumNodeHash(encodePoint(C), left.H, right.H)));
      const section = `${asset.symbol}.nodeproofs.bin[${s.split - 1}]`;
      const proof = decodeRangeProof(nodeProofs[s.split - 1], 2, 128, where(section));
      batch.push({ commitments: [left.C, right.C], proof, bits: 128, context: ctx.node(s.split), section });
    }
    const root = nodes[rootIndex(chunks)];
    assert.equal(toHex(root.H), asset.merkle_root);
    assert.equal(hex(root.C), asset.liabilities_commitment);
    // Every chunk's path (§5.2) climbs to the root.
    for (let k = 0; k < chunks; k += 1) {
      let self = nodes[2 * k];
      for (const step of chunkPath(chunks, k)) {
        const sibling = nodes[step.sibling];
        const [l, r] = step.siblingIsLeft ? [sibling, self] : [self, sibling];
        self = { C: l.C.add(r.C), H: sumNodeHash(encodePoint(l.C.add(r.C)), l.H, r.H) };
        assert.ok(equalBytes(self.H, nodes[step.parent].H));
      }
      assert.equal(toHex(self.H), asset.merkle_root);
    }
  }

  // Solvency (§3.3, §14.5): V_s = (den*R)*B - num*C_L (v4: - num*(C_L - C_D)), n = 128.
  const { B } = pedersenGens();
  const { num, den } = asset.min_ratio;
  const points = [B, C_L];
  const scalars = [BigInt(den) * BigInt(asset.reserves), -BigInt(num)];
  if (manifest.format_version === 4) {
    points.push(decodePoint(fromHex(asset.debt_commitment)));
    scalars.push(BigInt(num));
  }
  const V_s = msm(points, scalars);
  const [solvency] = records(file('solvency'), 'ZKSSOLV1', 1, 1025);
  const section = `${asset.symbol}.solvency.bin`;
  const proof = decodeRangeProof(solvency, 1, 128, where(section));
  batch.push({ commitments: [V_s], proof, bits: 128, context: ctx.solvency(C_L), section });
  return { leaves };
}

function nodeIndexOf([start, size]) {
  if (size === 1) return 2 * start;
  let k = 1;
  while (k * 2 < size) k *= 2;
  return 2 * (start + k) - 1;
}

/** The margin files of v4 (§14.4): every record's points decode, the records tree's root is margin.root,
 *  every group's part proofs decode with their part's shape. */
function checkMargin(dir, manifest) {
  const margin = manifest.margin;
  const S = margin.slots;
  const K = margin.collateral_types.length;
  const M = margin.accounts;
  assert.equal(toHex(marginDigest(manifest)), margin.params_sha256);
  const size = 32 + S * (6 + 96 + 96 * K) + 48;
  const recs = records(readVectorBytes(`${dir}/${margin.files.records.name}`), 'ZKSMRGN1', M, size);
  for (const rec of recs) {
    for (let s = 0; s < S; s += 1) {
      const base = 32 + s * (102 + 96 * K);
      for (let off = base + 6; off < base + 102 + 96 * K; off += 48) assert.ok(!decodePoint(rec.subarray(off, off + 48)).is0());
    }
    assert.ok(!decodePoint(rec.subarray(size - 48)).is0());
  }
  assert.equal(toHex(merkleRoot(recs.map(marginRecordHash))), margin.root);
  const Q = S * (3 + K * (1 + margin.tiers)) + 2;
  let G = 1; // §14.4: the largest power of two <= min(M, 8) with G*Q <= 1024
  while (2 * G <= Math.min(M, 8) && 2 * G * Q <= 1024) G *= 2;
  const parts = [];
  for (let bit = 1 << 30; bit >= 1; bit >>>= 1) if ((G * Q) & bit) parts.push(bit);
  const recordSize = parts.reduce((acc, mp) => acc + rangeProofSize(lg(64 * mp)), 0);
  const proofs = records(readVectorBytes(`${dir}/${margin.files.proofs.name}`), 'ZKSMRGP1', M / G, recordSize);
  let decoded = 0;
  for (const rec of proofs) {
    let offset = 0;
    for (const mp of parts) {
      const len = rangeProofSize(lg(64 * mp));
      decodeRangeProof(rec.subarray(offset, offset + len), mp, 64);
      offset += len;
      decoded += 1;
    }
  }
  return decoded;
}

for (const version of [1, 2, 3, 4]) {
  const dir = `bundle_v${version}`;
  test(`frozen ${dir}: points, proofs, roots and sums`, () => {
    const manifest = readVectors(`${dir}/manifest.json`);
    assert.equal(manifest.format_version, version);
    assert.equal(manifest.generators, '36b4aad5dcdd25924e61e6bbd52350afd687ec8cfedd980fe104388d2ace5266');
    const batch = [];
    for (const asset of manifest.assets) checkAsset(dir, manifest, asset, batch);
    // Every chunk, node and solvency proof of the bundle in one batch (as verify_bundle's ProofBatch).
    assert.equal(verifyRangeProofBatch(batch), undefined);
    if (version === 4) assert.equal(checkMargin(dir, manifest), 2); // one group of G = 4 records, parts of 64 and 32
  });
}

test('frozen packages: leaf ids, commitments and paths lead to the manifest roots', () => {
  const pc = pedersenGens();
  for (const version of [1, 2, 3, 4]) {
    const pkg = readVectors(`package_v${version}.json`);
    for (const entry of pkg.entries) {
      const V = msm([pc.B, pc.B_blinding], [BigInt(entry.amount), BigInt(`0x${toHex(fromHex(entry.blinding).reverse())}`)]);
      // A margin account's slot leaves carry margin_leaf_id (§14.4, §14.6) instead of §8's leaf id.
      const margin = pkg.margin ?? null;
      const slot = margin === null ? undefined : margin.slots.find((x) => !x.dummy && x.asset === entry.asset);
      const id =
        slot === undefined
          ? leafId(pkg.round, entry.asset, pkg.customer_id, fromHex(entry.leaf_salt))
          : marginLeafId(marginRecordId(pkg.round, pkg.customer_id, fromHex(margin.margin_salt)), entry.asset);
      assert.equal(toHex(id), entry.leaf_id);
      const h = leafHash(id, entry.leaf_index, encodePoint(V));
      if (entry.merkle_path !== undefined) {
        const root = verifyMerklePath(h, entry.leaf_index, entry.leaf_count, entry.merkle_path.map((x) => fromHex(x)));
        assert.equal(toHex(root), entry.merkle_root, `package_v${version} ${entry.asset}`);
      } else {
        // Sum tree (package format 2 and 3): the chunk path gives MTH_k; the node path climbs with the
        // chunk node record of the bundle the package was made from.
        const m = entry.chunk_size;
        const k = Math.floor(entry.leaf_index / m);
        const mth = verifyMerklePath(h, entry.leaf_index % m, m, entry.chunk_path.map((x) => fromHex(x)));
        const dir = `bundle_v${version}`;
        const manifest = readVectors(`${dir}/manifest.json`);
        const asset = manifest.assets.find((a) => a.symbol === entry.asset);
        const nodes = readVectorBytes(`${dir}/${asset.files.nodes.name}`);
        const own = nodes.subarray(HEADER + 2 * k * 80, HEADER + 2 * k * 80 + 80);
        assert.ok(equalBytes(own.subarray(48), chunkNodeHash(own.subarray(0, 48), mth)), 'chunk_path gives MTH_k');
        let C = decodePoint(own.subarray(0, 48));
        let H = own.subarray(48);
        const steps = chunkPath(entry.leaf_count / m, k);
        assert.equal(entry.node_path.length, steps.length);
        steps.forEach((step, i) => {
          const sib = { C: decodePoint(fromHex(entry.node_path[i].commitment)), H: fromHex(entry.node_path[i].hash) };
          const [l, r] = step.siblingIsLeft ? [sib, { C, H }] : [{ C, H }, sib];
          C = l.C.add(r.C);
          H = sumNodeHash(encodePoint(C), l.H, r.H);
        });
        assert.equal(toHex(H), entry.merkle_root);
        assert.equal(hex(C), entry.liabilities_commitment);
      }
    }
    if (pkg.margin) {
      // The account's record (by offset) and its audit path lead to margin.root (§14.4, §14.6).
      const manifest = readVectors(`bundle_v${version}/manifest.json`);
      const { margin } = pkg;
      assert.equal(toHex(marginRecordId(pkg.round, pkg.customer_id, fromHex(margin.margin_salt))), margin.record_id);
      const bytes = readVectorBytes(`bundle_v${version}/${manifest.margin.files.records.name}`);
      const size = new DataView(bytes.buffer, bytes.byteOffset, HEADER).getUint32(12, true);
      const record = bytes.subarray(HEADER + margin.record_index * size, HEADER + (margin.record_index + 1) * size);
      assert.equal(toHex(record.subarray(0, 32)), margin.record_id);
      const path = margin.merkle_path.map((x) => fromHex(x));
      const root = verifyMerklePath(marginRecordHash(record), margin.record_index, margin.record_count, path);
      assert.equal(toHex(root), manifest.margin.root);
    }
  }
});
