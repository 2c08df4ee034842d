import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkPatchApplies, computePatch, removeWorkspace } from '../../src/workspaces/index.js';
import { commitAll, writeTree } from '../helpers/temp-repo.js';
import { cleanupAll, setupRun } from './workspace-fixture.js';

afterAll(cleanupAll);

describe('checkPatchApplies', () => {
  it('accepts the patch against its base, then judges a moved base by content', async () => {
    const {
      repo,
      git: runGit,
      ws,
    } = await setupRun({ 'a.txt': 'one\ntwo\nthree\n', 'b.bin': Buffer.from([0, 1, 2]) });
    writeFileSync(join(ws.dir, 'a.txt'), 'one\nTWO\nthree\n');
    writeFileSync(join(ws.dir, 'b.bin'), Buffer.from([0, 1, 2, 3]));
    const patch = await computePatch(ws, { runtimeRule: () => null });
    expect(await checkPatchApplies(ws, patch.text)).toMatchObject({ ok: true });

    // Unrelated upstream change: still applies.
    writeTree(repo, { 'c.txt': 'unrelated\n' });
    const unrelated = commitAll(repo, 'unrelated');
    expect(await checkPatchApplies({ ...runGit, baseCommit: unrelated }, patch.text)).toMatchObject(
      { ok: true },
    );

    // Conflicting upstream change to the text and the binary file: does not apply, with git's reason.
    writeTree(repo, { 'a.txt': 'one\n2\nthree\n', 'b.bin': Buffer.from([9]) });
    const conflicting = commitAll(repo, 'conflict');
    const verdict = await checkPatchApplies({ ...runGit, baseCommit: conflicting }, patch.text);
    expect(verdict.ok).toBe(false);
    expect(verdict.detail).toContain('patch does not apply');
  });

  it('rejects garbage and an unknown base, and treats an empty patch as applying', async () => {
    const { ws } = await setupRun({ 'a.txt': 'a\n' });
    expect((await checkPatchApplies(ws, 'this is not a patch\n')).ok).toBe(false);
    expect((await checkPatchApplies({ ...ws, baseCommit: 'f'.repeat(40) }, 'x')).ok).toBe(false);
    expect(await checkPatchApplies(ws, '')).toEqual({
      ok: true,
      detail: 'empty patch: nothing to apply',
    });
  });

  it('refuses a hand-written patch that climbs out of the tree', async () => {
    const { ws } = await setupRun({ 'a.txt': 'a\n' });
    const climbing =
      'diff --git a/../evil b/../evil\nnew file mode 100644\n--- /dev/null\n+++ b/../evil\n@@ -0,0 +1 @@\n+x\n';
    expect((await checkPatchApplies(ws, climbing)).ok).toBe(false);
  });

  it('still checks a workspace whose checkout index is gone, against its base tree', async () => {
    const { ws } = await setupRun({ 'a.txt': 'one\n' });
    writeFileSync(join(ws.dir, 'a.txt'), 'two\n');
    const patch = await computePatch(ws, { runtimeRule: () => null });
    await removeWorkspace(ws);
    expect(await checkPatchApplies(ws, patch.text)).toEqual({
      ok: true,
      detail: `applies cleanly to ${ws.baseCommit}`,
    });
    const reversed = patch.text.replace('-one', '-ONE');
    expect((await checkPatchApplies(ws, reversed)).ok).toBe(false);
  });
});
