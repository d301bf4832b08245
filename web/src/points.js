// BLS12-381 G1 points and scalars mod r, canonical encodings and MSM (circuits/group.py), on @noble/curves.
//
// Point: 48 bytes, the ZCash / IETF compressed serialization (draft-irtf-cfrg-pairing-friendly-curves-11,
// appendix C): big-endian x; bit 7 of byte 0 is the compression flag (must be 1), bit 6 the infinity flag,
// bit 5 the sign of y. The identity is 0xc0 followed by 47 zero bytes. Decoding rejects wrong lengths,
// bad flags, x >= p, points not on the curve and points outside the prime-order subgroup (FormatError).
// Scalar: 32 bytes, little-endian, value < r (canonical).
//
// Points are noble's G1 points (`bls12_381.G1.Point`): P.add, P.negate, P.equals, P.is0, P.multiply.

import { bls12_381 } from '@noble/curves/bls12-381.js';
import { pippenger } from '@noble/curves/abstract/curve.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { beToBigInt, intToBE, intToLE, isBytes, leToBigInt } from './bytes.js';
import { FormatError, ParameterError } from './errors.js';

/** noble's G1 point class. */
export const G1 = bls12_381.G1.Point;

/** r, the order of the prime-order subgroup of G1 (and of the scalar field). */
export const GROUP_ORDER = 0x73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001n;
/** p, the modulus of the base field of BLS12-381. */
export const FIELD_MODULUS = BigInt(
  '0x1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab',
);
/** Bytes of a compressed G1 point. */
export const POINT_SIZE = 48;
/** Bytes of a canonical scalar. */
export const SCALAR_SIZE = 32;

if (G1.Fn.ORDER !== GROUP_ORDER || G1.Fp.ORDER !== FIELD_MODULUS) {
  throw new Error('@noble/curves BLS12-381 G1 has unexpected parameters');
}

const COMPRESSION_FLAG = 0x80;
const INFINITY_FLAG = 0x40;
const SIGN_FLAG = 0x20;

/** The identity (point at infinity). */
export const IDENTITY = G1.ZERO;
/** The canonical encoding of the identity: 0xc0 then 47 zero bytes. */
export const IDENTITY_BYTES = (() => {
  const b = new Uint8Array(POINT_SIZE);
  b[0] = COMPRESSION_FLAG | INFINITY_FLAG;
  return b;
})();

/** The standard BLS12-381 G1 generator. */
export const GENERATOR = G1.BASE;

/** `a mod r` in [0, r) for any integer (bigint or safe number). */
export function mod(a) {
  const x = BigInt(a) % GROUP_ORDER;
  return x < 0n ? x + GROUP_ORDER : x;
}

/** The inverse of a non-zero scalar mod r (ParameterError for zero). */
export function invert(a) {
  const x = mod(a);
  if (x === 0n) throw new ParameterError('cannot invert zero');
  return G1.Fn.inv(x);
}

/** `base^exp mod r` (exp >= 0). */
export function powMod(base, exp) {
  return G1.Fn.pow(mod(base), BigInt(exp));
}

/** Invert every non-zero scalar with one inversion (Montgomery's trick; group.py `batch_invert`). */
export function batchInvert(values) {
  const n = values.length;
  const prefix = new Array(n + 1);
  prefix[0] = 1n;
  for (let i = 0; i < n; i += 1) {
    const v = mod(values[i]);
    if (v === 0n) throw new ParameterError('cannot invert zero');
    prefix[i + 1] = (prefix[i] * v) % GROUP_ORDER;
  }
  let inv = G1.Fn.inv(prefix[n]);
  const out = new Array(n);
  for (let i = n - 1; i >= 0; i -= 1) {
    out[i] = (prefix[i] * inv) % GROUP_ORDER;
    inv = (inv * mod(values[i])) % GROUP_ORDER;
  }
  return out;
}

/** A uniformly random non-zero scalar from the platform CSPRNG (crypto.getRandomValues). */
export function randomScalar() {
  for (;;) {
    const k = leToBigInt(randomBytes(64)) % GROUP_ORDER;
    if (k !== 0n) return k;
  }
}

/**
 * Check length, flags and x < p of a compressed encoding (group.py `_check_encoding`).
 * @returns {boolean} true for the identity
 */
function checkEncoding(bytes, where) {
  if (!isBytes(bytes)) throw new FormatError('point encoding must be bytes', where);
  if (bytes.length !== POINT_SIZE) {
    throw new FormatError(`point encoding must be ${POINT_SIZE} bytes, got ${bytes.length}`, where);
  }
  const flags = bytes[0];
  if (!(flags & COMPRESSION_FLAG)) throw new FormatError('point encoding lacks the compression flag', where);
  if (flags & INFINITY_FLAG) {
    for (let i = 0; i < POINT_SIZE; i += 1) {
      if (bytes[i] !== IDENTITY_BYTES[i]) {
        throw new FormatError('non-canonical encoding of the point at infinity', where);
      }
    }
    return true;
  }
  const xBytes = bytes.slice();
  xBytes[0] &= 0x1f;
  if (beToBigInt(xBytes) >= FIELD_MODULUS) throw new FormatError('point x-coordinate is not reduced mod p', where);
  return false;
}

function decompress(bytes, where) {
  try {
    return G1.fromBytes(bytes);
  } catch (exc) {
    if (/subgroup/i.test(String(exc && exc.message))) {
      throw new FormatError('point is not in the prime-order subgroup of G1', where);
    }
    throw new FormatError('point is not on the BLS12-381 G1 curve', where);
  }
}

/**
 * Decode a 48-byte compressed point, validating everything (group.py `Point.from_bytes`).
 * The identity is accepted (callers that need a non-identity point check `P.is0()`).
 * @param {Uint8Array} bytes
 * @param {{section?: string|null, file?: string|null, field?: string|null}} [where]
 * @throws {FormatError} wrong length, bad flags, x >= p, not on the curve, or not in the subgroup.
 */
export function decodePoint(bytes, where = {}) {
  if (checkEncoding(bytes, where)) return IDENTITY;
  return decompress(bytes, where);
}

/**
 * Decode like `decodePoint` but WITHOUT the subgroup check (group.py `from_bytes_without_subgroup_check`).
 *
 * Dangerous: the result may have a small-order component. Use it only for points that are merely
 * summed and compared with a fully validated point; never for a point that enters a proof.
 */
export function decodePointUnchecked(bytes, where = {}) {
  if (checkEncoding(bytes, where)) return IDENTITY;
  const xBytes = bytes.slice();
  xBytes[0] &= 0x1f;
  const x = beToBigInt(xBytes);
  const Fp = G1.Fp;
  let y;
  try {
    y = Fp.sqrt(Fp.add(Fp.pow(x, 3n), 4n));
  } catch {
    y = undefined;
  }
  if (y === undefined || Fp.mul(y, y) !== Fp.add(Fp.pow(x, 3n), 4n)) {
    throw new FormatError('point is not on the BLS12-381 G1 curve', where);
  }
  // ZCash sign bit: set when y is the lexicographically largest of y, p - y.
  const sign = (bytes[0] & SIGN_FLAG) !== 0;
  if ((y * 2n > FIELD_MODULUS) !== sign) y = Fp.neg(y);
  return G1.fromAffine({ x, y });
}

/** The canonical 48-byte compressed encoding of a point (group.py `Point.to_bytes`). */
export function encodePoint(P) {
  if (P.is0()) return IDENTITY_BYTES.slice();
  // Compressed by hand rather than with P.toBytes(), which asserts subgroup membership: a point from
  // decodePointUnchecked (or a sum of such points) must still have its encoding.
  const { x, y } = P.toAffine();
  const out = intToBE(x, POINT_SIZE);
  out[0] |= COMPRESSION_FLAG | (y * 2n > FIELD_MODULUS ? SIGN_FLAG : 0);
  return out;
}

/**
 * Decode 32 little-endian bytes as a canonical scalar (group.py `scalar_from_bytes`).
 * @throws {FormatError} wrong length, or value >= r.
 */
export function decodeScalar(bytes, where = {}) {
  if (!isBytes(bytes)) throw new FormatError('scalar encoding must be bytes', where);
  if (bytes.length !== SCALAR_SIZE) {
    throw new FormatError(`scalar encoding must be ${SCALAR_SIZE} bytes, got ${bytes.length}`, where);
  }
  const k = leToBigInt(bytes);
  if (k >= GROUP_ORDER) throw new FormatError('scalar is not canonical (>= group order r)', where);
  return k;
}

/** Encode a scalar 0 <= k < r as 32 little-endian bytes (ParameterError otherwise). */
export function encodeScalar(k) {
  const v = BigInt(k);
  if (v < 0n || v >= GROUP_ORDER) throw new ParameterError('scalar out of range [0, r)');
  return intToLE(v, SCALAR_SIZE);
}

/**
 * `sum(scalars[i] * points[i])` with noble's Pippenger MSM; scalars (bigint or number) are reduced mod r.
 * Note the argument order: points first (group.py's `msm` takes scalars first).
 */
export function msm(points, scalars) {
  if (points.length !== scalars.length) throw new ParameterError('msm needs as many scalars as points');
  if (points.length === 0) return IDENTITY;
  return pippenger(G1, points, scalars.map(mod));
}

/** The point with affine coordinates (x, y), trusted to be in G1 (an authenticated table). */
export function pointFromAffineTrusted(x, y) {
  return G1.fromAffine({ x, y });
}
