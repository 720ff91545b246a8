import { createHash } from 'node:crypto';
import os from 'node:os';
import { computeBudget, type ShutdownBudget } from '../drain/budget.js';
import { ConfigError } from '../errors/errors.js';
import { envSchema, type Env } from './schema.js';

/**
 * The service's configuration as typed slices, one per feature, mapped from the environment once
 * here. Environment variable names (SCREAMING_CASE) never leave `config/`: a feature receives its
 * slice with domain names, as the kubelet's shutdown manager takes a typed Config.
 */
export interface Config {
  /** Names this replica in leases, logs and metrics. */
  readonly replica: string;
  readonly logLevel: Env['LOG_LEVEL'];
  readonly shutdown: ShutdownConfig;
  readonly admin: ListenConfig;
  readonly http: HttpConfig;
  readonly database: DatabaseConfig;
  readonly llm: LlmConfig;
  readonly embeddings: EmbeddingsConfig;
  readonly streams: StreamsConfig;
  readonly tasks: TasksConfig;
  readonly vectors: VectorsConfig;
  readonly openai: OpenAiConfig;
  readonly aiSdk: AiSdkConfig;
  /** How long finished streams, responses and tasks are kept. */
  readonly retention: { readonly hours: number };
  /** OTLP/HTTP traces; undefined endpoint: tracing off. */
  readonly tracing: { readonly endpoint: string | undefined; readonly serviceName: string };
  /** True when the kubelet started this process. */
  readonly inKubernetes: boolean;
}

/** One bearer key and the owner of what it creates. */
export interface ApiKey {
  readonly key: string;
  /** `name:<name>` for a named key; `key:<digest>` for a bare one (the stored owner of earlier releases). */
  readonly owner: string;
}

export interface AuthConfig {
  readonly keys: readonly ApiKey[];
  /** No keys and nobody chose an open API: refuse to start (set only inside Kubernetes). */
  readonly allowAnonymous: boolean;
  readonly allowKeyInQuery: boolean;
}

export interface ListenConfig {
  readonly host: string;
  readonly port: number;
}

export interface ShutdownConfig {
  readonly budget: ShutdownBudget;
  /** Where the drain report goes for the kubelet's termination message (written when it exists). */
  readonly terminationMessagePath: string;
}

export interface HttpConfig extends ListenConfig {
  readonly auth: AuthConfig;
  /** Per key, per replica, for requests that start work. */
  readonly rate: { readonly perSecond: number; readonly burst: number };
  readonly maxBodyBytes: number;
  /** Time to receive a whole request. */
  readonly requestTimeoutMs: number;
  /** Time to receive a request's headers, and the longest a connection may sit without one. */
  readonly headersTimeoutMs: number;
  readonly maxConnections: number;
}

export interface DatabaseConfig {
  /** PostgreSQL; undefined means embedded PGlite in `dataDir`. */
  readonly url: string | undefined;
  readonly dataDir: string;
  readonly poolSize: number;
  readonly statementTimeoutMs: number;
  readonly connectTimeoutMs: number;
}

export interface LlmConfig {
  /** An OpenAI-compatible server; undefined starts the built-in dev upstream in-process. */
  readonly baseUrl: string | undefined;
  readonly apiKey: string | undefined;
  readonly model: string;
  readonly devTokensPerSecond: number;
  /** Upstream sockets: one per stream being generated plus task steps, so the stream cap (not this pool) limits. */
  readonly maxConnections: number;
  /** How a takeover continues a stream with this upstream; undefined: the default for the upstream. */
  readonly resumeMode: Env['LLM_RESUME_MODE'];
}

export interface EmbeddingsConfig {
  /** A transformers.js model folder; undefined uses the model shipped in @lastcall/embedding-model. */
  readonly modelDir: string | undefined;
  /** Other model names (OpenAI's, say) the served model answers to. */
  readonly aliases: readonly string[];
}

export interface StreamsConfig {
  /** Generations at once on this replica. */
  readonly maxConcurrent: number;
  /** Lease of a generation before another replica may take it over. */
  readonly leaseSeconds: number;
  /** `before-send`: a batch of tokens reaches clients only once its write committed. */
  readonly persist: Env['STREAM_PERSIST'];
  /** `compact`: a finished stream's log becomes one row. */
  readonly logFormat: Env['STREAM_LOG_FORMAT'];
  /** Streams one key may have generating at once, across replicas. */
  readonly perKeyMax: number;
}

export interface TasksConfig {
  readonly leaseSeconds: number;
  /** Tasks this replica runs at once. */
  readonly concurrency: number;
  /** Progress event streams open at once; each polls the database. */
  readonly maxEventStreams: number;
  /** Tasks one key may have queued or running at once. */
  readonly perKeyMax: number;
}

/** The OpenAI-compatible front door: the model names it answers to. */
export interface OpenAiConfig {
  /** The chat model served (LLM_MODEL): the only name /v1/chat/completions and /v1/responses accept. */
  readonly chatModel: string;
  /** Other names the embedding model answers to (EMBEDDING_MODEL_ALIASES), listed by /v1/models. */
  readonly embeddingAliases: readonly string[];
}

export interface VectorsConfig {
  /** Documents one key may store. */
  readonly perKeyMaxDocuments: number;
}

export interface AiSdkConfig {
  /**
   * How long a chat's finished stream still counts as its active one, so a client cut off just
   * before the end (a SIGKILL, a handoff racing the last tokens) still gets the end on resume.
   */
  readonly finishedReplaySeconds: number;
}

/** Validates the whole environment once; throws one ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid environment: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  const inKubernetes = e.KUBERNETES_SERVICE_HOST !== undefined;
  const budget = computeBudget({
    gracePeriodSeconds: e.TERMINATION_GRACE_PERIOD_SECONDS,
    preStopSeconds: e.PRESTOP_SLEEP_SECONDS,
    safetyMarginSeconds: e.SHUTDOWN_SAFETY_MARGIN_SECONDS,
    // Load balancers need time to notice a pod leaving, unless the preStop sleep gave it; outside
    // Kubernetes nothing has to notice, so Ctrl-C does not wait.
    endpointPropagationSeconds: e.ENDPOINT_PROPAGATION_SECONDS ?? (e.PRESTOP_SLEEP_SECONDS > 0 || !inKubernetes ? 0 : 5),
    finalScrapeWaitSeconds: e.FINAL_SCRAPE_WAIT_SECONDS,
  });
  const keys = parseApiKeys(e.API_KEYS);
  if (keys.length === 0 && inKubernetes && !e.ALLOW_ANONYMOUS) {
    throw new ConfigError(
      'API_KEYS is unset: inside Kubernetes the API refuses to start open to anyone; ' +
        'set API_KEYS, or ALLOW_ANONYMOUS=true to choose an open API',
    );
  }
  return Object.freeze({
    replica: e.REPLICA_ID ?? os.hostname(),
    logLevel: e.LOG_LEVEL,
    shutdown: { budget, terminationMessagePath: e.TERMINATION_MESSAGE_PATH },
    admin: { host: e.HOST, port: e.ADMIN_PORT },
    http: {
      host: e.HOST,
      port: e.PORT,
      maxBodyBytes: e.MAX_BODY_BYTES,
      requestTimeoutMs: e.REQUEST_TIMEOUT_SECONDS * 1000,
      headersTimeoutMs: Math.min(10, e.REQUEST_TIMEOUT_SECONDS) * 1000,
      maxConnections: e.MAX_CONNECTIONS,
      rate: { perSecond: e.KEY_RATE_PER_SECOND, burst: e.KEY_RATE_BURST },
      auth: {
        keys,
        allowAnonymous: e.ALLOW_ANONYMOUS || (!inKubernetes && keys.length === 0),
        allowKeyInQuery: e.ALLOW_KEY_IN_QUERY,
      },
    },
    database: {
      url: e.DATABASE_URL,
      dataDir: e.DATA_DIR,
      poolSize: e.DATABASE_POOL_SIZE,
      statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_SECONDS * 1000,
      connectTimeoutMs: e.DATABASE_CONNECT_TIMEOUT_SECONDS * 1000,
    },
    llm: {
      baseUrl: e.OPENAI_BASE_URL,
      apiKey: e.OPENAI_API_KEY,
      model: e.LLM_MODEL,
      devTokensPerSecond: e.DEV_UPSTREAM_TOKENS_PER_SECOND,
      maxConnections: e.MAX_CONCURRENT_STREAMS + e.TASK_WORKER_CONCURRENCY * 2 + 16,
      resumeMode: e.LLM_RESUME_MODE,
    },
    embeddings: { modelDir: e.EMBEDDING_MODEL_DIR, aliases: list(e.EMBEDDING_MODEL_ALIASES) },
    // One lease length for every leased thing: a task and a stream's generation.
    streams: {
      maxConcurrent: e.MAX_CONCURRENT_STREAMS,
      leaseSeconds: e.TASK_LEASE_SECONDS,
      persist: e.STREAM_PERSIST,
      logFormat: e.STREAM_LOG_FORMAT,
      perKeyMax: e.KEY_MAX_STREAMS,
    },
    tasks: {
      leaseSeconds: e.TASK_LEASE_SECONDS,
      concurrency: e.TASK_WORKER_CONCURRENCY,
      maxEventStreams: e.MAX_CONCURRENT_STREAMS,
      perKeyMax: e.KEY_MAX_ACTIVE_TASKS,
    },
    vectors: { perKeyMaxDocuments: e.KEY_MAX_DOCUMENTS },
    openai: { chatModel: e.LLM_MODEL, embeddingAliases: list(e.EMBEDDING_MODEL_ALIASES) },
    // Not an env variable: a client's reconnect comes within seconds; a minute covers its retries.
    aiSdk: { finishedReplaySeconds: 60 },
    retention: { hours: e.RETENTION_HOURS },
    tracing: { endpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: e.OTEL_SERVICE_NAME },
    inKubernetes,
  });
}

/** The first key of API_KEYS, for a client started with the service's environment (the chart's `helm test`). */
export function firstApiKey(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return parseApiKeys(env.API_KEYS)[0]?.key;
}

/** Shortest key accepted: about 140 bits if random base64, far past guessing over HTTP. */
export const MIN_KEY_CHARS = 24;
const NAMED = /^([A-Za-z0-9_.-]{1,64}):(.+)$/;

const list = (raw: string | undefined) =>
  (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** `name:key` or a bare key per entry; problems name the entry's position, never the key. */
export function parseApiKeys(raw: string | undefined): ApiKey[] {
  const names = new Set<string>();
  return list(raw).map((entry, i) => {
    const named = NAMED.exec(entry);
    const key = named ? named[2]! : entry;
    if (key.length < MIN_KEY_CHARS) {
      throw new ConfigError(`API_KEYS: key ${i + 1} has ${key.length} characters; at least ${MIN_KEY_CHARS}`);
    }
    if (!named) return { key, owner: `key:${createHash('sha256').update(key).digest('hex').slice(0, 16)}` };
    const name = named[1]!;
    if (names.has(name))
      throw new ConfigError(`API_KEYS: the name ${name} is given twice; rotate by replacing the key under one name`);
    names.add(name);
    return { key, owner: `name:${name}` };
  });
}
