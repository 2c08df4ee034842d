import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
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
    expect(result.stderr).toContain(
      `${layer}: network: not a JobSpec: unknown fields "network", "paths" at line 1, column 1`,
    );
    expect(result.stderr).toContain('a policy layer file goes with --policy');
  });

  it('reads a job file as aas run does: its repository, a misspelt field and a bad policy located', async () => {
    const home = makeTempDir('aas-home-');
    const repo = createTempRepo({ 'src/a.ts': 'a\n' });
    cleanup.push(home, repo);
    const job = join(home, 'job.yaml');
    // No --repo: the job's own, relative to the job file.
    writeFileSync(
      job,
      `task: x\nrepo: ${relative(home, repo)}\nagent: mock\npolicy:\n  paths:\n    allow: ["src/**"]\n`,
    );
    const explained = await runCli(['policy', 'explain', '--job', job, 'src/a.ts', 'b.ts'], {
      home,
    });
    expect(explained.code, explained.stderr).toBe(0);
    expect(explained.stdout).toContain('ALLOW src/a.ts');
    expect(explained.stdout).toContain('DENY  b.ts');

    writeFileSync(job, `task: x\nrepo: ${repo}\nagnet: mock\n`);
    const misspelt = await runCli(['policy', 'explain', '--job', job], { home });
    expect(misspelt.code).toBe(2);
    expect(misspelt.stderr).toContain(
      `${job}: agnet: not a JobSpec: unknown field "agnet" at line 3, column 1`,
    );
    expect(misspelt.stderr).toContain('did you mean "agent"?');

    writeFileSync(job, `task: x\nrepo: ${repo}\npolicy:\n  paths:\n    alow: ["src/**"]\n`);
    const badPolicy = await runCli(['policy', 'explain', '--job', job], { home });
    expect(badPolicy.code).toBe(2);
    expect(badPolicy.stderr).toMatch(
      new RegExp(`${job}: policy\\.paths\\.alow: .* at line 5, column 5`),
    );

    writeFileSync(job, 'task: x\nrepo: https://example.com/o/r.git\nagent: mock\n');
    // Without a checkout the other layers are still explained, and the missing one is named.
    const byUrl = await runCli(['policy', 'explain', '--job', job, 'src/a.js'], { home });
    expect(byUrl.code, byUrl.stderr).toBe(0);
    expect(byUrl.stderr).toContain("note: no repository layer: the job's repository is a URL");
    expect(byUrl.stdout).toContain('ALLOW');

    const policyFile = join(home, 'layer.yaml');
    writeFileSync(policyFile, 'paths:\n  deny: ["secrets/**"]\n');
    const alone = await runCli(
      ['policy', 'explain', '--policy', policyFile, 'secrets/key.pem', 'src/a.js'],
      { home },
    );
    expect(alone.code, alone.stderr).toBe(0);
    expect(alone.stderr).toContain('note: no repository layer: pass --repo');
    expect(alone.stdout).toMatch(/DENY\s+secrets\/key\.pem/);
    const baseAlone = await runCli(
      ['policy', 'explain', '--policy', policyFile, '--base', 'main'],
      {
        home,
      },
    );
    expect(baseAlone.code).toBe(2);
    expect(baseAlone.stderr).toContain('error [INVALID_ARGUMENT]: --base: --base names a ref');
  });
});
