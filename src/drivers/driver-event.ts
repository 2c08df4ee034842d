import { z } from 'zod';

export const DRIVER_EVENT_TYPE_PATTERN = /^[a-z][a-z0-9_.-]{0,63}$/;
/**
 * Event types runDriver emits itself (`aep.events.rejected`, `aep.result.ignored_keys`).
 * A driver may not use the prefix, so it cannot forge a protocol-level event.
 */
export const RESERVED_EVENT_PREFIX = 'aep.';

/** One event as delivered to `onEvent`: a driver's line, validated and bounded. */
export interface DriverEvent {
  readonly type: string;
  readonly message?: string;
  readonly data: unknown;
}

const DriverEventLineSchema = z.object({
  type: z
    .string()
    .regex(DRIVER_EVENT_TYPE_PATTERN)
    .refine((type) => !type.startsWith(RESERVED_EVENT_PREFIX), 'the aep. prefix is reserved'),
  message: z.string().optional(),
  data: z.unknown().optional(),
});

export type EventRejection = 'malformed' | 'invalid' | 'oversized' | 'over-limit';

/** Parses one ndjson line; unknown keys are ignored, like in driver results. */
export function parseDriverEventLine(
  line: string,
): { ok: true; event: DriverEvent } | { ok: false; reason: EventRejection } {
  let raw: unknown;
  try {
    raw = JSON.parse(line) as unknown;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  const parsed = DriverEventLineSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, reason: 'invalid' };
  const { type, message, data } = parsed.data;
  return {
    ok: true,
    event: { type, ...(message === undefined ? {} : { message }), data: data ?? null },
  };
}
