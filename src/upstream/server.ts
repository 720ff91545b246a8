import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { sleep, systemClock } from '../time/clock.js';
import { plan } from './text.js';

/**
 * A deterministic OpenAI-compatible chat server (`/v1/chat/completions`, streaming or not,
 * `/v1/models`). It is the default upstream when no OPENAI_BASE_URL is set, and the upstream of
 * every test and benchmark.
 */
export interface UpstreamOptions {
  tokensPerSecond: number;
  host?: string;
  port?: number;
}

/** Faults the e2e harness switches on at run time through `POST /__dev/faults`. */
export interface UpstreamFaults {
  /** Every Nth streamed completion fails after `failAfterTokens` tokens (0 = never). */
  failEveryNthStream: number;
  failAfterTokens: number;
}

const chatRequest = z.object({
  model: z.string().default('lastcall-dev'),
  messages: z.array(z.object({ role: z.string(), content: z.string() })).min(1),
  stream: z.boolean().optional(),
  max_tokens: z.number().int().positive().optional(),
  max_completion_tokens: z.number().int().positive().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).optional(),
});

export function createUpstreamServer(opts: UpstreamOptions) {
  const faults: UpstreamFaults = { failEveryNthStream: 0, failAfterTokens: 5 };
  let streamsStarted = 0;
  const intervalMs = 1000 / opts.tokensPerSecond;

  const server = http.createServer(async (req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    try {
      if (req.method === 'GET' && url === '/v1/models') {
        return json(res, 200, { object: 'list', data: [{ id: 'lastcall-dev', object: 'model', owned_by: 'lastcall' }] });
      }
      if (req.method === 'POST' && url === '/__dev/faults') {
        Object.assign(
          faults,
          z
            .object({ failEveryNthStream: z.number().int().min(0), failAfterTokens: z.number().int().min(0) })
            .partial()
            .parse(await body(req)),
        );
        return json(res, 200, faults);
      }
      if (req.method !== 'POST' || url !== '/v1/chat/completions') {
        return json(res, 404, { error: { message: `no route ${req.method} ${url}`, type: 'invalid_request_error' } });
      }
      const parsed = chatRequest.safeParse(await body(req));
      if (!parsed.success) {
        return json(res, 400, {
          error: { message: parsed.error.issues[0]?.message ?? 'invalid', type: 'invalid_request_error' },
        });
      }
      const r = parsed.data;
      const { tokens, promptTokens } = plan(r.messages, r.max_completion_tokens ?? r.max_tokens);
      const capped = r.max_completion_tokens ?? r.max_tokens;
      const finishReason = capped !== undefined && tokens.length >= capped ? 'length' : 'stop';
      const usage = { prompt_tokens: promptTokens, completion_tokens: tokens.length, total_tokens: promptTokens + tokens.length };
      const id = `chatcmpl-${randomUUID()}`;
      const created = Math.floor(Date.now() / 1000);
      const aborted = new AbortController();
      res.on('close', () => aborted.abort());

      if (!r.stream) {
        // Take as long as streaming the same tokens would.
        await sleep(systemClock, tokens.length * intervalMs, aborted.signal);
        if (aborted.signal.aborted) return;
        return json(res, 200, {
          id,
          object: 'chat.completion',
          created,
          model: r.model,
          choices: [{ index: 0, message: { role: 'assistant', content: tokens.join('') }, finish_reason: finishReason }],
          usage,
        });
      }

      streamsStarted++;
      const failAt =
        faults.failEveryNthStream > 0 && streamsStarted % faults.failEveryNthStream === 0 ? faults.failAfterTokens : -1;
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
      const chunk = (delta: object, finish: string | null, extra: object = {}) =>
        res.write(
          `data: ${JSON.stringify({
            ...{ id, object: 'chat.completion.chunk', created, model: r.model },
            ...{ choices: [{ index: 0, delta, finish_reason: finish }], ...extra },
          })}\n\n`,
        );
      chunk({ role: 'assistant', content: '' }, null);
      const started = performance.now();
      for (let i = 0; i < tokens.length; i++) {
        if (i === failAt) {
          res.write(`data: ${JSON.stringify({ error: { message: 'injected upstream fault', type: 'server_error' } })}\n\n`);
          return res.destroy();
        }
        // Pace by elapsed time, not per-token timers, so high rates are not capped by timer granularity.
        const due = started + i * intervalMs - performance.now();
        if (due > 1) await sleep(systemClock, due, aborted.signal);
        if (aborted.signal.aborted) return;
        chunk({ content: tokens[i] }, null);
      }
      chunk({}, finishReason);
      if (r.stream_options?.include_usage) {
        res.write(
          `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: r.model, choices: [], usage })}\n\n`,
        );
      }
      res.end('data: [DONE]\n\n');
    } catch (err) {
      if (!res.headersSent) json(res, 400, { error: { message: (err as Error).message, type: 'invalid_request_error' } });
      else res.destroy();
    }
  });

  return {
    server,
    faults,
    listen: () =>
      new Promise<string>((resolve, reject) => {
        server.once('error', reject);
        server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
          const addr = server.address();
          const port = typeof addr === 'object' && addr ? addr.port : opts.port;
          resolve(`http://${opts.host ?? '127.0.0.1'}:${port}/v1`);
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function json(res: http.ServerResponse, status: number, payload: unknown) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(payload));
}

async function body(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > 8 * 1024 * 1024) throw new Error('request body too large');
    chunks.push(c as Buffer);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}
