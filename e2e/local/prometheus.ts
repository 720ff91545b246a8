import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ManagedChild } from './child.js';
import { RULES_PATH } from '../../dashboards/alerts.js';
import { freePort } from '../../testkit/postgres.js';
import { ROOT } from '../../testkit/service.js';

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';

export interface ScrapeTarget {
  readonly address: string;
  readonly pod: string;
}

/**
 * A real Prometheus scraping every replica's admin port each second. Targets come from a
 * file_sd file the harness rewrites as pods come and go (Prometheus watches it), the way
 * Kubernetes service discovery would follow pods. It evaluates the chart's alert rules (the
 * generated helm/lastcall/rules/lastcall-alerts.yaml, the same file the PrometheusRule carries)
 * every second, so the scenario can tell which alerts each case fired.
 */
export class LocalPrometheus extends ManagedChild {
  private constructor(
    readonly url: string,
    proc: ChildProcess,
    private readonly targetsFile: string,
  ) {
    super(proc);
  }

  static async start(dir: string): Promise<LocalPrometheus> {
    fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
    const targetsFile = path.join(dir, 'targets.json');
    fs.writeFileSync(targetsFile, '[]');
    const config = path.join(dir, 'prometheus.yml');
    fs.writeFileSync(
      config,
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 900ms',
        '  evaluation_interval: 1s',
        'rule_files:',
        `  - ${JSON.stringify(path.join(ROOT, RULES_PATH))}`,
        'scrape_configs:',
        '  - job_name: lastcall',
        '    file_sd_configs:',
        `      - files: [${JSON.stringify(targetsFile)}]`,
        '        refresh_interval: 1s',
        '',
      ].join('\n'),
    );
    const port = await freePort();
    const log = fs.createWriteStream(path.join(dir, 'prometheus.log'));
    const proc = spawn(
      PROMETHEUS_BIN,
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--storage.tsdb.retention.time=1d',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    proc.stdout.pipe(log, { end: false });
    proc.stderr.pipe(log, { end: false });
    const prom = new LocalPrometheus(`http://127.0.0.1:${port}`, proc, targetsFile);
    const until = Date.now() + 30_000;
    for (;;) {
      if (proc.exitCode !== null)
        throw new Error(`prometheus exited (${proc.exitCode}); see ${path.join(dir, 'prometheus.log')}`);
      const ok = await fetch(`${prom.url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return prom;
      if (Date.now() > until) throw new Error('prometheus not ready within 30 s');
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  setTargets(targets: readonly ScrapeTarget[]): void {
    const groups = targets.map((t) => ({ targets: [t.address], labels: { pod: t.pod } }));
    // Write then rename: Prometheus must never read a half-written file.
    fs.writeFileSync(`${this.targetsFile}.tmp`, JSON.stringify(groups));
    fs.renameSync(`${this.targetsFile}.tmp`, this.targetsFile);
  }
}
