// The range proof (web/src/range_proof.js) against the frozen vectors of the Python prover and verifier
// (tests/vectors/range_proof_v1.json): `true` verifies, `false` parses and then throws exactly
// VerificationError, `null` throws FormatError or ParameterError while parsing (as tests/test_range_vectors.py).
// The exact class and stage Python reports for each case is in tests/vectors/web_v1.json (range_proof_classes).

import assert from 'node:assert/strict';
import test from 'node:test';
import { fromHex } from '../src/bytes.js';
import { FormatError, ParameterError, VerificationError } from '../src/errors.js';
import { loadShippedTable } from '../src/generators_node.js';
import { decodePoint, encodePoint } from '../src/points.js';
import { checkRangeStatement, decodeRangeProof, verifyRangeProof, verifyRangeProofBatch } from '../src/range_proof.js';
import { readVectors } from './vectors.mjs';

const DOC = readVectors('range_proof_v1.json');
/** name -> [stage, class] as Python reports it (tests/vectors/web_vectors.py). */
const CLASSES = readVectors('web_v1.json').range_proof_classes;
assert.ok(loadShippedTable(), 'the shipped generator table is authentic');

/** The verifier's boundary: hex -> decoded commitments, checked statement, decoded proof. */
function parse(c) {
  const commitments = c.input.commitments.map((h) => decodePoint(fromHex(h)));
  const context = fromHex(c.input.context);
  checkRangeStatement({ commitments, bits: c.input.n, context });
  const proof = decodeRangeProof(fromHex(c.input.proof));
  return { commitments, proof, bits: c.input.n, context };
}

test('file header, and Python\'s classes cover every case', () => {
  assert.deepEqual(Object.keys(CLASSES).sort(), DOC.cases.map((c) => c.name).sort());
  assert.equal(DOC.version, 1);
  assert.equal(DOC.protocol, 'zk-solvency transcript v1 (SHAKE256)');
});

for (const c of DOC.cases) {
  if (c.output === true) {
    test(`valid ${c.name} verifies`, () => {
      assert.deepEqual(CLASSES[c.name], ['verify', null]);
      const statement = parse(c);
      assert.equal(verifyRangeProof(statement), undefined);
      assert.deepEqual(statement.commitments.map((V) => Buffer.from(encodePoint(V)).toString('hex')), c.input.commitments);
    });
  } else if (c.output === false) {
    test(`incorrect ${c.name} throws VerificationError`, () => {
      assert.deepEqual(CLASSES[c.name], ['verify', 'VerificationError']);
      const statement = parse(c);
      assert.throws(() => verifyRangeProof(statement), (exc) => exc.constructor === VerificationError);
    });
  } else {
    test(`malformed ${c.name} is rejected while parsing with Python's class`, () => {
      const [stage, cls] = CLASSES[c.name];
      assert.equal(stage, 'parse');
      assert.ok(cls === 'FormatError' || cls === 'ParameterError');
      assert.throws(() => parse(c), (exc) => exc.constructor === (cls === 'FormatError' ? FormatError : ParameterError));
    });
  }
}

test('the small valid proofs batch-verify together, and a batch names its false proof', () => {
  const valid = DOC.cases.filter((c) => c.output === true && c.input.n * c.input.commitments.length <= 64).map(parse);
  assert.equal(verifyRangeProofBatch(valid), undefined);
  const bad = parse(DOC.cases.find((c) => c.name === 't_x_plus_one'));
  assert.throws(
    () => verifyRangeProofBatch([...valid, bad, valid[0]]),
    (exc) => exc instanceof VerificationError && exc.badIndices.join() === String(valid.length),
  );
});

test('errors carry the section, file and field the caller names', () => {
  const statement = parse(DOC.cases.find((c) => c.name === 'a_plus_one'));
  const where = { section: 'BTC.rangeproofs.bin chunk 3', file: 'BTC.rangeproofs.bin', field: 'chunk 3' };
  assert.throws(
    () => verifyRangeProof({ ...statement, ...where }),
    (exc) => exc.section === where.section && exc.file === where.file && exc.field === where.field,
  );
  const c = DOC.cases.find((x) => x.name === 'point_not_on_curve_T_1');
  assert.throws(
    () => decodeRangeProof(fromHex(c.input.proof), 4, 8, where),
    (exc) => exc instanceof FormatError && exc.section === where.section && /^T_1: /.test(exc.message),
  );
});

test('decodeRangeProof with the statement shape reports another round count as VerificationError', () => {
  const c = DOC.cases.find((x) => x.name === 'n_changed');
  assert.throws(() => decodeRangeProof(fromHex(c.input.proof), 4, 8), (exc) => exc.constructor === VerificationError);
  assert.ok(decodeRangeProof(fromHex(c.input.proof), 4, 16));
});
