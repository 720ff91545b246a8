import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors/errors.js';

describe('loadConfig', () => {
  it('applies the contract’s defaults', () => {
    const c = loadConfig({});
    expect(c.http.port).toBe(8080);
    expect(c.admin.port).toBe(9090);
    expect(c.shutdown.budget.gracePeriodSeconds).toBe(30);
    expect(c.shutdown.budget.endpointPropagationSeconds).toBe(5);
    expect(c.shutdown.budget.totalMs).toBe(28_000);
    expect(c.http.apiKeys).toEqual([]);
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

  it('splits API keys and ignores blanks', () => {
    expect(loadConfig({ API_KEYS: ' a, ,b ' }).http.apiKeys).toEqual(['a', 'b']);
  });
});
