import type { Command } from 'commander';
import { enrolWorker, remoteWorkerState } from '../../api/index.js';
import type { ExitCode } from '../../kernel/index.js';
import { type CliIo, println, reportError } from '../cli-io.js';
import { serverClientFor } from '../client/connect.js';
import type { WorkerView } from '../client/wire.js';
import { table } from '../format.js';
import { type GlobalOptions, withRuntime } from '../open-runtime.js';

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
        w.state,
        w.labels.join(',') || '-',
        w.runIds.join(',') || '-',
        w.lastSeenAt ?? '-',
      ]),
    ]),
  );
}

/**
 * Remote worker administration: `aas worker enrol` and `aas worker revoke`, and `aas workers`.
 * With `--server` (or AAS_SERVER) through the API as an admin; without, on this host's database
 * (where `aas workers` can show only remote workers: embedded ones live in a running server).
 */
export function registerWorkerCommands(
  program: Command,
  io: CliIo,
  setExit: (code: ExitCode) => void,
): void {
  const worker = program
    .command('worker')
    .description(
      'enrol and revoke remote workers; with --server, through the API as an admin (the worker loop itself is not yet available)',
    );
  worker
    .command('enrol')
    .description('create a one-time enrolment secret for a remote worker; printed once')
    .requiredOption('--name <name>', 'the worker name (unique, stays taken after revocation)')
    .option('--labels <labels>', `labels the worker carries: ${LABELS_HINT}`)
    .option('--ttl <seconds>', 'how long the secret can be used (60 to 604800)', '3600')
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      '\nThe worker exchanges the secret once for its own credential (POST /api/v1/workers/register);\nrunning `aas worker --server URL --token SECRET` is the next increment.',
    )
    .action(
      async (
        flags: { name: string; labels?: string; ttl: string; json?: boolean },
        command: Command,
      ) => {
        try {
          const globals = command.optsWithGlobals<GlobalOptions>();
          const input = {
            name: flags.name,
            labels: parseLabels(flags.labels),
            ttlSec: Number(flags.ttl),
          };
          const server = serverClientFor(io, globals);
          const issued = server
            ? await server.enrolWorker(input)
            : await withRuntime(io, globals, (runtime) =>
                enrolWorker(runtime.store, runtime.clock, { ...input, createdBy: io.user }),
              );
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
    .description('revoke a remote worker by id or name; its credential stops working at once')
    .argument('<worker>', 'worker id (wrk_…) or name')
    .option('--json', 'machine-readable output')
    .action(async (idOrName: string, flags: { json?: boolean }, command: Command) => {
      try {
        const globals = command.optsWithGlobals<GlobalOptions>();
        const server = serverClientFor(io, globals);
        const revoked = server
          ? await server.revokeWorker(idOrName)
          : await withRuntime(io, globals, (runtime) =>
              runtime.store.revokeWorker(idOrName, runtime.clock.nowIso()),
            );
        if (flags.json) println(io.stdout, JSON.stringify(revoked));
        else
          println(
            io.stdout,
            `revoked worker ${revoked.name} (${revoked.id}) at ${revoked.revokedAt ?? '?'}`,
          );
      } catch (thrown) {
        setExit(reportError(io, thrown, flags.json === true));
      }
    });

  program
    .command('workers')
    .description(
      'list workers and their state (online, busy, draining, stale, offline); with --server, embedded ones too',
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
