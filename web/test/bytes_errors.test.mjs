// bytes.js (hex, framing, integers, the Reader) and errors.js (the classes, their kinds and fields).

import assert from 'node:assert/strict';
import test from 'node:test';
import {
  Reader,
  compareBytes,
  concat,
  equalBytes,
  frame,
  fromHex,
  intToBE,
  le128,
  le32,
  le64,
  leToBigInt,
  toHex,
  utf8,
} from '../src/bytes.js';
import { FormatError, ParameterError, VerificationError, ZkError, locate } from '../src/errors.js';

test('error classes: hierarchy, kind, Python failure kind, fields', () => {
  const where = { section: 'BTC.leaves.bin record 3', file: 'BTC.leaves.bin', field: 'record 3' };
  const cases = [
    [FormatError, 'format', 'malformed'],
    [VerificationError, 'verification', 'false'],
    [ParameterError, 'parameter', 'input'],
  ];
  for (const [cls, kind, failure] of cases) {
    const exc = new cls('message', where);
    assert.ok(exc instanceof ZkError && exc instanceof Error);
    assert.equal(exc.kind, kind);
    assert.equal(exc.failure, failure);
    assert.equal(exc.name, cls.name);
    assert.equal(exc.message, 'message');
    assert.deepEqual([exc.section, exc.file, exc.field], [where.section, where.file, where.field]);
    assert.equal(exc.report, null);
  }
  const bare = new FormatError('x');
  assert.deepEqual([bare.section, bare.file, bare.field], [null, null, null]);
  assert.equal(new ZkError('x').kind, null);
  assert.equal(locate(bare, where).section, where.section);
  assert.equal(locate(new FormatError('y', { section: 'kept' }), where).section, 'kept');
});

test('hex: lowercase out, strict in', () => {
  assert.equal(toHex(new Uint8Array([0, 15, 255])), '000fff');
  assert.deepEqual(fromHex('000FfF'), new Uint8Array([0, 15, 255]));
  for (const bad of ['0', 'zz', '0 1', null]) assert.throws(() => fromHex(bad, { field: 'f' }), FormatError);
});

test('frame, integers and comparisons as circuits/encoding.py and struct', () => {
  assert.equal(toHex(frame(utf8('BTC'))), '03000000425443');
  assert.equal(toHex(frame(new Uint8Array(0))), '00000000');
  assert.equal(toHex(le32(0x01020304)), '04030201');
  assert.equal(toHex(le64(2n ** 64n - 1n)), 'ff'.repeat(8));
  assert.equal(toHex(le128(1n << 127n)), `${'00'.repeat(15)}80`);
  assert.equal(toHex(intToBE(258, 4)), '00000102');
  assert.equal(leToBigInt(fromHex('0201')), 0x0102n);
  assert.throws(() => le64(2n ** 64n), ParameterError);
  assert.throws(() => le32(-1), ParameterError);
  assert.deepEqual(concat(new Uint8Array([1]), new Uint8Array(0), new Uint8Array([2, 3])), new Uint8Array([1, 2, 3]));
  assert.ok(equalBytes(fromHex('abcd'), fromHex('abcd')) && !equalBytes(fromHex('abcd'), fromHex('abce')));
  assert.equal(compareBytes(fromHex('01ff'), fromHex('0200')), -1);
  assert.equal(compareBytes(fromHex('02'), fromHex('0200')), -1);
  assert.equal(compareBytes(fromHex('0200'), fromHex('0200')), 0);
});

test('Reader: exact takes, integers, end(); FormatError with the caller\'s fields', () => {
  const where = { section: 'package', file: 'package', field: 'x' };
  const r = new Reader(fromHex('01020003000000040000000000000005'), where);
  assert.equal(r.u8(), 1);
  assert.equal(r.u16(), 2);
  assert.equal(r.u32(), 3);
  assert.equal(r.u64(), 4n);
  assert.equal(r.remaining, 1);
  assert.throws(() => r.end(), (exc) => exc instanceof FormatError && exc.message === '1 trailing bytes' && exc.field === 'x');
  assert.throws(() => r.take(2), (exc) => exc instanceof FormatError && exc.section === 'package');
  assert.deepEqual(r.take(1), new Uint8Array([5]));
  r.end();
  assert.throws(() => new Reader('not bytes'), FormatError);
});
