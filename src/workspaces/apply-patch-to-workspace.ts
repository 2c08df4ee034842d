import { AasError } from '../kernel/index.js';
import { runGit } from './run-git.js';
import type { Workspace } from './types.js';

/**
 * Writes a patch AAS computed into a fresh workspace of the same base, with `git apply`: the
 * files validators then test are exactly what would be promoted (no ignored caches, no runtime
 * artifacts, nothing the agent left outside the patch). git refuses paths outside the tree
 * and writing through symlinks. An empty patch leaves the base as it is.
 */
export async function applyPatchToWorkspace(ws: Workspace, patchText: string): Promise<void> {
  if (patchText.length === 0) return;
  try {
    await runGit({
      args: ['apply', '--binary', '--whitespace=nowarn', '-'],
      cwd: ws.dir,
      env: { searchPath: ws.searchPath, gitDir: ws.gitDir, workTree: ws.dir },
      input: patchText,
    });
  } catch (thrown) {
    throw new AasError(
      'GATE_ERROR',
      `the patch does not apply to a fresh workspace of the base: ${(thrown as Error).message}`,
      { hint: 'the patch.applies gate should have refused it; report this as a bug' },
      { cause: thrown },
    );
  }
}
