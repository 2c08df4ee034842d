import { systemClock } from '../../src/kernel/index.js';
import { createBubblewrapBackend, type SandboxSelfTest } from '../../src/sandbox/index.js';

/**
 * Whether bubblewrap works on this host, for suites that need it. Without it they skip with a
 * visible reason, unless AAS_REQUIRE_SANDBOX=1 (CI installs bubblewrap) makes that a failure.
 */
export async function bubblewrapSelfTest(whatSkips: string): Promise<SandboxSelfTest> {
  const selfTest = await createBubblewrapBackend({
    clock: systemClock,
    nodePath: process.execPath,
  }).selfTest();
  if (!selfTest.ok) {
    if (process.env.AAS_REQUIRE_SANDBOX === '1') throw new Error(`bubblewrap: ${selfTest.reason}`);
    console.warn(`SKIPPED ${whatSkips}: bubblewrap unavailable: ${selfTest.reason}`);
  }
  return selfTest;
}
