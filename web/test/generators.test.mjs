// Generators (web/src/generators.js): RFC 9380 hash_to_curve under the project DST, the generator set
// id, the shipped table accepted only with its pinned SHA-256, and table points equal to derived ones
// and to Python's (tests/vectors/web_v1.json), inside and past the table.

import assert from 'node:assert/strict';
import test from 'node:test';
import { bls12_381 } from '@noble/curves/bls12-381.js';
import { fromHex, toHex } from '../src/bytes.js';
import { ParameterError } from '../src/errors.js';
import {
  GENS_CAPACITY,
  GENS_DST,
  TABLE_PAIRS,
  TABLE_SHA256,
  TABLE_SIZE,
  bulletproofGens,
  deriveGenerator,
  deriveTableBytes,
  generatorSetId,
  generatorTableLoaded,
  loadGeneratorTable,
  pedersenGens,
  resetGenerators,
} from '../src/generators.js';
import { TABLE_URL, loadShippedTable } from '../src/generators_node.js';
import { encodePoint } from '../src/points.js';
import { readVectors } from './vectors.mjs';
import { readFileSync } from 'node:fs';
import { sha256 } from '@noble/hashes/sha2.js';

const WEB = readVectors('web_v1.json');
const GEN = WEB.generators;
const hex = (P) => toHex(encodePoint(P));

// docs/FORMAT.md §10 known answers.
const SPEC = {
  generator_set_id: '36b4aad5dcdd25924e61e6bbd52350afd687ec8cfedd980fe104388d2ace5266',
  table_head:
    '016e4f3fb81fed2779d38369698d3110fa1e6dfd4bf5dd424504f2b357fae9ec450cd45f80805ec1cccca5afcf9c320e0fa299ad0db3ca144038dba19d9a3cb8cd46fbd653638f3d33b9195fc7c7d756e892ee0ce21072866ea71e6901444183',
  B: 'a16e4f3fb81fed2779d38369698d3110fa1e6dfd4bf5dd424504f2b357fae9ec450cd45f80805ec1cccca5afcf9c320e',
  B_blinding: 'a3cc41e58f06e44b2c5b2a25ecfbb79e0f2a011c30266506bd888f6dc96a8f04e4581dfea4a7169fe4c20c5126bf9564',
  G_vec_0: 'b6ff96461c4221540185cedb4cd1f59418b03009e0547320b4897d21a2d89803198b20403c7f8bfdecfea4295fad684e',
  G_vec_1: '8e13d8e075a4dd06cbb0023f4dfb31aa62abecefc33b5d55b685cfe4e7e8f71440c59df7e41853f7a9d2d3dddc6bba68',
  H_vec_0: '9397fddf39d8ed574feeb010df7bda86c20523b28543238f507525676ff981a2df284a7edcd88aeb32759f996980b898',
  H_vec_1: 'ac2f81979356c90a66abf191849857c7992fbf50b1237b491ad0f7f1da073d61f50be32631932bb3108d9e0287f4ef4a',
};

test('the DST, the pinned table hash and the generator set id are FORMAT §10', () => {
  assert.equal(new TextDecoder().decode(GENS_DST), 'ZK-SOLVENCY-V1-GENERATORS_BLS12381G1_XMD:SHA-256_SSWU_RO_');
  assert.equal(GENS_DST.length, 57);
  assert.equal(TABLE_SHA256, 'c6f2dfb81926522a1e513cc3663f22a1adbdb500e5f9fbef4e89d90548149236');
  assert.equal(TABLE_SIZE, 1573056);
  assert.equal(GENS_CAPACITY, 131072);
  assert.equal(toHex(generatorSetId()), SPEC.generator_set_id);
  assert.equal(toHex(generatorSetId()), GEN.generator_set_id);
});

for (const c of WEB.hash_to_curve) {
  const dst = new TextDecoder().decode(fromHex(c.dst));
  test(`hash_to_curve ${dst.slice(0, 14)}… msg ${c.msg.slice(0, 24)}${c.msg.length > 24 ? '…' : ''} as in Python`, () => {
    assert.equal(hex(bls12_381.G1.hashToCurve(fromHex(c.msg), { DST: fromHex(c.dst) })), c.output);
  });
}

test('derived generators (no table) equal the spec and Python', () => {
  resetGenerators();
  assert.equal(generatorTableLoaded(), false);
  const { B, B_blinding } = pedersenGens();
  assert.equal(hex(B), SPEC.B);
  assert.equal(hex(B_blinding), SPEC.B_blinding);
  assert.equal(hex(B), GEN.B);
  const { G, H } = bulletproofGens(3);
  assert.deepEqual([hex(G[0]), hex(G[1]), hex(H[0]), hex(H[1])], [SPEC.G_vec_0, SPEC.G_vec_1, SPEC.H_vec_0, SPEC.H_vec_1]);
  assert.equal(hex(G[2]), GEN.G_vec['2']);
  assert.equal(toHex(deriveTableBytes(0)).slice(0, 192), SPEC.table_head);
});

test('the derivation reproduces the shipped table (its first pairs and its last)', () => {
  const table = new Uint8Array(readFileSync(TABLE_URL));
  assert.equal(toHex(sha256(table)), TABLE_SHA256);
  const head = deriveTableBytes(8);
  assert.deepEqual(head, table.subarray(0, head.length));
  const last = TABLE_PAIRS - 1;
  const le = new Uint8Array([last & 0xff, last >> 8, 0, 0]);
  for (const [letter, slot] of [['G', 2 + 2 * last], ['H', 3 + 2 * last]]) {
    const P = deriveGenerator(new Uint8Array([letter.charCodeAt(0), ...le])).toAffine();
    const x = BigInt(`0x${toHex(table.subarray(96 * slot, 96 * slot + 48))}`);
    const y = BigInt(`0x${toHex(table.subarray(96 * slot + 48, 96 * slot + 96))}`);
    assert.deepEqual([x, y], [P.x, P.y]);
  }
});

test('a table that is not the pinned one is refused, and points keep being derived', () => {
  resetGenerators();
  const table = new Uint8Array(readFileSync(TABLE_URL));
  const tampered = table.slice();
  tampered[1000] ^= 1;
  assert.equal(loadGeneratorTable(tampered), false);
  assert.equal(loadGeneratorTable(table.subarray(0, TABLE_SIZE - 96)), false);
  assert.equal(loadGeneratorTable(new Uint8Array(0)), false);
  assert.equal(generatorTableLoaded(), false);
  assert.equal(hex(bulletproofGens(11).G[10]), hex(deriveGenerator(new Uint8Array([71, 10, 0, 0, 0]))));
});

test('table generators equal Python inside and past the table', () => {
  resetGenerators();
  assert.equal(loadShippedTable(), true);
  assert.equal(generatorTableLoaded(), true);
  const { B, B_blinding } = pedersenGens();
  assert.equal(hex(B), GEN.B);
  assert.equal(hex(B_blinding), GEN.B_blinding);
  const top = Math.max(...Object.keys(GEN.G_vec).map(Number)) + 1;
  assert.ok(top > TABLE_PAIRS, 'the vectors reach past the table');
  const { G, H } = bulletproofGens(top);
  assert.equal(G.length, top);
  for (const [i, expected] of Object.entries(GEN.G_vec)) assert.equal(hex(G[Number(i)]), expected, `G_vec[${i}]`);
  for (const [i, expected] of Object.entries(GEN.H_vec)) assert.equal(hex(H[Number(i)]), expected, `H_vec[${i}]`);
});

test('bulletproofGens refuses sizes outside 0 .. capacity', () => {
  assert.throws(() => bulletproofGens(GENS_CAPACITY + 1), ParameterError);
  assert.throws(() => bulletproofGens(-1), ParameterError);
  assert.deepEqual(bulletproofGens(0), { G: [], H: [] });
});
