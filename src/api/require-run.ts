import { AasError } from '../kernel/index.js';
import type { RunRecord, Store } from '../store/index.js';

/** The run a route's `:id` names, or NOT_FOUND naming the parameter. */
export async function requireRun(store: Store, id: string): Promise<RunRecord> {
  const run = await store.getRun(id);
  if (run === null) throw new AasError('NOT_FOUND', `no run ${id}`, { field: 'id' });
  return run;
}
