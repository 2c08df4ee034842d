import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { cliLogger } from './cli-logger.js';

function captured(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
  return { stream, text: () => chunks.join('') };
}

describe('cliLogger', () => {
  it('writes a line a person reads, with the fields, lists cut short, at or above its level', () => {
    const out = captured();
    const log = cliLogger(out.stream, 'warn');
    log.info({ runId: 'run_1' }, 'claimed');
    log.warn(
      { requeued: ['r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7'], ended: [] },
      'runs whose lease expired were recovered',
    );
    log.child({ runId: 'run_2' }).error({ err: new Error('disk full') }, 'could not remove');
    expect(out.text()).toBe(
      'warning: runs whose lease expired were recovered (requeued: r1 r2 r3 r4 r5 and 2 more, ended: none)\n' +
        'error: could not remove (err: disk full, runId: run_2)\n',
    );
  });

  it('says nothing when silent, and everything at debug', () => {
    const quiet = captured();
    cliLogger(quiet.stream, 'silent').error({}, 'lost');
    expect(quiet.text()).toBe('');
    const loud = captured();
    cliLogger(loud.stream, 'debug').debug({ n: 1, at: { x: 2 } }, 'step');
    expect(loud.text()).toBe('debug: step (n: 1, at: {"x":2})\n');
  });

  it('never throws on a value JSON cannot hold', () => {
    const out = captured();
    const circular: Record<string, unknown> = { name: 'loop' };
    circular.self = circular;
    cliLogger(out.stream, 'warn').warn({ circular, big: 10n }, 'odd values');
    expect(out.text()).toBe('warning: odd values (circular: [object Object], big: 10)\n');
  });

  it('keeps control characters of a field off the terminal', () => {
    const out = captured();
    cliLogger(out.stream, 'warn').warn({ path: 'a\u001b[2Jb' }, 'odd path');
    expect(out.text()).not.toContain('\u001b');
  });
});
