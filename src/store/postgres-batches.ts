import type { Kysely } from 'kysely';
import { isAasError } from '../kernel/index.js';
import type { ClaimedRun, ClaimRunInput } from './claim-candidates.js';
import type { DatabaseSchema } from './database-schema.js';
import { type BatchAnswer, NaturalBatcher } from './natural-batcher.js';
import {
  type BatchClaim,
  claimBatchOnPostgres,
  MAX_CLAIMS_PER_STATEMENT,
  pinsOf,
} from './postgres-claim-batch.js';
import { claimLimitedBatchOnPostgres } from './postgres-limited-claim-batch.js';
import {
  type GuessedUpdate,
  type KnownHeadUpdate,
  knownHeadShape,
  updateRunsAtKnownHeads,
} from './postgres-run-update-batch.js';
import type { LeaseRenewal, RunFence, WorkerMatch } from './records.js';
import { type LeaseRenewalRequest, renewRunLeases } from './renew-run-lease.js';
import type { SqlOperation } from './sql-operation.js';

/** Renewals one statement carries at most. */
const MAX_RENEWALS_PER_STATEMENT = 64;
/** Run updates one statement carries at most. */
const MAX_UPDATES_PER_STATEMENT = 32;
/**
 * How often one claim is asked again before it takes the single claim instead. An `again`
 * follows a claim of its batch, but for one case no worker makes (batchAnswers); the bound
 * covers that case, and keeps a claimer from waiting through many batches that each serve
 * someone else (under a per-repo limit, a claimer whose only run in the pick sat in a full repo
 * while the rest was pinned to another worker that keeps claiming).
 */
const MAX_CLAIM_AGAINS = 4;

/** Runs an operation as one autocommitted statement of the store, with its error mapping. */
export type Autocommit = <T>(operationName: string, operation: () => SqlOperation<T>) => Promise<T>;

/**
 * PostgreSQL: the hot queue writes of one store, batched across its concurrent callers (see
 * NaturalBatcher). A control-plane process answers the claims and heartbeats of every worker and
 * runner it serves through one store; batched, N of them cost one round trip and one commit
 * instead of N, which is most of what each costs the server and this process. Nothing waits
 * for a timer, so a lone call goes at once.
 *
 * - Claims that record the standard `run.started` and name no run, one lane per match and
 *   per-repo limit (workers whose offers differ only by their own names share a statement,
 *   which hands a pinned run only to its worker): postgres-claim-batch.ts, or with a limit
 *   postgres-limited-claim-batch.ts (one transaction of two statements).
 * - Heartbeats: renewRunLeases; a run not renewed is asked again alone (renewRunLease), which
 *   also reads why. Two renewals of one run never share a statement.
 * - Run updates at a known head (completions, mostly), one lane per statement shape:
 *   postgres-run-update-batch.ts. A second update of a session already in the batch, an update
 *   the batch did not apply, and the updates of a batch the server refused take the locking
 *   path, which also explains a refusal; an unreachable database fails them all.
 */
export class PostgresBatches {
  readonly #claimLanes = new Map<
    string,
    NaturalBatcher<ClaimRunInput, ClaimedRun | null | undefined>
  >();
  /** How often each waiting claim was answered `again`. */
  readonly #claimAgains = new WeakMap<ClaimRunInput, number>();
  readonly #renewals: NaturalBatcher<LeaseRenewalRequest, LeaseRenewal | undefined>;
  readonly #updateLanes = new Map<string, NaturalBatcher<KnownHeadUpdate, GuessedUpdate>>();

  constructor(
    private readonly db: Kysely<DatabaseSchema>,
    private readonly autocommit: Autocommit,
    /** Runs an operation in one transaction of the store, with its error mapping. */
    private readonly transact: Autocommit,
  ) {
    this.#renewals = new NaturalBatcher(
      (requests) => this.#renewBatch(requests),
      MAX_RENEWALS_PER_STATEMENT,
    );
  }

  /**
   * Whether `input` can be claimed in a batch: it records the standard event, names no run, and
   * offers at most one pin (a worker offers its own name; a batch hands a pinned run out by it).
   */
  static batchable(input: ClaimRunInput): boolean {
    return (
      input.events === undefined &&
      input.runId === undefined &&
      (input.match === undefined || pinsOf(input.match).length <= 1)
    );
  }

  /**
   * The claim of `input`, made with those of concurrent callers whose offers are the same but
   * for their pins (every worker offers its own name); null when nothing is claimable, undefined
   * when the server refused the batch (nothing was written, and the caller claims through the
   * locking path, which reports its own error).
   */
  claim(input: ClaimRunInput): Promise<ClaimedRun | null | undefined> {
    const match =
      input.match === undefined
        ? 'none'
        : `${input.match.anyAgent}:${JSON.stringify(unpinnedOffers(input.match).sort())}`;
    const limit = input.maxRunningPerRepo;
    return laneOf(
      this.#claimLanes,
      `${limit ?? '-'}:${match}`,
      async (inputs) => {
        // A lone claim under a limit is cheaper through the single claim's transaction, whose
        // two statements are simpler: measured 10–15% more runs/s for one claimer at a time.
        if (limit !== undefined && inputs.length === 1) return [{ value: undefined }];
        try {
          // A per-repo limit needs a transaction: its count must come after the repos' locks.
          const answers =
            limit === undefined
              ? await this.autocommit('claimRun', () => claimBatchOnPostgres(this.db, inputs))
              : await this.transact('claimRun', () => claimLimitedBatchOnPostgres(this.db, inputs));
          return answers.map((answer, i) => {
            const waiting = inputs[i];
            if (answer.outcome !== 'again' || waiting === undefined) return claimAnswer(answer);
            const agains = (this.#claimAgains.get(waiting) ?? 0) + 1;
            this.#claimAgains.set(waiting, agains);
            return agains > MAX_CLAIM_AGAINS ? { value: undefined } : { again: true };
          });
        } catch (error) {
          // Unreachable database: whether the batch committed is unknown; no claim is retried.
          if (isAasError(error) && error.code === 'STORE_UNAVAILABLE') throw error;
          return inputs.map(() => ({ value: undefined }));
        }
      },
      MAX_CLAIMS_PER_STATEMENT,
    ).submit(input);
  }

  /** updateRun at a known head, batched with concurrent updates of the same shape. */
  updateAtKnownHead(update: KnownHeadUpdate): Promise<GuessedUpdate> {
    return laneOf(
      this.#updateLanes,
      knownHeadShape(update),
      (updates) => this.#updateBatch(updates),
      MAX_UPDATES_PER_STATEMENT,
    ).submit(update);
  }

  #updateBatch(updates: readonly KnownHeadUpdate[]): Promise<BatchAnswer<GuessedUpdate>[]> {
    const notApplied: GuessedUpdate = { applied: false, headMoved: false };
    return firstOfEachKey(
      updates,
      (update) => update.head.sessionId,
      async (distinct) => {
        try {
          return await this.autocommit('updateRun', () =>
            updateRunsAtKnownHeads(this.db, distinct),
          );
        } catch (error) {
          // Unreachable database: the batch may or may not have committed, so no update may be
          // tried again; each caller learns it as it would alone.
          if (isAasError(error) && error.code === 'STORE_UNAVAILABLE') throw error;
          // Refused by the server (a deadlock, a value it cannot hold): nothing was written, and
          // the locking path runs each update alone and reports its error to its own caller.
          return distinct.map(() => notApplied);
        }
      },
      (outcome) => ({ value: outcome ?? notApplied }),
      // A second update of one session was chained from the head before the first one: the
      // locking path chains it after whatever the first one wrote.
      { value: notApplied },
    );
  }

  /**
   * The renewal of `fence`'s lease, or undefined when the batch did not renew it (the caller
   * asks again alone).
   */
  renew(fence: RunFence, leaseExpiresAt: string): Promise<LeaseRenewal | undefined> {
    return this.#renewals.submit({ fence, leaseExpiresAt });
  }

  #renewBatch(
    requests: readonly LeaseRenewalRequest[],
  ): Promise<BatchAnswer<LeaseRenewal | undefined>[]> {
    return firstOfEachKey(
      requests,
      (request) => request.fence.runId,
      (distinct) => this.autocommit('renewRunLease', () => renewRunLeases(this.db, distinct)),
      (renewal) => ({ value: renewal }),
      { again: true },
    );
  }
}

/**
 * Runs `batch` on the first item of each key and answers each item from its result; an item
 * whose key is already in the batch is answered `repeated` instead (a statement must never carry
 * two writes of one run or session).
 */
async function firstOfEachKey<I, R, O>(
  items: readonly I[],
  keyOf: (item: I) => string,
  batch: (distinct: readonly I[]) => Promise<readonly R[]>,
  answer: (result: R | undefined) => BatchAnswer<O>,
  repeated: BatchAnswer<O>,
): Promise<BatchAnswer<O>[]> {
  const keys = new Set<string>();
  const distinct: I[] = [];
  const included = items.map((item) => {
    const key = keyOf(item);
    if (keys.has(key)) return false;
    keys.add(key);
    distinct.push(item);
    return true;
  });
  const results = await batch(distinct);
  let next = 0;
  return included.map((first) => {
    if (!first) return repeated;
    const result = results[next];
    next += 1;
    return answer(result);
  });
}

/**
 * The batcher of `key` in `lanes`, made on first use and dropped once idle: lanes are keyed by
 * workers' offers or statement shapes, which are many and come and go.
 */
function laneOf<I, O>(
  lanes: Map<string, NaturalBatcher<I, O>>,
  key: string,
  runBatch: (items: readonly I[]) => Promise<readonly BatchAnswer<O>[]>,
  maxBatch: number,
): NaturalBatcher<I, O> {
  const existing = lanes.get(key);
  if (existing !== undefined) return existing;
  const lane: NaturalBatcher<I, O> = new NaturalBatcher(runBatch, maxBatch, () => {
    if (lanes.get(key) === lane) lanes.delete(key);
  });
  lanes.set(key, lane);
  return lane;
}

/** `match`'s offers but its pins: what claimers must share to share a statement. */
function unpinnedOffers(match: WorkerMatch): string[] {
  const pins = new Set(pinsOf(match));
  return match.offers.filter((offer) => !pins.has(offer));
}

function claimAnswer(answer: BatchClaim): BatchAnswer<ClaimedRun | null | undefined> {
  switch (answer.outcome) {
    case 'claimed':
      return { value: answer.claimed };
    case 'none':
      return { value: null };
    case 'again':
      return { again: true };
    case 'alone':
      // As for a refused batch: the caller claims through the single claim's transaction.
      return { value: undefined };
    default: {
      const unknown: never = answer;
      throw new Error(`unknown claim outcome ${JSON.stringify(unknown)}`);
    }
  }
}
