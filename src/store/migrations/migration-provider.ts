import type { Migration, MigrationProvider } from 'kysely';
import * as initial from './0001-initial.js';
import * as queueAndTokens from './0002-queue-and-tokens.js';
import * as promotion from './0003-promotion.js';
import * as modelSpend from './0004-model-spend.js';
import * as schedules from './0005-schedules.js';
import * as remoteWorkers from './0006-remote-workers.js';
import * as runArtifacts from './0007-run-artifacts.js';
import * as heartbeatOnlyHeap from './0008-heartbeat-only-heap.js';
import * as workerSelfDrain from './0009-worker-self-drain.js';
import * as claimAcknowledgement from './0010-claim-acknowledgement.js';
import * as scheduleJobAuthor from './0011-schedule-job-author.js';
import * as installationFacts from './0012-installation-facts.js';

/**
 * Migrations are compiled into the program rather than read from a folder at run time, so a
 * bundled or globally installed `aas` cannot miss one. Names sort in application order.
 */
export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001-initial': initial,
  '0002-queue-and-tokens': queueAndTokens,
  '0003-promotion': promotion,
  '0004-model-spend': modelSpend,
  '0005-schedules': schedules,
  '0006-remote-workers': remoteWorkers,
  '0007-run-artifacts': runArtifacts,
  '0008-heartbeat-only-heap': heartbeatOnlyHeap,
  '0009-worker-self-drain': workerSelfDrain,
  '0010-claim-acknowledgement': claimAcknowledgement,
  '0011-schedule-job-author': scheduleJobAuthor,
  '0012-installation-facts': installationFacts,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => ({ ...MIGRATIONS }),
};
