import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The hash of the chain before the first event of a session. */
export const GENESIS_HASH = '0'.repeat(64);

/** The fields an event hash covers: everything but the hash itself. */
export interface HashedEventFields {
  readonly sessionId: string;
  readonly seq: number;
  readonly type: string;
  readonly at: string;
  readonly actor: string;
  readonly data: unknown;
  readonly prevHash: string;
}

/** `hash = SHA-256(canonical JSON of the other fields)`; `aas audit verify` recomputes exactly this. */
export function computeEventHash(event: HashedEventFields): string {
  return sha256Hex(
    canonicalJson({
      actor: event.actor,
      at: event.at,
      data: event.data,
      prevHash: event.prevHash,
      seq: event.seq,
      sessionId: event.sessionId,
      type: event.type,
    }),
  );
}
