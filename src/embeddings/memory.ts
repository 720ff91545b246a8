import v8 from 'node:v8';
import vm from 'node:vm';
import { setTimeout as wait } from 'node:timers/promises';

/** The figures the kubelet (RSS) and Node (external, array buffers) report for this process. */
export interface MemorySnapshot {
  readonly rss: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

export function memorySnapshot(): MemorySnapshot {
  const { rss, external, arrayBuffers } = process.memoryUsage();
  return { rss, external, arrayBuffers };
}

/** How much each figure went down from `before` to `after` (negative if it grew). */
export function memoryReturned(before: MemorySnapshot, after: MemorySnapshot): MemorySnapshot {
  return {
    rss: before.rss - after.rss,
    external: before.external - after.external,
    arrayBuffers: before.arrayBuffers - after.arrayBuffers,
  };
}

/**
 * A full collection now, so a measurement counts only live memory. Without --expose-gc the
 * collector is exposed on demand; only the memory benchmark uses it, never the service.
 */
function collectGarbageNow(): void {
  gcFunction()?.();
}

/** Collects, waits for native finalizers (they run after a collection, off this tick), collects again. */
export async function collectGarbage(settleMs: number, signal?: AbortSignal): Promise<void> {
  collectGarbageNow();
  await wait(settleMs, undefined, { signal, ref: false }).catch(() => undefined);
  collectGarbageNow();
}

let exposed: (() => void) | undefined;
function gcFunction(): (() => void) | undefined {
  const gc = globalThis.gc;
  if (typeof gc === 'function') return () => void gc();
  if (!exposed) {
    try {
      v8.setFlagsFromString('--expose-gc');
      exposed = vm.runInNewContext('gc') as () => void;
    } catch {
      return undefined;
    }
  }
  return exposed;
}
