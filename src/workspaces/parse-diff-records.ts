import { AasError } from '../kernel/index.js';
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
  return parseListing(output, false).records;
}

/**
 * Parses the output of the same listing with `--patch` added: git prints the raw and numstat
 * records, then one NUL (the `-z` form of the separator line), then the patch exactly as the
 * listing-less command prints it. The patch is returned as the bytes after that separator:
 * it is found by position, never by searching, because a text hunk may itself hold NUL bytes.
 */
export function parseDiffWithPatch(output: Buffer): { records: DiffRecord[]; patch: Buffer } {
  return parseListing(output, true);
}

function parseListing(
  output: Buffer,
  withPatch: boolean,
): { records: DiffRecord[]; patch: Buffer } {
  let at = 0;
  const next = (): Buffer | undefined => {
    if (at >= output.length) return undefined;
    const end = output.indexOf(0, at);
    const field = output.subarray(at, end === -1 ? output.length : end);
    at = end === -1 ? output.length : end + 1;
    return field;
  };
  const raws: RawPart[] = [];
  while (at < output.length && output[at] === 0x3a /* ':' */) {
    const field = next();
    const header = RAW_HEADER.exec(field?.toString('latin1') ?? '');
    if (header === null) throw parseError('raw header', field);
    const [, oldMode = '', newMode = '', oldObject = '', newObject = '', letter = ''] = header;
    const status = STATUS_BY_LETTER[letter];
    if (status === undefined) throw parseError(`status letter ${letter}`, field);
    const twoPaths = letter === 'R' || letter === 'C';
    const first = next();
    const second = twoPaths ? next() : first;
    if (first === undefined || second === undefined)
      throw parseError('path after raw header', field);
    raws.push({
      status,
      path: second,
      ...(twoPaths ? { oldPath: first } : {}),
      ...(oldMode === ABSENT_MODE ? {} : { oldMode }),
      ...(newMode === ABSENT_MODE ? {} : { newMode }),
      ...(ABSENT_OBJECT.test(oldObject) ? {} : { oldObject }),
      ...(ABSENT_OBJECT.test(newObject) ? {} : { newObject }),
    });
  }
  const numstats: NumstatPart[] = [];
  // With a patch following, exactly one numstat record per raw record; without, up to the end.
  while (withPatch ? numstats.length < raws.length : at < output.length) {
    const field = next() ?? Buffer.alloc(0);
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
    if (field.length === whole.length) {
      next();
      next();
    }
  }
  if (numstats.length !== raws.length) {
    throw new AasError(
      'INTERNAL',
      `git diff listed ${raws.length} raw but ${numstats.length} numstat records`,
    );
  }
  let patch: Buffer = Buffer.alloc(0);
  if (withPatch && raws.length > 0) {
    const separator = next();
    if (separator === undefined || separator.length !== 0)
      throw parseError('the NUL before the patch', separator);
    patch = output.subarray(at);
  }
  if (withPatch && raws.length === 0 && output.length > 0)
    throw parseError('no output for an empty diff', output);
  const records = raws.map((raw, index) => {
    const numstat = numstats[index] ?? { binary: false, insertions: 0, deletions: 0 };
    return { ...raw, ...numstat };
  });
  return { records, patch };
}

function parseError(what: string, field: Buffer | undefined): AasError {
  const shown =
    field === undefined ? '<end of output>' : JSON.stringify(field.toString('utf8').slice(0, 120));
  return new AasError('INTERNAL', `cannot parse git diff output: expected ${what}, got ${shown}`);
}
