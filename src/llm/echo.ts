import type { UpstreamEvent } from './upstream.js';

/**
 * Prefix mode: some providers return the prefix they were asked to continue at the start of the
 * content (Mistral: "the returned content includes the prefix", its guide strips it with
 * `content[len(prefix):]`, https://docs.mistral.ai/guides/prefix/), others return the continuation
 * only (DeepSeek, https://api-docs.deepseek.com/guides/chat_prefix_completion). Which one answers is
 * decided from the streamed text: it is held back while it could still be the echo, never more than
 * the prefix's length, and the prefix is dropped if the text starts with it.
 *
 * The price of deciding from the text: a provider that does not echo, and whose continuation happens
 * to start with the whole prefix again, loses that repetition.
 */
export class PrefixEcho {
  private held = '';
  private decided: boolean;
  /** True once the text started with the prefix; false once it did not; undefined while undecided. */
  echoed: boolean | undefined;

  constructor(private readonly prefix: string) {
    this.decided = prefix === '';
    if (this.decided) this.echoed = false;
  }

  /** The text to pass on now for a streamed delta. */
  push(delta: string): string {
    if (this.decided) return delta;
    this.held += delta;
    if (this.held.length >= this.prefix.length) return this.decide(this.held.startsWith(this.prefix));
    return this.prefix.startsWith(this.held) ? '' : this.decide(false);
  }

  /** The stream moved on (another channel, or its end): what was held is not an echo. */
  flush(): string {
    return this.decided ? '' : this.decide(false);
  }

  private decide(echoed: boolean): string {
    const out = echoed ? this.held.slice(this.prefix.length) : this.held;
    this.held = '';
    this.decided = true;
    this.echoed = echoed;
    return out;
  }
}

/** Passes `source` on with an echoed `prefix` removed from the start of its text. */
export async function* withoutEcho(prefix: string, source: AsyncIterable<UpstreamEvent>): AsyncGenerator<UpstreamEvent> {
  const echo = new PrefixEcho(prefix);
  for await (const e of source) {
    if (e.type === 'text') {
      const text = echo.push(e.text);
      if (text) yield { ...e, text };
      continue;
    }
    if (e.type === 'tool' || e.type === 'finish') {
      const held = echo.flush();
      if (held) yield { type: 'text', text: held };
    }
    yield e;
  }
}
