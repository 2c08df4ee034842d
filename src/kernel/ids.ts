import { randomBytes } from 'node:crypto';

export const IdPrefix = {
  session: 'ses',
  run: 'run',
  attempt: 'att',
  token: 'tok',
  approval: 'apr',
  schedule: 'sch',
  worker: 'wrk',
  enrolment: 'wen',
} as const;
export type IdPrefix = (typeof IdPrefix)[keyof typeof IdPrefix];

/**
 * `<prefix>_<12 hex ms time><12 hex random>`: sortable by creation time, safe as a path
 * component, and unguessable enough to be used in URLs.
 */
export function newId(prefix: IdPrefix, nowMs: number): string {
  const time = Math.floor(nowMs).toString(16).padStart(12, '0').slice(-12);
  return `${prefix}_${time}${randomBytes(6).toString('hex')}`;
}

const ID_PATTERN = /^(ses|run|att|tok|apr|sch|wrk|wen)_[0-9a-f]{24}$/;

/** Ids become directory names: accept only what we generate. */
export function isValidId(value: string, prefix?: IdPrefix): boolean {
  return ID_PATTERN.test(value) && (prefix === undefined || value.startsWith(`${prefix}_`));
}
