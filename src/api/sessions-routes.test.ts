import { describe, expect, it } from 'vitest';
import { isAasError } from '../kernel/index.js';
import { decodeCursor, encodeCursor } from './sessions-routes.js';

describe('session list cursors', () => {
  it('round-trip a session id', () => {
    const id = 'ses_019ca6b1dc0ee47d8b4a6ba9';
    expect(decodeCursor(encodeCursor(id))).toBe(id);
  });

  it('refuse anything this server did not issue, naming the cursor field', () => {
    const run = encodeCursor('run_019ca6b1dc0ee47d8b4a6ba9');
    const padded = `${encodeCursor('ses_019ca6b1dc0ee47d8b4a6ba9')}=`;
    for (const cursor of ['', 'abc', run, padded, '!!!!', encodeCursor("ses_' OR 1=1 --")]) {
      const outcome = (() => {
        try {
          return decodeCursor(cursor);
        } catch (error) {
          return error;
        }
      })();
      expect(isAasError(outcome) && outcome.code, cursor).toBe('REQUEST_INVALID');
      expect(isAasError(outcome) && outcome.details.field).toBe('cursor');
    }
  });
});
