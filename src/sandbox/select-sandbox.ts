import { AasError, assertNever } from '../kernel/index.js';
import type { SandboxBackend } from './sandbox-backend.js';

export type SandboxMode = 'required' | 'preferred' | 'off';

export interface SandboxSelection {
  readonly backend: SandboxBackend;
  /** Why the run is less isolated than asked for; the caller records it as an event. */
  readonly degraded: null | { readonly reason: string };
}

const REQUIRED_HINT =
  'install bubblewrap (bwrap) and allow unprivileged user namespaces on this host, ' +
  'or run on a worker that has them; a sandbox the policy requires is never skipped';

/**
 * Picks the backend for one launch. `required` fails closed when no isolating backend passes
 * its self-test; `preferred` falls back to the plain backend and says why; `off` always uses
 * the plain backend. Candidates are tried in order, so the caller ranks them.
 */
export async function selectSandbox(
  mode: SandboxMode,
  candidates: readonly SandboxBackend[],
): Promise<SandboxSelection> {
  switch (mode) {
    case 'off':
      return { backend: plainAmong(candidates), degraded: null };
    case 'required': {
      const probe = await firstIsolating(candidates);
      if (probe.backend !== null) return { backend: probe.backend, degraded: null };
      throw new AasError('SANDBOX_UNAVAILABLE', `policy requires a sandbox: ${probe.reason}`, {
        field: 'policy.sandbox',
        hint: REQUIRED_HINT,
      });
    }
    case 'preferred': {
      const probe = await firstIsolating(candidates);
      if (probe.backend !== null) return { backend: probe.backend, degraded: null };
      return {
        backend: plainAmong(candidates),
        degraded: { reason: `running without isolation: ${probe.reason}` },
      };
    }
    default:
      return assertNever(mode, 'sandbox mode');
  }
}

async function firstIsolating(
  candidates: readonly SandboxBackend[],
): Promise<{ backend: SandboxBackend; reason: null } | { backend: null; reason: string }> {
  const failures: string[] = [];
  for (const candidate of candidates) {
    if (!candidate.isolating) continue;
    const result = await selfTestSafely(candidate);
    if (result.ok) return { backend: candidate, reason: null };
    failures.push(`${candidate.name}: ${result.reason ?? 'self-test failed'}`);
  }
  const reason =
    failures.length === 0
      ? 'no isolating sandbox backend is available on this host'
      : `no isolating sandbox backend passed its self-test (${failures.join('; ')})`;
  return { backend: null, reason };
}

/** A self-test that throws cannot vouch for isolation, so it counts as a failure. */
async function selfTestSafely(backend: SandboxBackend): Promise<{ ok: boolean; reason?: string }> {
  try {
    return await backend.selfTest();
  } catch (error) {
    return { ok: false, reason: `self-test crashed: ${(error as Error).message ?? String(error)}` };
  }
}

function plainAmong(candidates: readonly SandboxBackend[]): SandboxBackend {
  const plain = candidates.find((candidate) => candidate.name === 'plain');
  if (plain === undefined) {
    throw new AasError('INTERNAL', 'no plain sandbox backend among the candidates', {
      hint: 'pass createPlainBackend(...) to selectSandbox',
    });
  }
  return plain;
}
