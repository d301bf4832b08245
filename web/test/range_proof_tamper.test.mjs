// Tampered range proofs fail in JS exactly as in Python: same class (FormatError, VerificationError,
// ParameterError), at the same stage (parsing or verifying). Python's outcomes are in
// tests/vectors/web_v1.json (written by tests/vectors/web_vectors.py from circuits/ and verifier/).

import assert from 'node:assert/strict';
import test from 'node:test';
import { fromHex } from '../src/bytes.js';
import { loadShippedTable } from '../src/generators_node.js';
import { decodePoint } from '../src/points.js';
import { checkRangeStatement, decodeRangeProof, verifyRangeProof } from '../src/range_proof.js';
import { readVectors } from './vectors.mjs';

const WEB = readVectors('web_v1.json');  // tampered: Python's outcomes
const FROZEN = readVectors('range_proof_v1.json');
assert.ok(loadShippedTable());

/** [stage, class name or null]: where JS stops, as web_vectors.py `_outcome` says where Python stops. */
function outcome(n, contextBytes, commitmentBytes, proofBytes) {
  let statement;
  try {
    const commitments = commitmentBytes.map((b) => decodePoint(b));
    checkRangeStatement({ commitments, bits: n, context: contextBytes });
    statement = { commitments, bits: n, context: contextBytes, proof: decodeRangeProof(proofBytes) };
  } catch (exc) {
    return ['parse', exc.constructor.name];
  }
  try {
    verifyRangeProof(statement);
  } catch (exc) {
    return ['verify', exc.constructor.name];
  }
  return ['verify', null];
}

const base = FROZEN.cases.find((c) => c.name === WEB.tampered.base).input;
const baseProof = fromHex(base.proof);
const baseContext = fromHex(base.context);
const baseCommitments = base.commitments.map((h) => fromHex(h));

test('byte flips of the proof: the class Python reports, for every field', () => {
  const seen = new Set();
  for (const t of WEB.tampered.proof) {
    const proof = baseProof.slice();
    proof[t.offset] ^= t.mask;
    const got = outcome(base.n, baseContext, baseCommitments, proof);
    assert.deepEqual(got, [t.stage, t.error], `offset ${t.offset} mask ${t.mask}`);
    seen.add(got.join(' '));
  }
  assert.ok(seen.has('parse FormatError') && seen.has('verify VerificationError'), [...seen].join(', '));
});

test('truncated and extended proofs: FormatError as in Python', () => {
  for (const t of WEB.tampered.lengths) {
    assert.deepEqual(outcome(base.n, baseContext, baseCommitments, fromHex(t.hex)), [t.stage, t.error], `${t.size} bytes`);
  }
});

test('flipped commitments: the class Python reports', () => {
  for (const t of WEB.tampered.commitments) {
    const commitments = baseCommitments.map((b) => b.slice());
    commitments[t.index][t.offset] ^= t.mask;
    assert.deepEqual(outcome(base.n, baseContext, commitments, baseProof), [t.stage, t.error], JSON.stringify(t));
  }
});

test('a flipped context byte: VerificationError as in Python', () => {
  for (const t of WEB.tampered.context) {
    const context = baseContext.slice();
    context[t.offset] ^= t.mask;
    assert.deepEqual(outcome(base.n, context, baseCommitments, baseProof), [t.stage, t.error], `offset ${t.offset}`);
  }
});

test('the untampered base proof verifies', () => {
  assert.deepEqual(outcome(base.n, baseContext, baseCommitments, baseProof), ['verify', null]);
});
