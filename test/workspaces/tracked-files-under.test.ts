import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { trackedFilesUnder } from '../../src/workspaces/index.js';
import { refusal } from '../helpers/refusal.js';
import { commitAll, createTempRepo, makeTempDir, removeDir } from '../helpers/temp-repo.js';

/** What a repository commits under a directory, read with git on a real repository. */
describe('trackedFilesUnder', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) removeDir(dir);
  });

  function repoWithHome(): { repo: string; home: string } {
    const repo = createTempRepo({ 'README.md': '# r\n', '.aas/policy.yaml': 'limits: {}\n' });
    dirs.push(repo);
    const home = join(repo, '.aas');
    mkdirSync(join(home, 'agents'), { recursive: true });
    writeFileSync(join(home, 'agents', 'helper.yaml'), 'id: helper\n');
    commitAll(repo, 'an agent');
    // Not committed: the installation's own files.
    writeFileSync(join(home, 'aas.db'), '');
    return { repo, home };
  }

  it('lists the committed files relative to the directory, not the untracked ones', async () => {
    const { home } = repoWithHome();
    expect((await trackedFilesUnder(home)).sort()).toEqual(['agents/helper.yaml', 'policy.yaml']);
    const outside = makeTempDir('aas-not-a-repo-');
    dirs.push(outside);
    expect(await trackedFilesUnder(outside)).toEqual([]);
  });

  it.skipIf(process.getuid?.() !== 0)(
    'refuses to guess about a checkout another user owns (needs root to hand it over)',
    async () => {
      const { repo, home } = repoWithHome();
      execFileSync('chown', ['-R', 'nobody', repo]);
      const error = await refusal(trackedFilesUnder(home));
      expect(error).toMatchObject({ code: 'CONFIG_INVALID', details: { field: 'AAS_HOME' } });
      expect(error.message).toContain('git refuses a checkout another user owns');
    },
  );
});
