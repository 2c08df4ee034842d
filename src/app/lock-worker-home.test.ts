import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { lockWorkerHome, WORKER_HOME_LOCK_STALE_MS } from './lock-worker-home.js';

const homes: string[] = [];
afterEach(() => {
  for (const home of homes.splice(0)) rmSync(home, { recursive: true, force: true });
});

function newHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'aas-worker-lock-'));
  homes.push(home);
  return home;
}

const ignoreLoss = () => undefined;

describe('lockWorkerHome', () => {
  it('holds the home for one holder until it is released', async () => {
    const home = newHome();
    const first = await lockWorkerHome(home, ignoreLoss);
    const refused = await lockWorkerHome(home, ignoreLoss, { waitMs: 0 }).catch(
      (error: unknown) => error,
    );
    expect(refused).toMatchObject({
      code: 'CONFIG_INVALID',
      message: `another aas worker is running on ${home}`,
      details: { field: '--home' },
    });
    await first.release();
    // Twice is harmless.
    await first.release();
    const second = await lockWorkerHome(home, ignoreLoss);
    await second.release();
  });

  it('takes over the lock of a holder that died without releasing it', async () => {
    const home = newHome();
    const lockDir = join(home, 'worker', 'lock');
    mkdirSync(lockDir, { recursive: true });
    const fresh = await lockWorkerHome(home, ignoreLoss, { waitMs: 0 }).catch(
      (error: unknown) => error,
    );
    expect(fresh).toMatchObject({ code: 'CONFIG_INVALID' });
    // Its holder stopped refreshing it longer ago than the stale time.
    const past = new Date(Date.now() - WORKER_HOME_LOCK_STALE_MS - 5_000);
    utimesSync(lockDir, past, past);
    const taken = await lockWorkerHome(home, ignoreLoss);
    await taken.release();
  });

  it('waits for a lock whose holder died a moment ago, rather than refusing at once', async () => {
    const home = newHome();
    const lockDir = join(home, 'worker', 'lock');
    mkdirSync(lockDir, { recursive: true });
    // Refreshed for the last time a little less than the stale time ago: stale within 2 s.
    const last = new Date(Date.now() - WORKER_HOME_LOCK_STALE_MS + 1_500);
    utimesSync(lockDir, last, last);
    const waits: number[] = [];
    const taken = await lockWorkerHome(home, ignoreLoss, {
      waitMs: 10_000,
      onWait: (waitMs) => waits.push(waitMs),
    });
    expect(waits).toEqual([10_000]);
    await taken.release();
  });

  it('says how long it waited for a holder that kept its lock', async () => {
    const home = newHome();
    const holder = await lockWorkerHome(home, ignoreLoss);
    const refused = await lockWorkerHome(home, ignoreLoss, { waitMs: 1_000 }).catch(
      (error: unknown) => error,
    );
    expect(refused).toMatchObject({
      code: 'CONFIG_INVALID',
      message: `another aas worker is running on ${home}: its lock stayed taken for 1 s`,
    });
    await holder.release();
  });

  it('names the home it cannot use', async () => {
    const home = newHome();
    // A file where the worker's directory should be.
    const blocked = join(home, 'file');
    mkdirSync(blocked);
    writeFileSync(join(blocked, 'worker'), '');
    const refused = await lockWorkerHome(blocked, ignoreLoss).catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: 'CONFIG_INVALID', details: { field: 'AAS_HOME' } });
    expect(String((refused as Error).message)).toContain(join(blocked, 'worker'));
  });
});
