import { z } from 'zod';

/**
 * The one schema for every environment variable the service reads. Each entry documents its
 * variable; `loadConfig` validates all of them once, before anything listens.
 */
const seconds = (min: number, max: number) => z.coerce.number().finite().min(min).max(max);
const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = (max: number) => z.coerce.number().int().min(1).max(max);
const optionalString = z
  .string()
  .transform((s) => s.trim())
  .pipe(z.string())
  .optional()
  .transform((s) => (s ? s : undefined));

const flag = z
  .enum(['true', 'false', '1', '0', ''])
  .default('false')
  .transform((v) => v === 'true' || v === '1');

export const envSchema = z.object({
  /** Public API and demo page. */
  PORT: port.default(8080),
  /** Probes and metrics; never drained. */
  ADMIN_PORT: port.default(9090),
  /** Address both servers bind to. */
  HOST: z.string().min(1).default('0.0.0.0'),
  /** The pod's terminationGracePeriodSeconds; the chart sets both from one value. */
  TERMINATION_GRACE_PERIOD_SECONDS: seconds(1, 3600).default(30),
  /** Time the preStop hook already spent before SIGTERM arrives. */
  PRESTOP_SLEEP_SECONDS: seconds(0, 3600).default(0),
  /** Kept in hand before the kubelet's SIGKILL. */
  SHUTDOWN_SAFETY_MARGIN_SECONDS: seconds(0, 600).default(2),
  /** Keep serving after readiness flips while load balancers notice; default depends on preStop. */
  ENDPOINT_PROPAGATION_SECONDS: seconds(0, 600).optional(),
  /**
   * When > 0, the exit phase holds the process until Prometheus has scraped /metrics once more
   * (at most this long), so the last phases and counters reach it; the budget reserves it.
   */
  FINAL_SCRAPE_WAIT_SECONDS: seconds(0, 60).default(0),
  /** PostgreSQL with pgvector; unset means embedded PGlite in DATA_DIR (one replica only). */
  DATABASE_URL: optionalString.pipe(z.url().optional()),
  /** Where embedded PGlite keeps its files. */
  DATA_DIR: z.string().min(1).default('.data'),
  /**
   * Longest a statement may run (PostgreSQL's statement_timeout; the client gives up 2 s later
   * if the server cannot even say so). Migrations and index builds at start-up are exempt.
   */
  DATABASE_STATEMENT_TIMEOUT_SECONDS: seconds(0.1, 3600).default(5),
  /** Longest a request waits for a connection (a new one, or a free one from a busy pool). */
  DATABASE_CONNECT_TIMEOUT_SECONDS: seconds(0.1, 600).default(5),
  /** Size of the PostgreSQL pool (ignored for PGlite, which has one connection). */
  DATABASE_POOL_SIZE: positiveInt(200).default(10),
  /** Any OpenAI-compatible server; unset starts the built-in deterministic upstream in-process. */
  OPENAI_BASE_URL: optionalString.pipe(z.url().optional()),
  OPENAI_API_KEY: optionalString,
  LLM_MODEL: z.string().min(1).default('lastcall-dev'),
  /** A transformers.js model folder; unset uses the model shipped in @lastcall/embedding-model. */
  EMBEDDING_MODEL_DIR: optionalString,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Token rate of the built-in upstream. */
  DEV_UPSTREAM_TOKENS_PER_SECOND: z.coerce.number().finite().min(0.1).max(100000).default(50),
  /** Lease of a running task or stream generation before another replica may take it. */
  TASK_LEASE_SECONDS: seconds(2, 600).default(15),
  /**
   * Comma-separated bearer keys, each `name:key` (the name owns what the key creates, so a key can
   * be rotated under the same name) or a bare key (owned by a digest of the key, as before).
   * Unset leaves the API open: outside Kubernetes with a warning, inside only with ALLOW_ANONYMOUS.
   */
  API_KEYS: optionalString,
  /** Inside Kubernetes the API refuses to start without API_KEYS unless this is true. */
  ALLOW_ANONYMOUS: flag,
  /** Accept the bearer key as `?key=` on stream URLs (it ends up in logs and history); prefer stream tickets. */
  ALLOW_KEY_IN_QUERY: flag,
  /** Set by the kubelet in every pod: tells a cluster from a laptop. */
  KUBERNETES_SERVICE_HOST: optionalString,
  /** Streams generated at once by this replica; beyond it 429 + Retry-After. */
  MAX_CONCURRENT_STREAMS: positiveInt(100000).default(256),
  /**
   * Time a client has to send a whole request (headers and body); an SSE response is not cut by
   * it. A connection that sends nothing is closed after the header deadline (at most 10 s of it).
   */
  REQUEST_TIMEOUT_SECONDS: seconds(1, 3600).default(30),
  /** Connections to the public port at once per replica; more are dropped on accept (counted). */
  MAX_CONNECTIONS: positiveInt(1_000_000).default(1024),
  /** Requests that start work (POSTs) per second per key on one replica, and the burst above it. */
  KEY_RATE_PER_SECOND: z.coerce.number().finite().min(0.01).max(100_000).default(20),
  KEY_RATE_BURST: positiveInt(100_000).default(40),
  /** Streams one key may have generating at once (across replicas). */
  KEY_MAX_STREAMS: positiveInt(1_000_000).default(64),
  /** Tasks one key may have queued or running at once (across replicas). */
  KEY_MAX_ACTIVE_TASKS: positiveInt(1_000_000).default(100),
  /** Documents one key may store. */
  KEY_MAX_DOCUMENTS: positiveInt(100_000_000).default(100_000),
  /** Largest accepted request body. */
  MAX_BODY_BYTES: positiveInt(64 * 1024 * 1024).default(1024 * 1024),
  /** Identifies this replica in leases and logs; the chart sets the pod name. */
  REPLICA_ID: z.string().min(1).max(200).optional(),
  /** Where the drain report goes for the kubelet's termination message (written when it exists). */
  TERMINATION_MESSAGE_PATH: z.string().min(1).default('/dev/termination-log'),
  /** Tasks this replica runs at once. */
  TASK_WORKER_CONCURRENCY: positiveInt(256).default(4),
  /**
   * How a replica continues a stream another replica was generating: `responses` (re-attach to
   * the upstream's background response), `vllm`, `prefix` or `trailing` (the upstream continues
   * the persisted answer), `restart` (regenerate, `reset` at the first difference); unset: the
   * app's default for its upstream.
   */
  LLM_RESUME_MODE: optionalString.pipe(z.enum(['responses', 'vllm', 'prefix', 'trailing', 'restart']).optional()),
  /** `before-send`: no token reaches a client before its batch is committed (closes the SIGKILL seam). */
  STREAM_PERSIST: z.enum(['after-send', 'before-send']).default('after-send'),
  /**
   * `compact`: a finished stream's log is rewritten as one row (a few bytes per token instead of
   * ~150). `batches`: that, and each write is one row per stream instead of one per token (the
   * database's work per token falls by the batch size). Releases before the one that added each
   * cannot read it: set it once none of them will run again.
   */
  STREAM_LOG_FORMAT: z.enum(['rows', 'compact', 'batches']).default('rows'),
  /** Comma-separated OpenAI model names answered by the served embedding model. */
  EMBEDDING_MODEL_ALIASES: optionalString,
  /** How long finished streams, responses and tasks are kept (fractions allowed, down to a second); 0 keeps them forever. */
  RETENTION_HOURS: z.coerce
    .number()
    .finite()
    .min(0)
    .max(8760)
    .refine((h) => h === 0 || h >= 1 / 3600, 'must be 0 (keep forever) or at least one second (0.000278)')
    .default(24),
  /** OTLP/HTTP collector for traces; unset: tracing off. */
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalString.pipe(z.url().optional()),
  /** The service name traces carry (the chart sets the release's name). */
  OTEL_SERVICE_NAME: z.string().min(1).default('lastcall'),
});

export type Env = z.infer<typeof envSchema>;
