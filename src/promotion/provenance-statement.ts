import { z } from 'zod';
import { AasError, canonicalJson, sha256Hex } from '../kernel/index.js';

export const PROVENANCE_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const PROMOTION_PREDICATE_TYPE = 'https://aas.dev/attestation/promotion/v1';
/** The subject name reserved for the base commit, so it can never be mistaken for the patch. */
export const COMMIT_SUBJECT_NAME = 'commit';

const sha256Hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits');
const gitCommitHex = z.string().regex(/^[0-9a-f]{40}$/, 'expected 40 lowercase hex digits');
const timestamp = z.iso.datetime({ offset: true });
const nonEmpty = z.string().min(1);

export interface PromotionPredicate {
  readonly runId: string;
  readonly sessionId: string;
  readonly repo: string;
  readonly targetBranch: string;
  readonly baseCommit: string;
  readonly agent: { readonly id: string; readonly version: string | null };
  /** SHA-256 hex of the effective (merged) policy the run was judged under. */
  readonly policyDigest: string;
  readonly gates: readonly {
    readonly name: string;
    readonly verdict: 'passed' | 'failed';
    readonly code: string | null;
  }[];
  readonly approvers: readonly { readonly name: string; readonly decidedAt: string }[];
  readonly requestedBy: string;
  /** Worker and lease-owner ids that produced the patch. */
  readonly producedBy: readonly string[];
  /** The session event the attestation is anchored to; the chain up to it is tamper-evident. */
  readonly sessionHead: { readonly seq: number; readonly hash: string };
  readonly promotion: {
    readonly mode: string;
    readonly branch: string | null;
    readonly remote: string | null;
  };
  readonly createdAt: string;
}

export interface PatchSubject {
  readonly name: string;
  readonly digest: { readonly sha256: string };
}

export interface CommitSubject {
  readonly name: typeof COMMIT_SUBJECT_NAME;
  readonly digest: { readonly gitCommit: string };
}

export interface Statement {
  readonly _type: typeof STATEMENT_TYPE;
  readonly subject: readonly (PatchSubject | CommitSubject)[];
  readonly predicateType: typeof PROMOTION_PREDICATE_TYPE;
  readonly predicate: PromotionPredicate;
}

// Loose: a later minor revision may add predicate fields, and old verifiers should still read
// the ones they know. Unknown fields stay in the parsed value, so canonical bytes are preserved.
const PromotionPredicateSchema = z.looseObject({
  runId: nonEmpty,
  sessionId: nonEmpty,
  repo: nonEmpty,
  targetBranch: nonEmpty,
  baseCommit: gitCommitHex,
  agent: z.strictObject({ id: nonEmpty, version: z.string().nullable() }),
  policyDigest: sha256Hex64,
  gates: z.array(
    z.strictObject({
      name: nonEmpty,
      verdict: z.enum(['passed', 'failed']),
      code: z.string().nullable(),
    }),
  ),
  approvers: z.array(z.strictObject({ name: nonEmpty, decidedAt: timestamp })),
  requestedBy: nonEmpty,
  producedBy: z.array(nonEmpty),
  sessionHead: z.strictObject({ seq: z.int().min(1), hash: sha256Hex64 }),
  promotion: z.strictObject({
    mode: nonEmpty,
    branch: z.string().nullable(),
    remote: z.string().nullable(),
  }),
  createdAt: timestamp,
});

const CommitSubjectSchema = z.strictObject({
  name: z.literal(COMMIT_SUBJECT_NAME),
  digest: z.strictObject({ gitCommit: gitCommitHex }),
});

const PatchSubjectSchema = z.strictObject({
  name: nonEmpty.refine((name) => name !== COMMIT_SUBJECT_NAME, {
    message: `the patch subject may not be named "${COMMIT_SUBJECT_NAME}"`,
  }),
  digest: z.strictObject({ sha256: sha256Hex64 }),
});

export const StatementSchema = z
  .strictObject({
    _type: z.literal(STATEMENT_TYPE),
    subject: z.array(z.union([CommitSubjectSchema, PatchSubjectSchema])),
    predicateType: z.literal(PROMOTION_PREDICATE_TYPE),
    predicate: PromotionPredicateSchema,
  })
  .superRefine((statement, context) => {
    // Exactly one patch: with two, "the patch digest matches a subject" would be ambiguous.
    const patches = statement.subject.filter(isPatchSubject).length;
    const commits = statement.subject.length - patches;
    if (patches !== 1) {
      context.addIssue({
        code: 'custom',
        path: ['subject'],
        message: `expected exactly one patch subject, found ${patches}`,
      });
    }
    if (commits > 1) {
      context.addIssue({
        code: 'custom',
        path: ['subject'],
        message: `expected at most one commit subject, found ${commits}`,
      });
    }
  });

export interface BuildStatementInput {
  readonly patchName: string;
  readonly patchSha256: string;
  readonly commitSha?: string;
  readonly predicate: PromotionPredicate;
}

/** Builds and validates a statement, so nothing is ever signed that verification would refuse. */
export function buildStatement(input: BuildStatementInput): Statement {
  const subject: (PatchSubject | CommitSubject)[] = [
    { name: input.patchName, digest: { sha256: input.patchSha256 } },
  ];
  if (input.commitSha !== undefined) {
    subject.push({ name: COMMIT_SUBJECT_NAME, digest: { gitCommit: input.commitSha } });
  }
  const parsed = parseStatement({
    _type: STATEMENT_TYPE,
    subject,
    predicateType: PROMOTION_PREDICATE_TYPE,
    predicate: input.predicate,
  });
  if (!parsed.ok) {
    throw new AasError(
      'INVALID_ARGUMENT',
      `cannot build the provenance statement: ${parsed.error}`,
    );
  }
  return parsed.statement;
}

/** Parses a statement; `error` names the first failing field. */
export function parseStatement(
  value: unknown,
): { ok: true; statement: Statement } | { ok: false; error: string } {
  const result = StatementSchema.safeParse(value);
  if (result.success) return { ok: true, statement: result.data };
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  return { ok: false, error: `${where}${issue?.message ?? 'invalid statement'}` };
}

/** The one byte form of a statement: canonical JSON, so equal statements sign identically. */
export function statementBytes(statement: Statement): Buffer {
  return Buffer.from(canonicalJson(statement), 'utf8');
}

export function statementDigest(statement: Statement): string {
  return sha256Hex(statementBytes(statement));
}

/** The subject carrying the patch digest; a parsed statement has exactly one. */
export function patchSubjectOf(statement: Statement): PatchSubject {
  const subject = statement.subject.find(isPatchSubject);
  if (subject !== undefined) return subject;
  throw new AasError('INVALID_ARGUMENT', 'the statement has no patch subject');
}

function isPatchSubject(subject: PatchSubject | CommitSubject): subject is PatchSubject {
  return 'sha256' in subject.digest;
}
