import type { EmulatorControl } from '../../testkit/emulator/control.js';

/**
 * What the e2e scenario needs from a platform. Two implementations: `e2e/local` (processes, a
 * load balancer and a kubelet-like termination sequence on this machine) and `e2e/drivers/kind.ts`
 * (a real cluster). The scenario never knows which one it runs on.
 */

/** Timings the scenario scales itself by; both drivers read them from the rendered chart. */
export interface Timings {
  readonly graceSeconds: number;
  readonly preStopSeconds: number;
  readonly safetyMarginSeconds: number;
  /** What the app gets at SIGTERM: grace − preStop − margin. */
  readonly drainBudgetSeconds: number;
  readonly tokensPerSecond: number;
  readonly taskLeaseSeconds: number;
  readonly replicas: number;
}

export interface PodView {
  readonly name: string;
  readonly ready: boolean;
  readonly terminating: boolean;
}

/** How one pod ended: what the kubelet recorded for its container. */
export interface Termination {
  readonly pod: string;
  /** `delete`: graceful deletion (rollout); `kill`: grace period 0 (fault case). */
  readonly cause: 'delete' | 'kill';
  /** Epoch ms of the deletion request. */
  readonly deletedAt: number;
  /** Epoch ms the container stopped. */
  readonly finishedAt: number;
  readonly gracePeriodSeconds: number;
  readonly exitCode: number | null;
  /** The signal that ended the process, when one did (SIGKILL after the grace period). */
  readonly signal: string | null;
  /** True when the kubelet had to SIGKILL because the grace period ran out. */
  readonly killedAtDeadline: boolean;
  /** The termination message: the drain report JSON the service wrote at exit. */
  readonly message: string | undefined;
}

/** A moment worth drawing on the report's timeline. */
export interface TimelineEvent {
  readonly at: number;
  readonly pod?: string;
  readonly kind: string;
  readonly detail?: string;
}

export interface UpstreamFaults {
  readonly failEveryNthStream: number;
  readonly failAfterTokens: number;
}

/** The LLM upstream the replicas are configured with (the chart's config.openaiBaseUrl and config.llmResumeMode). */
export type UpstreamChoice =
  | { readonly kind: 'dev' }
  | {
      readonly kind: 'emulator';
      /** The sampling provider emulator (testkit/emulator) with OpenAI's behaviour, in this resume mode. */
      readonly resumeMode: 'responses' | 'restart';
      /** Natural answer lengths the emulator samples, in tokens. */
      readonly minTokens: number;
      readonly maxTokens: number;
    };

/** A build of the service to run the pods from (an image, in a cluster). */
export interface Release {
  /** A short label for the timeline and the report (a commit, a tag). */
  readonly name: string;
  /** Its entry point: `<checkout>/dist/main.js`. */
  readonly main: string;
}

/** One replica cut off from PostgreSQL (see Driver.partitionFromDatabase). */
export interface Partition {
  readonly pod: string;
  /** Lets its packets through again. */
  heal(): Promise<void>;
}

export interface Driver {
  readonly name: 'local' | 'kind';
  /** The Service: every client request of the scenario goes here. */
  readonly serviceUrl: string;
  readonly apiKey: string | undefined;
  readonly timings: Timings;
  /** Prometheus scraping every replica's admin port, when the driver runs one. */
  readonly prometheusUrl: string | undefined;
  /** Replaces every pod the way `kubectl rollout restart` does; resolves once the rollout is complete. */
  rolloutRestart(): Promise<void>;
  /** Kills one serving pod without a grace period (SIGKILL); resolves with its name. */
  killPod(): Promise<string>;
  /**
   * Sets the Deployment's replica count (`kubectl scale`): surplus pods are deleted gracefully,
   * as a ReplicaSet scale-down does (and as an autoscaler's does); resolves once exactly
   * `replicas` pods are ready and none is terminating.
   */
  scaleTo(replicas: number): Promise<void>;
  /** Restarts the database under the running service. */
  restartDatabase?(): Promise<void>;
  /**
   * Freezes PostgreSQL, the postmaster and every backend (SIGSTOP), for `ms`, then lets it run
   * again (SIGCONT): connections stay open and nothing answers.
   */
  stallDatabase?(ms: number): Promise<void>;
  /**
   * Cuts one ready replica, chosen at random, off PostgreSQL: its packets to the database are
   * dropped inside its network namespace, everything else (clients, probes, upstream) still flows.
   */
  partitionFromDatabase?(): Promise<Partition>;
  /**
   * Runs the pods from another build (`undefined`: this checkout's): an image change, so a
   * rolling update, like `helm upgrade --set image.tag=...`. Resolves once the rollout is complete.
   */
  useRelease?(release: Release | undefined): Promise<void>;
  /** Switches the upstream's injected faults on or off. */
  setUpstreamFaults?(faults: UpstreamFaults): Promise<void>;
  /**
   * Points the replicas at another upstream: a values change, so a rolling update, like
   * `helm upgrade --set config.llmResumeMode=...`. Resolves once the rollout is complete.
   */
  useUpstream?(choice: UpstreamChoice): Promise<void>;
  /** The provider emulator's control routes (what it generated), once useUpstream chose it. */
  readonly emulator?: EmulatorControl;
  /** Resolves once the Deployment has its desired number of ready pods and none terminating. */
  settle(): Promise<void>;
  pods(): Promise<PodView[]>;
  /** Every pod that ended since the driver started. */
  terminations(): Promise<Termination[]>;
  /**
   * Step indices recorded per task. The local driver reads PostgreSQL's task_steps directly; the
   * kind driver reads them through the API.
   */
  taskSteps(taskIds: readonly string[]): Promise<Map<string, number[]>>;
  timeline(): TimelineEvent[];
  /** Requests the Service itself could not forward (local driver: its 502/503s and cut bodies). */
  serviceErrors?(): { failed: number; cut: number };
}
