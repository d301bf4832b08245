#!/usr/bin/env node
// Run the browser customer check under node and print its verdict as JSON (for tests/test_web_check.py).
//
//   node web/test/check_cli.mjs PACKAGE [--bundle DIR] [--file PATH]... [--digest HEX] [--customer-id ID]
//                               [--repeat N]
//
// --bundle DIR gives every file of DIR; --file PATH adds one file (by its base name). The JSON is the
// report's toJSON() (the `solvency check --json` shape), with "status": "fail" and the failure's kind,
// section, file and field when the check throws, plus "error_class" and "seconds" (the mean time of
// one checkPackage call over --repeat runs, after one warm-up run when --repeat > 1).

import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { checkPackage } from '../src/index.js';

const args = process.argv.slice(2);
let packagePath = null;
const files = new Map();
let pinDigest = null;
let pinCustomer = null;
let repeat = 1;
for (let i = 0; i < args.length; i += 1) {
  const a = args[i];
  if (a === '--bundle') {
    const dir = args[++i];
    for (const name of readdirSync(dir)) files.set(name, new Uint8Array(readFileSync(join(dir, name))));
  } else if (a === '--file') {
    const path = args[++i];
    files.set(basename(path), new Uint8Array(readFileSync(path)));
  } else if (a === '--digest') pinDigest = args[++i];
  else if (a === '--customer-id') pinCustomer = args[++i];
  else if (a === '--repeat') repeat = Number(args[++i]);
  else if (packagePath === null) packagePath = a;
  else throw new Error(`unexpected argument ${a}`);
}
const packageBytes = new Uint8Array(readFileSync(packagePath));
const run = () => checkPackage({ packageBytes, files, pinDigest, pinCustomer, packageName: basename(packagePath) });

let out;
try {
  if (repeat > 1) await run();
  const started = performance.now();
  let report;
  for (let i = 0; i < repeat; i += 1) report = await run();
  out = { ...report.toJSON(), error_class: null, seconds: (performance.now() - started) / 1000 / repeat };
} catch (exc) {
  if (exc.report === undefined) throw exc;
  out = { ...exc.report.toJSON(), error_class: exc.constructor.name };
}
process.stdout.write(`${JSON.stringify(out)}\n`);
