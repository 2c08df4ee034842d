import { describe, expect, it } from 'vitest';
import { isAasError } from '../kernel/index.js';
import { parseJobSpec } from './job-spec.js';

const minimal = { task: 'fix it', repo: '/tmp/r', agent: 'mock' };

function failure(value: unknown) {
  try {
    parseJobSpec(value, { file: 'job.json' });
  } catch (error) {
    if (isAasError(error)) return error;
  }
  throw new Error('expected a JOB_INVALID error');
}

describe('parseJobSpec', () => {
  it('fills defaults', () => {
    const job = parseJobSpec(minimal);
    expect(job.retries).toBe(0);
    expect(job.promotion.mode).toBe('patch');
    expect(job.validators).toEqual([]);
  });

  it('names the file and the field', () => {
    const error = failure({ ...minimal, retries: 'twice' });
    expect(error.code).toBe('JOB_INVALID');
    expect(error.details).toMatchObject({ file: 'job.json', field: 'retries' });
    expect(failure({ ...minimal, validators: [{ command: '' }] }).details.field).toBe(
      'validators.0.command',
    );
    expect(failure({ ...minimal, policy: { limits: { timeoutSec: -1 } } }).details.field).toBe(
      'policy.limits.timeoutSec',
    );
  });

  it('refuses unknown keys and a self-declared requester', () => {
    expect(failure({ ...minimal, retires: 2 }).message).toContain('retires');
    expect(failure({ ...minimal, requestedBy: 'someone-else' }).details.field).toBe('requestedBy');
  });
});
