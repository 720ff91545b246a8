import http from 'node:http';
import { z } from 'zod';
import { handleChat } from './chat-completions.js';
import { applyConfig, configPatch, DEFAULT_CONFIG, type EmulatorConfig } from './config.js';
import { profileOf, sendError, type EmulatorContext } from './context.js';
import { faultPatch, Faults } from './faults.js';
import { History } from './history.js';
import { BodyError, readJson, sendJson } from './http.js';
import { ResponsesApi } from './responses.js';
import { ResponseStore } from './responses-store.js';

export interface EmulatorOptions extends Partial<EmulatorConfig> {
  host?: string;
  port?: number;
}

export interface EmulatorAddress {
  port: number;
  /** The origin, where `/__emulator/*` lives. */
  url: string;
  /** What an OpenAI client takes as its base URL. */
  baseUrl: string;
}

export interface Emulator {
  readonly config: EmulatorConfig;
  readonly faults: Faults;
  readonly history: History;
  listen(): Promise<EmulatorAddress>;
  close(): Promise<void>;
}

// Messages providers send with these statuses (https://platform.openai.com/docs/guides/error-codes).
const FAILURE_MESSAGES: Record<number, string> = {
  429: 'Rate limit reached for requests. Please try again later.',
  500: 'The server had an error while processing your request. Sorry about that!',
  502: 'Bad gateway.',
  503: 'The engine is currently overloaded, please try again later.',
};

/**
 * An OpenAI-compatible provider emulator: chat completions and the Responses API, behaving like the
 * provider named by the profile, with sampled (fresh) text and switchable faults.
 */
export function createEmulator(options: EmulatorOptions = {}): Emulator {
  const { host = '127.0.0.1', port = 0, ...overrides } = options;
  const config = applyConfig({ ...DEFAULT_CONFIG, models: [...DEFAULT_CONFIG.models] }, configPatch.parse(overrides));
  const closing = new AbortController();
  const ctx: EmulatorContext = { config, faults: new Faults(), history: new History(), closing: closing.signal };
  const store = new ResponseStore(config);
  const responses = new ResponsesApi(ctx, store);

  async function api(req: http.IncomingMessage, res: http.ServerResponse, method: string, path: string, query: URLSearchParams) {
    if (config.apiKey !== null && req.headers.authorization !== `Bearer ${config.apiKey}`) {
      return sendError(ctx, res, 401, 'Incorrect API key provided.', { code: 'invalid_api_key' });
    }
    const failure = ctx.faults.takeRequestFailure();
    if (failure) {
      const { status, retryAfterSeconds } = failure;
      const headers: Record<string, string> = retryAfterSeconds === null ? {} : { 'Retry-After': String(retryAfterSeconds) };
      const code = status === 429 ? 'rate_limit_exceeded' : null;
      const body = profileOf(ctx).error(status, FAILURE_MESSAGES[status] ?? 'Error.', { code });
      return sendJson(res, status, body, headers);
    }
    const profile = profileOf(ctx);
    if (method === 'GET' && path === '/v1/models') {
      const created = Math.floor(Date.now() / 1000);
      const data = config.models.map((id) => ({ id, object: 'model', created, owned_by: 'emulator' }));
      return sendJson(res, 200, { object: 'list', data });
    }
    if (method === 'POST' && profile.chatPaths.includes(path)) return handleChat(ctx, res, path, await readJson(req));
    if (profile.responses !== 'none') {
      if (method === 'POST' && path === '/v1/responses') return responses.create(res, await readJson(req));
      const m = /^\/v1\/responses\/([^/]+)(\/cancel)?$/.exec(path);
      if (m && profile.responses === 'stateful') {
        const id = decodeURIComponent(m[1]!);
        if (m[2] && method === 'POST') return responses.cancel(res, id);
        if (!m[2] && method === 'GET') return responses.retrieve(res, id, query);
        if (!m[2] && method === 'DELETE') return responses.delete(res, id);
      }
    }
    sendJson(res, 404, profile.notFound(method, path));
  }

  async function admin(req: http.IncomingMessage, res: http.ServerResponse, method: string, path: string) {
    const route = `${method} ${path}`;
    const patch = async <T extends z.ZodType>(schema: T): Promise<z.infer<T> | undefined> => {
      const parsed = schema.safeParse(await readJson(req));
      if (parsed.success) return parsed.data;
      sendJson(res, 400, { error: { message: z.prettifyError(parsed.error) } });
      return undefined;
    };
    switch (route) {
      case 'GET /__emulator/config':
        return sendJson(res, 200, config);
      case 'POST /__emulator/config': {
        const p = await patch(configPatch);
        if (!p) return;
        try {
          return sendJson(res, 200, applyConfig(config, p));
        } catch (err) {
          return sendJson(res, 400, { error: { message: (err as Error).message } });
        }
      }
      case 'GET /__emulator/faults':
        return sendJson(res, 200, ctx.faults.settings);
      case 'POST /__emulator/faults': {
        const p = await patch(faultPatch);
        return p && sendJson(res, 200, ctx.faults.set(p));
      }
      case 'GET /__emulator/generations':
        return sendJson(res, 200, { data: ctx.history.list() });
      case 'POST /__emulator/reset':
        ctx.history.clear();
        return sendJson(res, 200, { reset: true });
      case 'POST /__emulator/forget': {
        const p = await patch(z.object({ id: z.string().min(1) }));
        return p && sendJson(res, 200, { id: p.id, forgotten: store.remove(p.id) });
      }
      case 'POST /__emulator/forget-all':
        store.clear();
        return sendJson(res, 200, { forgotten: true });
      default:
        return sendJson(res, 404, { error: { message: `no emulator route ${route}` } });
    }
  }

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const method = req.method ?? 'GET';
    try {
      if (url.pathname.startsWith('/__emulator/')) await admin(req, res, method, url.pathname);
      else await api(req, res, method, url.pathname, url.searchParams);
    } catch (err) {
      if (res.headersSent) res.destroy();
      else if (err instanceof BodyError) sendError(ctx, res, err.status, err.message);
      else sendError(ctx, res, 500, FAILURE_MESSAGES[500]!);
    }
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  return {
    config,
    faults: ctx.faults,
    history: ctx.history,
    listen: () =>
      new Promise<EmulatorAddress>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          const addr = server.address();
          const bound = typeof addr === 'object' && addr ? addr.port : port;
          const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
          const origin = `http://${reachable}:${bound}`;
          resolve({ port: bound, url: origin, baseUrl: `${origin}/v1` });
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        closing.abort();
        store.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
