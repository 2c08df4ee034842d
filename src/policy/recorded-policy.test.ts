import { describe, expect, it } from 'vitest';
import { explainPolicy } from './explain-policy.js';
import { mergePolicy } from './merge-policy.js';
import { readRecordedPolicy } from './recorded-policy.js';

const policy = mergePolicy([
  {
    name: 'repo',
    source: '.aas/policy.yaml',
    layer: {
      paths: { allow: ['src/**', 'docs/**'], deny: ['src/secret/**'], runtime: ['dist/**'] },
      network: { allow: ['registry.npmjs.org:443'] },
      limits: { timeoutSec: 600, maxCostUsd: 2.5 },
      promotion: { onBaseMoved: 'block', protectedBranches: ['main'] },
    },
  },
  { name: 'job', source: 'job', layer: { paths: { allow: ['src/**'] }, tools: ['edit'] } },
]);
const PATHS = ['src/a.ts', 'src/secret/k.ts', 'docs/x.md', 'dist/app.js', '.git/config', '../x'];

/** As a `policy.resolved` event holds it after a round trip through the database. */
function recorded(): Record<string, unknown> {
  return JSON.parse(JSON.stringify(policy)) as Record<string, unknown>;
}

describe('readRecordedPolicy', () => {
  it('reads a recorded policy back into one that explains exactly as the original', () => {
    const read = readRecordedPolicy(recorded());
    if (!read.ok) throw new Error(read.problem);
    expect(read.unrecorded).toEqual([]);
    expect(read.policy).toEqual(policy);
    expect(explainPolicy(read.policy, PATHS)).toEqual(explainPolicy(policy, PATHS));
  });

  it('reports the fields an older version did not record, and still decides paths', () => {
    const old = recorded();
    const limits = old.limits as Record<string, unknown>;
    const promotion = old.promotion as Record<string, unknown>;
    const decidedBy = old.decidedBy as Record<string, unknown>;
    delete limits.cpuSec;
    delete promotion.onBaseMoved;
    delete decidedBy['limits.cpuSec'];
    delete decidedBy['promotion.onBaseMoved'];
    // A value without its provenance cannot be explained either.
    delete decidedBy.sandbox;
    const read = readRecordedPolicy(old);
    if (!read.ok) throw new Error(read.problem);
    expect(read.unrecorded).toEqual(['limits.cpuSec', 'sandbox', 'promotion.onBaseMoved']);
    expect(explainPolicy(read.policy, PATHS).paths).toEqual(explainPolicy(policy, PATHS).paths);
    // The stand-ins are the strictest values, never the original's.
    expect(read.policy.promotion.onBaseMoved).toBe('block');
    expect(read.policy.limits.cpuSec).toBe(0);
    expect(read.policy.limits.timeoutSec).toBe(600);
  });

  it('refuses a record without path rules or with a glob decidePath would not accept', () => {
    const noPaths = recorded();
    delete noPaths.paths;
    const badGlob = recorded();
    (badGlob.paths as { deny: unknown[] }).deny.push({ layer: 'repo', pattern: '/etc/**' });
    const cases: [unknown, RegExp][] = [
      [null, /expected object/i],
      ['policy', /expected object/i],
      [{ ...recorded(), version: 2 }, /^version: /],
      [noPaths, /^paths: /],
      [badGlob, /^paths\.deny\.\d+\.pattern: not a usable glob/],
    ];
    for (const [value, problem] of cases) {
      const read = readRecordedPolicy(value);
      expect(read.ok, JSON.stringify(value)?.slice(0, 40)).toBe(false);
      if (!read.ok) expect(read.problem).toMatch(problem);
    }
  });
});
