import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { z } from 'zod';
import { AasError } from '../kernel/index.js';
import { type PublicKeyInfo, publicKeyInfo, type SigningKey } from './signing-key.js';

/** A DSSE v1 envelope (https://github.com/secure-systems-lab/dsse/blob/master/protocol.md). */
export interface DsseEnvelope {
  readonly payloadType: string;
  /** Standard base64 with padding. */
  readonly payload: string;
  readonly signatures: readonly { readonly keyid: string; readonly sig: string }[];
}

export interface VerifiedEnvelope {
  readonly payloadType: string;
  readonly payload: Buffer;
  /** The trusted key whose signature verified. */
  readonly keyId: string;
}

// Unknown members are ignored rather than refused: DSSE leaves room for extensions, and nothing
// outside payloadType, payload and sig is covered by the signature anyway.
const EnvelopeSchema = z.object({
  payloadType: z.string().min(1),
  payload: z.string(),
  signatures: z.array(z.object({ keyid: z.string(), sig: z.string() })).min(1),
});

/** PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, LEN in decimal bytes. */
export function preAuthEncoding(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, 'ascii'),
    type,
    Buffer.from(` ${payload.length} `, 'ascii'),
    payload,
  ]);
}

export function signEnvelope(payloadType: string, payload: Buffer, key: SigningKey): DsseEnvelope {
  const sig = key.sign(preAuthEncoding(payloadType, payload));
  return {
    payloadType,
    payload: payload.toString('base64'),
    signatures: [{ keyid: key.keyId, sig: sig.toString('base64') }],
  };
}

/**
 * Accepts the envelope when at least one signature by a trusted key verifies over the PAE.
 * Signatures by unknown keys are skipped, not fatal, so an envelope may carry co-signatures.
 * The caller still has to check `payloadType` is the one it expects.
 */
export function verifyEnvelope(
  envelope: unknown,
  publicKeys: readonly PublicKeyInfo[],
): VerifiedEnvelope {
  const trusted = trustedKeys(publicKeys);
  const parsed = EnvelopeSchema.safeParse(envelope);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    throw invalid(`not a DSSE envelope${where}: ${issue?.message ?? 'invalid shape'}`);
  }
  const { payloadType, signatures } = parsed.data;
  const payload = decodeBase64Strict(parsed.data.payload);
  if (payload === null) throw invalid('the envelope payload is not canonical base64');

  const pae = preAuthEncoding(payloadType, payload);
  const failures: string[] = [];
  for (const [index, signature] of signatures.entries()) {
    const publicKey = trusted.get(signature.keyid);
    if (publicKey === undefined) {
      failures.push(`signature ${index} names untrusted key ${signature.keyid}`);
      continue;
    }
    const sig = decodeBase64Strict(signature.sig);
    if (sig === null) {
      failures.push(`signature ${index} is not canonical base64`);
      continue;
    }
    if (verify(null, pae, publicKey, sig)) {
      return { payloadType, payload, keyId: signature.keyid };
    }
    failures.push(`signature ${index} by ${signature.keyid} does not verify`);
  }
  throw invalid(`no signature by a trusted key verifies: ${failures.join('; ')}`);
}

/**
 * Decodes standard padded base64, or returns null when `text` is not the one canonical encoding
 * of its bytes. Node's decoder silently skips junk and ignores trailing bits, so without this
 * many different strings would decode to the same signed bytes.
 */
function decodeBase64Strict(text: string): Buffer | null {
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : null;
}

function trustedKeys(publicKeys: readonly PublicKeyInfo[]): Map<string, KeyObject> {
  if (publicKeys.length === 0) {
    throw new AasError('INVALID_ARGUMENT', 'no public keys to verify against', {
      hint: 'pass at least one trusted public key',
    });
  }
  const trusted = new Map<string, KeyObject>();
  for (const key of publicKeys) {
    // The key id is a fingerprint; recomputing it stops a mislabelled key from being trusted
    // under another key's name.
    const info = publicKeyInfo(key.publicKeyPem);
    if (info.keyId !== key.keyId) {
      throw new AasError(
        'INVALID_ARGUMENT',
        `public key labelled ${key.keyId} has fingerprint ${info.keyId}`,
        { hint: 'derive key ids with publicKeyInfo rather than writing them by hand' },
      );
    }
    trusted.set(info.keyId, createPublicKey(info.publicKeyPem));
  }
  return trusted;
}

function invalid(message: string): AasError {
  return new AasError('ATTESTATION_INVALID', message);
}
