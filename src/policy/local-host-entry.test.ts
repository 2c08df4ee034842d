import { describe, expect, it } from 'vitest';
import { namesThisHost } from './local-host-entry.js';

describe('namesThisHost', () => {
  it('finds loopback and unspecified addresses, in every spelling the URL parser accepts', () => {
    for (const entry of [
      '127.0.0.1:5432',
      '127.1',
      '0.0.0.0',
      '[::1]:6379',
      '[::]',
      '2130706433',
    ]) {
      expect(namesThisHost(entry), entry).toBe(true);
    }
  });

  it('leaves names (resolved and checked by the proxy) and other addresses alone', () => {
    for (const entry of [
      'localhost',
      'registry.npmjs.org:443',
      '*.example.com',
      '10.0.0.5',
      '[2001:db8::1]',
    ]) {
      expect(namesThisHost(entry), entry).toBe(false);
    }
  });
});
