/**
 * The streams bench's baseline, as its own process so its CPU is measured apart from the load
 * generator's: an Express SSE proxy of the upstream with no durability at all, what any proxy of
 * it costs. `node --import tsx bench/bare-proxy.ts <upstream url>`; prints `{"url": …}` once it
 * listens.
 */
import express from 'express';
import OpenAI from 'openai';
import type { AddressInfo } from 'node:net';

const upstreamUrl = process.argv[2];
if (!upstreamUrl) throw new Error('usage: bare-proxy.ts <upstream url>');
const client = new OpenAI({ baseURL: upstreamUrl, apiKey: 'unused' });
const app = express();
app.use(express.json());
app.post('/v1/chat/stream', async (req, res) => {
  const ac = new AbortController();
  res.on('close', () => ac.abort());
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
  const body = req.body as { messages: { role: 'user'; content: string }[]; max_tokens: number };
  const stream = await client.chat.completions.create(
    { model: 'lastcall-dev', messages: body.messages, max_tokens: body.max_tokens, stream: true },
    { signal: ac.signal },
  );
  let seq = 0;
  for await (const chunk of stream) {
    const text = chunk.choices[0]?.delta?.content;
    if (text) res.write(`id: ${++seq}\nevent: token\ndata: ${JSON.stringify({ text })}\n\n`);
  }
  res.end();
});
const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`);
});
// Exits through process.exit, so a profiler (`--cpu-prof`) writes its profile.
process.once('SIGTERM', () => process.exit(0));
