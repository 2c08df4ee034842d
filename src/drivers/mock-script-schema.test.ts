import { describe, expect, it } from 'vitest';
import { isAasError } from '../kernel/index.js';
import { checkMockScript } from './mock-script-schema.js';

function refusal(agentInput: unknown): { field: unknown; message: string; hint: unknown } {
  try {
    checkMockScript(agentInput);
  } catch (error) {
    if (!isAasError(error)) throw error;
    expect(error.code).toBe('JOB_INVALID');
    return { field: error.details.field, message: error.message, hint: error.details.hint };
  }
  throw new Error('the script was accepted');
}

describe('checkMockScript', () => {
  it('accepts every documented step and edit, and input without a script', () => {
    expect(() => checkMockScript(undefined)).not.toThrow();
    expect(() => checkMockScript({ command: 'x', other: 1 })).not.toThrow();
    expect(() =>
      checkMockScript({
        mock: {
          edits: [
            { path: 'a.txt', write: 'a' },
            { path: 'b.bin', writeBase64: 'AAE=' },
            { path: 'c.txt', append: 'c' },
            { path: 'd.txt', delete: true },
            { path: 'e.txt', renameTo: 'f.txt', chmod: '755' },
            { path: 'g', symlinkTo: '../outside' },
          ],
          events: [{ type: 'mock.note', data: { n: 1 } }, { type: 'mock.bare' }],
          result: { status: 'not-a-status' },
          echoFeedbackTo: 'feedback.json',
          attempts: [{ misbehave: 'exit-nonzero' }, { edits: [{ path: 'a.txt', write: 'b' }] }],
        },
      }),
    ).not.toThrow();
  });

  it('names a misspelt edit key, where it is, and the keys an edit takes', () => {
    const refused = refusal({ mock: { edits: [{ path: 'a.txt', wirte: 'x' }] } });
    expect(refused.field).toBe('agentInput.mock.edits.0.wirte');
    expect(refused.message).toContain('unknown field "wirte"');
    expect(refused.hint).toContain('an edit takes path, write,');
  });

  it('refuses an unknown misbehaviour, a mode that is not octal and a script that is no object', () => {
    expect(refusal({ mock: { attempts: [{ misbehave: 'explode' }] } }).field).toBe(
      'agentInput.mock.attempts.0.misbehave',
    );
    expect(refusal({ mock: { edits: [{ path: 'a', chmod: '9' }] } }).field).toBe(
      'agentInput.mock.edits.0.chmod',
    );
    expect(refusal({ mock: 'edit a.txt' }).field).toBe('agentInput.mock');
  });
});
