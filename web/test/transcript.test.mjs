// The transcript (web/src/transcript.js) against the frozen known answers of circuits/transcript.py
// (tests/vectors/transcript_v1.json), and its error classes.

import assert from 'node:assert/strict';
import test from 'node:test';
import { fromHex, toHex } from '../src/bytes.js';
import { ParameterError, VerificationError } from '../src/errors.js';
import { IDENTITY, decodePoint, decodeScalar, encodeScalar } from '../src/points.js';
import { PROTOCOL_LABEL, Transcript } from '../src/transcript.js';
import { readVectors } from './vectors.mjs';

const DOC = readVectors('transcript_v1.json');

function replay(c) {
  const t = new Transcript(fromHex(c.input.app_label));
  const out = [];
  for (const op of c.input.ops) {
    const label = op.label;
    switch (op.op) {
      case 'append_message':
        t.appendMessage(label, fromHex(op.message));
        break;
      case 'append_u64':
        t.appendU64(label, BigInt(op.value));
        break;
      case 'append_scalar':
        t.appendScalar(label, decodeScalar(fromHex(op.scalar)));
        break;
      case 'append_point':
        t.appendPoint(label, decodePoint(fromHex(op.point)));
        break;
      case 'validate_and_append_point':
        t.validateAndAppendPoint(label, decodePoint(fromHex(op.point)));
        break;
      case 'challenge_bytes':
        out.push(toHex(t.challengeBytes(label, op.length)));
        break;
      case 'challenge_scalar':
        out.push(toHex(encodeScalar(t.challengeScalar(label))));
        break;
      default:
        throw new Error(`unknown op ${op.op}`);
    }
  }
  return out;
}

test('protocol label is the frozen one', () => {
  assert.equal(DOC.protocol_label, PROTOCOL_LABEL);
});

for (const c of DOC.cases) {
  test(`transcript_v1 ${c.name}`, () => {
    assert.deepEqual(replay(c), c.output);
  });
}

test('validateAndAppendPoint rejects the identity with VerificationError', () => {
  const t = new Transcript('x');
  assert.throws(() => t.validateAndAppendPoint('V', IDENTITY), VerificationError);
});

test('appendU64 and challengeBytes reject out-of-range arguments with ParameterError', () => {
  const t = new Transcript('x');
  assert.throws(() => t.appendU64('n', 1n << 64n), ParameterError);
  assert.throws(() => t.appendU64('n', -1), ParameterError);
  assert.throws(() => t.challengeBytes('c', -1), ParameterError);
  assert.throws(() => t.appendScalar('k', -1n), ParameterError);
});

test('a challenge depends on its label and length, and later ones on earlier requests', () => {
  const a = new Transcript('x');
  const b = new Transcript('x');
  assert.equal(toHex(a.challengeBytes('c', 32)), toHex(b.challengeBytes('c', 32)));
  assert.notEqual(toHex(a.challengeBytes('c', 32)), toHex(new Transcript('x').challengeBytes('d', 32)));
  const long = new Transcript('x').challengeBytes('c', 64);
  assert.notEqual(toHex(long.subarray(0, 32)), toHex(new Transcript('x').challengeBytes('c', 32)));
});

test('debug mode records every frame', () => {
  const t = new Transcript('app', { debug: true });
  t.appendU64('n', 64);
  t.challengeBytes('c', 4);
  assert.equal(t.trace[0], `A dom-sep | 36 | ${toHex(new TextEncoder().encode(PROTOCOL_LABEL))}`);
  assert.equal(t.trace[2], 'A n | 8 | 4000000000000000');
  assert.match(t.trace[4], /^= c \| [0-9a-f]{8}$/);
});
