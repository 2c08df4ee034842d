import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  collectRunDirs,
  markRunDirsLeft,
  type RunDirRoots,
  removeRunDirs,
} from './collect-run-dirs.js';

const HOUR_MS = 3_600_000;
/** The injected "now" every age below is counted from. */
const NOW_MS = Date.parse('2030-01-10T12:00:00Z');

const homes: string[] = [];
afterEach(() => {
  for (const home of homes.splice(0)) rmSync(home, { recursive: true, force: true });
});

function newRoots(): RunDirRoots {
  const home = mkdtempSync(join(tmpdir(), 'aas-run-dirs-'));
  homes.push(home);
  const roots = { runsDir: join(home, 'runs'), artifactsDir: join(home, 'artifacts') };
  mkdirSync(roots.runsDir);
  mkdirSync(roots.artifactsDir);
  return roots;
}

function runId(n: number): string {
  return `run_${n.toString(16).padStart(24, '0')}`;
}

/** A run's directories as an execution leaves them, last written `ageMs` before NOW_MS. */
function leaveRun(roots: RunDirRoots, id: string, ageMs: number): void {
  const attempt = join(roots.runsDir, id, 'attempt-1');
  mkdirSync(attempt, { recursive: true });
  writeFileSync(join(attempt, 'stdout.log'), 'output\n');
  mkdirSync(join(roots.artifactsDir, id));
  writeFileSync(join(roots.artifactsDir, id, `${'a'.repeat(64)}.patch`), 'diff\n');
  const at = new Date(NOW_MS - ageMs);
  for (const path of [
    join(attempt, 'stdout.log'),
    attempt,
    join(roots.runsDir, id),
    join(roots.artifactsDir, id, `${'a'.repeat(64)}.patch`),
    join(roots.artifactsDir, id),
  ])
    utimesSync(path, at, at);
}

describe('removeRunDirs', () => {
  it("deletes the run's directory under both roots and nothing of another run", async () => {
    const roots = newRoots();
    leaveRun(roots, runId(1), 0);
    leaveRun(roots, runId(2), 0);
    expect(await removeRunDirs(roots, runId(1))).toBe(true);
    expect(readdirSync(roots.runsDir)).toEqual([runId(2)]);
    expect(readdirSync(roots.artifactsDir)).toEqual([runId(2)]);
  });

  it('is done when there is nothing (a run that never got as far as writing)', async () => {
    const roots = newRoots();
    expect(await removeRunDirs(roots, runId(3))).toBe(true);
    expect(
      await removeRunDirs({ runsDir: '/nonexistent', artifactsDir: '/nonexistent' }, runId(3)),
    ).toBe(true);
  });

  it('refuses what is not a run id, so no name leads outside the roots', async () => {
    const roots = newRoots();
    mkdirSync(join(roots.runsDir, 'keep'));
    expect(await removeRunDirs(roots, '../runs')).toBe(false);
    expect(await removeRunDirs(roots, 'keep')).toBe(false);
    expect(existsSync(join(roots.runsDir, 'keep'))).toBe(true);
  });

  it('unlinks a symlink named like the run, never what it points at', async () => {
    const roots = newRoots();
    const outside = join(roots.runsDir, '..', 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'precious'), 'x');
    symlinkSync(outside, join(roots.runsDir, runId(4)));
    await removeRunDirs(roots, runId(4));
    expect(existsSync(join(outside, 'precious'))).toBe(true);
  });
});

describe('markRunDirsLeft', () => {
  it('stamps both directories with the given time, which collectRunDirs then counts from', async () => {
    const roots = newRoots();
    leaveRun(roots, runId(5), 30 * HOUR_MS);
    await markRunDirsLeft(roots, runId(5), NOW_MS - HOUR_MS);
    expect(statSync(join(roots.runsDir, runId(5))).mtimeMs).toBe(NOW_MS - HOUR_MS);
    expect(statSync(join(roots.artifactsDir, runId(5))).mtimeMs).toBe(NOW_MS - HOUR_MS);
    const collected = await collectRunDirs(roots, {
      isHeld: () => false,
      olderThanMs: 24 * HOUR_MS,
      nowMs: NOW_MS,
    });
    expect(collected.kept).toEqual([runId(5)]);
  });
});

describe('collectRunDirs', () => {
  it('deletes runs left longer ago than the limit and keeps younger ones', async () => {
    const roots = newRoots();
    leaveRun(roots, runId(1), 25 * HOUR_MS);
    leaveRun(roots, runId(2), 23 * HOUR_MS);
    const collected = await collectRunDirs(roots, {
      isHeld: () => false,
      olderThanMs: 24 * HOUR_MS,
      nowMs: NOW_MS,
    });
    expect(collected).toEqual({ removed: [runId(1)], kept: [runId(2)], failed: [] });
    expect(readdirSync(roots.runsDir)).toEqual([runId(2)]);
    expect(readdirSync(roots.artifactsDir)).toEqual([runId(2)]);
  });

  it('never touches a run that is held, however old its directories', async () => {
    const roots = newRoots();
    leaveRun(roots, runId(1), 100 * HOUR_MS);
    leaveRun(roots, runId(2), 100 * HOUR_MS);
    const collected = await collectRunDirs(roots, {
      isHeld: (id) => id === runId(2),
      olderThanMs: 0,
      nowMs: NOW_MS,
    });
    expect(collected.removed).toEqual([runId(1)]);
    expect(collected.kept).toEqual([runId(2)]);
    expect(existsSync(join(roots.runsDir, runId(2), 'attempt-1', 'stdout.log'))).toBe(true);
    expect(existsSync(join(roots.artifactsDir, runId(2)))).toBe(true);
  });

  it('asks whether a run is held right before removing it, not once for the whole pass', async () => {
    const roots = newRoots();
    leaveRun(roots, runId(1), 100 * HOUR_MS);
    leaveRun(roots, runId(2), 100 * HOUR_MS);
    const held = new Set<string>();
    const collected = await collectRunDirs(roots, {
      // Claimed while the pass was busy with the run before it.
      isHeld: (id) => {
        if (id === runId(1)) held.add(runId(2));
        return held.has(id);
      },
      olderThanMs: 0,
      nowMs: NOW_MS,
    });
    expect(collected.removed).toEqual([runId(1)]);
    expect(existsSync(join(roots.runsDir, runId(2)))).toBe(true);
  });

  it('goes by the newer of the two directories of a run', async () => {
    const roots = newRoots();
    leaveRun(roots, runId(1), 100 * HOUR_MS);
    const recent = new Date(NOW_MS - HOUR_MS);
    utimesSync(join(roots.artifactsDir, runId(1)), recent, recent);
    const collected = await collectRunDirs(roots, {
      isHeld: () => false,
      olderThanMs: 24 * HOUR_MS,
      nowMs: NOW_MS,
    });
    expect(collected.kept).toEqual([runId(1)]);
  });

  it('counts a log its attempt was still writing, which leaves the directories above it as they were', async () => {
    const roots = newRoots();
    // A long run of a worker killed an hour ago: its directories were made days before.
    leaveRun(roots, runId(1), 100 * HOUR_MS);
    const recent = new Date(NOW_MS - HOUR_MS);
    utimesSync(join(roots.runsDir, runId(1), 'attempt-1', 'stdout.log'), recent, recent);
    const collected = await collectRunDirs(roots, {
      isHeld: () => false,
      olderThanMs: 24 * HOUR_MS,
      nowMs: NOW_MS,
    });
    expect(collected.kept).toEqual([runId(1)]);
  });

  it("goes by what the host writes, not the sandbox's directories, and a time to come as now", async () => {
    const roots = newRoots();
    leaveRun(roots, runId(1), 100 * HOUR_MS);
    // The agent writes into aep/ and its workspace, and sets their times as it likes.
    const aep = join(roots.runsDir, runId(1), 'attempt-1', 'aep');
    mkdirSync(aep);
    // Touched an hour before the pass, as an agent may: the host wrote nothing since.
    const lately = new Date(NOW_MS + 24 * HOUR_MS);
    utimesSync(aep, lately, lately);
    const future = new Date(NOW_MS + 1000 * 24 * HOUR_MS);
    utimesSync(
      join(roots.runsDir, runId(1), 'attempt-1'),
      new Date(NOW_MS - 100 * HOUR_MS),
      new Date(NOW_MS - 100 * HOUR_MS),
    );
    leaveRun(roots, runId(2), 100 * HOUR_MS);
    utimesSync(join(roots.runsDir, runId(2), 'attempt-1', 'stdout.log'), future, future);
    const collected = await collectRunDirs(roots, {
      isHeld: () => false,
      olderThanMs: 24 * HOUR_MS,
      nowMs: NOW_MS + 25 * HOUR_MS,
    });
    // Run 2's log was written at a time to come (a clock stepped back since): as if just now,
    // kept rather than taken for old.
    expect(collected).toMatchObject({ removed: [runId(1)], kept: [runId(2)] });
  });

  it('asks again before each directory: a claim that starts during the removal keeps the rest', async () => {
    const roots = newRoots();
    leaveRun(roots, runId(1), 100 * HOUR_MS);
    let asked = 0;
    // Held from the second question on: after the runs directory went, before the artifacts.
    const whole = await removeRunDirs(roots, runId(1), () => {
      asked += 1;
      return asked > 1;
    });
    expect(whole).toBe(false);
    expect(existsSync(join(roots.artifactsDir, runId(1)))).toBe(true);
  });

  it('finishes removals a killed worker interrupted and drops flat patches of earlier versions once old', async () => {
    const roots = newRoots();
    const interrupted = join(roots.runsDir, `.evict-${runId(1)}-0123456789ab`);
    mkdirSync(join(interrupted, 'attempt-1'), { recursive: true });
    const oldPatch = join(roots.artifactsDir, `${'b'.repeat(64)}.patch`);
    const newPatch = join(roots.artifactsDir, `${'c'.repeat(64)}.patch`);
    writeFileSync(oldPatch, 'diff\n');
    writeFileSync(newPatch, 'diff\n');
    const old = new Date(NOW_MS - 48 * HOUR_MS);
    utimesSync(oldPatch, old, old);
    utimesSync(newPatch, new Date(NOW_MS), new Date(NOW_MS));
    await collectRunDirs(roots, { isHeld: () => false, olderThanMs: 24 * HOUR_MS, nowMs: NOW_MS });
    expect(existsSync(interrupted)).toBe(false);
    expect(existsSync(oldPatch)).toBe(false);
    expect(existsSync(newPatch)).toBe(true);
  });

  it('leaves alone what is not a run: other names, files, symlinks', async () => {
    const roots = newRoots();
    mkdirSync(join(roots.runsDir, 'notes'));
    writeFileSync(join(roots.runsDir, runId(7)), 'a file named like a run');
    const outside = join(roots.runsDir, '..', 'outside');
    mkdirSync(outside);
    symlinkSync(outside, join(roots.runsDir, runId(8)));
    const collected = await collectRunDirs(roots, {
      isHeld: () => false,
      olderThanMs: 0,
      nowMs: NOW_MS + 1_000 * HOUR_MS,
    });
    expect(collected).toEqual({ removed: [], kept: [], failed: [] });
    expect(readdirSync(roots.runsDir).sort()).toEqual(['notes', runId(7), runId(8)].sort());
    expect(existsSync(outside)).toBe(true);
  });

  it('answers nothing for roots that do not exist', async () => {
    const collected = await collectRunDirs(
      { runsDir: '/nonexistent/runs', artifactsDir: '/nonexistent/artifacts' },
      { isHeld: () => false, olderThanMs: 0, nowMs: NOW_MS },
    );
    expect(collected).toEqual({ removed: [], kept: [], failed: [] });
  });
});
