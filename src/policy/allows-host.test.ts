import { describe, expect, it } from 'vitest';
import { allowsHost } from './allows-host.js';
import { formatHostPattern, intersectHostPatterns, parseHostPattern } from './host-pattern.js';
import { mergePolicy } from './merge-policy.js';

const pattern = (entry: string) => {
  const parsed = parseHostPattern(entry);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.pattern;
};
const withAllow = (...allow: string[]) =>
  mergePolicy([{ name: 'server', source: 'server.yaml', layer: { network: { allow } } }]);

describe('host patterns', () => {
  it.each([
    ['example.com', { host: 'example.com', wildcard: false, port: null }],
    ['Example.COM:443', { host: 'example.com', wildcard: false, port: 443 }],
    ['*.Example.com', { host: 'example.com', wildcard: true, port: null }],
    ['*.example.com:8443', { host: 'example.com', wildcard: true, port: 8443 }],
    ['10.0.0.1:5432', { host: '10.0.0.1', wildcard: false, port: 5432 }],
    ['[2001:DB8::1]:443', { host: '[2001:db8::1]', wildcard: false, port: 443 }],
    ['example.com.', { host: 'example.com', wildcard: false, port: null }],
  ])('parses %j', (entry, expected) => {
    expect(parseHostPattern(entry)).toEqual({ ok: true, pattern: expected });
  });

  it.each([
    '',
    '*',
    'a b.com',
    'http://a.com',
    'a.com/path',
    'a.com:0',
    'a.com:65536',
    'a.com:x',
    '::1',
    '*.com',
    '*',
    'user@a.com',
    'a..com',
    '*.*.a.com',
    'a.*.com',
  ])('rejects %j', (entry) => {
    expect(parseHostPattern(entry).ok).toBe(false);
  });

  it.each([
    ['a.com', 'a.com:443', 'a.com:443'],
    ['a.com:80', 'a.com:443', null],
    ['*.a.com', 'x.a.com', 'x.a.com'],
    ['*.a.com', 'a.com', null],
    ['*.a.com', '*.b.a.com:1', '*.b.a.com:1'],
    ['*.a.com', '*.b.com', null],
    ['x.a.com', 'y.a.com', null],
  ])('intersects %s ∩ %s = %s', (a, b, expected) => {
    const result = intersectHostPatterns(pattern(a), pattern(b));
    expect(result === null ? null : formatHostPattern(result)).toBe(expected);
    const flipped = intersectHostPatterns(pattern(b), pattern(a));
    expect(flipped === null ? null : formatHostPattern(flipped)).toBe(expected);
  });
});

describe('allowsHost', () => {
  it('admits any port of a bare host and only the given port of host:port', () => {
    const policy = withAllow('a.example.com', 'b.example.com:443');
    expect(allowsHost(policy, 'a.example.com', 1)).toBe(true);
    expect(allowsHost(policy, 'a.example.com')).toBe(true);
    expect(allowsHost(policy, 'b.example.com', 443)).toBe(true);
    expect(allowsHost(policy, 'b.example.com', 80)).toBe(false);
    expect(allowsHost(policy, 'b.example.com')).toBe(false);
  });

  it('treats a wildcard as subdomains only', () => {
    const policy = withAllow('*.example.com');
    expect(allowsHost(policy, 'api.example.com', 443)).toBe(true);
    expect(allowsHost(policy, 'a.b.example.com', 443)).toBe(true);
    expect(allowsHost(policy, 'example.com', 443)).toBe(false);
    expect(allowsHost(policy, 'evilexample.com', 443)).toBe(false);
    expect(allowsHost(policy, 'example.com.evil.org', 443)).toBe(false);
  });

  it('refuses malformed hosts and ports', () => {
    const policy = mergePolicy([
      { name: 'server', source: 'server.yaml', layer: { network: 'full' } },
    ]);
    expect(allowsHost(policy, 'example.com', 443)).toBe(true);
    for (const host of ['', 'a b', 'a.com/x', 'user@a.com', '*.a.com'])
      expect(allowsHost(policy, host, 443)).toBe(false);
    for (const port of [0, -1, 65_536, 1.5, Number.NaN])
      expect(allowsHost(policy, 'a.com', port)).toBe(false);
  });

  it('an empty allow-list admits nothing', () => {
    expect(allowsHost(withAllow(), 'example.com', 443)).toBe(false);
  });

  it('fails closed on a hand-edited allow-list record without layers', () => {
    const policy = {
      ...withAllow('a.com'),
      network: { mode: 'allowlist', allow: ['a.com'], layers: [] },
    } as const;
    expect(allowsHost(policy, 'a.com', 443)).toBe(false);
  });
});
