// One 64-leaf chunk proof (n = 64, m = 64: the bundle's default chunk) made by the Python prover
// (tests/vectors/web_v1.json chunk64), verified in JS with the chunk context rebuilt from its fields as
// docs/FORMAT.md §4 says: "zk-solvency chunk v1" || frame(E) || frame(T) || frame(S) || LE64(leaf_count)
// || LE64(m) || LE64(k) || merkle_root. bench/web_range_bench.mjs times the same verification. (That a
// proof fails under another context is range_proof_tamper.test.mjs's, on a smaller proof.)

import assert from 'node:assert/strict';
import test from 'node:test';
import { concat, frame, fromHex, le64, toHex, utf8 } from '../src/bytes.js';
import { loadShippedTable } from '../src/generators_node.js';
import { decodePoint } from '../src/points.js';
import { decodeRangeProof, rangeProofSize, verifyRangeProof } from '../src/range_proof.js';
import { readVectors } from './vectors.mjs';

const C = readVectors('web_v1.json').chunk64;
assert.ok(loadShippedTable());

function chunkContext(c) {
  return concat(
    utf8('zk-solvency chunk v1'),
    frame(utf8(c.exchange)),
    frame(utf8(c.round)),
    frame(utf8(c.symbol)),
    le64(c.leaf_count),
    le64(c.chunk_size),
    le64(c.chunk),
    fromHex(c.merkle_root),
  );
}

test('the chunk context is FORMAT §4', () => {
  assert.equal(toHex(chunkContext(C)), C.context);
});

test('the 64-leaf chunk proof verifies under its chunk context', () => {
  const commitments = C.commitments.map((h) => decodePoint(fromHex(h)));
  const bytes = fromHex(C.proof);
  assert.equal(bytes.length, rangeProofSize(12));
  const proof = decodeRangeProof(bytes, 64, 64);
  assert.equal(verifyRangeProof({ commitments, proof, bits: 64, context: chunkContext(C) }), undefined);
});
