// The merlin-style Fiat-Shamir transcript over SHAKE256 (circuits/transcript.py) and the range proof's
// schedule (circuits/schedule.py), byte for byte; design and label table: circuits/notes/50-transcript.md.
//
// Every operation absorbs one frame  op (1 byte) || LE32(len(label)) || label || LE32(len(data)) || data,
// op "A" for an appended message, "C" for a challenge request (data = LE32(output length)). A challenge
// is the SHAKE256 output of a copy of the state after absorbing its request frame. The first frames are
// A("dom-sep", "zk-solvency transcript v1 (SHAKE256)") and A("app", app_label).

import { shake256 } from '@noble/hashes/sha3.js';
import { concat, le32, le64, leToBigInt, toHex, utf8 } from './bytes.js';
import { ParameterError, VerificationError } from './errors.js';
import { GROUP_ORDER, encodePoint, encodeScalar } from './points.js';
import { generatorSetId } from './generators.js';

/** Protocol label absorbed first by every transcript (circuits/constants.py PROTOCOL_LABEL). */
export const PROTOCOL_LABEL = 'zk-solvency transcript v1 (SHAKE256)';
/** Application label of range-proof transcripts (schedule.py RANGE_APP_LABEL). */
export const RANGE_APP_LABEL = 'zk-solvency range proof';

const OP_APPEND = 0x41; // "A"
const OP_CHALLENGE = 0x43; // "C"
const CHALLENGE_BYTES = 64;
const MAX_FRAME = 0xffffffff;
const RANGEPROOF_DOMAIN = utf8('rangeproof v1');
const IPP_DOMAIN = utf8('ipp v1');

const asBytes = (x) => (typeof x === 'string' ? utf8(x) : x);
const latin1 = (bytes) => String.fromCharCode(...bytes);

/** A labelled, length-framed Fiat-Shamir transcript (caller-owned). Labels: ASCII strings or bytes. */
export class Transcript {
  /**
   * @param {string|Uint8Array} appLabel
   * @param {{debug?: boolean}} [options] debug: record every frame in `this.trace` (all of it is public)
   */
  constructor(appLabel, { debug = false } = {}) {
    this.state = shake256.create({});
    this.trace = debug ? [] : null;
    this.appendMessage('dom-sep', PROTOCOL_LABEL);
    this.appendMessage('app', appLabel);
  }

  frame(op, label, data) {
    if (label.length > MAX_FRAME || data.length > MAX_FRAME) throw new ParameterError('transcript message too long');
    if (this.trace !== null) {
      this.trace.push(`${String.fromCharCode(op)} ${latin1(label)} | ${data.length} | ${toHex(data)}`);
    }
    this.state.update(concat(new Uint8Array([op]), le32(label.length), label, le32(data.length), data));
  }

  /** Absorb `message` under `label`. */
  appendMessage(label, message) {
    this.frame(OP_APPEND, asBytes(label), asBytes(message));
  }

  /** Absorb an unsigned 64-bit integer, little-endian. */
  appendU64(label, value) {
    const v = BigInt(value);
    if (v < 0n || v >= 1n << 64n) throw new ParameterError('append_u64 takes an integer in [0, 2^64)');
    this.frame(OP_APPEND, asBytes(label), le64(v));
  }

  /** Absorb a scalar in its canonical 32-byte encoding. */
  appendScalar(label, k) {
    this.frame(OP_APPEND, asBytes(label), encodeScalar(k));
  }

  /** Absorb a point in its canonical 48-byte encoding (the identity is allowed). */
  appendPoint(label, P) {
    this.frame(OP_APPEND, asBytes(label), encodePoint(P));
  }

  /**
   * Absorb a point, rejecting the identity.
   * @throws {VerificationError} if `P` is the identity.
   */
  validateAndAppendPoint(label, P) {
    const l = asBytes(label);
    if (P.is0()) throw new VerificationError(`point ${latin1(l)} is the identity`);
    this.appendPoint(l, P);
  }

  /** Squeeze `length` bytes bound to everything absorbed so far. */
  challengeBytes(label, length) {
    if (!Number.isInteger(length) || length < 0 || length > MAX_FRAME) {
      throw new ParameterError('challenge length must be in [0, 2^32)');
    }
    const l = asBytes(label);
    this.frame(OP_CHALLENGE, l, le32(length));
    const out = length === 0 ? new Uint8Array(0) : this.state.clone().xof(length);
    if (this.trace !== null) this.trace.push(`= ${latin1(l)} | ${toHex(out)}`);
    return out;
  }

  /**
   * Squeeze a scalar: 64 bytes, little-endian, reduced mod r.
   * @throws {VerificationError} if the challenge is zero.
   */
  challengeScalar(label) {
    const l = asBytes(label);
    const k = leToBigInt(this.challengeBytes(l, CHALLENGE_BYTES)) % GROUP_ORDER;
    if (k === 0n) throw new VerificationError(`challenge ${latin1(l)} is zero`);
    return k;
  }
}

// ---------------------------------------------------------------------------------------------
// The schedule of the range proof (circuits/schedule.py), in this order:
//   rangeTranscript(statement)   dom-sep, n, m, gens, context, V_0..V_{m-1}
//   [y, z] = challengesYZ(t, A, S); x = challengeX(t, T_1, T_2); w = challengeW(t, t_x, t_x_blinding, e_blinding)
//   ippDomainSep(t, n*m); u_k = challengeU(t, L_k, R_k) for k = 0 .. lg(n*m)-1

/**
 * Start the transcript of a range statement: binds version, n, m, generators, context and every V_j.
 * @param {{commitments: Array, bits: number, context: Uint8Array}} statement
 * @throws {VerificationError} if a commitment is the identity.
 */
export function rangeTranscript({ commitments, bits, context }) {
  const t = new Transcript(RANGE_APP_LABEL);
  t.appendMessage('dom-sep', RANGEPROOF_DOMAIN);
  t.appendU64('n', bits);
  t.appendU64('m', commitments.length);
  t.appendMessage('gens', generatorSetId());
  t.appendMessage('context', context);
  for (const V of commitments) t.validateAndAppendPoint('V', V);
  return t;
}

/** Absorb A, S and squeeze y, z. */
export function challengesYZ(t, A, S) {
  t.validateAndAppendPoint('A', A);
  t.validateAndAppendPoint('S', S);
  const y = t.challengeScalar('y');
  return [y, t.challengeScalar('z')];
}

/** Absorb T_1, T_2 and squeeze x. */
export function challengeX(t, T_1, T_2) {
  t.validateAndAppendPoint('T_1', T_1);
  t.validateAndAppendPoint('T_2', T_2);
  return t.challengeScalar('x');
}

/** Absorb t_x, t_x_blinding, e_blinding and squeeze w (so Q = w*B). */
export function challengeW(t, t_x, t_x_blinding, e_blinding) {
  t.appendScalar('t_x', t_x);
  t.appendScalar('t_x_blinding', t_x_blinding);
  t.appendScalar('e_blinding', e_blinding);
  return t.challengeScalar('w');
}

/** Start the inner-product argument over vectors of length n. */
export function ippDomainSep(t, n) {
  t.appendMessage('dom-sep', IPP_DOMAIN);
  t.appendU64('n', n);
}

/** Absorb one round's L, R and squeeze u. */
export function challengeU(t, L, R) {
  t.validateAndAppendPoint('L', L);
  t.validateAndAppendPoint('R', R);
  return t.challengeScalar('u');
}
