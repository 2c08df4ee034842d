import { describe, expect, it } from 'vitest';
import { canonicalJson, isAasError, sha256Hex } from '../kernel/index.js';
import {
  buildStatement,
  PROMOTION_PREDICATE_TYPE,
  type PromotionPredicate,
  parseStatement,
  patchSubjectOf,
  StatementSchema,
  statementBytes,
  statementDigest,
} from './provenance-statement.js';

const PATCH_SHA = sha256Hex('diff --git a/x b/x\n');
const COMMIT = 'a'.repeat(40);

function predicate(): PromotionPredicate {
  return {
    runId: 'run_1',
    sessionId: 'ses_1',
    repo: '/srv/repo',
    targetBranch: 'main',
    baseCommit: 'b'.repeat(40),
    agent: { id: 'mock', version: '1.0.0' },
    policyDigest: 'c'.repeat(64),
    gates: [
      { name: 'static', verdict: 'passed', code: null },
      { name: 'tests', verdict: 'passed', code: 'GATES_PASSED' },
    ],
    approvers: [{ name: 'alice', decidedAt: '2026-01-01T00:00:00.000Z' }],
    requestedBy: 'bob',
    producedBy: ['wrk_1'],
    sessionHead: { seq: 3, hash: 'd'.repeat(64) },
    promotion: { mode: 'branch', branch: 'aas/run_1', remote: null },
    createdAt: '2026-01-01T00:00:01.000Z',
  };
}

/** The same value with every object's keys inserted in reverse order. */
function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).reverse()) {
    out[key] = reverseKeys((value as Record<string, unknown>)[key]);
  }
  return out;
}

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (isAasError(error)) return error.code;
    throw error;
  }
  throw new Error('expected a throw');
}

describe('buildStatement', () => {
  it('names the patch and, when given, the commit as subjects', () => {
    const statement = buildStatement({
      patchName: 'run_1.patch',
      patchSha256: PATCH_SHA,
      commitSha: COMMIT,
      predicate: predicate(),
    });
    expect(statement._type).toBe('https://in-toto.io/Statement/v1');
    expect(statement.predicateType).toBe(PROMOTION_PREDICATE_TYPE);
    expect(statement.subject).toEqual([
      { name: 'run_1.patch', digest: { sha256: PATCH_SHA } },
      { name: 'commit', digest: { gitCommit: COMMIT } },
    ]);
    expect(patchSubjectOf(statement).digest.sha256).toBe(PATCH_SHA);

    const withoutCommit = buildStatement({
      patchName: 'run_1.patch',
      patchSha256: PATCH_SHA,
      predicate: predicate(),
    });
    expect(withoutCommit.subject).toHaveLength(1);
  });

  it('refuses what verification would refuse', () => {
    const base = { patchName: 'p.patch', patchSha256: PATCH_SHA, predicate: predicate() };
    for (const bad of [
      { ...base, patchSha256: PATCH_SHA.toUpperCase() },
      { ...base, patchSha256: 'abc' },
      { ...base, commitSha: 'abc' },
      { ...base, patchName: 'commit' },
      { ...base, patchName: '' },
      { ...base, predicate: { ...predicate(), policyDigest: 'nope' } },
      { ...base, predicate: { ...predicate(), sessionHead: { seq: 0, hash: 'd'.repeat(64) } } },
    ]) {
      expect(codeOf(() => buildStatement(bad))).toBe('INVALID_ARGUMENT');
    }
  });
});

describe('statementBytes / statementDigest', () => {
  const statement = buildStatement({
    patchName: 'run_1.patch',
    patchSha256: PATCH_SHA,
    commitSha: COMMIT,
    predicate: predicate(),
  });

  it('are canonical JSON and do not depend on key order', () => {
    const bytes = statementBytes(statement);
    expect(bytes.toString('utf8')).toBe(canonicalJson(statement));
    expect(bytes.toString('utf8').startsWith('{"_type":')).toBe(true);
    const reordered = reverseKeys(statement) as typeof statement;
    expect(JSON.stringify(reordered)).not.toBe(JSON.stringify(statement));
    expect(statementBytes(reordered).equals(bytes)).toBe(true);
    expect(statementDigest(reordered)).toBe(sha256Hex(bytes));
  });

  it('change when any predicate field changes', () => {
    const digest = statementDigest(statement);
    const changed = buildStatement({
      patchName: 'run_1.patch',
      patchSha256: PATCH_SHA,
      commitSha: COMMIT,
      predicate: { ...predicate(), approvers: [] },
    });
    expect(statementDigest(changed)).not.toBe(digest);
  });
});

describe('StatementSchema', () => {
  const statement = buildStatement({
    patchName: 'run_1.patch',
    patchSha256: PATCH_SHA,
    commitSha: COMMIT,
    predicate: predicate(),
  });
  const json = (): Record<string, unknown> =>
    JSON.parse(statementBytes(statement).toString('utf8')) as Record<string, unknown>;

  it('parses the canonical bytes back to the same statement', () => {
    expect(StatementSchema.parse(json())).toEqual(statement);
  });

  it('keeps unknown predicate fields so the signed bytes survive a parse', () => {
    const value = json();
    value.predicate = { ...(value.predicate as object), futureField: { x: 1 } };
    const parsed = parseStatement(value);
    if (!parsed.ok) throw new Error(parsed.error);
    expect(canonicalJson(parsed.statement)).toBe(canonicalJson(value));
  });

  it('is strict on the statement envelope and subjects', () => {
    const patch = { name: 'p.patch', digest: { sha256: PATCH_SHA } };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...json(), _type: 'https://in-toto.io/Statement/v0.1' }, '_type'],
      [{ ...json(), predicateType: 'https://slsa.dev/provenance/v1' }, 'predicateType'],
      [{ ...json(), extra: true }, ''],
      [{ ...json(), subject: [] }, 'subject'],
      [{ ...json(), subject: [patch, patch] }, 'subject'],
      [{ ...json(), subject: [{ name: 'p', digest: { sha256: PATCH_SHA, md5: 'x' } }] }, 'subject'],
      [{ ...json(), subject: [{ name: 'commit', digest: { sha256: PATCH_SHA } }] }, 'subject'],
      [
        { ...json(), predicate: { ...predicate(), gates: [{ name: 'g', verdict: 'ok' }] } },
        'gates',
      ],
    ];
    for (const [value, field] of cases) {
      const parsed = parseStatement(value);
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.error).toContain(field);
    }
  });
});
