import { AasError } from '../kernel/index.js';
import { splitNul } from './run-git.js';
import type { PatchFileStatus } from './types.js';

/** One change as `git diff --raw --numstat -z` describes it; paths kept as git's exact bytes. */
export interface DiffRecord {
  readonly status: PatchFileStatus;
  readonly path: Buffer;
  readonly oldPath?: Buffer;
  readonly oldMode?: string;
  readonly newMode?: string;
  readonly oldObject?: string;
  readonly newObject?: string;
  readonly binary: boolean;
  readonly insertions: number;
  readonly deletions: number;
}

const STATUS_BY_LETTER: Readonly<Record<string, PatchFileStatus>> = {
  A: 'added',
  M: 'modified',
  D: 'deleted',
  R: 'renamed',
  C: 'copied',
  T: 'type-changed',
};

const ABSENT_MODE = '000000';
const ABSENT_OBJECT = /^0+$/;
const RAW_HEADER = /^:(\d{6}) (\d{6}) ([0-9a-f]+) ([0-9a-f]+) ([A-Z])(\d*)$/;
const NUMSTAT = /^(\d+|-)\t(\d+|-)\t/;

interface RawPart {
  readonly status: PatchFileStatus;
  readonly path: Buffer;
  readonly oldPath?: Buffer;
  readonly oldMode?: string;
  readonly newMode?: string;
  readonly oldObject?: string;
  readonly newObject?: string;
}

interface NumstatPart {
  readonly binary: boolean;
  readonly insertions: number;
  readonly deletions: number;
}

/**
 * Parses the output of `git diff --raw --numstat -z --no-abbrev`: first every raw record
 * (`:modes objects status NUL path NUL [path NUL]`), then every numstat record in the same
 * order (`ins TAB del TAB path NUL`, or `ins TAB del TAB NUL old NUL new NUL` for a rename).
 * Fields are consumed positionally, so no file name, however odd, is mistaken for a header.
 */
export function parseDiffRecords(output: Buffer): DiffRecord[] {
  const fields = splitNul(output);
  const raws: RawPart[] = [];
  let at = 0;
  while (at < fields.length && fields[at]?.[0] === 0x3a /* ':' */) {
    const header = RAW_HEADER.exec(fields[at]?.toString('latin1') ?? '');
    if (header === null) throw parseError('raw header', fields[at]);
    const [, oldMode = '', newMode = '', oldObject = '', newObject = '', letter = ''] = header;
    const status = STATUS_BY_LETTER[letter];
    if (status === undefined) throw parseError(`status letter ${letter}`, fields[at]);
    const twoPaths = letter === 'R' || letter === 'C';
    const first = fields[at + 1];
    const second = twoPaths ? fields[at + 2] : first;
    if (first === undefined || second === undefined)
      throw parseError('path after raw header', fields[at]);
    raws.push({
      status,
      path: second,
      ...(twoPaths ? { oldPath: first } : {}),
      ...(oldMode === ABSENT_MODE ? {} : { oldMode }),
      ...(newMode === ABSENT_MODE ? {} : { newMode }),
      ...(ABSENT_OBJECT.test(oldObject) ? {} : { oldObject }),
      ...(ABSENT_OBJECT.test(newObject) ? {} : { newObject }),
    });
    at += twoPaths ? 3 : 2;
  }
  const numstats: NumstatPart[] = [];
  while (at < fields.length) {
    const field = fields[at] ?? Buffer.alloc(0);
    const counts = NUMSTAT.exec(field.toString('latin1'));
    if (counts === null) throw parseError('numstat record', field);
    const [whole = '', added = '-', deleted = '-'] = counts;
    const binary = added === '-' || deleted === '-';
    numstats.push({
      binary,
      insertions: binary ? 0 : Number(added),
      deletions: binary ? 0 : Number(deleted),
    });
    // An empty path after the counts means "old NUL new NUL" follows (a rename or copy).
    at += field.length === whole.length ? 3 : 1;
  }
  if (numstats.length !== raws.length) {
    throw new AasError(
      'INTERNAL',
      `git diff listed ${raws.length} raw but ${numstats.length} numstat records`,
    );
  }
  return raws.map((raw, index) => {
    const numstat = numstats[index] ?? { binary: false, insertions: 0, deletions: 0 };
    return { ...raw, ...numstat };
  });
}

function parseError(what: string, field: Buffer | undefined): AasError {
  const shown =
    field === undefined ? '<end of output>' : JSON.stringify(field.toString('utf8').slice(0, 120));
  return new AasError('INTERNAL', `cannot parse git diff output: expected ${what}, got ${shown}`);
}
