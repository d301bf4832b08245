// The customer check page: UI only. Picks (or takes dropped) files, calls checkPackage (web/src/index.js),
// and shows its verdict in the words and order of `solvency check` (cli/commands/check.py): the status line,
// then every proven sentence, then every sentence of what was not proven; a failure as its kind
// ("malformed", "false" or "input", circuits/errors.py), section, file, field and message.
//
// Files are read with File.arrayBuffer() only when Check is pressed, and kept in memory for that run only:
// nothing is written to any storage, and the page makes no request (its CSP: connect-src 'none').

import { generatorsTable } from 'virtual:generators-table';
import { loadGeneratorTable } from '../src/generators.js';
import { checkPackage } from '../src/index.js';

// cli/commands/check.py, word for word.
const HEADLINES = {
  pass: ['PASS', 'everything listed as proven below was checked in this run'],
  partial: [
    'PARTIAL',
    'every check that ran passed, but this run did NOT check everything (see the PARTIAL CHECK line below)',
  ],
};

// circuits/errors.py FailureKind, by the JS error classes' `kind` (web/src/errors.js).
const KINDS = {
  format: ['malformed', 'a file does not parse, or breaks a rule of the format'],
  verification: ['false', 'well formed, but a check fails'],
  parameter: ['input', 'an input or parameter is invalid'],
};

// Bundle files by role (docs/FORMAT.md §2): everything else that is .json is taken for the package.
const BUNDLE_JSON = new Set(['manifest.json', 'wallets.json']);

const $ = (id) => document.getElementById(id);

const state = {
  /** @type {File | null} */
  package: null,
  /** @type {Map<string, File>} bundle file name -> file (the last one picked under a name wins) */
  bundle: new Map(),
  running: false,
};

function isBundleFile(name) {
  return BUNDLE_JSON.has(name) || name.endsWith('.bin');
}

function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

function setText(id, text) {
  $(id).textContent = text;
}

function clearResult() {
  $('result').hidden = true;
  $('result').className = '';
  $('status').replaceChildren();
  $('claims').replaceChildren();
  $('failure').hidden = true;
  delete $('result').dataset.status;
  delete $('result').dataset.kind;
  delete $('result').dataset.seconds;
}

function showChoice() {
  setText('package-chosen', state.package === null ? 'No package chosen.'
    : `Package: ${state.package.name} (${formatSize(state.package.size)})`);
  const list = $('bundle-list');
  list.replaceChildren();
  const names = [...state.bundle.keys()].sort();
  for (const name of names) {
    const li = document.createElement('li');
    li.textContent = `${name} (${formatSize(state.bundle.get(name).size)})`;
    list.append(li);
  }
  setText('bundle-summary', names.length === 0
    ? 'No bundle file chosen: only the package will be checked (a partial check).'
    : `${names.length} bundle file${names.length === 1 ? '' : 's'} chosen:`);
  $('bundle-clear').hidden = names.length === 0;
  $('check').disabled = state.package === null || state.running;
  clearResult();
  showNeeded();
}

// A hint of which bundle files a full check of this package reads (docs/FORMAT.md §2, §8.1). Only a hint:
// the check itself names any file it needs and does not have.
async function showNeeded() {
  const hint = $('needed');
  hint.hidden = true;
  if (state.package === null || state.package.size > 4 << 20) return;
  let assets = [];
  try {
    const pkg = JSON.parse(await state.package.text());
    assets = Array.isArray(pkg.entries) ? pkg.entries.map((e) => String(e.asset)).filter((a) => /^[A-Z0-9_-]+$/.test(a)) : [];
  } catch {
    return;
  }
  if (assets.length === 0) return;
  const kinds = ['leaves', 'rangeproofs', 'nodes', 'nodeproofs', 'solvency'];
  const needed = ['manifest.json', ...assets.flatMap((a) => kinds.map((k) => `${a}.${k}.bin`))];
  const missing = needed.filter((n) => !state.bundle.has(n));
  hint.textContent = missing.length === 0
    ? 'Every bundle file a full check of your package reads is chosen (a bundle with a wallet list also needs wallets.json; one with margin accounts, the margin files).'
    : `For a full check, also choose from the bundle of this round: ${missing.join(', ')} (or the whole bundle folder).`;
  hint.hidden = false;
}

function addBundleFiles(files) {
  for (const f of files) state.bundle.set(f.name, f);
}

function takeFiles(files) {
  const packages = [];
  const bundle = [];
  for (const f of files) (isBundleFile(f.name) ? bundle : packages).push(f);
  if (packages.length > 1) {
    showUsage(`${packages.length} package files were dropped (${packages.map((f) => f.name).join(', ')}): drop one`);
    return;
  }
  if (packages.length === 1) state.package = packages[0];
  addBundleFiles(bundle);
  showChoice();
}

// A dropped folder: its files (the bundle is one flat directory; sub-folders are ignored).
function readDirectory(entry) {
  return new Promise((resolve, reject) => {
    const reader = entry.createReader();
    const found = [];
    const next = () => reader.readEntries(async (entries) => {
      if (entries.length === 0) {
        resolve(found);
        return;
      }
      for (const e of entries) if (e.isFile) found.push(await new Promise((res, rej) => e.file(res, rej)));
      next();
    }, reject);
    next();
  });
}

async function onDrop(event) {
  event.preventDefault();
  $('drop').classList.remove('dragging');
  const items = [...(event.dataTransfer?.items ?? [])];
  const files = [];
  const entries = items.map((i) => (i.webkitGetAsEntry ? i.webkitGetAsEntry() : null));
  if (entries.some((e) => e && e.isDirectory)) {
    for (const [i, e] of entries.entries()) {
      if (e && e.isDirectory) files.push(...(await readDirectory(e)));
      else if (items[i].kind === 'file') files.push(items[i].getAsFile());
    }
  } else {
    files.push(...(event.dataTransfer?.files ?? []));
  }
  takeFiles(files.filter((f) => f !== null));
}

function badge(status, word) {
  const b = document.createElement('span');
  b.className = `badge ${status}`;
  b.textContent = word;
  return b;
}

function claimItem(proven, text) {
  const li = document.createElement('li');
  li.className = proven ? 'proven' : 'not-proven';
  const label = document.createElement('span');
  label.className = 'label';
  label.textContent = proven ? 'proven:' : 'not proven:';
  li.append(label, document.createTextNode(` ${text}`));
  return li;
}

function showReport(report, seconds) {
  const verdict = typeof report.toJSON === 'function' ? report.toJSON() : report;
  const status = verdict.status === 'passed' ? 'pass' : verdict.status;
  const [word, sentence] = HEADLINES[status] ?? [String(status).toUpperCase(), ''];
  $('result').className = status;
  $('result').dataset.status = status;
  $('status').replaceChildren(badge(status, word), document.createTextNode(sentence ? `: ${sentence}` : ''));
  const proven = verdict.proven ?? (verdict.claims ?? []).filter((c) => c.proven).map((c) => c.text);
  const notProven = verdict.not_proven ?? verdict.notProven ?? (verdict.claims ?? []).filter((c) => !c.proven).map((c) => c.text);
  $('claims').replaceChildren(...proven.map((t) => claimItem(true, t)), ...notProven.map((t) => claimItem(false, t)));
  showTiming(seconds);
  $('result').hidden = false;
}

function showFailure(kind, description, error) {
  $('result').className = 'fail';
  $('result').dataset.status = 'fail';
  $('result').dataset.kind = kind;
  $('status').replaceChildren(badge('fail', 'FAIL'), document.createTextNode(`: the check failed: ${kind} (${description})`));
  setText('failure-kind', kind);
  setText('failure-section', error.section ?? '-');
  setText('failure-file', error.file ?? '-');
  setText('failure-field', error.field ?? '-');
  setText('failure-message', `error: ${error.message}`);
  $('failure').hidden = false;
  $('result').hidden = false;
}

function showUsage(message) {
  clearResult();
  showFailure('usage', 'fix the input and check again', { message });
}

// The time the check itself took (not the file reading), for bench/web_bench.py; not shown, so that the same
// check always looks the same.
function showTiming(seconds) {
  if (seconds !== null) $('result').dataset.seconds = String(seconds);
}

async function run(event) {
  event.preventDefault();
  if (state.package === null || state.running) return;
  state.running = true;
  $('check').disabled = true;
  $('busy').hidden = false;
  clearResult();
  try {
    const digest = $('digest').value.trim();
    const customer = $('customer-id').value;
    const packageBytes = new Uint8Array(await state.package.arrayBuffer());
    const files = new Map();
    for (const [name, f] of state.bundle) files.set(name, new Uint8Array(await f.arrayBuffer()));
    // Let the "Checking..." line paint before the (synchronous) crypto starts.
    await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
    const started = performance.now();
    let report;
    try {
      report = await checkPackage({
        packageBytes,
        files,
        pinDigest: digest === '' ? null : digest,
        pinCustomer: customer === '' ? null : customer,
        packageName: state.package.name,
      });
    } catch (error) {
      const seconds = (performance.now() - started) / 1000;
      const kind = KINDS[error?.kind];
      if (kind === undefined) throw error;
      showFailure(kind[0], kind[1], error);
      showTiming(seconds);
      return;
    }
    showReport(report, (performance.now() - started) / 1000);
  } catch (error) {
    // Not an error class of the check: a bug of this page or of the check, never a verdict.
    showFailure('internal error', 'a bug: this is not a verdict', { message: String(error?.message ?? error) });
  } finally {
    state.running = false;
    $('busy').hidden = true;
    $('check').disabled = state.package === null;
    if (!$('result').hidden) $('result').scrollIntoView({ block: 'nearest' });
  }
}

function init() {
  // The shipped generator table (inlined by web/build.mjs), accepted only if its SHA-256 is the pinned one;
  // without it every generator is derived by hash_to_curve: the same points, only slower.
  document.documentElement.dataset.table = loadGeneratorTable(generatorsTable()) ? 'loaded' : 'refused';
  $('package-input').addEventListener('change', (e) => {
    state.package = e.target.files[0] ?? null;
    showChoice();
  });
  for (const id of ['bundle-input', 'bundle-dir-input']) {
    $(id).addEventListener('change', (e) => {
      addBundleFiles([...e.target.files].filter((f) => id === 'bundle-input' || isBundleFile(f.name)));
      showChoice();
    });
  }
  $('bundle-clear').addEventListener('click', () => {
    state.bundle.clear();
    $('bundle-input').value = '';
    $('bundle-dir-input').value = '';
    showChoice();
  });
  for (const id of ['digest', 'customer-id']) $(id).addEventListener('input', clearResult);
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('dragging');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('dragging'));
  drop.addEventListener('drop', (e) => {
    onDrop(e).catch((error) => showUsage(`could not read the dropped files: ${error?.message ?? error}`));
  });
  // A file dropped anywhere else must not make the browser navigate away to it.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());
  $('form').addEventListener('submit', run);
  showChoice();
  document.documentElement.dataset.ready = '1';
}

init();
