/**
 * What the database announces (triggers of migration 28, so every replica's writes do, whatever
 * its version):
 * - `lastcall_stream:<id>`: that stream's log grew, its status changed, or its lease was taken or
 *   given up;
 * - `lastcall_task:<id>`: that task was queued, or its status, steps or lease changed;
 * - `lastcall_stream_free`: a detached stream nobody generates (released at a handoff), its id as payload;
 * - `lastcall_task_free`: a task anyone may claim (queued, or released at a handoff), its id as payload;
 * - `lastcall_stream_leased`, `lastcall_task_leased`: a replica (the payload) took the lease on a
 *   detached stream or a task: should it die, the work is free when that lease expires.
 * A replica listens on a row's channel only while something in it waits on that row, so it hears
 * of the streams it follows, not of every batch written anywhere. A lease that expires announces
 * nothing: waiters bound every wait with a safety-net timeout.
 */
export const SHARED_CHANNELS = [
  'lastcall_stream_free',
  'lastcall_task_free',
  'lastcall_stream_leased',
  'lastcall_task_leased',
] as const;
export const ROW_CHANNELS = ['lastcall_stream', 'lastcall_task'] as const;
export type SharedChannel = (typeof SHARED_CHANNELS)[number];
export type RowChannel = (typeof ROW_CHANNELS)[number];
export const CHANNELS = [...SHARED_CHANNELS, ...ROW_CHANNELS] as const;

/** The channel PostgreSQL carries: a row channel is per row. */
export function channelName(channel: SharedChannel | RowChannel, key?: string): string {
  return key === undefined ? channel : `${channel}:${key}`;
}

/** The metric label of a channel PostgreSQL carried: the row's id is left out. */
export function channelLabel(name: string): string {
  const i = name.indexOf(':');
  return i < 0 ? name : name.slice(0, i);
}
