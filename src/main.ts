#!/usr/bin/env node
import type { Span } from '@opentelemetry/api';
import { createAiSdkFeature } from './ai-sdk/feature.js';
import { loadConfig, type Config } from './config/load.js';
import { createDatabaseFeature } from './db/feature.js';
import { IdempotencyKeys } from './db/idempotency.js';
import { DrainEngine } from './drain/engine.js';
import { PHASE_TABLE } from './drain/phases.js';
import { handleShutdownSignals } from './drain/signals.js';
import { createEmbeddingsFeature } from './embeddings/feature.js';
import { ConfigError } from './errors/errors.js';
import type { CoreDeps, Feature } from './feature.js';
import { createAdminFeature } from './health/feature.js';
import { createHttpFeature } from './http/feature.js';
import { createLlmFeature } from './llm/llm.js';
import { createLogger } from './log/logger.js';
import { createHttpMetrics } from './metrics/http.js';
import { createRegistry } from './metrics/registry.js';
import { createShutdownMetrics } from './metrics/shutdown.js';
import { createOpenAiFeature } from './openai/feature.js';
import { createRetentionFeature } from './retention/feature.js';
import { createStreamsFeature } from './streams/feature.js';
import { createTasksFeature } from './tasks/feature.js';
import { systemClock } from './time/clock.js';
import { createTracingFeature } from './tracing/feature.js';
import { tracer } from './tracing/spans.js';
import { createVectorsFeature } from './vectors/feature.js';

/** The composition root: the only place that wires features together and can start the drain. */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    return fail(err);
  }
  const { budget } = config.shutdown;
  const logger = createLogger(config.logLevel, { replica: config.replica });
  const registry = createRegistry({ replica: config.replica });
  const engine = createEngine(config, logger, registry);
  const trigger = handleShutdownSignals({
    engine,
    budget,
    logger,
    terminationMessagePath: config.shutdown.terminationMessagePath,
    clock: systemClock,
    exit: (code) => process.exit(code),
    signals: process,
  });
  // Whatever escaped every handler: hand off what this replica holds, then exit 1.
  process.on('uncaughtException', (err) => trigger.fatal(err));
  process.on('unhandledRejection', (err) => trigger.fatal(err));
  const core: CoreDeps = { logger, registry, drain: engine.view, replica: config.replica };
  const httpMetrics = createHttpMetrics(registry);

  // In the order they start: tracing before anything makes a span, probes, the model before
  // the database touches DATA_DIR.
  const tracing = await createTracingFeature(core, config.tracing);
  const admin = await createAdminFeature(core, { ...config.admin, finalScrapeMs: budget.finalScrapeMs });
  const embeddings = await createEmbeddingsFeature(
    {
      ...core,
      // Streams and tasks are unaffected, so they are handed off like at a SIGTERM; the
      // restarted container loads the model afresh.
      onModelFailure(err) {
        logger.error({ err: err.message }, 'embedding model thread failed; draining this replica');
        trigger.shutdown('embedding-thread-failed');
      },
    },
    config.embeddings,
  );
  const database = await createDatabaseFeature(core, config.database);
  const llm = await createLlmFeature(core, config.llm);
  const vectors = await createVectorsFeature({ ...core, db: database.db, embeddings: embeddings.service }, config.vectors);
  const retention = createRetentionFeature({ ...core, db: database.db }, config.retention);
  const { tombstones } = retention;
  const idempotency = new IdempotencyKeys(database.db);
  const tasks = createTasksFeature(
    {
      ...core,
      db: database.db,
      notifications: database.notifications,
      llm: llm.llm,
      httpMetrics,
      idempotency,
      search: vectors.search,
      tombstones,
    },
    config.tasks,
  );
  const streams = createStreamsFeature(
    { ...core, db: database.db, notifications: database.notifications, llm: llm.llm, httpMetrics, idempotency, tombstones },
    config.streams,
  );
  const openai = createOpenAiFeature({ ...core, manager: streams.manager, embeddings: embeddings.service }, config.openai);
  const aiSdk = createAiSdkFeature({ ...core, db: database.db, manager: streams.manager }, config.aiSdk);
  const http = createHttpFeature(
    { ...core, httpMetrics, features: [embeddings, vectors, tasks, streams, openai, aiSdk] },
    config.http,
  );

  // The shutdown sequence, in one place: each phase runs these features' participants.
  const features: Feature[] = [http, tasks, streams, aiSdk, retention, embeddings, vectors, llm, database, admin, tracing];
  for (const f of features) for (const p of f.participants) engine.register(p);
  logger.info({ plan: engine.plan().map((p) => ({ phase: p.phase, participants: p.participants })) }, 'shutdown plan');

  if (config.http.auth.keys.length === 0) logger.warn('API_KEYS unset: the public API is open to anyone who can reach it');
  const port = await http.listen();
  engine.markServing();
  logger.info(
    {
      port,
      adminPort: admin.port,
      budgetMs: budget.totalMs,
      propagationMs: budget.propagationMs,
      database: database.db.kind,
      upstream: llm.llm.upstream,
    },
    'listening',
  );
}

/** The engine, reporting every phase and failed participant in the log and the metrics. */
function createEngine(
  config: Config,
  logger: ReturnType<typeof createLogger>,
  registry: ReturnType<typeof createRegistry>,
): DrainEngine {
  const metrics = createShutdownMetrics(registry);
  metrics.budget.set(config.shutdown.budget.totalMs / 1000);
  // One span per phase, so a trace of the drain shows where its time went.
  const phaseSpans = new Map<string, Span>();
  const engine = new DrainEngine({
    clock: systemClock,
    table: PHASE_TABLE,
    budget: config.shutdown.budget,
    replica: config.replica,
    observer: {
      phaseStarted: (phase) => {
        phaseSpans.set(phase, tracer.startSpan(`shutdown.${phase}`, { attributes: { 'lastcall.replica': config.replica } }));
        logger.info({ phase }, 'shutdown phase started');
      },
      phaseEnded: (record) => {
        metrics.phaseDuration(record.name, record.durationMs / 1000);
        const span = phaseSpans.get(record.name);
        span?.setAttributes({
          'lastcall.phase.allowed_ms': record.allowedMs,
          'lastcall.phase.participants': record.participants.length,
        });
        for (const p of record.participants) span?.addEvent(p.name, { outcome: p.outcome, ms: p.ms });
        span?.end();
        logger.info({ phase: record.name, durationMs: record.durationMs, allowedMs: record.allowedMs }, 'shutdown phase ended');
      },
      participantFailed: (phase, outcome) => {
        metrics.participantTimeouts.inc({ phase, outcome: outcome.outcome });
        logger.warn({ phase, participant: outcome }, 'shutdown participant did not finish cleanly');
      },
    },
  });
  engine.view.onChange((state) => {
    metrics.setState(state);
    metrics.ready.set(state === 'serving' ? 1 : 0);
  });
  metrics.setState('starting');
  return engine;
}

function fail(err: unknown): never {
  const message = err instanceof ConfigError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`lastcall: ${message}\n`);
  process.exit(1);
}

main().catch(fail);
