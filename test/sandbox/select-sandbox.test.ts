import { describe, expect, it } from 'vitest';
import { isAasError, systemClock } from '../../src/kernel/index.js';
import { createPlainBackend, type SandboxBackend, selectSandbox } from '../../src/sandbox/index.js';

const plain = createPlainBackend({ clock: systemClock });

/** An isolating backend whose self-test answers as told; selection never launches it. */
function isolating(selfTest: () => Promise<{ ok: boolean; reason?: string }>): SandboxBackend {
  return {
    name: 'bubblewrap',
    isolating: true,
    syscallFilter: 'none',
    selfTest,
    launch: () => Promise.reject(new Error('not launched in selection tests')),
  };
}
const healthy = isolating(() => Promise.resolve({ ok: true }));
const broken = isolating(() => Promise.resolve({ ok: false, reason: 'bwrap not found on PATH' }));
const crashing = isolating(() => Promise.reject(new Error('probe exploded')));

async function expectUnavailable(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await promise;
  } catch (error) {
    expect(isAasError(error) && error.code).toBe('SANDBOX_UNAVAILABLE');
    expect(isAasError(error) && error.message).toMatch(pattern);
    expect(isAasError(error) && error.details.hint).toMatch(/bubblewrap/);
    return;
  }
  throw new Error('expected SANDBOX_UNAVAILABLE');
}

describe('selectSandbox', () => {
  it('required: picks the first isolating backend that passes its self-test', async () => {
    const selection = await selectSandbox('required', [plain, broken, healthy]);
    expect(selection.backend).toBe(healthy);
    expect(selection.degraded).toBeNull();
  });

  it('required: refuses when no isolating backend is usable, naming why', async () => {
    await expectUnavailable(selectSandbox('required', [plain, broken]), /bwrap not found on PATH/);
    await expectUnavailable(selectSandbox('required', [plain]), /no isolating sandbox backend/);
  });

  it('required: a self-test that crashes counts as unavailable (fail closed)', async () => {
    await expectUnavailable(selectSandbox('required', [crashing, plain]), /probe exploded/);
  });

  it('preferred: uses an isolating backend when one works', async () => {
    const selection = await selectSandbox('preferred', [healthy, plain]);
    expect(selection.backend).toBe(healthy);
    expect(selection.degraded).toBeNull();
  });

  it('preferred: falls back to plain and says why', async () => {
    const selection = await selectSandbox('preferred', [broken, plain]);
    expect(selection.backend).toBe(plain);
    expect(selection.degraded?.reason).toMatch(/bwrap not found on PATH/);

    const none = await selectSandbox('preferred', [plain]);
    expect(none.backend).toBe(plain);
    expect(none.degraded?.reason).toMatch(/no isolating sandbox backend/);
  });

  it('off: always plain, not reported as degraded', async () => {
    const selection = await selectSandbox('off', [healthy, plain]);
    expect(selection.backend).toBe(plain);
    expect(selection.degraded).toBeNull();
  });

  it('is an internal error when a fallback is needed but no plain backend was offered', async () => {
    await expect(selectSandbox('off', [healthy])).rejects.toSatisfy(
      (error: unknown) => isAasError(error) && error.code === 'INTERNAL',
    );
  });
});
