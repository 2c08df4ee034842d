import type { z } from 'zod';
import { AasError, type Logger } from '../kernel/index.js';
import { type ExplainedPath, explainPolicy, readRecordedPolicy } from '../policy/index.js';
import type { RunRecord, Store, StoredEvent } from '../store/index.js';
import { ExplainedValueSchema, type RunPolicySchema } from './api-schemas.js';

/** Events read per round while looking for a run's policy: a long session is never read whole. */
const READ_BATCH = 1000;

interface Resolution {
  readonly event: StoredEvent;
  readonly agentId: string;
  readonly effective: unknown;
}

function resolutionOf(event: StoredEvent, runId: string): Resolution | null {
  if (event.type !== 'policy.resolved') return null;
  const data = event.data;
  if (typeof data !== 'object' || data === null) return null;
  const fields = data as Record<string, unknown>;
  if (fields.runId !== runId || typeof fields.agentId !== 'string') return null;
  return { event, agentId: fields.agentId, effective: fields.effective };
}

/**
 * The run's `policy.resolved` events, oldest first. The runner records one per agent before
 * that agent's first attempt (the primary, then each fallback it falls back to), and again for
 * each agent after a requeue.
 */
async function resolutionsOf(store: Store, run: RunRecord): Promise<Resolution[]> {
  const found: Resolution[] = [];
  let afterSeq = 0;
  for (;;) {
    const events = await store.readEvents(run.sessionId, { afterSeq, limit: READ_BATCH });
    for (const event of events) {
      const resolution = resolutionOf(event, run.id);
      if (resolution !== null) found.push(resolution);
    }
    const last = events.at(-1);
    if (last === undefined || events.length < READ_BATCH) return found;
    afterSeq = last.seq;
  }
}

/**
 * Which layers an outcome comes from. An allowed path is admitted by every allow-list (that is
 * what allowed means), so all of them decided it; a denial names one layer, or none when the
 * path is invalid or git metadata, which no layer can allow.
 */
function layersBehind(entry: ExplainedPath, allowLists: readonly string[]): string[] {
  if (entry.runtime !== null) return [entry.runtime.layer];
  if (entry.decision.allowed) return [...allowLists];
  return entry.decision.layer === undefined ? [] : [entry.decision.layer];
}

/**
 * The run's effective policy as it was recorded (the latest resolution: the agent that ran
 * last), explained, with a verdict for each of `paths`.
 */
export async function explainRunPolicy(
  store: Store,
  log: Logger,
  run: RunRecord,
  paths: readonly string[],
): Promise<z.infer<typeof RunPolicySchema>> {
  const resolutions = await resolutionsOf(store, run);
  const latest = resolutions.at(-1);
  if (latest === undefined) {
    throw new AasError('NOT_FOUND', `run ${run.id} has no resolved policy`, {
      status: run.status,
      hint:
        run.status === 'queued'
          ? 'the policy is resolved when a worker starts the run; ask again once it runs'
          : 'the run ended before its policy was resolved (see its events)',
    });
  }
  const recorded = readRecordedPolicy(latest.effective);
  if (!recorded.ok) {
    // History this server cannot read is its own failure, not the caller's.
    log.error(
      { runId: run.id, seq: latest.event.seq, problem: recorded.problem },
      'a recorded policy cannot be read back',
    );
    throw new AasError('INTERNAL', `the recorded policy of run ${run.id} cannot be read`);
  }
  const { policy, unrecorded } = recorded;
  const explanation = explainPolicy(policy, paths);
  const allowLists = policy.paths.allow.map((list) => list.layer);
  const skipped = new Set<string>(unrecorded);
  return {
    runId: run.id,
    sessionId: run.sessionId,
    agentId: latest.agentId,
    agents: [...new Set(resolutions.map((resolution) => resolution.agentId))],
    seq: latest.event.seq,
    resolvedAt: latest.event.at,
    layers: [...explanation.layers],
    // explainPolicy types every value as unknown; each is checked against its field's shape.
    values: ExplainedValueSchema.array().parse(
      explanation.values.filter((value) => !skipped.has(value.field)),
    ),
    unrecorded: [...unrecorded],
    paths: explanation.paths.map((entry) => ({
      path: entry.path,
      outcome: entry.outcome,
      decision: entry.decision,
      runtime: entry.runtime,
      decidedBy: layersBehind(entry, allowLists),
    })),
  };
}
