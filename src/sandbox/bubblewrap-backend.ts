import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type FileHandle, mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Clock } from '../kernel/index.js';
import {
  bridgeStartScript,
  bwrapArgs,
  groupText,
  HOSTS_TEXT,
  namespaceArgs,
  PROXY_PORT_IN_SANDBOX,
  PROXY_SOCKET_IN_SANDBOX,
  passwdText,
  proxyEnv,
  SANDBOX_RUN_DIR,
  serviceSocketInSandbox,
  systemToolchainArgs,
} from './bwrap-args.js';
import { type EgressProxy, startEgressProxy } from './egress-proxy.js';
import { launchProcess } from './launch-process.js';
import { ownInstallReadOnlyPaths } from './own-install-paths.js';
import { proxyBridgeArgs } from './proxy-bridge-command.js';
import { planResourceLimits } from './resource-limit-plan.js';
import type {
  LaunchOutcome,
  LaunchSpec,
  SandboxBackend,
  SandboxSelfTest,
} from './sandbox-backend.js';
import { seccompProgram } from './seccomp-filter.js';

export const DEFAULT_BWRAP_PATH = '/usr/bin/bwrap';
/** /tmp and /dev/shm inside are memory-backed: each capped at the growth limit and at these. */
const DEFAULT_TMPFS_BYTES = 256 * 1024 * 1024;
const DEFAULT_SHM_BYTES = 64 * 1024 * 1024;

function memoryBackedCap(spec: LaunchSpec, ceiling: number): number {
  return Math.min(spec.limits?.growth?.maxBytes ?? ceiling, ceiling);
}

export interface BubblewrapBackendOptions {
  readonly clock: Clock;
  /** The node binary that runs the network bridge inside allow-list sandboxes. */
  readonly nodePath: string;
  readonly bwrapPath?: string;
}

/**
 * Runs every process in a bubblewrap sandbox (see bwrapArgs for what it sees). A launch
 * without `confinement` is refused rather than run unconfined: a caller that forgot to say
 * what the process may see must not get the whole host.
 */
export function createBubblewrapBackend(options: BubblewrapBackendOptions): SandboxBackend {
  const bwrapPath = options.bwrapPath ?? DEFAULT_BWRAP_PATH;
  let selfTest: Promise<SandboxSelfTest> | null = null;
  return {
    name: 'bubblewrap',
    isolating: true,
    syscallFilter: seccompProgram(process.arch) === null ? 'none' : 'seccomp',
    selfTest: () => {
      selfTest ??= Promise.resolve(runSelfTest(bwrapPath, bwrapPath !== DEFAULT_BWRAP_PATH));
      return selfTest;
    },
    launch: (spec) => launchInBwrap(spec, bwrapPath, options),
  };
}

/**
 * Starts a real sandbox with the namespaces every launch uses and checks it ran. Cached: the
 * answer does not change while the process lives.
 */
function runSelfTest(bwrapPath: string, configured: boolean): SandboxSelfTest {
  if (!existsSync(bwrapPath)) {
    // A path the operator set is theirs to correct; the default one means bwrap is missing.
    return {
      ok: false,
      reason: configured
        ? `${bwrapPath} not found (AAS_BWRAP names it: point it at the bwrap binary, or unset it for ${DEFAULT_BWRAP_PATH})`
        : `${bwrapPath} not found (install the bubblewrap package)`,
    };
  }
  const result = spawnSync(
    bwrapPath,
    [
      ...namespaceArgs({ shareNetwork: false }),
      ...systemToolchainArgs(),
      '--proc',
      '/proc',
      '--dev',
      '/dev',
      '--',
      '/usr/bin/true',
    ],
    { encoding: 'utf8', timeout: 10_000, env: {} },
  );
  if (result.error !== undefined) return { ok: false, reason: result.error.message };
  if (result.status !== 0) {
    const stderr = result.stderr.trim().split('\n')[0] ?? '';
    return {
      ok: false,
      reason: `bwrap could not create its namespaces (exit ${result.status}): ${stderr || 'no message'}`,
    };
  }
  return { ok: true };
}

async function launchInBwrap(
  spec: LaunchSpec,
  bwrapPath: string,
  options: BubblewrapBackendOptions,
): Promise<LaunchOutcome> {
  const confinement = spec.confinement;
  if (confinement === undefined) {
    return refused('the bubblewrap backend needs a confinement (what the process may see)');
  }
  await mkdir(confinement.scratchDir, { recursive: true });
  const scratch = await mkdtemp(join(confinement.scratchDir, 'bwrap-'));
  // Unix socket paths are limited to 107 bytes; the scratch dir may be deeper than that.
  const socketDir =
    Buffer.byteLength(join(scratch, 'proxy.sock')) <= 100
      ? scratch
      : await mkdtemp(join(tmpdir(), 'aas-proxy-'));
  let proxy: EgressProxy | null = null;
  let seccompFile: FileHandle | null = null;
  try {
    if (confinement.network.mode === 'allowlist') {
      proxy = await startEgressProxy({
        socketPath: join(socketDir, 'proxy.sock'),
        decide: confinement.network.decide,
        onDecision: confinement.network.onDecision,
        clock: options.clock,
      });
    }
    const passwdFile = join(scratch, 'passwd');
    const groupFile = join(scratch, 'group');
    const hostsFile = join(scratch, 'hosts');
    const startScript = join(scratch, 'start.sh');
    // One bridge per socket the process reaches as a loopback port: the egress proxy's and
    // each local service's (the model gateway).
    const bridges = [
      ...(proxy === null
        ? []
        : [{ socketInSandbox: PROXY_SOCKET_IN_SANDBOX, port: PROXY_PORT_IN_SANDBOX }]),
      ...(confinement.localServices ?? []).map((service) => ({
        socketInSandbox: serviceSocketInSandbox(service.port),
        port: service.port,
      })),
    ];
    await Promise.all([
      writeFile(passwdFile, passwdText(confinement.homeDir)),
      writeFile(groupFile, groupText()),
      writeFile(hostsFile, HOSTS_TEXT),
      bridges.length === 0
        ? Promise.resolve()
        : writeFile(
            startScript,
            bridgeStartScript([options.nodePath, ...proxyBridgeArgs()], bridges),
          ),
    ]);
    const program = seccompProgram(process.arch);
    if (program !== null) {
      const seccompPath = join(scratch, 'seccomp.bpf');
      await writeFile(seccompPath, program);
      seccompFile = await open(seccompPath, 'r');
    }
    const outer = bwrapArgs({
      confinement,
      // The leader inherits the program as fd 3 (stdio slot 3); bwrap reads and closes it.
      ...(seccompFile === null ? {} : { seccompFd: 3 }),
      cwd: spec.cwd,
      tmpfsBytes: memoryBackedCap(spec, DEFAULT_TMPFS_BYTES),
      shmBytes: memoryBackedCap(spec, DEFAULT_SHM_BYTES),
      passwdFile,
      groupFile,
      hostsFile,
      ...(proxy === null ? {} : { proxy: { socketPath: proxy.socketPath } }),
      ...(bridges.length === 0 ? {} : { startScript }),
      backendReadOnly:
        bridges.length === 0
          ? []
          : [dirname(dirname(options.nodePath)), ...ownInstallReadOnlyPaths()],
    });
    const plan = await planResourceLimits(
      spec.limits,
      (prefix) => ({
        command: bwrapPath,
        args: [
          ...outer,
          '--',
          ...(bridges.length === 0 ? [] : ['/bin/sh', `${SANDBOX_RUN_DIR}/start.sh`]),
          ...prefix,
          spec.command,
          ...spec.args,
        ],
      }),
      // Inside its own user namespace RLIMIT_NPROC counts only the sandbox's processes, except
      // for a root host, which the kernel exempts; cgroups cover that case when present.
      { nprocFallback: true },
    );
    const env = proxy === null ? spec.env : { ...spec.env, ...proxyEnv() };
    return await launchProcess(spec, options.clock, {
      ...plan,
      env,
      ...(seccompFile === null ? {} : { inheritFds: [seccompFile.fd] }),
    });
  } finally {
    await seccompFile?.close();
    await proxy?.close();
    await rm(scratch, { recursive: true, force: true });
    if (socketDir !== scratch) await rm(socketDir, { recursive: true, force: true });
  }
}

function refused(reason: string): LaunchOutcome {
  return {
    exitCode: null,
    signal: null,
    timedOut: false,
    outputLimitExceeded: false,
    cancelled: false,
    limitHit: null,
    stdoutBytes: 0,
    stderrBytes: 0,
    durationMs: 0,
    spawnError: reason,
  };
}
