import type { Database, Queryable } from '../db/database.js';
import type { Owner } from '../http/auth.js';

/**
 * Which stream is each chat's active one (table `ai_sdk_chats`, keyed by the key's owner and the
 * client's chat id, so one key never sees another's chat). The semantics:
 * - a POST makes its new stream the chat's active one, in the transaction that creates the stream;
 * - the active stream is the one to resume while it is generating, and for `finishedReplaySeconds`
 *   after it finished (the record is not cleared when it finishes, which would need a write from
 *   whichever replica ends it): a client cut off just before the end still gets the end; after
 *   that the chat has nothing active (204);
 * - the stop endpoint clears it, only if it still names the stream it stopped;
 * - deleting the stream (DELETE /v1/streams/:id) removes the record with it.
 */
export class ChatStreams {
  constructor(
    private readonly db: Database,
    private readonly finishedReplaySeconds: number,
  ) {}

  /** Makes `streamId` the chat's active stream; returns the one it replaces, if any. */
  async activate(c: Queryable, owner: Owner, chatId: string, streamId: string): Promise<string | undefined> {
    // Two statements: a locking read in the upsert's own WITH would run after the upsert changed
    // the row, and skip it.
    const { rows } = await c.query<{ active_stream_id: string }>(
      'SELECT active_stream_id FROM ai_sdk_chats WHERE owner = $1 AND chat_id = $2 FOR UPDATE',
      [owner, chatId],
    );
    await c.query(
      `INSERT INTO ai_sdk_chats (owner, chat_id, active_stream_id) VALUES ($1, $2, $3)
       ON CONFLICT (owner, chat_id) DO UPDATE SET active_stream_id = EXCLUDED.active_stream_id, updated_at = now()`,
      [owner, chatId, streamId],
    );
    return rows[0]?.active_stream_id;
  }

  /** The stream to resume: the chat's, while it generates or within the replay window after it ended. */
  async resumable(owner: Owner, chatId: string): Promise<string | undefined> {
    const { rows } = await this.db.query<{ id: string }>(
      `SELECT s.id FROM ai_sdk_chats c JOIN streams s ON s.id = c.active_stream_id
       WHERE c.owner = $1 AND c.chat_id = $2 AND s.owner = $1
         AND (s.status = 'generating' OR s.updated_at > now() - make_interval(secs => $3))`,
      [owner, chatId, this.finishedReplaySeconds],
    );
    return rows[0]?.id;
  }

  /** The chat's recorded stream, whatever its state. */
  async current(owner: Owner, chatId: string): Promise<string | undefined> {
    const { rows } = await this.db.query<{ active_stream_id: string }>(
      'SELECT active_stream_id FROM ai_sdk_chats WHERE owner = $1 AND chat_id = $2',
      [owner, chatId],
    );
    return rows[0]?.active_stream_id;
  }

  /** Clears the chat's active stream if it is still `streamId` (a newer POST may have replaced it). */
  async clear(owner: Owner, chatId: string, streamId: string): Promise<void> {
    await this.db.query('DELETE FROM ai_sdk_chats WHERE owner = $1 AND chat_id = $2 AND active_stream_id = $3', [
      owner,
      chatId,
      streamId,
    ]);
  }
}
