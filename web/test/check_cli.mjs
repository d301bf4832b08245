#!/usr/bin/env node
// Run the browser customer check (web/src/check.js) under node and print its verdicts as JSON, for
// tests/test_web_check.py, which compares them with the Python check's.
//
//   node web/test/check_cli.mjs PACKAGE [--bundle DIR] [--file PATH]... [--digest HEX] [--customer-id ID]
//                               [--repeat N]
//   node web/test/check_cli.mjs --cases CASES.json
//
// --bundle DIR gives every file of DIR; --file PATH adds one file (by its base name). One run prints one
// JSON object: the report's toJSON() (the `solvency check --json` shape), with "status": "fail" and the
// failure's kind, section, file and field when the check throws, plus "error_class" and "seconds" (the
// mean time of one checkPackage call over --repeat runs, after one warm-up run when --repeat > 1).
// --cases reads a JSON list of {"package", "files": [paths] | null, "digest", "customer_id"} and prints
// a JSON list of the verdicts, in order (one node process for many checks).

import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { checkPackage } from '../src/index.js';
import { loadShippedTable } from '../src/generators_node.js';

loadShippedTable();

const read = (path) => new Uint8Array(readFileSync(path));

async function verdict({ packagePath, files, pinDigest, pinCustomer, repeat = 1 }) {
  const packageBytes = read(packagePath);
  const run = () => checkPackage({ packageBytes, files, pinDigest, pinCustomer, packageName: basename(packagePath) });
  try {
    if (repeat > 1) await run();
    const started = performance.now();
    let report;
    for (let i = 0; i < repeat; i += 1) report = await run();
    return { ...report.toJSON(), error_class: null, seconds: (performance.now() - started) / 1000 / repeat };
  } catch (exc) {
    if (exc.report == null) throw exc;
    return { ...exc.report.toJSON(), error_class: exc.constructor.name };
  }
}

const args = process.argv.slice(2);
if (args[0] === '--cases') {
  const out = [];
  for (const c of JSON.parse(readFileSync(args[1], 'utf8'))) {
    const files = new Map((c.files ?? []).map((path) => [basename(path), read(path)]));
    const started = performance.now();
    const v = await verdict({ packagePath: c.package, files, pinDigest: c.digest, pinCustomer: c.customer_id });
    v.seconds = (performance.now() - started) / 1000;
    out.push(v);
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
} else {
  let packagePath = null;
  const files = new Map();
  let pinDigest = null;
  let pinCustomer = null;
  let repeat = 1;
  for (let i = 0; i < args.length; i += 1) {
    const a = args[i];
    if (a === '--bundle') {
      const dir = args[++i];
      for (const name of readdirSync(dir)) files.set(name, read(join(dir, name)));
    } else if (a === '--file') {
      const path = args[++i];
      files.set(basename(path), read(path));
    } else if (a === '--digest') pinDigest = args[++i];
    else if (a === '--customer-id') pinCustomer = args[++i];
    else if (a === '--repeat') repeat = Number(args[++i]);
    else if (packagePath === null) packagePath = a;
    else throw new Error(`unexpected argument ${a}`);
  }
  process.stdout.write(`${JSON.stringify(await verdict({ packagePath, files, pinDigest, pinCustomer, repeat }))}\n`);
}
