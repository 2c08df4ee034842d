import {
  AasError,
  computeEventHash,
  GENESIS_HASH,
  type HashedEventFields,
  isAasError,
  sha256Hex,
} from '../kernel/index.js';
import { verifyEnvelope } from './dsse.js';
import { recordedHistory } from './history-agreement.js';
import {
  PROVENANCE_PAYLOAD_TYPE,
  parseStatement,
  patchSubjectOf,
  type Statement,
  statementBytes,
} from './provenance-statement.js';
import type { PublicKeyInfo } from './signing-key.js';

export const ATTESTATION_CHECKS = [
  'signature',
  'statement',
  'patch_digest',
  'chain_link',
  'history',
] as const;
export type AttestationCheckName = (typeof ATTESTATION_CHECKS)[number];

export interface AttestationCheck {
  readonly name: AttestationCheckName;
  readonly ok: boolean;
  /**
   * The check was not evaluated: either its input was not given (ok stays true, the caller
   * chose not to check it) or an earlier check failed (ok is false, nothing was proven).
   */
  readonly skipped: boolean;
  readonly detail: string;
}

export interface AttestationVerdict {
  /** Every check is ok. Skipped-but-ok checks count as ok; read `skipped` to tell them apart. */
  readonly ok: boolean;
  /** Always all of them, in the order of ATTESTATION_CHECKS. */
  readonly checks: readonly AttestationCheck[];
  /** The statement, when the signature verified and the payload parsed as one. */
  readonly statement: Statement | null;
  /** The trusted key whose signature verified. */
  readonly keyId: string | null;
}

/** A session event as stored: the hashed fields plus the hash itself. */
export interface AttestedEvent extends HashedEventFields {
  readonly hash: string;
}

export interface VerifyAttestationInput {
  readonly envelope: unknown;
  readonly publicKeys: readonly PublicKeyInfo[];
  /** The patch bytes to compare against the patch subject; omitted means not checked. */
  readonly patch?: Buffer;
  /** The session's events from seq 1; omitted means the chain link is not checked. */
  readonly events?: readonly AttestedEvent[];
}

/**
 * Verifies a promotion attestation end to end. A bad attestation never throws: it yields
 * failed checks, so `aas verify` can show every reason at once. Misuse (no keys, a key whose
 * id is not its fingerprint) still throws INVALID_ARGUMENT.
 */
export function verifyAttestation(input: VerifyAttestationInput): AttestationVerdict {
  if (input.publicKeys.length === 0) {
    throw new AasError('INVALID_ARGUMENT', 'verifyAttestation needs at least one public key', {
      hint: 'pass the public key(s) of the installation that signed the attestation',
    });
  }

  let verified: { payloadType: string; payload: Buffer; keyId: string };
  try {
    verified = verifyEnvelope(input.envelope, input.publicKeys);
  } catch (error) {
    if (isAasError(error) && error.code === 'ATTESTATION_INVALID') {
      const notEvaluated = 'not evaluated: the signature did not verify';
      return verdict(null, null, [
        fail('signature', error.message),
        notChecked('statement', notEvaluated),
        notChecked('patch_digest', notEvaluated),
        notChecked('chain_link', notEvaluated),
        notChecked('history', notEvaluated),
      ]);
    }
    throw error;
  }
  const signature = pass('signature', `signed by ${verified.keyId}`);

  const statementCheck = checkStatement(verified.payloadType, verified.payload);
  if (!statementCheck.ok) {
    const notEvaluated = 'not evaluated: the payload is not a valid promotion statement';
    return verdict(null, verified.keyId, [
      signature,
      fail('statement', statementCheck.error),
      notChecked('patch_digest', notEvaluated),
      notChecked('chain_link', notEvaluated),
      notChecked('history', notEvaluated),
    ]);
  }
  const statement = statementCheck.statement;
  const chain = checkChainLink(statement, input.events);
  return verdict(statement, verified.keyId, [
    signature,
    pass('statement', `${statement.predicateType} for run ${statement.predicate.runId}`),
    checkPatch(statement, input.patch),
    chain,
    checkHistory(statement, input.events, chain),
  ]);
}

/**
 * The statement against the history it is anchored to: the patch it names is the one the run's
 * `run.completed` recorded, its requester is `session.created`'s, and each approver recorded an
 * approval of that patch. A chain that verifies proves only the events; a statement signed over
 * records changed outside AAS (the database's tables) would otherwise verify as well.
 */
function checkHistory(
  statement: Statement,
  events: readonly AttestedEvent[] | undefined,
  chain: AttestationCheck,
): AttestationCheck {
  if (events === undefined) return skippedOk('history', 'no events given');
  if (!chain.ok) return notChecked('history', 'not evaluated: the chain did not verify');
  const { runId, requestedBy, approvers, sessionHead } = statement.predicate;
  const history = recordedHistory(
    events.filter((event) => event.seq <= sessionHead.seq),
    runId,
  );
  const patch = patchSubjectOf(statement).digest.sha256;
  const problems: string[] = [];
  if (history.patchSha256 !== patch) {
    problems.push(
      `the attested patch ${patch} is not the one run.completed recorded (${history.patchSha256 ?? 'none'})`,
    );
  }
  if (history.requestedBy !== requestedBy) {
    problems.push(
      `the attested requester ${requestedBy} is not session.created's (${history.requestedBy ?? 'none'})`,
    );
  }
  const approvedBy = new Set(
    [...history.approvals.values()]
      .filter((approval) => approval.decision === 'approved' && approval.patchSha256 === patch)
      .map((approval) => approval.decidedBy),
  );
  for (const approver of approvers) {
    if (!approvedBy.has(approver.name)) {
      problems.push(`${approver.name} recorded no approval of patch ${patch}`);
    }
  }
  if (problems.length > 0) return fail('history', problems.join('; '));
  return pass(
    'history',
    `the patch, the requester and ${approvers.length} approver(s) are those the events record`,
  );
}

function checkStatement(
  payloadType: string,
  payload: Buffer,
): { ok: true; statement: Statement } | { ok: false; error: string } {
  if (payloadType !== PROVENANCE_PAYLOAD_TYPE) {
    return {
      ok: false,
      error: `payload type is ${JSON.stringify(payloadType)}, expected ${PROVENANCE_PAYLOAD_TYPE}`,
    };
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch (error) {
    return { ok: false, error: `payload is not UTF-8 JSON: ${(error as Error).message}` };
  }
  const parsed = parseStatement(value);
  if (!parsed.ok) return { ok: false, error: `not a promotion statement: ${parsed.error}` };
  // Only the canonical bytes are accepted: JSON with duplicate keys or other variations can read
  // differently in different parsers, and the signature should pin one meaning.
  if (!statementBytes(parsed.statement).equals(payload)) {
    return { ok: false, error: 'payload is not the canonical JSON encoding of the statement' };
  }
  return parsed;
}

function checkPatch(statement: Statement, patch: Buffer | undefined): AttestationCheck {
  if (patch === undefined) return skippedOk('patch_digest', 'no patch given');
  const subject = patchSubjectOf(statement);
  const actual = sha256Hex(patch);
  if (actual !== subject.digest.sha256) {
    return fail(
      'patch_digest',
      `sha256 of the patch is ${actual}, but subject ${subject.name} records ${subject.digest.sha256}`,
    );
  }
  return pass('patch_digest', `${subject.name} sha256 ${actual}`);
}

/**
 * Recomputes the whole given chain from genesis, then requires the event the statement is
 * anchored to. An edit anywhere up to the head changes the head hash, so a matching head proves
 * the recorded history the promotion was decided on is the one presented.
 */
function checkChainLink(
  statement: Statement,
  events: readonly AttestedEvent[] | undefined,
): AttestationCheck {
  if (events === undefined) return skippedOk('chain_link', 'no events given');
  const { sessionId, sessionHead } = statement.predicate;
  const ordered = [...events].sort((a, b) => a.seq - b.seq);
  let prevHash = GENESIS_HASH;
  let headHash: string | null = null;
  for (const [index, event] of ordered.entries()) {
    const expectedSeq = index + 1;
    if (event.seq !== expectedSeq) {
      return fail(
        'chain_link',
        `expected seq ${expectedSeq}, found ${event.seq} (gap or duplicate)`,
      );
    }
    if (event.sessionId !== sessionId) {
      return fail(
        'chain_link',
        `event ${event.seq} belongs to session ${event.sessionId}, not ${sessionId}`,
      );
    }
    if (event.prevHash !== prevHash) {
      return fail('chain_link', `event ${event.seq} prevHash does not match the previous event`);
    }
    let recomputed: string;
    try {
      recomputed = computeEventHash(event);
    } catch (error) {
      return fail('chain_link', `event ${event.seq} cannot be hashed: ${(error as Error).message}`);
    }
    if (recomputed !== event.hash) {
      return fail('chain_link', `event ${event.seq} content does not match its hash (edited?)`);
    }
    if (event.seq === sessionHead.seq) headHash = event.hash;
    prevHash = event.hash;
  }
  if (headHash === null) {
    return fail(
      'chain_link',
      `the chain ends at seq ${ordered.length} and does not reach the attested head seq ${sessionHead.seq}`,
    );
  }
  if (headHash !== sessionHead.hash) {
    return fail(
      'chain_link',
      `event ${sessionHead.seq} has hash ${headHash}, but the attestation records ${sessionHead.hash}`,
    );
  }
  return pass(
    'chain_link',
    `session ${sessionId} verifies from genesis to seq ${sessionHead.seq} (${ordered.length} events given)`,
  );
}

function verdict(
  statement: Statement | null,
  keyId: string | null,
  checks: AttestationCheck[],
): AttestationVerdict {
  return { ok: checks.every((check) => check.ok), checks, statement, keyId };
}

function pass(name: AttestationCheckName, detail: string): AttestationCheck {
  return { name, ok: true, skipped: false, detail };
}

function fail(name: AttestationCheckName, detail: string): AttestationCheck {
  return { name, ok: false, skipped: false, detail };
}

function skippedOk(name: AttestationCheckName, detail: string): AttestationCheck {
  return { name, ok: true, skipped: true, detail };
}

function notChecked(name: AttestationCheckName, detail: string): AttestationCheck {
  return { name, ok: false, skipped: true, detail };
}
