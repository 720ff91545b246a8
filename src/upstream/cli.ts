#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { createUpstreamServer } from './server.js';

/** `lastcall-upstream --port N [--host H] [--tokens-per-second R]`: the dev upstream, standalone. */
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8000' },
    host: { type: 'string', default: '127.0.0.1' },
    'tokens-per-second': { type: 'string', default: process.env.DEV_UPSTREAM_TOKENS_PER_SECOND ?? '50' },
  },
});
const port = Number(values.port);
const rate = Number(values['tokens-per-second']);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`invalid --port ${values.port}: expected 0-65535\n`);
  process.exit(1);
}
if (!(rate > 0)) {
  process.stderr.write(`invalid --tokens-per-second ${values['tokens-per-second']}: expected a positive number\n`);
  process.exit(1);
}
const upstream = createUpstreamServer({ tokensPerSecond: rate, host: values.host, port });
const url = await upstream.listen();
process.stdout.write(
  `${JSON.stringify({ msg: 'dev upstream listening (deterministic text, not a real model)', url, tokensPerSecond: rate })}\n`,
);
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => void upstream.close().then(() => process.exit(0)));
}
