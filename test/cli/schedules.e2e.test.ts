import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/app/index.js';
import { parseConfig } from '../../src/config/index.js';
import { ManualClock } from '../../src/kernel/index.js';
import { jsonOf, runCli } from '../helpers/run-cli.js';
import { waitFor } from '../helpers/server-process.js';
import { createTempRepo, makeTempDir, removeDir } from '../helpers/temp-repo.js';

/**
 * `aas schedules …` from the built binary: against a real server (whose scheduler loop runs on
 * an injected clock, so a slot comes when the test moves the clock) and on a local database.
 * The server has no workers: fired runs stay queued, which is all a schedule promises.
 */

const TOKEN = `aas_${'sched0123456789abcdefghijklmnopqrstuvwxyz'}`;
const T0 = Date.parse('2026-06-01T06:30:00.000Z');

const cleanup: string[] = [];
let server: RunningServer;
let clock: ManualClock;
let clientHome: string;
let repo: string;

beforeAll(async () => {
  const serverHome = makeTempDir('aas-sched-server-');
  clientHome = makeTempDir('aas-sched-client-');
  repo = createTempRepo({ 'README.md': '# demo\n' });
  cleanup.push(serverHome, clientHome, repo);
  clock = new ManualClock(T0);
  const config = parseConfig({
    env: {
      AAS_HOME: serverHome,
      AAS_BOOTSTRAP_TOKEN: TOKEN,
      AAS_LOG_LEVEL: 'error',
      AAS_SCHEDULER_TICK_MS: '50',
    },
    cwd: serverHome,
    overrides: { port: 0, workers: 0 },
  });
  server = await startServer(config, { hostEnv: process.env, nodePath: process.execPath, clock });
});

afterAll(async () => {
  await server?.close();
  for (const dir of cleanup) removeDir(dir);
});

function client(args: readonly string[]) {
  return runCli(['--server', server.url, ...args], {
    home: clientHome,
    env: { AAS_TOKEN: TOKEN },
  });
}

interface ScheduleJson {
  id: string;
  name: string;
  state: string;
  nextFireAt: string | null;
  version: number;
  createdBy: string;
  timing: Record<string, unknown>;
  job: Record<string, unknown>;
}

const JOB = () => ['--repo', repo, '--task', 'tidy up', '--agent', 'mock'];

describe('aas schedules --server', () => {
  it('the server fires a slot when its clock reaches it, once', async () => {
    const created = await client([
      'schedules',
      'create',
      '--name',
      'every-minute',
      '--every',
      '1m',
      ...JOB(),
      '--json',
    ]);
    expect(created.code, created.stderr).toBe(0);
    const schedule = jsonOf<ScheduleJson>(created);
    expect(schedule).toMatchObject({
      name: 'every-minute',
      state: 'active',
      timing: { kind: 'interval', everySec: 60 },
      nextFireAt: new Date(T0 + 60_000).toISOString(),
      createdBy: 'admin',
    });
    clock.advance(60_000);
    const fires = await waitFor('the slot to fire', async () => {
      const shown = jsonOf<{ fires: { sessionId: string; trigger: string }[] }>(
        await client(['schedules', 'show', 'every-minute', '--json']),
      );
      return shown.fires.length > 0 ? shown.fires : undefined;
    });
    expect(fires).toEqual([expect.objectContaining({ trigger: 'schedule', outcome: 'fired' })]);
    const events = await client(['sessions', 'events', fires[0]?.sessionId ?? '', '--json']);
    const types = events.stdout
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { type: string }).type);
    expect(types).toEqual(['session.created', 'run.queued', 'schedule.fired']);
    // Paused, the next slot does not fire.
    expect((await client(['schedules', 'pause', 'every-minute'])).code).toBe(0);
    const deleted = await client(['schedules', 'delete', 'every-minute']);
    expect(deleted.stdout).toContain('deleted schedule every-minute');
  });

  it('create, list, show, preview, update, pause, resume, trigger, delete', async () => {
    const created = await client([
      'schedules',
      'create',
      '--name',
      'weekday-nine',
      '--cron',
      '0 9 * * 1-5',
      '--timezone',
      'Europe/Berlin',
      '--misfire',
      'skip',
      ...JOB(),
    ]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain('created schedule weekday-nine');
    // Monday 2026-06-01, 08:30 in Berlin (UTC+2): 09:00 local is 07:00Z the same day.
    expect(created.stdout).toContain(
      '2026-06-01T07:00:00.000Z  (Mon 2026-06-01 09:00 Europe/Berlin)',
    );

    // Runs no worker known to the server could claim: said when the schedule is made.
    const pinned = await client([
      'schedules',
      'create',
      '--name',
      'gpu-nightly',
      '--every',
      '1d',
      '--require-label',
      'gpu',
      '--priority',
      '5',
      ...JOB(),
    ]);
    expect(pinned.code, pinned.stderr).toBe(0);
    expect(pinned.stderr).toContain('warning: requireLabels: no worker known to this server');
    const pinnedJson = await client(['schedules', 'show', 'gpu-nightly', '--json']);
    expect(JSON.parse(pinnedJson.stdout).schedule.job).toMatchObject({
      requireLabels: ['gpu'],
      priority: 5,
    });
    expect((await client(['schedules', 'delete', 'gpu-nightly'])).code).toBe(0);

    const list = await client(['schedules', 'list']);
    expect(list.stdout).toMatch(/weekday-nine\s+active/);

    const preview = await client(['schedules', 'preview', 'weekday-nine', '--count', '2']);
    expect(preview.stdout.trim().split('\n')).toEqual([
      '2026-06-01T07:00:00.000Z  Mon 2026-06-01 09:00 Europe/Berlin',
      '2026-06-02T07:00:00.000Z  Tue 2026-06-02 09:00 Europe/Berlin',
    ]);

    const updated = jsonOf<ScheduleJson>(
      await client([
        'schedules',
        'update',
        'weekday-nine',
        '--task',
        'tidy more',
        '--rename',
        'nine',
        '--json',
      ]),
    );
    expect(updated).toMatchObject({ name: 'nine', version: 2, job: { task: 'tidy more', repo } });
    // --policy sets the stored job's policy, and replaces it on the next update.
    for (const [version, timeoutSec] of [
      [3, 300],
      [4, 120],
    ] as const) {
      const policy = join(clientHome, `policy-${timeoutSec}.yaml`);
      writeFileSync(policy, `limits:\n  timeoutSec: ${timeoutSec}\n`);
      const withPolicy = await client([
        'schedules',
        'update',
        'nine',
        '--policy',
        policy,
        '--json',
      ]);
      expect(withPolicy.code, withPolicy.stderr).toBe(0);
      expect(jsonOf<ScheduleJson>(withPolicy)).toMatchObject({
        version,
        job: { task: 'tidy more', policy: { limits: { timeoutSec } } },
      });
    }

    const paused = await client(['schedules', 'pause', 'nine']);
    expect(paused.stdout).toContain('paused schedule nine; next fire (paused)');
    const pausedPreview = await client(['schedules', 'preview', 'nine', '--count', '1']);
    expect(pausedPreview.stdout.trim().split('\n')).toEqual([
      'paused: nothing fires until `aas schedules resume nine`; its slots would be:',
      '2026-06-01T07:00:00.000Z  Mon 2026-06-01 09:00 Europe/Berlin',
    ]);
    const resumed = await client(['schedules', 'resume', 'nine']);
    expect(resumed.stdout).toContain('resumed schedule nine; next fire 2026-06-01T07:00:00.000Z');

    const fired = await client(['schedules', 'trigger', 'nine', '--json']);
    expect(fired.code, fired.stderr).toBe(0);
    const { sessionId } = jsonOf<{ sessionId: string }>(fired);
    const session = await client(['sessions', 'show', sessionId, '--json']);
    expect(jsonOf<{ session: { requestedBy: string } }>(session).session.requestedBy).toBe('admin');
    const shown = await client(['schedules', 'show', 'nine']);
    expect(shown.stdout).toMatch(/manual\s+fired\s+0\s+ses_/);

    const deleted = await client(['schedules', 'delete', 'nine', '--json']);
    expect(jsonOf<ScheduleJson>(deleted).name).toBe('nine');
    const gone = await client(['schedules', 'show', 'nine']);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toContain('[NOT_FOUND]');
  });

  it('bad input is exit 2 naming the flag', async () => {
    const cases: [readonly string[], string][] = [
      [['--every', '5s'], '--every'],
      [['--every', 'soon'], '--every'],
      [['--cron', '0 9 * * 1-5', '--timezone', 'Mars/Olympus'], '--timezone'],
      [['--cron', '0 25 * * *'], '--cron'],
      [['--at', '2020-01-01T00:00:00Z'], '--at'],
      [['--at', '2030-01-01T00:00:00Z', '--every', '1h'], '--every'],
      [['--start', '2030-01-01T00:00:00Z'], '--start'],
      [[], '--at / --every / --cron'],
    ];
    for (const [flags, field] of cases) {
      const result = await client([
        'schedules',
        'create',
        '--name',
        'bad',
        ...flags,
        ...JOB(),
        '--json',
      ]);
      expect(result.code, flags.join(' ')).toBe(2);
      const body = jsonOf<{ ok: boolean; error: { code: string; details: { field?: string } } }>(
        result,
      );
      expect(body.error.details.field, flags.join(' ')).toBe(field);
      // A flag's value, whether this command or the server refused it.
      expect(body.error.code, flags.join(' ')).toBe('INVALID_ARGUMENT');
    }
    const unknownAgent = await client([
      'schedules',
      'create',
      '--name',
      'bad',
      '--every',
      '1h',
      '--repo',
      repo,
      '--task',
      't',
      '--agent',
      'nosuch',
    ]);
    expect(unknownAgent.code).toBe(2);
    expect(unknownAgent.stderr).toContain('job.agent');
    // A name in use is the caller's to change: exit 2, naming --name's field.
    const first = await client([
      'schedules',
      'create',
      '--name',
      'twice',
      '--every',
      '1h',
      ...JOB(),
    ]);
    expect(first.code).toBe(0);
    const again = await client([
      'schedules',
      'create',
      '--name',
      'twice',
      '--every',
      '1h',
      ...JOB(),
    ]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/NAME_TAKEN.*a schedule named "twice" already exists/);
  });
});

describe('aas schedules on a local database', () => {
  it('works without a server, and every subcommand has help', async () => {
    const home = makeTempDir('aas-sched-local-');
    cleanup.push(home);
    const created = await runCli(
      ['schedules', 'create', '--name', 'local', '--every', '2h', ...JOB()],
      {
        home,
      },
    );
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain('it fires while `aas start` runs on this database');
    const fired = await runCli(['schedules', 'trigger', 'local', '--json'], { home });
    expect(fired.code, fired.stderr).toBe(0);
    const list = jsonOf<ScheduleJson[]>(await runCli(['schedules', 'list', '--json'], { home }));
    expect(list.map((s) => s.name)).toEqual(['local']);

    // A zone alone moves a cron schedule to it, keeping its pattern; an interval has no zone.
    const cron = await runCli(
      ['schedules', 'create', '--name', 'zoned', '--cron', '30 9 * * 1-5', ...JOB()],
      { home },
    );
    expect(cron.code, cron.stderr).toBe(0);
    const timingAfter = async (flags: readonly string[]) => {
      const updated = await runCli(['schedules', 'update', 'zoned', ...flags, '--json'], { home });
      expect(updated.code, updated.stderr).toBe(0);
      return jsonOf<{ timing: unknown }>(updated).timing;
    };
    expect(await timingAfter(['--timezone', 'Asia/Kolkata'])).toEqual({
      kind: 'cron',
      cron: '30 9 * * 1-5',
      timezone: 'Asia/Kolkata',
    });
    // A pattern alone keeps the zone.
    expect(await timingAfter(['--cron', '0 10 * * *'])).toEqual({
      kind: 'cron',
      cron: '0 10 * * *',
      timezone: 'Asia/Kolkata',
    });
    const mixed = await runCli(
      ['schedules', 'update', 'zoned', '--every', '1h', '--timezone', 'UTC'],
      { home },
    );
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toContain(
      'error [INVALID_ARGUMENT]: --timezone: --timezone goes with --cron',
    );
    const noZone = await runCli(['schedules', 'update', 'local', '--timezone', 'UTC'], { home });
    expect(noZone.code).toBe(2);
    expect(noZone.stderr).toMatch(
      /--timezone alone changes a cron schedule; local's timing is interval/,
    );
    expect((await runCli(['schedules', 'delete', 'zoned'], { home })).code).toBe(0);

    // A once whose time passes while it is paused: preview and resume say what happens.
    // Soon, but after the command has started: a loaded machine may take longer to start one
    // than a short margin, so a refused "has passed" is asked again with a longer one.
    let soon = '';
    let once: Awaited<ReturnType<typeof runCli>> = { code: -1, stdout: '', stderr: '' };
    for (const marginMs of [1_500, 5_000, 20_000]) {
      soon = new Date(Date.now() + marginMs).toISOString();
      once = await runCli(['schedules', 'create', '--name', 'soon', '--at', soon, ...JOB()], {
        home,
      });
      if (!once.stderr.includes('has passed')) break;
    }
    expect(once.code, once.stderr).toBe(0);
    expect((await runCli(['schedules', 'pause', 'soon'], { home })).code).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, Date.parse(soon) - Date.now() + 100));
    const preview = await runCli(['schedules', 'preview', 'soon'], { home });
    expect(preview.stdout).toContain('resuming would finish the schedule');
    // `show` no longer offers the slot that passed as the next fire.
    const shownPaused = await runCli(['schedules', 'show', 'soon'], { home });
    expect(shownPaused.stdout).toContain('next      - (paused: a resume now finishes it)');
    const resumed = await runCli(['schedules', 'resume', 'soon'], { home });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain(
      'the schedule is finished; `aas schedules trigger` runs it now',
    );
    // Finished, it has nothing to pause.
    const pauseFinished = await runCli(['schedules', 'pause', 'soon'], { home });
    expect(pauseFinished.code).toBe(2);
    expect(pauseFinished.stderr).toMatch(
      /^error \[INVALID_ARGUMENT\]: id: schedule soon is finished/,
    );
    for (const sub of [
      [],
      ['list'],
      ['show'],
      ['create'],
      ['update'],
      ['delete'],
      ['pause'],
      ['resume'],
      ['trigger'],
      ['preview'],
    ]) {
      const help = await runCli(['schedules', ...sub, '--help'], { home });
      expect(help.code, sub.join(' ')).toBe(0);
      expect(help.stdout, sub.join(' ')).toMatch(/^Usage: aas schedules/);
    }
  });
});
