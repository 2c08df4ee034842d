import { z } from 'zod';
import { type EffectivePolicy, POLICY_FIELDS, type PolicyField } from './effective-policy.js';
import { globProblem } from './glob-problem.js';

/**
 * A recorded effective policy (the `effective` of a `policy.resolved` event) read back.
 *
 * An EffectivePolicy is plain JSON and compiled matchers live beside it, keyed by the object
 * (compiled-policy.ts), so a parsed record feeds decidePath and explainPolicy as it is: nothing
 * needs reviving. What it needs is checking, since it comes back from the database as `unknown`,
 * and tolerance of age: a run recorded by an older AAS lacks the fields added since
 * (`limits.cpuSec`, the model budgets, `promotion.onBaseMoved`, …). Those are reported as
 * unrecorded rather than guessed; only the path rules, which every version recorded, are
 * required, because without them no path can be decided.
 */

/** A glob as decidePath compiles it: a record holding anything else is refused, not compiled. */
const GlobSchema = z
  .string()
  .refine((pattern) => globProblem(pattern) === null, 'not a usable glob');

export const PatternRuleSchema = z.object({ layer: z.string(), pattern: GlobSchema });
export const LayerAllowListSchema = z.object({ layer: z.string(), patterns: z.array(GlobSchema) });
export const EffectiveNetworkSchema = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('disabled') }),
  z.object({ mode: z.literal('full') }),
  z.object({
    mode: z.literal('allowlist'),
    allow: z.array(z.string()).describe('the hosts every layer admits'),
    layers: z.array(z.object({ layer: z.string(), allow: z.array(z.string()) })),
  }),
]);

const whole = z.number().int().nonnegative();
const cap = z.number().int().nonnegative().nullable().describe('null: no layer sets a limit');

/** The value of each field, by the dotted name explainPolicy and `decidedBy` use. */
export const POLICY_VALUE_SCHEMAS = {
  'paths.allow': z.array(LayerAllowListSchema).describe('a path must match every list'),
  'paths.deny': z.array(PatternRuleSchema),
  'paths.runtime': z.array(PatternRuleSchema),
  network: EffectiveNetworkSchema,
  tools: z.array(z.string()).nullable().describe('null: no layer restricts tools'),
  'env.allow': z
    .array(z.string())
    .nullable()
    .describe('null: no layer lists variables (none pass)'),
  'limits.timeoutSec': whole,
  'limits.maxChangedFiles': whole,
  'limits.maxPatchLines': whole,
  'limits.maxOutputBytes': whole,
  'limits.cpuSec': whole,
  'limits.maxProcesses': whole,
  'limits.maxMemoryBytes': whole,
  'limits.maxFileBytes': whole,
  'limits.maxWorkspaceGrowthBytes': whole,
  'limits.maxCostUsd': z.number().nonnegative().nullable().describe('null: no layer caps cost'),
  'limits.maxInputTokens': cap,
  'limits.maxOutputTokens': cap,
  binaryChanges: z.boolean(),
  sandbox: z.enum(['required', 'preferred', 'off']),
  'promotion.approvals': whole,
  'promotion.requireDistinctApprover': z.boolean(),
  'promotion.protectedBranches': z.array(z.string()),
  'promotion.onBaseMoved': z.enum(['revalidate', 'block']),
} as const satisfies Record<PolicyField, z.ZodType>;

const V = POLICY_VALUE_SCHEMAS;

/**
 * The record's shape, every field but the path rules optional. An absent field gets the
 * strictest stand-in (no network, no tools, zero limits, a sandbox required, promotion
 * blocked), so that code ignoring `unrecorded` would fail closed; the stand-ins only complete
 * the object explainPolicy takes, and must never be shown as the run's values.
 */
const RecordSchema = z.object({
  version: z.literal(1),
  layers: z.array(z.object({ name: z.string(), source: z.string() })),
  paths: z.object({
    allow: V['paths.allow'],
    deny: V['paths.deny'],
    runtime: V['paths.runtime'],
  }),
  network: V.network.default({ mode: 'disabled' }),
  tools: V.tools.default([]),
  envAllow: V['env.allow'].default(null),
  limits: z
    .object({
      timeoutSec: V['limits.timeoutSec'].default(0),
      maxChangedFiles: V['limits.maxChangedFiles'].default(0),
      maxPatchLines: V['limits.maxPatchLines'].default(0),
      maxOutputBytes: V['limits.maxOutputBytes'].default(0),
      cpuSec: V['limits.cpuSec'].default(0),
      maxProcesses: V['limits.maxProcesses'].default(0),
      maxMemoryBytes: V['limits.maxMemoryBytes'].default(0),
      maxFileBytes: V['limits.maxFileBytes'].default(0),
      maxWorkspaceGrowthBytes: V['limits.maxWorkspaceGrowthBytes'].default(0),
      maxCostUsd: V['limits.maxCostUsd'].default(0),
      maxInputTokens: V['limits.maxInputTokens'].default(0),
      maxOutputTokens: V['limits.maxOutputTokens'].default(0),
    })
    .prefault({}),
  binaryChanges: V.binaryChanges.default(false),
  sandbox: V.sandbox.default('required'),
  promotion: z
    .object({
      approvals: V['promotion.approvals'].default(Number.MAX_SAFE_INTEGER),
      requireDistinctApprover: V['promotion.requireDistinctApprover'].default(true),
      protectedBranches: V['promotion.protectedBranches'].default([]),
      onBaseMoved: V['promotion.onBaseMoved'].default('block'),
    })
    .prefault({}),
  decidedBy: z.partialRecord(z.enum(POLICY_FIELDS), z.array(z.string())).default({}),
});

export type RecordedPolicy =
  | {
      readonly ok: true;
      readonly policy: EffectivePolicy;
      /** Fields the record does not hold (an older AAS recorded it): not the run's values. */
      readonly unrecorded: readonly PolicyField[];
    }
  | { readonly ok: false; readonly problem: string };

/** Where a field lives in the record: its dotted name, except `env.allow`. */
function recordPath(field: PolicyField): readonly string[] {
  return field === 'env.allow' ? ['envAllow'] : field.split('.');
}

function holds(record: unknown, path: readonly string[]): boolean {
  let node = record;
  for (const key of path) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) return false;
    node = (node as Record<string, unknown>)[key];
  }
  return node !== undefined;
}

/** Reads a recorded effective policy back into one explainPolicy and decidePath accept. */
export function readRecordedPolicy(recorded: unknown): RecordedPolicy {
  const parsed = RecordSchema.safeParse(recorded);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? '' : `${issue.path.join('.')}: `;
    return { ok: false, problem: `${where}${issue?.message ?? 'invalid'}` };
  }
  const unrecorded = POLICY_FIELDS.filter(
    (field) => !holds(recorded, recordPath(field)) || !holds(recorded, ['decidedBy', field]),
  );
  const decidedBy = Object.fromEntries(
    POLICY_FIELDS.map((field) => [field, parsed.data.decidedBy[field] ?? []]),
  ) as Record<PolicyField, string[]>;
  return { ok: true, policy: { ...parsed.data, decidedBy }, unrecorded };
}
