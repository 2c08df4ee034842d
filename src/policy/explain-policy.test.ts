import { describe, expect, it } from 'vitest';
import { describePolicyForAgent } from './describe-policy-for-agent.js';
import type { NamedLayer } from './effective-policy.js';
import { explainPolicy } from './explain-policy.js';
import { formatExplanation } from './format-explanation.js';
import { mergePolicy } from './merge-policy.js';

const policy = mergePolicy([
  {
    name: 'repo',
    source: '.aas/policy.yaml',
    layer: {
      paths: { allow: ['src/**', 'tests/**'], deny: ['src/secret/**'] },
      limits: { timeoutSec: 600 },
    },
  },
  {
    name: 'job',
    source: 'job',
    layer: { paths: { allow: ['src/**'] }, network: { allow: ['registry.npmjs.org:443'] } },
  },
  // The operator grants network, which the job narrows to one host.
  { name: 'server', source: 'server.yaml', layer: { network: 'full' } },
]);

describe('explainPolicy', () => {
  const explanation = explainPolicy(policy, [
    'src/a.ts',
    '.env',
    'tests/x.test.ts',
    'logs/run.log',
    '../x',
    '.git/config',
  ]);

  it('lists the layers in merge order with their sources', () => {
    expect(explanation.layers).toEqual([
      { name: 'floor', source: 'built-in' },
      { name: 'repo', source: '.aas/policy.yaml' },
      { name: 'job', source: 'job' },
      { name: 'server', source: 'server.yaml' },
    ]);
  });

  it('gives every effective value with the layers that decided it', () => {
    const byField = Object.fromEntries(explanation.values.map((value) => [value.field, value]));
    expect(byField['limits.timeoutSec']).toMatchObject({ value: 600, decidedBy: ['repo'] });
    expect(byField['limits.maxPatchLines']).toMatchObject({ value: 50_000, decidedBy: ['floor'] });
    expect(byField.network).toMatchObject({
      display: 'allowlist: registry.npmjs.org:443',
      decidedBy: ['job'],
    });
    expect(byField.binaryChanges).toMatchObject({ value: false, decidedBy: [] });
    expect(explanation.values).toHaveLength(24);
  });

  it("says which allow-list entries are this host's own addresses", () => {
    const local = mergePolicy([
      {
        name: 'server',
        source: 'server.yaml',
        layer: { network: { allow: ['127.0.0.1:5432', 'registry.npmjs.org', '[::1]:6379'] } },
      },
    ]);
    const network = explainPolicy(local, []).values.find((value) => value.field === 'network');
    expect(network?.display).toBe(
      'allowlist: 127.0.0.1:5432, registry.npmjs.org, [::1]:6379; 127.0.0.1:5432, [::1]:6379 are this host: the sandbox reaches services listening there',
    );
  });

  it('gives a verdict per path', () => {
    expect(
      explanation.paths.map((entry) => [entry.path, entry.outcome, entry.decision.kind]),
    ).toEqual([
      ['src/a.ts', 'allow', 'allowed'],
      ['.env', 'deny', 'denied'],
      ['tests/x.test.ts', 'deny', 'not-allowed'],
      ['logs/run.log', 'drop', 'denied'],
      ['../x', 'deny', 'invalid-path'],
      ['.git/config', 'deny', 'git-metadata'],
    ]);
  });

  it('is plain JSON', () => {
    expect(JSON.parse(JSON.stringify(explanation))).toEqual(explanation);
  });
});

describe('formatExplanation', () => {
  const text = formatExplanation(
    explainPolicy(policy, [
      'src/a.ts',
      '.env',
      'tests/x.test.ts',
      'logs/run.log',
      '../x',
      '.git/config',
      'src/bad\nname',
    ]),
  );

  it('prints layers, values with their deciding layer, and one line per path', () => {
    expect(text).toContain('  1. floor   built-in');
    expect(text).toContain('  2. repo    .aas/policy.yaml');
    expect(text).toMatch(/limits\.timeoutSec\s+600 s {2}\(repo\)/);
    expect(text).toMatch(/network\s+allowlist: registry\.npmjs\.org:443 {2}\(job\)/);
    expect(text).toMatch(/binaryChanges\s+not allowed {2}\(default\)/);
    expect(text).toContain('  ALLOW src/a.ts');
    expect(text).toContain('  DENY  .env  (layer floor, rule **/.[eE][nN][vV]*)');
    expect(text).toContain('  DENY  tests/x.test.ts  (layer job, not in paths.allow [src/**])');
    expect(text).toContain(
      '  DROP  logs/run.log  (runtime artifact, dropped from the patch: layer floor, rule logs/**)',
    );
    expect(text).toContain("  DENY  ../x  (invalid path: path contains a '..' segment)");
    expect(text).toContain('  DENY  .git/config  (git metadata is never part of a patch)');
    expect(text).toContain('  ALLOW "src/bad\\nname"');
  });

  it('omits the paths section when no path is asked about', () => {
    expect(formatExplanation(explainPolicy(policy, []))).not.toContain('Paths:');
  });
});

describe('describePolicyForAgent', () => {
  it('summarises paths, network and limits in plain words', () => {
    const text = describePolicyForAgent(policy);
    expect(text).toContain(
      'Only change files whose path matches src/**, tests/** and also match src/**.',
    );
    expect(text).toContain('**/.[eE][nN][vV]*');
    expect(text).toContain('src/secret/**');
    expect(text).toContain('Network: only registry.npmjs.org:443.');
    expect(text).toContain(
      'at most 500 changed files and 50000 changed lines; time 600 s; CPU 3600 s; 256 processes; memory 8 GiB; files up to 256 MiB; workspace growth 1 GiB; output 16 MiB',
    );
    expect(text).toContain('Do not add or change binary files.');
    expect(text.split('\n').length).toBeLessThan(12);
  });

  it('says so when nothing may change or no network is available', () => {
    const closed = mergePolicy([
      { name: 'job', source: 'job', layer: { paths: { allow: [] }, limits: { maxCostUsd: 1.5 } } },
    ]);
    const text = describePolicyForAgent(closed);
    expect(text).toContain('You may not change any file.');
    expect(text).toContain('Network: disabled.');
    expect(text).toContain('cost at most $1.5');
  });

  it('explains the model token limits and the layer that set them', () => {
    const policy = mergePolicy([
      { name: 'server', source: 's.yaml', layer: { limits: { maxOutputTokens: 9_000 } } },
      { name: 'job', source: 'job', layer: { limits: { maxInputTokens: 100_000 } } },
    ]);
    const values = explainPolicy(policy, []).values;
    expect(values.find((v) => v.field === 'limits.maxInputTokens')).toMatchObject({
      value: 100_000,
      display: '100000 tokens',
      decidedBy: ['job'],
    });
    expect(values.find((v) => v.field === 'limits.maxOutputTokens')).toMatchObject({
      value: 9_000,
      display: '9000 tokens',
      decidedBy: ['server'],
    });
    expect(values.find((v) => v.field === 'limits.maxCostUsd')?.display).toBe('no limit');
    expect(describePolicyForAgent(policy)).toContain(
      'at most 100000 model input tokens, at most 9000 model output tokens',
    );
  });
});

describe('what a repository or job asked for and did not get', () => {
  it('names each request the operator did not grant, and nothing the operator granted', () => {
    const layers = [
      {
        name: 'job',
        source: 'job.yaml',
        layer: {
          sandbox: 'off',
          network: 'full',
          env: { allow: ['CI', 'MY_SECRET'] },
          promotion: { approvals: 0 },
        },
      },
      { name: 'server', source: 'server.yaml', layer: { env: { allow: ['CI'] } } },
    ] as const satisfies readonly NamedLayer[];
    const explanation = explainPolicy(mergePolicy(layers), [], layers);
    expect(explanation.notGranted).toEqual([
      expect.objectContaining({ layer: 'job', field: 'sandbox', asked: 'off' }),
      expect.objectContaining({ layer: 'job', field: 'network', asked: 'full' }),
      expect.objectContaining({ layer: 'job', field: 'env.allow', asked: 'MY_SECRET' }),
      expect.objectContaining({ layer: 'job', field: 'promotion.approvals', asked: '0' }),
    ]);
    expect(formatExplanation(explanation)).toContain(
      'Asked for and not granted:\n  sandbox  off  (layer job: only the operator grants this',
    );
    const granted = [
      { name: 'server', source: 's', layer: { sandbox: 'off', network: 'full' } },
      { name: 'job', source: 'j', layer: { sandbox: 'off', network: { allow: ['a.example'] } } },
    ] as const satisfies readonly NamedLayer[];
    expect(explainPolicy(mergePolicy(granted), [], granted).notGranted).toEqual([]);
    // Above the default is no request to grant; what the operator set is said as such.
    const lost = [
      { name: 'server', source: 's', layer: { sandbox: 'required' } },
      { name: 'repo', source: 'r', layer: { promotion: { approvals: 3 } } },
      { name: 'job', source: 'j', layer: { sandbox: 'off', promotion: { approvals: 2 } } },
    ] as const satisfies readonly NamedLayer[];
    expect(explainPolicy(mergePolicy(lost), [], lost).notGranted).toEqual([
      { layer: 'job', field: 'sandbox', asked: 'off', why: 'the operator set sandbox: required' },
    ]);
    // What the operator granted but another layer narrowed away is no grant withheld; what it
    // did not grant is, with what it grants.
    const narrowed = [
      {
        name: 'server',
        source: 's',
        layer: { env: { allow: ['CI', 'NODE_ENV'] }, network: { allow: ['registry.npmjs.org'] } },
      },
      { name: 'repo', source: 'r', layer: { env: { allow: ['SECRET_X', 'HOME'] } } },
      { name: 'job', source: 'j', layer: { env: { allow: ['CI', 'SECRET_Y'] }, network: 'full' } },
    ] as const satisfies readonly NamedLayer[];
    expect(explainPolicy(mergePolicy(narrowed), [], narrowed).notGranted).toEqual([
      expect.objectContaining({ layer: 'repo', field: 'env.allow', asked: 'SECRET_X, HOME' }),
      expect.objectContaining({
        layer: 'job',
        field: 'network',
        asked: 'full',
        why: expect.stringContaining('the operator allows registry.npmjs.org'),
      }),
      expect.objectContaining({ layer: 'job', field: 'env.allow', asked: 'SECRET_Y' }),
    ]);
  });
});
