import type { Generation } from '../../testkit/emulator/control.js';
import { sha256, type StreamRecord } from './traffic.js';

/**
 * What each stream's client got, judged against the provider emulator's own record of what it
 * generated (never against lastcall's log): one answer the upstream really gave, whole, and —
 * in responses mode — exactly the one generation the stream started, with no token regenerated.
 */
export interface ModeFigures {
  readonly streams: number;
  readonly handedOff: number;
  /** The text is the upstream's only generation for the stream, whole. */
  readonly exact: number;
  /** The text is one whole generation of the upstream (after a reset: the last one). */
  readonly oneAnswer: number;
  readonly resets: number;
  /** Generations the upstream ran for these streams: one per stream when nothing was regenerated. */
  readonly upstreamGenerations: number;
  readonly failures: string[];
}

export function judgeAgainstUpstream(
  mode: 'responses' | 'restart',
  records: readonly StreamRecord[],
  generations: readonly Generation[],
): ModeFigures {
  const byMessage = new Map<string, Generation[]>();
  for (const g of generations) {
    if (g.lastUserMessage === null) continue;
    byMessage.set(g.lastUserMessage, [...(byMessage.get(g.lastUserMessage) ?? []), g]);
  }
  const failures: string[] = [];
  let exact = 0;
  let oneAnswer = 0;
  let upstreamGenerations = 0;
  for (const r of records) {
    const gens = byMessage.get(r.content) ?? [];
    upstreamGenerations += gens.length;
    const label = `stream #${r.index} (${r.streamId ?? 'no id'})`;
    if (r.failure || r.errorEvent) {
      failures.push(`${label}: ${r.failure ?? `error event: ${r.errorEvent}`}`);
      continue;
    }
    const finished = gens.filter((g) => g.status === 'finished');
    // The answer the client must hold: in restart mode the last generation (a reset replaced
    // the earlier ones); in responses mode the one Response, re-attached to, never re-created.
    const final = finished.at(-1);
    if (!final) {
      failures.push(`${label}: the upstream finished no generation for it (${gens.map((g) => g.status).join(', ') || 'none'})`);
      continue;
    }
    if (sha256(final.text) !== r.textSha256) {
      failures.push(`${label}: the text is not the upstream's answer (${r.receivedChars} chars, upstream ${final.text.length})`);
      continue;
    }
    oneAnswer++;
    if (gens.length === 1) exact++;
    if (mode === 'responses' && (gens.length !== 1 || final.endpoint !== 'responses'))
      failures.push(`${label}: ${gens.length} upstream generations in responses mode (expected one Response, re-attached)`);
    if (mode === 'restart' && r.resets > gens.length - 1)
      failures.push(`${label}: ${r.resets} resets for ${gens.length} generations`);
  }
  return {
    streams: records.length,
    handedOff: records.filter((r) => r.handoffsAt.length > 0).length,
    exact,
    oneAnswer,
    resets: records.reduce((n, r) => n + r.resets, 0),
    upstreamGenerations,
    failures,
  };
}
