import { type Command, Help } from 'commander';
import {
  enrolWorker,
  remoteWorkerState,
  revokeWorker,
  withdrawEnrolments,
} from '../../api/index.js';
import {
  createWorkerHost,
  lockWorkerHome,
  readWorkerCredential,
  type WorkerCredential,
  workerPaths,
  writeWorkerCredential,
} from '../../app/index.js';
import type { AasConfig } from '../../config/index.js';
import { AasError, type ExitCode, isAasError } from '../../kernel/index.js';
import { type CliIo, println, reportError } from '../cli-io.js';
import { serverClientFor } from '../client/connect.js';
import { normaliseServerUrl, ServerClient } from '../client/server-client.js';
import type { WorkerView } from '../client/wire.js';
import { table } from '../format.js';
import { configFrom, type GlobalOptions, withRuntime } from '../open-runtime.js';

/** What `aas worker enrolments` shows of an enrolment, from the API or this host's database. */
interface PendingEnrolment {
  readonly id: string;
  readonly name: string;
  readonly labels: readonly string[];
  readonly createdBy: string;
  readonly expiresAt: string;
}

const LABELS_HINT = 'comma-separated, e.g. linux,gpu (lowercase a-z 0-9 . _ -)';

function parseLabels(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((label) => label.trim())
    .filter(Boolean);
}

function printWorkers(io: CliIo, workers: readonly WorkerView[], json: boolean): void {
  if (json) {
    println(io.stdout, JSON.stringify(workers));
    return;
  }
  if (workers.length === 0) {
    println(io.stdout, 'no workers');
    return;
  }
  println(
    io.stdout,
    table([
      ['NAME', 'KIND', 'STATE', 'LABELS', 'RUNS', 'LAST SEEN'],
      ...workers.map((w) => [
        w.name,
        w.kind,
        // The API says offline; a table read by a person says why.
        w.revokedAt === null ? w.state : 'revoked',
        w.labels.join(',') || '-',
        w.runIds.join(',') || '-',
        w.lastSeenAt ?? '-',
      ]),
    ]),
  );
}

/** Options of `aas worker` itself (running one), not of its administration subcommands. */
const WORKER_RUN_OPTIONS = new Set(['--concurrency', '--rebind']);

/**
 * Remote worker administration: `aas worker enrol`, `revoke`, `drain` and `resume`, and
 * `aas workers`. With `--server` (or AAS_SERVER) through the API as an admin; without, on this
 * host's database (where `aas workers` can show only remote workers: embedded ones live in a
 * running server).
 */
export function registerWorkerCommands(
  program: Command,
  io: CliIo,
  setExit: (code: ExitCode) => void,
): void {
  const worker = program
    .command('worker')
    .description(
      'run this host as a remote worker of --server (SIGTERM drains); `enrol`, `revoke`, `drain` and `resume` administer workers',
    )
    .option('--concurrency <n>', 'runs held at once (1 to 16)', '1')
    .option(
      '--rebind',
      'talk to --server although this home registered with another address of the installation (another replica): the credential is sent there and kept only if it is accepted',
    )
    .addHelpText(
      'after',
      `
Run as a worker: aas worker --server https://aas.example --token <enrolment secret>
The first start exchanges the one-time secret (from \`aas worker enrol\`) for this worker's
own credential, kept in <AAS_HOME>/worker/credential.json (mode 0600); later starts need
only --server. The worker claims runs the control plane lets it execute (labels, pins, the
agents installed here), fetches each run's base into <AAS_HOME>/worker/repos, runs it in
the sandbox, and sends its history, patch and logs back under the run's lease. It holds no
database or forge credential. SIGTERM or SIGINT: finish held runs, claim nothing more;
a second one stops at once (the runs' leases lapse and the control plane requeues them).
The credential is bound to the address it registered with; to fail over to another replica
of the same installation, start with that replica's --server and --rebind.`,
    )
    .action(async (flags: { concurrency: string; rebind?: boolean }, command: Command) => {
      try {
        const globals = command.optsWithGlobals<GlobalOptions>();
        await runWorker(io, globals, flags);
      } catch (thrown) {
        setExit(reportError(io, thrown, false));
      }
    });
  worker
    .command('enrol')
    .description('create a one-time enrolment secret for a remote worker; printed once')
    .requiredOption('--name <name>', 'the worker name (unique, stays taken after revocation)')
    .option('--labels <labels>', `labels the worker carries: ${LABELS_HINT}`)
    .option('--ttl <seconds>', 'how long the secret can be used (60 to 604800)', '3600')
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      '\nOn the worker host: aas worker --server URL --token SECRET (exchanged once for its own credential).',
    )
    .action(
      async (
        flags: { name: string; labels?: string; ttl: string; json?: boolean },
        command: Command,
      ) => {
        try {
          const globals = command.optsWithGlobals<GlobalOptions>();
          const ttlSec = Number(flags.ttl);
          if (!Number.isInteger(ttlSec) || ttlSec < 60 || ttlSec > 604_800) {
            throw new AasError(
              'INVALID_ARGUMENT',
              `must be whole seconds from 60 to 604800, not "${flags.ttl}"`,
              {
                field: '--ttl',
                hint: 'from 60 to 604800 (a week); 3600 by default',
              },
            );
          }
          const input = { name: flags.name, labels: parseLabels(flags.labels), ttlSec };
          const server = serverClientFor(io, globals);
          const issued = server
            ? await server.enrolWorker(input)
            : await withRuntime(io, globals, async (runtime) => {
                const local = await enrolWorker(runtime.store, runtime.clock, {
                  ...input,
                  createdBy: io.user,
                });
                // Without --server the secret is good only for a server on this database.
                println(
                  io.stderr,
                  `recorded in ${runtime.config.databaseUrl === undefined ? runtime.config.paths.sqlite : 'the database of AAS_DATABASE_URL'}: only a server on that database accepts it (pass --server to enrol on a running server)`,
                );
                return local;
              });
          if (flags.json) println(io.stdout, JSON.stringify(issued));
          else {
            println(
              io.stdout,
              `enrolment for worker ${issued.enrolment.name} (labels: ${issued.enrolment.labels.join(',') || 'none'}), valid until ${issued.enrolment.expiresAt}`,
            );
            println(io.stdout, `secret (shown once, usable once): ${issued.secret}`);
          }
        } catch (thrown) {
          setExit(reportError(io, thrown, flags.json === true));
        }
      },
    );
  worker
    .command('revoke')
    .description(
      'revoke a remote worker by id or name (its credential stops working at once), or withdraw the unused enrolment secrets of a name',
    )
    .argument('<worker>', 'worker id (wrk_…) or name')
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      '\nRevoking a worker also withdraws the unused enrolments of its name. A name enrolled but not registered yet has no worker: its unused secrets are withdrawn instead (aas worker enrolments lists them).',
    )
    .action(async (idOrName: string, flags: { json?: boolean }, command: Command) => {
      try {
        const globals = command.optsWithGlobals<GlobalOptions>();
        const server = serverClientFor(io, globals);
        const outcome = server
          ? await revokeOrWithdraw(
              () => server.revokeWorker(idOrName),
              () => server.withdrawEnrolments(idOrName),
            )
          : await withRuntime(io, globals, (runtime) =>
              revokeOrWithdraw(
                () => revokeWorker(runtime.store, runtime.clock, idOrName),
                () => withdrawEnrolments(runtime.store, runtime.clock, idOrName),
              ),
            );
        // The revoked worker's record, as before withdrawals existed; or what was withdrawn.
        if (flags.json)
          println(io.stdout, JSON.stringify('worker' in outcome ? outcome.worker : outcome));
        else if ('worker' in outcome) {
          const revoked = outcome.worker;
          println(
            io.stdout,
            `revoked worker ${revoked.name} (${revoked.id}) at ${revoked.revokedAt ?? '?'}`,
          );
        } else {
          println(
            io.stdout,
            `withdrew ${outcome.withdrawn.length} unused enrolment(s) for worker ${idOrName}: ${outcome.withdrawn.map((e) => e.id).join(', ')}`,
          );
        }
      } catch (thrown) {
        setExit(reportError(io, thrown, flags.json === true));
      }
    });
  worker
    .command('enrolments')
    .description(
      'list the enrolment secrets not used yet and not expired (the secrets stay secret)',
    )
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }, command: Command) => {
      try {
        const globals = command.optsWithGlobals<GlobalOptions>();
        const server = serverClientFor(io, globals);
        const pending: readonly PendingEnrolment[] = server
          ? await server.listEnrolments()
          : await withRuntime(io, globals, (runtime) =>
              runtime.store.listPendingEnrolments(runtime.clock.nowIso()),
            );
        if (flags.json) println(io.stdout, JSON.stringify(pending));
        else if (pending.length === 0) println(io.stdout, 'no unused enrolments');
        else
          println(
            io.stdout,
            table([
              ['ID', 'NAME', 'LABELS', 'CREATED BY', 'EXPIRES'],
              ...pending.map((e) => [
                e.id,
                e.name,
                e.labels.join(',') || '-',
                e.createdBy,
                e.expiresAt,
              ]),
            ]),
          );
      } catch (thrown) {
        setExit(reportError(io, thrown, flags.json === true));
      }
    });

  for (const action of ['drain', 'resume'] as const) {
    const draining = action === 'drain';
    worker
      .command(action)
      .description(
        draining
          ? 'drain a remote worker by id or name: it finishes what it holds and gets no new runs'
          : 'resume a drained remote worker: it gets runs again',
      )
      .argument('<worker>', 'worker id (wrk_…) or name')
      .option('--json', 'machine-readable output')
      .addHelpText(
        'after',
        draining
          ? `
The worker finishes the runs it holds and is given no new ones until \`aas worker resume\`,
also across its restarts; its program keeps running, waiting. \`aas workers\` shows it
draining, with the runs it still holds. (SIGTERM on the worker host drains that process
only: the worker, started again, gets runs at once.)`
          : `
Ends a drain set by \`aas worker drain\`: the worker's waiting claims are served again.`,
      )
      .action(async (idOrName: string, flags: { json?: boolean }, command: Command) => {
        try {
          const globals = command.optsWithGlobals<GlobalOptions>();
          const server = serverClientFor(io, globals);
          const changed = server
            ? await (draining ? server.drainWorker(idOrName) : server.resumeWorker(idOrName))
            : await withRuntime(io, globals, (runtime) =>
                runtime.store.setWorkerDraining(idOrName, draining),
              );
          if (flags.json) println(io.stdout, JSON.stringify(changed));
          else
            println(
              io.stdout,
              draining
                ? `draining worker ${changed.name} (${changed.id}): it gets no new runs until resumed`
                : `resumed worker ${changed.name} (${changed.id}): it gets runs again`,
            );
        } catch (thrown) {
          setExit(reportError(io, thrown, flags.json === true));
        }
      });
  }

  // --concurrency and --rebind belong to running a worker, not to administering one: the
  // subcommands' help does not list them among the options it inherits.
  const administration = new Help();
  administration.showGlobalOptions = true;
  for (const sub of worker.commands) {
    sub.configureHelp({
      showGlobalOptions: true,
      visibleGlobalOptions: (cmd) =>
        administration
          .visibleGlobalOptions(cmd)
          .filter((option) => !WORKER_RUN_OPTIONS.has(option.long ?? '')),
    });
  }

  program
    .command('workers')
    .description(
      'list workers and their state (online, busy, draining, stale, offline, revoked); with --server, embedded ones too',
    )
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }, command: Command) => {
      try {
        const globals = command.optsWithGlobals<GlobalOptions>();
        const server = serverClientFor(io, globals);
        const workers: WorkerView[] = server
          ? await server.listWorkers()
          : await withRuntime(io, globals, async (runtime) => {
              const [remote, leases] = await Promise.all([
                runtime.store.listWorkers(),
                runtime.store.listRunningLeases(),
              ]);
              const nowMs = runtime.clock.nowMs();
              return remote.map((w) => {
                const runIds = leases
                  .filter((lease) => lease.leaseOwner === w.id)
                  .map((lease) => lease.runId);
                return {
                  id: w.id,
                  kind: 'remote',
                  name: w.name,
                  state: remoteWorkerState(w, runIds.length > 0, nowMs),
                  labels: [...w.labels],
                  runIds,
                  lastSeenAt: w.lastSeenAt,
                  revokedAt: w.revokedAt,
                };
              });
            });
        printWorkers(io, workers, flags.json === true);
      } catch (thrown) {
        setExit(reportError(io, thrown, flags.json === true));
      }
    });
}

/**
 * `aas worker --server URL [--token ENROLMENT_SECRET]`: registers once, then claims and runs
 * until drained (SIGTERM/SIGINT) or refused by the control plane (a revoked credential).
 */
async function runWorker(
  io: CliIo,
  globals: GlobalOptions,
  flags: { concurrency: string; rebind?: boolean },
): Promise<void> {
  const concurrency = Number(flags.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 16) {
    throw new AasError('INVALID_ARGUMENT', '--concurrency must be an integer from 1 to 16', {
      field: '--concurrency',
    });
  }
  const config = configFrom(io, globals);
  const serverUrl = config.client.serverUrl;
  if (serverUrl === undefined) {
    throw new AasError('CONFIG_INVALID', 'a worker needs its control plane', {
      field: '--server',
      hint: 'aas worker --server https://aas.example --token <enrolment secret>',
    });
  }
  const server = normaliseServerUrl(serverUrl);
  // The lock may be lost before the worker is there to drain: it then drains as it starts.
  let lostError: Error | null = null;
  let onLost: ((error: Error) => void) | null = null;
  const lock = await lockWorkerHome(
    config.home,
    (error) => {
      lostError = error;
      onLost?.(error);
    },
    {
      onWait: (waitMs) =>
        println(
          io.stderr,
          `another aas worker holds ${config.home}; waiting up to ${waitMs / 1_000} s for it to stop`,
        ),
    },
  );
  try {
    await workOnHome(
      io,
      config,
      server,
      { concurrency, rebind: flags.rebind === true },
      (callback) => {
        onLost = callback;
        if (lostError !== null) callback(lostError);
      },
    );
  } finally {
    await lock.release();
  }
  if (lostError !== null) {
    // Drained, not stopped by its operator: a supervisor should see a failure and restart it.
    throw new AasError(
      'INTERRUPTED',
      `the worker stopped after losing the lock of ${config.home}: another process may have been using it`,
      {
        field: '--home',
        hint: 'give each worker process a home of its own, then start this one again',
      },
    );
  }
}

/** The worker's life on a home this process holds: registration, then claiming until drained. */
async function workOnHome(
  io: CliIo,
  config: AasConfig,
  server: string,
  settings: { readonly concurrency: number; readonly rebind: boolean },
  whenLockLost: (onLost: (error: Error) => void) => void,
): Promise<void> {
  const { concurrency } = settings;
  const host = await createWorkerHost(config, { hostEnv: io.env, nodePath: io.nodePath });
  const credentialPath = workerPaths(config).credential;
  const secret = config.client.token;
  let identity = await readWorkerCredential(credentialPath);
  if (secret?.startsWith(ENROLMENT_PREFIX) && identity !== null) {
    // Registering again would overwrite the only copy of that worker's credential.
    throw new AasError(
      'CONFIG_INVALID',
      `this home is registered already, as worker ${identity.name} (${identity.workerId}) of ${identity.server}`,
      {
        field: '--token',
        hint: `start it without an enrolment secret (neither --token nor AAS_TOKEN); or, to register this host anew, revoke ${identity.name} (aas worker revoke ${identity.name}) and remove ${credentialPath}, or use another --home`,
      },
    );
  }
  if (secret?.startsWith(ENROLMENT_PREFIX)) {
    const registered = await new ServerClient({
      serverUrl: server,
      token: secret,
      userAgent: 'aas-worker',
      refusedTokenHint: `ask an admin of ${server} for a new enrolment secret (aas worker enrol --name <name>); each is used once and expires`,
    }).registerWorker({ enrolmentSecret: secret, capabilities: host.capabilities });
    const installationKeyId = await installationKeyIdAt(server).catch(() => undefined);
    identity = {
      server,
      workerId: registered.worker.id,
      name: registered.worker.name,
      credential: registered.credential,
      ...(installationKeyId === undefined ? {} : { installationKeyId }),
    };
    await writeWorkerCredential(credentialPath, identity);
    println(io.stderr, `registered as worker ${identity.name} (${identity.workerId})`);
  }
  if (identity === null && secret !== undefined) {
    throw new AasError(
      'UNAUTHENTICATED',
      `this host is not registered with ${server}, and the token given is not an enrolment secret (they start with ${ENROLMENT_PREFIX}); an API token cannot register a worker`,
      {
        field: '--token',
        hint: 'give the enrolment secret an admin created with `aas worker enrol --name <name>`',
      },
    );
  }
  if (identity === null) {
    throw new AasError('UNAUTHENTICATED', `this host is not registered with ${server}`, {
      field: '--token',
      hint: 'give the enrolment secret an admin created with `aas worker enrol --name <name>`',
    });
  }
  if (identity.server !== server) {
    if (!settings.rebind) {
      throw new AasError(
        'CONFIG_INVALID',
        `this host is registered with ${identity.server}, not ${server}`,
        {
          field: '--server',
          hint: `use --server ${identity.server}; if ${server} is another replica of the same installation, add --rebind; or, to register with ${server}, remove ${credentialPath} (or use another --home) and start with an enrolment secret from it`,
        },
      );
    }
    identity = await rebindWorker(io, identity, server, credentialPath);
  } else if (identity.installationKeyId === undefined) {
    // Registered before the key was kept: learn it now from the address it registered with.
    const keyId = await installationKeyIdAt(server).catch(() => undefined);
    if (keyId !== undefined) {
      identity = { ...identity, installationKeyId: keyId };
      await writeWorkerCredential(credentialPath, identity);
    }
  }
  const link = new ServerClient({
    serverUrl: server,
    token: identity.credential,
    userAgent: 'aas-worker',
    refusedTokenHint: `${server} refused the credential of worker ${identity.name} (revoked, or unknown to its database): an admin enrols it anew with aas worker enrol --name <new name>; remove ${credentialPath}, then run aas worker --token <that secret>`,
  });
  const agent = host.start(link, identity.workerId, { concurrency });
  whenLockLost((error) => {
    // Another process may be using this home now: claim nothing more, finish what is held.
    host.log.error({ err: error, home: config.home }, 'worker lost the lock of its home; draining');
    agent.drain();
  });
  const onSignal = () => agent.drain();
  if (io.signal.aborted) agent.drain();
  else io.signal.addEventListener('abort', onSignal, { once: true });
  host.log.info(
    { server, worker: identity.name, capabilities: host.capabilities, concurrency },
    'worker started',
  );
  try {
    await agent.run();
  } finally {
    io.signal.removeEventListener('abort', onSignal);
  }
  host.log.info({ worker: identity.name }, 'worker stopped');
}

/** How an enrolment secret starts (see worker-secrets.ts); anything else is not one. */
const ENROLMENT_PREFIX = 'aase_';

/**
 * `aas worker revoke`: the worker of that id or name, else the unused enrolments of that name;
 * NOT_FOUND naming both when neither exists.
 */
async function revokeOrWithdraw<W, E>(
  revoke: () => Promise<W>,
  withdraw: () => Promise<E[]>,
): Promise<{ worker: W } | { withdrawn: E[] }> {
  try {
    return { worker: await revoke() };
  } catch (thrown) {
    if (!isAasError(thrown) || thrown.code !== 'NOT_FOUND') throw thrown;
  }
  try {
    return { withdrawn: await withdraw() };
  } catch (thrown) {
    if (!isAasError(thrown) || thrown.code !== 'NOT_FOUND') throw thrown;
  }
  // A secret used meanwhile made a worker: that one is revoked.
  try {
    return { worker: await revoke() };
  } catch (thrown) {
    if (!isAasError(thrown) || thrown.code !== 'NOT_FOUND') throw thrown;
    throw new AasError(
      'NOT_FOUND',
      'no worker with that id or name, and no unused enrolment for that name',
      {
        field: 'worker',
        hint: 'aas workers lists the workers, aas worker enrolments the unused enrolments',
      },
    );
  }
}

/** The id of the signing key `server` publishes (GET /keys, no token sent). */
async function installationKeyIdAt(server: string): Promise<string> {
  const [key] = await new ServerClient({ serverUrl: server, userAgent: 'aas-worker' }).publicKeys();
  if (key === undefined) {
    throw new AasError('SERVER_UNAVAILABLE', `${server} publishes no signing key`);
  }
  return key.keyId;
}

/**
 * Moves this home's credential to another address of the same installation (a replica behind
 * its own URL, after the one it registered with went away). Nothing secret is sent until the
 * new address publishes the installation's signing key (every replica of one installation
 * signs with one key, see requireInstallationKey); then an empty heartbeat there must be
 * accepted before the file says the new address. Refused, the file is left as it was.
 */
async function rebindWorker(
  io: CliIo,
  identity: WorkerCredential,
  server: string,
  credentialPath: string,
): Promise<WorkerCredential> {
  if (identity.installationKeyId === undefined) {
    throw new AasError(
      'CONFIG_INVALID',
      `this home's credential does not say which installation issued it, so it is not sent to ${server}`,
      {
        field: '--rebind',
        hint: `start it once with --server ${identity.server} (it then records the installation's key), or enrol it anew at ${server}`,
      },
    );
  }
  const published = await installationKeyIdAt(server);
  if (published !== identity.installationKeyId) {
    throw new AasError(
      'CONFIG_INVALID',
      `${server} is not the installation this worker registered with: it publishes signing key ${published}, not ${identity.installationKeyId}; the credential was not sent`,
      {
        field: '--server',
        hint: `start with --server ${identity.server}, or enrol this host at ${server}`,
      },
    );
  }
  await new ServerClient({
    serverUrl: server,
    token: identity.credential,
    userAgent: 'aas-worker',
    refusedTokenHint: `${server} does not know worker ${identity.name} (revoked?); start with --server ${identity.server}, or enrol it anew`,
  }).workerHeartbeat([], { draining: false });
  const moved = { ...identity, server };
  await writeWorkerCredential(credentialPath, moved);
  println(
    io.stderr,
    `worker ${identity.name} now talks to ${server} (registered with ${identity.server})`,
  );
  return moved;
}
