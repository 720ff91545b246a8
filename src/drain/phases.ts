/**
 * How long a phase may run. `propagation`: exactly the endpoint-propagation delay (the phase
 * elapses it even when its participants finish early, because load balancers need that time);
 * `reserve`: at most its own reserve; `rest`: whatever is left once later phases' reserves are
 * kept back.
 */
export type PhaseCap = 'propagation' | 'reserve' | 'rest';

export interface PhaseSpec<N extends string = PhaseName> {
  readonly name: N;
  readonly cap: PhaseCap;
  /** Milliseconds kept back for this phase from the moment SIGTERM arrives. */
  readonly reserveMs: number;
  /** Also keeps the budget's final-scrape wait (FINAL_SCRAPE_WAIT_SECONDS) for this phase. */
  readonly holdsFinalScrape?: boolean;
  readonly purpose: string;
}

const TABLE = [
  { name: 'announce', cap: 'propagation', reserveMs: 0, purpose: 'readiness 503, keep serving while endpoints propagate' },
  { name: 'stop-intake', cap: 'reserve', reserveMs: 250, purpose: 'refuse new work, close idle sockets, stop claiming tasks' },
  { name: 'drain', cap: 'rest', reserveMs: 0, purpose: 'in-flight requests, streams and task steps finish' },
  { name: 'handoff', cap: 'rest', reserveMs: 750, purpose: 'open streams get a resumable end event, tasks release their lease' },
  { name: 'release', cap: 'rest', reserveMs: 750, purpose: 'dispose the model, close pools and upstream sockets' },
  { name: 'exit', cap: 'rest', reserveMs: 250, holdsFinalScrape: true, purpose: 'final metrics scrape, drain report, exit 0' },
] as const satisfies readonly PhaseSpec<string>[];

/** A phase's name; the values double as metric labels and log fields. */
export type PhaseName = (typeof TABLE)[number]['name'];

/** The shutdown sequence, in order. Participants register against these names. */
export const PHASE_TABLE: readonly PhaseSpec[] = Object.freeze(TABLE);

export const PHASES: readonly PhaseName[] = Object.freeze(TABLE.map((p) => p.name));

export const MIN_RESERVED_MS = PHASE_TABLE.reduce((sum, p) => sum + p.reserveMs, 0);
