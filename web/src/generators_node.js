// Node only (never bundled into the page): load the shipped generator table from the repository,
// circuits/data/generators_v1.bin, through generators.js `loadGeneratorTable` (which checks its pinned
// SHA-256). The page inlines the same bytes instead.

import { readFileSync } from 'node:fs';
import { loadGeneratorTable } from './generators.js';

/** The path of the shipped table, relative to this file. */
export const TABLE_URL = new URL('../../circuits/data/generators_v1.bin', import.meta.url);

/** Read and load the shipped table; returns whether it was accepted. */
export function loadShippedTable(url = TABLE_URL) {
  return loadGeneratorTable(new Uint8Array(readFileSync(url)));
}
