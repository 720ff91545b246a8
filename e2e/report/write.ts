import fs from 'node:fs';
import path from 'node:path';
import type { TimelineEvent } from '../scenario/driver.js';
import type { ScenarioReport } from '../scenario/rolling-restart.js';
import { CHROMIUM, launchChromium } from '../../testkit/chromium.js';
import { timelineHtml } from './timeline.js';

/**
 * summary.json (every case's facts and failures, every pod's termination), timeline.html and a
 * PNG of it from headless Chromium. Returns the files written; the PNG is skipped, with a note in
 * the summary, where Chromium is missing.
 */
export async function writeReport(dir: string, report: ScenarioReport, timeline: TimelineEvent[]): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true });
  const html = path.join(dir, 'timeline.html');
  fs.writeFileSync(html, timelineHtml(report, timeline));
  const files = [html];
  let screenshot: string | undefined;
  if (fs.existsSync(CHROMIUM)) {
    const png = path.join(dir, 'timeline.png');
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await page.goto(`file://${html}`);
      await page.screenshot({ path: png, fullPage: true });
      files.push(png);
    } finally {
      await browser.close();
    }
  } else {
    screenshot = `no PNG: ${CHROMIUM} not found`;
  }
  const summary = path.join(dir, 'summary.json');
  const cases = report.cases.map(({ streams, tasks, ...c }) => ({
    ...c,
    streamsNotExact: streams
      .filter((s) => !s.exact)
      .map((s) => ({ index: s.index, streamId: s.streamId, failure: s.failure, error: s.errorEvent })),
    tasks: tasks.map((t) => ({ id: t.id, status: t.status, steps: t.steps.length, failure: t.failure })),
  }));
  fs.writeFileSync(summary, JSON.stringify({ ...report, cases, ...(screenshot ? { screenshot } : {}) }, null, 2));
  return [summary, ...files];
}
