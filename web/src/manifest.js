// JSON as the formats use it, and manifest.json (docs/FORMAT.md §6, §14.3).
//
// Mirrors circuits/jsonio.py (the bounded loader, canonical form, the strict field reader),
// circuits/text.py (text fields), circuits/manifest.py (the schema, the bundle digest) and
// circuits/margin.py's MarginParams.parse (the margin section of a version-4 manifest).
// Every FormatError carries the failing field's path as `section`, as the Python code does.
//
// JSON values: objects are JsonObject (keys in first-seen order, the last value kept, the first
// repeated key remembered), arrays are Arrays, integers are BigInt, strings are JS strings (which,
// like Python's str from json.loads, may hold a lone surrogate), true/false/null as themselves.

import { sha256 } from '@noble/hashes/sha2.js';
import { concat, equalBytes, frame, fromHex, intToLE, leToBigInt, utf8 } from './bytes.js';
import { FormatError } from './errors.js';
import { GROUP_ORDER } from './points.js';
import { rangeProofSize } from './range_proof.js';

// ---------------------------------------------------------------------------------------------
// Bounds (circuits/limits.py)

export const MAX_MANIFEST_BYTES = 16 << 20;
export const MAX_PACKAGE_BYTES = 4 << 20;
export const MAX_ASSETS = 256;
export const MAX_LEAVES = 2 ** 32 - 1;
export const MAX_CHUNK = 1024;
export const MAX_DECIMALS = 30;
export const MAX_RATIO_TERM = 2 ** 32 - 1;
export const MAX_ID_BYTES = 256;
export const MAX_LABEL_BYTES = 256;
export const MAX_JSON_DEPTH = 32;
export const MAX_JSON_INT_DIGITS = 20;
export const RANGE_BITS = 64;
export const SOLVENCY_BITS = 128;
export const NODE_BITS = 128;
export const SYMBOL_RE = /^[A-Z0-9][A-Z0-9_-]{0,15}$/;
export const MAX_MARGIN_SLOTS = 16;
export const MAX_COLLATERAL_TYPES = 3;
export const MAX_TIERS = 8;
export const MAX_VALUE_DECIMALS = 18;
export const MAX_MARGIN_ASSET_DECIMALS = 18;
export const MAX_TIER_BOUNDARY = 1n << 56n;
export const MAX_PRICE_EXCLUSIVE = 1n << 64n;
export const MAX_MARGIN_ACCOUNTS = 1 << 24;
export const MARGIN_TYPES_RE = /^[a-z][a-z_]{0,15}$/;

export { GROUP_ORDER };

// ---------------------------------------------------------------------------------------------
// Data files (circuits/datafiles.py, circuits/sumtree.py, circuits/margin.py)

export const HEADER_SIZE = 16;
export const POINT_SIZE = 48;
export const LEAF_RECORD_SIZE = 80;
export const NODE_RECORD_SIZE = 80;
export const MAGIC_LEAVES = 'ZKSLEAF1';
export const MAGIC_RANGE_PROOFS = 'ZKSRNGP1';
export const MAGIC_SOLVENCY = 'ZKSSOLV1';
export const MAGIC_NODES = 'ZKSNODE1';
export const MAGIC_NODE_PROOFS = 'ZKSNODP1';
export const MAGIC_MARGIN_RECORDS = 'ZKSMRGN1';
export const MAGIC_MARGIN_PROOFS = 'ZKSMRGP1';
export const MANIFEST_NAME = 'manifest.json';
export const WALLETS_FILE = 'wallets.json';
export const MARGIN_RECORDS_NAME = 'margin.records.bin';
export const MARGIN_PROOFS_NAME = 'margin.proofs.bin';

/** lg of a power of two. */
export function lg(n) {
  return 31 - Math.clz32(n);
}

/** Size of one chunk proof of `m` 64-bit values. */
export function rangeRecordSize(m) {
  return rangeProofSize(lg(RANGE_BITS * m));
}

export const SOLVENCY_RECORD_SIZE = rangeProofSize(lg(SOLVENCY_BITS));
export const NODE_PROOF_RECORD_SIZE = rangeProofSize(lg(2 * NODE_BITS));

/** The names of an asset's data files, by manifest key (§2). */
export function dataFileNames(symbol) {
  return {
    leaves: `${symbol}.leaves.bin`,
    range_proofs: `${symbol}.rangeproofs.bin`,
    solvency: `${symbol}.solvency.bin`,
    nodes: `${symbol}.nodes.bin`,
    node_proofs: `${symbol}.nodeproofs.bin`,
  };
}

// ---------------------------------------------------------------------------------------------
// The JSON profile (§6.1): circuits/jsonio.py load_json

/** A parsed JSON object: keys in first-seen order, the last value of a repeated key, the first repeat. */
export class JsonObject {
  constructor() {
    this.map = new Map();
    this.duplicate = null;
  }

  has(key) {
    return this.map.has(key);
  }

  get(key) {
    return this.map.get(key);
  }

  keys() {
    return [...this.map.keys()];
  }
}

const KEY_RE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

function latin1(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    out += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return out;
}

/** circuits/jsonio.py _check_nesting: refuse, before parsing, JSON that may be deeper than MAX_JSON_DEPTH. */
function checkNesting(bytes, what) {
  let s = latin1(bytes).split('\\\\').join('').split('\\"').join('');
  s = s.replace(/[^"[\]{}]/g, '');
  s = s.split('""').join('');
  if (s.includes('"')) s = s.replace(/"[^"]*"/g, '');
  let passes = 0;
  while (s && 2 * passes <= MAX_JSON_DEPTH) {
    const reduced = s.split('[]').join('').split('{}').join('');
    if (reduced === s) break;
    s = reduced;
    passes += 1;
  }
  if (2 * passes + s.length > MAX_JSON_DEPTH) {
    throw new FormatError(`${what}: JSON nested deeper than ${MAX_JSON_DEPTH} levels (or unbalanced)`, {
      section: what,
    });
  }
}

class JsonSyntaxError extends Error {}

/** A strict RFC 8259 parser with the profile's integer rule (Python's json.loads with the hooks of jsonio.py). */
class Parser {
  constructor(text) {
    this.s = text;
    this.i = 0;
  }

  fail(message) {
    throw new JsonSyntaxError(`${message}: char ${this.i}`);
  }

  ws() {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.i += 1;
      else break;
    }
  }

  document() {
    this.ws();
    const value = this.value();
    this.ws();
    if (this.i !== this.s.length) this.fail('Extra data');
    return value;
  }

  value() {
    const s = this.s;
    const c = s[this.i];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    if (s.startsWith('true', this.i)) {
      this.i += 4;
      return true;
    }
    if (s.startsWith('false', this.i)) {
      this.i += 5;
      return false;
    }
    if (s.startsWith('null', this.i)) {
      this.i += 4;
      return null;
    }
    if (s.startsWith('NaN', this.i) || s.startsWith('Infinity', this.i)) this.fail('non-integer number');
    return this.fail('Expecting value');
  }

  object() {
    const obj = new JsonObject();
    this.i += 1;
    this.ws();
    if (this.s[this.i] === '}') {
      this.i += 1;
      return obj;
    }
    for (;;) {
      if (this.s[this.i] !== '"') this.fail('Expecting property name enclosed in double quotes');
      const key = this.string();
      this.ws();
      if (this.s[this.i] !== ':') this.fail("Expecting ':' delimiter");
      this.i += 1;
      this.ws();
      const value = this.value();
      if (obj.map.has(key) && obj.duplicate === null) obj.duplicate = key;
      obj.map.set(key, value);
      this.ws();
      const c = this.s[this.i];
      if (c === '}') {
        this.i += 1;
        return obj;
      }
      if (c !== ',') this.fail("Expecting ',' delimiter");
      this.i += 1;
      this.ws();
    }
  }

  array() {
    const out = [];
    this.i += 1;
    this.ws();
    if (this.s[this.i] === ']') {
      this.i += 1;
      return out;
    }
    for (;;) {
      out.push(this.value());
      this.ws();
      const c = this.s[this.i];
      if (c === ']') {
        this.i += 1;
        return out;
      }
      if (c !== ',') this.fail("Expecting ',' delimiter");
      this.i += 1;
      this.ws();
    }
  }

  hex4(at) {
    const h = this.s.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) this.fail('Invalid \\uXXXX escape');
    return parseInt(h, 16);
  }

  string() {
    const s = this.s;
    this.i += 1;
    let out = '';
    let start = this.i;
    for (;;) {
      if (this.i >= s.length) this.fail('Unterminated string');
      const c = s.charCodeAt(this.i);
      if (c === 0x22) {
        out += s.slice(start, this.i);
        this.i += 1;
        return out;
      }
      if (c < 0x20) this.fail('Invalid control character');
      if (c !== 0x5c) {
        this.i += 1;
        continue;
      }
      out += s.slice(start, this.i);
      const e = s[this.i + 1];
      const simple = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' }[e];
      if (simple !== undefined) {
        out += simple;
        this.i += 2;
      } else if (e === 'u') {
        let u = this.hex4(this.i + 2);
        this.i += 6;
        if (u >= 0xd800 && u <= 0xdbff && s[this.i] === '\\' && s[this.i + 1] === 'u') {
          const h = s.slice(this.i + 2, this.i + 6);
          if (/^[0-9a-fA-F]{4}$/.test(h)) {
            const low = parseInt(h, 16);
            if (low >= 0xdc00 && low <= 0xdfff) {
              out += String.fromCharCode(u, low);
              this.i += 6;
              u = -1;
            }
          }
        }
        if (u >= 0) out += String.fromCharCode(u);
      } else {
        this.fail('Invalid \\escape');
      }
      start = this.i;
    }
  }

  number() {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/.exec(this.s.slice(this.i, this.i + 400));
    if (m === null) return this.fail('Expecting value');
    if (m[2] !== undefined || m[3] !== undefined) this.fail(`non-integer number ${m[0]}`);
    const digits = m[0].replace(/^-/, '');
    if (digits.length > MAX_JSON_INT_DIGITS) {
      this.fail(`integer of ${m[0].length} digits (large numbers are decimal strings)`);
    }
    this.i += m[0].length;
    return BigInt(m[0]);
  }
}

function keyPath(where, key) {
  return KEY_RE.test(key) ? `${where}.${key}` : `${where}[${pyJsonString(key)}]`;
}

function firstDuplicate(value, where) {
  if (value instanceof JsonObject) {
    if (value.duplicate !== null) return keyPath(where, value.duplicate);
    for (const [key, item] of value.map) {
      const found = firstDuplicate(item, keyPath(where, key));
      if (found !== null) return found;
    }
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i += 1) {
      const found = firstDuplicate(value[i], `${where}[${i}]`);
      if (found !== null) return found;
    }
  }
  return null;
}

/** The field part of a JSON path section ("manifest.assets[0].reserves" -> "assets[0].reserves"), or null. */
export function fieldOf(path) {
  const dot = path.indexOf('.');
  const field = dot < 0 ? '' : path.slice(dot + 1);
  return field || null;
}

/**
 * Parse UTF-8 JSON of at most `limit` bytes with integers only (circuits/jsonio.py load_json).
 * Throws FormatError with section `what` (or the path of a repeated key).
 */
export function loadJson(bytes, limit, what) {
  if (!(bytes instanceof Uint8Array)) {
    throw new FormatError(`${what}: expected bytes`, { section: what });
  }
  if (bytes.length > limit) throw new FormatError(`${what}: larger than ${limit} bytes`, { section: what });
  checkNesting(bytes, what);
  let value;
  try {
    const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    value = new Parser(text).document();
  } catch (exc) {
    if (exc instanceof JsonSyntaxError || exc instanceof TypeError) {
      throw new FormatError(`${what}: not valid JSON (${exc.message})`, { section: what });
    }
    throw exc;
  }
  const duplicate = firstDuplicate(value, what);
  if (duplicate !== null) {
    throw new FormatError(`${duplicate}: duplicate key (a JSON object may hold each key once)`, {
      section: duplicate,
      field: fieldOf(duplicate),
    });
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Canonical form (§6.2): Python's json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=True)

const SHORT_ESCAPES = { 0x22: '\\"', 0x5c: '\\\\', 0x08: '\\b', 0x09: '\\t', 0x0a: '\\n', 0x0c: '\\f', 0x0d: '\\r' };

/** A string as Python's json.dumps writes it with ensure_ascii (one \uXXXX per UTF-16 unit). */
export function pyJsonString(s) {
  let out = '"';
  for (let i = 0; i < s.length; i += 1) {
    const c = s.charCodeAt(i);
    if (SHORT_ESCAPES[c] !== undefined) out += SHORT_ESCAPES[c];
    else if (c >= 0x20 && c <= 0x7e) out += s[i];
    else out += `\\u${c.toString(16).padStart(4, '0')}`;
  }
  return `${out}"`;
}

/** Compare two strings by code points (Python's str order), not UTF-16 units. */
export function compareCodePoints(a, b) {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i += 1) {
    const d = x[i].codePointAt(0) - y[i].codePointAt(0);
    if (d) return d;
  }
  return x.length - y.length;
}

/** The canonical JSON text of a parsed value (ASCII). */
export function canonicalJson(value) {
  if (value === null) return 'null';
  if (value === true) return 'true';
  if (value === false) return 'false';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string') return pyJsonString(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value instanceof JsonObject) {
    const keys = value.keys().sort(compareCodePoints);
    return `{${keys.map((k) => `${pyJsonString(k)}:${canonicalJson(value.get(k))}`).join(',')}}`;
  }
  throw new TypeError(`not a JSON value: ${typeof value}`);
}

// ---------------------------------------------------------------------------------------------
// Text fields (§6.4): circuits/text.py

export const FORBIDDEN_RANGES = [
  [0x0000, 0x001f], [0x007f, 0x009f], [0x00ad, 0x00ad], [0x0600, 0x0605], [0x061c, 0x061c],
  [0x06dd, 0x06dd], [0x070f, 0x070f], [0x0890, 0x0891], [0x08e2, 0x08e2], [0x180e, 0x180e],
  [0x200b, 0x200f], [0x2028, 0x202e], [0x2060, 0x2064], [0x2066, 0x206f], [0xd800, 0xdfff],
  [0xfeff, 0xfeff], [0xfff9, 0xfffb], [0x110bd, 0x110bd], [0x110cd, 0x110cd], [0x13430, 0x13438],
  [0x1bca0, 0x1bca3], [0x1d173, 0x1d17a], [0xe0001, 0xe0001], [0xe0020, 0xe007f],
];

function hasLoneSurrogate(s) {
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (c >= 0xd800 && c <= 0xdfff) return true;
  }
  return false;
}

/** UTF-8 length of a string, a lone surrogate counted as 3 bytes (Python's "surrogatepass"). */
export function utf8Length(s) {
  let n = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0);
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  return n;
}

/** Why `value` is not a valid text field of at most `maxBytes` UTF-8 bytes, or null (circuits/text.py). */
export function textProblem(value, maxBytes) {
  if (typeof value !== 'string') return `expected a string, found ${jsonTypeName(value)}`;
  if (!value) return 'must not be empty';
  if (hasLoneSurrogate(value)) return 'not valid Unicode text (a lone surrogate)';
  const size = utf8Length(value);
  if (size > maxBytes) return `longer than ${maxBytes} UTF-8 bytes (${size})`;
  let at = 0;
  for (const ch of value) {
    const c = ch.codePointAt(0);
    if (FORBIDDEN_RANGES.some(([lo, hi]) => lo <= c && c <= hi)) {
      return (
        `holds U+${c.toString(16).toUpperCase().padStart(4, '0')} at character ${at}: control, format, bidi and ` +
        'separator characters (Unicode categories Cc, Cf, Zl, Zp) are not allowed'
      );
    }
    at += 1;
  }
  return null;
}

/** Return `value` if it is a valid text field; FormatError with section `where` otherwise. */
export function checkText(value, maxBytes, where) {
  const problem = textProblem(value, maxBytes);
  if (problem !== null) throw new FormatError(`${where}: ${problem}`, { section: where, field: fieldOf(where) });
  return value;
}

function jsonTypeName(value) {
  if (value === null) return 'NoneType';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'bigint') return 'int';
  if (typeof value === 'string') return 'str';
  if (Array.isArray(value)) return 'list';
  return 'dict';
}

// ---------------------------------------------------------------------------------------------
// The strict field reader: circuits/jsonio.py Fields

const HEX32_RE = /^[0-9a-f]{64}$/;
const HEX48_RE = /^[0-9a-f]{96}$/;
const UINT_RE = /^(0|[1-9][0-9]{0,77})$/;

/** Reads one JSON object field by field, each checked by type and range; refuses unknown fields. */
export class Fields {
  constructor(obj, where) {
    if (!(obj instanceof JsonObject)) Fields.failAt(where, 'expected an object');
    this.obj = obj;
    this.seen = new Set();
    this.where = where;
  }

  static failAt(section, message) {
    throw new FormatError(`${section}: ${message}`, { section, field: fieldOf(section) });
  }

  fail(key, message) {
    Fields.failAt(key === null ? this.where : `${this.where}.${key}`, message);
  }

  get(key) {
    if (!this.obj.has(key)) this.fail(key, 'missing');
    this.seen.add(key);
    return this.obj.get(key);
  }

  /** The JSON integer `key` in [lo, hi], as a Number (every such range is below 2^53). */
  integer(key, lo, hi) {
    const value = this.get(key);
    if (typeof value !== 'bigint' || value < BigInt(lo) || value > BigInt(hi)) {
      this.fail(key, `expected an integer in [${lo}, ${hi}]`);
    }
    return Number(value);
  }

  /** The decimal string `key` (no sign, no leading zero) below `hiExclusive` (a BigInt), as a BigInt. */
  uintStr(key, hiExclusive) {
    const value = this.get(key);
    if (typeof value !== 'string' || !UINT_RE.test(value) || BigInt(value) >= hiExclusive) {
      this.fail(key, `expected a decimal string in [0, ${hiExclusive})`);
    }
    return BigInt(value);
  }

  /** The non-empty string `key` of at most `maxBytes` UTF-8 bytes, matching `pattern`. */
  text(key, maxBytes, pattern = null) {
    const value = this.get(key);
    if (typeof value !== 'string' || !value || utf8Length(value) > maxBytes) {
      this.fail(key, `expected a non-empty string of at most ${maxBytes} bytes`);
    }
    if (hasLoneSurrogate(value)) this.fail(key, 'not valid Unicode');
    if (pattern !== null && !pattern.test(value)) {
      this.fail(key, `${pyJsonString(value.slice(0, 40))} does not match ${pattern.source}`);
    }
    return value;
  }

  /** The text field `key` (exchange, round, customer id): checkText. */
  label(key, maxBytes) {
    return checkText(this.get(key), maxBytes, `${this.where}.${key}`);
  }

  /** Require `key` to be exactly `expected` (a string or a BigInt). */
  const(key, expected) {
    if (this.get(key) !== expected) this.fail(key, `expected ${String(expected)}`);
  }

  /** `key`, `size` (32 or 48) bytes written in lowercase hex. */
  hexbytes(key, size) {
    const value = this.get(key);
    const pattern = size === 32 ? HEX32_RE : size === 48 ? HEX48_RE : null;
    if (typeof value !== 'string' || pattern === null || !pattern.test(value)) {
      this.fail(key, `expected ${size} bytes of lowercase hex`);
    }
    return fromHex(value);
  }

  /** The list `key` of at most `maxLen` 32-byte lowercase hex strings. */
  hex32Items(key, maxLen) {
    return this.items(key, maxLen).map((item, i) => {
      if (typeof item !== 'string' || !HEX32_RE.test(item)) {
        Fields.failAt(`${this.where}.${key}[${i}]`, 'expected 32 bytes of lowercase hex');
      }
      return fromHex(item);
    });
  }

  obj_(key) {
    return new Fields(this.get(key), `${this.where}.${key}`);
  }

  /** The list `key` of at most `maxLen` items. */
  items(key, maxLen) {
    const value = this.get(key);
    if (!Array.isArray(value) || value.length > maxLen) this.fail(key, `expected a list of at most ${maxLen} items`);
    return value;
  }

  has(key) {
    return this.obj.has(key);
  }

  raw(key) {
    return this.get(key);
  }

  /** Require every key of the object to have been read. */
  done() {
    const extra = this.obj
      .keys()
      .filter((k) => !this.seen.has(k))
      .sort(compareCodePoints);
    if (extra.length) this.fail(null, `unknown field ${pyJsonString(extra[0])}`);
  }
}

/** A canonical scalar written as 64 lowercase hex digits, little-endian (a blinding). */
export function scalarField(f, key) {
  const value = leToBigInt(f.hexbytes(key, 32));
  if (value >= GROUP_ORDER) f.fail(key, 'scalar is not canonical');
  return value;
}

// ---------------------------------------------------------------------------------------------
// `created` (§6.5)

/** Why `value` is not a strict UTC time YYYY-MM-DDTHH:MM:SSZ, or null (circuits/manifest.py). */
export function createdProblem(value) {
  if (typeof value !== 'string') return `expected a string, found ${jsonTypeName(value)}`;
  const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z$/.exec(value);
  if (m === null) return 'expected a UTC time YYYY-MM-DDTHH:MM:SSZ (ASCII digits, no fraction, no offset)';
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  if (year < 1) return 'not a real UTC time (year 0 is out of range)';
  if (month < 1 || month > 12) return 'not a real UTC time (month must be in 1..12)';
  if (day < 1 || day > days[month - 1]) return 'not a real UTC time (day is out of range for month)';
  if (hour > 23) return 'not a real UTC time (hour must be in 0..23)';
  if (minute > 59) return 'not a real UTC time (minute must be in 0..59)';
  if (second > 59) return 'not a real UTC time (second must be in 0..59)';
  return null;
}

// ---------------------------------------------------------------------------------------------
// The margin section (§14.2, §14.3): circuits/margin.py MarginParams

const PARAMS_TAG = utf8('zk-solvency margin params v4');

/** The tier lines (A_t, r_t) of a schedule: 100*h(V) = A_t + r_t*V on tier t (BigInts). */
export function tierLines(schedule) {
  const lines = [];
  let below = 0n;
  let lower = 0n;
  for (const tier of schedule) {
    const r = BigInt(tier.ratio);
    lines.push([below - r * lower, r]);
    if (tier.upTo !== null) {
      below += r * (tier.upTo - lower);
      lower = tier.upTo;
    }
  }
  return lines;
}

/** 100*h(V) = min_t (A_t + r_t*V): the haircut value of V in hundredths of a value unit. */
export function scaledHaircut(schedule, value) {
  let best = null;
  for (const [a, r] of tierLines(schedule)) {
    const v = a + r * value;
    if (best === null || v < best) best = v;
  }
  return best;
}

/** V = floor(P*c / 10^d). */
export function collateralValue(price, amount, decimals) {
  return (price * amount) / 10n ** BigInt(decimals);
}

/** The round's public margin parameters, as parsed from a version-4 manifest. */
export class MarginParams {
  constructor({ valueDecimals, collateralTypes, slots, accounts, assets }) {
    this.valueDecimals = valueDecimals;
    this.collateralTypes = collateralTypes;
    this.slots = slots;
    this.accounts = accounts;
    this.assets = assets;
    this.types = collateralTypes.length;
    this.tiers = Math.max(...assets.flatMap((a) => a.haircuts.map((s) => s.length)));
    this.dMax = Math.max(...assets.map((a) => a.decimals));
    this.lineTable = assets.map((a) =>
      a.haircuts.map((schedule) => {
        const lines = tierLines(schedule);
        while (lines.length < this.tiers) lines.push(lines[lines.length - 1]);
        return lines;
      }),
    );
    const q = this.slots * (3 + this.types * (1 + this.tiers)) + 2;
    this.valuesPerAccount = q;
    this.parts = [];
    for (let b = 31; b >= 0; b -= 1) if ((q >>> b) & 1) this.parts.push(2 ** b);
    this.offsets = [];
    let o = 0;
    for (const m of this.parts) {
      this.offsets.push(o);
      o += m;
    }
    this.slotSize = 6 + 2 * POINT_SIZE + 2 * POINT_SIZE * this.types;
    this.recordSize = 32 + this.slots * this.slotSize + POINT_SIZE;
    this.proofsRecordSize = this.parts.reduce((sum, m) => sum + rangeRecordSize(m), 0);
    this.recordsFileSize = HEADER_SIZE + this.accounts * this.recordSize;
    this.proofsFileSize = HEADER_SIZE + this.accounts * this.proofsRecordSize;
    this.digest = this.computeDigest();
  }

  /** The tier lines of asset position `asset`, type `k`, extended to T_max lines. */
  lines(asset, k) {
    return this.lineTable[asset][k];
  }

  computeDigest() {
    const out = [
      PARAMS_TAG,
      intToLE(this.valueDecimals, 1), intToLE(this.slots, 2), intToLE(this.types, 2), intToLE(this.tiers, 2), intToLE(this.accounts, 4),
    ];
    for (const t of this.collateralTypes) out.push(frame(utf8(t)));
    for (const a of this.assets) {
      out.push(frame(utf8(a.symbol)), intToLE(a.decimals, 1), intToLE(a.price, 8));
      for (const schedule of a.haircuts) {
        out.push(intToLE(schedule.length, 1));
        for (const t of schedule) out.push(intToLE(t.upTo ?? 0n, 8), intToLE(t.ratio, 1));
      }
    }
    return sha256(concat(...out));
  }
}

function parseSchedule(h, name) {
  const raw = h.items(name, MAX_TIERS);
  if (!raw.length) h.fail(name, `expected 1 to ${MAX_TIERS} tiers`);
  const tiers = [];
  let previousBound = 0n;
  let previousRatio = 100;
  raw.forEach((item, t) => {
    const g = new Fields(item, `${h.where}.${name}[${t}]`);
    const last = t === raw.length - 1;
    let upTo = null;
    if (last) {
      if (g.raw('up_to') !== null) g.fail('up_to', "the last tier's up_to is null");
    } else {
      if (g.raw('up_to') === null) g.fail('up_to', "only the last tier's up_to is null");
      upTo = g.uintStr('up_to', MAX_TIER_BOUNDARY);
      if (upTo <= previousBound) g.fail('up_to', 'boundaries must be > 0 and strictly increasing');
      previousBound = upTo;
    }
    const ratio = g.integer('ratio', 0, 100);
    if (ratio > previousRatio) g.fail('ratio', 'ratios must not increase along the tiers');
    previousRatio = ratio;
    g.done();
    tiers.push({ upTo, ratio });
  });
  return tiers;
}

/** MarginParams.parse: the manifest's margin object but its `files`; returns [params, root]. */
function parseMarginParams(f, assets) {
  const q = f.integer('value_decimals', 0, MAX_VALUE_DECIMALS);
  const rawTypes = f.items('collateral_types', MAX_COLLATERAL_TYPES);
  const types = [];
  rawTypes.forEach((name, i) => {
    if (typeof name !== 'string' || !MARGIN_TYPES_RE.test(name)) {
      f.fail(`collateral_types[${i}]`, `expected a name matching ${MARGIN_TYPES_RE.source}`);
    }
    types.push(name);
  });
  const sorted = [...new Set(types)].sort(compareCodePoints);
  if (!types.length || types.join('\n') !== sorted.join('\n') || sorted.length !== types.length) {
    f.fail('collateral_types', `expected 1 to ${MAX_COLLATERAL_TYPES} distinct names in ASCII order`);
  }
  const slots = f.integer('slots', 1, MAX_MARGIN_SLOTS);
  const tiers = f.integer('tiers', 1, MAX_TIERS);
  const accounts = f.integer('accounts', 1, MAX_MARGIN_ACCOUNTS);
  if (accounts & (accounts - 1)) f.fail('accounts', 'not a power of two');
  const digest = f.hexbytes('params_sha256', 32);
  const root = f.hexbytes('root', 32);
  const rawAssets = f.items('assets', MAX_ASSETS);
  if (rawAssets.length !== assets.length) {
    f.fail('assets', `expected ${assets.length} entries, one per asset of the manifest`);
  }
  const parsed = rawAssets.map((raw, i) => {
    const [symbol, decimals] = assets[i];
    const g = new Fields(raw, `${f.where}.assets[${i}]`);
    if (g.text('symbol', 16, SYMBOL_RE) !== symbol) {
      g.fail('symbol', `expected ${pyJsonString(symbol)} (the manifest's assets, in order)`);
    }
    const price = g.uintStr('price', MAX_PRICE_EXCLUSIVE);
    if (price < 1n) g.fail('price', 'a price is at least 1 value unit');
    if (decimals > MAX_MARGIN_ASSET_DECIMALS) {
      const where = `manifest.assets[${i}].decimals`;
      throw new FormatError(
        `${where}: an asset of a bundle with margin accounts has at most ${MAX_MARGIN_ASSET_DECIMALS} decimals`,
        { section: where, field: `assets[${i}].decimals` },
      );
    }
    const h = g.obj_('haircuts');
    const schedules = types.map((name) => parseSchedule(h, name));
    h.done();
    g.done();
    return { symbol, decimals, price, haircuts: schedules };
  });
  if (slots > assets.length) f.fail('slots', 'more slots than assets');
  const params = new MarginParams({ valueDecimals: q, collateralTypes: types, slots, accounts, assets: parsed });
  if (params.tiers !== tiers) f.fail('tiers', `expected ${params.tiers}, the largest tier count of the schedules`);
  if (!equalBytes(params.digest, digest)) {
    f.fail('params_sha256', 'does not match the margin parameters (docs/FORMAT.md §14.2)');
  }
  return [params, root];
}

// ---------------------------------------------------------------------------------------------
// The manifest (§6.3, §14.3): circuits/manifest.py

export const BUNDLE_FORMAT = 'zk-solvency-bundle';
export const PROTOCOL = 'zk-solvency transcript v1 (SHAKE256)';
/** H2S(generator_set_id) of §10 (circuits/generators.py generator_set_id; pinned by web/test). */
export const GENERATORS_ID = '36b4aad5dcdd25924e61e6bbd52350afd687ec8cfedd980fe104388d2ace5266';
const DIGEST_TAG = concat(utf8('zk-solvency bundle v1'), new Uint8Array([0]));
const RESERVES_BASES = ['declared', 'wallets', 'wallets+attested'];

function hasSumTree(version) {
  return version === 3 || version === 4;
}

function parseDisclosed(f, key) {
  const raw = f.raw(key);
  if (raw === null) return null;
  const d = new Fields(raw, `${f.where}.${key}`);
  const amount = d.uintStr('amount', 1n << 96n);
  const blinding = scalarField(d, 'blinding');
  d.done();
  return [amount, blinding];
}

function parseFileEntry(f, expectedName, minSize = HEADER_SIZE) {
  const name = f.text('name', 64);
  if (name !== expectedName) f.fail('name', `expected ${pyJsonString(expectedName)}`);
  const entry = { name, size: f.integer('size', minSize, 2 ** 50), sha256: f.hexbytes('sha256', 32) };
  f.done();
  return entry;
}

function gcd(a, b) {
  while (b) [a, b] = [b, a % b];
  return a;
}

function parseAsset(f, version) {
  let basis = 'declared';
  if (version !== 1) {
    const allowed = hasSumTree(version) ? RESERVES_BASES : RESERVES_BASES.slice(1);
    basis = f.text('reserves_basis', 32);
    if (!allowed.includes(basis)) f.fail('reserves_basis', `expected one of ${allowed.join(', ')}`);
  }
  const symbol = f.text('symbol', 16, SYMBOL_RE);
  const decimals = f.integer('decimals', 0, MAX_DECIMALS);
  const reserves = f.uintStr('reserves', 1n << BigInt(SOLVENCY_BITS));
  const ratio = f.obj_('min_ratio');
  const num = ratio.integer('num', 1, MAX_RATIO_TERM);
  const den = ratio.integer('den', 1, MAX_RATIO_TERM);
  ratio.done();
  if (num < den || gcd(num, den) !== 1) ratio.fail(null, 'num/den must be >= 1 and in lowest terms');
  const chunk = f.integer('chunk_size', 1, MAX_CHUNK);
  if (chunk & (chunk - 1)) f.fail('chunk_size', 'not a power of two');
  const leafCount = f.integer('leaf_count', chunk, MAX_LEAVES);
  if (leafCount % chunk) f.fail('leaf_count', 'not a multiple of chunk_size');
  f.const('range_bits', BigInt(RANGE_BITS));
  const root = f.hexbytes('merkle_root', 32);
  const cL = f.hexbytes('liabilities_commitment', 48);
  const disclosed = parseDisclosed(f, 'disclosed_liabilities');
  let debtCommitment = null;
  let disclosedDebt = null;
  let disclosedCollateral = null;
  if (version === 4) {
    debtCommitment = f.hexbytes('debt_commitment', 48);
    disclosedDebt = parseDisclosed(f, 'disclosed_debt');
    disclosedCollateral = parseDisclosed(f, 'disclosed_collateral');
  }
  const files = f.obj_('files');
  const names = dataFileNames(symbol);
  const leaves = parseFileEntry(files.obj_('leaves'), names.leaves);
  const rangeProofs = parseFileEntry(files.obj_('range_proofs'), names.range_proofs);
  const solvency = parseFileEntry(files.obj_('solvency'), names.solvency);
  let nodes = null;
  let nodeProofs = null;
  if (hasSumTree(version)) {
    nodes = parseFileEntry(files.obj_('nodes'), names.nodes);
    nodeProofs = parseFileEntry(files.obj_('node_proofs'), names.node_proofs);
  }
  files.done();
  f.done();
  const chunks = leafCount / chunk;
  const expected = {
    leaves: HEADER_SIZE + leafCount * LEAF_RECORD_SIZE,
    range_proofs: HEADER_SIZE + chunks * rangeRecordSize(chunk),
    solvency: HEADER_SIZE + SOLVENCY_RECORD_SIZE,
    nodes: HEADER_SIZE + (2 * chunks - 1) * NODE_RECORD_SIZE,
    node_proofs: HEADER_SIZE + (chunks - 1) * NODE_PROOF_RECORD_SIZE,
  };
  const roles = [['leaves', leaves], ['range_proofs', rangeProofs], ['solvency', solvency], ['nodes', nodes],
    ['node_proofs', nodeProofs]];
  for (const [section, entry] of roles) {
    if (entry !== null && entry.size !== expected[section]) f.fail(`files.${section}.size`, `expected ${expected[section]}`);
  }
  return {
    symbol, decimals, reserves, num, den, leafCount, chunkSize: chunk, chunkCount: chunks, merkleRoot: root,
    liabilitiesCommitment: cL, disclosedLiabilities: disclosed, leaves, rangeProofs, solvency,
    reservesBasis: basis, nodes, nodeProofs, debtCommitment, disclosedDebt, disclosedCollateral,
  };
}

/** bundle_digest = SHA256("zk-solvency bundle v1" || 0x00 || canonical(manifest without bundle_digest)). */
function bundleDigest(obj) {
  const body = new JsonObject();
  for (const [k, v] of obj.map) if (k !== 'bundle_digest') body.map.set(k, v);
  return sha256(concat(DIGEST_TAG, utf8(canonicalJson(body))));
}

function parseManifestObject(obj) {
  const f = new Fields(obj, 'manifest');
  f.const('format', BUNDLE_FORMAT);
  const version = f.raw('format_version');
  if (typeof version !== 'bigint' || ![1n, 2n, 3n, 4n].includes(version)) f.fail('format_version', 'expected 1, 2, 3 or 4');
  const v = Number(version);
  f.const('protocol', PROTOCOL);
  f.const('generators', GENERATORS_ID);
  const exchange = f.label('exchange', MAX_LABEL_BYTES);
  const round = f.label('round', MAX_LABEL_BYTES);
  const created = f.raw('created');
  const problem = createdProblem(created);
  if (problem !== null) f.fail('created', problem);
  const rawAssets = f.items('assets', MAX_ASSETS);
  if (!rawAssets.length) f.fail('assets', 'empty');
  const assets = rawAssets.map((a, i) => parseAsset(new Fields(a, `manifest.assets[${i}]`), v));
  const symbols = assets.map((a) => a.symbol);
  const sorted = [...new Set(symbols)].sort(compareCodePoints);
  if (symbols.length !== sorted.length || symbols.some((s, i) => s !== sorted[i])) {
    f.fail('assets', 'symbols must be unique and sorted');
  }
  let wallets = null;
  if (v === 2 || (hasSumTree(v) && obj.has('wallets'))) wallets = parseFileEntry(f.obj_('wallets'), WALLETS_FILE, 2);
  if (hasSumTree(v)) {
    assets.forEach((a, i) => {
      if ((a.reservesBasis === 'declared') !== (wallets === null)) {
        f.fail(`assets[${i}].reserves_basis`, 'must be "declared" exactly when the manifest has no wallet list');
      }
    });
  }
  let margin = null;
  let marginRoot = null;
  let marginRecords = null;
  let marginProofs = null;
  if (v === 4) {
    const g = f.obj_('margin');
    [margin, marginRoot] = parseMarginParams(g, assets.map((a) => [a.symbol, a.decimals]));
    const files = g.obj_('files');
    marginRecords = parseFileEntry(files.obj_('records'), MARGIN_RECORDS_NAME);
    marginProofs = parseFileEntry(files.obj_('proofs'), MARGIN_PROOFS_NAME);
    files.done();
    g.done();
    if (marginRecords.size !== margin.recordsFileSize) files.fail('records.size', `expected ${margin.recordsFileSize}`);
    if (marginProofs.size !== margin.proofsFileSize) files.fail('proofs.size', `expected ${margin.proofsFileSize}`);
  }
  const digest = f.hexbytes('bundle_digest', 32);
  f.done();
  if (!equalBytes(bundleDigest(obj), digest)) f.fail('bundle_digest', 'does not match the manifest contents');
  return { exchange, round, created, assets, digest, wallets, version: v, margin, marginRoot, marginRecords, marginProofs };
}

/**
 * Parse and validate manifest.json bytes (§6, §7 step 1; reading.py read_manifest + Manifest.from_bytes).
 * Throws FormatError (section: the field's path, else "manifest"; file "manifest.json").
 */
export function parseManifest(bytes) {
  try {
    const obj = loadJson(bytes, MAX_MANIFEST_BYTES, 'manifest');
    if (!(obj instanceof JsonObject)) throw new FormatError('manifest: expected a JSON object', { section: 'manifest' });
    if (canonicalJson(obj) + '\n' !== latin1(bytes)) {
      throw new FormatError('manifest: not in canonical form (docs/FORMAT.md §6)', { section: 'manifest' });
    }
    return parseManifestObject(obj);
  } catch (exc) {
    if (exc instanceof FormatError) {
      if (exc.section == null) exc.section = 'manifest';
      if (exc.file == null) exc.file = MANIFEST_NAME;
    }
    throw exc;
  }
}
