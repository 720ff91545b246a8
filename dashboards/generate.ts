/**
 * Writes the chart's dashboard JSON from dashboards/lastcall.ts.
 *
 *   npx tsx dashboards/generate.ts           write helm/lastcall/dashboards/lastcall.json
 *   npx tsx dashboards/generate.ts --check   exit 1 if the file differs from a fresh generation
 *
 * The output is GENERATED: edit dashboards/lastcall.ts, then run `make dashboard`.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DASHBOARD_JSON_PATH, dashboardJson } from './lastcall.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(root, DASHBOARD_JSON_PATH);
const json = dashboardJson();

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(out, 'utf8');
  } catch {
    // missing counts as stale
  }
  if (current !== json) {
    console.error(`${DASHBOARD_JSON_PATH} is stale: run make dashboard`);
    process.exit(1);
  }
  console.log(`${DASHBOARD_JSON_PATH} is up to date`);
} else {
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, json);
  console.log(`wrote ${DASHBOARD_JSON_PATH}`);
}
