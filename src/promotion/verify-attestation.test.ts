import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeEventHash, GENESIS_HASH, isAasError, sha256Hex } from '../kernel/index.js';
import { type DsseEnvelope, signEnvelope } from './dsse.js';
import {
  buildStatement,
  PROVENANCE_PAYLOAD_TYPE,
  type PromotionPredicate,
  statementBytes,
} from './provenance-statement.js';
import { loadOrCreateSigningKey, type SigningKey } from './signing-key.js';
import {
  ATTESTATION_CHECKS,
  type AttestationVerdict,
  type AttestedEvent,
  verifyAttestation,
} from './verify-attestation.js';

const SESSION = 'ses_1';
const PATCH = Buffer.from('diff --git a/x b/x\n+hello\n');

let dir = '';
let key: SigningKey;
let otherKey: SigningKey;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aas-keys-'));
  key = await loadOrCreateSigningKey(join(dir, 'a'));
  otherKey = await loadOrCreateSigningKey(join(dir, 'b'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A session's history: bob requests run_1 (seq 1), which completes with PATCH (seq 2); carol
 * approves it (seq 3); progress after that.
 */
function historyEvent(seq: number, patchSha256: string): { type: string; data: unknown } {
  switch (seq) {
    case 1:
      return { type: 'session.created', data: { task: 't', requestedBy: 'bob', step: 1 } };
    case 2:
      return { type: 'run.completed', data: { runId: 'run_1', patchSha256, step: 2 } };
    case 3:
      return {
        type: 'approval.recorded',
        data: {
          runId: 'run_1',
          approvalId: 'apr_1',
          decision: 'approved',
          decidedBy: 'carol',
          patchSha256,
        },
      };
    default:
      return { type: 'run.progress', data: { step: seq } };
  }
}

function chain(
  count: number,
  sessionId = SESSION,
  patchSha256 = sha256Hex(PATCH),
): AttestedEvent[] {
  const events: AttestedEvent[] = [];
  let prevHash = GENESIS_HASH;
  for (let seq = 1; seq <= count; seq += 1) {
    const fields = {
      sessionId,
      seq,
      ...historyEvent(seq, patchSha256),
      at: `2026-01-01T00:00:0${seq}.000Z`,
      actor: 'system',
      prevHash,
    };
    const hash = computeEventHash(fields);
    events.push({ ...fields, hash });
    prevHash = hash;
  }
  return events;
}

function predicate(head: { seq: number; hash: string }): PromotionPredicate {
  return {
    runId: 'run_1',
    sessionId: SESSION,
    repo: '/srv/repo',
    targetBranch: 'main',
    baseCommit: 'b'.repeat(40),
    agent: { id: 'mock', version: null },
    policyDigest: 'c'.repeat(64),
    gates: [{ name: 'static', verdict: 'passed', code: null }],
    approvers: [],
    requestedBy: 'bob',
    producedBy: ['wrk_1'],
    sessionHead: head,
    promotion: { mode: 'patch', branch: null, remote: null },
    createdAt: '2026-01-01T00:01:00.000Z',
  };
}

/** A signed attestation anchored at event `headSeq` of `events`. */
function attest(
  events: readonly AttestedEvent[],
  headSeq: number,
  signer: SigningKey = key,
  claims: Partial<PromotionPredicate> & { patch?: Buffer } = {},
): DsseEnvelope {
  const head = events[headSeq - 1];
  if (head === undefined) throw new Error('no such head');
  const { patch = PATCH, ...overrides } = claims;
  const statement = buildStatement({
    patchName: 'run_1.patch',
    patchSha256: sha256Hex(patch),
    commitSha: 'a'.repeat(40),
    predicate: { ...predicate({ seq: head.seq, hash: head.hash }), ...overrides },
  });
  return signEnvelope(PROVENANCE_PAYLOAD_TYPE, statementBytes(statement), signer);
}

function publicKeys(): { keyId: string; publicKeyPem: string }[] {
  return [{ keyId: key.keyId, publicKeyPem: key.publicKeyPem }];
}

function check(verdict: AttestationVerdict, name: (typeof ATTESTATION_CHECKS)[number]) {
  const found = verdict.checks.find((item) => item.name === name);
  if (found === undefined) throw new Error(`no ${name} check`);
  return found;
}

describe('verifyAttestation', () => {
  it('accepts a genuine attestation with its patch and chain', () => {
    const events = chain(5);
    const verdict = verifyAttestation({
      envelope: attest(events, 4),
      publicKeys: publicKeys(),
      patch: PATCH,
      // Events after the head (the promotion itself, say) are fine, and order is by seq.
      events: [...events].reverse(),
    });
    expect(verdict.ok).toBe(true);
    expect(verdict.checks.map((item) => item.name)).toEqual([...ATTESTATION_CHECKS]);
    expect(verdict.checks.every((item) => item.ok && !item.skipped)).toBe(true);
    expect(verdict.keyId).toBe(key.keyId);
    expect(verdict.statement?.predicate.sessionHead.seq).toBe(4);
  });

  it('marks the patch and chain checks skipped when not given', () => {
    const verdict = verifyAttestation({ envelope: attest(chain(2), 2), publicKeys: publicKeys() });
    expect(verdict.ok).toBe(true);
    expect(check(verdict, 'patch_digest')).toEqual({
      name: 'patch_digest',
      ok: true,
      skipped: true,
      detail: 'no patch given',
    });
    expect(check(verdict, 'chain_link')).toMatchObject({ ok: true, skipped: true });
    expect(check(verdict, 'signature')).toMatchObject({ ok: true, skipped: false });
  });

  it('fails the patch digest for a tampered patch', () => {
    const tampered = Buffer.from(PATCH);
    tampered[tampered.length - 2] = 0x21;
    const verdict = verifyAttestation({
      envelope: attest(chain(2), 2),
      publicKeys: publicKeys(),
      patch: tampered,
    });
    expect(verdict.ok).toBe(false);
    expect(check(verdict, 'patch_digest')).toMatchObject({ ok: false, skipped: false });
    expect(check(verdict, 'patch_digest').detail).toContain(sha256Hex(tampered));
    expect(check(verdict, 'signature').ok).toBe(true);
  });

  it('fails the chain link for an edited, removed or foreign event', () => {
    const events = chain(5);
    const envelope = attest(events, 5);
    const edited = events.map((event) =>
      event.seq === 2 ? { ...event, data: { step: 'rewritten' } } : event,
    );
    const rehashedOne = events.map((event) =>
      event.seq === 3
        ? { ...event, actor: 'mallory', hash: computeEventHash({ ...event, actor: 'mallory' }) }
        : event,
    );
    const foreign = chain(5, 'ses_other');
    const cases: [readonly AttestedEvent[], string][] = [
      [edited, 'event 2 content does not match its hash'],
      [rehashedOne, 'event 4 prevHash'],
      [events.filter((event) => event.seq !== 3), 'expected seq 3, found 4'],
      [[...events, events[1] as AttestedEvent], 'expected seq 3, found 2'],
      [events.slice(0, 4), 'does not reach the attested head seq 5'],
      [foreign, 'belongs to session ses_other'],
      [[], 'does not reach'],
    ];
    for (const [given, detail] of cases) {
      const verdict = verifyAttestation({ envelope, publicKeys: publicKeys(), events: given });
      expect(verdict.ok).toBe(false);
      expect(check(verdict, 'chain_link').ok).toBe(false);
      expect(check(verdict, 'chain_link').detail).toContain(detail);
    }
  });

  it('checks the attested patch, requester and approvers against the events', () => {
    const events = chain(4);
    const verify = (envelope: DsseEnvelope, patch: Buffer = PATCH) =>
      verifyAttestation({ envelope, publicKeys: publicKeys(), patch, events });
    const approved = verify(
      attest(events, 4, key, {
        approvers: [{ name: 'carol', decidedAt: '2026-01-01T00:00:03.000Z' }],
      }),
    );
    expect(check(approved, 'history')).toMatchObject({ ok: true, skipped: false });
    expect(check(approved, 'history').detail).toContain('1 approver(s)');

    // Signed over records changed outside AAS: another patch, requester or approver.
    const swapped = Buffer.from('diff --git a/x b/x\n+EVIL\n');
    const cases: [DsseEnvelope, string, Buffer][] = [
      [
        attest(events, 4, key, { patch: swapped }),
        `the attested patch ${sha256Hex(swapped)} is not the one run.completed recorded (${sha256Hex(PATCH)})`,
        swapped,
      ],
      [
        attest(events, 4, key, { requestedBy: 'alice' }),
        "the attested requester alice is not session.created's (bob)",
        PATCH,
      ],
      [
        attest(events, 4, key, {
          approvers: [{ name: 'bob', decidedAt: '2026-01-01T00:00:03.000Z' }],
        }),
        `bob recorded no approval of patch ${sha256Hex(PATCH)}`,
        PATCH,
      ],
    ];
    for (const [envelope, detail, patch] of cases) {
      const verdict = verify(envelope, patch);
      expect(verdict.ok, detail).toBe(false);
      expect(check(verdict, 'chain_link').ok).toBe(true);
      expect(check(verdict, 'patch_digest').ok).toBe(true);
      expect(check(verdict, 'history').detail).toContain(detail);
    }
    // An approval recorded after the attested head is not history the attestation stood on.
    const early = verify(
      attest(events, 2, key, {
        approvers: [{ name: 'carol', decidedAt: '2026-01-01T00:00:03.000Z' }],
      }),
    );
    expect(check(early, 'history').ok).toBe(false);
  });

  it('fails the chain link when the attested head hash is not the chain', () => {
    const events = chain(3);
    // The same chain re-recorded with one timestamp changed: internally consistent, but not the
    // history the attestation was made over.
    const rewritten: AttestedEvent[] = [];
    let prevHash = GENESIS_HASH;
    for (const event of events) {
      const fields = {
        ...event,
        at: event.seq === 1 ? '2025-01-01T00:00:00.000Z' : event.at,
        prevHash,
      };
      const hash = computeEventHash(fields);
      rewritten.push({ ...fields, hash });
      prevHash = hash;
    }
    const envelope = attest(events, 3);
    const verdict = verifyAttestation({ envelope, publicKeys: publicKeys(), events: rewritten });
    expect(verdict.ok).toBe(false);
    expect(check(verdict, 'chain_link').detail).toContain(
      `event 3 has hash ${rewritten[2]?.hash}, but the attestation records ${events[2]?.hash}`,
    );
    // The original chain still verifies against the same attestation.
    expect(verifyAttestation({ envelope, publicKeys: publicKeys(), events }).ok).toBe(true);
  });

  it('fails the signature for an untrusted signer or tampered payload without throwing', () => {
    const events = chain(2);
    const byOther = verifyAttestation({
      envelope: attest(events, 2, otherKey),
      publicKeys: publicKeys(),
      patch: PATCH,
      events,
    });
    expect(byOther.ok).toBe(false);
    expect(byOther.statement).toBeNull();
    expect(check(byOther, 'signature')).toMatchObject({ ok: false, skipped: false });
    for (const name of ['statement', 'patch_digest', 'chain_link'] as const) {
      expect(check(byOther, name)).toMatchObject({ ok: false, skipped: true });
    }

    const envelope = attest(events, 2);
    const payload = Buffer.from(envelope.payload, 'base64');
    const forged = Buffer.from(payload.toString('utf8').replace('"bob"', '"eve"'));
    const tampered = verifyAttestation({
      envelope: { ...envelope, payload: forged.toString('base64') },
      publicKeys: publicKeys(),
    });
    expect(tampered.ok).toBe(false);
    expect(check(tampered, 'signature').ok).toBe(false);
  });

  it('fails the statement check for a wrong payload type or non-canonical bytes', () => {
    const events = chain(2);
    const envelope = attest(events, 2);
    const bytes = Buffer.from(envelope.payload, 'base64');
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    const cases: [DsseEnvelope, string][] = [
      [signEnvelope('application/json', bytes, key), 'payload type'],
      [
        signEnvelope(PROVENANCE_PAYLOAD_TYPE, Buffer.from(JSON.stringify(value, null, 2)), key),
        'not the canonical JSON',
      ],
      [
        signEnvelope(PROVENANCE_PAYLOAD_TYPE, Buffer.from('{"_type":"x"}'), key),
        'not a promotion statement',
      ],
      [signEnvelope(PROVENANCE_PAYLOAD_TYPE, Buffer.from([0xff, 0xfe]), key), 'not UTF-8 JSON'],
    ];
    for (const [signed, detail] of cases) {
      const verdict = verifyAttestation({ envelope: signed, publicKeys: publicKeys(), events });
      expect(verdict.ok).toBe(false);
      expect(verdict.statement).toBeNull();
      expect(check(verdict, 'signature').ok).toBe(true);
      expect(check(verdict, 'statement').detail).toContain(detail);
      expect(check(verdict, 'chain_link')).toMatchObject({ ok: false, skipped: true });
    }
  });

  it('never throws for arbitrary envelopes', () => {
    fc.assert(
      fc.property(fc.anything(), (envelope) => {
        const verdict = verifyAttestation({ envelope, publicKeys: publicKeys() });
        expect(verdict.ok).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('throws INVALID_ARGUMENT when given no public keys', () => {
    let code: string | undefined;
    try {
      verifyAttestation({ envelope: attest(chain(1), 1), publicKeys: [] });
    } catch (error) {
      code = isAasError(error) ? error.code : 'not an AasError';
    }
    expect(code).toBe('INVALID_ARGUMENT');
  });
});
