/**
 * The schema, as ordered migrations. They run at start-up inside one transaction holding an
 * advisory lock, so two replicas starting at once apply each migration exactly once.
 */
export interface Migration {
  readonly id: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'streams',
    sql: `
      CREATE TABLE streams (
        id text PRIMARY KEY,
        owner text NOT NULL,
        request jsonb NOT NULL,
        status text NOT NULL CHECK (status IN ('generating', 'completed', 'failed')),
        lease_holder text,
        lease_expires_at timestamptz,
        epoch integer NOT NULL DEFAULT 0,
        last_seq integer NOT NULL DEFAULT 0,
        finish jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX streams_updated ON streams (updated_at);
      CREATE TABLE stream_chunks (
        stream_id text NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
        seq integer NOT NULL,
        text text NOT NULL,
        PRIMARY KEY (stream_id, seq)
      );`,
  },
  {
    id: 2,
    name: 'tasks',
    sql: `
      CREATE TABLE tasks (
        id text PRIMARY KEY,
        owner text NOT NULL,
        prompt text NOT NULL,
        max_steps integer NOT NULL,
        status text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
        lease_holder text,
        lease_expires_at timestamptz,
        epoch integer NOT NULL DEFAULT 0,
        released_by text,
        attempts integer NOT NULL DEFAULT 0,
        result jsonb,
        error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX tasks_claimable ON tasks (created_at) WHERE status IN ('queued', 'running');
      CREATE TABLE task_steps (
        task_id text NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
        idx integer NOT NULL,
        kind text NOT NULL,
        input jsonb,
        output jsonb NOT NULL,
        replica text NOT NULL,
        epoch integer NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (task_id, idx)
      );`,
  },
  {
    id: 3,
    name: 'documents',
    sql: `
      CREATE EXTENSION IF NOT EXISTS vector;
      CREATE TABLE documents (
        owner text NOT NULL,
        id text NOT NULL,
        text text NOT NULL,
        metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
        model text NOT NULL,
        dims integer NOT NULL,
        embedding vector NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (owner, id)
      );`,
  },
  {
    id: 20,
    name: 'tasks_lease_times',
    // When a lease was last taken and last given back, so the handoff-to-resume latency can be
    // read from the database clock that every replica shares.
    sql: `
      ALTER TABLE tasks ADD COLUMN claimed_at timestamptz;
      ALTER TABLE tasks ADD COLUMN released_at timestamptz;`,
  },
  {
    id: 21,
    name: 'streams_lease_times',
    // Streams lease like tasks (one lease module): who released a generation tells a takeover
    // after a handoff from one after an expiry. Nullable columns only: a replica of the previous
    // release, sharing the database during a rollout, neither reads nor needs them.
    sql: `
      ALTER TABLE streams ADD COLUMN released_by text;
      ALTER TABLE streams ADD COLUMN released_at timestamptz;
      ALTER TABLE streams ADD COLUMN claimed_at timestamptz;`,
  },
  {
    id: 22,
    name: 'per_key_indexes',
    // Fair claiming picks each key's oldest free task, and per-key quotas count a key's active
    // tasks and generating streams: both read by owner.
    sql: `
      CREATE INDEX tasks_owner_active ON tasks (owner, created_at) WHERE status IN ('queued', 'running');
      CREATE INDEX streams_owner_generating ON streams (owner) WHERE status = 'generating';`,
  },
  {
    id: 23,
    name: 'stream_formats',
    // Expand only, so a replica of the previous release reads these rows during a rollout:
    // - format: the API a stream was started through (its events are rendered that way);
    // - detached: generated whether or not a client is attached (background responses, AI SDK
    //   chats), so a released one is claimed by a worker, not only by a returning client;
    // - upstream: the upstream generation's cursor (responses mode), persisted with the log;
    // - stream_chunks.data: entries that are not text (tool-call pieces, a reset); their text is
    //   '' so an older reader sees an empty token where it cannot know better;
    // - cancelled: a stream cancelled by its owner (DELETE /v1/streams/:id), with `finish` set so
    //   an older reader ends it like any finished stream;
    // - idempotency_keys: a retried POST joins what the first one started.
    sql: `
      ALTER TABLE streams ADD COLUMN format text NOT NULL DEFAULT 'native';
      ALTER TABLE streams ADD COLUMN detached boolean NOT NULL DEFAULT false;
      ALTER TABLE streams ADD COLUMN upstream jsonb;
      ALTER TABLE streams DROP CONSTRAINT streams_status_check;
      ALTER TABLE streams ADD CONSTRAINT streams_status_check CHECK (status IN ('generating', 'completed', 'failed', 'cancelled'));
      CREATE INDEX streams_detached_free ON streams (updated_at) WHERE detached AND status = 'generating';
      ALTER TABLE stream_chunks ADD COLUMN data jsonb;
      CREATE TABLE idempotency_keys (
        owner text NOT NULL,
        key text NOT NULL,
        request_hash text NOT NULL,
        kind text NOT NULL,
        resource_id text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (owner, key)
      );`,
  },
  {
    id: 24,
    name: 'traces',
    // Where a stream's or task's trace lives ({root, last}: W3C traceparents), so each replica
    // that takes one over continues its trace with a link to the replica before it.
    sql: `
      ALTER TABLE streams ADD COLUMN trace jsonb;
      ALTER TABLE tasks ADD COLUMN trace jsonb;`,
  },
  {
    id: 25,
    name: 'retention',
    // Tombstones of what retention deleted (kept one more period, so a late resume is a 410),
    // and the index the task sweep walks (streams have had streams_updated since migration 1).
    sql: `
      CREATE TABLE expired (
        kind text NOT NULL,
        id text NOT NULL,
        owner text NOT NULL,
        expired_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (kind, id)
      );
      CREATE INDEX expired_at ON expired (expired_at);
      CREATE INDEX tasks_updated ON tasks (updated_at);
      CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);`,
  },
  {
    id: 26,
    name: 'stream_logs',
    // A finished stream's whole log in one row (STREAM_LOG_FORMAT=compact): a JSON array whose
    // element i is entry i + 1, a string for text and an object for anything else. Per-token
    // rows cost ~100 bytes each in heap and index; this costs the text and a few bytes, and
    // PostgreSQL compresses it once it passes 2 kB. Releases before this one cannot read it.
    sql: `
      CREATE TABLE stream_logs (
        stream_id text PRIMARY KEY REFERENCES streams (id) ON DELETE CASCADE,
        entries json NOT NULL
      );`,
  },
  {
    id: 27,
    name: 'ai_sdk_chats',
    // The AI SDK front door: which stream is a chat's active one (GET /v1/ai-sdk/chat/{id}/stream
    // resumes it). A new table only; a replica of the previous release never reads it. Chat ids
    // are the client's, scoped to the key's owner; deleting a stream drops it from its chat.
    sql: `
      CREATE TABLE ai_sdk_chats (
        owner text NOT NULL,
        chat_id text NOT NULL,
        active_stream_id text NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (owner, chat_id)
      );
      CREATE INDEX ai_sdk_chats_stream ON ai_sdk_chats (active_stream_id);`,
  },
  {
    id: 28,
    name: 'notify_triggers',
    // Push, not poll: the database announces what waiters wait for (db/channels.ts). Triggers,
    // not statements in our code, so the previous release's writes announce too while both run
    // in a rolling upgrade; it never listens and is unaffected. Lease heartbeats (which change
    // lease_expires_at only) announce nothing; a lease taken on claimable work does, so idle
    // replicas know when to look for it should its holder die. pg_notify folds repeats within a
    // transaction.
    sql: `
      CREATE FUNCTION lastcall_notify_stream() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'UPDATE' THEN
          PERFORM pg_notify('lastcall_stream:' || NEW.id, '');
        END IF;
        IF NEW.detached AND NEW.status = 'generating' AND NEW.lease_holder IS NULL THEN
          PERFORM pg_notify('lastcall_stream_free', NEW.id);
        ELSIF NEW.detached AND NEW.lease_holder IS NOT NULL
          AND (TG_OP = 'INSERT' OR OLD.lease_holder IS DISTINCT FROM NEW.lease_holder) THEN
          PERFORM pg_notify('lastcall_stream_leased', NEW.lease_holder);
        END IF;
        RETURN NULL;
      END $$;
      CREATE TRIGGER streams_notify_insert AFTER INSERT ON streams FOR EACH ROW WHEN (NEW.detached)
        EXECUTE FUNCTION lastcall_notify_stream();
      CREATE TRIGGER streams_notify AFTER UPDATE ON streams FOR EACH ROW
        WHEN (OLD.last_seq IS DISTINCT FROM NEW.last_seq OR OLD.status IS DISTINCT FROM NEW.status
          OR OLD.lease_holder IS DISTINCT FROM NEW.lease_holder)
        EXECUTE FUNCTION lastcall_notify_stream();
      CREATE FUNCTION lastcall_notify_task() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('lastcall_task:' || NEW.id, '');
        IF NEW.status IN ('queued', 'running') AND NEW.lease_holder IS NULL THEN
          PERFORM pg_notify('lastcall_task_free', NEW.id);
        ELSIF NEW.lease_holder IS NOT NULL AND (TG_OP = 'INSERT' OR OLD.lease_holder IS DISTINCT FROM NEW.lease_holder) THEN
          PERFORM pg_notify('lastcall_task_leased', NEW.lease_holder);
        END IF;
        RETURN NULL;
      END $$;
      CREATE TRIGGER tasks_notify_insert AFTER INSERT ON tasks FOR EACH ROW EXECUTE FUNCTION lastcall_notify_task();
      CREATE TRIGGER tasks_notify_update AFTER UPDATE ON tasks FOR EACH ROW
        WHEN (OLD.updated_at IS DISTINCT FROM NEW.updated_at OR OLD.status IS DISTINCT FROM NEW.status
          OR OLD.lease_holder IS DISTINCT FROM NEW.lease_holder)
        EXECUTE FUNCTION lastcall_notify_task();`,
  },
  {
    id: 29,
    name: 'stream_batches',
    // STREAM_LOG_FORMAT=batches: a generation's write is one row per stream (the entries of one
    // flush, a JSON array as in stream_logs, element i being entry first_seq + i) instead of one
    // row per entry. Per-row cost (tuple header, index entry, WAL record, executor work) is most
    // of what a token costs the database. A new table only; releases before this one never read
    // it, so the format is switched on once none of them runs.
    sql: `
      CREATE TABLE stream_batches (
        stream_id text NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
        first_seq int NOT NULL,
        last_seq int NOT NULL,
        entries json NOT NULL,
        PRIMARY KEY (stream_id, first_seq)
      );`,
  },
];
