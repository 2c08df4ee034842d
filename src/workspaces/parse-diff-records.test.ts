import { describe, expect, it } from 'vitest';
import { isAasError } from '../kernel/index.js';
import { parseDiffRecords, parseDiffWithPatch } from './parse-diff-records.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const Z = '0'.repeat(40);

function nul(...fields: string[]): Buffer {
  return Buffer.from(fields.map((field) => `${field}\0`).join(''), 'utf8');
}

describe('parseDiffRecords', () => {
  it('pairs raw and numstat records, including renames, additions, deletions and binaries', () => {
    const output = nul(
      `:100644 100644 ${A} ${B} R090`,
      'old name.txt',
      'new name.txt',
      `:000000 120000 ${Z} ${B} A`,
      'link',
      `:100644 000000 ${A} ${Z} D`,
      ':weird:name',
      `:100644 100644 ${A} ${B} M`,
      'pic.png',
      '2\t1\t',
      'old name.txt',
      'new name.txt',
      '1\t0\tlink',
      '0\t3\t:weird:name',
      '-\t-\tpic.png',
    );
    expect(parseDiffRecords(output)).toEqual([
      {
        status: 'renamed',
        path: Buffer.from('new name.txt'),
        oldPath: Buffer.from('old name.txt'),
        oldMode: '100644',
        newMode: '100644',
        oldObject: A,
        newObject: B,
        binary: false,
        insertions: 2,
        deletions: 1,
      },
      {
        status: 'added',
        path: Buffer.from('link'),
        newMode: '120000',
        newObject: B,
        binary: false,
        insertions: 1,
        deletions: 0,
      },
      {
        status: 'deleted',
        path: Buffer.from(':weird:name'),
        oldMode: '100644',
        oldObject: A,
        binary: false,
        insertions: 0,
        deletions: 3,
      },
      {
        status: 'modified',
        path: Buffer.from('pic.png'),
        oldMode: '100644',
        newMode: '100644',
        oldObject: A,
        newObject: B,
        binary: true,
        insertions: 0,
        deletions: 0,
      },
    ]);
  });

  it('parses an empty diff and keeps non-UTF-8 path bytes exact', () => {
    expect(parseDiffRecords(Buffer.alloc(0))).toEqual([]);
    const odd = Buffer.from([0x6f, 0xff, 0x2e, 0x74]);
    const output = Buffer.concat([
      nul(`:000000 100644 ${Z} ${A} A`),
      odd,
      Buffer.from('\0'),
      Buffer.from('1\t0\t'),
      odd,
      Buffer.from('\0'),
    ]);
    expect(parseDiffRecords(output)[0]?.path.equals(odd)).toBe(true);
  });

  it('fails loudly on output it does not understand', () => {
    for (const output of [
      nul(':garbage'),
      nul(`:100644 100644 ${A} ${B} M`),
      nul(`:100644 100644 ${A} ${B} M`, 'x', 'not numstat'),
    ]) {
      let thrown: unknown;
      try {
        parseDiffRecords(output);
      } catch (error) {
        thrown = error;
      }
      expect(isAasError(thrown) && thrown.code).toBe('INTERNAL');
    }
  });
});

describe('parseDiffWithPatch', () => {
  it('splits the listing from the patch by position, even when the patch holds NUL bytes', () => {
    const patch = Buffer.from('diff --git a/x b/x\n+a\0b\n\0diff --git a/y b/y\n', 'latin1');
    const output = Buffer.concat([
      nul(`:100644 100644 ${A} ${B} R100`, 'old', 'x', `:100644 100644 ${A} ${B} M`, 'y'),
      nul('1\t0\t', 'old', 'x', '0\t1\ty'),
      Buffer.from('\0'),
      patch,
    ]);
    const { records, patch: parsed } = parseDiffWithPatch(output);
    expect(records.map((record) => [record.status, record.path.toString()])).toEqual([
      ['renamed', 'x'],
      ['modified', 'y'],
    ]);
    expect(records[1]).toMatchObject({ insertions: 0, deletions: 1 });
    expect(parsed.equals(patch)).toBe(true);
  });

  it('takes empty output as no change, and refuses a listing without its separator', () => {
    expect(parseDiffWithPatch(Buffer.alloc(0))).toEqual({ records: [], patch: Buffer.alloc(0) });
    for (const output of [
      nul(`:100644 100644 ${A} ${B} M`, 'x', '1\t0\tx'),
      Buffer.concat([nul(`:100644 100644 ${A} ${B} M`, 'x', '1\t0\tx'), Buffer.from('diff')]),
      Buffer.from('diff --git a/x b/x\n'),
    ]) {
      let thrown: unknown;
      try {
        parseDiffWithPatch(output);
      } catch (error) {
        thrown = error;
      }
      expect(isAasError(thrown) && thrown.code).toBe('INTERNAL');
    }
  });
});
