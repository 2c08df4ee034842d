import type { DriverResult } from './driver-result.js';

/**
 * The script the built-in `mock` agent follows, passed as `job.input.mock`. Types only: the
 * mock agent process reads the same shape from job.json without importing anything.
 */
export interface MockEdit {
  /** Relative to the workspace (deliberately not confined: gates must catch escapes). */
  readonly path: string;
  readonly write?: string;
  readonly writeBase64?: string;
  readonly append?: string;
  readonly delete?: true;
  /** Relative to the workspace, like `path`. */
  readonly renameTo?: string;
  /** Octal mode, like '755'. */
  readonly chmod?: string;
  /** Creates `path` as a symlink pointing at this target (taken verbatim). */
  readonly symlinkTo?: string;
}

export const MOCK_MISBEHAVIOURS = [
  'garbage-result',
  'no-result',
  'exit-nonzero',
  'flood-output',
  'hang',
  'flood-events',
  'escape-workspace',
] as const;
export type MockMisbehaviour = (typeof MOCK_MISBEHAVIOURS)[number];

export interface MockStep {
  readonly edits?: readonly MockEdit[];
  /** Merged over the default result ({ status: 'succeeded', summary, recommendedAction: 'promote' }). */
  readonly result?: Partial<DriverResult>;
  readonly events?: readonly { readonly type: string; readonly data?: unknown }[];
  readonly misbehave?: MockMisbehaviour;
  /** Writes the job's feedback JSON to this workspace path, proving retries get gate feedback. */
  readonly echoFeedbackTo?: string;
}

/** Attempt N runs `attempts[N-1]`, else the last entry of `attempts`, else the top-level step. */
export type MockScript = MockStep & { readonly attempts?: readonly MockStep[] };
