import { describe, expect, it } from 'vitest';
import { type AasError, isAasError } from '../kernel/index.js';
import { checkTargetBranch, parseJobSpec } from './job-spec.js';

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

  it('submits a target branch only as git would name it, saying what to write instead', () => {
    const target = (targetBranch: string) => {
      // Stored runs and schedules with such a name still read; a submission is refused.
      const job = parseJobSpec({ ...minimal, promotion: { targetBranch } });
      try {
        checkTargetBranch(job);
      } catch (thrown) {
        return thrown as AasError;
      }
      throw new Error(`expected ${targetBranch} to be refused`);
    };
    expect(target('refs/heads/main')).toMatchObject({
      code: 'JOB_INVALID',
      details: { field: 'promotion.targetBranch' },
      message:
        'not a branch name: "refs/heads/main" is a full ref name; name the branch short: "main"',
    });
    expect(target('main..x').message).toBe('not a branch name: "main..x" holds ".."');
    expect(target('HEAD').message).toBe('not a branch name: "HEAD" names a commit, not a branch');
    checkTargetBranch(parseJobSpec({ ...minimal, promotion: { targetBranch: 'release/1.x' } }));
  });

  it('takes a pin only to what a worker can be called, and quotes a value that is not', () => {
    expect(parseJobSpec({ ...minimal, worker: 'gpu-1' }).worker).toBe('gpu-1');
    // Runs stored with an embedded worker's id still read; submission refuses new ones.
    expect(parseJobSpec({ ...minimal, worker: 'worker:vm-3:4242:1' }).worker).toBe(
      'worker:vm-3:4242:1',
    );
    // No enrolment accepts such a name: the run would wait queued for good.
    const pinned = failure({ ...minimal, worker: 'Bad Name' });
    expect(pinned.details.field).toBe('worker');
    expect(pinned.message).toMatch(/^"Bad Name" is not a remote worker's name: 1-64 of/);
    expect(failure({ ...minimal, requireLabels: ['GPU'] }).message).toBe(
      '"GPU" is not a worker label: 1-64 of a-z 0-9 . _ -, starting with a letter or digit',
    );
  });

  it('refuses unknown keys and a self-declared requester', () => {
    expect(failure({ ...minimal, retires: 2 }).message).toContain('retires');
    expect(failure({ ...minimal, requestedBy: 'someone-else' }).details.field).toBe('requestedBy');
  });

  it('says what a person has to fix: a misspelt field, a missing one, a wrong value', () => {
    // The misspelling is named first, even with a required field missing because of it.
    const { task: _task, ...withoutTask } = minimal;
    expect(failure({ ...withoutTask, tsak: 'fix it', retrys: 1 })).toMatchObject({
      message: 'unknown fields "tsak", "retrys"',
      details: { field: 'tsak', hint: 'did you mean "task"?' },
    });
    expect(failure({ ...minimal, wibble: 1 }).details.hint).toMatch(
      /^the fields of a job are task, repo, /,
    );
    expect(failure({ task: 'x' })).toMatchObject({
      message: 'repo is required',
      details: { field: 'repo' },
    });
    expect(failure({ ...minimal, retries: 'twice' }).message).toBe('expected number, got "twice"');
    expect(failure({ ...minimal, validators: ['npm test'] }).message).toBe(
      'expected object, got "npm test"',
    );
  });

  it('states a bound in words, and keeps a schema message of its own', () => {
    expect(failure({ ...minimal, retries: 11 })).toMatchObject({
      message: 'must be at most 10, got 11',
      details: { field: 'retries' },
    });
    expect(failure({ ...minimal, retries: -1 }).message).toBe('must be at least 0, got -1');
    // Beyond 2^53 zod's whole-number check fails too; the field's own limit is what is said.
    expect(failure({ ...minimal, retries: 1e20 }).message).toBe('must be at most 10');
    expect(failure({ ...minimal, labels: ['x'.repeat(65)] }).message).toBe(
      'must be at most 64 characters',
    );
    expect(failure({ ...minimal, labels: [''] }).message).toBe('must not be empty');
    expect(failure({ ...minimal, validators: [{ command: 'x', timeoutSec: 0 }] }).message).toBe(
      'must be above 0, got 0',
    );
    expect(failure({ ...minimal, task: '' }).message).toBe('describe the task');
  });
});
