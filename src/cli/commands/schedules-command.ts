import { Command } from 'commander';
import { AasError, type ExitCode, isAasError } from '../../kernel/index.js';
import { type CliIo, println, reportError } from '../cli-io.js';
import { serverClientFor } from '../client/connect.js';
import { printSubmitWarnings } from '../client/remote-run.js';
import { firstLine, table } from '../format.js';
import { type GlobalOptions, withRuntime } from '../open-runtime.js';
import { buildJob, type JobFlags } from './run-command.js';

/** A schedule as both the local service and the server show it. */
interface ScheduleShown {
  readonly id: string;
  readonly name: string;
  readonly timing: { readonly kind: string } & Readonly<Record<string, unknown>>;
  readonly misfire: string;
  readonly state: string;
  readonly pausedAt: string | null;
  readonly nextFireAt: string | null;
  readonly job: unknown;
  readonly jobSetBy?: string | undefined;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly updatedBy: string;
  readonly updatedAt: string;
  readonly version: number;
}

interface FireShown {
  readonly trigger: string;
  readonly slotAt: string;
  readonly outcome: string;
  readonly missedSlots: number;
  readonly sessionId: string | null;
  readonly recordedAt: string;
  readonly recordedBy: string;
}

interface Fired {
  readonly scheduleId: string;
  readonly sessionId: string;
  readonly runId: string;
  readonly slotAt: string;
}

/** The same operations on this host's database or through a server's API. */
type Warning = { readonly field: string; readonly message: string; readonly hint?: string };

interface ScheduleBackend {
  readonly where: string;
  list(): Promise<readonly ScheduleShown[]>;
  get(idOrName: string): Promise<{ schedule: ScheduleShown; fires: readonly FireShown[] }>;
  /** With a server: what the runs it fires will meet (no worker can claim them, say). */
  create(body: unknown): Promise<ScheduleShown & { readonly warnings?: readonly Warning[] }>;
  update(
    idOrName: string,
    body: unknown,
  ): Promise<ScheduleShown & { readonly warnings?: readonly Warning[] }>;
  remove(idOrName: string): Promise<ScheduleShown>;
  pause(idOrName: string): Promise<ScheduleShown>;
  resume(idOrName: string): Promise<ScheduleShown>;
  trigger(idOrName: string): Promise<Fired>;
  preview(idOrName: string, count: number): Promise<{ times: readonly string[] }>;
}

function backendFor(io: CliIo, globals: GlobalOptions): ScheduleBackend {
  const server = serverClientFor(io, globals);
  if (server) {
    return {
      where: server.url,
      list: () => server.listSchedules(),
      get: (id) => server.getSchedule(id),
      create: (body) => server.createSchedule(body),
      update: (id, body) => server.updateSchedule(id, body),
      remove: (id) => server.deleteSchedule(id),
      pause: (id) => server.pauseSchedule(id),
      resume: (id) => server.resumeSchedule(id),
      trigger: (id) => server.triggerSchedule(id),
      preview: (id, count) => server.previewSchedule(id, count),
    };
  }
  const local = <T>(body: Parameters<typeof withRuntime<T>>[2]) => withRuntime(io, globals, body);
  return {
    where: 'local',
    list: () => local((runtime) => runtime.schedules.list()),
    get: (id) => local((runtime) => runtime.schedules.get(id)),
    create: (body) => local((runtime) => runtime.schedules.create(body, io.user)),
    update: (id, body) => local((runtime) => runtime.schedules.update(id, body, io.user)),
    remove: (id) => local((runtime) => runtime.schedules.remove(id)),
    pause: (id) => local((runtime) => runtime.schedules.pause(id, io.user)),
    resume: (id) => local((runtime) => runtime.schedules.resume(id, io.user)),
    trigger: (id) => local((runtime) => runtime.schedules.trigger(id, io.user)),
    preview: (id, count) => local((runtime) => runtime.schedules.preview(id, count)),
  };
}

const DURATION_UNITS_SEC: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3_600, d: 86_400 };

/** `90`, `90s`, `15m`, `1h30m`, `2d` → seconds. */
export function parseDurationSec(text: string, flag: string): number {
  const trimmed = text.trim();
  if (/^\d{1,9}$/.test(trimmed)) return Number(trimmed);
  if (/^(\d{1,9}[smhd])+$/.test(trimmed)) {
    let total = 0;
    for (const [, amount, unit] of trimmed.matchAll(/(\d+)([smhd])/g)) {
      total += Number(amount) * (DURATION_UNITS_SEC[unit ?? 's'] ?? 1);
    }
    return total;
  }
  throw new AasError('INVALID_ARGUMENT', `${flag} must be a duration such as 15m, 1h or 90s`, {
    field: flag,
  });
}

/** `15m`, `1h30m`, `2d` from seconds. */
function formatDuration(totalSec: number): string {
  let rest = totalSec;
  let text = '';
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (rest >= size) {
      text += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return text || '0s';
}

function describeTiming(timing: ScheduleShown['timing']): string {
  switch (timing.kind) {
    case 'once':
      return `once at ${String(timing.at)}`;
    case 'interval':
      return `every ${formatDuration(Number(timing.everySec))} from ${String(timing.startAt)}`;
    case 'cron':
      return `cron "${String(timing.cron)}" ${String(timing.timezone)}`;
    default:
      return timing.kind;
  }
}

/** `Mon 2026-03-02 09:00` in `timezone`, for times a cron reads in its own zone. */
function localTime(iso: string, timezone: string): string {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: timezone,
    weekday: 'short',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(iso));
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return `${part('weekday')} ${part('year')}-${part('month')}-${part('day')} ${part('hour')}:${part('minute')} ${timezone}`;
}

interface TimingFlags {
  at?: string;
  every?: string;
  start?: string;
  cron?: string;
  timezone?: string;
}

/** The timing the flags give, or undefined when they give none. */
function timingFrom(flags: TimingFlags): Record<string, unknown> | undefined {
  const given = (['at', 'every', 'cron'] as const).filter((flag) => flags[flag] !== undefined);
  if (given.length > 1) {
    throw new AasError('INVALID_ARGUMENT', `--${given.join(' and --')} exclude each other`, {
      field: `--${given[1]}`,
      hint: 'a schedule is once (--at), an interval (--every) or a cron (--cron)',
    });
  }
  if (flags.start !== undefined && flags.every === undefined) {
    throw new AasError('INVALID_ARGUMENT', '--start goes with --every', {
      field: '--start',
      hint: 'give the interval with it, e.g. --every 1h --start 2027-01-01T09:00:00Z (aas schedules show prints the current one)',
    });
  }
  if (flags.timezone !== undefined && flags.cron === undefined) {
    throw new AasError('INVALID_ARGUMENT', '--timezone goes with --cron', {
      field: '--timezone',
      hint: 'give the pattern with it, e.g. --cron "0 9 * * 1-5" --timezone Europe/Berlin (aas schedules show prints the current one)',
    });
  }
  if (flags.at !== undefined) return { kind: 'once', at: flags.at };
  if (flags.every !== undefined) {
    return {
      kind: 'interval',
      everySec: parseDurationSec(flags.every, '--every'),
      ...(flags.start === undefined ? {} : { startAt: flags.start }),
    };
  }
  if (flags.cron !== undefined) {
    return {
      kind: 'cron',
      cron: flags.cron,
      ...(flags.timezone === undefined ? {} : { timezone: flags.timezone }),
    };
  }
  return undefined;
}

const FIELD_FLAGS: Readonly<Record<string, string>> = {
  name: '--name',
  misfire: '--misfire',
  'timing.at': '--at',
  'timing.everySec': '--every',
  'timing.startAt': '--start',
  'timing.cron': '--cron',
  'timing.timezone': '--timezone',
};

/** Errors about a body field name the flag that set it (`update` sets the name with --rename). */
function inFlagTerms(thrown: unknown, commandName: string | undefined): unknown {
  if (!isAasError(thrown) || typeof thrown.details.field !== 'string') return thrown;
  const flag =
    commandName === 'update' && thrown.details.field === 'name'
      ? '--rename'
      : FIELD_FLAGS[thrown.details.field];
  if (flag === undefined) return thrown;
  // The server judged the body; here it is a flag's value, refused as --cron's is locally.
  const code = thrown.code === 'REQUEST_INVALID' ? 'INVALID_ARGUMENT' : thrown.code;
  return new AasError(code, thrown.message, { ...thrown.details, field: flag });
}

const JOB_FLAGS = [
  'repo',
  'task',
  'agent',
  'agentCmd',
  'job',
  'policy',
  'validateTimeout',
  'retries',
  'base',
  'allowDirtyBase',
  'keepWorkspace',
  'agentInput',
  'worker',
  'priority',
] as const;

function givesJob(flags: JobFlags): boolean {
  return (
    JOB_FLAGS.some((flag) => flags[flag] !== undefined) ||
    flags.fallbackAgent.length > 0 ||
    flags.validate.length > 0 ||
    flags.label.length > 0 ||
    (flags.requireLabel ?? []).length > 0
  );
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** The job options of `aas run`, for a schedule's job template. */
function withJobOptions(command: Command): Command {
  return command
    .option('--job <file>', 'JobSpec file (YAML or JSON); flags override its fields')
    .option('--repo <path>', 'git repository (an absolute path on the server with --server)')
    .option('--task <text>', 'what the agent should do')
    .option('--agent <id>', 'agent manifest id (see `aas agents`)')
    .option('--agent-cmd <command>', 'run this shell command as the agent (the command agent)')
    .option(
      '--fallback-agent <id>',
      'agent to try when the previous fails (repeatable)',
      collect,
      [],
    )
    .option('--policy <file>', 'job policy layer file (YAML or JSON)')
    .option('--validate <command>', 'validator command (repeatable)', collect, [])
    .option('--validate-timeout <sec>', 'timeout for each --validate command, seconds')
    .option('--retries <n>', 'extra attempts per agent')
    .option('--base <ref>', 'base ref (default HEAD at each fire)')
    .option('--allow-dirty-base', 'snapshot uncommitted changes instead of refusing')
    .option('--keep-workspace', 'keep each attempt workspace after the run')
    .option('--label <label>', 'label for each session (repeatable)', collect, [])
    .option('--agent-input <file>', 'agent-specific input (YAML or JSON)')
    .option(
      '--require-label <label>',
      'only a worker carrying this label may run its runs (repeatable)',
      collect,
      [],
    )
    .option('--worker <name>', 'only the worker of this name may run its runs')
    .option('--priority <n>', 'its runs are claimed before runs of lower priority (-1000 to 1000)');
}

function withTimingOptions(command: Command): Command {
  return command
    .option('--at <time>', 'once, at this ISO-8601 time with Z or an offset')
    .option('--every <duration>', 'every 15m, 1h, 1d… (at least 60 s); first one interval from now')
    .option('--start <time>', 'with --every: the first slot (ISO-8601)')
    .option('--cron <pattern>', 'five-field cron pattern, e.g. "0 9 * * 1-5"')
    .option(
      '--timezone <zone>',
      "with --cron: the IANA time zone it is read in (default UTC; update keeps the schedule's)",
    )
    .option('--misfire <policy>', 'after downtime: run_once (the latest missed slot) or skip');
}

/**
 * `upcoming`: the next fire as the schedule's preview has it (`show`), which knows what a
 * resume or the misfire policy does to a slot that passed; otherwise the stored next fire,
 * fresh after a create or an update.
 */
function printSchedule(io: CliIo, schedule: ScheduleShown, upcoming?: string | null): void {
  println(io.stdout, `schedule  ${schedule.name} (${schedule.id})`);
  println(io.stdout, `when      ${describeTiming(schedule.timing)}`);
  println(io.stdout, `state     ${schedule.state}    misfire ${schedule.misfire}`);
  const next = upcoming === undefined ? schedule.nextFireAt : upcoming;
  const zone = schedule.timing.kind === 'cron' ? String(schedule.timing.timezone) : null;
  const paused =
    schedule.state !== 'paused'
      ? ''
      : upcoming === undefined
        ? ' (paused)'
        : next === null
          ? ' (paused: a resume now finishes it)'
          : ' (paused: the first fire a resume now gives)';
  println(
    io.stdout,
    `next      ${next === null ? '-' : `${next}${zone ? `  (${localTime(next, zone)})` : ''}`}${paused}`,
  );
  const job = (schedule.job ?? {}) as Record<string, unknown>;
  println(
    io.stdout,
    `job       ${String(job.agent ?? '?')} on ${String(job.repo ?? '?')}: ${firstLine(String(job.task ?? ''), 80)}`,
  );
  println(
    io.stdout,
    `job by    ${schedule.jobSetBy ?? schedule.createdBy} (runs are requested by them)`,
  );
  println(io.stdout, `created   ${schedule.createdAt} by ${schedule.createdBy}`);
}

export function registerSchedulesCommand(
  program: Command,
  io: CliIo,
  setExit: (code: ExitCode) => void,
): void {
  const schedules = program
    .command('schedules')
    .description('run jobs once, every interval or on a cron: create, change, pause, trigger')
    .addHelpText(
      'after',
      `
A schedule stores a job (as \`aas run\` takes it) and submits it at each slot; the runs are
requested by whoever last set the job (its creator until someone changes it). Servers sharing a database fire each slot exactly once.
Without --server these work on this host's database, and a running \`aas start\` on it fires
them. With --server URL (or AAS_SERVER) and a token (AAS_TOKEN or --token) they go through
that server's API.

Examples:
  aas schedules create --name nightly --cron "0 2 * * *" --timezone Europe/Berlin \\
      --repo /srv/app --task "update dependencies" --agent my-agent
  aas schedules create --name triage --every 15m --job triage.yaml --misfire skip
  aas schedules preview nightly --count 3
  aas schedules trigger nightly`,
    );

  /** Reports a failure as every command does; commander's last action argument is the command. */
  const guarded =
    <A extends unknown[]>(body: (...args: A) => Promise<void>) =>
    async (...args: A) => {
      try {
        await body(...args);
      } catch (thrown) {
        const command = args.at(-1);
        const json = command instanceof Command && command.opts<{ json?: boolean }>().json === true;
        setExit(
          reportError(
            io,
            inFlagTerms(thrown, command instanceof Command ? command.name() : undefined),
            json,
          ),
        );
      }
    };

  schedules
    .command('list')
    .description('list schedules by name, with their next fire')
    .option('--json', 'machine-readable output')
    .action(
      guarded(async (flags: { json?: boolean }, command: Command) => {
        const backend = backendFor(io, command.optsWithGlobals<GlobalOptions>());
        const rows = await backend.list();
        if (flags.json) {
          println(io.stdout, JSON.stringify(rows));
          return;
        }
        if (rows.length === 0) {
          println(io.stdout, 'no schedules yet: create one with `aas schedules create`');
          return;
        }
        println(
          io.stdout,
          table([
            ['NAME', 'STATE', 'NEXT FIRE', 'MISFIRE', 'ID', 'WHEN'],
            ...rows.map((s) => [
              s.name,
              s.state,
              // A paused schedule's stored slot is not when it fires: resuming picks anew.
              s.state === 'paused' ? '(paused)' : (s.nextFireAt ?? '-'),
              s.misfire,
              s.id,
              describeTiming(s.timing),
            ]),
          ]),
        );
      }),
    );

  schedules
    .command('show')
    .description('one schedule: its timing, state, job and latest fires')
    .argument('<schedule>', 'schedule id or name')
    .option('--json', 'machine-readable output')
    .action(
      guarded(async (id: string, flags: { json?: boolean }, command: Command) => {
        const backend = backendFor(io, command.optsWithGlobals<GlobalOptions>());
        const { schedule, fires } = await backend.get(id);
        if (flags.json) {
          println(io.stdout, JSON.stringify({ schedule, fires }));
          return;
        }
        // A slot that passed while paused or while no scheduler ran is not what fires next.
        const upcoming =
          schedule.state === 'active' || schedule.state === 'paused'
            ? ((await backend.preview(schedule.id, 1)).times[0] ?? null)
            : undefined;
        printSchedule(io, schedule, upcoming);
        if (fires.length === 0) {
          println(io.stdout, 'fires     none yet');
          return;
        }
        println(io.stdout, 'fires');
        println(
          io.stdout,
          table([
            ['  SLOT', 'TRIGGER', 'OUTCOME', 'MISSED', 'SESSION', 'BY'],
            ...fires.map((f) => [
              `  ${f.slotAt}`,
              f.trigger,
              f.outcome,
              String(f.missedSlots),
              f.sessionId ?? '-',
              f.recordedBy,
            ]),
          ]),
        );
      }),
    );

  type CreateFlags = JobFlags &
    TimingFlags & { name: string; misfire?: string; paused?: boolean; json?: boolean };
  withJobOptions(
    withTimingOptions(
      schedules
        .command('create')
        .description('create a schedule from a job and a timing (--at, --every or --cron)')
        .requiredOption('--name <name>', 'unique name (1-64 of A-Z a-z 0-9 . _ -)'),
    ),
  )
    .option('--paused', 'create it paused (`aas schedules resume` starts it)')
    .option('--json', 'machine-readable output')
    .action(
      guarded(async (flags: CreateFlags, command: Command) => {
        const timing = timingFrom(flags);
        if (timing === undefined) {
          throw new AasError('INVALID_ARGUMENT', 'say when: --at, --every or --cron', {
            field: '--at / --every / --cron',
            hint: 'e.g. --cron "0 9 * * 1-5" --timezone Europe/Berlin, or --every 1h',
          });
        }
        const job = await buildJob(io, flags);
        const backend = backendFor(io, command.optsWithGlobals<GlobalOptions>());
        const created = await backend.create({
          name: flags.name,
          timing,
          ...(flags.misfire === undefined ? {} : { misfire: flags.misfire }),
          ...(flags.paused ? { paused: true } : {}),
          job,
        });
        if (flags.json) println(io.stdout, JSON.stringify(created));
        else {
          printSubmitWarnings(io, created.warnings ?? []);
          println(io.stdout, `created schedule ${created.name} (${created.id})`);
          printSchedule(io, created);
          if (backend.where === 'local') {
            println(io.stdout, 'note      it fires while `aas start` runs on this database');
          }
        }
      }),
    );

  type UpdateFlags = JobFlags & TimingFlags & { rename?: string; misfire?: string; json?: boolean };
  withJobOptions(
    withTimingOptions(
      schedules
        .command('update')
        .description("change a schedule's name, timing, misfire policy or job")
        .argument('<schedule>', 'schedule id or name')
        .option('--rename <name>', 'a new name'),
    ),
  )
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      '\nJob flags change those fields of the current job (--job FILE replaces it). A new timing\nstarts from now.',
    )
    .action(
      guarded(async (id: string, flags: UpdateFlags, command: Command) => {
        const backend = backendFor(io, command.optsWithGlobals<GlobalOptions>());
        let readVersion: number | undefined;
        const otherKind = flags.at !== undefined;
        const onlyZone =
          flags.timezone !== undefined && flags.cron === undefined && flags.every === undefined;
        const onlyStart =
          flags.start !== undefined && flags.every === undefined && flags.cron === undefined;
        // A new pattern is read in the zone the schedule has, unless another is given.
        const onlyPattern = flags.cron !== undefined && flags.timezone === undefined;
        if (onlyPattern && !otherKind && flags.every === undefined) {
          const { schedule } = await backend.get(id);
          const current = schedule.timing as Record<string, unknown>;
          if (current.kind === 'cron' && typeof current.timezone === 'string') {
            flags.timezone = current.timezone;
            if (schedule.jobSetBy !== undefined) readVersion = schedule.version;
          }
        }
        if ((onlyZone || onlyStart) && !otherKind) {
          // The rest of the timing is the schedule's own, as read: a change made since wins.
          const { schedule } = await backend.get(id);
          const current = schedule.timing as Record<string, unknown>;
          const wanted = onlyZone ? 'cron' : 'interval';
          if (current.kind !== wanted || (onlyZone && onlyStart)) {
            throw new AasError(
              'INVALID_ARGUMENT',
              `--${onlyZone ? 'timezone' : 'start'} alone changes ${onlyZone ? 'a cron' : 'an interval'} schedule; ${schedule.name}'s timing is ${String(current.kind)}`,
              {
                field: onlyZone ? '--timezone' : '--start',
                hint: 'give the whole timing: --at, --every or --cron',
              },
            );
          }
          if (onlyZone && typeof current.cron === 'string') flags.cron = current.cron;
          if (onlyStart && typeof current.everySec === 'number')
            flags.every = `${current.everySec}s`;
          if (schedule.jobSetBy !== undefined) readVersion = schedule.version;
        }
        const timing = timingFrom(flags);
        let job: unknown;
        if (givesJob(flags)) {
          const { schedule } = await backend.get(id);
          const current = schedule.job;
          const base =
            typeof current === 'object' && current !== null
              ? (current as Record<string, unknown>)
              : {};
          job = await buildJob(io, flags, base);
          // The job flags change the job as read: a change made since is not overwritten. A
          // server that does not name the job's author predates expectedVersion (and refuses it).
          if (!flags.job && schedule.jobSetBy !== undefined) readVersion ??= schedule.version;
        }
        const body = {
          ...(flags.rename === undefined ? {} : { name: flags.rename }),
          ...(timing === undefined ? {} : { timing }),
          ...(flags.misfire === undefined ? {} : { misfire: flags.misfire }),
          ...(job === undefined ? {} : { job }),
        };
        if (Object.keys(body).length === 0) {
          throw new AasError('INVALID_ARGUMENT', 'nothing to change', {
            hint: 'give --rename, a timing (--at, --every, --cron), --misfire or job flags',
          });
        }
        const updated = await backend.update(id, {
          ...body,
          ...(readVersion === undefined ? {} : { expectedVersion: readVersion }),
        });
        if (flags.json) println(io.stdout, JSON.stringify(updated));
        else {
          printSubmitWarnings(io, updated.warnings ?? []);
          println(io.stdout, `updated schedule ${updated.name} (version ${updated.version})`);
          printSchedule(io, updated);
        }
      }),
    );

  const simple: readonly {
    readonly name: 'delete' | 'pause' | 'resume';
    readonly description: string;
    readonly done: string;
  }[] = [
    {
      name: 'delete',
      description: 'delete a schedule (the sessions it created stay)',
      done: 'deleted',
    },
    {
      name: 'pause',
      description: 'pause a schedule: it fires nothing until resumed',
      done: 'paused',
    },
    {
      name: 'resume',
      description: 'resume a schedule from its next slot after now (paused slots are not missed)',
      done: 'resumed',
    },
  ];
  for (const action of simple) {
    schedules
      .command(action.name)
      .description(action.description)
      .argument('<schedule>', 'schedule id or name')
      .option('--json', 'machine-readable output')
      .action(
        guarded(async (id: string, flags: { json?: boolean }, command: Command) => {
          const backend = backendFor(io, command.optsWithGlobals<GlobalOptions>());
          const schedule =
            action.name === 'delete'
              ? await backend.remove(id)
              : action.name === 'pause'
                ? await backend.pause(id)
                : await backend.resume(id);
          if (flags.json) {
            println(io.stdout, JSON.stringify(schedule));
            return;
          }
          println(
            io.stdout,
            `${action.done} schedule ${schedule.name}${action.name === 'delete' ? '' : `; next fire ${schedule.state === 'paused' ? '(paused)' : (schedule.nextFireAt ?? '-')}`}`,
          );
          if (action.name === 'resume' && schedule.state === 'finished') {
            println(
              io.stdout,
              'note      no slot is left (a once that fired, or whose time passed while paused): the schedule is finished; `aas schedules trigger` runs it now, `update --at` gives it a new time',
            );
          }
        }),
      );
  }

  schedules
    .command('trigger')
    .description('fire a schedule now (its next slot stays as it is)')
    .argument('<schedule>', 'schedule id or name')
    .option('--json', 'machine-readable output')
    .action(
      guarded(async (id: string, flags: { json?: boolean }, command: Command) => {
        const globals = command.optsWithGlobals<GlobalOptions>();
        const backend = backendFor(io, globals);
        const fired = await backend.trigger(id);
        if (flags.json) {
          println(io.stdout, JSON.stringify(fired));
          return;
        }
        println(io.stdout, `fired     session ${fired.sessionId}, run ${fired.runId} (queued)`);
        println(
          io.stdout,
          `details   aas sessions show ${fired.sessionId}${backend.where === 'local' ? '' : ` --server ${backend.where}`}`,
        );
      }),
    );

  schedules
    .command('preview')
    .description("a schedule's next fire times")
    .argument('<schedule>', 'schedule id or name')
    .option('--count <n>', 'how many (1-100)', '5')
    .option('--json', 'machine-readable output')
    .action(
      guarded(async (id: string, flags: { count: string; json?: boolean }, command: Command) => {
        const count = /^\d{1,3}$/.test(flags.count) ? Number(flags.count) : Number.NaN;
        if (!Number.isInteger(count) || count < 1 || count > 100) {
          throw new AasError('INVALID_ARGUMENT', '--count must be 1..100', { field: '--count' });
        }
        const backend = backendFor(io, command.optsWithGlobals<GlobalOptions>());
        const { times } = await backend.preview(id, count);
        if (flags.json) {
          println(io.stdout, JSON.stringify(times));
          return;
        }
        const { schedule } = await backend.get(id);
        if (times.length === 0) {
          println(
            io.stdout,
            schedule.state === 'paused'
              ? 'no fire ahead: no slot is left after now, so resuming would finish the schedule'
              : 'no fire ahead: the schedule is finished',
          );
          return;
        }
        if (schedule.state === 'paused') {
          println(
            io.stdout,
            `paused: nothing fires until \`aas schedules resume ${schedule.name}\`; its slots would be:`,
          );
        }
        const zone = schedule.timing.kind === 'cron' ? String(schedule.timing.timezone) : null;
        for (const time of times) {
          println(io.stdout, zone ? `${time}  ${localTime(time, zone)}` : time);
        }
      }),
    );
}
