#!/usr/bin/env node
// Benchmark of the browser check's crypto core under Node: verifying one 64-leaf chunk's range proof
// (n = 64, m = 64, the bundle's default chunk; the chunk of tests/vectors/web_v1.json `chunk64`, made by
// the Python prover), the work the page does for the customer's chunk (issue 12: < 3 s in Chromium).
//
//   node bench/web_range_bench.mjs [--runs N]
//
// Prints one JSON object. Figures (seconds, each the median over --runs runs after one warm-up):
//   table_load_s    SHA-256 check of the 1,573,056-byte generator table and accepting it (once per page)
//   generators_s    turning the first 4096 pairs of the table into points (once per page)
//   decode_s        decoding the 64 commitments and the proof (every point subgroup-checked)
//   verify_s        verifyRangeProof: transcript replay, scalars, one MSM of 8,286 points
//   msm_s           that MSM alone (noble's Pippenger)
//   chunk_total_s   decode_s + verify_s, what one chunk costs once the page is loaded
//   first_chunk_s   table_load_s + generators_s + chunk_total_s, the first chunk of a fresh page

import { readFileSync } from 'node:fs';
import { fromHex } from '../web/src/bytes.js';
import { bulletproofGens, loadGeneratorTable, pedersenGens, resetGenerators } from '../web/src/generators.js';
import { TABLE_URL } from '../web/src/generators_node.js';
import { GROUP_ORDER, decodePoint, msm } from '../web/src/points.js';
import { decodeRangeProof, verifyRangeProof } from '../web/src/range_proof.js';

const args = process.argv.slice(2);
let runs = 3;
for (let i = 0; i < args.length; i += 1) {
  if (args[i] === '--runs') runs = Number(args[++i]);
  else throw new Error(`unexpected argument ${args[i]}`);
}
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs takes a positive integer');

const vectors = JSON.parse(readFileSync(new URL('../tests/vectors/web_v1.json', import.meta.url), 'utf8'));
const chunk = vectors.chunk64;
const tableBytes = new Uint8Array(readFileSync(TABLE_URL));

const seconds = (f) => {
  const t = performance.now();
  const out = f();
  return [(performance.now() - t) / 1000, out];
};
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const figures = { table_load_s: [], generators_s: [], decode_s: [], verify_s: [], msm_s: [] };
for (let run = 0; run <= runs; run += 1) {
  resetGenerators();
  const [tLoad, ok] = seconds(() => loadGeneratorTable(tableBytes));
  if (!ok) throw new Error('the shipped generator table was refused');
  const [tGens] = seconds(() => {
    pedersenGens();
    return bulletproofGens(4096);
  });
  const [tDecode, statement] = seconds(() => ({
    commitments: chunk.commitments.map((h) => decodePoint(fromHex(h))),
    proof: decodeRangeProof(fromHex(chunk.proof), 64, 64),
    bits: 64,
    context: fromHex(chunk.context),
  }));
  const [tVerify] = seconds(() => verifyRangeProof(statement));
  const { G, H } = bulletproofGens(4096);
  const points = [...G, ...H, ...statement.commitments, ...statement.proof.L_vec, ...statement.proof.R_vec];
  while (points.length < 8286) points.push(G[points.length % 4096]);
  const scalars = points.map((_, i) => (BigInt(i + 1) * 0x9e3779b97f4a7c15f39cc0605cedc834n) % GROUP_ORDER);
  const [tMsm] = seconds(() => msm(points, scalars));
  if (run === 0) continue; // warm-up
  figures.table_load_s.push(tLoad);
  figures.generators_s.push(tGens);
  figures.decode_s.push(tDecode);
  figures.verify_s.push(tVerify);
  figures.msm_s.push(tMsm);
}

const out = {
  bench: 'web_range_bench',
  what: 'verify one 64-leaf chunk range proof (n=64, m=64) with web/src under node',
  node: process.version,
  runs,
  msm_points: 2 * 4096 + 2 * 12 + 64 + 6,
};
for (const [name, xs] of Object.entries(figures)) out[name] = Number(median(xs).toFixed(4));
out.chunk_total_s = Number((out.decode_s + out.verify_s).toFixed(4));
out.first_chunk_s = Number((out.table_load_s + out.generators_s + out.chunk_total_s).toFixed(4));
out.target_s = 3;
process.stdout.write(`${JSON.stringify(out)}\n`);
