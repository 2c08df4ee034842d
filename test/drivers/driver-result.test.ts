import { execFileSync } from 'node:child_process';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DriverResultSchema, MAX_DRIVER_RESULT_BYTES } from '../../src/drivers/index.js';
import { readDriverResult } from '../../src/drivers/read-driver-result.js';
import { makeTempDir, removeDir } from '../helpers/temp-repo.js';

describe('DriverResultSchema', () => {
  it('applies the default action and validates known keys strictly', () => {
    expect(DriverResultSchema.parse({ status: 'succeeded', summary: 'ok' })).toEqual({
      status: 'succeeded',
      summary: 'ok',
      recommendedAction: 'promote',
    });
    const bad = [
      { status: 'done', summary: 'x' },
      { status: 'failed' },
      { status: 'failed', summary: 'x'.repeat(4001) },
      { status: 'failed', summary: 'x', recommendedAction: 'fallback' },
      { status: 'failed', summary: 'x', metrics: { tokensIn: 1.5 } },
      { status: 'failed', summary: 'x', metrics: { costUsd: -1 } },
      { status: 'failed', summary: 'x', changedPaths: 'src/a.ts' },
    ];
    for (const value of bad) expect(DriverResultSchema.safeParse(value).success).toBe(false);
  });

  it('truncates a long error instead of rejecting the result', () => {
    const parsed = DriverResultSchema.parse({
      status: 'failed',
      summary: 'x',
      error: 'e'.repeat(10_000),
    });
    expect(parsed.error?.length).toBe(4001);
  });
});

describe('readDriverResult', () => {
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir('aas-result-');
  });
  afterEach(() => removeDir(dir));
  const path = (): string => join(dir, 'driver_result.json');

  it('returns the result and the unknown keys it ignored', async () => {
    writeFileSync(
      path(),
      JSON.stringify({
        status: 'partial',
        summary: 's',
        adapter: 'x',
        metrics: { tokensIn: 3, steps: 2 },
      }),
    );
    const read = await readDriverResult(path());
    expect(read).toEqual({
      ok: true,
      result: {
        status: 'partial',
        summary: 's',
        recommendedAction: 'promote',
        metrics: { tokensIn: 3 },
      },
      ignoredKeys: ['adapter', 'metrics.steps'],
    });
  });

  it('names the file and the field of an invalid result', async () => {
    writeFileSync(path(), JSON.stringify({ status: 'succeeded', summary: 42 }));
    const read = await readDriverResult(path());
    expect(read.ok).toBe(false);
    if (!read.ok)
      expect(read.problem).toMatch(new RegExp(`^${path()}: field 'summary' invalid result`));
  });

  it('refuses results over 1 MiB, symlinks and FIFOs without hanging', async () => {
    writeFileSync(
      path(),
      `{"status":"succeeded","summary":"${'x'.repeat(MAX_DRIVER_RESULT_BYTES)}"}`,
    );
    const big = await readDriverResult(path());
    expect(!big.ok && big.problem).toMatch(/limit 1048576/);

    const secret = join(dir, 'secret.json');
    writeFileSync(secret, JSON.stringify({ status: 'succeeded', summary: 'via symlink' }));
    const linked = join(dir, 'linked.json');
    symlinkSync(secret, linked);
    const viaLink = await readDriverResult(linked);
    expect(!viaLink.ok && viaLink.problem).toMatch(/symbolic link/);

    const fifo = join(dir, 'fifo.json');
    execFileSync('mkfifo', [fifo]);
    const viaFifo = await readDriverResult(fifo);
    expect(!viaFifo.ok && viaFifo.problem).toMatch(/not a regular file/);
  });
});
