#!/usr/bin/env node
import { loadConfig, type Config } from './config/load.js';
import { openDatabase } from './db/database.js';
import { systemClock } from './drain/clock.js';
import { DrainEngine } from './drain/engine.js';
import { PHASE_TABLE } from './drain/phases.js';
import { handleShutdownSignals } from './drain/signals.js';
import { ConfigError } from './errors/errors.js';
import type { Feature } from './feature.js';
import { createAdminServer } from './health/admin-server.js';
import { createPublicServer } from './http/public-server.js';
import { createLlm } from './llm/llm.js';
import { createLogger } from './log/logger.js';
import { createDatabaseMetrics } from './metrics/database.js';
import { createHttpMetrics } from './metrics/http.js';
import { createRegistry } from './metrics/registry.js';
import { createShutdownMetrics } from './metrics/shutdown.js';
import { createTasksFeature } from './tasks/feature.js';
import { embeddingsFeature } from './embeddings/feature.js';
import { locateModel } from './embeddings/location.js';
import { loadEmbeddingModelOnThread } from './embeddings/threaded-model.js';
import { createEmbeddingService } from './embeddings/service.js';
import { createEmbeddingMetrics } from './metrics/embeddings.js';
import { createVectorsFeature } from './vectors/feature.js';
import { createStreamsFeature } from './streams/feature.js';

/** The composition root: the only place that wires modules together and starts the drain. */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    return fail(err);
  }
  const logger = createLogger(config.LOG_LEVEL, { replica: config.REPLICA_ID });
  const registry = createRegistry({ replica: config.REPLICA_ID });
  const shutdownMetrics = createShutdownMetrics(registry);
  shutdownMetrics.budget.set(config.budget.totalMs / 1000);

  const engine = new DrainEngine({
    clock: systemClock,
    table: PHASE_TABLE,
    budget: config.budget,
    replica: config.REPLICA_ID,
    observer: {
      phaseStarted: (phase) => logger.info({ phase }, 'shutdown phase started'),
      phaseEnded: (record) => {
        shutdownMetrics.phaseDuration(record.name, record.durationMs / 1000);
        logger.info({ phase: record.name, durationMs: record.durationMs, allowedMs: record.allowedMs }, 'shutdown phase ended');
      },
      participantFailed: (phase, outcome) => {
        shutdownMetrics.participantTimeouts.inc({ phase, outcome: outcome.outcome });
        logger.warn({ phase, participant: outcome }, 'shutdown participant did not finish cleanly');
      },
    },
  });
  engine.view.onChange((state) => {
    shutdownMetrics.setState(state);
    shutdownMetrics.ready.set(state === 'serving' ? 1 : 0);
  });
  shutdownMetrics.setState('starting');
  const trigger = handleShutdownSignals({ engine, budget: config.budget, logger, terminationMessagePath: config.TERMINATION_MESSAGE_PATH });

  const admin = createAdminServer({ registry, drain: engine.view, host: config.HOST, port: config.ADMIN_PORT });
  const adminPort = await admin.listen();
  // Before the database opens: a missing or corrupt model exits 1 without touching DATA_DIR.
  const embeddingModel = await loadEmbeddingModelOnThread(locateModel(config.EMBEDDING_MODEL_DIR), {
    // Streams and tasks are unaffected, so they are handed off like at a SIGTERM; the restarted
    // container loads the model afresh.
    onFailure(err) {
      logger.error({ err: err.message }, 'embedding model thread failed; draining this replica');
      trigger.shutdown('embedding-thread-failed');
    },
  });

  const db = await openDatabase({
    url: config.DATABASE_URL,
    dataDir: config.DATA_DIR,
    poolSize: config.DATABASE_POOL_SIZE,
    logger,
    metrics: createDatabaseMetrics(registry),
  });
  const llm = await createLlm(config, logger);
  const features: Feature[] = [];
  const httpMetrics = createHttpMetrics(registry);
  const embeddings = createEmbeddingService({ model: embeddingModel, metrics: createEmbeddingMetrics(registry), logger });
  const vectors = await createVectorsFeature(db, embeddings);
  features.push(embeddingsFeature(embeddings), vectors);
  features.push(
    createTasksFeature({
      db,
      llm,
      drain: engine.view,
      registry,
      logger,
      replica: config.REPLICA_ID,
      leaseSeconds: config.TASK_LEASE_SECONDS,
      concurrency: config.TASK_WORKER_CONCURRENCY,
      maxEventStreams: config.MAX_CONCURRENT_STREAMS,
      httpMetrics,
      search: vectors.search,
    }),
  );

  features.push(createStreamsFeature({ config, db, llm, logger, registry, httpMetrics, drain: engine.view }));
  const pub = createPublicServer({ config, drain: engine.view, metrics: httpMetrics, logger, features });

  for (const p of pub.participants) engine.register(p);
  for (const f of features) for (const p of f.participants) engine.register(p);
  for (const p of llm.participants) engine.register(p);
  engine.register({ name: 'database', phase: 'release', close: (deadline) => db.close(deadline) });
  if (config.budget.finalScrapeMs > 0) {
    engine.register({
      name: 'metrics:final-scrape',
      phase: 'exit',
      async close(deadline) {
        const wait = AbortSignal.any([deadline.signal, AbortSignal.timeout(config.budget.finalScrapeMs)]);
        return { scraped: await admin.nextScrape(wait) };
      },
    });
  }

  if (config.apiKeys.length === 0) logger.warn('API_KEYS unset: the public API is open to anyone who can reach it');
  const port = await pub.listen();
  engine.markServing();
  logger.info(
    { port, adminPort, budgetMs: config.budget.totalMs, propagationMs: config.budget.propagationMs, database: db.kind, upstream: llm.upstream },
    'listening',
  );
}

function fail(err: unknown): never {
  const message = err instanceof ConfigError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`lastcall: ${message}\n`);
  process.exit(1);
}

main().catch(fail);
