import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAasError } from '../kernel/index.js';
import { type DsseEnvelope, preAuthEncoding, signEnvelope, verifyEnvelope } from './dsse.js';
import { loadOrCreateSigningKey, publicKeyInfo, type SigningKey } from './signing-key.js';

const PAYLOAD_TYPE = 'application/vnd.in-toto+json';

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

function trusted(): { keyId: string; publicKeyPem: string }[] {
  return [{ keyId: key.keyId, publicKeyPem: key.publicKeyPem }];
}

function failure(run: () => unknown): { code: string; message: string } {
  try {
    run();
  } catch (error) {
    if (isAasError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a throw');
}

function withSig(envelope: DsseEnvelope, sig: string): DsseEnvelope {
  const first = envelope.signatures[0];
  if (first === undefined) throw new Error('no signature');
  return { ...envelope, signatures: [{ keyid: first.keyid, sig }] };
}

describe('preAuthEncoding', () => {
  it('matches the DSSE specification example', () => {
    expect(
      preAuthEncoding('http://example.com/HelloWorld', Buffer.from('hello world')).toString(),
    ).toBe('DSSEv1 29 http://example.com/HelloWorld 11 hello world');
  });

  it('counts bytes, not characters', () => {
    expect(preAuthEncoding('tÿpe', Buffer.from('é', 'utf8')).toString('utf8')).toBe(
      'DSSEv1 5 tÿpe 2 é',
    );
    expect(preAuthEncoding('t', Buffer.alloc(0)).toString()).toBe('DSSEv1 1 t 0 ');
  });
});

describe('signEnvelope / verifyEnvelope', () => {
  it('round-trips payload, type and key id', () => {
    const payload = Buffer.from('{"hello":"world"}');
    const envelope = signEnvelope(PAYLOAD_TYPE, payload, key);
    expect(envelope.payload).toBe(payload.toString('base64'));
    expect(envelope.signatures).toHaveLength(1);
    // Survives a JSON round trip, the way it is stored and shipped.
    const verified = verifyEnvelope(JSON.parse(JSON.stringify(envelope)), trusted());
    expect(verified).toEqual({ payloadType: PAYLOAD_TYPE, payload, keyId: key.keyId });
  });

  it('fails on any single changed byte of the payload', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 256 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (bytes, position, flip) => {
          const payload = Buffer.from(bytes);
          const envelope = signEnvelope(PAYLOAD_TYPE, payload, key);
          const tampered = Buffer.from(payload);
          const index = position % tampered.length;
          tampered[index] = (tampered[index] ?? 0) ^ flip;
          const forged = { ...envelope, payload: tampered.toString('base64') };
          expect(failure(() => verifyEnvelope(forged, trusted())).code).toBe('ATTESTATION_INVALID');
        },
      ),
      { numRuns: 200 },
    );
  });

  it('fails on any single changed character of the base64 payload', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=';
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.nat(),
        fc.constantFrom(...alphabet),
        (bytes, position, replacement) => {
          const envelope = signEnvelope(PAYLOAD_TYPE, Buffer.from(bytes), key);
          const index = position % envelope.payload.length;
          fc.pre(envelope.payload[index] !== replacement);
          const payload =
            envelope.payload.slice(0, index) + replacement + envelope.payload.slice(index + 1);
          expect(failure(() => verifyEnvelope({ ...envelope, payload }, trusted())).code).toBe(
            'ATTESTATION_INVALID',
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('fails on a changed signature or payload type', () => {
    const envelope = signEnvelope(PAYLOAD_TYPE, Buffer.from('x'), key);
    const sig = Buffer.from(envelope.signatures[0]?.sig ?? '', 'base64');
    for (let index = 0; index < sig.length; index += 7) {
      const changed = Buffer.from(sig);
      changed[index] = (changed[index] ?? 0) ^ 0x01;
      const result = failure(() =>
        verifyEnvelope(withSig(envelope, changed.toString('base64')), trusted()),
      );
      expect(result.code).toBe('ATTESTATION_INVALID');
      expect(result.message).toContain('does not verify');
    }
    expect(
      failure(() =>
        verifyEnvelope(withSig(envelope, sig.subarray(1).toString('base64')), trusted()),
      ).code,
    ).toBe('ATTESTATION_INVALID');
    expect(
      failure(() => verifyEnvelope({ ...envelope, payloadType: 'text/plain' }, trusted())).code,
    ).toBe('ATTESTATION_INVALID');
  });

  it('fails when no signature is by a trusted key, and skips untrusted co-signatures', () => {
    const byOther = signEnvelope(PAYLOAD_TYPE, Buffer.from('x'), otherKey);
    const result = failure(() => verifyEnvelope(byOther, trusted()));
    expect(result.code).toBe('ATTESTATION_INVALID');
    expect(result.message).toContain(`untrusted key ${otherKey.keyId}`);

    // A signature that claims the trusted key id but was made by another key does not verify.
    const impostor = { ...byOther, signatures: [{ ...byOther.signatures[0], keyid: key.keyId }] };
    expect(failure(() => verifyEnvelope(impostor, trusted())).code).toBe('ATTESTATION_INVALID');

    const byBoth = signEnvelope(PAYLOAD_TYPE, Buffer.from('x'), key);
    const cosigned = {
      ...byBoth,
      signatures: [...byOther.signatures, ...byBoth.signatures],
    };
    expect(verifyEnvelope(cosigned, trusted()).keyId).toBe(key.keyId);
  });

  it('refuses non-canonical base64 and malformed envelopes', () => {
    const envelope = signEnvelope(PAYLOAD_TYPE, Buffer.from('ab'), key);
    expect(envelope.payload).toBe('YWI=');
    for (const payload of ['YWI', 'YWI=\n', ' YWI=', 'YWJ=', 'YW I=', 'YWI=====']) {
      const result = failure(() => verifyEnvelope({ ...envelope, payload }, trusted()));
      expect(result).toEqual({
        code: 'ATTESTATION_INVALID',
        message: 'the envelope payload is not canonical base64',
      });
    }
    const sig = envelope.signatures[0]?.sig ?? '';
    expect(
      failure(() => verifyEnvelope(withSig(envelope, `${sig}\n`), trusted())).message,
    ).toContain('not canonical base64');
    for (const bad of [
      null,
      'envelope',
      {},
      { ...envelope, signatures: [] },
      { ...envelope, payloadType: 7 },
      { payloadType: PAYLOAD_TYPE, payload: envelope.payload },
      { ...envelope, signatures: [{ sig }] },
    ]) {
      expect(failure(() => verifyEnvelope(bad, trusted())).message).toMatch(/^not a DSSE envelope/);
    }
  });

  it('treats missing or mislabelled trusted keys as misuse', () => {
    const envelope = signEnvelope(PAYLOAD_TYPE, Buffer.from('x'), key);
    expect(failure(() => verifyEnvelope(envelope, [])).code).toBe('INVALID_ARGUMENT');
    const stranger = publicKeyInfo(
      generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    );
    expect(
      failure(() =>
        verifyEnvelope(envelope, [{ keyId: key.keyId, publicKeyPem: stranger.publicKeyPem }]),
      ).code,
    ).toBe('INVALID_ARGUMENT');
  });
});
