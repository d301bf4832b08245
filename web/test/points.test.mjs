// Points and scalars (web/src/points.js): canonical encodings, every rejection a FormatError, MSM.
// Known answers from docs/FORMAT.md §10 and the frozen range-proof vectors; the Python-made encoding
// vectors (valid, non-canonical, off-curve, not in the subgroup, wrong length) are in web_v1.json.

import assert from 'node:assert/strict';
import test from 'node:test';
import { fromHex, toHex } from '../src/bytes.js';
import { FormatError, ParameterError } from '../src/errors.js';
import {
  FIELD_MODULUS,
  GENERATOR,
  GROUP_ORDER,
  IDENTITY,
  IDENTITY_BYTES,
  batchInvert,
  decodePoint,
  decodePointUnchecked,
  decodeScalar,
  encodePoint,
  encodeScalar,
  invert,
  mod,
  msm,
} from '../src/points.js';
import { readVectors } from './vectors.mjs';

const G_HEX =
  '97f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb';

test('the generator and the identity encode canonically and round-trip', () => {
  assert.equal(toHex(encodePoint(GENERATOR)), G_HEX);
  assert.ok(decodePoint(fromHex(G_HEX)).equals(GENERATOR));
  assert.equal(toHex(encodePoint(IDENTITY)), `c0${'00'.repeat(47)}`);
  assert.ok(decodePoint(IDENTITY_BYTES).is0());
});

test('the sign bit selects the negation', () => {
  const bytes = fromHex(G_HEX);
  bytes[0] ^= 0x20;
  assert.ok(decodePoint(bytes).equals(GENERATOR.negate()));
});

test('basic rejections are FormatError', () => {
  const bad = [
    new Uint8Array(0),
    new Uint8Array(47),
    new Uint8Array(49),
    new Uint8Array(48), // no compression flag
    fromHex(`e0${'00'.repeat(47)}`), // identity with the sign bit
    fromHex(`c0${'00'.repeat(46)}01`), // identity with a non-zero x
    fromHex(`8${FIELD_MODULUS.toString(16).padStart(96, '0').slice(1)}`), // x = p
  ];
  for (const b of bad) assert.throws(() => decodePoint(b), FormatError, toHex(b));
  assert.throws(() => decodePoint('00'), FormatError);
});

test('decodePointUnchecked agrees with decodePoint on valid points', () => {
  let P = GENERATOR;
  for (let i = 0; i < 8; i += 1) {
    const bytes = encodePoint(P);
    assert.ok(decodePointUnchecked(bytes).equals(decodePoint(bytes)));
    P = P.double().add(GENERATOR);
  }
});

test('scalars: canonical little-endian below r', () => {
  assert.equal(decodeScalar(fromHex(`01${'00'.repeat(31)}`)), 1n);
  assert.equal(toHex(encodeScalar(GROUP_ORDER - 1n)), '00000000fffffffffe5bfeff02a4bd5305d8a10908d83933487d9d2953a7ed73');
  const rBytes = new Uint8Array(32);
  let x = GROUP_ORDER;
  for (let i = 0; i < 32; i += 1, x >>= 8n) rBytes[i] = Number(x & 0xffn);
  assert.throws(() => decodeScalar(rBytes), FormatError);
  assert.throws(() => decodeScalar(new Uint8Array(31)), FormatError);
  assert.throws(() => decodeScalar(new Uint8Array(33)), FormatError);
  assert.throws(() => encodeScalar(GROUP_ORDER), ParameterError);
});

test('msm reduces its scalars and matches repeated addition', () => {
  const P = GENERATOR;
  const Q = GENERATOR.double();
  assert.ok(msm([P, Q], [3n, GROUP_ORDER + 2n]).equals(GENERATOR.multiply(7n)));
  assert.ok(msm([P], [-1n]).equals(GENERATOR.negate()));
  assert.ok(msm([], []).is0());
  assert.throws(() => msm([P], []), ParameterError);
});

test('mod, invert and batchInvert', () => {
  assert.equal(mod(-1n), GROUP_ORDER - 1n);
  assert.equal((invert(5n) * 5n) % GROUP_ORDER, 1n);
  const inv = batchInvert([2n, 3n, 7n]);
  assert.deepEqual(inv, [invert(2n), invert(3n), invert(7n)]);
  assert.throws(() => invert(0n), ParameterError);
});

// ---------------------------------------------------------------------------------------------
// Python-made vectors (tests/vectors/web_v1.json, tests/vectors/web_vectors.py)

const WEB = readVectors('web_v1.json');

for (const c of WEB.points) {
  test(`point ${c.name}: ${c.output === null ? c.error : 'decodes'} as in Python`, () => {
    const bytes = fromHex(c.hex);
    if (c.output === null) {
      assert.throws(() => decodePoint(bytes), (exc) => exc.constructor.name === c.error && exc instanceof FormatError);
    } else {
      assert.equal(toHex(encodePoint(decodePoint(bytes))), c.output);
    }
    if (c.unchecked === null) {
      assert.throws(() => decodePointUnchecked(bytes), (exc) => exc.constructor === FormatError);
    } else {
      assert.equal(toHex(encodePoint(decodePointUnchecked(bytes))), c.unchecked);
    }
  });
}

test('the decoder reports the field the caller names', () => {
  const c = WEB.points.find((x) => x.name === 'not_in_subgroup_x_4');
  const where = { section: 'BTC.leaves.bin record 7', file: 'BTC.leaves.bin', field: 'record 7' };
  assert.throws(
    () => decodePoint(fromHex(c.hex), where),
    (exc) => exc instanceof FormatError && exc.section === where.section && exc.file === where.file &&
      exc.field === where.field && exc.kind === 'format' && exc.failure === 'malformed',
  );
});

for (const c of WEB.scalars) {
  test(`scalar ${c.name}: ${c.output === null ? 'FormatError' : 'decodes'} as in Python`, () => {
    const bytes = fromHex(c.hex);
    if (c.output === null) assert.throws(() => decodeScalar(bytes), (exc) => exc.constructor === FormatError);
    else {
      assert.equal(decodeScalar(bytes), BigInt(c.output));
      assert.equal(toHex(encodeScalar(BigInt(c.output))), c.hex);
    }
  });
}

test('msm as circuits.group.msm (scalars reduced mod r, negative ones too)', () => {
  for (const c of WEB.msm.msm) {
    const points = c.points.map((h) => decodePoint(fromHex(h)));
    assert.equal(toHex(encodePoint(msm(points, c.scalars.map(BigInt)))), c.output);
  }
});
