import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { jsonOf, runCli } from '../helpers/run-cli.js';
import { commitAll, createTempRepo, makeTempDir, removeDir } from '../helpers/temp-repo.js';

const cleanup: string[] = [];
afterAll(() => {
  for (const dir of cleanup) removeDir(dir);
});

describe('aas policy explain', () => {
  it('names the layer and rule behind every decision, reading the repo layer from the commit', async () => {
    const home = makeTempDir('aas-home-');
    const repo = createTempRepo({
      '.aas/policy.yaml': 'paths:\n  allow: ["src/**", "docs/**"]\n',
      'src/a.ts': 'a\n',
    });
    cleanup.push(home, repo);
    // An uncommitted edit to the repo policy must not count: the layer is read from HEAD.
    writeFileSync(join(repo, '.aas/policy.yaml'), 'paths:\n  allow: ["**"]\n');
    mkdirSync(join(home, 'agents'));
    writeFileSync(
      join(home, 'agents', 'narrow.yaml'),
      'id: narrow\nentrypoint: /bin/true\npolicy:\n  paths:\n    deny: ["src/secret/**"]\n  limits:\n    maxChangedFiles: 5\n',
    );
    const job = join(home, 'job.yaml');
    writeFileSync(
      job,
      'task: x\nrepo: .\nagent: narrow\npolicy:\n  paths:\n    allow: ["src/**"]\n',
    );

    const result = await runCli(
      [
        'policy',
        'explain',
        '--repo',
        repo,
        '--agent',
        'narrow',
        '--job',
        job,
        'src/a.ts',
        'docs/readme.md',
        'src/secret/k.txt',
        '.env',
        'node_modules/x.js',
      ],
      { home },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('ALLOW src/a.ts');
    expect(result.stdout).toMatch(/DENY\s+docs\/readme\.md\s+\(layer job/);
    expect(result.stdout).toMatch(
      /DENY\s+src\/secret\/k\.txt\s+\(layer agent:narrow, rule src\/secret\/\*\*\)/,
    );
    expect(result.stdout).toMatch(
      /DENY\s+\.env\s+\(layer floor, rule \*\*\/\.\[eE\]\[nN\]\[vV\]\*\)/,
    );
    expect(result.stdout).toMatch(/DROP\s+node_modules\/x\.js/);
    expect(result.stdout).toMatch(/limits\.maxChangedFiles\s+5\s+\(agent:narrow\)/);

    const json = jsonOf<{ layers: { name: string }[]; paths: { path: string; outcome: string }[] }>(
      await runCli(['policy', 'explain', '--repo', repo, '--json', 'docs/readme.md'], { home }),
    );
    expect(json.layers.map((l) => l.name)).toEqual(['floor', 'repo']);
    expect(json.paths).toMatchObject([{ path: 'docs/readme.md', outcome: 'allow' }]);

    commitAll(repo, 'widen');
    const widened = await runCli(['policy', 'explain', '--repo', repo, 'tools/x.sh'], { home });
    expect(widened.stdout).toContain('ALLOW tools/x.sh');
  });
});

describe('aas policy explain --job', () => {
  it('refuses a file that is not a JobSpec (a policy layer given as --job), naming its fields', async () => {
    const home = makeTempDir('aas-home-');
    const repo = createTempRepo({ 'src/a.ts': 'a\n' });
    cleanup.push(home, repo);
    const layer = join(home, 'layer.yaml');
    writeFileSync(layer, 'network:\n  mode: full\npaths:\n  allow: ["**"]\n');
    const result = await runCli(['policy', 'explain', '--repo', repo, '--job', layer], { home });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('not a JobSpec: unknown fields "network", "paths"');
    expect(result.stderr).toContain('a policy layer file goes with --policy');
  });
});
