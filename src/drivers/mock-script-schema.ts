import { z } from 'zod';
import { AasError } from '../kernel/index.js';
import { describeZodError } from './describe-zod-error.js';
import { MOCK_MISBEHAVIOURS } from './mock-script.js';

const MockEditSchema = z.strictObject({
  path: z.string().min(1),
  write: z.string().optional(),
  writeBase64: z.string().optional(),
  append: z.string().optional(),
  delete: z.literal(true).optional(),
  renameTo: z.string().min(1).optional(),
  chmod: z
    .string()
    .regex(/^[0-7]{3,4}$/, 'an octal mode such as "755"')
    .optional(),
  symlinkTo: z.string().min(1).optional(),
});

const MockStepShape = {
  edits: z.array(MockEditSchema).optional(),
  // Left open on purpose: scripts hand the driver malformed results to test its validation.
  result: z.record(z.string(), z.unknown()).optional(),
  events: z.array(z.strictObject({ type: z.string(), data: z.unknown().optional() })).optional(),
  misbehave: z.enum(MOCK_MISBEHAVIOURS).optional(),
  echoFeedbackTo: z.string().min(1).optional(),
};

const MockScriptSchema = z.strictObject({
  ...MockStepShape,
  attempts: z.array(z.strictObject(MockStepShape)).optional(),
});

/**
 * Checks the `mock` agent's script (`agentInput.mock`, see mock-script.ts) before anything is
 * recorded: the agent itself skips what it does not know, so a misspelt `wirte` would apply no
 * edit and the run would end `EMPTY_PATCH` with nothing pointing at the typo. Other keys of
 * `agentInput` are left alone (jobs may carry input for their own tooling).
 */
export function checkMockScript(agentInput: unknown): void {
  if (typeof agentInput !== 'object' || agentInput === null || !('mock' in agentInput)) return;
  const parsed = MockScriptSchema.safeParse(agentInput.mock);
  if (parsed.success) return;
  const { first, summary } = describeZodError(parsed.error);
  const field = first.field === '' ? 'agentInput.mock' : `agentInput.mock.${first.field}`;
  // The first problem's field travels in details; a second one is named in the message.
  const problems = parsed.error.issues.length === 1 ? first.message : summary;
  throw new AasError('JOB_INVALID', `the mock agent's script is not valid: ${problems}`, {
    field,
    hint:
      `a step takes ${Object.keys(MockStepShape).join(', ')} (the script also attempts); ` +
      `an edit takes ${Object.keys(MockEditSchema.shape).join(', ')}`,
  });
}
