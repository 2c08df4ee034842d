import { computeEventHash } from '../kernel/index.js';
import type { EventRow } from './database-schema.js';
import type { NewEvent, StoredEvent } from './records.js';

export interface ChainedEvents {
  readonly stored: StoredEvent[];
  readonly rows: EventRow[];
}

/**
 * Assigns seq and links each event to its predecessor's hash. The hash covers the data as it
 * will be read back (`JSON.parse(JSON.stringify(data))`), not as given: a value JSON cannot
 * represent (a `toJSON` object, a top-level `undefined`) would otherwise be hashed in one form
 * and stored in another, and the chain would fail to verify on the first read.
 */
export function chainEvents(
  sessionId: string,
  firstSeq: number,
  prevHash: string,
  events: readonly NewEvent[],
): ChainedEvents {
  const stored: StoredEvent[] = [];
  const rows: EventRow[] = [];
  let previous = prevHash;
  events.forEach((event, index) => {
    const seq = firstSeq + index;
    // JSON.stringify returns undefined for undefined and functions: store those as null.
    const dataJson = JSON.stringify(event.data) ?? 'null';
    const data: unknown = JSON.parse(dataJson);
    const fields = {
      sessionId,
      seq,
      type: event.type,
      at: event.at,
      actor: event.actor,
      data,
      prevHash: previous,
    };
    const hash = computeEventHash(fields);
    stored.push({ ...fields, hash });
    rows.push({
      session_id: sessionId,
      seq,
      type: event.type,
      at: event.at,
      actor: event.actor,
      data: dataJson,
      prev_hash: previous,
      hash,
    });
    previous = hash;
  });
  return { stored, rows };
}
