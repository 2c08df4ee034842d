import { describe, expect, it } from 'vitest';
import { findBodyProblem, isStorableText, MAX_BODY_DEPTH } from './body-guard.js';

function nested(depth: number): unknown {
  let value: unknown = 'leaf';
  for (let i = 0; i < depth; i += 1) value = { a: value };
  return value;
}

describe('body guard', () => {
  it('accepts ordinary JSON, emoji (surrogate pairs) included', () => {
    expect(findBodyProblem({ task: 'fix 😀', labels: ['a', 'b'], n: 1, x: null, y: [true] })).toBe(
      null,
    );
    expect(findBodyProblem(nested(MAX_BODY_DEPTH))).toBeNull();
    expect(isStorableText('𝄞 music')).toBe(true);
  });

  it('names the first value or key holding U+0000 or an unpaired surrogate', () => {
    expect(findBodyProblem({ task: 'a\u0000b' })?.field).toBe('task');
    expect(findBodyProblem({ labels: ['ok', 'bad\ud800'] })?.field).toBe('labels.1');
    expect(findBodyProblem({ agentInput: { 'k\u0000': 1 } })?.field).toBe('agentInput.k\u0000');
    expect(findBodyProblem({ a: 'x\udc00y', b: '\u0000' })?.field).toBe('a');
    expect(findBodyProblem('\u0000')?.field).toBe('(body)');
    expect(isStorableText('\ud83d')).toBe(false);
  });

  it('refuses nesting deeper than the limit without recursing', () => {
    expect(findBodyProblem(nested(MAX_BODY_DEPTH + 1))?.message).toMatch(/nest/);
    let deep: unknown = [];
    for (let i = 0; i < 200_000; i += 1) deep = [deep];
    expect(findBodyProblem({ agentInput: deep })?.field).toMatch(/^agentInput\.0\.0/);
  });
});
