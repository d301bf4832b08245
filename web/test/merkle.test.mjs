// Merkle trees (web/src/merkle.js) against circuits/merkle.py, circuits/sumtree.py, circuits/datafiles.py
// and circuits/margin.py (tests/vectors/web_v1.json): leaf ids, roots, audit paths, paths of the wrong
// length (FormatError), the sum tree's shape and hashes, and the margin record hashes and ids.

import assert from 'node:assert/strict';
import test from 'node:test';
import { fromHex, toHex } from '../src/bytes.js';
import { FormatError } from '../src/errors.js';
import {
  MerkleAccumulator,
  chunkHash,
  chunkNodeHash,
  chunkPath,
  leafId,
  marginLeafId,
  marginRecordHash,
  marginRecordId,
  merklePath,
  merkleRoot,
  nodeCount,
  nodeIndexOf,
  rootIndex,
  sumNodeHash,
  sumNodes,
  verifyMerklePath,
} from '../src/merkle.js';
import { readVectors } from './vectors.mjs';

const M = readVectors('web_v1.json').merkle;

test('leaf ids as datafiles.leaf_id (UTF-8, framed)', () => {
  for (const c of M.leaf_ids) {
    assert.equal(toHex(leafId(c.round, c.symbol, c.customer_id, fromHex(c.salt))), c.output, c.customer_id);
  }
});

for (const tree of M.trees) {
  const n = tree.leaves.length;
  test(`leaf tree of ${n} leaves: root, every audit path, wrong paths`, () => {
    const leaves = tree.leaves.map((h) => fromHex(h));
    assert.equal(toHex(merkleRoot(leaves)), tree.root);
    const acc = new MerkleAccumulator();
    for (const h of leaves) acc.push(h);
    assert.equal(acc.count, n);
    assert.equal(toHex(acc.root()), tree.root);
    for (let i = 0; i < n; i += 1) {
      assert.deepEqual(merklePath(leaves, i).map(toHex), tree.paths[i], `path ${i}`);
      const root = verifyMerklePath(leaves[i], i, n, tree.paths[i].map((h) => fromHex(h)));
      assert.equal(toHex(root), tree.root, `root from path ${i}`);
      if (n > 1) {
        // A right-length path to another root is not an error here: the caller compares roots (false).
        const other = verifyMerklePath(leaves[(i + 1) % n], i, n, tree.paths[i].map((h) => fromHex(h)));
        assert.notEqual(toHex(other), tree.root);
      }
    }
    for (const bad of tree.bad_paths) {
      const path = bad.path.map((h) => fromHex(h));
      const where = { section: 'package.entries[0].merkle_path' };
      assert.throws(
        () => verifyMerklePath(leaves[Math.max(0, Math.min(bad.index, n - 1))], bad.index, n, path, where),
        (exc) => exc.constructor.name === bad.error && exc instanceof FormatError && exc.section === where.section,
        `index ${bad.index}, path of ${path.length}`,
      );
    }
  });
}

test('a tree of zero leaves is malformed', () => {
  assert.throws(() => merkleRoot([]), FormatError);
});

for (const st of M.sum_trees) {
  test(`sum tree of ${st.chunks} chunks: root index, chunk paths, sum nodes`, () => {
    assert.equal(rootIndex(st.chunks), st.root_index);
    assert.equal(nodeCount(st.chunks), 2 * st.chunks - 1);
    for (let k = 0; k < st.chunks; k += 1) {
      const got = chunkPath(st.chunks, k).map((s) => [s.sibling, s.parent, s.parentSplit, s.siblingIsLeft]);
      assert.deepEqual(got, st.paths[k], `chunk ${k}`);
    }
    const nodes = sumNodes(st.chunks).map((x) => [x.split, x.index, x.node, x.left, x.right]);
    assert.deepEqual(nodes, st.sum_nodes);
    for (const [split, index, node] of st.sum_nodes) {
      assert.equal(nodeIndexOf(node[0], node[1]), index);
      assert.equal(index, 2 * split - 1);
    }
  });
}

test('chunk and sum node hashes as circuits/sumtree.py', () => {
  const h = M.node_hashes;
  const leaves = h.leaves.map((x) => fromHex(x));
  assert.equal(toHex(chunkHash(leaves.slice(0, 1))), h.chunk_hash_1);
  assert.equal(toHex(chunkHash(leaves)), h.chunk_hash_4);
  assert.equal(toHex(chunkNodeHash(fromHex(h.commitment), leaves[0])), h.chunk_node_hash);
  assert.equal(toHex(sumNodeHash(fromHex(h.commitment), leaves[1], leaves[2])), h.sum_node_hash);
});

test('margin record hash, record id and margin leaf id as circuits/margin.py', () => {
  const m = M.margin;
  assert.equal(toHex(marginRecordHash(fromHex(m.record))), m.record_hash);
  const rid = marginRecordId(m.round, m.customer_id, fromHex(m.salt));
  assert.equal(toHex(rid), m.record_id);
  assert.equal(toHex(marginLeafId(rid, m.symbol)), m.margin_leaf_id);
});
