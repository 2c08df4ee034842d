import type { SubmitWarning } from '../api/index.js';
import { type JobSpec, runRequirements } from '../runner/index.js';
import type { Store, WorkerMatch } from '../store/index.js';
import { RemoteWorkers } from '../workers/index.js';

/** Whether a worker offering `match` may claim a run with `requirements`, as the claim decides. */
function meets(match: WorkerMatch, requirements: readonly string[]): boolean {
  return requirements.every(
    (requirement) =>
      match.offers.includes(requirement) || (match.anyAgent && requirement.startsWith('agent:')),
  );
}

/**
 * Whether any worker this server knows of could claim a run of `job`: its own embedded loops,
 * the remote workers not revoked (drained or offline ones included: they may come back), and the
 * enrolments not used yet (a worker may register with them; its agents are not known before).
 * None: one warning, since such a run waits `queued` with nothing saying why. Not an error:
 * a worker may enrol later, and another replica's embedded loops (their `AAS_WORKER_LABELS`)
 * are not known here.
 */
export async function claimWarnings(
  deps: {
    readonly store: Store;
    readonly embedded: readonly WorkerMatch[];
    readonly nowIso: string;
  },
  job: JobSpec,
): Promise<SubmitWarning[]> {
  const requirements = runRequirements(job);
  if (deps.embedded.some((match) => meets(match, requirements))) return [];
  const workers = await deps.store.listWorkers();
  const remote = workers.filter((worker) => worker.revokedAt === null).map(RemoteWorkers.match);
  if (remote.some((match) => meets(match, requirements))) return [];
  const enrolments = await deps.store.listPendingEnrolments(deps.nowIso);
  const enrolled = enrolments.map(
    (enrolment): WorkerMatch => ({
      offers: [...enrolment.labels.map((label) => `label:${label}`), `worker:${enrolment.name}`],
      anyAgent: true,
    }),
  );
  if (enrolled.some((match) => meets(match, requirements))) return [];
  const field =
    job.worker !== undefined ? 'worker' : job.requireLabels.length > 0 ? 'requireLabels' : 'agent';
  return [
    {
      field,
      message: `no worker known to this server offers all this run needs (${requirements.join(', ')}): it waits, queued, until one that does claims it`,
      hint: 'aas workers shows what each worker offers; aas worker enrol --name <name> --labels <labels> adds a remote worker (its agents are those installed on its host). Embedded workers of other replicas are not known here.',
    },
  ];
}
