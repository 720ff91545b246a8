import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors/errors.js';

describe('loadConfig', () => {
  it('applies the contract’s defaults', () => {
    const c = loadConfig({ KUBERNETES_SERVICE_HOST: '10.0.0.1', ALLOW_ANONYMOUS: 'true' });
    expect(c.http.port).toBe(8080);
    expect(c.admin.port).toBe(9090);
    expect(c.shutdown.budget.gracePeriodSeconds).toBe(30);
    expect(c.shutdown.budget.endpointPropagationSeconds).toBe(5);
    expect(c.shutdown.budget.totalMs).toBe(28_000);
    expect(c.http.auth.keys).toEqual([]);
  });

  it('defaults propagation to 0 when the preStop hook already sleeps', () => {
    expect(loadConfig({ PRESTOP_SLEEP_SECONDS: '5' }).shutdown.budget.endpointPropagationSeconds).toBe(0);
  });

  it('names every invalid variable in one message', () => {
    let err: unknown;
    try {
      loadConfig({ PORT: 'eighty', LOG_LEVEL: 'loud', DATABASE_URL: 'not a url' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/PORT/);
    expect(msg).toMatch(/LOG_LEVEL/);
    expect(msg).toMatch(/DATABASE_URL/);
  });

  it('splits API keys and ignores blanks; a named key owns by its name, a bare one by its digest', () => {
    const a = 'a'.repeat(24);
    const b = 'b'.repeat(24);
    const keys = loadConfig({ API_KEYS: ` ${a}, ,alice:${b} ` }).http.auth.keys;
    expect(keys.map((k) => k.key)).toEqual([a, b]);
    expect(keys[0]!.owner).toMatch(/^key:[0-9a-f]{16}$/);
    expect(keys[1]!.owner).toBe('name:alice');
  });

  it('refuses short keys and a name given twice, naming the entry but never the key', () => {
    expect(() => loadConfig({ API_KEYS: `${'a'.repeat(24)},short` })).toThrow(/^API_KEYS: key 2 has 5 characters; at least 24$/);
    expect(() => loadConfig({ API_KEYS: `x:${'a'.repeat(24)},x:${'b'.repeat(24)}` })).toThrow(/the name x is given twice/);
  });

  it('inside Kubernetes, refuses to start open unless ALLOW_ANONYMOUS; outside, open with no propagation wait', () => {
    expect(() => loadConfig({ KUBERNETES_SERVICE_HOST: '10.0.0.1' })).toThrow(/API_KEYS is unset/);
    const open = loadConfig({ KUBERNETES_SERVICE_HOST: '10.0.0.1', ALLOW_ANONYMOUS: 'true' });
    expect(open.http.auth.allowAnonymous).toBe(true);
    expect(open.shutdown.budget.endpointPropagationSeconds).toBe(5);
    expect(loadConfig({}).shutdown.budget.endpointPropagationSeconds).toBe(0);
  });
});
