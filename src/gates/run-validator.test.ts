import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AasError, systemClock } from '../kernel/index.js';
import { createPlainBackend } from '../sandbox/index.js';
import { runValidator } from './run-validator.js';

/** A validator stopped half-way says why: cancelled, or interrupted (a shutdown, a lost lease). */
describe('runValidator stopped by its signal', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  async function stoppedWith(reason: unknown) {
    const dir = mkdtempSync(join(tmpdir(), 'aas-validator-'));
    dirs.push(dir);
    const stop = new AbortController();
    setTimeout(() => stop.abort(reason), 50);
    return runValidator({
      spec: { name: 'slow', command: 'sleep 30', timeoutSec: 60 },
      index: 1,
      sandbox: createPlainBackend({ clock: systemClock }),
      workspaceDir: dir,
      outputDir: join(dir, 'out'),
      env: { PATH: '/usr/bin:/bin' },
      confinement: {
        writablePaths: [dir],
        readOnlyPaths: [],
        tmpDir: dir,
        homeDir: dir,
        network: { mode: 'disabled' },
        scratchDir: join(dir, 'scratch'),
      },
      maxOutputBytes: 1024,
      signal: stop.signal,
    });
  }

  it('is CANCELLED for a cancel, INTERRUPTED for an interruption', async () => {
    expect(await stoppedWith(new AasError('CANCELLED', 'the run was cancelled'))).toMatchObject({
      passed: false,
      code: 'CANCELLED',
    });
    expect(
      await stoppedWith(new AasError('INTERRUPTED', 'this worker is shutting down')),
    ).toMatchObject({
      passed: false,
      code: 'INTERRUPTED',
      detail: 'stopped: this worker is shutting down',
    });
  });
});
