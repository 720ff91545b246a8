/** One choice of a generation, as the emulator produced it. */
export interface ChoiceRecord {
  index: number;
  /** The content the client receives (for a provider that echoes the prefix, prefix + continuation). */
  text: string;
  /** The freshly sampled text alone. */
  continuation: string;
  finishReason: string | null;
  toolCalls: { id: string; name: string; arguments: string }[];
}

export interface GenerationRecord {
  id: string;
  endpoint: 'chat' | 'responses';
  /** The id the client saw: chatcmpl-... or resp_... */
  upstreamId: string;
  path: string;
  profile: string;
  model: string;
  /** continued: the answer follows the trailing assistant message; new: a whole new answer. */
  mode: 'new' | 'continued';
  /** The text of the request's last user message (or input item): lets a test find every generation of one conversation. */
  lastUserMessage: string | null;
  /** The assistant text it continued, when mode is continued. */
  prefix: string | null;
  /** finished also covers a length cap; broken: a fault destroyed the connection; aborted: the client left. */
  status: 'running' | 'finished' | 'aborted' | 'broken' | 'cancelled';
  choices: ChoiceRecord[];
  params: {
    stream: boolean;
    temperature: number | null;
    seed: number | null;
    maxTokens: number | null;
    n: number;
    stop: string[];
    /** Provider-specific fields seen on the request (continue_final_message, prefix flags, ...). */
    extra: Record<string, unknown>;
  };
  startedAt: string;
  finishedAt: string | null;
}

/** The recent generations, oldest first, bounded so a long e2e run cannot grow without limit. */
export class History {
  private readonly records: GenerationRecord[] = [];
  private seq = 0;

  constructor(private readonly limit = 1000) {}

  add(record: Omit<GenerationRecord, 'id' | 'startedAt' | 'finishedAt' | 'status'>): GenerationRecord {
    const full: GenerationRecord = {
      id: `gen_${++this.seq}`,
      status: 'running',
      startedAt: new Date().toISOString(),
      finishedAt: null,
      ...record,
    };
    this.records.push(full);
    if (this.records.length > this.limit) this.records.splice(0, this.records.length - this.limit);
    return full;
  }

  finish(record: GenerationRecord, status: Exclude<GenerationRecord['status'], 'running'>): void {
    if (record.status !== 'running') return;
    record.status = status;
    record.finishedAt = new Date().toISOString();
  }

  /** Records with choice 0's text and finish reason lifted to the top, which is what most checks need. */
  list() {
    return this.records.map((r) => ({
      ...r,
      text: r.choices[0]?.text ?? '',
      continuation: r.choices[0]?.continuation ?? '',
      finishReason: r.choices[0]?.finishReason ?? null,
    }));
  }

  clear(): void {
    this.records.length = 0;
  }
}
