// The customer's private inclusion package (docs/FORMAT.md §8, §14.6): circuits/package.py Package.from_bytes.
//
// Parsed from untrusted bytes with the §6.1 JSON profile (not required to be canonical); every
// error is a FormatError naming the failing field as `section` ("package.entries[0].amount").
// A package holds the customer's amounts, blindings and salts: nothing here logs them.

import { FormatError } from './errors.js';
import { leToBigInt } from './bytes.js';
import { chunkPath } from './merkle.js';
import {
  Fields,
  GROUP_ORDER,
  MARGIN_TYPES_RE,
  MAX_ASSETS,
  MAX_CHUNK,
  MAX_COLLATERAL_TYPES,
  MAX_DECIMALS,
  MAX_ID_BYTES,
  MAX_LABEL_BYTES,
  MAX_LEAVES,
  MAX_MARGIN_ACCOUNTS,
  MAX_MARGIN_SLOTS,
  MAX_PACKAGE_BYTES,
  RANGE_BITS,
  SYMBOL_RE,
  compareCodePoints,
  loadJson,
  scalarField,
} from './manifest.js';

export const PACKAGE_FORMAT = 'zk-solvency-package';
/** Package format versions: 1 (leaf tree), 2 (sum tree, bundles of format 3), 3 (2 + margin, bundles of format 4). */
export const PACKAGE_VERSIONS = [1, 2, 3];
const U64 = 1n << BigInt(RANGE_BITS);
const MAX_HAIRCUT_EXCLUSIVE = 1n << 72n;

function bitLength(n) {
  return 32 - Math.clz32(n);
}

function parseLeaf(f) {
  const asset = f.text('asset', 16, SYMBOL_RE);
  const decimals = f.integer('decimals', 0, MAX_DECIMALS);
  const amount = f.uintStr('amount', U64);
  const blinding = leToBigInt(f.hexbytes('blinding', 32));
  if (blinding >= GROUP_ORDER) f.fail('blinding', 'scalar is not canonical');
  const leafSalt = f.hexbytes('leaf_salt', 32);
  const leafId = f.hexbytes('leaf_id', 32);
  const leafCount = f.integer('leaf_count', 1, MAX_LEAVES);
  const leafIndex = f.integer('leaf_index', 0, leafCount - 1);
  return { asset, decimals, amount, blinding, leafSalt, leafId, leafCount, leafIndex };
}

/** An entry of package format 1 (§8). */
function parseEntryV1(f) {
  const e = parseLeaf(f);
  e.merkleRoot = f.hexbytes('merkle_root', 32);
  e.merklePath = f.hex32Items('merkle_path', 64);
  f.done();
  e.sumTree = false;
  return e;
}

/** An entry of package format 2 or 3 (§8 "Package format version 2"). */
function parseEntryV2(f) {
  const e = parseLeaf(f);
  const m = f.integer('chunk_size', 1, MAX_CHUNK);
  if (m & (m - 1) || e.leafCount % m) f.fail('chunk_size', 'must be a power of two dividing leaf_count');
  e.chunkSize = m;
  e.merkleRoot = f.hexbytes('merkle_root', 32);
  e.liabilitiesCommitment = f.hexbytes('liabilities_commitment', 48);
  e.chunkPath = f.hex32Items('chunk_path', bitLength(MAX_CHUNK));
  if (e.chunkPath.length !== bitLength(m) - 1) f.fail('chunk_path', `expected ${bitLength(m) - 1} hashes (lg of chunk_size)`);
  e.chunk = Math.floor(e.leafIndex / m);
  const depth = chunkPath(e.leafCount / m, e.chunk).length;
  const raw = f.items('node_path', 64);
  if (raw.length !== depth) f.fail('node_path', `expected ${depth} siblings (the chunk's depth in the tree)`);
  e.nodePath = raw.map((item, i) => {
    const g = new Fields(item, `${f.where}.node_path[${i}]`);
    const node = { commitment: g.hexbytes('commitment', 48), hash: g.hexbytes('hash', 32) };
    g.done();
    return node;
  });
  f.done();
  e.sumTree = true;
  return e;
}

function parseCollateral(f) {
  const c = {
    type: f.text('type', 16, MARGIN_TYPES_RE),
    amount: f.uintStr('amount', U64),
    value: f.uintStr('value', U64),
    valueBlinding: scalarField(f, 'value_blinding'),
    haircut: f.uintStr('haircut', MAX_HAIRCUT_EXCLUSIVE),
    haircutBlinding: scalarField(f, 'haircut_blinding'),
  };
  f.done();
  return c;
}

function sortedDistinct(list) {
  const sorted = [...new Set(list)].sort(compareCodePoints);
  return sorted.length === list.length && sorted.every((x, i) => x === list[i]);
}

function parseSlot(f) {
  const asset = f.text('asset', 16, SYMBOL_RE);
  const leafIndex = f.integer('leaf_index', 0, MAX_LEAVES - 1);
  const dummy = f.raw('dummy');
  if (typeof dummy !== 'boolean') f.fail('dummy', 'expected true or false');
  const debt = f.uintStr('debt', U64);
  const debtBlinding = scalarField(f, 'debt_blinding');
  const unpledged = f.uintStr('unpledged', U64);
  const unpledgedBlinding = scalarField(f, 'unpledged_blinding');
  const raw = f.items('collateral', MAX_COLLATERAL_TYPES);
  const collateral = raw.map((c, i) => parseCollateral(new Fields(c, `${f.where}.collateral[${i}]`)));
  const types = collateral.map((c) => c.type);
  if (!types.length || !sortedDistinct(types)) {
    f.fail('collateral', `expected 1 to ${MAX_COLLATERAL_TYPES} distinct types in ASCII order`);
  }
  f.done();
  return { asset, leafIndex, dummy, debt, debtBlinding, unpledged, unpledgedBlinding, collateral };
}

function isZero(slot) {
  return !(slot.debt || slot.unpledged || slot.collateral.some((c) => c.amount || c.value || c.haircut));
}

/** The `margin` object of a package of format 3 (§14.6): circuits/package.py MarginEntry.parse. */
function parseMargin(f, entries) {
  const count = f.integer('record_count', 1, MAX_MARGIN_ACCOUNTS);
  if (count & (count - 1)) f.fail('record_count', 'not a power of two');
  const index = f.integer('record_index', 0, count - 1);
  const recordId = f.hexbytes('record_id', 32);
  const salt = f.hexbytes('margin_salt', 32);
  const path = f.hex32Items('merkle_path', 64);
  if (path.length !== bitLength(count) - 1) f.fail('merkle_path', `expected ${bitLength(count) - 1} hashes (lg of record_count)`);
  const raw = f.items('slots', MAX_MARGIN_SLOTS);
  if (!raw.length) f.fail('slots', 'empty');
  const slots = raw.map((s, i) => parseSlot(new Fields(s, `${f.where}.slots[${i}]`)));
  if (!sortedDistinct(slots.map((s) => s.asset))) {
    f.fail('slots', 'slot assets must be distinct and in record (symbol) order');
  }
  const held = new Set(entries.map((e) => `${e.asset}\n${e.leafIndex}`));
  const types0 = slots[0].collateral.map((c) => c.type).join('\n');
  slots.forEach((slot, i) => {
    if (slot.collateral.map((c) => c.type).join('\n') !== types0) {
      f.fail(`slots[${i}].collateral`, 'every slot has the same collateral types');
    }
    if (slot.dummy && !isZero(slot)) f.fail(`slots[${i}]`, 'a dummy slot has every amount 0');
    if (!slot.dummy && !held.has(`${slot.asset}\n${slot.leafIndex}`)) {
      f.fail(`slots[${i}]`, "a real slot names one of the package's entries (asset and leaf_index)");
    }
  });
  const lo = f.uintStr('lo', U64);
  const loBlinding = scalarField(f, 'lo_blinding');
  f.done();
  return {
    recordIndex: index, recordCount: count, recordId, marginSalt: salt, merklePath: path, slots, lo, loBlinding,
    collateralTypes: slots[0].collateral.map((c) => c.type),
  };
}

/**
 * Parse and validate a package (circuits/package.py Package.from_bytes, read as verifier/package.py
 * read_package reads it). `file` is the package's file name, set as the errors' `file`.
 * Throws FormatError.
 */
export function parsePackage(bytes, file = 'package.json') {
  try {
    const f = new Fields(loadJson(bytes, MAX_PACKAGE_BYTES, 'package'), 'package');
    f.const('format', PACKAGE_FORMAT);
    const version = f.raw('format_version');
    if (typeof version !== 'bigint' || !PACKAGE_VERSIONS.includes(Number(version))) {
      f.fail('format_version', `expected one of ${PACKAGE_VERSIONS.join(', ')}`);
    }
    const v = Number(version);
    const exchange = f.label('exchange', MAX_LABEL_BYTES);
    const round = f.label('round', MAX_LABEL_BYTES);
    const bundleDigest = f.hexbytes('bundle_digest', 32);
    const customerId = f.label('customer_id', MAX_ID_BYTES);
    const rawEntries = f.items('entries', MAX_ASSETS);
    if (!rawEntries.length) f.fail('entries', 'empty');
    const parse = v === 1 ? parseEntryV1 : parseEntryV2;
    const entries = rawEntries.map((e, i) => parse(new Fields(e, `package.entries[${i}]`)));
    if (new Set(entries.map((e) => e.asset)).size !== entries.length) f.fail('entries', 'an asset appears twice');
    let margin = null;
    if (v === 3 && f.raw('margin') !== null) margin = parseMargin(f.obj_('margin'), entries);
    f.done();
    return { exchange, round, bundleDigest, customerId, entries, formatVersion: v, margin };
  } catch (exc) {
    if (exc instanceof FormatError) {
      if (exc.section == null) exc.section = 'package';
      if (exc.file == null) exc.file = file;
    }
    throw exc;
  }
}
