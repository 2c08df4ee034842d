import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import pino from 'pino';
import type { AasConfig } from '../config/index.js';
import { type AgentRegistry, builtinManifests, createAgentRegistry } from '../drivers/index.js';
import { AasError, type Clock, type Logger, normaliseError, systemClock } from '../kernel/index.js';
import { type NamedLayer, parsePolicyLayer } from '../policy/index.js';
import type { RunnerDeps } from '../runner/index.js';
import { createPlainBackend, type SandboxBackend } from '../sandbox/index.js';
import { EventBus, recoverInterruptedRuns } from '../sessions/index.js';
import { openStore, type Store } from '../store/index.js';
import { collectOrphanWorkspaces } from '../workspaces/index.js';

/** The typed resources bag: built once here, passed explicitly everywhere else. */
export interface Runtime {
  readonly config: AasConfig;
  readonly clock: Clock;
  readonly log: Logger;
  readonly bus: EventBus;
  readonly store: Store;
  readonly registry: AgentRegistry;
  readonly sandboxes: readonly SandboxBackend[];
  readonly serverPolicy: NamedLayer | null;
  readonly hostEnv: Readonly<Record<string, string | undefined>>;
  /** Identity of this process as a runner. */
  readonly owner: string;
  runnerDeps(): RunnerDeps;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  readonly hostEnv: Readonly<Record<string, string | undefined>>;
  readonly clock?: Clock;
  readonly log?: Logger;
  /** Executable that runs the built-in mock agent; the current Node binary by default. */
  readonly nodePath: string;
  /** Run crash recovery (expired leases, orphan workspaces). On for every CLI command. */
  readonly recover?: boolean;
}

export async function createRuntime(config: AasConfig, options: RuntimeOptions): Promise<Runtime> {
  const clock = options.clock ?? systemClock;
  const log: Logger =
    options.log ??
    pino(
      { level: config.logLevel, base: { pid: process.pid } },
      pino.destination({ fd: 2, sync: true }),
    );
  const bus = new EventBus();
  const serverPolicy = config.serverPolicyFile
    ? await loadServerPolicy(config.serverPolicyFile)
    : null;
  const store = await openStore({
    sqlitePath: config.paths.sqlite,
    ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}),
  });
  try {
    const registry = await createAgentRegistry({
      builtins: builtinManifests({ nodePath: options.nodePath }),
      dirs: config.agentsDirs,
    });
    const sandboxes = [createPlainBackend({ clock })];
    const owner = `runner:${hostname()}:${process.pid}`;
    const runtime: Runtime = {
      config,
      clock,
      log,
      bus,
      store,
      registry,
      sandboxes,
      serverPolicy,
      hostEnv: options.hostEnv,
      owner,
      runnerDeps: () => ({
        store,
        clock,
        log,
        bus,
        registry,
        sandboxes,
        hostEnv: options.hostEnv,
        paths: { runs: config.paths.runs, artifacts: config.paths.artifacts },
        serverPolicy,
        runLeaseMs: config.runLeaseMs,
        owner,
      }),
      close: () => store.close(),
    };
    if (options.recover ?? true) await recover(runtime);
    return runtime;
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** After a crash: end runs whose lease expired, then remove workspaces no live run owns. */
async function recover(runtime: Runtime): Promise<void> {
  const recovered = await recoverInterruptedRuns({
    store: runtime.store,
    clock: runtime.clock,
    bus: runtime.bus,
    actor: `system:recovery:${runtime.owner}`,
  });
  if (recovered.length > 0) runtime.log.warn({ runs: recovered }, 'ended interrupted runs');
  try {
    await collectOrphanWorkspaces({
      runsDir: runtime.config.paths.runs,
      isRunLive: async (runId) => {
        const run = await runtime.store.getRun(runId);
        return run !== null && (run.status === 'running' || run.status === 'queued');
      },
    });
  } catch (error) {
    runtime.log.warn({ err: normaliseError(error).message }, 'orphan workspace collection failed');
  }
}

async function loadServerPolicy(file: string): Promise<NamedLayer> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    // A missing or unreadable policy layer denies: refuse to start rather than run without it.
    throw new AasError(
      'POLICY_INVALID',
      `cannot read the server policy: ${normaliseError(error).message}`,
      {
        file,
        field: 'AAS_POLICY',
        hint: 'fix the path in AAS_POLICY or unset it',
      },
    );
  }
  return { name: 'server', source: file, layer: parsePolicyLayer(text, { file }) };
}
