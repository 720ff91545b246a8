/**
 * Writes every generated file of the chart from its TypeScript source:
 *   helm/lastcall/dashboards/lastcall.json      the Grafana dashboard   (dashboards/lastcall.ts)
 *   helm/lastcall/rules/lastcall-alerts.yaml    the Prometheus alerts   (dashboards/alerts.ts)
 *   helm/lastcall/templates/_generated.tpl      the drain reserve       (src/drain/phases.ts)
 *   helm/lastcall/values.schema.json            its grace-period bound  (src/drain/phases.ts)
 *
 *   npx tsx dashboards/generate.ts           write them
 *   npx tsx dashboards/generate.ts --check   exit 1 if any differs from a fresh generation
 *
 * The outputs are GENERATED: edit the sources, then run `make dashboard`.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generatedFiles } from './generated.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const read = (path: string): string => {
  try {
    return readFileSync(resolve(root, path), 'utf8');
  } catch {
    return ''; // missing counts as stale
  }
};

let stale = 0;
for (const f of generatedFiles(read)) {
  const current = read(f.path);
  if (process.argv.includes('--check')) {
    if (current !== f.content) {
      console.error(`${f.path} is stale: run make dashboard`);
      stale++;
    } else {
      console.log(`${f.path} is up to date`);
    }
  } else if (current !== f.content) {
    mkdirSync(dirname(resolve(root, f.path)), { recursive: true });
    writeFileSync(resolve(root, f.path), f.content);
    console.log(`wrote ${f.path}`);
  } else {
    console.log(`${f.path} unchanged`);
  }
}
if (stale) process.exit(1);
