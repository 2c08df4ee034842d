import { readBoundedFile } from './bounded-read.js';
import { describeZodError } from './describe-zod-error.js';
import {
  type DriverResult,
  DriverResultSchema,
  MAX_DRIVER_RESULT_BYTES,
  unknownResultKeys,
} from './driver-result.js';

export type DriverResultRead =
  | { readonly ok: true; readonly result: DriverResult; readonly ignoredKeys: readonly string[] }
  | { readonly ok: false; readonly problem: string };

/**
 * Reads and validates the agent-written result file. The agent controls this path, so it is
 * read bounded, without following symlinks; every failure is a message naming the file and,
 * for schema failures, the field.
 */
export async function readDriverResult(path: string): Promise<DriverResultRead> {
  const read = await readBoundedFile(path, MAX_DRIVER_RESULT_BYTES);
  switch (read.kind) {
    case 'ok':
      break;
    case 'missing':
      return { ok: false, problem: `${path}: the agent wrote no result file` };
    case 'too-large':
      return {
        ok: false,
        problem: `${path}: result file is ${read.size} bytes (limit ${MAX_DRIVER_RESULT_BYTES})`,
      };
    case 'not-regular':
      return { ok: false, problem: `${path}: result path is ${read.what}` };
    case 'error':
      return { ok: false, problem: `${path}: cannot read result file: ${read.message}` };
  }

  let raw: unknown;
  try {
    raw = JSON.parse(read.bytes.toString('utf8')) as unknown;
  } catch (error) {
    return { ok: false, problem: `${path}: result is not valid JSON: ${(error as Error).message}` };
  }
  const parsed = DriverResultSchema.safeParse(raw);
  if (!parsed.success) {
    const { first, summary } = describeZodError(parsed.error);
    const field = first.field === '' ? '' : ` field '${first.field}'`;
    return { ok: false, problem: `${path}:${field} invalid result: ${summary}` };
  }
  return { ok: true, result: parsed.data, ignoredKeys: unknownResultKeys(raw) };
}
