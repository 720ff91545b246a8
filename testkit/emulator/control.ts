import type { EmulatorConfig } from './config.js';
import type { FaultSettings } from './faults.js';
import type { GenerationRecord } from './history.js';

/** A generation as `GET /__emulator/generations` lists it: choice 0's text and finish reason on top. */
export type Generation = GenerationRecord & { text: string; continuation: string; finishReason: string | null };

/** Typed calls to an emulator's `/__emulator/*` routes, in-process or in another process alike. */
export interface EmulatorControl {
  config(patch?: Partial<EmulatorConfig>): Promise<EmulatorConfig>;
  faults(patch?: Partial<FaultSettings>): Promise<FaultSettings>;
  generations(): Promise<Generation[]>;
  reset(): Promise<void>;
  /** Makes the emulator forget one stored response (or all), so retrieving it answers 404. */
  forget(id?: string): Promise<void>;
}

export function emulatorControl(origin: string): EmulatorControl {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${origin}/__emulator/${path}`, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const payload = (await res.json()) as T;
    if (!res.ok) throw new Error(`emulator ${method} ${path}: ${res.status} ${JSON.stringify(payload)}`);
    return payload;
  };
  return {
    config: (patch) => (patch ? call('POST', 'config', patch) : call('GET', 'config')),
    faults: (patch) => (patch ? call('POST', 'faults', patch) : call('GET', 'faults')),
    generations: async () => (await call<{ data: Generation[] }>('GET', 'generations')).data,
    reset: async () => void (await call('POST', 'reset')),
    forget: async (id) => void (await (id === undefined ? call('POST', 'forget-all') : call('POST', 'forget', { id }))),
  };
}
