import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { checkMockScript } from '../../drivers/index.js';
import {
  AasError,
  type ExitCode,
  exitCodeFor,
  fieldPositionInYaml,
  isAasError,
  normaliseError,
  valueAt,
  yamlFailureMessage,
} from '../../kernel/index.js';
import { readPolicyLayerFile } from '../../policy/index.js';
import { type JobSpec, parseJobSpec, type RunOutcome } from '../../runner/index.js';
import { isRepoUrl } from '../../workspaces/index.js';
import { type CliIo, println, reportError } from '../cli-io.js';
import { serverClientFor } from '../client/connect.js';
import { isRemoteOutcome, printSubmitWarnings, runOnServer } from '../client/remote-run.js';
import type { ServerClient } from '../client/server-client.js';
import { diffstat } from '../format.js';
import { type GlobalOptions, withRuntime } from '../open-runtime.js';
import { runWithProgress } from '../run-with-progress.js';

/** The flags that describe a job, shared by `aas run` and `aas schedules create|update`. */
export interface JobFlags {
  repo?: string;
  task?: string;
  agent?: string;
  agentCmd?: string;
  fallbackAgent: string[];
  job?: string;
  policy?: string;
  validate: string[];
  validateTimeout?: string;
  retries?: string;
  base?: string;
  allowDirtyBase?: boolean;
  keepWorkspace?: boolean;
  label: string[];
  agentInput?: string;
  /** `aas run` only: where the run may go, and before which others. */
  requireLabel?: string[];
  worker?: string;
  priority?: string;
}

interface RunFlags extends JobFlags {
  json?: boolean;
  detach?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerRunCommand(
  program: Command,
  io: CliIo,
  setExit: (code: ExitCode) => void,
): void {
  program
    .command('run')
    .description('run one governed agent job on a repository and decide its patch')
    .option(
      '--repo <path|url>',
      'git repository to work on (committed state is the base), or a URL the runner fetches',
    )
    .option('--task <text>', 'what the agent should do')
    .option('--agent <id>', 'agent manifest id (see `aas agents`)')
    .option(
      '--agent-cmd <command>',
      'run this shell command as the agent (the built-in command agent)',
    )
    .option(
      '--fallback-agent <id>',
      'agent to try when the previous one fails (repeatable)',
      collect,
      [],
    )
    .option('--job <file>', 'JobSpec file (YAML or JSON); flags override its fields')
    .option('--policy <file>', 'job policy layer file (YAML or JSON)')
    .option(
      '--validate <command>',
      'validator command run in the workspace after the agent (repeatable)',
      collect,
      [],
    )
    .option('--validate-timeout <sec>', 'timeout for each --validate command, seconds', '600')
    .option('--retries <n>', 'extra attempts per agent, each with the failed gates as feedback')
    .option('--base <ref>', 'base ref (default HEAD)')
    .option(
      '--allow-dirty-base',
      'snapshot uncommitted changes into a base commit instead of refusing',
    )
    .option('--keep-workspace', 'keep each attempt workspace after the run (until aas gc --kept)')
    .option('--label <label>', 'label for the session (repeatable)', collect, [])
    .option('--agent-input <file>', 'agent-specific input (YAML or JSON), e.g. a mock agent script')
    .option(
      '--require-label <label>',
      'only a worker carrying this label may run it (repeatable; with --server)',
      collect,
      [],
    )
    .option('--worker <name>', 'only the worker of this name may run it (with --server)')
    .option('--priority <n>', 'claimed before runs of lower priority (-1000 to 1000, default 0)')
    .option(
      '--detach',
      'with --server: submit, print the session and run ids, and exit 0 without following',
    )
    .option('--json', 'print one machine-readable result object instead of progress')
    .addHelpText(
      'after',
      `
Exit codes: 0 ready for promotion, 2 bad input, 3 blocked by policy or gates,
            4 human review, 5 agent failed, 1 internal error, 130 cancelled.

With --server URL (or AAS_SERVER) and a token (AAS_TOKEN or --token) the job is submitted
to that server and its live progress is followed here; --repo must then be a path the
server can read (it is sent as an absolute path) or a URL. A URL (https://, ssh://, file://,
user@host:path, …) is fetched by the host that runs the job, without credentials. Ctrl-C asks the server to cancel the run
and waits for it to end; the patch stays on the server (its URL is printed).

Examples:
  aas run --repo . --task "fix the typo" --agent-cmd "sed -i s/teh/the/ README.md"
  aas run --repo . --task "add tests" --agent mock --agent-input mock.yaml --validate "npm test" --retries 1
  AAS_SERVER=http://127.0.0.1:8001 AAS_TOKEN=… aas run --repo /srv/app --task "fix the typo" --agent my-agent`,
    )
    .action(async (flags: RunFlags, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const json = flags.json === true;
      try {
        const job = await buildJob(io, flags);
        const server = serverClientFor(io, globals);
        const placing = [
          ...((flags.requireLabel ?? []).length > 0 ? ['--require-label'] : []),
          ...(flags.worker === undefined ? [] : ['--worker']),
          ...(flags.priority === undefined ? [] : ['--priority']),
        ];
        const [placingFlag] = placing;
        if (!server && placingFlag !== undefined) {
          // A local run is executed here and now: there is no worker to choose, nothing to order.
          throw new AasError('INVALID_ARGUMENT', `${placing.join(', ')} place a run on a server`, {
            field: placingFlag,
            hint: 'give --server URL (or AAS_SERVER), or drop the flag to run here',
          });
        }
        if (flags.detach === true) {
          if (!server) {
            throw new AasError('INVALID_ARGUMENT', '--detach submits to a server', {
              field: '--detach',
              hint: 'give --server URL (or AAS_SERVER), or drop --detach to run here',
            });
          }
          await submitDetached(io, server, job, json);
          return;
        }
        const outcome = server
          ? await runOnServer(io, server, job, { quiet: json })
          : await withRuntime(io, globals, (runtime) => runWithProgress(io, runtime, job, json));
        printOutcome(io, outcome, json);
        setExit(exitCodeFor(outcome.reasonCode));
      } catch (thrown) {
        setExit(reportError(io, thrown, json));
      }
    });
}

/** A YAML or JSON file's value, with its text (for the line of a field an error names). */
async function readStructured(
  io: CliIo,
  file: string,
  code: 'JOB_INVALID' | 'INVALID_ARGUMENT',
): Promise<{ value: unknown; text: string }> {
  const path = resolve(io.cwd, file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new AasError(code, `cannot read: ${normaliseError(error).message}`, {
      file: path,
      hint: 'check the path',
    });
  }
  try {
    return { value: parseYaml(text, { prettyErrors: true }), text };
  } catch (error) {
    throw new AasError(code, `not valid YAML or JSON: ${yamlFailureMessage(text, error)}`, {
      file: path,
    });
  }
}

/**
 * The job the flags describe: `--job FILE` (YAML or JSON) or `base` (a schedule's current job),
 * with each flag given overriding its field.
 */
export async function buildJob(
  io: CliIo,
  flags: JobFlags,
  base: Readonly<Record<string, unknown>> = {},
): Promise<JobSpec> {
  const read = flags.job ? await readStructured(io, flags.job, 'JOB_INVALID') : null;
  const fromFile = read === null ? base : read.value;
  if (typeof fromFile !== 'object' || fromFile === null || Array.isArray(fromFile)) {
    throw new AasError('JOB_INVALID', 'a job file must hold a mapping', {
      ...(flags.job ? { file: resolve(io.cwd, flags.job) } : {}),
      hint: 'write the JobSpec fields as keys, e.g. task: …, repo: …, agent: …',
    });
  }
  const job: Record<string, unknown> = { ...fromFile };
  if (flags.agent && flags.agentCmd) {
    throw new AasError('INVALID_ARGUMENT', '--agent and --agent-cmd exclude each other', {
      field: '--agent-cmd',
    });
  }
  // A URL is fetched by whoever runs the job: only a path is made absolute here.
  if (flags.repo) job.repo = isRepoUrl(flags.repo) ? flags.repo : resolve(io.cwd, flags.repo);
  else if (typeof job.repo === 'string' && flags.job && !isRepoUrl(job.repo))
    job.repo = resolve(resolve(io.cwd, flags.job), '..', job.repo);
  if (flags.task) job.task = flags.task;
  if (flags.agent) job.agent = flags.agent;
  if (flags.agentCmd) {
    job.agent = 'command';
    job.agentInput = { command: flags.agentCmd };
  }
  if (flags.agentInput) {
    if (flags.agentCmd) {
      throw new AasError(
        'INVALID_ARGUMENT',
        '--agent-cmd already is the agent input; drop --agent-input',
        {
          field: '--agent-input',
          hint: 'use --agent command --agent-input FILE to give the command agent its input from a file',
        },
      );
    }
    const input = await readStructured(io, flags.agentInput, 'INVALID_ARGUMENT');
    if (job.agent === 'mock') {
      // Checked here, where the file is known, as well as when the run is submitted.
      try {
        checkMockScript(input.value);
      } catch (thrown) {
        throw withLineOf(thrown, input.text, {
          file: resolve(io.cwd, flags.agentInput),
          fieldPrefix: 'agentInput.',
        });
      }
    }
    job.agentInput = input.value;
  }
  if (flags.fallbackAgent.length > 0) job.fallbackAgents = flags.fallbackAgent;
  if (flags.policy) {
    // A job file's own policy and --policy would be two job layers; a schedule's stored job
    // (`base`, no file given) is what an update replaces, its policy included.
    if (read !== null && job.policy !== undefined) {
      throw new AasError(
        'INVALID_ARGUMENT',
        'the job file already has a policy; give it there or with --policy, not both',
        {
          field: '--policy',
          hint: 'two job layers would be ambiguous; add further layers as the server (AAS_POLICY) or repo policy',
        },
      );
    }
    job.policy = (await readPolicyLayerFile(resolve(io.cwd, flags.policy), 'job')).layer;
  }
  if (flags.validate.length > 0) {
    const timeoutSec = parseCount(flags.validateTimeout ?? '600', '--validate-timeout', 1);
    job.validators = flags.validate.map((command) => ({ command, timeoutSec }));
  }
  if (flags.retries !== undefined) job.retries = parseCount(flags.retries, '--retries', 0);
  if (flags.base) job.baseRef = flags.base;
  if (flags.allowDirtyBase) job.allowDirtyBase = true;
  if (flags.keepWorkspace) job.keepWorkspace = true;
  if (flags.label.length > 0) job.labels = flags.label;
  if (flags.requireLabel !== undefined && flags.requireLabel.length > 0) {
    job.requireLabels = flags.requireLabel;
  }
  if (flags.worker) job.worker = flags.worker;
  if (flags.priority !== undefined) job.priority = parsePriority(flags.priority);
  const file = flags.job ? resolve(io.cwd, flags.job) : undefined;
  const parse = (): JobSpec => {
    try {
      const parsed = parseJobSpec(job, file === undefined ? {} : { file });
      if (parsed.agent === 'mock' && !flags.agentInput) checkMockScript(parsed.agentInput);
      return parsed;
    } catch (thrown) {
      if (read === null || file === undefined) throw thrown;
      // A field a flag set is not the file's: its line there would point at the value replaced.
      const fromTheFile = (field: string) => {
        const path = field.split('.');
        return JSON.stringify(valueAt(read.value, path)) === JSON.stringify(valueAt(job, path));
      };
      throw withLineOf(thrown, read.text, { file, fromTheFile });
    }
  };
  const missing = job.repo === undefined || job.task === undefined || job.agent === undefined;
  // With a job file, a required field it lacks is most often one it misspelt (`agnet:`): the
  // file's own error names the unknown key and its line, where a flag's would not.
  if (missing && read !== null) {
    try {
      parse();
    } catch (thrown) {
      const field = isAasError(thrown) ? thrown.details.field : undefined;
      const flag = field === 'agent' ? '--agent or --agent-cmd' : `--${String(field)}`;
      if (isAasError(thrown) && (field === 'repo' || field === 'task' || field === 'agent')) {
        throw new AasError(thrown.code, thrown.message, {
          ...thrown.details,
          hint: `give ${field} in the job file or with ${flag}`,
        });
      }
      throw thrown;
    }
  }
  if (job.repo === undefined)
    throw new AasError('INVALID_ARGUMENT', 'missing --repo', {
      field: '--repo',
      hint: 'aas run --repo PATH …',
    });
  if (job.task === undefined)
    throw new AasError('INVALID_ARGUMENT', 'missing --task', { field: '--task' });
  if (job.agent === undefined) {
    throw new AasError('INVALID_ARGUMENT', 'name an agent', {
      field: '--agent',
      hint: 'use --agent ID or --agent-cmd "…"',
    });
  }
  return parse();
}

/**
 * A job's error, with the file it came from and the line and column of the field it names when
 * that file holds the field (a value a flag gave has no line). `fieldPrefix`: how the field's
 * name starts in the job when the file holds only that part (`--agent-input`).
 */
function withLineOf(
  thrown: unknown,
  text: string,
  source: { file: string; fieldPrefix?: string; fromTheFile?: (field: string) => boolean },
): unknown {
  if (!isAasError(thrown) || thrown.code !== 'JOB_INVALID') return thrown;
  const { field } = thrown.details;
  if (typeof field !== 'string' || thrown.details.line !== undefined) return thrown;
  const prefix = source.fieldPrefix ?? '';
  const position =
    field.startsWith(prefix) && (source.fromTheFile?.(field) ?? true)
      ? fieldPositionInYaml(text, field.slice(prefix.length))
      : null;
  const at = position === null ? '' : ` at line ${position.line}, column ${position.column}`;
  return new AasError(
    thrown.code,
    `${thrown.message}${at}`,
    {
      ...thrown.details,
      file: source.file,
      ...(position === null ? {} : { line: position.line, column: position.column }),
    },
    { cause: thrown },
  );
}

function parsePriority(text: string): number {
  const value = /^-?\d{1,4}$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isInteger(value) || value < -1000 || value > 1000) {
    throw new AasError(
      'INVALID_ARGUMENT',
      `--priority must be a whole number from -1000 to 1000, got "${text}"`,
      { field: '--priority' },
    );
  }
  return value;
}

/** `--detach`: the job is queued on the server and this command leaves it there. */
async function submitDetached(
  io: CliIo,
  server: ServerClient,
  job: JobSpec,
  json: boolean,
): Promise<void> {
  const submitted = await server.submitJob(job);
  if (json) {
    println(io.stdout, JSON.stringify({ ...submitted, server: server.url }));
    return;
  }
  printSubmitWarnings(io, submitted.warnings);
  println(io.stdout, `session ${submitted.sessionId}`);
  println(io.stdout, `run     ${submitted.runId} queued on ${server.url}`);
  println(
    io.stdout,
    `follow  aas sessions show ${submitted.sessionId} --server ${server.url}  ·  cancel: aas cancel ${submitted.runId} --server ${server.url}`,
  );
}

function parseCount(text: string, flag: string, min: number): number {
  const value = /^\d{1,6}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(value) || value < min) {
    throw new AasError(
      'INVALID_ARGUMENT',
      `${flag} must be a whole number ≥ ${min}, got "${text}"`,
      { field: flag },
    );
  }
  return value;
}

function printOutcome(io: CliIo, outcome: RunOutcome, json: boolean): void {
  const remote = isRemoteOutcome(outcome) ? outcome : null;
  if (json) {
    const { patchUrl, ...fields } = remote ?? { patchUrl: null, ...outcome };
    println(
      io.stdout,
      JSON.stringify({
        ok: outcome.status === 'ready_for_promotion',
        ...fields,
        // No summary file on this host (a server's run, a run this process lost): null, not "".
        summaryPath: outcome.summaryPath === '' ? null : outcome.summaryPath,
        // A server's run wrote its patch on the disk of whichever host ran it (the server, or a
        // remote worker): no path here means anything, the URL is where to fetch it from.
        ...(outcome.patch && patchUrl
          ? { patch: { ...outcome.patch, path: null, url: patchUrl } }
          : {}),
        exitCode: exitCodeFor(outcome.reasonCode),
      }),
    );
    return;
  }
  const [headline = '', ...more] = outcome.detail.split('\n');
  println(io.stdout, `decision  ${outcome.status} (${outcome.reasonCode}) ${headline}`);
  // Failures carry their explanation and hint on further lines: show them in full.
  if (outcome.status !== 'ready_for_promotion') {
    for (const line of more) println(io.stdout, `          ${line}`);
  }
  if (outcome.patch) {
    println(io.stdout, `patch     ${remote?.patchUrl ?? outcome.patch.path}`);
    println(io.stdout, diffstat(outcome.patch.files));
  }
  println(
    io.stdout,
    `details   aas sessions show ${outcome.sessionId}${remote ? ` --server ${remote.server}` : ''}`,
  );
}
