// Build the customer check page: ONE self-contained HTML file, verifier/web/check.html.
//
//   node web/build.mjs [--out FILE]        (default: verifier/web/check.html)
//
// esbuild bundles web/page/page.js with the modules it imports (web/src/, @noble/curves, @noble/hashes) into
// one script; the generator table circuits/data/generators_v1.bin is inlined into it (base64) for
// web/src/generators.js (page.js imports it as `virtual:generators-table`); web/page/page.css is minified; both go inline into web/page/index.html, whose
// Content-Security-Policy names that one script and that one stylesheet by their SHA-256 (no 'unsafe-inline')
// and forbids everything else: no request (connect-src 'none'), no external resource, no form target.
//
// The output is deterministic (no timestamp, no absolute path, sorted inputs): the same sources give the
// same bytes, and tests/test_check_page.py rebuilds the page and compares it with the committed file.

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PAGE = join(ROOT, 'web', 'page');
const TABLE = join(ROOT, 'circuits', 'data', 'generators_v1.bin');
const DEFAULT_OUT = join(ROOT, 'verifier', 'web', 'check.html');

/** The module page.js imports the table from; only the build provides it (Node reads the file instead). */
const TABLE_MODULE = 'virtual:generators-table';

const sha256 = (data) => createHash('sha256').update(data).digest();
const cspHash = (text) => `'sha256-${sha256(Buffer.from(text, 'utf8')).toString('base64')}'`;

/** esbuild plugin: `virtual:generators-table` is a module holding circuits/data/generators_v1.bin. */
const inlineTable = {
  name: 'inline-generators-table',
  setup(build) {
    build.onResolve({ filter: /^virtual:generators-table$/ }, () => ({ path: TABLE_MODULE, namespace: 'zk-table' }));
    build.onLoad({ filter: /.*/, namespace: 'zk-table' }, () => {
      const table = readFileSync(TABLE);
      const contents = [
        '// circuits/data/generators_v1.bin, inlined by web/build.mjs; generators.js loadGeneratorTable accepts',
        '// it only if its SHA-256 is the pinned TABLE_SHA256.',
        `const B64 = ${JSON.stringify(table.toString('base64'))};`,
        '/** The table bytes, decoded from base64. */',
        'export function generatorsTable() {',
        '  const text = atob(B64);',
        '  const out = new Uint8Array(text.length);',
        '  for (let i = 0; i < text.length; i += 1) out[i] = text.charCodeAt(i);',
        '  return out;',
        '}',
      ].join('\n');
      return { contents, loader: 'js' };
    });
  },
};

/** Bundle the ES module `entry` (and what it imports, the generator table included) into one IIFE script. */
export async function bundleScript(entry) {
  const bundled = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: ['chrome120', 'firefox120', 'safari17'],
    minify: true,
    legalComments: 'eof',
    charset: 'ascii',
    sourcemap: false,
    metafile: false,
    logLevel: 'silent',
    plugins: [inlineTable],
  });
  if (bundled.outputFiles.length !== 1) throw new Error(`esbuild wrote ${bundled.outputFiles.length} files, expected 1`);
  return bundled.outputFiles[0].text.trimEnd();
}

/** Build the page; return its bytes. */
export async function buildPage() {
  const js = await bundleScript(join(PAGE, 'page.js'));
  // The script is inline: a "</script" or "<!--" inside it would end or change the element early.
  if (/<\/script|<!--/i.test(js)) throw new Error('the bundled script holds "</script" or "<!--"');

  const css = (await esbuild.transform(readFileSync(join(PAGE, 'page.css'), 'utf8'), {
    loader: 'css',
    minify: true,
    charset: 'ascii',
    logLevel: 'silent',
  })).code.trimEnd();
  if (/<\/style/i.test(css)) throw new Error('the stylesheet holds "</style"');

  const csp = [
    "default-src 'none'",
    `script-src ${cspHash(js)}`,
    `style-src ${cspHash(css)}`,
    'img-src data:',
    "connect-src 'none'",
    "form-action 'none'",
    "base-uri 'none'",
  ].join('; ');

  const template = readFileSync(join(PAGE, 'index.html'), 'utf8');
  let html = template;
  for (const [key, value] of [['{{CSP}}', csp], ['{{CSS}}', css], ['{{JS}}', js]]) {
    const parts = html.split(key);
    if (parts.length !== 2) throw new Error(`web/page/index.html must hold ${key} exactly once`);
    html = parts.join(value); // split/join: no "$&" replacement patterns
  }
  return Buffer.from(html, 'utf8');
}

async function main(argv) {
  let out = DEFAULT_OUT;
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--out' && i + 1 < argv.length) out = resolve(argv[++i]);
    else throw new Error(`usage: node web/build.mjs [--out FILE] (got ${JSON.stringify(argv[i])})`);
  }
  const page = await buildPage();
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  writeFileSync(tmp, page);
  renameSync(tmp, out); // atomic: a reader sees the old page or the new one
  process.stdout.write(`${out}: ${page.length} bytes, sha256 ${sha256(page).toString('hex')}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((error) => {
    process.stderr.write(`build failed: ${error.message}\n`);
    process.exit(1);
  });
}
