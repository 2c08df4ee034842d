import { describe, expect, it } from 'vitest';
import { parseGitHubRemote } from './draft-pr-provider.js';

const acmeWidgets = { owner: 'acme', repo: 'widgets' };

describe('parseGitHubRemote', () => {
  const cases: ReadonlyArray<
    readonly [remote: string, host: string, expected: { owner: string; repo: string } | null]
  > = [
    // HTTPS
    ['https://github.com/acme/widgets', 'github.com', acmeWidgets],
    ['https://github.com/acme/widgets.git', 'github.com', acmeWidgets],
    ['https://github.com/acme/widgets/', 'github.com', acmeWidgets],
    ['https://github.com/acme/widgets.git/', 'github.com', acmeWidgets],
    ['https://GitHub.com/acme/widgets.git', 'github.com', acmeWidgets],
    ['https://x-access-token:secret@github.com/acme/widgets.git', 'github.com', acmeWidgets],
    [
      'https://github.com/Acme-Corp/my.repo_name.git',
      'github.com',
      { owner: 'Acme-Corp', repo: 'my.repo_name' },
    ],
    ['https://github.com/acme/widgets.git\n', 'github.com', acmeWidgets],
    // SSH URL and scp-like
    ['ssh://git@github.com/acme/widgets.git', 'github.com', acmeWidgets],
    ['ssh://git@github.com/acme/widgets', 'github.com', acmeWidgets],
    ['ssh://git@github.com:22/acme/widgets.git', 'github.com', acmeWidgets],
    ['git@github.com:acme/widgets.git', 'github.com', acmeWidgets],
    ['git@github.com:acme/widgets', 'github.com', acmeWidgets],
    ['git@github.com:acme/widgets.git/', 'github.com', acmeWidgets],
    ['github.com:acme/widgets.git', 'github.com', acmeWidgets],
    // GitHub Enterprise
    [
      'https://ghe.example.com/platform/api.git',
      'ghe.example.com',
      { owner: 'platform', repo: 'api' },
    ],
    ['git@ghe.example.com:platform/api.git', 'ghe.example.com', { owner: 'platform', repo: 'api' }],
    [
      'ssh://git@ghe.example.com/platform/api.git',
      'ghe.example.com',
      { owner: 'platform', repo: 'api' },
    ],
    [
      'https://ghe.example.com:8443/platform/api.git',
      'ghe.example.com:8443',
      { owner: 'platform', repo: 'api' },
    ],
    ['https://ghe.example.com/platform/api.git', 'github.com', null],
    ['https://github.com/acme/widgets.git', 'ghe.example.com', null],
    // Another host
    ['https://gitlab.com/acme/widgets.git', 'github.com', null],
    ['git@gitlab.com:acme/widgets.git', 'github.com', null],
    ['https://github.com.evil.example/acme/widgets.git', 'github.com', null],
    ['https://evil.example/github.com/acme/widgets.git', 'github.com', null],
    // Local paths and file URLs
    ['/srv/git/widgets.git', 'github.com', null],
    ['../widgets', 'github.com', null],
    ['./acme/widgets', 'github.com', null],
    ['file:///srv/git/acme/widgets.git', 'github.com', null],
    ['C:\\repos\\widgets', 'github.com', null],
    // Not owner/repo, or not a scheme we push over
    ['https://github.com/acme', 'github.com', null],
    ['https://github.com/acme/widgets/tree/main', 'github.com', null],
    ['https://github.com/acme/widgets.git?ref=main', 'github.com', null],
    ['https://github.com/acme/../widgets', 'github.com', null],
    ['git://github.com/acme/widgets.git', 'github.com', null],
    ['ftp://github.com/acme/widgets.git', 'github.com', null],
    ['', 'github.com', null],
    ['https://github.com/acme/widgets.git', '', null],
  ];

  it.each(cases)('%j on %j', (remote, host, expected) => {
    expect(parseGitHubRemote(remote, host)).toEqual(expected);
  });
});
