#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { PROFILE_NAMES, type ProfileName } from './profiles.js';
import { createEmulator, type EmulatorOptions } from './server.js';

/**
 * `tsx testkit/emulator/cli.ts [--port 0] [--host 127.0.0.1] [--profile openai] [--tokens-per-second 50]
 * [--model name]... [--min-tokens 40] [--max-tokens 400] [--thinking] [--api-key KEY]`
 * Prints one JSON line once listening, and exits 0 on SIGTERM or SIGINT.
 */
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    profile: { type: 'string', default: 'openai' },
    'tokens-per-second': { type: 'string' },
    model: { type: 'string', multiple: true },
    'min-tokens': { type: 'string' },
    'max-tokens': { type: 'string' },
    thinking: { type: 'boolean' },
    'api-key': { type: 'string' },
  },
});

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

const number = (flag: string, raw: string | undefined) => {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  return Number.isFinite(n) ? n : fail(`invalid --${flag} ${raw}: expected a number`);
};

if (!PROFILE_NAMES.includes(values.profile as ProfileName)) {
  fail(`invalid --profile ${values.profile}: expected one of ${PROFILE_NAMES.join(', ')}`);
}
const options: EmulatorOptions = {
  host: values.host,
  port: number('port', values.port),
  profile: values.profile as ProfileName,
  tokensPerSecond: number('tokens-per-second', values['tokens-per-second']),
  models: values.model,
  minTokens: number('min-tokens', values['min-tokens']),
  maxTokens: number('max-tokens', values['max-tokens']),
  thinking: values.thinking,
  apiKey: values['api-key'],
};

const emulator = (() => {
  try {
    return createEmulator(options);
  } catch (err) {
    return fail(`invalid options: ${(err as Error).message}`);
  }
})();
const address = await emulator.listen();
process.stdout.write(`${JSON.stringify({ msg: 'listening', ...address, profile: emulator.config.profile })}\n`);
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => void emulator.close().then(() => process.exit(0)));
}
