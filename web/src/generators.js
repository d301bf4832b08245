// Nothing-up-my-sleeve generators from RFC 9380 hash_to_curve (circuits/generators.py, docs/FORMAT.md §10).
//
// Every generator is hash_to_curve(msg, GENS_DST), suite BLS12381G1_XMD:SHA-256_SSWU_RO_:
//   B = h2c("B"), B_blinding = h2c("B_blinding"), G_vec[i] = h2c("G" || LE32(i)), H_vec[i] = h2c("H" || LE32(i)).
//
// Deriving a point costs a few milliseconds, so the first 8192 pairs come from the shipped table
// circuits/data/generators_v1.bin when it is loaded: `loadGeneratorTable(bytes)` accepts it only if its
// SHA-256 is the pinned TABLE_SHA256 (the page inlines the bytes; under Node, generators_node.js reads
// the file). Without an accepted table, or past index 8191, points are derived. Either way the points
// are the same (web/test/generators.test.mjs checks both paths against Python's).

import { bls12_381 } from '@noble/curves/bls12-381.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { beToBigInt, concat, equalBytes, fromHex, intToBE, le32, le64, utf8 } from './bytes.js';
import { ParameterError } from './errors.js';
import { POINT_SIZE, pointFromAffineTrusted } from './points.js';

/** RFC 9380 domain-separation tag of every generator. */
export const GENS_DST = utf8('ZK-SOLVENCY-V1-GENERATORS_BLS12381G1_XMD:SHA-256_SSWU_RO_');
/** Version of the generator derivation (part of the generator-set id). */
export const GENS_VERSION = 1;
/** Number of G (and of H) generators of the set: n*m <= capacity. */
export const GENS_CAPACITY = 1 << 17;
/** Generator pairs in the shipped table. */
export const TABLE_PAIRS = 8192;
/** SHA-256 of circuits/data/generators_v1.bin, pinned. */
export const TABLE_SHA256 = 'c6f2dfb81926522a1e513cc3663f22a1adbdb500e5f9fbef4e89d90548149236';
const XY = 2 * POINT_SIZE;
/** Size of the shipped table: 96 * (2 + 2 * 8192) bytes. */
export const TABLE_SIZE = XY * (2 + 2 * TABLE_PAIRS);

const PINNED = fromHex(TABLE_SHA256);

/** hash_to_curve(msg, GENS_DST): one generator, derived. */
export function deriveGenerator(msg) {
  return bls12_381.G1.hashToCurve(msg, { DST: GENS_DST });
}

/** The message of G_vec[i] ("G" || LE32(i)) or H_vec[i] ("H" || LE32(i)). */
function vecMessage(letter, i) {
  return concat(utf8(letter), le32(i));
}

let generatorId = null;

/** The 32-byte generator set id: SHA256("zk-solvency generators" || frame(DST) || LE32(1) || LE64(capacity)). */
export function generatorSetId() {
  if (generatorId === null) {
    generatorId = sha256(
      concat(utf8('zk-solvency generators'), le32(GENS_DST.length), GENS_DST, le32(GENS_VERSION), le64(GENS_CAPACITY)),
    );
  }
  return generatorId.slice();
}

let table = null;
let pedersen = null;
const G = [];
const H = [];

function tablePoint(index) {
  const offset = XY * index;
  const x = beToBigInt(table.subarray(offset, offset + POINT_SIZE));
  const y = beToBigInt(table.subarray(offset + POINT_SIZE, offset + XY));
  return pointFromAffineTrusted(x, y);
}

/**
 * Accept the generator table if it is exactly the shipped one (size and pinned SHA-256).
 * @param {Uint8Array} bytes the contents of circuits/data/generators_v1.bin
 * @returns {boolean} whether the table was accepted (otherwise points keep being derived)
 */
export function loadGeneratorTable(bytes) {
  if (!(bytes instanceof Uint8Array) || bytes.length !== TABLE_SIZE) return false;
  if (!equalBytes(sha256(bytes), PINNED)) return false;
  table = bytes.slice();
  return true;
}

/** Whether an authentic table is loaded. */
export function generatorTableLoaded() {
  return table !== null;
}

/** Forget the table and every memoized point (tests). */
export function resetGenerators() {
  table = null;
  pedersen = null;
  G.length = 0;
  H.length = 0;
}

/** The Pedersen bases {B, B_blinding}: Com(v, v_blinding) = v*B + v_blinding*B_blinding. */
export function pedersenGens() {
  if (pedersen === null) {
    pedersen =
      table !== null
        ? { B: tablePoint(0), B_blinding: tablePoint(1) }
        : { B: deriveGenerator(utf8('B')), B_blinding: deriveGenerator(utf8('B_blinding')) };
  }
  return { ...pedersen };
}

/**
 * The first `n` generators of G_vec and H_vec: {G: [...], H: [...]}, memoized.
 * @throws {ParameterError} unless 0 <= n <= GENS_CAPACITY.
 */
export function bulletproofGens(n) {
  if (!Number.isInteger(n) || n < 0 || n > GENS_CAPACITY) {
    throw new ParameterError(`need ${n} generators; allowed is 0 .. ${GENS_CAPACITY}`);
  }
  if (table !== null) {
    for (let i = G.length; i < Math.min(n, TABLE_PAIRS); i += 1) {
      G.push(tablePoint(2 + 2 * i));
      H.push(tablePoint(3 + 2 * i));
    }
  }
  for (let i = G.length; i < n; i += 1) {
    G.push(deriveGenerator(vecMessage('G', i)));
    H.push(deriveGenerator(vecMessage('H', i)));
  }
  return { G: G.slice(0, n), H: H.slice(0, n) };
}

/** Derive the table's first `pairs` pairs (B, B_blinding, G_0, H_0, ...) as x || y, 96 bytes a point. */
export function deriveTableBytes(pairs) {
  const points = [deriveGenerator(utf8('B')), deriveGenerator(utf8('B_blinding'))];
  for (let i = 0; i < pairs; i += 1) {
    points.push(deriveGenerator(vecMessage('G', i)), deriveGenerator(vecMessage('H', i)));
  }
  return concat(
    ...points.map((P) => {
      const { x, y } = P.toAffine();
      return concat(intToBE(x, POINT_SIZE), intToBE(y, POINT_SIZE));
    }),
  );
}
