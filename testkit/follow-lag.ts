import pg from 'pg';

export interface FollowLags {
  /** For each commit the database announced: ms until the follower's client next received bytes. */
  readonly lags: number[];
  /** What the follower's client received. */
  readonly text: string;
}

/**
 * Starts a stream on the replica at `generatorUrl` and follows it from the one at `followerUrl`,
 * timing each batch from its commit (as the database announces it to a connection of our own) to
 * the follower's client having it.
 */
export async function followLags(o: {
  readonly pgUrl: string;
  readonly generatorUrl: string;
  readonly followerUrl: string;
  readonly headers?: Record<string, string>;
  readonly content: string;
  readonly maxTokens: number;
}): Promise<FollowLags> {
  const started = await fetch(`${o.generatorUrl}/v1/chat/stream`, {
    method: 'POST',
    headers: { ...o.headers, 'Content-Type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: o.content }], max_tokens: o.maxTokens }),
  });
  const id = started.headers.get('lastcall-stream-id')!;
  const listener = new pg.Client({ connectionString: o.pgUrl });
  await listener.connect();
  const commits: number[] = [];
  listener.on('notification', () => commits.push(performance.now()));
  try {
    await listener.query(`LISTEN "lastcall_stream:${id}"`);
    const followed = await fetch(`${o.followerUrl}/v1/streams/${id}`, { headers: o.headers });
    const arrivals: number[] = [];
    const decoder = new TextDecoder();
    let text = '';
    const own = (async () => {
      for await (const _ of started.body as unknown as AsyncIterable<Uint8Array>);
    })();
    for await (const chunk of followed.body as unknown as AsyncIterable<Uint8Array>) {
      arrivals.push(performance.now());
      text += decoder.decode(chunk, { stream: true });
    }
    await own;
    const lags = commits.flatMap((t) => {
      const next = arrivals.find((x) => x >= t);
      return next === undefined ? [] : [next - t];
    });
    return { lags, text };
  } finally {
    await listener.end();
  }
}
