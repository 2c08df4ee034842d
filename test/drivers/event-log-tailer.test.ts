import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventLogTailer } from '../../src/drivers/event-log-tailer.js';
import type { DriverEvent } from '../../src/drivers/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-repo.js';

describe('EventLogTailer', () => {
  let dir: string;
  let log: string;
  let seen: DriverEvent[];
  beforeEach(() => {
    dir = makeTempDir('aas-events-');
    log = join(dir, 'events.ndjson');
    writeFileSync(log, '');
    seen = [];
  });
  afterEach(() => removeDir(dir));

  const tailer = (limits = { maxEvents: 100, maxLineBytes: 200 }) =>
    new EventLogTailer(log, limits, async (event) => {
      seen.push(event);
    });
  const waitFor = async (check: () => boolean): Promise<void> => {
    for (let i = 0; i < 400 && !check(); i += 1) await new Promise((r) => setTimeout(r, 5));
  };

  it('joins lines split across writes, including a split multi-byte character', async () => {
    const t = tailer();
    t.start(5, () => undefined);
    const line = Buffer.from('{"type":"x.a","message":"héllo"}\n');
    const cut = line.indexOf(Buffer.from('é')) + 1; // inside the two-byte 'é'
    appendFileSync(log, line.subarray(0, cut));
    await new Promise((r) => setTimeout(r, 30));
    expect(seen).toHaveLength(0);
    appendFileSync(log, line.subarray(cut));
    await waitFor(() => seen.length === 1);
    appendFileSync(log, '\r\n\n{"type":"x.b","data":[1]}\r\n');
    await t.stop();
    expect(seen).toEqual([
      { type: 'x.a', message: 'héllo', data: null },
      { type: 'x.b', data: [1] },
    ]);
    expect(t.rejectedCount).toBe(0);
  });

  it('counts malformed, invalid, oversized and over-limit lines without delivering them', async () => {
    const lines = [
      '{"type":"ok.one"}',
      'not json',
      '{"type":"Bad Type"}',
      '{"type":"aep.forged"}',
      '{"message":"no type"}',
      `{"type":"x.big","data":"${'y'.repeat(500)}"}`,
      '{"type":"ok.two"}',
      '{"type":"ok.three"}',
    ];
    writeFileSync(log, `${lines.join('\n')}\n`);
    const t = tailer({ maxEvents: 2, maxLineBytes: 200 });
    t.start(5, () => undefined);
    await t.stop();
    expect(seen.map((event) => event.type)).toEqual(['ok.one', 'ok.two']);
    expect(t.rejectionsByReason).toEqual({
      malformed: 1,
      invalid: 3,
      oversized: 1,
      'over-limit': 1,
    });
    expect(t.rejectedCount).toBe(6);
  });

  it('rejects an oversized line arriving in pieces and recovers at the next newline', async () => {
    const t = tailer({ maxEvents: 10, maxLineBytes: 50 });
    t.start(5, () => undefined);
    appendFileSync(log, '{"type":"x.big","data":"');
    for (let i = 0; i < 5; i += 1) {
      appendFileSync(log, 'z'.repeat(40));
      await new Promise((r) => setTimeout(r, 10));
    }
    appendFileSync(log, '"}\n{"type":"x.after"}\n');
    await t.stop();
    expect(seen.map((event) => event.type)).toEqual(['x.after']);
    expect(t.rejectionsByReason).toEqual({ oversized: 1 });
  });

  it('treats an unterminated oversized tail as rejected at stop', async () => {
    writeFileSync(log, `{"type":"x.ok"}\n${'q'.repeat(500)}`);
    const t = tailer({ maxEvents: 10, maxLineBytes: 100 });
    t.start(5, () => undefined);
    await t.stop();
    expect(seen).toHaveLength(1);
    expect(t.rejectionsByReason).toEqual({ oversized: 1 });
  });

  it('stops reading a log past its total byte budget', async () => {
    // Budget = 2 * (maxEvents + 1) * (maxLineBytes + 1) = 2 * 2 * 21 = 84 bytes.
    writeFileSync(log, `${'{"type":"x.a"}\n'.repeat(20)}`);
    const t = tailer({ maxEvents: 1, maxLineBytes: 20 });
    t.start(5, () => undefined);
    await t.stop();
    expect(seen).toHaveLength(1);
    expect(t.stoppedEarly).toMatch(/exceeded 84 bytes/);
  });

  it('tolerates a log that does not exist (yet)', async () => {
    const t = new EventLogTailer(
      join(dir, 'absent.ndjson'),
      { maxEvents: 1, maxLineBytes: 10 },
      async () => undefined,
    );
    t.start(5, () => undefined);
    await t.stop();
    expect(t.rejectedCount).toBe(0);
    expect(t.stoppedEarly).toBeNull();
  });

  it('stops and reports when delivery fails', async () => {
    writeFileSync(log, '{"type":"x.a"}\n');
    let failed: unknown = null;
    const t = new EventLogTailer(log, { maxEvents: 10, maxLineBytes: 100 }, async () => {
      throw new Error('cannot record');
    });
    t.start(5, (error) => {
      failed = error;
    });
    await waitFor(() => failed !== null);
    expect(failed).toBeInstanceOf(Error);
    await expect(t.stop()).rejects.toThrow('cannot record');
  });
});
