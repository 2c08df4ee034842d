import { existsSync, statSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import {
  AasError,
  type ExitCode,
  isAasError,
  isWithin,
  realOrResolved,
} from '../../kernel/index.js';
import {
  type AttestationVerdict,
  PUBLIC_KEY_FILE,
  type PublicKeyInfo,
  publicKeyInfo,
  verifyAttestation,
} from '../../promotion/index.js';
import type { StoredEvent } from '../../store/index.js';
import { type CliIo, println, reportError } from '../cli-io.js';
import { serverClientFor } from '../client/connect.js';
import { configFrom, type GlobalOptions, withRuntime } from '../open-runtime.js';
import { checkOutputDirectory, makeOutputDirectory } from '../output-directory.js';
import { requireRunId } from './require-run-id.js';

/** The files `aas export` writes, and `aas verify` looks for beside an attestation. */
export const EXPORT_FILES = {
  patch: 'patch.diff',
  summary: 'summary.json',
  attestation: 'attestation.json',
  events: 'events.ndjson',
  key: PUBLIC_KEY_FILE,
} as const;

interface ExportBundle {
  readonly runId: string;
  readonly patch: string;
  readonly summary: unknown;
  readonly attestation: string | null;
  readonly events: readonly StoredEvent[];
  readonly publicKeyPem: string;
}

/**
 * `aas export RUN DIR`: everything needed to review and verify a run away from AAS — the
 * patch, the summary, the signed attestation, the session's hash-chained events and the
 * public key — written into DIR (created; existing files of these names are replaced).
 */
export function registerExportCommands(
  program: Command,
  io: CliIo,
  setExit: (code: ExitCode) => void,
): void {
  program
    .command('export')
    .description("write a run's patch, summary, signed attestation, events and public key into DIR")
    .argument('<run>', 'run id')
    .argument('<dir>', 'directory to write into (created)')
    .option('--force', 'replace an export already in DIR (its files are removed first)')
    .option('--json', 'machine-readable output')
    .action(
      async (
        runId: string,
        dir: string,
        flags: { json?: boolean; force?: boolean },
        command: Command,
      ) => {
        try {
          requireRunId(runId);
          const target = resolve(io.cwd, dir);
          if (existsSync(target) && !statSync(target).isDirectory()) {
            throw new AasError('INVALID_ARGUMENT', `${target} is a file, not a directory`, {
              field: 'DIR',
              hint: 'name a directory to write the export into (it is created if missing)',
            });
          }
          // An earlier export's files would sit beside this one's (an attestation of another
          // run, say) and be verified together: refused, or removed with --force.
          const earlier = Object.values(EXPORT_FILES).filter((name) =>
            existsSync(join(target, name)),
          );
          if (earlier.length > 0 && flags.force !== true) {
            throw new AasError(
              'INVALID_ARGUMENT',
              `${target} holds an export already (${earlier.join(', ')})`,
              {
                field: 'DIR',
                hint: 'choose another directory, or pass --force to replace it',
              },
            );
          }
          // Before anything is fetched: a directory that cannot be made is said at once.
          await checkOutputDirectory(target, 'DIR');
          const globals = command.optsWithGlobals<GlobalOptions>();
          const server = serverClientFor(io, globals);
          const bundle: ExportBundle = server
            ? await (async () => {
                const { run } = await server.getRun(runId);
                const patch = await server.getPatch(runId);
                const attestation = await server.attestation(runId).catch((thrown: unknown) => {
                  if (thrown instanceof AasError && thrown.code === 'NOT_FOUND') return null;
                  throw thrown;
                });
                const events: StoredEvent[] = [];
                for (let after = 0; ; ) {
                  const page = await server.readEvents(run.sessionId, { after, limit: 1000 });
                  events.push(...page.items);
                  if (page.nextAfter === null || page.items.length === 0) break;
                  after = page.nextAfter;
                }
                const [key] = await server.publicKeys();
                return {
                  runId,
                  patch,
                  summary: run.summary,
                  attestation,
                  events,
                  publicKeyPem: key?.publicKeyPem ?? '',
                };
              })()
            : await withRuntime(
                io,
                globals,
                async (runtime) => {
                  const run = await runtime.store.getRun(runId);
                  if (run === null)
                    throw new AasError('NOT_FOUND', `no run ${runId}`, { field: 'RUN' });
                  if (run.patchSha256 === null) {
                    throw new AasError('NOT_FOUND', `run ${runId} has no patch`, { field: 'RUN' });
                  }
                  const patchFile = join(
                    runtime.config.paths.artifacts,
                    `${run.patchSha256}.patch`,
                  );
                  const patch = await readFile(patchFile, 'utf8').catch(() => {
                    throw new AasError('NOT_FOUND', `the patch of ${runId} is no longer stored`, {
                      file: patchFile,
                    });
                  });
                  const attestation = await runtime.promotion.service.attestationOf(runId);
                  const [key] = await runtime.promotion.service.publicKeys();
                  return {
                    runId,
                    patch,
                    summary: run.summary,
                    attestation: attestation?.bytes.toString('utf8') ?? null,
                    events: await runtime.store.readEvents(run.sessionId),
                    publicKeyPem: key?.publicKeyPem ?? '',
                  };
                },
                { recover: false },
              );
          await makeOutputDirectory(target, 'DIR');
          for (const name of earlier) await rm(join(target, name), { force: true });
          const written: string[] = [];
          const write = async (name: string, content: string) => {
            await writeFile(join(target, name), content);
            written.push(name);
          };
          await write(EXPORT_FILES.patch, bundle.patch);
          await write(EXPORT_FILES.summary, `${JSON.stringify(bundle.summary, null, 2)}\n`);
          if (bundle.attestation !== null)
            await write(EXPORT_FILES.attestation, bundle.attestation);
          await write(
            EXPORT_FILES.events,
            bundle.events.map((e) => `${JSON.stringify(e)}\n`).join(''),
          );
          if (bundle.publicKeyPem !== '') await write(EXPORT_FILES.key, bundle.publicKeyPem);
          if (flags.json) println(io.stdout, JSON.stringify({ dir: target, files: written }));
          else {
            println(io.stdout, `exported ${runId} to ${target}: ${written.join(', ')}`);
            if (bundle.attestation === null) {
              println(io.stdout, 'note: the run is not promoted, so there is no attestation yet');
            }
          }
        } catch (thrown) {
          setExit(reportError(io, thrown, flags.json === true));
        }
      },
    );

  program
    .command('verify')
    .description(
      'verify an attestation offline: its signature, the patch digest and the link into the session hash chain',
    )
    .argument(
      '<file>',
      'attestation (DSSE envelope JSON), e.g. DIR/attestation.json from aas export',
    )
    .option('--patch <file>', `the patch it must name (default: ${EXPORT_FILES.patch} beside FILE)`)
    .option(
      '--events <file>',
      `the session's events, ndjson (default: ${EXPORT_FILES.events} beside FILE)`,
    )
    .option(
      '--key <file>',
      `trusted public key PEM (default: $AAS_HOME/keys/${PUBLIC_KEY_FILE}, trusted only with --home or AAS_HOME set and outside FILE's directory; else ${PUBLIC_KEY_FILE} beside FILE, which is not trusted)`,
    )
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      '\nExit codes: 0 every check passed, 6 a check failed, 2 a file is missing or unreadable (also "partly verified": the patch or the events are not beside FILE and not given, or the key was not an independent one: beside FILE, or the default home ./.aas).\nhistory: the patch, the requester and the approvers the attestation names must be those the session\'s events record.',
    )
    .action(
      async (
        file: string,
        flags: { patch?: string; events?: string; key?: string; json?: boolean },
        command: Command,
      ) => {
        try {
          const path = resolve(io.cwd, file);
          const beside = (name: string) => join(dirname(path), name);
          const envelope = parseJsonFile(await readInput(path, 'FILE'), path);
          requireEnvelopeShape(envelope, path);
          const patchPath = flags.patch ? resolve(io.cwd, flags.patch) : beside(EXPORT_FILES.patch);
          const eventsPath = flags.events
            ? resolve(io.cwd, flags.events)
            : beside(EXPORT_FILES.events);
          const patch =
            flags.patch || existsSync(patchPath)
              ? await readInput(patchPath, '--patch')
              : undefined;
          const events =
            flags.events || existsSync(eventsPath)
              ? parseEvents((await readInput(eventsPath, '--events')).toString('utf8'), eventsPath)
              : undefined;
          const { key, source, independent } = await trustedKey(
            io,
            command,
            flags.key,
            beside(EXPORT_FILES.key),
          );
          const verdict = verifyAttestation({
            envelope,
            publicKeys: [key],
            ...(patch === undefined ? {} : { patch }),
            ...(events === undefined ? {} : { events }),
          });
          report(io, verdict, {
            file: path,
            keySource: source,
            keyIndependent: independent,
            json: flags.json === true,
          });
          if (!verdict.ok) {
            setExit(6);
          } else if (verdict.checks.some((check) => check.skipped) || !independent) {
            // Not verified either: what a missing file would have shown was never looked at, or
            // whoever wrote the attestation may have made the key it was checked with.
            setExit(2);
          }
        } catch (thrown) {
          setExit(reportError(io, thrown, flags.json === true));
        }
      },
    );
}

async function readInput(path: string, field: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (thrown) {
    const code = (thrown as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new AasError('INVALID_ARGUMENT', `cannot read ${path} (${code})`, { file: path, field });
  }
}

function parseJsonFile(bytes: Buffer, path: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new AasError('ATTESTATION_INVALID', 'the attestation is not JSON', {
      file: path,
      hint: 'pass the attestation.json that aas export wrote, or GET /runs/{id}/attestation',
    });
  }
}

/**
 * A file that is not even shaped as a DSSE envelope is the wrong file, not a forged one: said
 * before any key is looked for (whose absence would otherwise be the first complaint).
 */
function requireEnvelopeShape(value: unknown, path: string): void {
  const envelope = value as { payloadType?: unknown; payload?: unknown; signatures?: unknown };
  if (
    typeof value === 'object' &&
    value !== null &&
    typeof envelope.payloadType === 'string' &&
    typeof envelope.payload === 'string' &&
    Array.isArray(envelope.signatures)
  ) {
    return;
  }
  throw new AasError(
    'INVALID_ARGUMENT',
    'this is not an attestation: a DSSE envelope has payloadType, payload and signatures',
    {
      file: path,
      field: 'FILE',
      hint: 'pass the attestation.json that aas export wrote, or GET /runs/{id}/attestation',
    },
  );
}

function parseEvents(text: string, path: string): StoredEvent[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, index) => {
      try {
        return JSON.parse(line) as StoredEvent;
      } catch {
        throw new AasError('INVALID_ARGUMENT', `line ${index + 1} is not JSON`, {
          file: path,
          hint: 'the events file is ndjson: one event object per line',
        });
      }
    });
}

/**
 * The key to trust. A key shipped beside the attestation proves only that whoever wrote both
 * had that key, so it is the last choice, and the report says when it was used.
 */
async function trustedKey(
  io: CliIo,
  command: Command,
  explicit: string | undefined,
  besidePath: string,
): Promise<{ key: PublicKeyInfo; source: string; independent: boolean }> {
  const candidates: { path: string; source: string; independent: boolean }[] = [];
  if (explicit) {
    candidates.push({ path: resolve(io.cwd, explicit), source: '--key', independent: true });
  } else {
    const config = configFrom(io, command.optsWithGlobals<GlobalOptions>());
    const installationKey = join(config.paths.keys, PUBLIC_KEY_FILE);
    // The default home is ./.aas of the directory this runs in: inside a received export, a
    // forger's own .aas/keys would pass for this installation's. Only a home named with
    // --home or AAS_HOME, outside the attestation's directory, is one.
    const exportDir = realOrResolved(dirname(besidePath));
    const independent =
      !config.homeByDefault && !isWithin(realOrResolved(installationKey), exportDir);
    candidates.push({
      path: installationKey,
      source: independent
        ? 'this installation'
        : 'the default home here (name the installation with --home or AAS_HOME, or pass --key)',
      independent,
    });
    candidates.push({
      path: besidePath,
      source: 'the file beside the attestation (not an independent trust anchor)',
      independent: false,
    });
  }
  for (const candidate of candidates) {
    if (!explicit && !existsSync(candidate.path)) continue;
    const pem = (await readInput(candidate.path, '--key')).toString('utf8');
    let key: PublicKeyInfo;
    try {
      key = publicKeyInfo(pem);
    } catch (thrown) {
      // Which file was not a key, and which flag or default named it.
      if (!isAasError(thrown)) throw thrown;
      throw new AasError(thrown.code, thrown.message, {
        ...thrown.details,
        file: candidate.path,
        ...(explicit ? { field: '--key' } : {}),
      });
    }
    return {
      key,
      source: `${candidate.source}: ${candidate.path}`,
      independent: candidate.independent,
    };
  }
  throw new AasError('INVALID_ARGUMENT', 'no public key to verify with', {
    field: '--key',
    hint: 'pass --key with the PEM from GET /api/v1/keys of the installation that signed it',
  });
}

function report(
  io: CliIo,
  verdict: AttestationVerdict,
  context: { file: string; keySource: string; keyIndependent: boolean; json: boolean },
): void {
  if (context.json) {
    println(
      io.stdout,
      JSON.stringify({
        ...verdict,
        keySource: context.keySource,
        keyIndependent: context.keyIndependent,
      }),
    );
    return;
  }
  // A check skipped for want of its input (a file missing from the export) is not a pass: the
  // headline says what was left unchecked rather than a plain "verified".
  const skipped = verdict.checks.filter((check) => check.skipped).map((check) => check.name);
  const unchecked = [
    ...(skipped.length === 0
      ? []
      : [`not checked: ${skipped.join(', ')}; give the files with --patch / --events`]),
    // A forger ships a key of its own beside a forged file: only a key from elsewhere proves who signed.
    ...(context.keyIndependent
      ? []
      : [
          `signed by ${context.keySource.startsWith('the file beside') ? 'the key beside the attestation' : 'the key of the default home here (./.aas)'}, which whoever wrote it could have made; give --key with the PEM from GET /api/v1/keys of the installation`,
        ]),
  ];
  const headline = !verdict.ok
    ? 'NOT verified'
    : unchecked.length === 0
      ? 'verified'
      : `partly verified (${unchecked.join('; ')})`;
  println(io.stdout, `${context.file}: ${headline}`);
  println(io.stdout, `  key: ${context.keySource}`);
  for (const check of verdict.checks) {
    const mark = check.skipped ? 'skip' : check.ok ? 'ok  ' : 'FAIL';
    println(io.stdout, `  ${mark} ${check.name}: ${check.detail}`);
  }
  const predicate = verdict.statement?.predicate;
  if (predicate) {
    println(
      io.stdout,
      `  run ${predicate.runId} of session ${predicate.sessionId}, ${predicate.promotion.mode}${predicate.promotion.branch ? ` → ${predicate.promotion.branch}` : ''}; approved by ${predicate.approvers.map((a) => a.name).join(', ') || 'nobody (policy required none)'}`,
    );
  }
}
