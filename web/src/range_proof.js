// The aggregated Bulletproofs range proof: its wire format (circuits/proofs.py RangeProof) and its
// verification as one multi-scalar "mega-check" (verifier/range_proof.py, verifier/batch.py), with the
// math of circuits/notes/30-range-proof.md. For challenges y, z, x, w, u_k (replayed with the shared
// schedule of transcript.js) and a random weight c, the verifier checks
//
//   0 == A + x*S + c*x*T_1 + c*x^2*T_2 + sum_k (u_k^2 L_k + u_k^-2 R_k)
//        + sum_j c*z^{2+j} V_j + (w*(t_x - a*b) + c*(delta(y,z) - t_x)) B
//        + (-e_blinding - c*t_x_blinding) B_blinding
//        + sum_i (-z - a*s_i) G_i + sum_i (z + y^-i (z^{2+j(i)} 2^{i mod n} - b*s_{nm-1-i})) H_i
//
// Wire layout (version 1), k = lg(n*m) rounds, 353 + 96k bytes:
//   version (1) A S T_1 T_2 (48 each) t_x t_x_blinding e_blinding (32 each) (L_i R_i)*k (96k) a b (32 each)

import { FormatError, ParameterError, VerificationError, locate } from './errors.js';
import { isBytes } from './bytes.js';
import { GROUP_ORDER, POINT_SIZE, SCALAR_SIZE, batchInvert, decodePoint, decodeScalar, msm, randomScalar } from './points.js';
import { GENS_CAPACITY, bulletproofGens, pedersenGens } from './generators.js';
import { challengeU, challengeW, challengeX, challengesYZ, ippDomainSep, rangeTranscript } from './transcript.js';

const r = GROUP_ORDER;

/** Bit sizes the range proof supports. */
export const ALLOWED_BITSIZES = Object.freeze([8, 16, 32, 64, 128]);
/** Largest aggregation size m. */
export const MAX_AGGREGATION = 1 << 14;
/** Largest application context bound into a range transcript. */
export const MAX_CONTEXT_BYTES = 1 << 16;
/** Leading byte of a serialized range proof. */
export const RANGEPROOF_FORMAT_VERSION = 1;
/** Largest number of inner-product rounds: lg(GENS_CAPACITY). */
export const MAX_IPP_ROUNDS = 17;

const RANGE_FIXED = 1 + 4 * POINT_SIZE + 3 * SCALAR_SIZE;
const IPP_FIXED = 2 * SCALAR_SIZE;
const ROUND = 2 * POINT_SIZE;

/** The encoded size of a proof with `rounds` inner-product rounds: 353 + 96*rounds. */
export function rangeProofSize(rounds) {
  return RANGE_FIXED + ROUND * rounds + IPP_FIXED;
}

/** lg of a power of two. */
function lg(x) {
  return 31 - Math.clz32(x);
}

/**
 * Validate (n, m) as relations.py `check_bitsize_and_aggregation`.
 * @throws {ParameterError}
 */
export function checkBitsizeAndAggregation(n, m) {
  if (!ALLOWED_BITSIZES.includes(n)) throw new ParameterError(`bit size n=${n} is not one of (8, 16, 32, 64, 128)`);
  if (!Number.isInteger(m) || m < 1 || (m & (m - 1)) !== 0 || m > MAX_AGGREGATION) {
    throw new ParameterError(`aggregation size m=${m} is not a power of two in [1, ${MAX_AGGREGATION}]`);
  }
  if (n * m > GENS_CAPACITY) throw new ParameterError(`n*m=${n * m} exceeds the generator capacity ${GENS_CAPACITY}`);
}

/**
 * Check a range statement's public parameters before any curve work (relations.py RangeStatement).
 * @param {{commitments: Array, bits: number, context?: Uint8Array}} statement
 * @throws {ParameterError}
 */
export function checkRangeStatement({ commitments, bits, context = new Uint8Array(0) }) {
  checkBitsizeAndAggregation(bits, commitments.length);
  if (!isBytes(context) || context.length > MAX_CONTEXT_BYTES) {
    throw new ParameterError(`context must be bytes of at most ${MAX_CONTEXT_BYTES} bytes`);
  }
}

function prefixed(name, fn, where) {
  try {
    return fn();
  } catch (exc) {
    if (exc instanceof FormatError) throw new FormatError(`${name}: ${exc.message}`, where);
    throw exc;
  }
}

/**
 * Parse and validate a range proof (proofs.py `RangeProof.from_bytes`): every point canonical, on the
 * curve and in the subgroup, every scalar canonical, no trailing bytes.
 *
 * `m` and `bits`, when given, are the statement's: unsupported ones are a ParameterError (as building
 * the RangeStatement is in Python), and a well-formed proof with another number of rounds than
 * lg(bits*m) is a VerificationError, as verifier/range_proof.py reports it (verifyRangeProof makes the
 * same check when they are omitted here).
 * @param {Uint8Array} bytes
 * @param {number} [m]
 * @param {number} [bits]
 * @param {{section?: string|null, file?: string|null, field?: string|null}} [where]
 * @throws {FormatError} unknown version, bad length, non-canonical scalar, invalid point, trailing bytes.
 */
export function decodeRangeProof(bytes, m = undefined, bits = undefined, where = {}) {
  if (m !== undefined && bits !== undefined) {
    try {
      checkBitsizeAndAggregation(bits, m);
    } catch (exc) {
      throw locate(exc, where);
    }
  }
  if (!isBytes(bytes)) throw new FormatError('proof encoding must be bytes', where);
  const maxSize = rangeProofSize(MAX_IPP_ROUNDS);
  if (bytes.length > maxSize) {
    throw new FormatError(
      `proof encoding of ${bytes.length} bytes is longer than the largest proof (${maxSize} bytes)`,
      where,
    );
  }
  if (bytes.length === 0) throw new FormatError('empty range proof', where);
  if (bytes[0] !== RANGEPROOF_FORMAT_VERSION) throw new FormatError(`unknown range proof version ${bytes[0]}`, where);
  const body = bytes.length - RANGE_FIXED - IPP_FIXED;
  if (body < 0 || body % ROUND !== 0) {
    throw new FormatError(`range proof length ${bytes.length} is not 353 + 96k`, where);
  }
  const rounds = body / ROUND;
  let offset = 1;
  const take = (size) => {
    const out = bytes.subarray(offset, offset + size);
    offset += size;
    return out;
  };
  const point = (name) => prefixed(name, () => decodePoint(take(POINT_SIZE)), where);
  const scalar = (name) => prefixed(name, () => decodeScalar(take(SCALAR_SIZE)), where);
  const A = point('A');
  const S = point('S');
  const T_1 = point('T_1');
  const T_2 = point('T_2');
  const t_x = scalar('t_x');
  const t_x_blinding = scalar('t_x_blinding');
  const e_blinding = scalar('e_blinding');
  const L_vec = [];
  const R_vec = [];
  for (let k = 0; k < rounds; k += 1) {
    L_vec.push(point(`L_vec[${k}]`));
    R_vec.push(point(`R_vec[${k}]`));
  }
  const a = scalar('a');
  const b = scalar('b');
  const proof = { A, S, T_1, T_2, t_x, t_x_blinding, e_blinding, L_vec, R_vec, a, b };
  if (m !== undefined && bits !== undefined) checkRounds(proof, bits * m, where);
  return proof;
}

function checkRounds(proof, nm, where) {
  const need = lg(nm);
  if (proof.L_vec.length !== need || proof.R_vec.length !== need) {
    throw new VerificationError(`proof has ${proof.L_vec.length} inner-product rounds, statement needs ${need}`, where);
  }
}

/** delta(y, z) = (z - z^2) <1, y^{nm}> - sum_j z^{3+j} <1, 2^n>  mod r. */
export function delta(n, m, y, z) {
  const nm = BigInt(n * m);
  const sumY = y === 1n ? nm % r : ((powMod(y, nm) - 1n + r) * invertMod(y - 1n)) % r;
  const zz = (z * z) % r;
  let sumZ = 0n;
  let zj = (zz * z) % r;
  for (let j = 0; j < m; j += 1) {
    sumZ += zj;
    zj = (zj * z) % r;
  }
  return mod((((z - zz) % r) * sumY - (sumZ % r) * ((1n << BigInt(n)) - 1n)) % r);
}

const mod = (x) => {
  const v = x % r;
  return v < 0n ? v + r : v;
};

function powMod(base, exp) {
  let result = 1n;
  let b = mod(base);
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % r;
    b = (b * b) % r;
    e >>= 1n;
  }
  return result;
}

function invertMod(x) {
  return batchInvert([x])[0];
}

/** s_i = prod_k u_k^{b(i,k)} for i < 2^k, by doubling (verifier/range_proof.py `challenge_products`). */
export function challengeProducts(u, uInv) {
  const lgN = u.length;
  let s0 = 1n;
  for (const ui of uInv) s0 = (s0 * ui) % r;
  const s = [s0];
  for (let t = 0; t < lgN; t += 1) {
    const uSq = (u[lgN - 1 - t] * u[lgN - 1 - t]) % r;
    const len = s.length;
    for (let i = 0; i < len; i += 1) s.push((s[i] * uSq) % r);
  }
  return s;
}

/** [start * base^i mod r for i < count]. */
function powers(base, start, count) {
  const out = new Array(count);
  let x = mod(start);
  for (let i = 0; i < count; i += 1) {
    out[i] = x;
    x = (x * base) % r;
  }
  return out;
}

/**
 * Replay the transcript and return one proof's weighted mega-check terms (`proof_terms`).
 * @throws {ParameterError} bad statement parameters; {VerificationError} wrong shape, an identity, a zero challenge.
 */
function proofTerms({ commitments, proof, bits, context = new Uint8Array(0) }, weight) {
  checkRangeStatement({ commitments, bits, context });
  const n = bits;
  const m = commitments.length;
  const nm = n * m;
  checkRounds(proof, nm, {});
  const lgNm = lg(nm);

  const t = rangeTranscript({ commitments, bits, context });
  const [y, z] = challengesYZ(t, proof.A, proof.S);
  const x = challengeX(t, proof.T_1, proof.T_2);
  const w = challengeW(t, proof.t_x, proof.t_x_blinding, proof.e_blinding);
  ippDomainSep(t, nm);
  const u = proof.L_vec.map((L, k) => challengeU(t, L, proof.R_vec[k]));

  const c = randomScalar();
  const { a, b } = proof;
  const inv = batchInvert([...u, y]);
  const uInv = inv.slice(0, lgNm);
  const yInv = inv[lgNm];
  const s = challengeProducts(u, uInv);

  const weightZ = (weight * z) % r;
  const weightA = (weight * a) % r;
  const g = new Array(nm);
  for (let i = 0; i < nm; i += 1) g[i] = mod(-weightZ - ((weightA * s[i]) % r));
  // h_i = weight*z + weight*y^-i * (z^{2+j} 2^{i mod n} - b * s_{nm-1-i}),  j = i // n
  const zz = (z * z) % r;
  const yPowers = powers(yInv, weight, nm);
  const h = new Array(nm);
  let zj = zz;
  const twos = new Array(n);
  for (let k = 0; k < n; k += 1) twos[k] = 1n << BigInt(k);
  for (let j = 0; j < m; j += 1) {
    for (let k = 0; k < n; k += 1) {
      const i = j * n + k;
      const zt = (zj * twos[k]) % r;
      h[i] = (weightZ + yPowers[i] * mod(zt - b * s[nm - 1 - i])) % r;
    }
    zj = (zj * z) % r;
  }

  const rc = (weight * c) % r;
  const points = [proof.A, proof.S, proof.T_1, proof.T_2];
  const scalars = [weight, (weight * x) % r, (rc * x) % r, (((rc * x) % r) * x) % r];
  for (let k = 0; k < lgNm; k += 1) {
    points.push(proof.L_vec[k]);
    scalars.push((((weight * u[k]) % r) * u[k]) % r);
    points.push(proof.R_vec[k]);
    scalars.push((((weight * uInv[k]) % r) * uInv[k]) % r);
  }
  let zc = (rc * zz) % r;
  for (const V of commitments) {
    points.push(V);
    scalars.push(zc);
    zc = (zc * z) % r;
  }
  const B = mod(((weight * w) % r) * (proof.t_x - ((a * b) % r)) + rc * (delta(n, m, y, z) - proof.t_x));
  const B_blinding = mod(-weight * proof.e_blinding - rc * proof.t_x_blinding);
  return { B, B_blinding, g, h, points, scalars };
}

/** Merge the terms of several proofs into one MSM; return whether it is the identity (`check_terms`). */
function checkTerms(terms) {
  let width = 0;
  for (const t of terms) width = Math.max(width, t.g.length);
  const g = new Array(width).fill(0n);
  const h = new Array(width).fill(0n);
  let B = 0n;
  let B_blinding = 0n;
  const points = [];
  const scalars = [];
  for (const t of terms) {
    for (let i = 0; i < t.g.length; i += 1) {
      g[i] += t.g[i];
      h[i] += t.h[i];
    }
    B += t.B;
    B_blinding += t.B_blinding;
    points.push(...t.points);
    scalars.push(...t.scalars);
  }
  const pc = pedersenGens();
  const bp = bulletproofGens(width);
  const allPoints = [pc.B, pc.B_blinding, ...bp.G, ...bp.H, ...points];
  const allScalars = [B, B_blinding, ...g, ...h, ...scalars];
  return msm(allPoints, allScalars).is0();
}

function whereOf({ section = null, file = null, field = null }) {
  return { section, file, field };
}

/**
 * Verify one range proof against its statement (verifier/range_proof.py `verify_range`).
 * Returns undefined or throws; errors carry the statement's {section, file, field} when given.
 * @param {{commitments: Array, proof: object, bits: number, context?: Uint8Array,
 *          section?: string, file?: string, field?: string}} statement commitments are decoded points
 * @throws {VerificationError} the proof is false for this statement; {ParameterError} bad parameters.
 */
export function verifyRangeProof(statement) {
  const where = whereOf(statement);
  try {
    if (!checkTerms([proofTerms(statement, 1n)])) throw new VerificationError('range proof does not verify');
  } catch (exc) {
    throw locate(exc, where);
  }
}

/**
 * Verify many range proofs in one combined MSM (verifier/batch.py `verify_batch`); proofs may have
 * different n and m. Each proof's terms are scaled by an independent random weight; when the combined
 * check fails the false proofs are found by bisection.
 * @param {Array<{commitments: Array, proof: object, bits: number, context?: Uint8Array}>} statements
 * @throws {BatchVerificationError} some proofs are false (`badIndices`, sorted; `reasons`).
 */
export function verifyRangeProofBatch(statements) {
  if (statements.length === 0) throw new ParameterError('empty batch');
  const terms = [];
  const reasons = new Map();
  statements.forEach((statement, i) => {
    try {
      terms.push([i, proofTerms(statement, randomScalar())]);
    } catch (exc) {
      if (exc instanceof VerificationError) reasons.set(i, exc.message);
      else throw exc;
    }
  });
  const bad = [...reasons.keys()];
  if (terms.length > 0 && !checkTerms(terms.map(([, t]) => t))) bad.push(...bisect(terms));
  if (bad.length > 0) throw new BatchVerificationError(bad, reasons);
}

function bisect(terms) {
  if (terms.length === 1) return [terms[0][0]];
  const half = terms.length >> 1;
  const bad = [];
  for (const part of [terms.slice(0, half), terms.slice(half)]) {
    if (!checkTerms(part.map(([, t]) => t))) bad.push(...bisect(part));
  }
  return bad;
}

/** Raised when a batch contains false proofs; `badIndices` names them (sorted), `reasons` says why where known. */
export class BatchVerificationError extends VerificationError {
  constructor(badIndices, reasons = new Map()) {
    const sorted = [...badIndices].sort((x, y) => x - y);
    const shown = sorted.slice(0, 20).join(', ');
    const more = sorted.length <= 20 ? '' : ` (+${sorted.length - 20} more)`;
    super(`${sorted.length} proof(s) failed batch verification: ${shown}${more}`);
    this.badIndices = sorted;
    this.reasons = new Map(reasons);
  }
}
