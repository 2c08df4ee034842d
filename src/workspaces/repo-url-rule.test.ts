import { describe, expect, it } from 'vitest';
import { AasError } from '../kernel/index.js';
import {
  checkRepoUrl,
  checkRepoUrlHost,
  isLocalNetworkAddress,
  repoUrlEndpoint,
} from './repo-url-rule.js';

describe('repository URL rule', () => {
  it('finds the protocol, host and port each URL form connects to', () => {
    const endpoints: [string, string, string, number][] = [
      ['https://GitHub.com/o/r.git', 'https', 'github.com', 443],
      ['http://example.test:8080/r', 'http', 'example.test', 8080],
      ['ssh://git@example.test:2222/r.git', 'ssh', 'example.test', 2222],
      ['git://example.test/r', 'git', 'example.test', 9418],
      ['git@github.com:o/r.git', 'ssh', 'github.com', 22],
      ['https://[::1]:9/r', 'https', '::1', 9],
    ];
    for (const [url, protocol, host, port] of endpoints) {
      expect(repoUrlEndpoint(url), url).toEqual({ protocol, host, port });
    }
    expect(repoUrlEndpoint('file:///srv/r')).toBeNull();
    expect(repoUrlEndpoint('/srv/r')).toBeNull();
  });

  it('tells local and special-purpose addresses from public ones', () => {
    for (const local of [
      '127.0.0.1',
      '127.8.9.10',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.0.10',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      '::',
      'fd00::1',
      'fe80::1',
      'fec0::1',
      '::ffff:127.0.0.1',
      '::ffff:0:7f00:1',
      '::7f00:1',
      '64:ff9b::a00:1',
      '64:ff9b:1::a00:1',
      '2002:7f00:1::1',
      '2001:0:4136:e378::1',
      '100::1',
      '192.0.2.1',
      '2001:db8::1',
      '::ffff:10.0.0.1',
      'not an address',
    ]) {
      expect(isLocalNetworkAddress(local), local).toBe(true);
    }
    for (const public_ of ['8.8.8.8', '140.82.121.3', '172.32.0.1', '2606:4700::1111']) {
      expect(isLocalNetworkAddress(public_), public_).toBe(false);
    }
  });

  it('matches hosts against globs, case-insensitively, and passes file:// URLs', () => {
    const rule = { hosts: ['github.com', '*.corp.example'], privateNetworks: false };
    expect(() => checkRepoUrlHost('https://GITHUB.com/o/r', rule)).not.toThrow();
    expect(() => checkRepoUrlHost('git@git.corp.example:r.git', rule)).not.toThrow();
    expect(() => checkRepoUrlHost('file:///srv/r', rule)).not.toThrow();
    expect(() => checkRepoUrlHost('https://gitlab.com/o/r', rule)).toThrow(/gitlab\.com/);
    // A glob for subdomains is not the domain itself, nor a look-alike suffix.
    expect(() => checkRepoUrlHost('https://corp.example/r', rule)).toThrow(AasError);
    expect(() => checkRepoUrlHost('https://evilcorp.example/r', rule)).toThrow(AasError);
  });

  it('refuses URLs that git, ssh or curl would read as another host than the check does', () => {
    const rule = { hosts: ['github.com'], privateNetworks: false };
    for (const url of [
      // curl takes "github.com\\" for a user name and connects to 127.0.0.1.
      'http://github.com\\@127.0.0.1:8765/probe',
      // git decodes %2f before it splits a git:// or ssh:// URL.
      'git://127.0.0.1:8766%2f@github.com/r.git',
      'ssh://127.0.0.1%2f@github.com/r.git',
      // ssh does not know fragments or queries.
      'ssh://git@github.com#@10.0.0.5:6379/r.git',
      'https://github.com?@10.0.0.5/r.git',
      // Spellings a URL parser rewrites (to 127.0.0.1) are not guessed at.
      'http://0x7f.1/r.git',
      'http://2130706433/r.git',
      'https://github.com:99999/r.git',
      'https://gith ub.com/r.git',
      // git finds a bracketed host after "@[" anywhere, path included.
      'ssh://github.com/x@[127.0.0.1:2222]/repo',
      'git@github.com:x@[127.0.0.1]:y',
      'https://github.com/o/r[1].git',
      // Options for ssh never start a user or a host.
      'ssh://-oProxyCommand@github.com/r',
      'ssh://-github.com/r',
    ]) {
      expect(() => checkRepoUrlHost(url, rule), url).toThrow(AasError);
    }
    // A user part is allowed, but the host is what follows it.
    expect(() => checkRepoUrlHost('https://github.com@evil.example/r', rule)).toThrow(
      /evil\.example is not among the allowed hosts/,
    );
    expect(() => checkRepoUrlHost('https://git@github.com/o/r.git', rule)).not.toThrow();
  });

  it('fetches git:// only from an address literal while local networks are refused', async () => {
    const rule = { hosts: ['*'], privateNetworks: false };
    const never = async (): Promise<string[]> => {
      throw new Error('not looked up');
    };
    await expect(checkRepoUrl('git://example.test/r', rule, never)).rejects.toMatchObject({
      code: 'JOB_INVALID',
      message: expect.stringMatching(/git:\/\/ connection cannot be held/),
    });
    expect(await checkRepoUrl('git://93.184.215.14/r', rule, never)).toMatchObject({
      addresses: ['93.184.215.14'],
      literal: true,
    });
    expect(
      await checkRepoUrl('git://example.test/r', { ...rule, privateNetworks: true }, async () => [
        '10.0.0.1',
      ]),
    ).toMatchObject({ protocol: 'git', port: 9418, literal: false });
  });

  it('checks every address a name resolves to, and returns them all to pin', async () => {
    const rule = { hosts: ['*'], privateNetworks: false };
    const resolveTo = (addresses: string[]) => async () => addresses;
    expect(
      await checkRepoUrl('https://example.test/r', rule, resolveTo(['93.184.215.14', '2606::1'])),
    ).toEqual({
      protocol: 'https',
      host: 'example.test',
      port: 443,
      addresses: ['93.184.215.14', '2606::1'],
      literal: false,
    });
    // One local answer among public ones is enough to refuse (the client may pick any).
    await expect(
      checkRepoUrl('https://example.test/r', rule, resolveTo(['93.184.215.14', '10.0.0.1'])),
    ).rejects.toMatchObject({ code: 'JOB_INVALID' });
    expect(
      await checkRepoUrl(
        'https://example.test/r',
        { ...rule, privateNetworks: true },
        resolveTo(['10.0.0.1']),
      ),
    ).toMatchObject({ addresses: ['10.0.0.1'] });
    const failing = async () => {
      throw new Error('getaddrinfo ENOTFOUND example.test');
    };
    await expect(checkRepoUrl('https://example.test/r', rule, failing)).rejects.toMatchObject({
      code: 'REPO_NOT_FOUND',
    });
    await expect(checkRepoUrl('https://example.test/r', rule, resolveTo([]))).rejects.toMatchObject(
      { code: 'REPO_NOT_FOUND' },
    );
    expect(await checkRepoUrl('file:///srv/r', rule, failing)).toBeNull();
  });
});
