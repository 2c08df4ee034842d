import { describe, expect, it } from 'vitest';
import { ALL_CODES, CODES, ExitCode, exitCodeFor, httpStatusFor } from './codes.js';
import { AasError, isAasError, normaliseError } from './errors.js';

describe('the code table', () => {
  it('maps bad input to exit 2 and a 4xx status, never a 5xx', () => {
    for (const code of ALL_CODES) {
      if (exitCodeFor(code) === ExitCode.badInput) {
        expect(httpStatusFor(code), code).toBeGreaterThanOrEqual(400);
        expect(httpStatusFor(code), code).toBeLessThan(500);
      }
    }
  });

  it('uses the exit codes the CLI documents', () => {
    expect(exitCodeFor('GATES_PASSED')).toBe(0);
    expect(exitCodeFor('POLICY_DENIED')).toBe(3);
    expect(exitCodeFor('HUMAN_REVIEW_REQUESTED')).toBe(4);
    expect(exitCodeFor('AGENT_FAILED')).toBe(5);
    expect(exitCodeFor('INTERNAL')).toBe(1);
    expect(Object.keys(CODES).length).toBe(ALL_CODES.length);
  });
});

describe('errors', () => {
  it('normalises unknown throwables and keeps AasErrors as they are', () => {
    const original = new AasError('POLICY_INVALID', 'bad', {
      file: 'p.yaml',
      field: 'limits.timeoutSec',
      hint: 'use seconds',
    });
    expect(normaliseError(original)).toBe(original);
    expect(original.describe()).toBe('p.yaml: limits.timeoutSec: bad\n  hint: use seconds');
    expect(normaliseError(new Error('boom')).code).toBe('INTERNAL');
    expect(normaliseError('text').message).toBe('text');
    expect(isAasError({ code: 'INTERNAL' })).toBe(false);
  });
});
