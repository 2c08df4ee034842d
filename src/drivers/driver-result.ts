import { z } from 'zod';

/** driver_result.json larger than this is rejected unread. */
export const MAX_DRIVER_RESULT_BYTES = 1024 * 1024;
export const MAX_SUMMARY_CHARS = 4000;

export const DRIVER_STATUSES = [
  'succeeded',
  'partial',
  'failed',
  'timed_out',
  'policy_blocked',
] as const;
export type DriverStatus = (typeof DRIVER_STATUSES)[number];

export const RECOMMENDED_ACTIONS = ['promote', 'retry', 'human_review', 'reject'] as const;
export type RecommendedAction = (typeof RECOMMENDED_ACTIONS)[number];

const count = z.number().int().nonnegative();

const DriverMetricsSchema = z.object({
  tokensIn: count.optional(),
  tokensOut: count.optional(),
  costUsd: z.number().nonnegative().optional(),
  durationMs: count.optional(),
});

/**
 * driver_result.json. Known keys are validated strictly (types, enums, bounds); unknown keys
 * are dropped and reported, not fatal: the upstream implementation rejected any extra key,
 * which broke every adapter that added one field. `readDriverResult` lists the dropped keys.
 */
export const DriverResultSchema = z.object({
  status: z.enum(DRIVER_STATUSES),
  summary: z.string().max(MAX_SUMMARY_CHARS),
  recommendedAction: z.enum(RECOMMENDED_ACTIONS).default('promote'),
  metrics: DriverMetricsSchema.optional(),
  /** Advisory only: the runner computes the patch itself and never trusts this list. */
  changedPaths: z.array(z.string().max(4096)).max(10_000).optional(),
  /** Truncated rather than rejected: a long stack trace must not turn a failure into "invalid". */
  error: z
    .string()
    .transform((text) =>
      text.length > MAX_SUMMARY_CHARS ? `${text.slice(0, MAX_SUMMARY_CHARS)}…` : text,
    )
    .optional(),
});

export type DriverResult = z.output<typeof DriverResultSchema>;

/** Statuses that let an attempt proceed to the gates (together with a zero exit). */
export function isSuccessStatus(status: DriverStatus): boolean {
  return status === 'succeeded' || status === 'partial';
}

/** Keys present in the raw result that the schema does not know (e.g. `foo`, `metrics.steps`). */
export function unknownResultKeys(raw: unknown): string[] {
  if (!isRecord(raw)) return [];
  const known = new Set(Object.keys(DriverResultSchema.shape));
  const metricKeys = new Set(Object.keys(DriverMetricsSchema.shape));
  const unknown = Object.keys(raw).filter((key) => !known.has(key));
  const metrics = raw.metrics;
  if (isRecord(metrics)) {
    for (const key of Object.keys(metrics)) {
      if (!metricKeys.has(key)) unknown.push(`metrics.${key}`);
    }
  }
  return unknown;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
