// The browser customer check (web/src/check.js) on the frozen vectors of tests/vectors/ (node:test).
//
// tests/test_web_check.py compares every verdict with the Python check's, sentence for sentence, on
// bundles the prover writes; this file pins, without Python, what the frozen packages and bundles of
// every format version give, and the JSON profile and manifest rules of §6.

import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { test } from 'node:test';
import { checkPackage } from '../src/index.js';
import { FormatError, ParameterError, VerificationError } from '../src/errors.js';
import { loadShippedTable } from '../src/generators_node.js';
import { canonicalJson, loadJson, parseManifest } from '../src/manifest.js';
import { formatRatio, formatUnits, pyRepr } from '../src/verdict.js';

loadShippedTable();

const VECTORS = new URL('../../tests/vectors/', import.meta.url);
const read = (name) => new Uint8Array(readFileSync(new URL(name, VECTORS)));
const bundle = (v) => new Map(readdirSync(new URL(`bundle_v${v}/`, VECTORS)).map((n) => [n, read(`bundle_v${v}/${n}`)]));
const enc = (text) => new TextEncoder().encode(text);

const FROZEN = {
  1: { customer: 'cust-000003, Jr.', digest: '2c9288552fd7b2ce4f45236f909b81a0d6747c846b6ce38566d5eede771a15e5' },
  2: { customer: 'cust-000000 Zo\u00eb \u00c5str\u00f6m', digest: 'a941cea421115f847932ea75d4754d546645158f51523143eab19de9ad180cdb' },
  3: { customer: 'cust-000001 Zo\u00eb', digest: 'cea7b6e14468592d5674afb6ef36a9476f39c9e44b9d122b982f26a3f43f12f4' },
  4: { customer: 'cust-000001 Zo\u00eb', digest: '9eb06824dcfddb04ce3539acbd063304868dcd4430997919f23a8042cb2020f6' },
};

async function rejects(promise, cls, section) {
  await assert.rejects(promise, (exc) => {
    assert.equal(exc.constructor, cls, exc.message);
    assert.equal(exc.section, section, exc.message);
    assert.equal(exc.report.status, 'fail');
    return true;
  });
}

for (const v of [1, 2, 3, 4]) {
  test(`frozen package v${v} alone is partial and says the bundle was not checked`, async () => {
    const { customer, digest } = FROZEN[v];
    const report = await checkPackage({ packageBytes: read(`package_v${v}.json`), pinDigest: digest, pinCustomer: customer });
    assert.equal(report.status, 'partial');
    const keys = report.claims.map((c) => c.key);
    assert.equal(keys[0], 'customer_id');
    assert.ok(report.claims[0].proven);
    assert.ok(keys.includes('bundle_unchecked') && keys.includes('digest_unmatched'));
    assert.deepEqual(keys.slice(-2), ['reserves_held', 'others_included']);
    assert.ok(report.claims.filter((c) => c.proven).every((c) => c.backedBy.length > 0));
  });
}

for (const v of [1, 3, 4]) {
  test(`frozen package v${v} with its bundle passes`, async () => {
    const { customer, digest } = FROZEN[v];
    const report = await checkPackage({
      packageBytes: read(`package_v${v}.json`), files: bundle(v), pinDigest: digest, pinCustomer: customer,
    });
    assert.equal(report.status, 'pass');
    assert.deepEqual(report.toJSON().not_proven.length, report.notProven.length);
    assert.ok(report.proven.some((text) => text.includes('solvency proof')));
    if (v === 4) assert.ok(report.claims.some((c) => c.key === 'margin_condition' && c.proven));
  });
}

test('a bundle with a wallet list is partial: its proofs of control are NOT checked, and the verdict says so', async () => {
  const { customer, digest } = FROZEN[2];
  const report = await checkPackage({ packageBytes: read('package_v2.json'), files: bundle(2), pinDigest: digest, pinCustomer: customer });
  assert.equal(report.status, 'partial');
  assert.ok(report.reservesUnchecked && report.toJSON().wallets_unchecked);
  const wallets = report.claims.filter((c) => c.key === 'reserves_wallets');
  assert.equal(wallets.length, 2);
  assert.ok(wallets.every((c) => !c.proven && c.text.includes('did NOT verify')));
  assert.ok(report.claims.some((c) => c.key === 'solvency' && c.proven));
});

test('a package of another round is false (package.bundle_digest)', async () => {
  await rejects(checkPackage({ packageBytes: read('package_v3.json'), files: bundle(4) }), VerificationError,
    'package.bundle_digest');
});

test('a wrong pinned digest or customer id is false', async () => {
  const packageBytes = read('package_v3.json');
  await rejects(checkPackage({ packageBytes, pinDigest: FROZEN[4].digest }), VerificationError, 'package.bundle_digest');
  await rejects(checkPackage({ packageBytes, files: bundle(3), pinCustomer: 'someone' }), VerificationError,
    'package.customer_id');
  await assert.rejects(checkPackage({ packageBytes, pinDigest: 'xyz' }), ParameterError);
});

test('a tampered amount is false, a tampered path malformed', async () => {
  const package3 = JSON.parse(new TextDecoder().decode(read('package_v3.json')));
  const amount = structuredClone(package3);
  amount.entries[0].amount = String(BigInt(amount.entries[0].amount) + 1n);
  await rejects(checkPackage({ packageBytes: enc(JSON.stringify(amount)), files: bundle(3) }), VerificationError,
    'BTC.leaves.bin record 9');
  const path = structuredClone(package3);
  path.entries[0].chunk_path.push(path.entries[0].chunk_path[0]);
  await rejects(checkPackage({ packageBytes: enc(JSON.stringify(path)) }), FormatError, 'package.entries[0].chunk_path');
});

test('without the leaves file the sum-tree check is partial and says the chunk was not checked', async () => {
  const files = bundle(3);
  files.delete('BTC.leaves.bin');
  const report = await checkPackage({ packageBytes: read('package_v3.json'), files });
  assert.equal(report.status, 'partial');
  assert.deepEqual(report.chunksUnchecked, ['BTC']);
  assert.ok(report.claims.some((c) => c.key === 'chunk_unchecked' && !c.proven));
  assert.ok(!report.claims.some((c) => c.key === 'range_own_chunk' && c.asset === 'BTC'));
});

test('a file the check needs and the customer did not pick is malformed, named', async () => {
  const files = bundle(3);
  files.delete('BTC.nodes.bin');
  await rejects(checkPackage({ packageBytes: read('package_v3.json'), files }), FormatError, 'BTC.nodes.bin');
  files.delete('manifest.json');
  await rejects(checkPackage({ packageBytes: read('package_v3.json'), files }), FormatError, 'manifest');
});

test('the JSON profile: integers only, no repeated key, bounded depth, strict UTF-8 (§6.1)', () => {
  assert.equal(loadJson(enc('{"a": [1, -0, "x"]}'), 100, 'p').get('a')[1], 0n);
  const malformed = ['{"a": 1.5}', '{"a": 1e3}', '{"a": NaN}', '{"a": 1, "a": 2}', `${'['.repeat(40)}${']'.repeat(40)}`,
    '\ufeff{}', '{"a": 123456789012345678901}', '{"a": "\u0001"}', '{} x'];
  for (const text of malformed) assert.throws(() => loadJson(enc(text), 100, 'p'), FormatError, text);
  assert.throws(() => loadJson(new Uint8Array([0x22, 0xed, 0xa0, 0x80, 0x22]), 100, 'p'), FormatError);
  assert.throws(() => loadJson(enc('{"a": {"b": 1, "b": 2}}'), 100, 'p'), (e) => e.section === 'p.a.b');
  assert.throws(() => loadJson(enc('{"a b": 1, "a b": 2}'), 100, 'p'), (e) => e.section === 'p["a b"]');
});

test('canonical form: sorted by code point, ASCII escapes as Python writes them (§6.2)', () => {
  const value = loadJson(enc('{"b": "\u00e9\ud83d\ude00\u007f/", "a": [true, null, -5], "\uffff": 1, "\ud800\udc00": 2}'), 200, 'p');
  assert.equal(canonicalJson(value), '{"a":[true,null,-5],"b":"\\u00e9\\ud83d\\ude00\\u007f/","\\uffff":1,"\\ud800\\udc00":2}');
  const manifest = read('bundle_v3/manifest.json');
  assert.equal(parseManifest(manifest).version, 3);
  const spaced = enc(new TextDecoder().decode(manifest).replace('","', '", "'));
  assert.throws(() => parseManifest(spaced), (e) => e instanceof FormatError && e.section === 'manifest');
});

test('display helpers are the Python ones', () => {
  assert.equal(formatUnits(150000000n, 8), '1.50000000');
  assert.equal(formatUnits(7n, 0), '7');
  assert.equal(formatRatio(21, 20), '21/20 (1.05)');
  assert.equal(formatRatio(1, 1), '1');
  assert.equal(formatRatio(4, 3), '4/3 (~1.333333)');
  assert.equal(pyRepr("cust-000003, Jr."), "'cust-000003, Jr.'");
  assert.equal(pyRepr("O'Brien"), '"O\'Brien"');
  assert.equal(pyRepr('a\'b"c'), "'a\\'b\"c'");
  assert.equal(pyRepr('Zo\u00eb\u00a0x'), "'Zo\u00eb\\xa0x'");
});
