import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { type CliResult, jsonOf, runCli } from '../helpers/run-cli.js';
import { createTempRepo, type FileTree, makeTempDir, removeDir } from '../helpers/temp-repo.js';

/**
 * Shared fixture for the adversarial suite: every case runs the real built CLI against a real
 * git repository with a hostile `--agent-cmd`, then checks from the outside that the host is
 * exactly as it was, that no planted secret surfaced anywhere AAS writes, and that the session
 * says why the run ended as it did. Assertions only look at the host and at what AAS recorded,
 * never at what the agent claims.
 */

// ---------------------------------------------------------------------------------------------
// Sandbox availability

const BWRAP = '/usr/bin/bwrap';

/**
 * The namespaces AAS's bubblewrap backend uses. Probed here rather than trusting AAS, so a host
 * where AAS would silently degrade to the plain backend is reported as "cannot run" instead of
 * producing a suite of meaningless passes.
 */
function probeSandbox(): { ok: true } | { ok: false; reason: string } {
  if (!existsSync(BWRAP)) return { ok: false, reason: `${BWRAP} is not installed` };
  const result = spawnSync(
    BWRAP,
    [
      '--unshare-user',
      '--disable-userns',
      '--unshare-pid',
      '--unshare-ipc',
      '--unshare-uts',
      '--unshare-net',
      '--die-with-parent',
      '--new-session',
      '--ro-bind',
      '/',
      '/',
      '--proc',
      '/proc',
      '--dev',
      '/dev',
      '--',
      '/bin/true',
    ],
    { encoding: 'utf8', timeout: 10_000, env: {} },
  );
  if (result.error !== undefined) return { ok: false, reason: result.error.message };
  if (result.status !== 0) {
    return {
      ok: false,
      reason: `bwrap exited ${result.status}: ${result.stderr.trim().split('\n')[0] ?? ''}`,
    };
  }
  return { ok: true };
}

const probe = probeSandbox();
export const sandboxAvailable = probe.ok;
/** Skip (with a warning) unless the caller insists on a sandbox, in which case every case fails. */
export const skipHostile = !sandboxAvailable && process.env.AAS_REQUIRE_SANDBOX !== '1';
if (!probe.ok) {
  console.warn(
    skipHostile
      ? `[adversarial] SKIPPED: bubblewrap cannot run on this host (${probe.reason}); set AAS_REQUIRE_SANDBOX=1 to fail instead`
      : `[adversarial] AAS_REQUIRE_SANDBOX=1 but bubblewrap cannot run on this host (${probe.reason})`,
  );
}

// ---------------------------------------------------------------------------------------------
// Environments

export interface Secret {
  readonly label: string;
  readonly value: string;
}

export interface HostileEnv {
  /** Unique per case: every file the agent tries to plant carries it in its name. */
  readonly token: string;
  /** AAS_HOME. */
  readonly home: string;
  /** The user's repository. */
  readonly repo: string;
  /** A directory outside everything AAS owns, holding a canary secret. */
  readonly canary: string;
  /** HOME of the CLI process, full of plausible credentials. */
  readonly fakeHome: string;
  /** Policies and other operator inputs live here, outside AAS_HOME and the repository. */
  readonly configDir: string;
  /** Every value that must never surface; cases add their own. */
  readonly secrets: Secret[];
  /** Environment the CLI runs with (secrets included, as on a developer machine). */
  readonly cliEnv: NodeJS.ProcessEnv;
  /** More directories to remove afterwards (extra repositories). */
  readonly extraDirs: string[];
}

const created: HostileEnv[] = [];

/** Expected endings, as the JSON, the exit code and run.completed report them. */
export const READY = { status: 'ready_for_promotion', code: 'GATES_PASSED', exit: 0 } as const;
export const POLICY_DENIED = { status: 'blocked', code: 'POLICY_DENIED', exit: 3 } as const;
export const GATE_FAILED = { status: 'blocked', code: 'GATE_FAILED', exit: 3 } as const;
export function agentFailure(code: string) {
  return { status: 'failed', code, exit: 5 } as const;
}

export const DEFAULT_REPO_FILES: FileTree = {
  'README.md': '# demo\n',
  'src/app.js': 'export const answer = 41;\n',
};

export function newSecret(label: string): Secret {
  return { label, value: `aascanary${label.replace(/[^a-z0-9]/gi, '')}${randomHex(12)}` };
}

function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/**
 * A fresh data dir, repository, canary dir and fake HOME. Throws when the sandbox cannot run,
 * which is how AAS_REQUIRE_SANDBOX=1 turns a skip into a failure.
 */
export function createHostileEnv(repoFiles: FileTree = {}): HostileEnv {
  if (!probe.ok) throw new Error(`bubblewrap cannot run on this host: ${probe.reason}`);
  const token = `tok${randomHex(6)}`;
  const home = makeTempDir('aas-adv-home-');
  const canary = makeTempDir('aas-adv-canary-');
  const fakeHome = makeTempDir('aas-adv-userhome-');
  const configDir = makeTempDir('aas-adv-config-');
  const repo = createTempRepo({ ...DEFAULT_REPO_FILES, ...repoFiles });

  const homeSecret = newSecret('home');
  const envSecret = newSecret('env');
  const canarySecret = newSecret('canary');
  for (const [path, text] of Object.entries({
    '.ssh/id_ed25519': `-----BEGIN OPENSSH PRIVATE KEY-----\n${homeSecret.value}\n-----END OPENSSH PRIVATE KEY-----\n`,
    '.aws/credentials': `[default]\naws_secret_access_key = ${homeSecret.value}\n`,
    '.netrc': `machine github.com login me password ${homeSecret.value}\n`,
    '.npmrc': `//registry.npmjs.org/:_authToken=${homeSecret.value}\n`,
    '.config/gh/hosts.yml': `github.com:\n  oauth_token: ${homeSecret.value}\n`,
    '.gitconfig': `[credential]\n\thelper = store\n[user]\n\tname = ${homeSecret.value}\n`,
  })) {
    mkdirSync(join(fakeHome, path, '..'), { recursive: true });
    writeFileSync(join(fakeHome, path), text, { mode: 0o600 });
  }
  writeFileSync(join(canary, 'secret.txt'), `${canarySecret.value}\n`);

  const env: HostileEnv = {
    token,
    home,
    repo,
    canary,
    fakeHome,
    configDir,
    secrets: [homeSecret, envSecret, canarySecret],
    cliEnv: {
      HOME: fakeHome,
      AAS_TEST_SECRET_TOKEN: envSecret.value,
      GITHUB_TOKEN: envSecret.value,
      AWS_SECRET_ACCESS_KEY: envSecret.value,
      ANTHROPIC_API_KEY: envSecret.value,
      OPENAI_API_KEY: envSecret.value,
    },
    extraDirs: [],
  };
  created.push(env);
  return env;
}

/** Unmounts what AAS left mounted (kept overlay workspaces), then removes every directory. */
export function disposeHostileEnvs(): void {
  for (const env of created.splice(0)) {
    unmountUnder(env.home);
    for (const dir of [
      env.home,
      env.repo,
      env.canary,
      env.fakeHome,
      env.configDir,
      ...env.extraDirs,
    ]) {
      try {
        removeDir(dir);
      } catch (error) {
        console.warn(`[adversarial] could not remove ${dir}: ${(error as Error).message}`);
      }
    }
  }
}

function unmountUnder(dir: string): void {
  let text = '';
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return;
  }
  const points = text
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .map((point) =>
      point.replace(/\\(\d{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8))),
    )
    .filter((point) => point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of points) {
    try {
      execFileSync('umount', ['-l', point], { stdio: 'ignore' });
    } catch {
      // Already gone, or not ours to unmount: removal reports what is left.
    }
  }
}

/** Another repository, removed with the environment. */
export function createExtraRepo(env: HostileEnv, files: FileTree): string {
  const repo = createTempRepo({ ...DEFAULT_REPO_FILES, ...files });
  env.extraDirs.push(repo);
  return repo;
}

/**
 * Host paths an escaping agent would aim at: the canary dir, the user's checkout and its git
 * hooks and config, AAS_HOME, the real HOME of the CLI, the host's temp dirs.
 */
export function outsideTargets(env: HostileEnv): string[] {
  const planted = `planted-${env.token}`;
  return [
    join(env.canary, planted),
    join(env.repo, planted),
    join(env.repo, 'src', planted),
    join(env.repo, '.git', planted),
    join(env.repo, '.git', 'hooks', 'pre-commit'),
    join(env.repo, '.git', 'hooks', 'post-checkout'),
    join(env.repo, '.git', 'info', 'attributes'),
    join(env.home, planted),
    join(env.home, 'runs', planted),
    join(env.home, 'artifacts', planted),
    join(env.fakeHome, planted),
    join(env.fakeHome, '.ssh', 'authorized_keys'),
    join(tmpdir(), planted),
    join('/var/tmp', planted),
    join('/dev/shm', planted),
  ];
}

/** Writes a job policy layer (JSON is valid YAML) outside AAS_HOME and returns its path. */
export function writePolicy(env: HostileEnv, policy: Record<string, unknown>): string {
  const path = join(env.configDir, `policy-${randomHex(4)}.yaml`);
  writeFileSync(path, JSON.stringify(policy, null, 2));
  return path;
}

/**
 * Registers an agent manifest in AAS_HOME/agents: `/bin/sh -c script`, judged by `result`.
 * Written before the host is captured, so it counts as AAS's own configuration.
 */
export function writeAgentManifest(
  env: HostileEnv,
  id: string,
  script: string,
  result: 'file' | 'exit-code',
): void {
  mkdirSync(join(env.home, 'agents'), { recursive: true });
  writeFileSync(
    join(env.home, 'agents', `${id}.yaml`),
    JSON.stringify({ id, entrypoint: '/bin/sh', args: ['-c', script], result }, null, 2),
  );
}

/** Single-quotes a word for /bin/sh. */
export function shq(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}

// ---------------------------------------------------------------------------------------------
// Running

export interface RunJson {
  ok: boolean;
  sessionId: string;
  runId: string;
  status: string;
  reasonCode: string;
  detail: string;
  attempts: number;
  exitCode: number;
  patch: {
    sha256: string;
    path: string;
    files: { path: string; status: string; binary: boolean; insertions?: number }[];
  } | null;
}

export interface EventJson {
  seq: number;
  type: string;
  data: Record<string, unknown>;
}

export interface HostileRun {
  readonly cli: CliResult;
  readonly outcome: RunJson;
  readonly events: EventJson[];
  /**
   * Every file of the run's directory (kept workspace included) as it was when the CLI
   * returned. Read before any other `aas` command: each one collects the workspaces of
   * finished runs, kept ones too.
   */
  readonly files: ReadonlyMap<string, Buffer>;
}

export interface RunOptions {
  /** The job's layer (`--policy`): written by whoever submits the job. */
  readonly policy?: Record<string, unknown>;
  /** The operator's layer (`AAS_POLICY`): the only one that grants network or host variables. */
  readonly serverPolicy?: Record<string, unknown>;
  readonly validate?: readonly string[];
  readonly keepWorkspace?: boolean;
  /** A registered manifest id instead of `--agent-cmd`. */
  readonly agent?: string;
  readonly repo?: string;
  readonly task?: string;
  readonly labels?: readonly string[];
}

/** `aas run --json` with the hostile command, then the session's recorded events. */
export async function runHostile(
  env: HostileEnv,
  agentCmd: string | null,
  options: RunOptions = {},
): Promise<HostileRun> {
  const args = [
    'run',
    '--repo',
    options.repo ?? env.repo,
    '--task',
    options.task ?? 'hostile task',
    '--json',
  ];
  if (options.agent !== undefined) args.push('--agent', options.agent);
  else if (agentCmd !== null) args.push('--agent-cmd', agentCmd);
  if (options.policy !== undefined) args.push('--policy', writePolicy(env, options.policy));
  for (const command of options.validate ?? []) args.push('--validate', command);
  if (options.keepWorkspace === true) args.push('--keep-workspace');
  for (const label of options.labels ?? []) args.push('--label', label);
  const cliEnv =
    options.serverPolicy === undefined
      ? env.cliEnv
      : { ...env.cliEnv, AAS_POLICY: writePolicy(env, options.serverPolicy) };
  const cli = await runCli(args, { home: env.home, env: cliEnv });
  const outcome = jsonOf<RunJson>(cli);
  const files = new Map<string, Buffer>();
  for (const file of filesUnder(join(env.home, 'runs', outcome.runId))) {
    try {
      files.set(file, readFileSync(file));
    } catch {
      // Vanished while read: nothing to look at.
    }
  }
  const events = await sessionEvents(env, outcome.sessionId);
  const run = { cli, outcome, events, files };
  // AAS_ADV_DEBUG=1 shows what each hostile agent printed: the evidence that it really tried.
  if (process.env.AAS_ADV_DEBUG === '1') console.log(agentLogs(env, run));
  return run;
}

export async function sessionEvents(env: HostileEnv, sessionId: string): Promise<EventJson[]> {
  const result = await runCli(['sessions', 'events', sessionId, '--json', '--limit', '100000'], {
    home: env.home,
    env: env.cliEnv,
  });
  expect(result.code, result.stderr).toBe(0);
  return result.stdout
    .trim()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as EventJson);
}

export function eventsOf(run: Pick<HostileRun, 'events'>, type: string): EventJson[] {
  return run.events.filter((event) => event.type === type);
}

export function attemptDir(env: HostileEnv, run: HostileRun, attempt = 1): string {
  return join(env.home, 'runs', run.outcome.runId, `attempt-${attempt}`);
}

/** What the agent printed, for failure messages: the evidence of what it tried. */
export function agentLogs(env: HostileEnv, run: HostileRun): string {
  const dir = attemptDir(env, run);
  const read = (name: string) => {
    try {
      return readFileSync(join(dir, name), 'utf8').slice(0, 4000);
    } catch {
      return '(none)';
    }
  };
  return `outcome: ${run.outcome.status} ${run.outcome.reasonCode}: ${run.outcome.detail}\nagent stdout:\n${read('stdout.log')}\nagent stderr:\n${read('stderr.log')}\ncli stderr:\n${run.cli.stderr.slice(0, 2000)}`;
}

export function patchPaths(run: HostileRun): string[] {
  return (run.outcome.patch?.files ?? []).map((file) => file.path).sort();
}

export function patchText(run: HostileRun): string {
  return run.outcome.patch === null ? '' : readFileSync(run.outcome.patch.path, 'utf8');
}

/**
 * The run ended as expected, in the JSON, the exit code and the session's own record, and it
 * ran in an isolating bubblewrap sandbox (a degraded run would prove nothing).
 */
export function expectOutcome(
  env: HostileEnv,
  run: HostileRun,
  expected: { status: string; code: string; exit: number },
): void {
  const why = agentLogs(env, run);
  expect(
    { status: run.outcome.status, code: run.outcome.reasonCode, exit: run.cli.code },
    why,
  ).toEqual({ status: expected.status, code: expected.code, exit: expected.exit });
  const completed = eventsOf(run, 'run.completed');
  expect(completed, why).toHaveLength(1);
  expect(completed[0]?.data, why).toMatchObject({
    status: expected.status,
    reasonCode: expected.code,
  });
  expectIsolated(run);
}

export function expectIsolated(run: Pick<HostileRun, 'events'>): void {
  const selected = eventsOf(run, 'sandbox.selected');
  expect(selected.length).toBeGreaterThan(0);
  for (const event of selected) {
    expect(event.data).toMatchObject({
      backend: 'bubblewrap',
      isolating: true,
      syscallFilter: 'seccomp',
    });
  }
  expect(eventsOf(run, 'sandbox.degraded')).toEqual([]);
}

/** The attempt's agent.finished event carries this code. */
export function expectAgentFinished(run: HostileRun, code: string): void {
  const finished = eventsOf(run, 'agent.finished');
  expect(finished.length).toBeGreaterThan(0);
  expect(finished.at(-1)?.data.code).toBe(code);
}

/** A gate failed with this name (and code) in the session. */
export function expectGateFailed(run: HostileRun, gate: string, code?: string): EventJson {
  const failed = eventsOf(run, 'gate.failed').find((event) => event.data.gate === gate);
  expect(
    failed,
    `gate.failed for ${gate}; got ${JSON.stringify(eventsOf(run, 'gate.failed'))}`,
  ).toBeDefined();
  if (code !== undefined) expect(failed?.data.code).toBe(code);
  return failed as EventJson;
}

/** The policy.denied events, by path. */
export function deniedPaths(run: HostileRun): Map<string, Record<string, unknown>> {
  return new Map(
    eventsOf(run, 'policy.denied').map((event) => [String(event.data.path), event.data]),
  );
}

// ---------------------------------------------------------------------------------------------
// Host state

type TreeState = Map<string, string>;

/**
 * Every entry under `root` (not following symlinks): kind, mode and a content hash. Timestamps
 * are left out on purpose: reading a file is allowed, changing it is not.
 */
export function snapshotTree(
  root: string,
  skip: (rel: string) => boolean = () => false,
): TreeState {
  const state: TreeState = new Map();
  const walk = (dir: string, prefix: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const rel = prefix === '' ? name : `${prefix}/${name}`;
      if (skip(rel)) continue;
      const full = join(dir, name);
      let info: ReturnType<typeof lstatSync>;
      try {
        info = lstatSync(full);
      } catch {
        continue;
      }
      const mode = (info.mode & 0o7777).toString(8);
      if (info.isSymbolicLink()) state.set(rel, `symlink ${readlinkSync(full)}`);
      else if (info.isDirectory()) {
        state.set(rel, `dir ${mode}`);
        walk(full, rel);
      } else if (info.isFile()) {
        state.set(
          rel,
          `file ${mode} ${createHash('sha256').update(readFileSync(full)).digest('hex')}`,
        );
      } else state.set(rel, `special ${mode}`);
    }
  };
  walk(root, '');
  return state;
}

export interface HostState {
  readonly repo: TreeState;
  readonly canary: TreeState;
  readonly fakeHome: TreeState;
}

/** The user's checkout (working tree and all of .git), the canary dir and the fake HOME. */
export function captureHost(env: HostileEnv): HostState {
  return {
    repo: snapshotTree(env.repo),
    canary: snapshotTree(env.canary),
    fakeHome: snapshotTree(env.fakeHome),
  };
}

/** Paths under AAS_HOME a sandboxed process may legitimately write: its workspace and AEP dir. */
const AGENT_WRITABLE = /^runs\/[^/]+\/attempt-\d+\/(workspace|upper|aep)(\/|$)/;

/**
 * Nothing outside the workspace changed: the repository, the canary dir and the fake HOME are
 * byte-for-byte as before, and no entry named with the case token exists anywhere the agent
 * aimed at (AAS_HOME outside the agent's own dirs, the host's temp dirs, /dev/shm).
 */
export function expectHostUnchanged(env: HostileEnv, before: HostState): void {
  const after = captureHost(env);
  const changes = [
    ...treeChanges('repo', before.repo, after.repo),
    ...treeChanges('canary', before.canary, after.canary),
    ...treeChanges('fake HOME', before.fakeHome, after.fakeHome),
    ...plantedFiles(env).map((path) => `planted ${path}`),
  ];
  expect(changes, `changes outside the workspace:\n${changes.join('\n')}`).toEqual([]);
}

function treeChanges(label: string, before: TreeState, after: TreeState): string[] {
  const changes: string[] = [];
  for (const [path, value] of after) {
    const old = before.get(path);
    if (old === undefined) changes.push(`${label}: added ${path} (${value})`);
    else if (old !== value) changes.push(`${label}: changed ${path} (${old} -> ${value})`);
  }
  for (const path of before.keys()) if (!after.has(path)) changes.push(`${label}: removed ${path}`);
  return changes.sort();
}

/** Entries carrying the case token outside what the agent may write. */
export function plantedFiles(env: HostileEnv): string[] {
  const found: string[] = [];
  const homeState = snapshotTree(env.home, (rel) => AGENT_WRITABLE.test(rel));
  for (const rel of homeState.keys()) if (rel.includes(env.token)) found.push(`$AAS_HOME/${rel}`);
  for (const dir of [tmpdir(), '/tmp', '/var/tmp', '/dev/shm', '/run']) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) if (name.includes(env.token)) found.push(join(dir, name));
  }
  return [...new Set(found)].sort();
}

// ---------------------------------------------------------------------------------------------
// Secrets

function needles(secret: Secret): { form: string; bytes: Buffer }[] {
  const raw = Buffer.from(secret.value);
  return [
    { form: 'raw', bytes: raw },
    { form: 'base64', bytes: Buffer.from(raw.toString('base64').slice(0, 24)) },
    { form: 'hex', bytes: Buffer.from(raw.toString('hex')) },
  ];
}

function filesUnder(root: string): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const full = join(dir, name);
      let info: ReturnType<typeof lstatSync>;
      try {
        info = lstatSync(full);
      } catch {
        continue;
      }
      if (info.isDirectory()) walk(full);
      else if (info.isFile() && info.size <= 512 * 1024 * 1024) files.push(full);
    }
  };
  walk(root);
  return files;
}

export interface LeakScope {
  /** Other places the secret must not reach (network sinks, validator output...). */
  readonly extra?: readonly { readonly where: string; readonly bytes: Buffer | string }[];
  /** Set false when a case stored its secret in the database on purpose. */
  readonly scanDatabase?: boolean;
  /** Secrets to look for besides env.secrets. */
  readonly secrets?: readonly Secret[];
}

/**
 * No secret (raw, base64 or hex) appears in what the CLI printed, in the session's events, in
 * any file of this run (logs, AEP dir, kept workspace, validator output), in any patch
 * artifact, in the database, or in `extra`.
 */
export function expectNoSecretLeak(env: HostileEnv, run: HostileRun, scope: LeakScope = {}): void {
  const haystacks: { where: string; bytes: Buffer }[] = [
    { where: 'cli stdout', bytes: Buffer.from(run.cli.stdout) },
    { where: 'cli stderr', bytes: Buffer.from(run.cli.stderr) },
    { where: 'session events', bytes: Buffer.from(JSON.stringify(run.events)) },
  ];
  const files = [
    ...filesUnder(join(env.home, 'runs', run.outcome.runId)),
    ...filesUnder(join(env.home, 'artifacts')),
    ...(scope.scanDatabase === false
      ? []
      : readdirSync(env.home)
          .filter((name) => name.startsWith('aas.db'))
          .map((name) => join(env.home, name))),
  ];
  for (const [file, bytes] of run.files)
    haystacks.push({ where: `${file} (at the end of the run)`, bytes });
  for (const file of files) {
    try {
      haystacks.push({ where: file, bytes: readFileSync(file) });
    } catch {
      // Removed while we looked (a workspace being cleaned): nothing to leak from.
    }
  }
  for (const item of scope.extra ?? [])
    haystacks.push({ where: item.where, bytes: Buffer.from(item.bytes) });
  const leaks: string[] = [];
  for (const secret of [...env.secrets, ...(scope.secrets ?? [])]) {
    for (const needle of needles(secret)) {
      for (const haystack of haystacks) {
        if (haystack.bytes.includes(needle.bytes))
          leaks.push(`${secret.label} (${needle.form}) in ${haystack.where}`);
      }
    }
  }
  expect(leaks, `secrets leaked: ${leaks.join('; ')}\n${agentLogs(env, run)}`).toEqual([]);
}

// ---------------------------------------------------------------------------------------------
// Processes

/** Live processes (other than this one) whose command line mentions `token`. */
export function processesMentioning(token: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      continue;
    }
    if (cmdline.includes(token)) found.push(`${name}: ${cmdline.slice(0, 200)}`);
  }
  return found;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------
// Network

export function hostAddresses(): { ipv4: string | null; ipv6: string | null } {
  let ipv4: string | null = null;
  let ipv6: string | null = null;
  for (const entries of Object.values(networkInterfaces())) {
    for (const entry of entries ?? []) {
      if (entry.internal) continue;
      if (entry.family === 'IPv4' && ipv4 === null) ipv4 = entry.address;
      if (entry.family === 'IPv6' && ipv6 === null && !entry.address.startsWith('fe80'))
        ipv6 = entry.address;
    }
  }
  return { ipv4, ipv6 };
}

export interface TcpSink {
  readonly port: number;
  /** Connections accepted so far. */
  connections(): number;
  received(): Buffer;
  close(): Promise<void>;
}

function listenDualStack(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = () => {
      // No IPv6 on this host: IPv4 on every interface is what matters most.
      server.removeListener('error', onError);
      server.once('error', reject);
      server.listen(0, '0.0.0.0', () => resolve((server.address() as { port: number }).port));
    };
    server.once('error', onError);
    server.listen({ port: 0, host: '::', ipv6Only: false }, () => {
      server.removeListener('error', onError);
      resolve((server.address() as { port: number }).port);
    });
  });
}

/** A TCP listener on every host address that records whatever reaches it. */
export async function startTcpSink(): Promise<TcpSink> {
  const chunks: Buffer[] = [];
  let connections = 0;
  const server = createServer((socket) => {
    connections += 1;
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
  });
  const port = await listenDualStack(server);
  return {
    port,
    connections: () => connections,
    received: () => Buffer.concat(chunks),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.unref();
      }),
  };
}

export interface UdpSink {
  readonly port: number;
  received(): Buffer;
  close(): Promise<void>;
}

/** A UDP socket on every IPv4 address (and IPv6 when the host has it) on one port. */
export async function startUdpSink(): Promise<UdpSink> {
  const chunks: Buffer[] = [];
  const v4 = createSocket('udp4');
  v4.on('message', (message) => chunks.push(message));
  const port = await new Promise<number>((resolve) =>
    v4.bind(0, '0.0.0.0', () => resolve(v4.address().port)),
  );
  const v6 = createSocket({ type: 'udp6', ipv6Only: true });
  v6.on('message', (message) => chunks.push(message));
  v6.on('error', () => undefined);
  await new Promise<void>((resolve) => {
    v6.once('error', () => resolve());
    try {
      v6.bind(port, '::', () => resolve());
    } catch {
      resolve();
    }
  });
  return {
    port,
    received: () => Buffer.concat(chunks),
    close: async () => {
      v4.close();
      try {
        v6.close();
      } catch {
        // Never bound.
      }
    },
  };
}

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

export interface HttpTarget {
  readonly port: number;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

/** An HTTP server on the host that answers 200 and records every request it gets. */
export async function startHttpTarget(): Promise<HttpTarget> {
  const requests: RecordedRequest[] = [];
  const server = createHttpServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      requests.push({
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body,
      });
      response.end('reached-the-allowed-target\n');
    });
  });
  const port = await new Promise<number>((resolve) =>
    server.listen(0, '0.0.0.0', () => resolve((server.address() as { port: number }).port)),
  );
  return {
    port,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
