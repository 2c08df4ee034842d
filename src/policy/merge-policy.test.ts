import { describe, expect, it } from 'vitest';
import { isAasError } from '../kernel/index.js';
import { allowsEnv, allowsTool } from './allow-lists.js';
import { allowsHost } from './allows-host.js';
import { decidePath } from './decide-path.js';
import type { NamedLayer } from './effective-policy.js';
import { FLOOR_LAYER } from './floor-layer.js';
import { mergePolicy } from './merge-policy.js';
import type { PolicyLayer } from './policy-layer-schema.js';

const named = (name: string, layer: PolicyLayer): NamedLayer => ({
  name,
  source: `${name}.yaml`,
  layer,
});
const manifest = (layer: PolicyLayer) => named('agent:codex', layer);
const job = (layer: PolicyLayer) => named('job', layer);
const allowed = (layers: NamedLayer[], path: string) =>
  decidePath(mergePolicy(layers), path).allowed;

describe('mergePolicy: paths (conjunction of allow-lists, union of denies)', () => {
  it('does not let a job widen a manifest scope: src/*.py + src/** admits src/a.py, not src/a/b.py', () => {
    const layers = [
      manifest({ paths: { allow: ['src/*.py'] } }),
      job({ paths: { allow: ['src/**'] } }),
    ];
    expect(allowed(layers, 'src/a.py')).toBe(true);
    expect(allowed(layers, 'src/a/b.py')).toBe(false);
    expect(decidePath(mergePolicy(layers), 'src/a/b.py')).toMatchObject({
      kind: 'not-allowed',
      layer: 'agent:codex',
      rule: 'paths.allow [src/*.py]',
    });
    // Order does not matter: the job first is just as narrow.
    expect(allowed([...layers].reverse(), 'src/a/b.py')).toBe(false);
  });

  it('keeps a file-type filter: src/**/*.md + src/a/** admits only markdown under src/a', () => {
    const layers = [
      manifest({ paths: { allow: ['src/**/*.md'] } }),
      job({ paths: { allow: ['src/a/**'] } }),
    ];
    expect(allowed(layers, 'src/a/x.md')).toBe(true);
    expect(allowed(layers, 'src/a/x.ts')).toBe(false);
    expect(allowed(layers, 'src/b/x.md')).toBe(false);
  });

  it('compares segments, not characters: src/** and srcfoo/** admit nothing in common', () => {
    const layers = [
      manifest({ paths: { allow: ['src/**'] } }),
      job({ paths: { allow: ['srcfoo/**'] } }),
    ];
    for (const path of ['src/a', 'srcfoo/a', 'srcfoo', 'src/srcfoo/a', 'srcfoo/src/a'])
      expect(allowed(layers, path)).toBe(false);
  });

  it('intersects prefix-less globs: **/*.py with src/** admits src/x.py only', () => {
    const layers = [
      manifest({ paths: { allow: ['**/*.py'] } }),
      job({ paths: { allow: ['src/**'] } }),
    ];
    expect(allowed(layers, 'src/x.py')).toBe(true);
    expect(allowed(layers, 'src/deep/x.py')).toBe(true);
    expect(allowed(layers, 'x.py')).toBe(false);
    expect(allowed(layers, 'src/x.ts')).toBe(false);
    expect(allowed(layers, 'lib/x.py')).toBe(false);
  });

  it('keeps specific file scopes: [src/**, tests/**] with [src/generated_worker.py]', () => {
    const layers = [
      manifest({ paths: { allow: ['src/**', 'tests/**'] } }),
      job({ paths: { allow: ['src/generated_worker.py'] } }),
    ];
    expect(allowed(layers, 'src/generated_worker.py')).toBe(true);
    expect(allowed(layers, 'src/other.py')).toBe(false);
    expect(allowed(layers, 'tests/test_x.py')).toBe(false);
  });

  it.each([
    ['secret.pem', '**/*.[pP][eE][mM]'],
    ['deep/dir/id.key', '**/*.[kK][eE][yY]'],
    ['.env', '**/.[eE][nN][vV]*'],
    ['.env.production', '**/.[eE][nN][vV]*'],
    ['app/.env.local', '**/.[eE][nN][vV]*'],
    ['.ENV', '**/.[eE][nN][vV]*'],
    ['config/.Env.local', '**/.[eE][nN][vV]*'],
    ['certs/server.PEM', '**/*.[pP][eE][mM]'],
    ['keys/deploy.KEY', '**/*.[kK][eE][yY]'],
    ['.aas/runs/x.json', '.aas/**'],
    ['logs/a.log', 'logs/**'],
    ['node_modules/x/index.js', 'node_modules/**'],
    ['pkg/node_modules/x/index.js', '**/node_modules/**'],
  ])(
    'denies %s at any depth by the floor (rule %s), even when a layer allows everything',
    (path, rule) => {
      const decision = decidePath(mergePolicy([job({ paths: { allow: ['**'] } })]), path);
      expect(decision).toMatchObject({ allowed: false, kind: 'denied', layer: 'floor', rule });
    },
  );

  it('matches src/** against the path src itself, consistently for allow and deny', () => {
    // picomatch reads `dir/**` as "dir and everything below it"; one matcher means one reading.
    expect(allowed([job({ paths: { allow: ['src/**'] } })], 'src')).toBe(true);
    expect(allowed([job({ paths: { allow: ['src/**'] } })], 'srcx')).toBe(false);
    expect(decidePath(mergePolicy([]), 'logs')).toMatchObject({ allowed: false, rule: 'logs/**' });
    // Without the globstar, only direct children are meant.
    expect(allowed([job({ paths: { allow: ['src/*'] } })], 'src')).toBe(false);
  });

  it('admits nothing with an empty allow-list, and says so', () => {
    const policy = mergePolicy([
      named('repo', { paths: { allow: ['**'] } }),
      job({ paths: { allow: [] } }),
    ]);
    expect(decidePath(policy, 'README.md')).toMatchObject({
      allowed: false,
      kind: 'not-allowed',
      layer: 'job',
      rule: 'paths.allow []',
    });
    expect(decidePath(policy, 'README.md').reason).toContain('allows no paths');
  });

  it('admits everything not denied when no layer has an allow-list', () => {
    expect(allowed([], 'anything/at/all.ts')).toBe(true);
  });

  it('lets a deny in any layer win over an allow in another', () => {
    const layers = [
      named('repo', { paths: { deny: ['src/secret/**'] } }),
      job({ paths: { allow: ['src/**'] } }),
    ];
    expect(decidePath(mergePolicy(layers), 'src/secret/a.ts')).toMatchObject({
      kind: 'denied',
      layer: 'repo',
      rule: 'src/secret/**',
    });
    expect(allowed(layers, 'src/public/a.ts')).toBe(true);
  });

  it('unions deny and runtime lists, keeping each pattern with its layer', () => {
    const policy = mergePolicy([
      named('repo', { paths: { deny: ['a/**'], runtime: ['dist/**'] } }),
      job({ paths: { deny: ['a/**', 'b/**'] } }),
    ]);
    expect(policy.paths.deny.filter((rule) => rule.layer !== 'floor')).toEqual([
      { layer: 'repo', pattern: 'a/**' },
      { layer: 'job', pattern: 'a/**' },
      { layer: 'job', pattern: 'b/**' },
    ]);
    expect(policy.paths.runtime.at(-1)).toEqual({ layer: 'repo', pattern: 'dist/**' });
    expect(policy.decidedBy['paths.deny']).toEqual(['floor', 'repo', 'job']);
  });

  it('keeps each allow-list separately', () => {
    const policy = mergePolicy([
      named('repo', { paths: { allow: ['src/**', 'src/**'] } }),
      job({ paths: { allow: ['src/a/**'] } }),
    ]);
    expect(policy.paths.allow).toEqual([
      { layer: 'repo', patterns: ['src/**'] },
      { layer: 'job', patterns: ['src/a/**'] },
    ]);
  });
});

describe('mergePolicy: network (strictest; allow-lists intersect)', () => {
  it('defaults to disabled when no layer sets it (the floor does not)', () => {
    const policy = mergePolicy([]);
    expect(policy.network).toEqual({ mode: 'disabled' });
    expect(policy.decidedBy.network).toEqual([]);
    expect(allowsHost(policy, 'example.com', 443)).toBe(false);
  });

  it('allowlist ∩ full is that allowlist, not empty', () => {
    const policy = mergePolicy([
      named('server', { network: 'full' }),
      named('repo', { network: { allow: ['a.example.com', 'b.example.com:443'] } }),
      job({ network: 'full' }),
    ]);
    expect(policy.network).toEqual({
      mode: 'allowlist',
      allow: ['a.example.com', 'b.example.com:443'],
      layers: [{ layer: 'repo', allow: ['a.example.com', 'b.example.com:443'] }],
    });
    expect(allowsHost(policy, 'a.example.com', 80)).toBe(true);
    expect(allowsHost(policy, 'b.example.com', 443)).toBe(true);
    expect(allowsHost(policy, 'b.example.com', 80)).toBe(false);
    expect(allowsHost(policy, 'c.example.com', 443)).toBe(false);
    expect(policy.decidedBy.network).toEqual(['repo']);
  });

  it('disabled beats everything', () => {
    const policy = mergePolicy([
      named('server', { network: 'disabled' }),
      job({ network: { allow: ['a.com'] } }),
    ]);
    expect(policy.network).toEqual({ mode: 'disabled' });
    expect(policy.decidedBy.network).toEqual(['server']);
  });

  it('full only when every setting layer says full', () => {
    expect(
      mergePolicy([named('server', { network: 'full' }), job({ network: 'full' })]).network,
    ).toEqual({ mode: 'full' });
    expect(mergePolicy([named('agent:x', { network: 'full' })]).network).toEqual({ mode: 'full' });
  });

  it('admits a host only if every allow-list admits it', () => {
    const policy = mergePolicy([
      named('server', { network: { allow: ['*.example.com', 'registry.npmjs.org'] } }),
      job({ network: { allow: ['api.example.com:443', 'example.com', 'registry.npmjs.org:443'] } }),
    ]);
    expect(policy.network.mode === 'allowlist' && policy.network.allow).toEqual([
      'api.example.com:443',
      'registry.npmjs.org:443',
    ]);
    expect(allowsHost(policy, 'api.example.com', 443)).toBe(true);
    expect(allowsHost(policy, 'API.Example.COM.', 443)).toBe(true);
    expect(allowsHost(policy, 'api.example.com', 80)).toBe(false);
    expect(allowsHost(policy, 'api.example.com')).toBe(false);
    expect(allowsHost(policy, 'example.com', 443)).toBe(false);
    expect(allowsHost(policy, 'registry.npmjs.org', 443)).toBe(true);
  });

  it('lowercases and canonicalises entries', () => {
    const policy = mergePolicy([
      named('server', { network: { allow: ['API.Example.com', '[0:0::1]:8080'] } }),
    ]);
    expect(policy.network.mode === 'allowlist' && policy.network.allow).toEqual([
      'api.example.com',
      '[::1]:8080',
    ]);
    expect(allowsHost(policy, '::1', 8080)).toBe(true);
    expect(allowsHost(policy, '[::1]', 8081)).toBe(false);
  });
});

describe('mergePolicy: lists, limits and permissions', () => {
  it('intersects tools and env lists of the layers that set them', () => {
    const policy = mergePolicy([
      named('server', {
        tools: ['bash', 'edit', 'web'],
        env: { allow: ['CI', 'NODE_ENV', 'TOKEN'] },
      }),
      named('agent:x', {}),
      job({ tools: ['edit', 'bash'], env: { allow: ['NODE_ENV', 'CI'] } }),
    ]);
    expect(policy.tools).toEqual(['bash', 'edit']);
    expect(policy.envAllow).toEqual(['CI', 'NODE_ENV']);
    expect(policy.decidedBy.tools).toEqual(['server', 'job']);
    expect(allowsTool(policy, 'web')).toBe(false);
    expect(allowsEnv(policy, 'TOKEN')).toBe(false);
    expect(allowsEnv(policy, 'CI')).toBe(true);
  });

  it('leaves tools unrestricted but passes no env var when no layer lists them', () => {
    const policy = mergePolicy([job({})]);
    expect(policy.tools).toBeNull();
    expect(policy.envAllow).toBeNull();
    expect(allowsTool(policy, 'anything')).toBe(true);
    expect(allowsEnv(policy, 'HOME')).toBe(false);
    expect(allowsEnv(policy, 'AWS_SECRET_ACCESS_KEY')).toBe(false);
  });

  it('an empty tools list allows no tool', () => {
    expect(allowsTool(mergePolicy([job({ tools: [] })]), 'bash')).toBe(false);
  });

  it('takes the minimum of each limit and remembers who set it', () => {
    const policy = mergePolicy([
      named('repo', { limits: { timeoutSec: 600, maxPatchLines: 90_000, maxCostUsd: 5 } }),
      job({ limits: { timeoutSec: 900, maxChangedFiles: 0, maxCostUsd: 2, maxProcesses: 32 } }),
      named('operator', { limits: { maxMemoryBytes: 2 * 1024 * 1024 * 1024 } }),
      named('late', { limits: { maxMemoryBytes: 16 * 1024 * 1024 * 1024 } }),
    ]);
    expect(policy.limits).toEqual({
      timeoutSec: 600,
      maxChangedFiles: 0,
      maxPatchLines: 50_000,
      maxOutputBytes: 16 * 1024 * 1024,
      cpuSec: 3600,
      maxProcesses: 32,
      maxMemoryBytes: 2 * 1024 * 1024 * 1024,
      maxFileBytes: 256 * 1024 * 1024,
      maxWorkspaceGrowthBytes: 1024 * 1024 * 1024,
      maxCostUsd: 2,
      maxInputTokens: null,
      maxOutputTokens: null,
    });
    expect(policy.decidedBy['limits.maxProcesses']).toEqual(['job']);
    // A layer asking for more memory than the floor's 8 GiB gets no more.
    expect(policy.decidedBy['limits.maxMemoryBytes']).toEqual(['operator']);
    expect(policy.decidedBy['limits.timeoutSec']).toEqual(['repo']);
    expect(policy.decidedBy['limits.maxChangedFiles']).toEqual(['job']);
    expect(policy.decidedBy['limits.maxPatchLines']).toEqual(['floor']);
    expect(policy.decidedBy['limits.maxCostUsd']).toEqual(['job']);
  });

  it('applies the floor limits and no cost limit by default', () => {
    expect(mergePolicy([]).limits).toEqual({
      timeoutSec: 3600,
      maxChangedFiles: 500,
      maxPatchLines: 50_000,
      maxOutputBytes: 16 * 1024 * 1024,
      cpuSec: 3600,
      maxProcesses: 256,
      maxMemoryBytes: 8 * 1024 * 1024 * 1024,
      maxFileBytes: 256 * 1024 * 1024,
      maxWorkspaceGrowthBytes: 1024 * 1024 * 1024,
      maxCostUsd: null,
      maxInputTokens: null,
      maxOutputTokens: null,
    });
  });

  it('caps model tokens by the lowest layer that sets them, and names that layer', () => {
    const policy = mergePolicy([
      named('server', { limits: { maxInputTokens: 1_000_000, maxOutputTokens: 50_000 } }),
      named('repo', { limits: { maxOutputTokens: 80_000 } }),
      job({ limits: { maxInputTokens: 200_000 } }),
    ]);
    expect(policy.limits.maxInputTokens).toBe(200_000);
    expect(policy.limits.maxOutputTokens).toBe(50_000);
    expect(policy.decidedBy['limits.maxInputTokens']).toEqual(['job']);
    expect(policy.decidedBy['limits.maxOutputTokens']).toEqual(['server']);
    // A job cannot widen a tighter layer: 80 000 from the job does not lift the server's 50 000.
    const widened = mergePolicy([
      named('server', { limits: { maxOutputTokens: 50_000 } }),
      job({ limits: { maxOutputTokens: 80_000 } }),
    ]);
    expect(widened.limits.maxOutputTokens).toBe(50_000);
    expect(widened.decidedBy['limits.maxOutputTokens']).toEqual(['server']);
  });

  it.each([
    [[], false],
    [[true], true],
    [[true, true], true],
    [[true, false], false],
    [[false, true], false],
  ])('binaryChanges %j → %s (AND, default false)', (values, expected) => {
    const layers = values.map((value, index) => named(`l${index}`, { binaryChanges: value }));
    expect(mergePolicy(layers).binaryChanges).toBe(expected);
  });

  it.each([
    [[], 'preferred'],
    [['off'], 'off'],
    [['off', 'preferred'], 'preferred'],
    [['required', 'off'], 'required'],
    [['preferred', 'required', 'off'], 'required'],
  ] as const)('sandbox %j → %s (strictest, default preferred)', (values, expected) => {
    const layers = values.map((value, index) => named(`agent:a${index}`, { sandbox: value }));
    expect(mergePolicy(layers).sandbox).toBe(expected);
  });

  it('only the server layer may lower approvals below the default; the others can only raise it', () => {
    const approvalsOf = (...layers: Parameters<typeof mergePolicy>[0]) =>
      mergePolicy(layers).promotion.approvals;
    expect(approvalsOf(job({ promotion: { approvals: 0 } }))).toBe(1);
    expect(approvalsOf(named('repo', { promotion: { approvals: 0 } }))).toBe(1);
    expect(approvalsOf(named('server', { promotion: { approvals: 0 } }))).toBe(0);
    expect(
      approvalsOf(
        named('server', { promotion: { approvals: 0 } }),
        job({ promotion: { approvals: 2 } }),
      ),
    ).toBe(2);
    expect(
      approvalsOf(
        named('server', { promotion: { approvals: 3 } }),
        job({ promotion: { approvals: 0 } }),
      ),
    ).toBe(3);
    const policy = mergePolicy([job({ promotion: { approvals: 0 } })]);
    expect(policy.decidedBy['promotion.approvals']).toEqual([]);
    // The server's 0 decides; the repo asking for 0 as well was not granted it, and is not named.
    const both = mergePolicy([
      named('server', { promotion: { approvals: 0 } }),
      named('repo', { promotion: { approvals: 0 } }),
    ]);
    expect(both.promotion.approvals).toBe(0);
    expect(both.decidedBy['promotion.approvals']).toEqual(['server']);
  });

  it('merges promotion rules: max approvals, OR distinct approver, union of branches', () => {
    expect(mergePolicy([]).promotion).toEqual({
      approvals: 1,
      requireDistinctApprover: true,
      protectedBranches: [],
      onBaseMoved: 'revalidate',
    });
    const policy = mergePolicy([
      named('repo', {
        promotion: { approvals: 2, requireDistinctApprover: false, protectedBranches: ['main'] },
      }),
      job({
        promotion: {
          approvals: 0,
          requireDistinctApprover: true,
          protectedBranches: ['release', 'main'],
          onBaseMoved: 'block',
        },
      }),
    ]);
    expect(policy.promotion).toEqual({
      approvals: 2,
      requireDistinctApprover: true,
      protectedBranches: ['main', 'release'],
      onBaseMoved: 'block',
    });
    expect(policy.decidedBy['promotion.approvals']).toEqual(['repo']);
    expect(policy.decidedBy['promotion.requireDistinctApprover']).toEqual(['job']);
  });
});

describe('mergePolicy: layers', () => {
  it('always merges the floor first, exactly once', () => {
    expect(mergePolicy([]).layers).toEqual([{ name: 'floor', source: 'built-in' }]);
    const policy = mergePolicy([FLOOR_LAYER, named('repo', {}), job({})]);
    expect(policy.layers.map((layer) => layer.name)).toEqual(['floor', 'repo', 'job']);
    expect(mergePolicy([named('repo', {})]).layers.map((layer) => layer.name)).toEqual([
      'floor',
      'repo',
    ]);
  });

  it('produces a frozen, JSON-serialisable record', () => {
    const policy = mergePolicy([
      named('repo', { network: { allow: ['a.com'] }, paths: { allow: ['src/**'] } }),
    ]);
    expect(JSON.parse(JSON.stringify(policy))).toEqual(policy);
    expect(Object.isFrozen(policy.paths.deny)).toBe(true);
    // A re-read record decides the same way.
    const reread = JSON.parse(JSON.stringify(policy)) as typeof policy;
    expect(decidePath(reread, 'src/a.ts')).toEqual(decidePath(policy, 'src/a.ts'));
    expect(decidePath(reread, '.env')).toEqual(decidePath(policy, '.env'));
  });

  it.each([
    ['a fake floor', [named('floor', {})], 'name'],
    ['duplicate names', [named('job', {}), named('job', {})], 'name'],
    ['an empty name', [named(' ', {})], 'name'],
    ['an invalid glob', [job({ paths: { allow: ['../x'] } })], 'paths.allow[0]'],
    ['an unknown key', [job({ paths: { alow: ['x'] } } as unknown as PolicyLayer)], 'paths.alow'],
  ])('refuses %s with POLICY_INVALID', (_what, layers, field) => {
    let thrown: unknown;
    try {
      mergePolicy(layers);
    } catch (error) {
      thrown = error;
    }
    expect(isAasError(thrown) && thrown.code).toBe('POLICY_INVALID');
    expect(isAasError(thrown) && thrown.details.field).toBe(field);
  });
});

describe('mergePolicy: only the operator grants access beyond the defaults', () => {
  const repo = (layer: PolicyLayer) => named('repo', layer);
  const server = (layer: PolicyLayer) => named('server', layer);

  it('keeps the sandbox on when only the repository or the job says off', () => {
    for (const layers of [[job({ sandbox: 'off' })], [repo({ sandbox: 'off' }), job({})]]) {
      const policy = mergePolicy(layers);
      expect(policy.sandbox).toBe('preferred');
      expect(policy.decidedBy.sandbox).toEqual([]);
    }
    expect(mergePolicy([job({ sandbox: 'required' })]).sandbox).toBe('required');
    expect(mergePolicy([server({ sandbox: 'off' }), job({ sandbox: 'off' })]).sandbox).toBe('off');
    expect(mergePolicy([server({ sandbox: 'off' }), job({ sandbox: 'required' })])).toMatchObject({
      sandbox: 'required',
      decidedBy: expect.objectContaining({ sandbox: ['job'] }),
    });
  });

  it('gives no network the operator did not grant, and lets the job narrow what it did', () => {
    const asked: PolicyLayer['network'][] = ['full', { allow: ['registry.npmjs.org'] }];
    for (const network of asked) {
      const policy = mergePolicy([repo({ network }), job({ network })]);
      expect(policy.network).toEqual({ mode: 'disabled' });
      expect(policy.decidedBy.network).toEqual([]);
    }
    const narrowed = mergePolicy([
      server({ network: { allow: ['registry.npmjs.org', 'api.example.com'] } }),
      job({ network: 'full' }),
      repo({ network: { allow: ['registry.npmjs.org'] } }),
    ]);
    expect(narrowed.network.mode === 'allowlist' && narrowed.network.allow).toEqual([
      'registry.npmjs.org',
    ]);
  });

  it('keeps distinct approvers unless the server layer waives them', () => {
    const waivedBy = (...layers: NamedLayer[]) =>
      mergePolicy(layers).promotion.requireDistinctApprover;
    expect(waivedBy(job({ promotion: { requireDistinctApprover: false } }))).toBe(true);
    expect(waivedBy(repo({ promotion: { requireDistinctApprover: false } }))).toBe(true);
    expect(waivedBy(server({ promotion: { requireDistinctApprover: false } }))).toBe(false);
    expect(
      waivedBy(
        server({ promotion: { requireDistinctApprover: false } }),
        job({ promotion: { requireDistinctApprover: true } }),
      ),
    ).toBe(true);
  });

  it('passes no host variable the operator did not list, whatever the job lists', () => {
    const alone = mergePolicy([job({ env: { allow: ['MY_SECRET', 'HOME'] } })]);
    expect(alone.envAllow).toEqual([]);
    expect(alone.decidedBy['env.allow']).toEqual([]);
    expect(allowsEnv(alone, 'MY_SECRET')).toBe(false);
    const granted = mergePolicy([
      server({ env: { allow: ['CI', 'NODE_ENV'] } }),
      job({ env: { allow: ['CI', 'MY_SECRET'] } }),
    ]);
    expect(granted.envAllow).toEqual(['CI']);
    expect(granted.decidedBy['env.allow']).toEqual(['server', 'job']);
  });
});
