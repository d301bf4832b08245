// The customer check's report and verdict (verifier/report.py PackageReport, verifier/package.py _claims,
// verifier/package_margin.py margin_claims, cli/verdict.py verdict_json).
//
// Every sentence of the verdict is a Claim naming the checks that back it; a proven claim is refused
// (an Error: a bug) unless each of them ran and passed in this run, so the verdict never says more
// than was checked. The sentences, their order and the JSON keys are the Python check's, so that
// the page says what `solvency check` prints. The report holds public results only: never a
// blinding or a salt.

import { toHex } from './bytes.js';

// ---------------------------------------------------------------------------------------------
// Display helpers (verifier/report.py)

/** Base units as a decimal string with exactly `decimals` places (format_units). */
export function formatUnits(amount, decimals) {
  const a = BigInt(amount);
  if (decimals === 0) return a.toString();
  const sign = a < 0n ? '-' : '';
  const abs = a < 0n ? -a : a;
  const unit = 10n ** BigInt(decimals);
  return `${sign}${abs / unit}.${(abs % unit).toString().padStart(decimals, '0')}`;
}

/** num/den for display: "1", "21/20 (1.05)" (format_ratio). */
export function formatRatio(num, den) {
  if (den === 1) return String(num);
  const n = BigInt(num);
  const d = BigInt(den);
  const scaled = (n * 10n ** 6n) / d;
  const text = formatUnits(scaled, 6).replace(/0+$/, '').replace(/\.$/, '');
  const exact = scaled * d === n * 10n ** 6n;
  return `${num}/${den} (${exact ? '' : '~'}${text})`;
}

/** The first 16 hex digits of a digest, then "..." (verifier/package.py _short). */
export function short(digest) {
  return `${toHex(digest).slice(0, 16)}...`;
}

const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

/** Python's repr() of a str, as the verdict's sentences quote a customer id ("'cust-1'"). */
export function pyRepr(s) {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch !== ' ' && NOT_PRINTABLE.test(ch)) {
      if (c < 0x100) out += `\\x${c.toString(16).padStart(2, '0')}`;
      else if (c < 0x10000) out += `\\u${c.toString(16).padStart(4, '0')}`;
      else out += `\\U${c.toString(16).padStart(8, '0')}`;
    } else out += ch;
  }
  return out + quote;
}

// ---------------------------------------------------------------------------------------------
// Reports (verifier/report.py)

/** The checks done for one asset of the package (EntryReport). */
export class EntryReport {
  constructor(asset, decimals, amount, leafIndex, leafCount) {
    this.asset = asset;
    this.decimals = decimals;
    this.amount = amount;
    this.leafIndex = leafIndex;
    this.leafCount = leafCount;
    this.checks = [];
    this.bytesRead = {};
  }

  get amountDisplay() {
    return formatUnits(this.amount, this.decimals);
  }

  get ok() {
    return this.checks.every((c) => c.passed);
  }

  add(name, passed, detail) {
    this.checks.push({ name, passed, detail });
  }

  toJSON() {
    return {
      asset: this.asset,
      decimals: this.decimals,
      amount: this.amount.toString(),
      amount_display: this.amountDisplay,
      leaf_index: this.leafIndex,
      leaf_count: this.leafCount,
      checks: this.checks.map((c) => ({ ...c })),
      bytes_read: { ...this.bytesRead },
      ok: this.ok,
    };
  }
}

/** The customer's margin account as the bundle check saw it (MarginAccountReport). */
export class MarginAccountReport {
  constructor(recordIndex, recordCount, slots) {
    this.recordIndex = recordIndex;
    this.recordCount = recordCount;
    this.slots = slots;
    this.proofs = 0;
    this.proofsChecked = false;
    this.bytesRead = {};
  }

  toJSON() {
    return {
      record_index: this.recordIndex,
      record_count: this.recordCount,
      slots: this.slots,
      proofs: this.proofs,
      proofs_checked: this.proofsChecked,
      bytes_read: { ...this.bytesRead },
    };
  }
}

const KINDS = { format: 'malformed', verification: 'false', parameter: 'input' };
const EXIT_CODES = { format: 3, verification: 1, parameter: 4 };

/** The failure kind of an error as reports name it: "malformed", "false" or "input" (circuits/errors.py). */
export function failureKind(error) {
  return KINDS[error.kind] ?? null;
}

/** The result of a customer check (PackageReport). */
export class PackageReport {
  constructor({ withBundle, scope }) {
    this.ok = false;
    this.exchange = '';
    this.round = '';
    this.bundleDigest = '';
    this.withBundle = withBundle;
    this.scope = scope;
    this.customerId = '';
    this.customerIdConfirmed = false;
    this.digestPinned = false;
    this.checks = [];
    this.entries = [];
    this.claims = [];
    this.packageFormatVersion = 0;
    this.chunksUnchecked = [];
    this.margin = null;
    this.failure = null;
    // A bundle with a wallet list: its proofs of control were not verified here (the run is partial).
    this.reservesUnchecked = false;
  }

  get marginUnchecked() {
    return this.margin !== null && !this.margin.proofsChecked;
  }

  /** "fail", "partial" (passed, but not everything a full verdict states was checked) or "pass". */
  get status() {
    if (!this.ok) return 'fail';
    if (this.reservesUnchecked) return 'partial';
    if (this.scope === 'full' || (this.scope === 'sum-tree' && !this.chunksUnchecked.length && !this.marginUnchecked)) {
      return 'pass';
    }
    return 'partial';
  }

  get proven() {
    return this.claims.filter((c) => c.proven).map((c) => c.text);
  }

  get notProven() {
    return this.claims.filter((c) => !c.proven).map((c) => c.text);
  }

  add(name, passed, detail) {
    this.checks.push({ name, passed, detail });
  }

  /** Whether check [asset, name] ran in this run and passed (asset null: a package-wide check). */
  passed([asset, name]) {
    const checks = asset === null ? this.checks : this.entries.filter((e) => e.asset === asset).flatMap((e) => e.checks);
    const found = checks.filter((c) => c.name === name);
    return found.length > 0 && found.every((c) => c.passed);
  }

  /** Add a claim; a proven one must be backed by checks that ran and passed (else a bug: Error). */
  claim(claim) {
    if (claim.proven && (!claim.backedBy.length || !claim.backedBy.every((ref) => this.passed(ref)))) {
      const missing = claim.backedBy.filter((ref) => !this.passed(ref));
      throw new Error(`claim ${claim.key} is not backed by checks that passed: ${JSON.stringify(missing)}`);
    }
    this.claims.push(claim);
  }

  fail(error) {
    this.ok = false;
    this.failure = error;
  }

  /** The JSON verdict, as `solvency check --json` prints it (PackageReport.to_json + cli/verdict.py). */
  toJSON() {
    const status = this.failure !== null ? 'fail' : this.status;
    const error = this.failure;
    return {
      ok: status === 'pass',
      checks_passed: this.ok,
      exchange: this.exchange,
      round: this.round,
      bundle_digest: this.bundleDigest,
      with_bundle: this.withBundle,
      scope: this.scope,
      bundle_checked: this.scope !== 'package',
      all_chunk_proofs_checked: this.scope === 'full',
      package_format_version: this.packageFormatVersion,
      sum_tree_checked: this.scope === 'sum-tree',
      chunks_unchecked: [...this.chunksUnchecked],
      margin_checked: this.margin !== null && this.margin.proofsChecked,
      margin: this.margin === null ? null : this.margin.toJSON(),
      wallets_unchecked: this.reservesUnchecked,
      customer_id: this.customerId,
      customer_id_confirmed: this.customerIdConfirmed,
      digest_pinned: this.digestPinned,
      checks: this.checks.map((c) => ({ ...c })),
      entries: this.entries.map((e) => e.toJSON()),
      claims: this.claims.map((c) => ({
        key: c.key,
        asset: c.asset,
        text: c.text,
        proven: c.proven,
        backed_by: c.backedBy.map(([asset, name]) => ({ asset, name })),
      })),
      proven: this.proven,
      not_proven: this.notProven,
      status,
      exit_code: error !== null ? (EXIT_CODES[error.kind] ?? 5) : status === 'partial' ? 6 : 0,
      failure: error === null ? null : error.message,
      failure_section: error === null ? null : (error.section ?? null),
      failure_kind: error === null ? null : failureKind(error),
      failure_file: error === null ? null : (error.file ?? null),
      failure_field: error === null ? null : (error.field ?? null),
    };
  }
}

// ---------------------------------------------------------------------------------------------
// The verdict's sentences (verifier/package.py _claims, _tree_claims; package_margin.py margin_claims)

function ratioText(asset) {
  return asset.den === 1 && asset.num === 1 ? 'at least the total' : `at least ${formatRatio(asset.num, asset.den)} times the total`;
}

/** State the verdict: each sentence a claim, each proven one backed by the checks that ran. */
export function stateClaims(pkg, manifest, report) {
  const digest = toHex(pkg.bundleDigest);
  const proven = (key, text, asset, ...checks) => report.claim({ key, text, proven: true, asset, backedBy: checks });
  const notProven = (key, text, asset = null) => report.claim({ key, text, proven: false, asset, backedBy: [] });

  if (report.customerIdConfirmed) {
    proven(
      'customer_id',
      `The package is for your customer id ${pyRepr(pkg.customerId)}, and every leaf id derives from it.`,
      null, [null, 'customer id'], ...pkg.entries.map((e) => [e.asset, 'leaf id']),
    );
  } else {
    notProven(
      'customer_id',
      `The package is for customer id ${pyRepr(pkg.customerId)}; that this is YOUR id was not checked ` +
        '(pass --customer-id): a package for someone else would pass too.',
    );
  }
  if (report.digestPinned) {
    if (manifest !== null) {
      proven(
        'published_digest',
        `The package and the bundle match the bundle digest you gave as the published one, ${digest}.`,
        null, [null, 'published digest'], ...pkg.entries.map((e) => [e.asset, 'bundle digest']),
      );
    } else {
      proven(
        'published_digest',
        `The package names the bundle digest you gave as the published one, ${digest}.`,
        null, [null, 'published digest'],
      );
    }
  }
  pkg.entries.forEach((entry, i) => {
    const r = report.entries[i];
    const S = entry.asset;
    if (entry.sumTree) {
      treeClaims(entry, r, manifest, report, proven, notProven);
      return;
    }
    if (manifest === null) {
      proven(
        'committed_in_package',
        `Your ${S} balance ${r.amountDisplay} is committed in leaf ${entry.leafIndex} of ${entry.leafCount} ` +
          `under the ${S} Merkle root ${toHex(entry.merkleRoot)} stated in your package.`,
        S, [S, 'leaf id'], [S, 'merkle path'],
      );
      return;
    }
    const asset = manifest.assets.find((a) => a.symbol === S);
    const k = Math.floor(entry.leafIndex / asset.chunkSize);
    proven(
      'committed',
      `Your ${S} balance ${r.amountDisplay} is committed in leaf ${entry.leafIndex} of ${entry.leafCount} of ` +
        `the bundle with digest ${digest}.`,
      S, [S, 'leaf id'], [S, 'merkle path'], [S, 'bundle digest'], [S, 'asset in bundle'], [S, 'files'],
      [S, 'leaf record'], [S, 'merkle root'],
    );
    proven(
      'counted',
      `Your ${S} commitment is counted in the total ${S} liabilities: all ${asset.leafCount} leaves of the ` +
        'bundle sum to its liabilities commitment.',
      S, [S, 'leaf record'], [S, 'liabilities sum'],
    );
    const ratio = ratioText(asset);
    const reserves = `${formatUnits(asset.reserves, asset.decimals)} ${S}`;
    const wallets = manifest.wallets !== null && (report.scope === 'full' || report.scope === 'sum-tree');
    if (wallets) reservesClaim(asset, report, proven, notProven);
    if (report.scope === 'full') {
      proven(
        'range_all_chunks',
        (asset.chunkCount > 1
          ? `The range proofs of all ${asset.chunkCount} ${S} chunks show`
          : `The range proof of the one ${S} chunk shows`) +
          ` that every committed ${S} balance, yours included, is between 0 and 2^64 base units ` +
          '(none is negative).',
        S, [S, 'range proofs'],
      );
      proven(
        'solvency',
        `The ${S} solvency proof, with every ${S} balance proven non-negative, shows that the stated reserves ` +
          `of ${reserves} are ${ratio} ${S} liabilities, your balance included.`,
        S, [S, 'liabilities sum'], [S, 'range proofs'], [S, 'solvency proof'],
      );
    } else {
      proven(
        'range_own_chunk',
        `The range proof of chunk ${k} shows that your committed balance and the others in that chunk are ` +
          'each between 0 and 2^64 base units (none is negative).',
        S, [S, 'chunk range proof'],
      );
      const others = asset.chunkCount > 1
        ? `the range proofs of the other ${asset.chunkCount - 1} ${S} chunks`
        : `the ${S} range proofs beyond your chunk`;
      notProven(
        'solvency_unchecked',
        `PARTIAL CHECK (--own-chunk-only): ${others} were NOT checked here, so it was NOT checked that no ` +
          `${S} balance is negative, and hence NOT that the reserves of ${reserves} cover the ${S} ` +
          'liabilities: solvency rests on the full `solvency verify` of the bundle (or this check without ' +
          '--own-chunk-only).',
        S,
      );
    }
    if (asset.disclosedLiabilities !== null) {
      proven(
        'disclosed',
        `The exchange disclosed total ${S} liabilities of ` +
          `${formatUnits(asset.disclosedLiabilities[0], asset.decimals)} ${S}, and that opening was checked.`,
        S, [S, 'solvency proof'],
      );
    }
  });
  if (pkg.margin !== null) marginClaims(pkg, manifest, report, proven, notProven);
  if (manifest === null) {
    const symbols = pkg.entries.map((e) => e.asset).join(', ');
    notProven(
      'bundle_unchecked',
      'PARTIAL CHECK (no --bundle): the package is self-consistent, but nothing about the bundle was ' +
        `checked: its ${symbols} range proofs and solvency proofs were NOT checked, and your leaf was not ` +
        'looked up in it (run with --bundle).',
    );
    notProven(
      'digest_unmatched',
      `Your package names bundle digest ${digest}; without --bundle it was not compared with any bundle.`,
    );
  } else if (!report.digestPinned) {
    notProven(
      'published_digest',
      'This does not prove that this bundle is the one the exchange published to everyone: compare its ' +
        `digest ${digest} with the digest the exchange published (for example in a public archive), or pass ` +
        'it as --digest.',
    );
  }
  if (manifest !== null && manifest.wallets !== null && (report.scope === 'full' || report.scope === 'sum-tree')) {
    notProven(
      'reserves_held',
      'This does not prove the wallet balances are what the chain says (they are as stated by the exchange ' +
        'at the snapshot block; `solvency verify --eth-rpc` checks Ethereum balances against a node), that the ' +
        'coins were not borrowed for the snapshot, nor that no other exchange claims the same wallets.',
    );
  } else {
    notProven(
      'reserves_held',
      'This does not prove the exchange actually holds the stated reserves; they are declared by the exchange' +
        (manifest !== null && manifest.wallets === null ? ` (format version ${manifest.version}, no wallet list).` : '.'),
    );
  }
  notProven(
    'others_included',
    'This does not prove other customers were included; each customer must check their own package.',
  );
}

/**
 * The sentence on an asset's wallet-list reserves. The Python check verifies every wallet's proof of control
 * and says so; this check does not (the wallet list's signature code is not ported), so it says, in its
 * place, that they were NOT checked, and the run is partial (report.reservesUnchecked).
 */
function reservesClaim(asset, report, proven, notProven) {
  const S = asset.symbol;
  const reserves = `${formatUnits(asset.reserves, asset.decimals)} ${S}`;
  const attested = asset.reservesBasis === 'wallets+attested' ? ' and attested entries (which no signature proves)' : '';
  if (!report.reservesUnchecked) {
    proven(
      'reserves_wallets',
      `The ${S} reserves of ${reserves} are the sum of the bundle's ${S} wallets${attested}; every wallet's ` +
        'proof of control was checked for this exchange, round and snapshot block.',
      S, [S, 'reserves'],
    );
    return;
  }
  notProven(
    'reserves_wallets',
    `PARTIAL CHECK (browser): the bundle states the ${S} reserves of ${reserves} as the sum of its ${S} ` +
      `wallets${attested}, but this check did NOT verify the wallets' proofs of control, nor that they back ` +
      'those reserves: `solvency check --bundle` (or `solvency verify`) checks them.',
    S,
  );
}

/** The sentences for one entry of a version-2/3 package (format-3/4 bundle, §8.1 "Version 3"). */
function treeClaims(entry, r, manifest, report, proven, notProven) {
  const S = entry.asset;
  const k = entry.chunk;
  if (manifest === null) {
    proven(
      'committed_in_package',
      `Your ${S} balance ${r.amountDisplay} is committed in leaf ${entry.leafIndex} of ${entry.leafCount} ` +
        `(chunk ${k}), and your package's chunk path gives that chunk's tree hash; the climb to the root ` +
        `${toHex(entry.merkleRoot)} needs the bundle's nodes.`,
      S, [S, 'leaf id'], [S, 'chunk path'], [S, 'node path'],
    );
    return;
  }
  const asset = manifest.assets.find((a) => a.symbol === S);
  const depth = entry.nodePath.length;
  const nodes = `${depth} sum node${depth === 1 ? '' : 's'}`;
  const digest = toHex(manifest.digest);
  const leaves = !report.chunksUnchecked.includes(S);
  const pathChecks = [[S, 'bundle digest'], [S, 'asset in bundle'], [S, 'files'], [S, 'chunk node'],
    [S, 'sum tree path'], [S, 'root']];
  if (leaves) {
    proven(
      'committed',
      `Your ${S} balance ${r.amountDisplay} is committed in leaf ${entry.leafIndex} of ${entry.leafCount} ` +
        `(chunk ${k}) of the bundle with digest ${digest}: the bundle's record holds your leaf, and your chunk's ` +
        `path of ${nodes} reaches the bundle's ${S} root.`,
      S, [S, 'leaf id'], [S, 'chunk path'], [S, 'leaf record'], ...pathChecks,
    );
    proven(
      'counted',
      `Your ${S} commitment is counted in the total ${S} liabilities: your chunk's commitment is the sum of its ` +
        `${asset.chunkSize} leaves, and each node on your path is the sum of its children up to the root, ` +
        'whose commitment is the liabilities commitment C_L.',
      S, [S, 'leaf record'], ...pathChecks,
    );
    proven(
      'range_own_chunk',
      `The range proof of chunk ${k} shows that your committed balance and the others in that chunk are each ` +
        'between 0 and 2^64 base units (none is negative).',
      S, [S, 'chunk range proof'],
    );
  } else {
    proven(
      'committed',
      `Your ${S} leaf (balance ${r.amountDisplay}) is in the ${S} sum tree of the bundle with digest ${digest}: ` +
        `your chunk path gives chunk ${k}'s tree hash, which chunk node ${k} binds, and its path of ${nodes} ` +
        `reaches the bundle's ${S} root.`,
      S, [S, 'leaf id'], [S, 'chunk path'], ...pathChecks,
    );
    notProven(
      'chunk_unchecked',
      `PARTIAL CHECK: the ${S} leaves file was absent or unreadable, so chunk ${k}'s range proof was NOT ` +
        `checked, nor that chunk ${k}'s commitment is the sum of its leaves: it was NOT checked that your ` +
        'balance is counted in C_L, nor that the other balances of your chunk are non-negative.',
      S,
    );
  }
  if (depth) {
    proven(
      'sibling_sums',
      `The node proofs of the ${nodes} on your path show that every subtree beside your path, and ` +
        'your own branch, sums to between 0 and 2^128 base units: no negative total hides beside your balance ' +
        'in C_L.',
      S, [S, 'node proofs'], ...pathChecks,
    );
  }
  const ratio = ratioText(asset);
  const reserves = `${formatUnits(asset.reserves, asset.decimals)} ${S}`;
  if (asset.reservesBasis !== 'declared' && manifest.wallets !== null) reservesClaim(asset, report, proven, notProven);
  const solvencyChecks = [[S, 'root'], [S, 'node proofs'], [S, 'solvency proof']];
  const net = manifest.margin === null
    ? ''
    : ' less the margin debt committed in the bundle\'s debt commitment C_D (net liabilities C_L - C_D)';
  if (leaves) {
    solvencyChecks.push([S, 'chunk range proof']);
    proven(
      'solvency',
      `The ${S} solvency proof shows that the stated reserves of ${reserves} are ${ratio} ${S} liabilities C_L` +
        `${net}, ` +
        (depth
          ? 'in which your balance is counted beside sums proven non-negative.'
          : `the sum of the one chunk's ${asset.chunkSize} balances, each proven non-negative.`),
      S, ...solvencyChecks,
    );
  } else {
    proven(
      'solvency_of_C_L',
      `The ${S} solvency proof shows that the stated reserves of ${reserves} are ${ratio} liabilities committed ` +
        `in C_L, the root of the sum tree${net}.`,
      S, ...solvencyChecks,
    );
  }
  if (asset.chunkCount > 1) {
    notProven(
      'other_chunks',
      `This check read only your chunk and your path: it does NOT prove that the other ${S} chunks' range ` +
        'proofs hold, nor that the nodes off your path are the sums of their leaves; that rests on the full ' +
        '`solvency verify` of the bundle.',
      S,
    );
  }
  if (asset.disclosedLiabilities !== null) {
    proven(
      'disclosed',
      `The exchange disclosed total ${S} liabilities of ` +
        `${formatUnits(asset.disclosedLiabilities[0], asset.decimals)} ${S}, and that opening was checked.`,
      S, [S, 'solvency proof'],
    );
  }
  if (asset.disclosedDebt !== null) {
    proven(
      'disclosed_debt',
      `The exchange disclosed total ${S} margin debt of ${formatUnits(asset.disclosedDebt[0], asset.decimals)} ` +
        `${S}, and that opening of the debt commitment C_D was checked.`,
      S, [S, 'solvency proof'],
    );
  }
}

function trim(text) {
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

/** The account's haircut collateral value and debt value, decimal strings of the quote currency (margin_values). */
function marginValues(pkg, manifest) {
  const params = manifest.margin;
  const q = params.valueDecimals;
  const dMax = params.dMax;
  const symbols = manifest.assets.map((a) => a.symbol);
  let haircut = 0n;
  let debt = 0n;
  for (const s of pkg.margin.slots) {
    for (const c of s.collateral) haircut += c.haircut;
    const a = params.assets[symbols.indexOf(s.asset)];
    debt += a.price * s.debt * 10n ** BigInt(dMax - a.decimals);
  }
  return [trim(formatUnits(haircut, q + 2)), trim(formatUnits(debt, q + dMax))];
}

/** The sentences for the customer's margin account (package format 3). */
function marginClaims(pkg, manifest, report, proven, notProven) {
  const margin = pkg.margin;
  const decimals = Object.fromEntries(pkg.entries.map((e) => [e.asset, e.decimals]));
  const parts = margin.slots.filter((s) => !s.dummy).map((s) => {
    const d = decimals[s.asset];
    const items = s.debt ? [`debt ${formatUnits(s.debt, d)} ${s.asset}`] : [];
    for (const c of s.collateral) {
      if (c.amount) items.push(`${formatUnits(c.amount, d)} ${s.asset} pledged as ${c.type} collateral`);
    }
    return items.length ? items.join(', ') : `no ${s.asset} debt and no ${s.asset} pledged`;
  });
  const summary = parts.join('; ');
  const aloneChecks = [[null, 'margin record id'], [null, 'margin amounts']];
  if (manifest === null || report.margin === null) {
    proven(
      'margin_in_package',
      "Your margin account's record id derives from your customer id, and your package's margin amounts are " +
        `consistent with your balances (${summary}).`,
      null, ...aloneChecks,
    );
    notProven(
      'margin_unchecked',
      'PARTIAL CHECK (no --bundle): your margin record, its openings and its collateral proofs were NOT ' +
        'looked up in any bundle.',
    );
    return;
  }
  const [haircut, debtValue] = marginValues(pkg, manifest);
  const recordChecks = [...aloneChecks, [null, 'margin parameters'], [null, 'margin record'], [null, 'margin slots']];
  proven(
    'margin_committed',
    `Your margin account is record ${margin.recordIndex} of the bundle's ${margin.recordCount} margin records ` +
      `(padded with dummy accounts): its audit path reaches margin.root ${toHex(manifest.marginRoot)}, which every margin and ` +
      `solvency proof of the bundle binds, and its ${margin.slots.length} slots name your leaves.`,
    null, ...recordChecks,
  );
  proven(
    'margin_openings',
    `Your record opens as your package says: ${summary}; each collateral value and haircut value is the one ` +
      "the bundle's price and haircut schedule give.",
    null, ...recordChecks, [null, 'margin openings'],
  );
  if (report.margin.proofsChecked) {
    proven(
      'margin_condition',
      `Condition (M) holds for your account: its ${report.margin.proofs} range proofs verify, so the haircut ` +
        `value of your pledged collateral (${haircut} in the quote currency, from floor-rounded collateral ` +
        `values) covers the value of your debt (${debtValue}, exact), no collateral exceeds your ` +
        'balance, and every amount is non-negative.',
      null, ...recordChecks, [null, 'margin openings'], [null, 'margin leaves'], [null, 'margin proofs'],
    );
  } else {
    notProven(
      'margin_proofs_unchecked',
      'PARTIAL CHECK: a leaves file of one of your padding slots was absent or unreadable, so your margin ' +
        "account's collateral proofs were NOT checked: it was NOT checked here that your collateral covers " +
        'your debt.',
    );
  }
  notProven(
    'margin_debt_totals',
    "That each asset's debt commitment C_D is exactly the sum of the debts of every margin record (so that " +
      'no debt is subtracted from the liabilities without a record whose collateral proof holds) is checked ' +
      'by `solvency verify`, not by this check.',
  );
}
