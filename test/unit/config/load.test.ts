import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors/errors.js';

describe('loadConfig', () => {
  it('applies the contract’s defaults', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(8080);
    expect(c.ADMIN_PORT).toBe(9090);
    expect(c.TERMINATION_GRACE_PERIOD_SECONDS).toBe(30);
    expect(c.endpointPropagationSeconds).toBe(5);
    expect(c.budget.totalMs).toBe(28_000);
    expect(c.apiKeys).toEqual([]);
  });

  it('defaults propagation to 0 when the preStop hook already sleeps', () => {
    expect(loadConfig({ PRESTOP_SLEEP_SECONDS: '5' }).endpointPropagationSeconds).toBe(0);
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
    expect(loadConfig({ API_KEYS: ' a, ,b ' }).apiKeys).toEqual(['a', 'b']);
  });
});
