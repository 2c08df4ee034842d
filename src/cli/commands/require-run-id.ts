import { AasError } from '../../kernel/index.js';

const RUN_ID = /^run_[0-9a-f]{24}$/;

/** INVALID_ARGUMENT for a RUN argument that cannot be a run id, before anything is asked. */
export function requireRunId(id: string): void {
  if (!RUN_ID.test(id)) {
    throw new AasError('INVALID_ARGUMENT', `"${id}" is not a run id`, {
      field: 'RUN',
      hint: 'run ids look like run_0123456789abcdef01234567 (aas sessions show SESSION lists them)',
    });
  }
}
