import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The architecture, as code. Each context may import only the contexts listed for it, and only
 * through their `index.ts`. This table is also the dependency picture in ARCHITECTURE.md.
 */
const ALLOWED_DEPENDENCIES: Record<string, readonly string[]> = {
  kernel: [],
  config: ['kernel'],
  store: ['kernel'],
  sessions: ['kernel', 'store'],
  policy: ['kernel'],
  workspaces: ['kernel'],
  sandbox: ['kernel'],
  // The model gateway: provider credentials and budgets, outside every sandbox.
  gateway: ['kernel'],
  drivers: ['kernel', 'sandbox'],
  gates: ['kernel', 'policy', 'workspaces', 'sandbox'],
  runner: [
    'kernel',
    'store',
    'sessions',
    'policy',
    'workspaces',
    'sandbox',
    'drivers',
    'gates',
    'gateway',
  ],
  queue: ['kernel', 'store', 'sessions'],
  // Remote workers: the control plane's side (claims, lease operations, base packs from
  // workspaces) and the worker program, which runs the runner against the control plane.
  workers: ['kernel', 'store', 'sessions', 'queue', 'runner', 'policy', 'workspaces'],
  // Schedules fire runs from a stored JobSpec through the store: the runner only parses the job
  // and shapes the new session's records.
  schedules: ['kernel', 'store', 'sessions', 'runner'],
  // The only privileged step: approvals, the writer lease, preflight, attestation, branch and PR.
  promotion: ['kernel', 'store', 'sessions', 'policy', 'workspaces', 'sandbox', 'gates', 'runner'],
  // The API reads the store and streams the bus; everything that changes runs goes through the
  // control-plane port the composition root hands it, so it holds no queue or runner logic.
  api: ['kernel', 'store', 'sessions', 'policy', 'runner', 'promotion', 'schedules'],
  app: [
    'kernel',
    'config',
    'store',
    'sessions',
    'policy',
    'workspaces',
    'sandbox',
    'drivers',
    'gates',
    'runner',
    'queue',
    'workers',
    'promotion',
    'schedules',
    'gateway',
    'api',
  ],
  cli: [
    'kernel',
    'config',
    'app',
    'store',
    'sessions',
    'policy',
    'workspaces',
    'drivers',
    'runner',
    'promotion',
    'schedules',
    'api',
  ],
};

/** Who may start processes: untrusted ones only through the sandbox, git only in workspaces and promotion. */
const CHILD_PROCESS_ALLOWED = new Set(['sandbox', 'workspaces', 'promotion']);
/** `process.env` is read once, at the composition root (and by the mock agent, which is the agent process). */
const PROCESS_ENV_ALLOWED = new Set([
  'cli/main.ts',
  'drivers/mock-agent.ts',
  'drivers/adapter-support.ts',
]);
/**
 * What the agent drivers run INSIDE the sandbox as the agent process use to start the agent's
 * own CLI there (`runAgentCli`): the untrusted side, not AAS spawning anything on the host.
 */
const IN_SANDBOX_DRIVERS = new Set(['drivers/adapter-support.ts']);

const srcDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return full.endsWith('.ts') && !full.endsWith('.test.ts') ? [full] : [];
  });
}

const IMPORT_PATTERN =
  /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT_PATTERN)].map((match) => match[1] ?? match[2] ?? '');
}

const files = sourceFiles(srcDir);
const contextOf = (file: string) => relative(srcDir, file).split(sep)[0] ?? '';

describe('architecture', () => {
  it('has a rule for every context folder', () => {
    const contexts = new Set(files.map(contextOf));
    for (const context of contexts)
      expect(ALLOWED_DEPENDENCIES, `context ${context}`).toHaveProperty(context);
  });

  it('crosses context boundaries only through index.ts and only along allowed edges', () => {
    const violations: string[] = [];
    for (const file of files) {
      const from = contextOf(file);
      for (const specifier of importsOf(file)) {
        if (!specifier.startsWith('.')) continue;
        const target = resolve(dirname(file), specifier);
        const to = relative(srcDir, target).split(sep)[0] ?? '';
        if (to === from) continue;
        const where = relative(srcDir, file);
        if (relative(srcDir, target) !== `${to}${sep}index.js`)
          violations.push(`${where}: deep import ${specifier}`);
        if (!ALLOWED_DEPENDENCIES[from]?.includes(to))
          violations.push(`${where}: ${from} may not depend on ${to}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('spawns processes only in sandbox (agents, validators) and workspaces (git)', () => {
    const offenders = files.filter((file) => {
      if (CHILD_PROCESS_ALLOWED.has(contextOf(file))) return false;
      if (IN_SANDBOX_DRIVERS.has(relative(srcDir, file).split(sep).join('/'))) return false;
      return importsOf(file).some((s) => s === 'node:child_process' || s === 'child_process');
    });
    expect(offenders.map((f) => relative(srcDir, f))).toEqual([]);
  });

  it('reads process.env only at the composition root', () => {
    const offenders = files.filter(
      (file) =>
        !PROCESS_ENV_ALLOWED.has(relative(srcDir, file).split(sep).join('/')) &&
        /process\.env\b/.test(readFileSync(file, 'utf8')),
    );
    expect(offenders.map((f) => relative(srcDir, f))).toEqual([]);
  });

  it('has no import cycles between files', () => {
    const graph = new Map<string, string[]>();
    for (const file of files) {
      graph.set(
        file,
        importsOf(file)
          .filter((s) => s.startsWith('.'))
          .map((s) => resolve(dirname(file), s).replace(/\.js$/, '.ts')),
      );
    }
    const state = new Map<string, 'visiting' | 'done'>();
    const cycles: string[] = [];
    const visit = (node: string, trail: string[]) => {
      if (state.get(node) === 'done') return;
      if (state.get(node) === 'visiting') {
        cycles.push(
          [...trail.slice(trail.indexOf(node)), node].map((f) => relative(srcDir, f)).join(' -> '),
        );
        return;
      }
      state.set(node, 'visiting');
      for (const next of graph.get(node) ?? []) visit(next, [...trail, node]);
      state.set(node, 'done');
    };
    for (const file of files) visit(file, []);
    expect(cycles).toEqual([]);
  });

  it('uses no enum and no explicit any in src', () => {
    const offenders = files.filter((file) =>
      /^\s*(export\s+)?(const\s+)?enum\s/m.test(readFileSync(file, 'utf8')),
    );
    expect(offenders.map((f) => relative(srcDir, f))).toEqual([]);
  });
});
