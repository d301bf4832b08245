// Bytes: hex, concatenation, little- and big-endian integers, the length framing of circuits/encoding.py
// (docs/FORMAT.md §4) and a Reader over untrusted bytes whose every take is length-checked.
// Every failure on untrusted input is a FormatError carrying the caller's {section, file, field}.

import { FormatError, ParameterError } from './errors.js';

const HEX = '0123456789abcdef';
const encoder = new TextEncoder();

/** Whether `x` is a Uint8Array (a Node Buffer is one). */
export function isBytes(x) {
  return x instanceof Uint8Array;
}

/** Lowercase hex of `bytes`. */
export function toHex(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i += 1) out += HEX[bytes[i] >> 4] + HEX[bytes[i] & 15];
  return out;
}

/**
 * Decode hex (either case, even length, nothing else) as Python's `bytes.fromhex` without whitespace.
 * @throws {FormatError} on anything that is not hex.
 */
export function fromHex(hex, where = {}) {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new FormatError('not an even-length hex string', where);
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i += 1) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** UTF-8 encoding of a string (Python's `str.encode()`). */
export function utf8(text) {
  return encoder.encode(text);
}

/** Concatenate byte arrays into a new Uint8Array. */
export function concat(...parts) {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Whether two byte arrays are equal. */
export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i += 1) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Python's bytes order (lexicographic; for equal lengths, big-endian numeric): -1, 0 or 1. */
export function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i += 1) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function checkUint(value, size) {
  const v = BigInt(value);
  if (v < 0n || v >= 1n << BigInt(8 * size)) {
    throw new ParameterError(`integer ${v} does not fit in ${size} unsigned bytes`);
  }
  return v;
}

/** `size` bytes little-endian of an unsigned integer (number or bigint); ParameterError if it does not fit. */
export function intToLE(value, size) {
  let v = checkUint(value, size);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += 1) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** `size` bytes big-endian of an unsigned integer (number or bigint); ParameterError if it does not fit. */
export function intToBE(value, size) {
  return intToLE(value, size).reverse();
}

/** The unsigned integer (bigint) of little-endian bytes. */
export function leToBigInt(bytes) {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i -= 1) v = (v << 8n) | BigInt(bytes[i]);
  return v;
}

/** The unsigned integer (bigint) of big-endian bytes. */
export function beToBigInt(bytes) {
  let v = 0n;
  for (let i = 0; i < bytes.length; i += 1) v = (v << 8n) | BigInt(bytes[i]);
  return v;
}

/** LE16 / LE32 / LE64 / LE128 of an unsigned integer. */
export const le8 = (v) => intToLE(v, 1);
export const le16 = (v) => intToLE(v, 2);
export const le32 = (v) => intToLE(v, 4);
export const le64 = (v) => intToLE(v, 8);
export const le128 = (v) => intToLE(v, 16);

/** `LE32(len(data)) || data` (circuits/encoding.py `frame`). */
export function frame(data) {
  if (data.length > 0xffffffff) throw new ParameterError('frame of more than 2^32 - 1 bytes');
  return concat(le32(data.length), data);
}

/** Sequential reader over untrusted bytes; every take is length-checked (FormatError, with `where`). */
export class Reader {
  /**
   * @param {Uint8Array} bytes
   * @param {{section?: string|null, file?: string|null, field?: string|null}} [where]
   */
  constructor(bytes, where = {}) {
    if (!isBytes(bytes)) throw new FormatError('expected bytes', where);
    this.bytes = bytes;
    this.offset = 0;
    this.where = where;
  }

  /** Bytes left to read. */
  get remaining() {
    return this.bytes.length - this.offset;
  }

  /** The next `size` bytes (a view, not a copy); FormatError past the end. */
  take(size) {
    if (!Number.isInteger(size) || size < 0) throw new ParameterError(`cannot take ${size} bytes`);
    const end = this.offset + size;
    if (end > this.bytes.length) throw new FormatError('unexpected end of data', this.where);
    const out = this.bytes.subarray(this.offset, end);
    this.offset = end;
    return out;
  }

  /** Little-endian unsigned integers: u8, u16, u32 as numbers, u64 and u128 as bigints. */
  u8() {
    return this.take(1)[0];
  }

  u16() {
    return Number(leToBigInt(this.take(2)));
  }

  u32() {
    return Number(leToBigInt(this.take(4)));
  }

  u64() {
    return leToBigInt(this.take(8));
  }

  u128() {
    return leToBigInt(this.take(16));
  }

  /** Require that everything was read (FormatError "<n> trailing bytes"). */
  end() {
    if (this.offset !== this.bytes.length) {
      throw new FormatError(`${this.bytes.length - this.offset} trailing bytes`, this.where);
    }
  }
}
