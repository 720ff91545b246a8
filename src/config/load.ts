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
  readonly maxBodyBytes: number;
  /** Time to receive a whole request. */
  readonly requestTimeoutMs: number;
  /** Time to receive a request's headers, and the longest a connection may sit without one. */
  readonly headersTimeoutMs: number;
  readonly maxConnections: number;
  /** Bearer keys; empty leaves the API open. */
  readonly apiKeys: readonly string[];
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
}

export interface EmbeddingsConfig {
  /** A transformers.js model folder; undefined uses the model shipped in @lastcall/embedding-model. */
  readonly modelDir: string | undefined;
}

export interface StreamsConfig {
  /** Generations at once on this replica. */
  readonly maxConcurrent: number;
  /** Lease of a generation before another replica may take it over. */
  readonly leaseSeconds: number;
}

export interface TasksConfig {
  readonly leaseSeconds: number;
  /** Tasks this replica runs at once. */
  readonly concurrency: number;
  /** Progress event streams open at once; each polls the database. */
  readonly maxEventStreams: number;
}

/** Validates the whole environment once; throws one ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid environment: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  const budget = computeBudget({
    gracePeriodSeconds: e.TERMINATION_GRACE_PERIOD_SECONDS,
    preStopSeconds: e.PRESTOP_SLEEP_SECONDS,
    safetyMarginSeconds: e.SHUTDOWN_SAFETY_MARGIN_SECONDS,
    endpointPropagationSeconds: e.ENDPOINT_PROPAGATION_SECONDS ?? (e.PRESTOP_SLEEP_SECONDS > 0 ? 0 : 5),
    finalScrapeWaitSeconds: e.FINAL_SCRAPE_WAIT_SECONDS,
  });
  const apiKeys = (e.API_KEYS ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
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
      apiKeys,
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
    },
    embeddings: { modelDir: e.EMBEDDING_MODEL_DIR },
    // One lease length for every leased thing: a task and a stream's generation.
    streams: { maxConcurrent: e.MAX_CONCURRENT_STREAMS, leaseSeconds: e.TASK_LEASE_SECONDS },
    tasks: { leaseSeconds: e.TASK_LEASE_SECONDS, concurrency: e.TASK_WORKER_CONCURRENCY, maxEventStreams: e.MAX_CONCURRENT_STREAMS },
  });
}
