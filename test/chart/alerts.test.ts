/**
 * The Prometheus alerts (dashboards/alerts.ts → helm/lastcall/rules/lastcall-alerts.yaml):
 * promtool accepts the generated rules file, the unit tests in test/chart/alerts/ pass (a clean
 * rollout fires nothing, each fault fires its alert), every alert is built from a dashboard
 * query and only from exported metric names, and each has a runbook section in the chart README.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { loadYaml } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ALERTS, RULES_PATH, RULE_GROUP, alertExpr, runbookAnchor, runbookUrl } from '../../dashboards/alerts.js';
import { dashboardQueries } from '../../dashboards/lastcall.js';
import { metricNames } from '../../dashboards/promql.js';
import { METRICS } from '../../src/metrics/names.js';
import { CHART, ROOT } from './helm.js';

const TESTS_DIR = join(ROOT, 'test/chart/alerts');
const RULES = join(ROOT, RULES_PATH);

/** promtool from PROMTOOL_BIN, else PATH (Debian's prometheus package installs /usr/bin/promtool). */
function promtool(): string {
  const candidates = [
    process.env.PROMTOOL_BIN,
    ...(process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'promtool')),
    '/usr/bin/promtool',
  ].filter((p): p is string => !!p);
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new Error(
      'promtool not found (set PROMTOOL_BIN or install the prometheus package: sudo bash scripts/ci/install-system.sh); ' +
        'the alert rules cannot be checked without it',
    );
  }
  return found;
}

function run(args: string[]): { status: number; out: string } {
  const r = spawnSync(promtool(), args, { cwd: ROOT, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

interface RuleFile {
  groups: {
    name: string;
    rules: { alert: string; expr: string; for?: string; labels: Record<string, string>; annotations: Record<string, string> }[];
  }[];
}
const rules = loadYaml<RuleFile>(readFileSync(RULES, 'utf8'));
const testFiles = readdirSync(TESTS_DIR)
  .filter((f) => f.endsWith('.test.yaml'))
  .sort();

describe('alert rules', () => {
  it('promtool check rules accepts the generated file', () => {
    const r = run(['check', 'rules', RULES]);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(new RegExp(`SUCCESS: ${ALERTS.length} rules found`));
  });

  it('promtool test rules: every unit-test file passes', () => {
    expect(testFiles).toEqual(['faults.test.yaml', 'rollout.test.yaml']);
    const r = run(['test', 'rules', ...testFiles.map((f) => join(TESTS_DIR, f))]);
    expect(r.status, r.out).toBe(0);
    expect(r.out.match(/SUCCESS/g)).toHaveLength(testFiles.length);
  });

  it('the unit tests cover every alert: silent through a clean rollout, firing on its fault', () => {
    interface UnitTests {
      rule_files: string[];
      tests: { name: string; alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
    }
    const read = (f: string) => loadYaml<UnitTests>(readFileSync(join(TESTS_DIR, f), 'utf8'));
    const rollout = read('rollout.test.yaml');
    const faults = read('faults.test.yaml');
    for (const f of [rollout, faults]) expect(f.rule_files).toEqual(['../../../helm/lastcall/rules/lastcall-alerts.yaml']);
    const clean = rollout.tests.find((t) => t.name.startsWith('clean rollout'))!;
    for (const a of ALERTS) {
      const silent = clean.alert_rule_test.filter((t) => t.alertname === a.name);
      expect(silent.length, `${a.name}: checked in the clean rollout`).toBeGreaterThanOrEqual(3);
      for (const t of silent) expect(t.exp_alerts).toEqual([]);
      const fires = faults.tests
        .flatMap((t) => t.alert_rule_test)
        .filter((t) => t.alertname === a.name && t.exp_alerts.length > 0);
      expect(fires.length, `${a.name}: a fault that fires it`).toBeGreaterThan(0);
    }
  });

  it('the rules file is the alerts of dashboards/alerts.ts, in one group', () => {
    expect(rules.groups.map((g) => g.name)).toEqual([RULE_GROUP]);
    const got = rules.groups[0]!.rules;
    expect(got.map((r) => r.alert)).toEqual(ALERTS.map((a) => a.name));
    for (const [i, a] of ALERTS.entries()) {
      expect(got[i]!.expr).toBe(alertExpr(a));
      expect(got[i]!.for).toBe(a.for);
    }
  });

  it('every alert has a severity, a summary, a description and a runbook section in the chart README', () => {
    const readme = readFileSync(join(CHART, 'README.md'), 'utf8');
    const anchors = new Set([...readme.matchAll(/^#{2,4} (\S+)\s*$/gm)].map((m) => m[1]!.toLowerCase()));
    for (const r of rules.groups[0]!.rules) {
      expect(['critical', 'warning', 'info'], r.alert).toContain(r.labels.severity);
      expect(r.annotations.summary, r.alert).toBeTruthy();
      expect(r.annotations.description, r.alert).toBeTruthy();
      expect(r.annotations.runbook_url).toBe(runbookUrl(r.alert));
      expect(anchors.has(runbookAnchor(r.alert)), `README.md has no "### ${r.alert}" runbook section`).toBe(true);
    }
  });

  it('every alert evaluates a dashboard query (one source: they cannot drift)', () => {
    const panels = new Set(dashboardQueries({ grafana: true }).map((q) => q.expr));
    for (const a of ALERTS) {
      expect(panels.has(a.query), `${a.name}: its query is no dashboard panel's`).toBe(true);
      if (a.and) expect(panels.has(a.and.query), `${a.name}: its guard is no dashboard panel's`).toBe(true);
    }
  });

  it('every metric an alert uses is one the service exports (src/metrics/names.ts)', () => {
    const known = new Set<string>(Object.values(METRICS));
    for (const a of ALERTS) {
      const names = metricNames(alertExpr(a));
      expect(names.length, a.name).toBeGreaterThan(0);
      for (const n of names) expect(known.has(n), `${a.name}: unknown metric ${n}`).toBe(true);
    }
  });
});
