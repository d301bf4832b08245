// The Merkle trees of docs/FORMAT.md §5 (circuits/merkle.py, circuits/sumtree.py), the leaf id (§8,
// circuits/datafiles.py) and the margin records' hashes and ids (§14.4).
//
// Leaf tree (§5.1): RFC 6962 shape, leaf_hash = SHA256(0x00 "zk-solvency leaf v1" || leaf_id || LE64(i) || V),
// node_hash = SHA256(0x01 || l || r); paths checked with RFC 9162 §2.1.3.2 (wrong length: FormatError).
// Sum tree (§5.2): chunks of m leaves; chunk node H_k = SHA256(0x02 "zk-solvency chunk node v3" || C_k || MTH_k),
// sum node H = SHA256(0x03 "zk-solvency sum node v3" || C || H_left || H_right), nodes numbered in order.

import { sha256 } from '@noble/hashes/sha2.js';
import { concat, frame, le64, utf8 } from './bytes.js';
import { FormatError, ParameterError } from './errors.js';

const LEAF_ID_TAG = utf8('zk-solvency leaf id v1');
const LEAF_TAG = concat(new Uint8Array([0x00]), utf8('zk-solvency leaf v1'));
const NODE_TAG = new Uint8Array([0x01]);
const CHUNK_NODE_TAG = concat(new Uint8Array([0x02]), utf8('zk-solvency chunk node v3'));
const SUM_NODE_TAG = concat(new Uint8Array([0x03]), utf8('zk-solvency sum node v3'));
const MARGIN_RECORD_TAG = concat(new Uint8Array([0x04]), utf8('zk-solvency margin record v4'));
const MARGIN_ID_TAG = utf8('zk-solvency margin id v1');
const MARGIN_LEAF_ID_TAG = utf8('zk-solvency margin leaf id v4');

/** A path never has more entries than this (§5.1). */
export const MAX_MERKLE_PATH = 64;

/** leaf_id = SHA256("zk-solvency leaf id v1" || frame(T) || frame(S) || frame(customer_id) || leaf_salt) (§8). */
export function leafId(round, symbol, customerId, leafSalt) {
  return sha256(concat(LEAF_ID_TAG, frame(utf8(round)), frame(utf8(symbol)), frame(utf8(customerId)), leafSalt));
}

/** The Merkle leaf hash (§5.1); `commitment` is the 48-byte point encoding. */
export function leafHash(leafIdBytes, index, commitment) {
  return sha256(concat(LEAF_TAG, leafIdBytes, le64(index), commitment));
}

/** The interior node hash of the leaf tree (§5.1). */
export function nodeHash(left, right) {
  return sha256(concat(NODE_TAG, left, right));
}

function largestPowerOfTwoBelow(n) {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** Streaming RFC 6962 root (merkle.py MerkleAccumulator): push leaf hashes in order, then root(). */
export class MerkleAccumulator {
  constructor() {
    this.stack = [];
    this.count = 0;
  }

  /** Append one leaf hash. */
  push(h) {
    let size = 1;
    let node = h;
    while (this.stack.length > 0 && this.stack[this.stack.length - 1][0] === size) {
      node = nodeHash(this.stack.pop()[1], node);
      size *= 2;
    }
    this.stack.push([size, node]);
    this.count += 1;
  }

  /** The root; FormatError for a tree of zero leaves. */
  root() {
    if (this.stack.length === 0) throw new FormatError('Merkle tree of zero leaves');
    let acc = this.stack[this.stack.length - 1][1];
    for (let i = this.stack.length - 2; i >= 0; i -= 1) acc = nodeHash(this.stack[i][1], acc);
    return acc;
  }
}

/** MTH(D[0:n]) of leaf hashes (RFC 6962 §2.1). */
export function merkleRoot(leafHashes) {
  const acc = new MerkleAccumulator();
  for (const h of leafHashes) acc.push(h);
  return acc.root();
}

/** The audit path of leaf `index`, leaf-level sibling first (merkle.py MerkleTree.path; prover side, tests). */
export function merklePath(leafHashes, index) {
  if (leafHashes.length === 0) throw new FormatError('Merkle tree of zero leaves');
  const mth = (start, size) => {
    if (size === 1) return leafHashes[start];
    const k = largestPowerOfTwoBelow(size);
    return nodeHash(mth(start, k), mth(start + k, size - k));
  };
  const out = [];
  let start = 0;
  let size = leafHashes.length;
  let m = index;
  while (size > 1) {
    const k = largestPowerOfTwoBelow(size);
    if (m < k) {
      out.push(mth(start + k, size - k));
      size = k;
    } else {
      out.push(mth(start, k));
      start += k;
      size -= k;
      m -= k;
    }
  }
  return out.reverse();
}

/**
 * The root implied by leaf hash `h` at `index` in a tree of `treeSize` leaves (RFC 9162 §2.1.3.2).
 * @throws {FormatError} the index is outside the tree, or the path has the wrong length.
 */
export function verifyMerklePath(h, index, treeSize, path, where = {}) {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(treeSize) || index < 0 || index >= treeSize) {
    throw new FormatError('leaf index outside the tree', where);
  }
  // Safe integers up to 2^53: halve with Math.floor, never with 32-bit shifts.
  let fn = index;
  let sn = treeSize - 1;
  let acc = h;
  const even = (v) => v % 2 === 0;
  for (const p of path) {
    if (sn === 0) throw new FormatError('Merkle path is too long', where);
    if (!even(fn) || fn === sn) {
      acc = nodeHash(p, acc);
      if (even(fn)) {
        while (fn !== 0 && even(fn)) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      acc = nodeHash(acc, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new FormatError('Merkle path is too short', where);
  return acc;
}

// ---------------------------------------------------------------------------------------------
// The sum tree (§5.2)

/** The RFC 6962 hash of one chunk's leaf hashes (their count a power of two; ParameterError otherwise). */
export function chunkHash(leafHashes) {
  let level = [...leafHashes];
  if (level.length === 0 || (level.length & (level.length - 1)) !== 0) {
    throw new ParameterError(`a chunk has a power-of-two number of leaves, got ${level.length}`);
  }
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i < level.length; i += 2) next.push(nodeHash(level[i], level[i + 1]));
    level = next;
  }
  return level[0];
}

/** H_k = SHA256(0x02 "zk-solvency chunk node v3" || C_k || MTH_k); C_k the 48-byte point encoding. */
export function chunkNodeHash(commitment, chunkTreeHash) {
  return sha256(concat(CHUNK_NODE_TAG, commitment, chunkTreeHash));
}

/** H = SHA256(0x03 "zk-solvency sum node v3" || C || H_left || H_right); C the 48-byte point encoding. */
export function sumNodeHash(commitment, left, right) {
  return sha256(concat(SUM_NODE_TAG, commitment, left, right));
}

function checkChunks(chunks) {
  if (!Number.isSafeInteger(chunks) || chunks < 1) throw new ParameterError(`a tree has at least one chunk, got ${chunks}`);
}

/** The number of node records: 2C - 1. */
export function nodeCount(chunks) {
  checkChunks(chunks);
  return 2 * chunks - 1;
}

/** The first chunk of the right subtree of the sum node over chunks [start, start + size). */
export function splitPoint(start, size) {
  if (size < 2) throw new ParameterError('a subtree of one chunk is a chunk node, it has no split');
  return start + largestPowerOfTwoBelow(size);
}

/** The in-order record index of the subtree over chunks [start, start + size). */
export function nodeIndexOf(start, size) {
  if (size < 1 || start < 0) throw new ParameterError('empty subtree');
  return size === 1 ? 2 * start : 2 * splitPoint(start, size) - 1;
}

/** The record index of the root of a tree of `chunks` chunks. */
export function rootIndex(chunks) {
  checkChunks(chunks);
  return nodeIndexOf(0, chunks);
}

/**
 * The path of chunk `k` to the root, chunk level first (empty when chunks == 1), as sumtree.py chunk_path:
 * each step {sibling, parent, parentSplit, siblingIsLeft} (record indices; the parent's node proof is
 * record parentSplit - 1).
 */
export function chunkPath(chunks, k) {
  checkChunks(chunks);
  if (!Number.isSafeInteger(k) || k < 0 || k >= chunks) throw new ParameterError(`chunk ${k} outside a tree of ${chunks} chunks`);
  const steps = [];
  let start = 0;
  let size = chunks;
  while (size > 1) {
    const j = splitPoint(start, size);
    const parent = 2 * j - 1;
    if (k < j) {
      steps.push({ sibling: nodeIndexOf(j, start + size - j), parent, parentSplit: j, siblingIsLeft: false });
      size = j - start;
    } else {
      steps.push({ sibling: nodeIndexOf(start, j - start), parent, parentSplit: j, siblingIsLeft: true });
      const end = start + size;
      start = j;
      size = end - j;
    }
  }
  return steps.reverse();
}

/**
 * Every sum node of a tree of `chunks` chunks, children before parents (sumtree.py sum_nodes):
 * {split, index, node: [start, size], left: [start, size], right: [start, size]}.
 */
export function sumNodes(chunks) {
  checkChunks(chunks);
  const out = [];
  const stack = [[0, chunks, false]];
  while (stack.length > 0) {
    const [start, size, expanded] = stack.pop();
    if (size === 1) continue;
    const j = splitPoint(start, size);
    if (expanded) {
      out.push({ split: j, index: 2 * j - 1, node: [start, size], left: [start, j - start], right: [j, start + size - j] });
    } else {
      stack.push([start, size, true], [j, start + size - j, false], [start, j - start, false]);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Margin records (§14.4)

/** margin_leaf_hash(j) = SHA256(0x04 "zk-solvency margin record v4" || record_j), the record as stored. */
export function marginRecordHash(record) {
  return sha256(concat(MARGIN_RECORD_TAG, record));
}

/** record_id = SHA256("zk-solvency margin id v1" || frame(T) || frame(customer_id) || margin_salt). */
export function marginRecordId(round, customerId, marginSalt) {
  return sha256(concat(MARGIN_ID_TAG, frame(utf8(round)), frame(utf8(customerId)), marginSalt));
}

/** margin_leaf_id = SHA256("zk-solvency margin leaf id v4" || record_id || frame(S)). */
export function marginLeafId(recordId, symbol) {
  return sha256(concat(MARGIN_LEAF_ID_TAG, recordId, frame(utf8(symbol))));
}
