/**
 * The chart's generated files (dashboard JSON, alert rules, the drain reserve helper and the
 * schema's grace-period bound) equal a fresh generation: run `make dashboard` if this fails.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DRAIN_RESERVE_SECONDS, GENERATED_TPL_PATH } from '../../dashboards/drain-reserve.js';
import { generatedFiles } from '../../dashboards/generated.js';
import { MIN_RESERVED_MS } from '../../src/drain/phases.js';
import { ROOT, render, renderError } from './helm.js';

const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

describe('generated files', () => {
  for (const f of generatedFiles(read)) {
    it(`${f.path} is current (run \`make dashboard\` if this fails)`, () => {
      expect(read(f.path) === f.content, `${f.path} is stale: run make dashboard`).toBe(true);
    });
  }

  it('the drain reserve comes from the app: MIN_RESERVED_MS in whole seconds, used by validateValues', () => {
    expect(DRAIN_RESERVE_SECONDS).toBe(Math.ceil(MIN_RESERVED_MS / 1000));
    expect(read(GENERATED_TPL_PATH)).toContain(
      `{{- define "lastcall.drainReserveSeconds" -}}${DRAIN_RESERVE_SECONDS}{{- end -}}`,
    );
    expect(read('helm/lastcall/templates/_helpers.tpl')).toContain('include "lastcall.drainReserveSeconds"');
    // No preStop, no margin, no propagation: exactly the reserve renders, one second less does not.
    const set = {
      'shutdown.preStopSleepSeconds': 0,
      'shutdown.safetyMarginSeconds': 0,
      'shutdown.endpointPropagationSeconds': 0,
    };
    expect(() => render({ set: { ...set, 'shutdown.terminationGracePeriodSeconds': DRAIN_RESERVE_SECONDS } })).not.toThrow();
    expect(
      renderError({
        set: {
          ...set,
          'shutdown.terminationGracePeriodSeconds': DRAIN_RESERVE_SECONDS + 1,
          'shutdown.finalScrapeWaitSeconds': 2,
        },
      }),
    ).toMatch(new RegExp(`it must be >= ${DRAIN_RESERVE_SECONDS}, the shutdown phases' reserves`));
    const schema = JSON.parse(read('helm/lastcall/values.schema.json')) as {
      properties: { shutdown: { properties: { terminationGracePeriodSeconds: { minimum: number } } } };
    };
    expect(schema.properties.shutdown.properties.terminationGracePeriodSeconds.minimum).toBe(DRAIN_RESERVE_SECONDS);
  });
});
