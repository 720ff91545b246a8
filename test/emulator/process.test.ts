import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { startEmulatorProcess } from '../../testkit/emulator/process.js';

describe('emulator: the CLI as a child process', () => {
  it('prints its listening line, serves the profile and models it was given, and exits 0 on SIGTERM', async () => {
    const models = ['m-small', 'm-large'];
    const emu = await startEmulatorProcess({ profile: 'mistral', tokensPerSecond: 1000, models, minTokens: 5, maxTokens: 10 });
    try {
      expect(emu.baseUrl).toBe(`http://127.0.0.1:${emu.port}/v1`);
      const client = new OpenAI({ baseURL: emu.baseUrl, apiKey: 'unused', maxRetries: 0 });
      expect((await client.models.list()).data.map((m) => m.id)).toEqual(models);
      expect(await emu.control.config()).toMatchObject({ profile: 'mistral', tokensPerSecond: 1000, models });
      const c = await client.chat.completions.create({ model: 'm-large', messages: [{ role: 'user', content: 'Hi' }] });
      expect(c.choices[0]!.message.content!.length).toBeGreaterThan(0);
      expect((await emu.control.generations()).map((g) => g.upstreamId)).toEqual([c.id]);
    } finally {
      expect(await emu.stop()).toEqual({ code: 0, signal: null });
    }
  });

  it('refuses an unknown profile with a message and a non-zero exit', async () => {
    await expect(startEmulatorProcess({ profile: 'nope' as 'openai' })).rejects.toThrow(/invalid --profile nope/);
  });
});
