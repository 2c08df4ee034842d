import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type {
  AepJob,
  AgentManifest,
  DriverEvent,
  RunDriverOptions,
} from '../../src/drivers/index.js';
import { systemClock } from '../../src/kernel/index.js';
import { createPlainBackend } from '../../src/sandbox/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-repo.js';

export type FixtureOverrides = Omit<Partial<RunDriverOptions>, 'job'> & { job?: Partial<AepJob> };

/** A throw-away root with a workspace and an attempt dir, and a way to run one attempt there. */
export interface AttemptFixture {
  readonly root: string;
  readonly workspace: string;
  readonly attemptDir: string;
  readonly events: DriverEvent[];
  options(manifest: AgentManifest, overrides?: FixtureOverrides): RunDriverOptions;
  dispose(): void;
}

export function makeJob(agentId: string, overrides: Partial<AepJob> = {}): AepJob {
  return {
    protocol: 'aep/v1',
    sessionId: 'ses_test',
    runId: 'run_test',
    attempt: 1,
    agentId,
    task: 'do the thing',
    feedback: [],
    policySummary: 'paths: src/**',
    input: null,
    validators: [],
    ...overrides,
  };
}

export function makeAttemptFixture(): AttemptFixture {
  const root = makeTempDir('aas-driver-');
  const workspace = join(root, 'workspace');
  const attemptDir = join(root, 'attempt-1');
  mkdirSync(workspace, { recursive: true });
  const events: DriverEvent[] = [];
  return {
    root,
    workspace,
    attemptDir,
    events,
    options(manifest, overrides = {}) {
      const { job, ...rest } = overrides;
      return {
        manifest,
        sandbox: createPlainBackend({ clock: systemClock }),
        job: makeJob(manifest.id, job),
        workspaceDir: workspace,
        attemptDir,
        hostEnv: {},
        envAllow: null,
        timeoutMs: 60_000,
        maxOutputBytes: 1024 * 1024,
        network: { mode: 'disabled' },
        onEvent: (event) => {
          events.push(event);
        },
        clock: systemClock,
        ...rest,
      };
    },
    dispose: () => removeDir(root),
  };
}
