import type { Entry } from './protocol.js';

/**
 * The recent entries of one generation, for subscribers that are a little behind. It holds every
 * entry not yet persisted plus the last `keep` persisted ones; anything older is read back from
 * the database, so memory per stream stays bounded whatever the subscribers do.
 */
export class EntryWindow {
  private entries: Entry[] = [];
  /** Sequence number of entries[0]. */
  private first: number;

  constructor(
    afterSeq: number,
    private readonly keep = 64,
  ) {
    this.first = afterSeq + 1;
  }

  /** The oldest sequence number still held. */
  get base(): number {
    return this.first;
  }

  push(entry: Entry): void {
    if (entry.seq !== this.first + this.entries.length) {
      throw new Error(`window: expected seq ${this.first + this.entries.length}, got ${entry.seq}`);
    }
    this.entries.push(entry);
  }

  get(seq: number): Entry | undefined {
    return this.entries[seq - this.first];
  }

  /** Forgets persisted entries beyond `keep`; trims in chunks so the cost is amortised. */
  persisted(upToSeq: number): void {
    const droppable = upToSeq - this.keep - this.first + 1;
    if (droppable >= this.keep) {
      this.entries.splice(0, droppable);
      this.first += droppable;
    }
  }
}
