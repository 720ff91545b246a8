import OpenAI from 'openai';
import { emulatorControl, type EmulatorControl } from '../../testkit/emulator/control.js';
import { createEmulator, type EmulatorAddress, type EmulatorOptions } from '../../testkit/emulator/server.js';

export const MODEL = 'emulated-model';

export interface Harness {
  address: EmulatorAddress;
  /** The official client, as its docs use it; no retries so injected failures surface. */
  client: OpenAI;
  control: EmulatorControl;
  /** POSTs raw JSON, for provider fields the SDK types do not have. */
  post(path: string, body: unknown): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

/** An in-process emulator on a free port; fast by default so each test takes milliseconds. */
export async function startHarness(options: EmulatorOptions = {}): Promise<Harness> {
  const emulator = createEmulator({ tokensPerSecond: 2000, minTokens: 20, maxTokens: 60, ...options });
  const address = await emulator.listen();
  return {
    address,
    client: new OpenAI({ baseURL: address.baseUrl, apiKey: 'test-key', maxRetries: 0 }),
    control: emulatorControl(address.url),
    post: async (path, body) => {
      const res = await fetch(`${address.url}${path}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    },
    close: () => emulator.close(),
  };
}
