import fc from 'fast-check';
import picomatch from 'picomatch';
import { describe, expect, it } from 'vitest';
import { allowsEnv, allowsTool } from './allow-lists.js';
import { allowsHost } from './allows-host.js';
import { decidePath } from './decide-path.js';
import type { EffectivePolicy, NamedLayer } from './effective-policy.js';
import { FLOOR_LAYER } from './floor-layer.js';
import { canonicalHost, hostPatternAdmits, parseHostPattern } from './host-pattern.js';
import { mergePolicy } from './merge-policy.js';
import { normaliseRepoPath, touchesGitMetadata } from './normalise-repo-path.js';
import { MATCH_OPTIONS } from './path-matcher.js';
import type { PolicyLayer } from './policy-layer-schema.js';

/*
 * Deny wins, as properties. Layers are drawn from small alphabets so that patterns, paths and
 * hosts collide often; "a layer alone" means mergePolicy([layer]) (the floor plus that layer).
 */

const RUNS = 600;

const GLOBS = [
  'a/**',
  '**/*.x',
  'a/*',
  'b/c.x',
  'src/**',
  'srcfoo/**',
  'src/*.x',
  '**',
  '*',
  'a/b/**',
  '**/c.x',
  'b/*.x',
  '{a,b}/**',
  '**/.[eE][nN][vV]*',
  'a',
  'c.x',
  '*.x',
  'a/**/c.x',
  '**/b/**',
  '[ab]/*',
  '?/**',
  'a\\b',
  'src',
];
const SEGMENTS = [
  'a',
  'b',
  'c.x',
  'src',
  'srcfoo',
  'x.x',
  'y.pem',
  '.env',
  '.git',
  '.GIT',
  'node_modules',
  'logs',
  'a\\b',
  'a\nb',
  'A',
];
const HOST_ENTRIES = [
  'a.com',
  'a.com:443',
  'b.com',
  '*.a.com',
  'x.a.com:80',
  '*.a.com:443',
  'y.x.a.com',
  '[::1]:80',
  'b.com:8080',
  '*.x.a.com',
];
const HOSTS = ['a.com', 'b.com', 'x.a.com', 'y.x.a.com', 'z.y.x.a.com', 'c.com', '::1', 'A.COM'];
const PORTS = [undefined, 80, 443, 8080];
const TOOLS = ['bash', 'edit', 'web', 'git'];
const ENV = ['CI', 'HOME', 'TOKEN', 'NODE_ENV'];
const BRANCHES = ['main', 'release', 'dev'];

const globs = fc.subarray(GLOBS, { maxLength: 4 });
const layerArb: fc.Arbitrary<PolicyLayer> = fc.record(
  {
    paths: fc.record(
      {
        allow: globs,
        deny: fc.subarray(GLOBS, { maxLength: 2 }),
        runtime: fc.subarray(GLOBS, { maxLength: 2 }),
      },
      { requiredKeys: [] },
    ),
    network: fc.oneof(
      fc.constant('disabled' as const),
      fc.constant('full' as const),
      fc.record({ allow: fc.subarray(HOST_ENTRIES, { maxLength: 4 }) }),
    ),
    tools: fc.subarray(TOOLS),
    env: fc.record({ allow: fc.subarray(ENV) }, { requiredKeys: [] }),
    limits: fc.record(
      {
        timeoutSec: fc.integer({ min: 1, max: 5000 }),
        maxChangedFiles: fc.integer({ min: 0, max: 1000 }),
        maxPatchLines: fc.integer({ min: 0, max: 60_000 }),
        maxOutputBytes: fc.integer({ min: 1, max: 32 * 1024 * 1024 }),
        maxCostUsd: fc.double({ min: 0, max: 10, noNaN: true }),
        maxInputTokens: fc.integer({ min: 0, max: 10_000_000 }),
        maxOutputTokens: fc.integer({ min: 0, max: 1_000_000 }),
      },
      { requiredKeys: [] },
    ),
    binaryChanges: fc.boolean(),
    sandbox: fc.constantFrom('required' as const, 'preferred' as const, 'off' as const),
    promotion: fc.record(
      {
        approvals: fc.integer({ min: 0, max: 3 }),
        requireDistinctApprover: fc.boolean(),
        protectedBranches: fc.subarray(BRANCHES),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);

/**
 * Layers the operator wrote (agent manifests here), which may grant access: the merge algebra
 * among them. What the repository's and the job's layers may do is checked below, with
 * `mixedLayersArb`.
 */
const layersArb = fc.array(layerArb, { maxLength: 4 }).map((layers): NamedLayer[] =>
  layers.map((layer, index) => ({
    name: `agent:l${index}`,
    source: `l${index}.yaml`,
    layer,
  })),
);

/** Any of the layers a run can have, each at most once, in any order. */
const mixedLayersArb = fc
  .shuffledSubarray(['server', 'agent:a', 'repo', 'job'])
  .chain((names) =>
    fc.tuple(
      fc.constant(names),
      fc.array(layerArb, { minLength: names.length, maxLength: names.length }),
    ),
  )
  .map(([names, layers]): NamedLayer[] =>
    names.map((name, index) => ({ name, source: name, layer: layers[index] ?? {} })),
  );

const pathArb = fc
  .tuple(
    fc.constantFrom('', '', '', './', '/'),
    fc.array(fc.constantFrom(...SEGMENTS, '..', '.', ''), { minLength: 1, maxLength: 4 }),
  )
  .map(([prefix, segments]) => prefix + segments.join('/'));
const pathsArb = fc.array(pathArb, { minLength: 1, maxLength: 6 });
const hostQueryArb = fc.tuple(fc.constantFrom(...HOSTS), fc.constantFrom(...PORTS));

const alone = (layer: NamedLayer): EffectivePolicy => mergePolicy([layer]);
const NETWORK_RANK = { disabled: 0, allowlist: 1, full: 2 } as const;
const SANDBOX_RANK = { off: 0, preferred: 1, required: 2 } as const;

// The oracle compiles its own matchers (not the production cache), once per pattern.
const oracleMatchers = new Map<string, (path: string) => boolean>();
function oracleMatch(path: string, pattern: string): boolean {
  let matcher = oracleMatchers.get(pattern);
  if (!matcher) {
    matcher = picomatch(pattern, MATCH_OPTIONS);
    oracleMatchers.set(pattern, matcher);
  }
  return matcher(path);
}

/** An independent reading of the rules: straight from the layers, no merge, no compiled policy. */
function oracleAllows(layers: readonly NamedLayer[], path: string): boolean {
  const normalised = normaliseRepoPath(path);
  if (!normalised.ok || touchesGitMetadata(normalised.path)) return false;
  const clean = normalised.path;
  const all = [FLOOR_LAYER, ...layers];
  const matches = (pattern: string) => oracleMatch(clean, pattern);
  return all.every(({ layer }) => {
    if ((layer.paths?.deny ?? []).some(matches)) return false;
    const allow = layer.paths?.allow;
    return allow === undefined || allow.some(matches);
  });
}

describe('mergePolicy properties (deny wins)', () => {
  it('allows a path exactly when every layer alone allows it, and matches an independent oracle', () => {
    fc.assert(
      fc.property(layersArb, pathsArb, (layers, paths) => {
        const merged = mergePolicy(layers);
        const floorOnly = mergePolicy([]);
        const singles = layers.map(alone);
        for (const path of paths) {
          const allowed = decidePath(merged, path).allowed;
          expect(allowed).toBe(oracleAllows(layers, path));
          if (allowed)
            for (const single of singles) expect(decidePath(single, path).allowed).toBe(true);
          // The converse too: the merge is the conjunction of the single layers (each carrying the floor).
          expect(allowed).toBe(
            decidePath(floorOnly, path).allowed &&
              singles.every((single) => decidePath(single, path).allowed),
          );
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('never turns a denied path into an allowed one by adding a layer anywhere', () => {
    fc.assert(
      fc.property(layersArb, layerArb, fc.nat(), pathsArb, (layers, extra, at, paths) => {
        const before = mergePolicy(layers);
        const position = at % (layers.length + 1);
        const withExtra = [
          ...layers.slice(0, position),
          { name: 'agent:extra', source: 'extra.yaml', layer: extra },
          ...layers.slice(position),
        ];
        const after = mergePolicy(withExtra);
        for (const path of paths) {
          if (decidePath(after, path).allowed) expect(decidePath(before, path).allowed).toBe(true);
        }
        for (const [host, port] of [
          ['a.com', 443],
          ['x.a.com', undefined],
        ] as const) {
          // Network is monotone once some layer has spoken; before that the default (disabled) applies.
          if (
            layers.some((layer) => layer.layer.network !== undefined) &&
            allowsHost(after, host, port)
          ) {
            expect(allowsHost(before, host, port)).toBe(true);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('decides the same whatever the layer order', () => {
    fc.assert(
      fc.property(layersArb, pathsArb, (layers, paths) => {
        const forward = mergePolicy(layers);
        const backward = mergePolicy([...layers].reverse());
        for (const path of paths)
          expect(decidePath(backward, path).allowed).toBe(decidePath(forward, path).allowed);
        expect(backward.limits).toEqual(forward.limits);
        expect(backward.network.mode).toBe(forward.network.mode);
        expect(backward.binaryChanges).toBe(forward.binaryChanges);
        expect(backward.sandbox).toBe(forward.sandbox);
      }),
      { numRuns: 200 },
    );
  });

  it('never permits a host that a layer forbids, and the concrete allow-list is the exact intersection', () => {
    fc.assert(
      fc.property(
        layersArb,
        fc.array(hostQueryArb, { minLength: 1, maxLength: 6 }),
        (layers, queries) => {
          const merged = mergePolicy(layers);
          const setters = layers.filter((layer) => layer.layer.network !== undefined).map(alone);
          for (const single of setters) {
            expect(NETWORK_RANK[merged.network.mode]).toBeLessThanOrEqual(
              NETWORK_RANK[single.network.mode],
            );
          }
          for (const [host, port] of queries) {
            const permitted = allowsHost(merged, host, port);
            if (permitted)
              for (const single of setters) expect(allowsHost(single, host, port)).toBe(true);
            if (setters.length > 0)
              expect(permitted).toBe(setters.every((single) => allowsHost(single, host, port)));
            if (merged.network.mode === 'allowlist') {
              const canonical = canonicalHost(host.includes(':') ? `[${host}]` : host);
              const viaList = merged.network.allow.some((entry) => {
                const parsed = parseHostPattern(entry);
                return (
                  parsed.ok &&
                  canonical !== null &&
                  hostPatternAdmits(parsed.pattern, canonical, port ?? null)
                );
              });
              expect(viaList).toBe(permitted);
            }
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('intersects tools and env exactly', () => {
    fc.assert(
      fc.property(layersArb, (layers) => {
        const merged = mergePolicy(layers);
        const toolSetters = layers.flatMap((layer) =>
          layer.layer.tools ? [layer.layer.tools] : [],
        );
        const envSetters = layers.flatMap((layer) =>
          layer.layer.env?.allow ? [layer.layer.env.allow] : [],
        );
        for (const tool of TOOLS) {
          expect(allowsTool(merged, tool)).toBe(toolSetters.every((list) => list.includes(tool)));
        }
        for (const name of ENV) {
          expect(allowsEnv(merged, name)).toBe(
            envSetters.length > 0 && envSetters.every((list) => list.includes(name)),
          );
        }
        for (const list of toolSetters)
          for (const tool of merged.tools ?? []) expect(list).toContain(tool);
        for (const list of envSetters)
          for (const name of merged.envAllow ?? []) expect(list).toContain(name);
      }),
      { numRuns: RUNS },
    );
  });

  it('never loosens a limit, a permission, the sandbox or the promotion rules', () => {
    fc.assert(
      fc.property(layersArb, (layers) => {
        const merged = mergePolicy(layers);
        for (const { layer } of [FLOOR_LAYER, ...layers]) {
          const limits = layer.limits ?? {};
          if (limits.timeoutSec !== undefined)
            expect(merged.limits.timeoutSec).toBeLessThanOrEqual(limits.timeoutSec);
          if (limits.maxChangedFiles !== undefined)
            expect(merged.limits.maxChangedFiles).toBeLessThanOrEqual(limits.maxChangedFiles);
          if (limits.maxPatchLines !== undefined)
            expect(merged.limits.maxPatchLines).toBeLessThanOrEqual(limits.maxPatchLines);
          if (limits.maxOutputBytes !== undefined)
            expect(merged.limits.maxOutputBytes).toBeLessThanOrEqual(limits.maxOutputBytes);
          if (limits.maxCostUsd !== undefined) {
            expect(merged.limits.maxCostUsd).not.toBeNull();
            expect(merged.limits.maxCostUsd ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(
              limits.maxCostUsd,
            );
          }
          for (const key of ['maxInputTokens', 'maxOutputTokens'] as const) {
            const limit = limits[key];
            if (limit === undefined) continue;
            expect(merged.limits[key] ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(limit);
          }
          if (merged.binaryChanges) expect(layer.binaryChanges).not.toBe(false);
          if (layer.sandbox)
            expect(SANDBOX_RANK[merged.sandbox]).toBeGreaterThanOrEqual(
              SANDBOX_RANK[layer.sandbox],
            );
          const promotion = layer.promotion ?? {};
          if (promotion.approvals !== undefined)
            expect(merged.promotion.approvals).toBeGreaterThanOrEqual(promotion.approvals);
          if (promotion.requireDistinctApprover)
            expect(merged.promotion.requireDistinctApprover).toBe(true);
          for (const branch of promotion.protectedBranches ?? [])
            expect(merged.promotion.protectedBranches).toContain(branch);
        }
        if (merged.binaryChanges)
          expect(layers.some((layer) => layer.layer.binaryChanges === true)).toBe(true);
        // Every merged value names real layers as its deciders.
        const names = new Set(merged.layers.map((layer) => layer.name));
        for (const deciders of Object.values(merged.decidedBy))
          for (const name of deciders) expect(names.has(name)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('normalises paths idempotently and decides on the normal form', () => {
    const policy = mergePolicy([
      { name: 'job', source: 'job', layer: { paths: { allow: ['a/**', '**/*.x'] } } },
    ]);
    fc.assert(
      fc.property(pathArb, (path) => {
        const first = normaliseRepoPath(path);
        if (!first.ok) {
          expect(decidePath(policy, path).allowed).toBe(false);
          return;
        }
        expect(normaliseRepoPath(first.path)).toEqual(first);
        expect(first.path.split('/')).not.toContain('..');
        expect(first.path.split('/')).not.toContain('');
        expect(decidePath(policy, path)).toEqual(decidePath(policy, first.path));
      }),
      { numRuns: RUNS },
    );
  });

  it('grants no sandbox off, network or host variable beyond the defaults but from the operator', () => {
    fc.assert(
      fc.property(mixedLayersArb, fc.constantFrom(...ENV), (layers, name) => {
        const merged = mergePolicy(layers);
        const granting = layers.filter(
          (layer) => layer.name === 'server' || layer.name.startsWith('agent:'),
        );
        if (!granting.some((layer) => layer.layer.sandbox !== undefined))
          expect(SANDBOX_RANK[merged.sandbox]).toBeGreaterThanOrEqual(SANDBOX_RANK.preferred);
        if (!granting.some((layer) => layer.layer.network !== undefined))
          expect(merged.network.mode).toBe('disabled');
        if (allowsEnv(merged, name))
          expect(granting.some((layer) => layer.layer.env?.allow?.includes(name))).toBe(true);
        // The repository's and the job's layers never widen what the operator's give.
        const operatorOnly = mergePolicy(granting);
        expect(NETWORK_RANK[merged.network.mode]).toBeLessThanOrEqual(
          NETWORK_RANK[operatorOnly.network.mode],
        );
        expect(SANDBOX_RANK[merged.sandbox]).toBeGreaterThanOrEqual(
          SANDBOX_RANK[operatorOnly.sandbox],
        );
        if (allowsEnv(merged, name)) expect(allowsEnv(operatorOnly, name)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});
