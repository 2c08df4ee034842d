import type { z } from 'zod';
import type { Clock, Logger } from '../kernel/index.js';
import type { PromotionService } from '../promotion/index.js';
import type { JobSpec } from '../runner/index.js';
import type { ScheduleService } from '../schedules/index.js';
import type { EventBus } from '../sessions/index.js';
import type { RemoteWorkerRecord, RunRecord, Store, TokenRole } from '../store/index.js';
import type {
  LeaseOpBodySchema,
  SubmittedJob,
  SubmitWarning,
  WorkerLeaseSchema,
} from './api-schemas.js';
import type { StreamLimits } from './stream-slots.js';

/** Who is calling: resolved from the bearer token on every request. */
export interface Identity {
  readonly tokenId: string;
  /** The identity written into history (`requestedBy`, event actors). */
  readonly name: string;
  readonly role: TokenRole;
  /** Set for a remote worker's own credential: the worker it is bound to. */
  readonly workerId?: string;
}

/** What a remote worker receives with a claim (see WorkerLeaseSchema). */
export type WorkerLease = z.infer<typeof WorkerLeaseSchema>;

/** One runner operation of a worker on a run it holds (see LeaseOpBodySchema). */
export type WorkerLeaseOp = z.infer<typeof LeaseOpBodySchema>['operation'];

export type WorkerReportStatus = 'human_review' | 'blocked' | 'failed' | 'cancelled';

/** The remote-worker protocol, implemented by the composition root with the queue. */
export interface WorkerGateway {
  /** Waits up to `waitMs` for a run the worker can execute; null when none came. */
  claim(
    worker: RemoteWorkerRecord,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<WorkerLease | null>;
  /**
   * Renews each listed lease under its fencing token; per run ok / cancel / lost, and drain.
   * `state.draining`: the worker says it is draining itself (shown, never stored).
   */
  heartbeat(
    worker: RemoteWorkerRecord,
    leases: readonly { readonly runId: string; readonly fencingToken: number }[],
    state?: { readonly draining?: boolean | undefined },
  ): Promise<{ runs: { runId: string; order: 'ok' | 'cancel' | 'lost' }[]; drain: boolean }>;
  /** An administrator's drain (true) or resume (false), kept with the worker; NOT_FOUND. */
  setDraining(idOrName: string, draining: boolean): Promise<RemoteWorkerRecord>;
  /** Applies one runner operation under the claim's fencing token (see applyLeaseOp). */
  leaseOp(
    worker: RemoteWorkerRecord,
    runId: string,
    fencingToken: number,
    op: WorkerLeaseOp,
  ): Promise<{ readonly op: string }>;
  /** The held run's base as a git pack, cut against the commits the worker has. */
  basePack(
    worker: RemoteWorkerRecord,
    runId: string,
    fencingToken: number,
    haves: readonly string[],
    /** Aborts when the worker's request went away. */
    signal?: AbortSignal,
  ): Promise<{ readonly commit: string; readonly pack: Buffer; readonly haves: readonly string[] }>;
  /** Stores the held run's patch or a log tail; the digest must match the bytes. */
  putArtifact(
    worker: RemoteWorkerRecord,
    runId: string,
    upload: {
      readonly fencingToken: number;
      readonly name: string;
      readonly sha256: string;
      readonly originalBytes: number;
      readonly content: Buffer;
    },
  ): Promise<{ readonly name: string; readonly sha256: string; readonly bytes: number }>;
  /** Ends the run as reported, only with the current fencing token (else LEASE_FENCED). */
  report(
    worker: RemoteWorkerRecord,
    runId: string,
    report: {
      readonly fencingToken: number;
      readonly status: WorkerReportStatus;
      readonly reasonCode: string;
      readonly detail: string;
    },
  ): Promise<RunRecord>;
}

/** One embedded (or, later, remote) worker as the control plane sees it. */
export interface WorkerStatus {
  readonly id: string;
  readonly state: 'idle' | 'busy' | 'draining' | 'stopped';
  readonly runId: string | null;
  readonly fencingToken: number | null;
  readonly leaseExpiresAt: string | null;
  readonly lastHeartbeatAt: string | null;
  /** The labels it offers (AAS_WORKER_LABELS). */
  readonly labels: readonly string[];
}

/**
 * What the API asks of the control plane beyond reading the store. The composition root
 * implements it with the queue and the runner; the API holds no queue or run logic itself.
 */
export interface ControlPlane {
  /**
   * Validates `job` (JOB_INVALID naming the field) and queues it, requested by `identity`.
   * `requestedBy` always comes from the identity.
   */
  submitJob(job: unknown, identity: Identity): Promise<SubmittedJob>;
  /**
   * What a submitter of `job` should know (no known worker can claim it, a pull request
   * repository the operator does not list), as submitJob reports it: for a schedule's job,
   * whose runs are submitted later. Advice only; never throws for the job's sake.
   */
  jobWarnings(job: JobSpec): Promise<SubmitWarning[]>;
  /**
   * Queued: cancelled at once. Running: the holder is told through its heartbeat and must stop
   * within the grace period. Already finished: CONFLICT. Unknown: NOT_FOUND.
   */
  cancelRun(
    runId: string,
    identity: Identity,
  ): Promise<{ run: RunRecord; outcome: 'cancelled' | 'cancel_requested' }>;
  workers(): readonly WorkerStatus[];
  /** False while the server drains on shutdown. */
  accepting(): boolean;
}

export interface ApiDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly log: Logger;
  readonly bus: EventBus;
  readonly controlPlane: ControlPlane;
  /** Approvals, promotion, attestations and the installation's public key. */
  readonly promotion: PromotionService;
  /** Schedules: their definitions, pause and resume, fires on demand, previews. */
  readonly schedules: ScheduleService;
  /** Remote workers' claims, heartbeats and reports. */
  readonly workerGateway: WorkerGateway;
  readonly paths: {
    /** `<runs>/<runId>/<attemptId>/…`: attempt logs. */
    readonly runs: string;
    /** `<artifacts>/<sha256>.patch`: patches. */
    readonly artifacts: string;
  };
  /**
   * The admin panel's static build (index.html, assets/), served at /panel/; usually
   * `defaultPanelDir()`. It may be missing: /panel/ then says how to build it.
   */
  readonly panelDir: string;
  /** Largest accepted request body. */
  readonly bodyLimitBytes: number;
  /**
   * How long a request may take to arrive in full (headers and body) before it is answered
   * 408 and closed; REQUEST_TIMEOUT_MS unless given. Streams and long polls are unaffected:
   * their requests are complete as soon as they arrive.
   */
  readonly requestTimeoutMs?: number;
  /**
   * How often the server reads the heads of the sessions its SSE streams follow, for what the
   * bus did not carry (other processes append too); one read for all streams.
   */
  readonly streamPollMs: number;
  /** Interval of SSE keep-alive comments. */
  readonly streamKeepAliveMs: number;
  /** How many SSE streams may be open at once (AAS_MAX_STREAMS, AAS_MAX_STREAMS_PER_TOKEN). */
  readonly streamLimits: StreamLimits;
  /** The list feed's first pause before reading again a session whose read failed; 1 s. */
  readonly feedRetryMs?: number;
}
