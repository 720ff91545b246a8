import fs from 'node:fs';
import type { DrainReport } from './types.js';

/** The kubelet keeps at most 4096 bytes of a termination message. */
const TERMINATION_MESSAGE_LIMIT = 4096;

/**
 * Writes the drain report where the kubelet reads termination messages, if that file exists
 * (Kubernetes creates it; elsewhere there is nothing to write to). Falls back to a summary
 * without participant details when the full report would be truncated.
 */
export function writeTerminationMessage(path: string, report: DrainReport): boolean {
  if (!fs.existsSync(path)) return false;
  let text = JSON.stringify(report);
  if (Buffer.byteLength(text) > TERMINATION_MESSAGE_LIMIT) {
    text = JSON.stringify({
      ...report,
      phases: report.phases.map(({ participants, ...p }) => ({
        ...p,
        failed: participants.filter((x) => x.outcome !== 'ok').map((x) => x.name),
      })),
    });
  }
  fs.writeFileSync(path, text.slice(0, TERMINATION_MESSAGE_LIMIT));
  return true;
}
