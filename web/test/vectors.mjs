// Shared helpers of the crypto-core tests: paths of the repository's vector files and a JSON reader
// that keeps integers beyond 2^53 exact (as strings, for BigInt).

import { readFileSync } from 'node:fs';

/** The repository root (web/test/../..). */
export const ROOT = new URL('../../', import.meta.url);
/** tests/vectors/ of the repository. */
export const VECTORS = new URL('tests/vectors/', ROOT);

/** Parse JSON, turning every integer literal of 16 digits or more into a string (so no precision is lost). */
export function parseJsonExact(text) {
  return JSON.parse(text.replace(/([:\[,]\s*)(-?\d{16,})(?=\s*[,\]}])/g, '$1"$2"'));
}

/** Read and parse one file of tests/vectors/ (a path relative to it). */
export function readVectors(name) {
  return parseJsonExact(readFileSync(new URL(name, VECTORS), 'utf8'));
}

/** The bytes of one file of tests/vectors/ (a path relative to it). */
export function readVectorBytes(name) {
  return new Uint8Array(readFileSync(new URL(name, VECTORS)));
}
