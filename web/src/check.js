// The customer check (docs/FORMAT.md §8, §8.1, §14.6), in the browser: verifier/package.py check_package,
// verifier/package_tree.py (the sum tree, package format 2) and verifier/package_margin.py (the margin
// account, package format 3), step for step and in the same order, with the same error classes and
// sections, the same checks recorded and the same verdict (web/src/verdict.js).
//
// `files` is what the customer picked from the bundle: a Map of bundle file names to their bytes.
// No file at all: the package alone (scope "package", partial). With files, the check reads exactly
// what verifier/package.py reads from a bundle directory holding those files: a file the check needs
// and the customer did not pick is reported as the Python check reports a missing file (malformed,
// section: its name), except the leaves file of a sum-tree asset, whose absence makes the run partial
// (§8.1). Records are read by offset from the files' bytes and counted (`bytes_read`).
//
// One step is not ported: the wallet list of a bundle that has one (format version 2, or 3 and 4 with
// `wallets.json`): its proofs of control need the signature code of circuits/wallets.py. Everything
// else is checked; the verdict says that the reserves were NOT checked against the wallets, and the
// run is partial (report.reservesUnchecked), never a pass.

import { sha256 } from '@noble/hashes/sha2.js';
import { compareBytes, concat, equalBytes, frame, fromHex, intToLE, toHex, utf8 } from './bytes.js';
import { FormatError, ParameterError, VerificationError, ZkError } from './errors.js';
import { pedersenGens } from './generators.js';
import {
  MerkleAccumulator,
  chunkHash,
  chunkNodeHash,
  chunkPath,
  leafHash,
  leafId,
  marginLeafId,
  marginRecordHash,
  marginRecordId,
  rootIndex,
  sumNodeHash,
  verifyMerklePath,
} from './merkle.js';
import { IDENTITY, decodePoint, encodePoint, invert, mod, msm } from './points.js';
import { BatchVerificationError, decodeRangeProof, verifyRangeProof, verifyRangeProofBatch } from './range_proof.js';
import {
  GROUP_ORDER,
  HEADER_SIZE,
  LEAF_RECORD_SIZE,
  MAGIC_LEAVES,
  MAGIC_MARGIN_PROOFS,
  MAGIC_MARGIN_RECORDS,
  MAGIC_NODES,
  MAGIC_NODE_PROOFS,
  MAGIC_RANGE_PROOFS,
  MAGIC_SOLVENCY,
  MANIFEST_NAME,
  NODE_BITS,
  NODE_PROOF_RECORD_SIZE,
  NODE_RECORD_SIZE,
  POINT_SIZE,
  RANGE_BITS,
  SOLVENCY_BITS,
  SOLVENCY_RECORD_SIZE,
  collateralValue,
  parseManifest,
  rangeRecordSize,
  scaledHaircut,
} from './manifest.js';
import { parsePackage } from './package.js';
import {
  EntryReport, MarginAccountReport, PackageReport, formatRatio, formatUnits, pyRepr, short, stateClaims,
} from './verdict.js';

// ---------------------------------------------------------------------------------------------
// Points (web/src/points.js) and commitments

/** Decode a 48-byte point (canonical, on the curve, in the subgroup; the identity allowed). */
function pointFromBytes(bytes) {
  return decodePoint(bytes);
}

const toBytes = (P) => encodePoint(P);
const isIdentity = (P) => P.is0();
const samePoint = (P, Q) => P.equals(Q);

/**
 * Com(v, v_blinding) = v*B + v_blinding*B_blinding (PedersenGens.commit). Two wNAF multiplications are about
 * three times faster than an MSM of two points; like the MSM they are not constant-time, which a check
 * that runs on the customer's own device, of the customer's own package, does not need.
 */
function commit(pcGens, v, blinding) {
  return pcGens.B.multiplyUnsafe(mod(BigInt(v))).add(pcGens.B_blinding.multiplyUnsafe(mod(BigInt(blinding))));
}

function sumPoints(points) {
  let total = IDENTITY;
  for (const P of points) total = total.add(P);
  return total;
}

// ---------------------------------------------------------------------------------------------
// Statements and their contexts (circuits/statements.py, circuits/margin.py, §4, §14.5)

const CHUNK_TAG = utf8('zk-solvency chunk v1');
const NODE_CONTEXT_TAG = utf8('zk-solvency node v3');
const SOLVENCY_TAG = utf8('zk-solvency solvency v1');
const SOLVENCY_TAG_V2 = utf8('zk-solvency solvency v2');
const SOLVENCY_TAG_V4 = utf8('zk-solvency solvency v4');
const MARGIN_CONTEXT_TAG = utf8('zk-solvency margin v4');

function marginDigest(manifest) {
  return manifest.margin === null ? new Uint8Array(0) : manifest.margin.digest;
}

/** The range statement of chunk k of `asset`: its m commitments, n = 64, chunk_context(k) (v4: || margin digest). */
function chunkStatement(manifest, asset, k, commitments) {
  const context = concat(
    CHUNK_TAG, frame(utf8(manifest.exchange)), frame(utf8(manifest.round)), frame(utf8(asset.symbol)),
    intToLE(asset.leafCount, 8), intToLE(asset.chunkSize, 8), intToLE(k, 8), asset.merkleRoot, marginDigest(manifest),
  );
  return { commitments, bits: RANGE_BITS, context };
}

/** The range statement of the sum node of split j: (C_left, C_right), n = 128, node_context(j). */
function nodeStatement(manifest, asset, split, left, right) {
  const context = concat(
    NODE_CONTEXT_TAG, frame(utf8(manifest.exchange)), frame(utf8(manifest.round)), frame(utf8(asset.symbol)),
    intToLE(asset.leafCount, 8), intToLE(asset.chunkSize, 8), intToLE(split, 8), asset.merkleRoot, marginDigest(manifest),
  );
  return { commitments: [left, right], bits: NODE_BITS, context };
}

/** The solvency statement: V_s = (den*R)*B - num*C_L (v4: - num*(C_L - C_D)), n = 128, solvency_context(). */
function solvencyStatement(manifest, asset, C_L, C_D, pcGens) {
  const wallets = manifest.wallets;
  let context = concat(
    wallets === null ? SOLVENCY_TAG : SOLVENCY_TAG_V2,
    frame(utf8(manifest.exchange)), frame(utf8(manifest.round)), frame(utf8(asset.symbol)),
    intToLE(asset.decimals, 8), intToLE(asset.reserves, 16), intToLE(asset.num, 8), intToLE(asset.den, 8), intToLE(asset.leafCount, 8),
    asset.merkleRoot, toBytes(C_L),
    wallets === null ? new Uint8Array(0) : concat(wallets.sha256, frame(utf8(asset.reservesBasis))),
  );
  const points = [pcGens.B, C_L];
  const scalars = [mod(BigInt(asset.den) * asset.reserves), mod(-BigInt(asset.num))];
  if (C_D !== null) {
    context = concat(SOLVENCY_TAG_V4, frame(context), manifest.margin.digest, manifest.marginRoot, toBytes(C_D));
    points.push(C_D);
    scalars.push(mod(BigInt(asset.num)));
  }
  return { commitments: [msm(points, scalars)], bits: SOLVENCY_BITS, context };
}

function marginPartStatements(params, manifest, account) {
  return params.parts.map((size, part) => ({
    part,
    offset: params.offsets[part],
    size,
    context: concat(
      MARGIN_CONTEXT_TAG, frame(utf8(manifest.exchange)), frame(utf8(manifest.round)), params.digest,
      manifest.marginRoot, intToLE(params.accounts, 4), intToLE(account, 4), intToLE(part, 4), intToLE(params.offsets[part], 4),
      intToLE(size, 4),
    ),
  }));
}

// ---------------------------------------------------------------------------------------------
// Range proofs (web/src/range_proof.js)

/**
 * Parse a RangeProof record (RangeProof.from_bytes; FormatError). The number of rounds is not checked
 * here: as in the Python check, a proof of another size fails its verification.
 */
function parseProof(bytes) {
  return decodeRangeProof(bytes);
}

const GENERIC_FAILURE = 'the range proof does not verify';

/** Verify one proof for its statement (verify_range); return null, or why it is false. */
function proofFailure(statement, proof) {
  try {
    verifyRangeProof({ commitments: statement.commitments, proof, bits: statement.bits, context: statement.context });
    return null;
  } catch (exc) {
    if (exc instanceof VerificationError) return exc.message;
    throw exc;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading the picked files (verifier/reading.py)

function cannotRead(section, name) {
  return new FormatError(`${section}: cannot read ${name} (No such file or directory)`, { section });
}

/** check_header: the 16-byte header against the manifest's implied count and record size (§3). */
function checkHeader(header, magic, count, recordSize, section) {
  const expected = concat(utf8(magic), intToLE(count, 4), intToLE(recordSize, 4));
  if (equalBytes(header, expected)) return;
  if (header.length < HEADER_SIZE) {
    throw new FormatError(`${section}: file shorter than its header`, { section, file: section });
  }
  if (!equalBytes(header.subarray(0, 8), utf8(magic))) {
    throw new FormatError(`${section}: bad magic, expected ${magic}`, { section, file: section });
  }
  const view = new DataView(header.buffer, header.byteOffset, HEADER_SIZE);
  throw new FormatError(
    `${section}: header says ${view.getUint32(8, true)} records of ${view.getUint32(12, true)} bytes, manifest ` +
      `implies ${count} of ${recordSize}`,
    { section, file: section },
  );
}

/** Random access to a data file's records, not hashed (reading.py RecordFile): size and header checked on open. */
class RecordFile {
  constructor(files, entry, magic, count, recordSize) {
    this.section = entry.name;
    this.count = count;
    this.recordSize = recordSize;
    this.bytesRead = 0;
    const data = files.get(entry.name);
    if (data === undefined) throw cannotRead(this.section, entry.name);
    if (data.length !== entry.size) {
      throw new FormatError(`${this.section}: size ${data.length} bytes, manifest says ${entry.size}`, {
        section: this.section, file: this.section,
      });
    }
    this.data = data;
    checkHeader(this.readAt(0, HEADER_SIZE), magic, count, recordSize, this.section);
  }

  readAt(offset, size) {
    this.bytesRead += size;
    return this.data.subarray(offset, offset + size);
  }

  records(first, count) {
    if (!(first >= 0 && first + count <= this.count)) throw new RangeError(`records ${first}.. outside the file`);
    return this.readAt(HEADER_SIZE + first * this.recordSize, count * this.recordSize);
  }

  record(index) {
    return this.records(index, 1);
  }
}

/** check_file: size, SHA-256 and header of a whole data file (versions 1 and 2, §7 step 2). */
function checkFile(files, entry, magic, count, recordSize) {
  const section = entry.name;
  const data = files.get(entry.name);
  if (data === undefined) throw cannotRead(section, entry.name);
  if (data.length !== entry.size) {
    throw new FormatError(`${section}: size ${data.length} bytes, manifest says ${entry.size}`, { section, file: section });
  }
  if (!equalBytes(sha256(data), entry.sha256)) {
    throw new FormatError(`${section}: SHA-256 does not match the manifest`, { section, file: section });
  }
  checkHeader(data.subarray(0, HEADER_SIZE), magic, count, recordSize, section);
  return data;
}

/** file_roles: [manifest key, file entry, magic, count, record size] of each data file of an asset. */
function fileRoles(asset) {
  const roles = [
    ['leaves', asset.leaves, MAGIC_LEAVES, asset.leafCount, LEAF_RECORD_SIZE],
    ['range_proofs', asset.rangeProofs, MAGIC_RANGE_PROOFS, asset.chunkCount, rangeRecordSize(asset.chunkSize)],
    ['solvency', asset.solvency, MAGIC_SOLVENCY, 1, SOLVENCY_RECORD_SIZE],
  ];
  if (asset.nodes !== null && asset.nodeProofs !== null) {
    roles.push(['nodes', asset.nodes, MAGIC_NODES, 2 * asset.chunkCount - 1, NODE_RECORD_SIZE]);
    roles.push(['node_proofs', asset.nodeProofs, MAGIC_NODE_PROOFS, asset.chunkCount - 1, NODE_PROOF_RECORD_SIZE]);
  }
  return roles;
}

/** decode_leaf: leaf `index`'s commitment; the identity is malformed (§3.1). */
function decodeLeaf(index, encoding, section) {
  const where = `${section} record ${index}`;
  let V;
  try {
    V = pointFromBytes(encoding);
  } catch (exc) {
    if (exc instanceof FormatError) {
      throw new FormatError(`${where}: commitment: ${exc.message}`, { section: where, file: section, field: `record ${index}` });
    }
    throw exc;
  }
  if (isIdentity(V)) {
    throw new FormatError(`${where}: commitment is the identity`, { section: where, file: section, field: `record ${index}` });
  }
  return V;
}

/** decode_node: nodes record `index` as (commitment, hash); the identity allowed. */
function decodeNode(record, section, index) {
  const where = `${section}[${index}]`;
  try {
    return [pointFromBytes(record.subarray(0, POINT_SIZE)), record.subarray(POINT_SIZE, NODE_RECORD_SIZE)];
  } catch (exc) {
    if (exc instanceof FormatError) {
      throw new FormatError(`${where}: commitment: ${exc.message}`, { section: where, file: section, field: `record ${index}` });
    }
    throw exc;
  }
}

/** Require nodes record `index` to be C || H (verifier/sum_tree.py check_node_record). */
function checkNodeRecord(record, C, H, section, index, what) {
  if (equalBytes(record, concat(toBytes(C), H))) return;
  const [recorded] = decodeNode(record, section, index);
  const where = `${section}[${index}]`;
  const part = samePoint(recorded, C) ? 'hash' : 'commitment';
  throw new VerificationError(
    `${where}: the ${part} of ${what} is not what ${index % 2 === 0 ? 'the leaves' : 'its children'} imply`,
    { section: where, file: section, field: `record ${index}` },
  );
}

/** A range proof record of a data file: FormatError section "<where>" (decode_chunk_proof, decode_node_proof). */
function parseRecordProof(record, where, file, field) {
  try {
    return parseProof(record);
  } catch (exc) {
    if (exc instanceof FormatError) {
      const error = new FormatError(`${where}: ${exc.message}`, { section: where, file, field });
      error.cause = exc;
      throw error;
    }
    throw exc;
  }
}

// ---------------------------------------------------------------------------------------------
// Pending proofs, verified together in §8.1's order (package_tree.py Pending, verify_pending)

/**
 * Verify every pending proof in one batch (verifyRangeProofBatch, one MSM); report the lowest false one,
 * in the order of `pendings` and of their items (its owner's onFail), then run every onPass in order.
 * The list is emptied first, so a second call (while reporting the first one's failure) does nothing.
 */
function verifyPending(pendings) {
  const done = pendings.splice(0, pendings.length);
  const owners = done.flatMap((pending) => pending.items.map((item) => [pending, item]));
  if (owners.length) {
    try {
      verifyRangeProofBatch(owners.map(([, [, , , statement, proof]]) => ({ ...statement, proof })));
    } catch (exc) {
      if (!(exc instanceof BatchVerificationError)) throw exc;
      const pos = Math.min(...exc.badIndices);
      const [pending, [section, file, field]] = owners[pos];
      const reason = exc.reasons.get(pos) ?? GENERIC_FAILURE;
      const error = new VerificationError(`${section}: ${reason}`, { section, file, field });
      pending.onFail(error);
      throw error;
    }
  }
  for (const pending of done) pending.onPass();
}

// ---------------------------------------------------------------------------------------------
// The package alone (§8.1 step 4)

function failCheck(entry, name, message, section, { file = null, field = null } = {}) {
  entry.add(name, false, message);
  return new VerificationError(`${section}: ${message}`, { section, file, field });
}

/** Step 4 for an entry of package format 1: leaf id and Merkle path (verifier/package.py _check_entry_alone). */
function checkEntryAloneV1(pkg, file, i, entry, V, report) {
  const section = `package.entries[${i}]`;
  if (!equalBytes(leafId(pkg.round, entry.asset, pkg.customerId, entry.leafSalt), entry.leafId)) {
    throw failCheck(report, 'leaf id', 'the leaf id is not the hash of round, asset, customer id and salt', section, {
      file, field: `entries[${i}].leaf_id`,
    });
  }
  report.add('leaf id', true, `leaf id ${short(entry.leafId)} derives from your customer id and salt`);
  const h = leafHash(entry.leafId, entry.leafIndex, toBytes(V));
  let root;
  try {
    root = verifyMerklePath(h, entry.leafIndex, entry.leafCount, entry.merklePath);
  } catch (exc) {
    if (!(exc instanceof FormatError)) throw exc;
    const where = `${section}.merkle_path`;
    report.add('merkle path', false, exc.message);
    throw new FormatError(`${where}: ${exc.message}`, { section: where, file, field: `entries[${i}].merkle_path` });
  }
  if (!equalBytes(root, entry.merkleRoot)) {
    throw failCheck(
      report, 'merkle path',
      `the Merkle path from your commitment (amount ${report.amountDisplay}) does not lead to the root ${short(entry.merkleRoot)}`,
      section, { file, field: `entries[${i}].merkle_path` },
    );
  }
  report.add(
    'merkle path', true,
    `commitment to ${report.amountDisplay} ${entry.asset} at leaf ${entry.leafIndex} of ${entry.leafCount} ` +
      `leads to root ${short(entry.merkleRoot)}`,
  );
}

/** Step 4 for a sum-tree entry: leaf id, MTH_k from chunk_path, node_path points (package_tree.py check_entry_alone). */
function checkEntryAlone(pkg, file, i, entry, V, report, marginLeaf) {
  const section = `package.entries[${i}]`;
  if (marginLeaf !== undefined) {
    if (!equalBytes(entry.leafId, marginLeaf[0]) || !equalBytes(entry.leafSalt, marginLeaf[1])) {
      throw failCheck(
        report, 'leaf id',
        "the leaf id is not your margin record's leaf id for this asset (or the salt is not your margin salt)",
        section, { file, field: `entries[${i}].leaf_id` },
      );
    }
    report.add(
      'leaf id', true,
      `leaf id ${short(entry.leafId)} is your margin record's leaf id for ${entry.asset}, which derives from ` +
        'your customer id and margin salt',
    );
  } else if (!equalBytes(leafId(pkg.round, entry.asset, pkg.customerId, entry.leafSalt), entry.leafId)) {
    throw failCheck(report, 'leaf id', 'the leaf id is not the hash of round, asset, customer id and salt', section, {
      file, field: `entries[${i}].leaf_id`,
    });
  } else {
    report.add('leaf id', true, `leaf id ${short(entry.leafId)} derives from your customer id and salt`);
  }
  const m = entry.chunkSize;
  const k = entry.chunk;
  const h = leafHash(entry.leafId, entry.leafIndex, toBytes(V));
  let mth;
  try {
    mth = verifyMerklePath(h, entry.leafIndex - k * m, m, entry.chunkPath);
  } catch (exc) {
    if (!(exc instanceof FormatError)) throw exc;
    const where = `${section}.chunk_path`;
    report.add('chunk path', false, exc.message);
    throw new FormatError(`${where}: ${exc.message}`, { section: where, file, field: `entries[${i}].chunk_path` });
  }
  report.add(
    'chunk path', true,
    `commitment to ${report.amountDisplay} ${entry.asset} at leaf ${entry.leafIndex} is position ` +
      `${entry.leafIndex - k * m} of chunk ${k}, whose tree hash is ${short(mth)}`,
  );
  const fields = entry.nodePath.map((item, t) => [`node_path[${t}].commitment`, item.commitment]);
  fields.push(['liabilities_commitment', entry.liabilitiesCommitment]);
  const points = [];
  for (const [name, encoding] of fields) {
    try {
      points.push(pointFromBytes(encoding));
    } catch (exc) {
      if (!(exc instanceof FormatError)) throw exc;
      const where = `${section}.${name}`;
      report.add('node path', false, exc.message);
      throw new FormatError(`${where}: ${exc.message}`, { section: where, file, field: `entries[${i}].${name}` });
    }
  }
  report.add('node path', true, `the ${entry.nodePath.length} sibling commitments of your path decode`);
  return { chunkTreeHash: mth, siblings: entry.nodePath.map((item, t) => [points[t], item.hash]) };
}

const MARGIN_SECTION = 'package.margin';

function marginFail(report, name, message, section = MARGIN_SECTION, { file = 'package', field = 'margin' } = {}) {
  report.add(name, false, message);
  return new VerificationError(`${section}: ${message}`, { section, file, field });
}

/** Per asset of a real margin slot: the (leaf_id, leaf_salt) its entry must carry (package_margin.py slot_leaf_ids). */
function slotLeafIds(pkg) {
  const out = new Map();
  if (pkg.margin === null) return out;
  const recordId = marginRecordId(pkg.round, pkg.customerId, pkg.margin.marginSalt);
  for (const s of pkg.margin.slots) {
    if (!s.dummy) out.set(s.asset, [marginLeafId(recordId, s.asset), pkg.margin.marginSalt]);
  }
  return out;
}

/** The margin checks of the package alone (package_margin.py check_margin_alone). */
function checkMarginAlone(pkg, file, pcGens, report) {
  const margin = pkg.margin;
  if (!equalBytes(marginRecordId(pkg.round, pkg.customerId, margin.marginSalt), margin.recordId)) {
    throw marginFail(report, 'margin record id', 'the margin record id is not the hash of round, customer id and margin salt',
      MARGIN_SECTION, { file, field: 'margin.record_id' });
  }
  report.add('margin record id', true,
    `margin record id ${toHex(margin.recordId).slice(0, 16)}... derives from your customer id and margin salt`);
  const balances = new Map(pkg.entries.map((e) => [e.asset, e.amount]));
  margin.slots.forEach((slot, s) => {
    if (slot.dummy) return;
    const pledged = slot.collateral.reduce((sum, c) => sum + c.amount, 0n);
    if (slot.unpledged + pledged !== balances.get(slot.asset)) {
      throw marginFail(report, 'margin amounts',
        `your ${slot.asset} unpledged equity and pledged collateral do not add up to your ${slot.asset} balance`,
        `${MARGIN_SECTION}.slots[${s}]`, { file, field: `margin.slots[${s}]` });
    }
  });
  report.add('margin amounts', true,
    'in each of your margin slots, unpledged equity plus pledged collateral is your balance in that asset');
  const c = (v, r) => commit(pcGens, v, r);
  return {
    D: margin.slots.map((s) => c(s.debt, s.debtBlinding)),
    W: margin.slots.map((s) => c(s.unpledged, s.unpledgedBlinding)),
    V: margin.slots.map((s) => s.collateral.map((x) => c(x.value, x.valueBlinding))),
    H: margin.slots.map((s) => s.collateral.map((x) => c(x.haircut, x.haircutBlinding))),
    Lo: c(margin.lo, margin.loBlinding),
  };
}

// ---------------------------------------------------------------------------------------------
// With the bundle: the manifest, then each entry (§8.1 steps 5 and 6)

/** The bundle format versions a package of each format version is for (§8, §14.6). */
const BUNDLE_VERSIONS = { 1: [1, 2], 2: [3], 3: [4] };

function readManifest(files) {
  const data = files.get(MANIFEST_NAME);
  if (data === undefined) throw cannotRead('manifest', MANIFEST_NAME);
  return parseManifest(data);
}

function decodeManifestPoints(manifest, key) {
  return manifest.assets.map((asset, i) => {
    const section = `manifest.assets[${i}].${key}`;
    try {
      return pointFromBytes(key === 'liabilities_commitment' ? asset.liabilitiesCommitment : asset.debtCommitment);
    } catch (exc) {
      if (!(exc instanceof FormatError)) throw exc;
      throw new FormatError(`${section}: ${exc.message}`, { section, file: MANIFEST_NAME, field: `assets[${i}].${key}` });
    }
  });
}

/** Find the entry's asset in the manifest; require the package's decimals, root and leaf count (_asset_in_bundle). */
function assetInBundle(manifest, file, i, entry, report) {
  const section = `package.entries[${i}]`;
  const index = manifest.assets.findIndex((a) => a.symbol === entry.asset);
  if (index < 0) {
    throw failCheck(report, 'asset in bundle', `the bundle has no asset ${entry.asset}`, section, {
      file, field: `entries[${i}].asset`,
    });
  }
  const asset = manifest.assets[index];
  if (asset.decimals !== entry.decimals) {
    throw failCheck(report, 'asset in bundle',
      `the bundle gives ${entry.asset} ${asset.decimals} decimals, the package ${entry.decimals}`, section, {
        file, field: `entries[${i}].decimals`,
      });
  }
  if (!equalBytes(asset.merkleRoot, entry.merkleRoot) || asset.leafCount !== entry.leafCount) {
    throw failCheck(report, 'asset in bundle',
      `the bundle's ${entry.asset} Merkle root and leaf count (${short(asset.merkleRoot)}, ${asset.leafCount}) ` +
        `are not the package's (${short(entry.merkleRoot)}, ${entry.leafCount})`, section, {
        file, field: `entries[${i}].merkle_root`,
      });
  }
  report.add('asset in bundle', true, `the manifest's ${entry.asset} root and leaf count are the package's`);
  return index;
}

/** Step 6 of §8.1 "Version 3" for entry i (package_tree.py check_entry): returns [checked, pending]. */
function checkTreeEntry(files, manifest, assetIndex, C_L, file, i, entry, V, alone, pcGens, report, earlier, C_D) {
  const asset = manifest.assets[assetIndex];
  const section = `package.entries[${i}]`;
  if (asset.chunkSize !== entry.chunkSize || !equalBytes(asset.liabilitiesCommitment, entry.liabilitiesCommitment)) {
    throw failCheck(report, 'asset in bundle',
      `the bundle's ${entry.asset} chunk size and liabilities commitment are not the package's`, section, {
        file, field: `entries[${i}].liabilities_commitment`,
      });
  }
  report.add('asset in bundle', true, `the manifest's ${entry.asset} chunk size and C_L are the package's`);
  const roles = Object.fromEntries(fileRoles(asset).map(([key, ...rest]) => [key, rest]));
  const opened = [];
  const open = (key) => {
    const f = new RecordFile(files, ...roles[key]);
    opened.push(f);
    return f;
  };
  try {
    const leaves = files.has(asset.leaves.name) ? open('leaves') : null;
    const proofs = open('range_proofs');
    const nodes = open('nodes');
    const nodeProofs = open('node_proofs');
    const solvency = open('solvency');
    report.add('files', true, `the ${entry.asset} files are regular files with the manifest's sizes and headers`);
    return checkRecords(manifest, asset, assetIndex, C_L, file, i, entry, V, alone, pcGens, report,
      leaves, proofs, nodes, nodeProofs, solvency, earlier, C_D);
  } finally {
    for (const f of opened) report.bytesRead[f.section] = f.bytesRead;
  }
}

/** Items 2 to 7 of §8.1 "Version 3" over the opened files; the proofs are returned for the batch. */
function checkRecords(manifest, asset, assetIndex, C_L, file, i, entry, V, alone, pcGens, report,
  leaves, proofs, nodes, nodeProofs, solvency, earlier, C_D) {
  const section = `package.entries[${i}]`;
  const m = asset.chunkSize;
  const k = entry.chunk;
  const leavesSection = asset.leaves.name;
  const items = [];
  
  let chunkC = null;
  let chunkMth = alone.chunkTreeHash;
  if (leaves !== null) {
    const body = leaves.records(k * m, m);
    const expected = concat(entry.leafId, toBytes(V));
    let previousId = new Uint8Array(0);
    const commitments = [];
    const hashes = [];
    for (let t = 0; t < m; t += 1) {
      const j = k * m + t;
      const id = body.subarray(t * LEAF_RECORD_SIZE, t * LEAF_RECORD_SIZE + 32);
      const encoding = body.subarray(t * LEAF_RECORD_SIZE + 32, (t + 1) * LEAF_RECORD_SIZE);
      const where = `${leavesSection} record ${j}`;
      if (compareBytes(id, previousId) <= 0) {
        report.add('leaf record', false, 'leaf ids do not increase');
        throw new FormatError(`${where}: leaf id is not greater than the previous one`, {
          section: where, file: leavesSection, field: `record ${j}`,
        });
      }
      previousId = id;
      if (j === entry.leafIndex && !equalBytes(concat(id, encoding), expected)) {
        throw failCheck(report, 'leaf record', "the bundle's leaf at your index is not your (leaf id, commitment)", where, {
          file: leavesSection, field: `record ${j}`,
        });
      }
      let point;
      try {
        point = decodeLeaf(j, encoding, leavesSection);
      } catch (exc) {
        if (exc instanceof FormatError) report.add('leaf record', false, exc.message);
        throw exc;
      }
      commitments.push(point);
      hashes.push(leafHash(id, j, encoding));
    }
    report.add('leaf record', true,
      `record ${entry.leafIndex} of ${leavesSection} is your leaf id and commitment; the ${m} records of ` +
        `chunk ${k} decode with increasing ids`);
    chunkC = sumPoints(commitments);
    chunkMth = chunkHash(hashes);
    const where = `${asset.rangeProofs.name} chunk ${k}`;
    let chunkProof;
    try {
      chunkProof = parseRecordProof(proofs.record(k), where, asset.rangeProofs.name, `chunk ${k}`);
    } catch (exc) {
      if (exc instanceof FormatError) report.add('chunk range proof', false, (exc.cause ?? exc).message);
      throw exc;
    }
    items.push([where, asset.rangeProofs.name, `chunk ${k}`, chunkStatement(manifest, asset, k, commitments), chunkProof]);
  }

  let nodeChildren;
  let name;
  let solvencyRange;
  let solvencyProof;
  try {
    nodeChildren = checkPath(asset, C_L, file, i, entry, alone, report, nodes, section, chunkC, chunkMth);
    for (const [split, left, right] of nodeChildren) {
      const where = `${nodeProofs.section}[${split - 1}]`;
      let proof;
      try {
        proof = parseRecordProof(nodeProofs.record(split - 1), where, nodeProofs.section, `record ${split - 1}`);
      } catch (exc) {
        if (exc instanceof FormatError) report.add('node proofs', false, (exc.cause ?? exc).message);
        throw exc;
      }
      items.push([where, nodeProofs.section, `record ${split - 1}`, nodeStatement(manifest, asset, split, left, right), proof]);
    }
    name = asset.solvency.name;
    try {
      solvencyProof = parseProof(solvency.record(0));
    } catch (exc) {
      if (!(exc instanceof FormatError)) throw exc;
      report.add('solvency proof', false, exc.message);
      throw new FormatError(`${name}: ${exc.message}`, { section: name, file: name });
    }
    solvencyRange = solvencyStatement(manifest, asset, C_L, C_D, pcGens);
    if (isIdentity(solvencyRange.commitments[0])) {
      const what = C_D === null ? 'num*C_L' : 'num*(C_L - C_D)';
      throw failCheck(report, 'solvency proof', `V_s = den*R*B - ${what} is the identity`, name, { file: name });
    }
  } catch (exc) {
    if (!(exc instanceof ZkError)) throw exc;
    // §8.1 order: the earlier entries' proofs, then a false chunk proof (item 3), before anything after it.
    earlier();
    if (leaves !== null) {
      const [chunkWhere, chunkFile, chunkField, statement, chunkProof] = items[0];
      const reason = proofFailure(statement, chunkProof);
      if (reason !== null) {
        throw failCheck(report, 'chunk range proof', `the range proof of chunk ${k} does not verify (${reason})`,
          chunkWhere, { file: chunkFile, field: chunkField });
      }
    }
    throw exc;
  }
  items.push([name, name, '', solvencyRange, solvencyProof]);

  const onFail = (exc) => {
    const failed = exc.file;
    if (leaves !== null && failed === asset.rangeProofs.name) {
      report.add('chunk range proof', false, exc.message);
    } else if (failed === nodeProofs.section) {
      if (leaves !== null) report.add('chunk range proof', true, `chunk ${k} proves each balance in it is in [0, 2^64)`);
      report.add('node proofs', false, exc.message);
    } else {
      report.add('solvency proof', false, exc.message);
    }
  };
  const onPass = () => {
    if (leaves !== null) {
      report.add('chunk range proof', true,
        `chunk ${k} (leaves ${k * m}..${k * m + m - 1}) proves each balance in it is in [0, 2^64)`);
    }
    report.add('node proofs', true,
      `the ${nodeChildren.length} node proofs on your path show each child sum is in [0, 2^128)`);
    const disclosed = [['disclosed_liabilities', asset.disclosedLiabilities, C_L, 'C_L']];
    if (C_D !== null) disclosed.push(['disclosed_debt', asset.disclosedDebt, C_D, 'the debt commitment C_D']);
    for (const [key, opening, commitment, what] of disclosed) {
      if (opening === null) continue;
      if (!samePoint(commit(pcGens, opening[0], opening[1]), commitment)) {
        throw failCheck(report, 'solvency proof', `the disclosed opening does not open ${what}`,
          `manifest.assets[${assetIndex}].${key}`, { file: MANIFEST_NAME, field: `assets[${assetIndex}].${key}` });
      }
    }
    const against = C_D === null
      ? 'C_L, the root of the sum tree'
      : 'C_L - C_D: the liabilities commitment C_L, the root of the sum tree, less the debt commitment C_D';
    report.add('solvency proof', true,
      `the solvency proof verifies for reserves ${formatUnits(asset.reserves, asset.decimals)} ${asset.symbol} ` +
        `against ${against}`);
  };
  return [leaves !== null, { items, onFail, onPass }];
}

/** Items 4 and 5: the chunk node, the path's siblings and parents, the root (package_tree.py _check_path). */
function checkPath(asset, C_L, file, i, entry, alone, report, nodes, section, chunkC, chunkMth) {
  const k = entry.chunk;
  const chunks = asset.chunkCount;
  const nodesSection = nodes.section;
  const record = nodes.record(2 * k);
  let cSelf;
  let hSelf;
  if (chunkC !== null) {
    const hK = chunkNodeHash(toBytes(chunkC), chunkMth);
    try {
      checkNodeRecord(record, chunkC, hK, nodesSection, 2 * k, `chunk node ${k}`);
    } catch (exc) {
      if (exc instanceof ZkError) report.add('chunk node', false, exc.message);
      throw exc;
    }
    if (!equalBytes(chunkMth, alone.chunkTreeHash)) {
      throw failCheck(report, 'chunk node', "your chunk path does not lead to the tree hash of your chunk's leaves",
        section, { file, field: `entries[${i}].chunk_path` });
    }
    [cSelf, hSelf] = [chunkC, hK];
  } else {
    try {
      [cSelf, hSelf] = decodeNode(record, nodesSection, 2 * k);
    } catch (exc) {
      if (exc instanceof ZkError) report.add('chunk node', false, exc.message);
      throw exc;
    }
    if (!equalBytes(hSelf, chunkNodeHash(toBytes(cSelf), alone.chunkTreeHash))) {
      throw failCheck(report, 'chunk node',
        `the hash of chunk node ${k} does not bind the tree hash your chunk path gives`,
        `${nodesSection}[${2 * k}]`, { file: nodesSection, field: `record ${2 * k}` });
    }
  }
  report.add('chunk node', true, `record ${2 * k} of ${nodesSection} is chunk node ${k} with your leaf in it`);

  const children = [];
  chunkPath(chunks, k).forEach((step, t) => {
    let cSib;
    let hSib;
    try {
      [cSib, hSib] = decodeNode(nodes.record(step.sibling), nodesSection, step.sibling);
    } catch (exc) {
      if (exc instanceof ZkError) report.add('sum tree path', false, exc.message);
      throw exc;
    }
    const [cExpected, hExpected] = alone.siblings[t];
    if (!samePoint(cSib, cExpected) || !equalBytes(hSib, hExpected)) {
      throw failCheck(report, 'sum tree path',
        `sibling ${t} of your path (record ${step.sibling}) is not the one your package's node_path lists`,
        section, { file, field: `entries[${i}].node_path[${t}]` });
    }
    const [[cLeft, hLeft], [cRight, hRight]] = step.siblingIsLeft
      ? [[cSib, hSib], [cSelf, hSelf]]
      : [[cSelf, hSelf], [cSib, hSib]];
    cSelf = cLeft.add(cRight);
    hSelf = sumNodeHash(toBytes(cSelf), hLeft, hRight);
    try {
      checkNodeRecord(nodes.record(step.parent), cSelf, hSelf, nodesSection, step.parent,
        `the sum node of split ${step.parentSplit}`);
    } catch (exc) {
      if (exc instanceof ZkError) report.add('sum tree path', false, exc.message);
      throw exc;
    }
    children.push([step.parentSplit, cLeft, cRight]);
  });
  report.add('sum tree path', true,
    `each of the ${children.length} sum nodes on your path is the sum of its children, and your node_path is the bundle's`);
  if ((children.length ? children[children.length - 1][0] * 2 - 1 : 2 * k) !== rootIndex(chunks)) {
    throw new Error('the path does not end at the root');
  }
  if (!equalBytes(hSelf, asset.merkleRoot) || !samePoint(cSelf, C_L)) {
    const part = !equalBytes(hSelf, asset.merkleRoot)
      ? "hash is not the manifest's merkle_root"
      : "commitment is not the manifest's liabilities_commitment";
    throw failCheck(report, 'root', `the root of the sum tree's ${part}`, nodesSection, { file: nodesSection });
  }
  report.add('root', true, `your path reaches the root ${short(asset.merkleRoot)}, which commits to C_L`);
  return children;
}

// ---------------------------------------------------------------------------------------------
// The margin account with the bundle (§14.6; verifier/package_margin.py check_margin)

/** Parse record `index` of margin.records.bin (circuits/margin.py MarginRecord.from_bytes). */
function parseMarginRecord(data, params, index, leafCounts) {
  const section = `margin.records.bin record ${index}`;
  const fail = (message) => new FormatError(`${section}: ${message}`, {
    section, file: 'margin.records.bin', field: `record ${index}`,
  });
  if (data.length !== params.recordSize) throw fail(`expected ${params.recordSize} bytes`);
  const view = new DataView(data.buffer, data.byteOffset, data.length);
  const size = params.slotSize;
  const heads = [];
  let previous = -1;
  for (let s = 0; s < params.slots; s += 1) {
    const asset = view.getUint16(32 + s * size, true);
    const leaf = view.getUint32(32 + s * size + 2, true);
    if (asset >= params.assets.length) throw fail(`slot ${s}: asset position ${asset} >= the asset count ${params.assets.length}`);
    if (asset <= previous) throw fail(`slot ${s}: slot assets must increase strictly within a record`);
    if (leaf >= leafCounts[asset]) throw fail(`slot ${s}: leaf index ${leaf} >= the leaf count ${leafCounts[asset]} of its asset`);
    heads.push([asset, leaf]);
    previous = asset;
  }
  const point = (offset, what) => {
    let P;
    try {
      P = pointFromBytes(data.subarray(offset, offset + POINT_SIZE));
    } catch (exc) {
      if (exc instanceof FormatError) throw fail(`${what}: ${exc.message}`);
      throw exc;
    }
    if (isIdentity(P)) throw fail(`${what}: the identity`);
    return P;
  };
  const slots = heads.map(([asset, leaf], s) => {
    const base = 32 + s * size + 6;
    const D = point(base, `slot ${s} D`);
    const W = point(base + POINT_SIZE, `slot ${s} W`);
    const V = [];
    const H = [];
    for (let j = 0; j < params.types; j += 1) V.push(point(base + (2 + 2 * j) * POINT_SIZE, `slot ${s} V[${j}]`));
    for (let j = 0; j < params.types; j += 1) H.push(point(base + (3 + 2 * j) * POINT_SIZE, `slot ${s} H[${j}]`));
    return { asset, leaf, D, W, V, H };
  });
  const Lo = point(32 + params.slots * size, 'Lo');
  return { recordId: data.subarray(0, 32), slots, Lo };
}

/** A name for each of the Q values (circuits/margin.py value_labels). */
function valueLabels(params) {
  const out = [];
  for (let s = 0; s < params.slots; s += 1) {
    out.push(`slot ${s} debt`, `slot ${s} unpledged`, `slot ${s} remainder`);
    for (const name of params.collateralTypes) {
      out.push(`slot ${s} ${name} value`);
      for (let t = 0; t < params.tiers; t += 1) out.push(`slot ${s} ${name} slack ${t + 1}`);
    }
  }
  out.push('excess lo', 'excess hi');
  return out;
}

const INV_2_64 = invert(1n << 64n);

/** The account's Q points (§14.4; circuits/margin.py value_list). */
function valueList(params, record, leafPoints, pcGens) {
  const delta = 10n ** BigInt(params.dMax);
  const out = [];
  const hiPoints = [];
  const hiScalars = [];
  record.slots.forEach((slot, s) => {
    const a = params.assets[slot.asset];
    const dec = 10n ** BigInt(a.decimals);
    const rho = msm([leafPoints[s], slot.W, ...slot.V], [mod(a.price), mod(-a.price), ...slot.V.map(() => mod(-dec))]);
    out.push(slot.D, slot.W, rho);
    slot.V.forEach((V, k) => {
      out.push(V);
      for (const [A, ratio] of params.lines(slot.asset, k)) {
        out.push(msm([pcGens.B, V, slot.H[k]], [mod(A), mod(ratio), GROUP_ORDER - 1n]));
      }
      hiPoints.push(slot.H[k]);
      hiScalars.push(mod(delta * INV_2_64));
    });
    const weight = 100n * a.price * 10n ** BigInt(params.dMax - a.decimals);
    hiPoints.push(slot.D);
    hiScalars.push(mod(-weight * INV_2_64));
  });
  hiPoints.push(record.Lo);
  hiScalars.push(mod(-INV_2_64));
  out.push(record.Lo, msm(hiPoints, hiScalars));
  return out;
}

/** Step 1: the package's record count, slots and types are the manifest's, its values the schedule's. */
function checkMarginShape(manifest, params, margin, report) {
  if (margin.recordCount !== params.accounts || margin.slots.length !== params.slots ||
    margin.collateralTypes.join('\n') !== params.collateralTypes.join('\n')) {
    throw marginFail(report, 'margin parameters',
      `the package's margin account (${margin.recordCount} records, ${margin.slots.length} slots, types ` +
        `${margin.collateralTypes.join(', ')}) does not fit the bundle's margin section (${params.accounts} ` +
        `records, ${params.slots} slots, types ${params.collateralTypes.join(', ')})`);
  }
  const symbols = manifest.assets.map((a) => a.symbol);
  const positions = margin.slots.map((slot, s) => {
    const a = symbols.indexOf(slot.asset);
    if (a < 0) throw marginFail(report, 'margin parameters', `slot ${s}: the bundle has no asset ${slot.asset}`);
    const asset = params.assets[a];
    slot.collateral.forEach((c, k) => {
      const value = collateralValue(asset.price, c.amount, asset.decimals);
      const haircut = scaledHaircut(asset.haircuts[k], c.value);
      if (c.value !== value || c.haircut !== haircut) {
        const what = c.value !== value ? 'value' : 'haircut value';
        throw marginFail(report, 'margin parameters',
          `slot ${s} (${slot.asset}, ${c.type}): the package's collateral ${what} is not the one the ` +
            `bundle's price and haircut schedule give (${c.value !== value ? value : haircut})`);
      }
    });
    return a;
  });
  report.add('margin parameters', true,
    "the bundle's margin section has your record count, slot count and collateral types, and each collateral " +
      "value and haircut value of your package is the one its price and haircut schedule give");
  return positions;
}

/** Step 2: the record's id, its path to margin.root, its slots and its commitments are the package's. */
function checkMarginRecord(margin, record, data, root, positions, alone, report) {
  if (!equalBytes(record.recordId, margin.recordId)) {
    throw marginFail(report, 'margin record', `record ${margin.recordIndex} of the bundle is another account's`);
  }
  let found;
  try {
    found = verifyMerklePath(marginRecordHash(data), margin.recordIndex, margin.recordCount, margin.merklePath);
  } catch (exc) {
    if (!(exc instanceof FormatError)) throw exc;
    const where = `${MARGIN_SECTION}.merkle_path`;
    report.add('margin record', false, exc.message);
    throw new FormatError(`${where}: ${exc.message}`, { section: where, field: 'margin.merkle_path' });
  }
  if (!equalBytes(found, root)) {
    throw marginFail(report, 'margin record', "your margin record's audit path does not lead to the bundle's margin.root");
  }
  report.add('margin record', true,
    `record ${margin.recordIndex} of the ${margin.recordCount} margin records (dummy accounts included) is ` +
      `yours, and its audit path reaches margin.root ${toHex(root).slice(0, 16)}...`);
  margin.slots.forEach((slot, s) => {
    const named = record.slots[s];
    if (named.asset !== positions[s] || named.leaf !== slot.leafIndex) {
      throw marginFail(report, 'margin slots',
        `slot ${s} of your record names another leaf than your package's (${slot.asset} leaf ${slot.leafIndex})`);
    }
  });
  report.add('margin slots', true, `the ${margin.slots.length} slots of your record name your package's leaves`);
  margin.slots.forEach((slot, s) => {
    const named = record.slots[s];
    const pairs = [['debt', named.D, alone.D[s]], ['unpledged equity', named.W, alone.W[s]]];
    slot.collateral.forEach((c, k) => {
      pairs.push([`${c.type} value`, named.V[k], alone.V[s][k]], [`${c.type} haircut`, named.H[k], alone.H[s][k]]);
    });
    for (const [what, got, expected] of pairs) {
      if (!samePoint(got, expected)) {
        throw marginFail(report, 'margin openings',
          `slot ${s} (${slot.asset}): the record's ${what} commitment is not the one your package opens`);
      }
    }
  });
  if (!samePoint(record.Lo, alone.Lo)) {
    throw marginFail(report, 'margin openings', "the record's Lo commitment is not the one your package opens");
  }
  report.add('margin openings', true,
    'every commitment of your record (debt, unpledged equity, collateral values, haircut values, Lo) opens to ' +
      "your package's amounts");
}

/** §14.6 with the bundle (package_margin.py check_margin); returns the account's proofs for the batch. */
function checkMargin(files, manifest, pkg, entryPoints, alone, liabilities, debts, pcGens, report, earlier) {
  const margin = pkg.margin;
  const result = new MarginAccountReport(margin.recordIndex, margin.recordCount, margin.slots.length);
  report.margin = result;
  const opened = [];
  try {
    return checkMarginFiles(files, manifest, pkg, margin, entryPoints, alone, liabilities, debts, pcGens, report,
      result, opened);
  } catch (exc) {
    if (exc instanceof ZkError) earlier();
    throw exc;
  } finally {
    for (const f of opened) result.bytesRead[f.section] = f.bytesRead;
  }
}

function checkMarginFiles(files, manifest, pkg, margin, entryPoints, alone, liabilities, debts, pcGens, report,
  result, opened) {
  const params = manifest.margin;
  const root = manifest.marginRoot;
  const positions = checkMarginShape(manifest, params, margin, report);
  const j = margin.recordIndex;
  const open = (...args) => {
    const f = new RecordFile(files, ...args);
    opened.push(f);
    return f;
  };

  const records = open(manifest.marginRecords, MAGIC_MARGIN_RECORDS, params.accounts, params.recordSize);
  const data = records.record(j);
  const record = parseMarginRecord(data, params, j, manifest.assets.map((a) => a.leafCount));
  checkMarginRecord(margin, record, data, root, positions, alone, report);

  // 3. the leaves: the real slots' are the package's entries; the dummy slots' are read by offset.
  const points = [];
  for (let s = 0; s < margin.slots.length; s += 1) {
    const slot = margin.slots[s];
    const asset = manifest.assets[positions[s]];
    if (!slot.dummy) {
      points.push(entryPoints.get(slot.asset));
      continue;
    }
    if (!files.has(asset.leaves.name)) {
      report.add('margin leaves', true,
        `NOT checked: the ${asset.symbol} leaves file is absent or unreadable, so dummy slot ${s}'s leaf could not be read`);
      return { items: [], onFail: () => {}, onPass: () => {} };
    }
    const leaves = open(asset.leaves, MAGIC_LEAVES, asset.leafCount, LEAF_RECORD_SIZE);
    const leaf = leaves.record(slot.leafIndex);
    const where = `${asset.leaves.name} record ${slot.leafIndex}`;
    if (!equalBytes(leaf.subarray(0, 32), marginLeafId(record.recordId, asset.symbol))) {
      throw marginFail(report, 'margin leaves',
        `the leaf named by dummy slot ${s} does not carry your record's margin leaf id`, where, {
          file: asset.leaves.name, field: `record ${slot.leafIndex}`,
        });
    }
    try {
      points.push(decodeLeaf(slot.leafIndex, leaf.subarray(32), asset.leaves.name));
    } catch (exc) {
      if (exc instanceof FormatError) report.add('margin leaves', false, exc.message);
      throw exc;
    }
  }
  report.add('margin leaves', true,
    "the leaves of your record's slots are your leaves and, for padding slots, zero leaves carrying your record's " +
      'margin leaf id');

  // 4. the account's proofs (and the solvency proofs of slot assets the entries do not cover).
  const name = manifest.marginProofs.name;
  const proofs = open(manifest.marginProofs, MAGIC_MARGIN_PROOFS, params.accounts, params.proofsRecordSize);
  const recordBytes = proofs.record(j);
  const parts = [];
  let offset = 0;
  try {
    params.parts.forEach((m, p) => {
      const size = rangeRecordSize(m);
      try {
        parts.push(parseProof(recordBytes.subarray(offset, offset + size)));
      } catch (exc) {
        if (!(exc instanceof FormatError)) throw exc;
        const where = `${name} record ${j}`;
        throw new FormatError(`${where}: part ${p} (${m} values): ${exc.message}`, {
          section: where, file: name, field: `record ${j}`,
        });
      }
      offset += size;
    });
  } catch (exc) {
    if (exc instanceof FormatError) report.add('margin proofs', false, exc.message);
    throw exc;
  }
  const values = valueList(params, record, points, pcGens);
  const labels = valueLabels(params);
  const label = labels.find((_, t) => isIdentity(values[t]));
  if (label !== undefined) {
    throw marginFail(report, 'margin proofs', `the derived value ${pyRepr(label)} is the identity`,
      `${name} record ${j}`, { file: name, field: `record ${j}` });
  }
  const items = marginPartStatements(params, manifest, j).map((st, p) => [
    `${name} record ${j}`, name, `record ${j} part ${st.part}`,
    { commitments: values.slice(st.offset, st.offset + st.size), bits: RANGE_BITS, context: st.context }, parts[p],
  ]);
  const covered = new Set(pkg.entries.map((e) => e.asset));
  const extra = [...new Set(positions.filter((a, s) => !covered.has(margin.slots[s].asset)))].sort((x, y) => x - y);
  for (const a of extra) {
    const asset = manifest.assets[a];
    const solvency = open(asset.solvency, MAGIC_SOLVENCY, 1, SOLVENCY_RECORD_SIZE);
    let proof;
    try {
      proof = parseProof(solvency.record(0));
    } catch (exc) {
      if (!(exc instanceof FormatError)) throw exc;
      report.add('margin solvency', false, exc.message);
      throw new FormatError(`${asset.solvency.name}: ${exc.message}`, { section: asset.solvency.name, file: asset.solvency.name });
    }
    const range = solvencyStatement(manifest, asset, liabilities[a], debts[a], pcGens);
    if (isIdentity(range.commitments[0])) {
      throw marginFail(report, 'margin solvency', 'V_s = den*R*B - num*(C_L - C_D) is the identity',
        asset.solvency.name, { file: asset.solvency.name, field: null });
    }
    items.push([asset.solvency.name, asset.solvency.name, '', range, proof]);
  }
  result.proofs = parts.length;
  const extraSymbols = extra.map((a) => manifest.assets[a].symbol);
  const onFail = (exc) => {
    if (exc.file === name) {
      report.add('margin proofs', false, exc.message);
    } else {
      report.add('margin proofs', true, `the ${parts.length} range proofs of your margin account verify`);
      report.add('margin solvency', false, exc.message);
    }
  };
  const onPass = () => {
    result.proofsChecked = true;
    report.add('margin proofs', true,
      `the ${parts.length} range proofs of your account's ${params.valuesPerAccount} values verify: every ` +
        'debt, unpledged equity, floor remainder, collateral value, tier slack and excess limb is in [0, 2^64)');
    if (extraSymbols.length) {
      report.add('margin solvency', true,
        `the solvency proofs of ${extraSymbols.join(', ')} (assets of your padding slots) verify against C_L - C_D`);
    }
  };
  return { items, onFail, onPass };
}

// ---------------------------------------------------------------------------------------------
// Package format 1 with a bundle of format 1: every leaf, every chunk proof (§8.1 steps 6.2-6.5)

const ASSET_STEPS = [['merkleRootOk', 'merkle root'], ['sumOk', 'liabilities sum'], ['rangeProofsOk', 'range proofs'],
  ['solvencyOk', 'solvency proof']];

function assetStepDetail(name, asset) {
  if (name === 'merkle root') return `all ${asset.leafCount} leaves hash to the manifest's root`;
  if (name === 'liabilities sum') return `your commitment is one of the ${asset.leafCount} leaves summing to C_L`;
  if (name === 'range proofs') {
    return `all ${asset.chunkCount} chunk range proofs verify: every one of the ${asset.leafCount} committed ` +
      'balances is in [0, 2^64)';
  }
  return `reserves ${formatUnits(asset.reserves, asset.decimals)} ${asset.symbol} >= ` +
    `${formatRatio(asset.num, asset.den)} x liabilities`;
}

function recordAssetSteps(report, asset, verified, error) {
  for (const [flag, name] of ASSET_STEPS) {
    if (verified[flag]) {
      report.add(name, true, assetStepDetail(name, asset));
      continue;
    }
    if (error !== null && (!report.checks.length || report.checks[report.checks.length - 1].passed)) {
      const failed = error instanceof FormatError && flag === 'merkleRootOk' ? 'leaf records' : name;
      report.add(failed, false, error.message);
    }
    return;
  }
}

/** verifier/bundle.py verify_asset for a leaf-tree asset, watching the customer's own record. */
function verifyLeafTreeAsset(files, manifest, assetIndex, C_L_manifest, pcGens, verified, watchIndex, watch) {
  const asset = manifest.assets[assetIndex];
  const m = asset.chunkSize;
  const leavesSection = asset.leaves.name;
  const leaves = files.get(asset.leaves.name);
  const proofs = files.get(asset.rangeProofs.name);
  const proofSize = rangeRecordSize(m);
  const merkle = new MerkleAccumulator();
  let total = IDENTITY;
  let previousId = new Uint8Array(0);
  let failure = null;
  for (let k = 0; k < asset.chunkCount; k += 1) {
    const commitments = [];
    for (let t = 0; t < m; t += 1) {
      const i = k * m + t;
      const at = HEADER_SIZE + i * LEAF_RECORD_SIZE;
      const id = leaves.subarray(at, at + 32);
      const encoding = leaves.subarray(at + 32, at + LEAF_RECORD_SIZE);
      if (compareBytes(id, previousId) <= 0) {
        const where = `${leavesSection} record ${i}`;
        throw new FormatError(`${where}: leaf id is not greater than the previous one`, {
          section: where, file: leavesSection, field: `record ${i}`,
        });
      }
      previousId = id;
      if (i === watchIndex) watch(id, encoding);
      const V = decodeLeaf(i, encoding, leavesSection);
      merkle.push(leafHash(id, i, encoding));
      total = total.add(V);
      commitments.push(V);
    }
    if (failure !== null) continue;
    const where = `${asset.rangeProofs.name} chunk ${k}`;
    const record = proofs.subarray(HEADER_SIZE + k * proofSize, HEADER_SIZE + (k + 1) * proofSize);
    let proof;
    try {
      proof = parseRecordProof(record, where, asset.rangeProofs.name, `chunk ${k}`);
    } catch (exc) {
      if (!(exc instanceof FormatError)) throw exc;
      failure = exc;
      continue;
    }
    const reason = proofFailure(chunkStatement(manifest, asset, k, commitments), proof);
    if (reason !== null) {
      failure = new VerificationError(`${where}: ${reason}`, { section: where, file: asset.rangeProofs.name, field: `chunk ${k}` });
    }
  }
  const root = merkle.root();
  if (!equalBytes(root, asset.merkleRoot)) {
    throw new VerificationError(
      `${leavesSection}: the Merkle root of the leaves is ${toHex(root)}, the manifest says ${toHex(asset.merkleRoot)}`,
      { section: leavesSection, file: leavesSection },
    );
  }
  verified.merkleRootOk = true;
  if (!samePoint(total, C_L_manifest)) {
    throw new VerificationError(`${leavesSection}: the sum of the leaves C_L is not the manifest's liabilities_commitment`, {
      section: leavesSection, file: leavesSection,
    });
  }
  verified.sumOk = true;
  if (failure !== null) throw failure;
  verified.rangeProofsOk = true;

  const section = asset.solvency.name;
  const solvency = files.get(section);
  let proof;
  try {
    proof = parseProof(solvency.subarray(HEADER_SIZE));
  } catch (exc) {
    if (!(exc instanceof FormatError)) throw exc;
    throw new FormatError(`${section}: ${exc.message}`, { section, file: section });
  }
  const statement = solvencyStatement(manifest, asset, total, null, pcGens);
  if (isIdentity(statement.commitments[0])) {
    throw new VerificationError(`${section}: V_s = den*R*B - num*C_L is the identity`, { section, file: section });
  }
  const reason = proofFailure(statement, proof);
  if (reason !== null) {
    throw new VerificationError(
      `${section}: the solvency proof does not verify: reserves ${formatUnits(asset.reserves, asset.decimals)} ` +
        `are not proven to be at least ${asset.num}/${asset.den} of the liabilities (${reason})`,
      { section, file: section },
    );
  }
  if (asset.disclosedLiabilities !== null) {
    const [amount, blinding] = asset.disclosedLiabilities;
    if (!samePoint(commit(pcGens, amount, blinding), total)) {
      const where = `manifest.assets[${assetIndex}].disclosed_liabilities`;
      throw new VerificationError(`${where}: the disclosed opening does not open C_L`, {
        section: where, file: MANIFEST_NAME, field: `assets[${assetIndex}].disclosed_liabilities`,
      });
    }
  }
  verified.solvencyOk = true;
}

/** Scope "full": verify the entry's asset as `solvency verify` does (verifier/package.py _check_whole_asset). */
function checkWholeAsset(files, manifest, index, C_L, entry, V, pcGens, report) {
  const asset = manifest.assets[index];
  for (const [, fileEntry, magic, count, recordSize] of fileRoles(asset)) checkFile(files, fileEntry, magic, count, recordSize);
  report.add('files', true, `the ${entry.asset} data files have the manifest's SHA-256 digests`);
  const expected = concat(entry.leafId, toBytes(V));
  const leaves = asset.leaves.name;
  const ownRecord = (id, encoding) => {
    if (!equalBytes(concat(id, encoding), expected)) {
      throw failCheck(report, 'leaf record', "the bundle's leaf at your index is not your (leaf id, commitment)",
        `${leaves} record ${entry.leafIndex}`, { file: leaves, field: `record ${entry.leafIndex}` });
    }
    report.add('leaf record', true, `record ${entry.leafIndex} of ${leaves} is your leaf id and commitment`);
  };
  const verified = { merkleRootOk: false, sumOk: false, rangeProofsOk: false, solvencyOk: false };
  try {
    verifyLeafTreeAsset(files, manifest, index, C_L, pcGens, verified, entry.leafIndex, ownRecord);
  } catch (exc) {
    if (exc instanceof ZkError) recordAssetSteps(report, asset, verified, exc);
    throw exc;
  }
  recordAssetSteps(report, asset, verified, null);
}

// ---------------------------------------------------------------------------------------------
// The check

function parsePinnedDigest(pin) {
  if (pin === null || pin === undefined || pin === '') return null;
  if (typeof pin !== 'string' || !/^[0-9a-fA-F]{64}$/.test(pin)) {
    throw new ParameterError('expected the 64 hex digits of the published bundle digest', { section: '--digest' });
  }
  return fromHex(pin);
}

/**
 * Run the customer check of docs/FORMAT.md §8 (verifier/package.py check_package). Returns the report or throws.
 *
 * packageBytes: the package file's bytes. files: a Map of bundle file names to bytes (empty or absent: the
 * package alone). pinDigest: the published bundle digest (64 hex digits, as `--digest`), or null.
 * pinCustomer: the customer's own id (as `--customer-id`), or null (an empty string counts as not given).
 * packageName: the package's file name, named as `file` by its errors.
 *
 * Throws FormatError / VerificationError / ParameterError with section, file and field, and the partial
 * report as `error.report` (its toJSON() is the verdict JSON with status "fail").
 */
export async function checkPackage({ packageBytes, files = null, pinDigest = null, pinCustomer = null,
  packageName = 'package.json' } = {}) {
  const published = parsePinnedDigest(pinDigest);
  const customerId = pinCustomer === '' || pinCustomer === undefined ? null : pinCustomer;
  const bundle = files instanceof Map && files.size > 0 ? files : null;
  const report = new PackageReport({ withBundle: bundle !== null, scope: bundle === null ? 'package' : 'full' });
  const file = packageName;
  try {
    const pkg = parsePackage(packageBytes, file);
    report.packageFormatVersion = pkg.formatVersion;
    const tree = pkg.entries.every((e) => e.sumTree);
    if (tree && bundle !== null) report.scope = 'sum-tree';
    report.exchange = pkg.exchange;
    report.round = pkg.round;
    report.bundleDigest = toHex(pkg.bundleDigest);
    report.customerId = pkg.customerId;
    if (customerId !== null) {
      if (pkg.customerId !== customerId) {
        report.add('customer id', false, 'the package is made out to another customer id');
        throw new VerificationError(
          `package.customer_id: the package is made out to customer id ${pyRepr(pkg.customerId)}, not ${pyRepr(customerId)}`,
          { section: 'package.customer_id', file, field: 'customer_id' },
        );
      }
      report.add('customer id', true, 'the package is made out to the customer id you gave');
    }
    report.customerIdConfirmed = customerId !== null;
    if (published !== null && !equalBytes(pkg.bundleDigest, published)) {
      throw new VerificationError(
        `package.bundle_digest: the package's bundle has digest ${toHex(pkg.bundleDigest)}, not the published ` +
          `digest ${toHex(published)}`,
        { section: 'package.bundle_digest', file, field: 'bundle_digest' },
      );
    }
    if (published !== null) report.add('published digest', true, 'the package names the bundle digest you gave');
    report.digestPinned = published !== null;
    const pcGens = pedersenGens();
    const entries = pkg.entries.map((e) => new EntryReport(e.asset, e.decimals, e.amount, e.leafIndex, e.leafCount));
    report.entries = entries;
    const commitments = pkg.entries.map((e) => commit(pcGens, e.amount, e.blinding));
    const alone = [];
    const marginLeaves = slotLeafIds(pkg);
    pkg.entries.forEach((entry, i) => {
      if (entry.sumTree) {
        alone.push(checkEntryAlone(pkg, file, i, entry, commitments[i], entries[i], marginLeaves.get(entry.asset)));
      } else {
        checkEntryAloneV1(pkg, file, i, entry, commitments[i], entries[i]);
        alone.push(null);
      }
    });
    const marginAlone = pkg.margin === null ? null : checkMarginAlone(pkg, file, pcGens, report);

    let manifest = null;
    if (bundle !== null) {
      manifest = readManifest(bundle);
      if (!equalBytes(pkg.bundleDigest, manifest.digest)) {
        throw new VerificationError(
          `package.bundle_digest: the package is for another bundle or round (digest ${short(pkg.bundleDigest)}, ` +
            `the bundle's is ${short(manifest.digest)})`,
          { section: 'package.bundle_digest', file, field: 'bundle_digest' },
        );
      }
      if (pkg.exchange !== manifest.exchange || pkg.round !== manifest.round) {
        throw new VerificationError(
          `package: the package is for ${pyRepr(pkg.exchange)} round ${pyRepr(pkg.round)}, the bundle for ` +
            `${pyRepr(manifest.exchange)} round ${pyRepr(manifest.round)}`,
          { section: 'package.round', file, field: 'round' },
        );
      }
      const bundleVersions = BUNDLE_VERSIONS[pkg.formatVersion];
      if (!bundleVersions.includes(manifest.version)) {
        throw new VerificationError(
          `package.format_version: a package of format version ${pkg.formatVersion} is for bundles of format ` +
            `version ${bundleVersions.join(' or ')}, this bundle is of format version ${manifest.version}`,
          { section: 'package.format_version', file, field: 'format_version' },
        );
      }
      const liabilities = decodeManifestPoints(manifest, 'liabilities_commitment');
      const debts = manifest.margin === null ? [] : decodeManifestPoints(manifest, 'debt_commitment');
      const indices = pkg.entries.map((entry, i) => {
        entries[i].add('bundle digest', true, `the package is for this bundle (digest ${short(manifest.digest)})`);
        return assetInBundle(manifest, file, i, entry, entries[i]);
      });
      // verifier/package.py checks the wallet list here (_check_reserves): every proof of control. Not ported:
      // the reserves stay unchecked, the verdict says so, and the run is partial.
      if (manifest.wallets !== null) report.reservesUnchecked = true;
      if (tree) {
        const pendings = [];
        const earlier = () => verifyPending(pendings);
        pkg.entries.forEach((entry, i) => {
          let checked;
          let pending;
          try {
            [checked, pending] = checkTreeEntry(bundle, manifest, indices[i], liabilities[indices[i]], file, i, entry,
              commitments[i], alone[i], pcGens, entries[i], earlier, debts.length ? debts[indices[i]] : null);
          } catch (exc) {
            if (exc instanceof ZkError) earlier(); // §8.1 order: a false proof of an earlier entry first
            throw exc;
          }
          pendings.push(pending);
          if (!checked) report.chunksUnchecked.push(entry.asset);
        });
        if (marginAlone !== null) {
          const points = new Map(pkg.entries.map((e, i) => [e.asset, commitments[i]]));
          pendings.push(checkMargin(bundle, manifest, pkg, points, marginAlone, liabilities, debts, pcGens, report, earlier));
        }
        verifyPending(pendings);
      } else {
        pkg.entries.forEach((entry, i) => {
          checkWholeAsset(bundle, manifest, indices[i], liabilities[indices[i]], entry, commitments[i], pcGens, entries[i]);
        });
      }
    }
    stateClaims(pkg, manifest, report);
    report.ok = true;
  } catch (exc) {
    if (exc instanceof ZkError) {
      report.fail(exc);
      exc.report = report;
    }
    throw exc;
  }
  return report;
}
