/** The chart's generated files and their fresh content; dashboards/generate.ts writes them, test/chart compares. */
import { RULES_PATH, rulesYaml } from './alerts.js';
import { GENERATED_TPL_PATH, SCHEMA_PATH, generatedTpl, schemaWithReserve } from './drain-reserve.js';
import { DASHBOARD_JSON_PATH, dashboardJson } from './lastcall.js';

export interface GeneratedFile {
  /** Relative to the repository root. */
  readonly path: string;
  readonly content: string;
}

/** `read(path)` gives a file's current text (the schema is patched in place, not rebuilt). */
export function generatedFiles(read: (path: string) => string): GeneratedFile[] {
  return [
    { path: DASHBOARD_JSON_PATH, content: dashboardJson() },
    { path: RULES_PATH, content: rulesYaml() },
    { path: GENERATED_TPL_PATH, content: generatedTpl() },
    { path: SCHEMA_PATH, content: schemaWithReserve(read(SCHEMA_PATH)) },
  ];
}
