import { z } from 'zod';

/** Faults switched on at run time through `POST /__emulator/faults`. */
export interface FaultSettings {
  /** Every Nth streamed response has its connection destroyed after `breakAfterTokens` tokens (0 = never). */
  breakEveryNthStream: number;
  breakAfterTokens: number;
  /** Every Nth streamed response sends nothing for `stallSeconds` after `stallAfterTokens` tokens (0 = never). */
  stallEveryNthStream: number;
  stallAfterTokens: number;
  stallSeconds: number;
  /** The next K API requests fail with `failStatus`; 429 and 503 carry Retry-After. */
  failNextRequests: number;
  failStatus: number;
  retryAfterSeconds: number;
}

export const faultPatch = z
  .object({
    breakEveryNthStream: z.number().int().min(0),
    breakAfterTokens: z.number().int().min(0),
    stallEveryNthStream: z.number().int().min(0),
    stallAfterTokens: z.number().int().min(0),
    stallSeconds: z.number().min(0),
    failNextRequests: z.number().int().min(0),
    failStatus: z.union([z.literal(429), z.literal(500), z.literal(502), z.literal(503)]),
    retryAfterSeconds: z.number().int().min(0),
  })
  .partial()
  .strict();

/** What one stream must suffer: break before emitting token `breakAt`, stall before token `stallAt`. */
export interface StreamFaults {
  breakAt: number | null;
  stallAt: number | null;
  stallMs: number;
}

export class Faults {
  readonly settings: FaultSettings = {
    breakEveryNthStream: 0,
    breakAfterTokens: 5,
    stallEveryNthStream: 0,
    stallAfterTokens: 5,
    stallSeconds: 5,
    failNextRequests: 0,
    failStatus: 500,
    retryAfterSeconds: 1,
  };
  private streams = 0;

  set(patch: z.infer<typeof faultPatch>): FaultSettings {
    Object.assign(this.settings, patch);
    this.streams = 0;
    return this.settings;
  }

  /** Consumes one injected failure, if any are left. */
  takeRequestFailure(): { status: number; retryAfterSeconds: number | null } | null {
    if (this.settings.failNextRequests <= 0) return null;
    this.settings.failNextRequests--;
    const s = this.settings.failStatus;
    return { status: s, retryAfterSeconds: s === 429 || s === 503 ? this.settings.retryAfterSeconds : null };
  }

  /** Counts a new stream and says which faults it gets. */
  nextStream(): StreamFaults {
    const n = ++this.streams;
    const s = this.settings;
    return {
      breakAt: s.breakEveryNthStream > 0 && n % s.breakEveryNthStream === 0 ? s.breakAfterTokens : null,
      stallAt: s.stallEveryNthStream > 0 && n % s.stallEveryNthStream === 0 ? s.stallAfterTokens : null,
      stallMs: s.stallSeconds * 1000,
    };
  }
}
