/**
 * The recent tokens of one generation, for subscribers that are a little behind. It holds every
 * token not yet persisted plus the last `keep` persisted ones; anything older is read back from
 * the database, so memory per stream stays bounded whatever the subscribers do.
 */
export class TokenWindow {
  private texts: string[] = [];
  /** Sequence number of texts[0]. */
  private first: number;

  constructor(
    afterSeq: number,
    private readonly keep = 256,
  ) {
    this.first = afterSeq + 1;
  }

  /** The oldest sequence number still held. */
  get base(): number {
    return this.first;
  }

  push(seq: number, text: string): void {
    if (seq !== this.first + this.texts.length)
      throw new Error(`window: expected seq ${this.first + this.texts.length}, got ${seq}`);
    this.texts.push(text);
  }

  get(seq: number): string | undefined {
    return this.texts[seq - this.first];
  }

  /** Forgets persisted tokens beyond `keep`; trims in chunks so the cost is amortised. */
  persisted(upToSeq: number): void {
    const droppable = upToSeq - this.keep - this.first + 1;
    if (droppable >= this.keep) {
      this.texts.splice(0, droppable);
      this.first += droppable;
    }
  }
}
