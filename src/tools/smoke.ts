#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { streamChat } from '../client/index.js';
import { firstApiKey } from '../config/load.js';

/**
 * `node dist/tools/smoke.js --url http://host:8080`: the chart's `helm test`. Streams one chat to
 * its `done` event and embeds one sentence through the public Service; exits 0 when both work.
 * The API key, if the API needs one, comes from the first of API_KEYS in the environment.
 */
const { values } = parseArgs({ options: { url: { type: 'string' }, timeout: { type: 'string', default: '60' } } });
if (!values.url) {
  process.stderr.write('usage: smoke --url http://HOST:PORT [--timeout SECONDS]\n');
  process.exit(2);
}
const baseUrl = values.url.replace(/\/$/, '');
const apiKey = firstApiKey();
const signal = AbortSignal.timeout(Number(values.timeout) * 1000);
const say = (check: string, ok: boolean, detail: unknown) => process.stdout.write(`${JSON.stringify({ check, ok, detail })}\n`);

try {
  const stream = await streamChat(
    baseUrl,
    { messages: [{ role: 'user', content: 'helm test smoke check' }], max_tokens: 16 },
    { apiKey, signal },
  );
  const streamOk = !stream.error && stream.text.length > 0 && stream.lastEventId > 0;
  say('stream', streamOk, {
    streamId: stream.streamId,
    tokens: stream.lastEventId,
    finishReason: stream.finishReason,
    resumes: stream.resumes,
  });

  const res = await fetch(`${baseUrl}/v1/embeddings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
    body: JSON.stringify({ input: 'a pod drains before it exits' }),
    signal,
  });
  const body = (await res.json()) as { data?: { embedding: number[] }[] };
  const dims = body.data?.[0]?.embedding.length ?? 0;
  const embedOk = res.ok && dims > 0;
  say('embeddings', embedOk, { status: res.status, dims });
  process.exit(streamOk && embedOk ? 0 : 1);
} catch (err) {
  say('smoke', false, { error: (err as Error).message });
  process.exit(1);
}
