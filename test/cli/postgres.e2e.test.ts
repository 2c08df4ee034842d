import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { jsonOf, runCli } from '../helpers/run-cli.js';
import { createTempRepo, makeTempDir, removeDir } from '../helpers/temp-repo.js';
import { storeDialects } from '../store/dialects.js';

const postgres = (await storeDialects()).find((dialect) => dialect.name === 'postgres');
const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

describe.skipIf(!postgres?.available)('aas on PostgreSQL (AAS_DATABASE_URL)', () => {
  it('records a governed run, lists it, and verifies its chain', async () => {
    if (!postgres) throw new Error('unreachable');
    const fixture = await postgres.open();
    cleanup.push(() => fixture.cleanup());
    const databaseUrl = fixture.databaseUrl;
    if (!databaseUrl) throw new Error('the postgres fixture has no URL');
    const home = makeTempDir('aas-home-');
    const repo = createTempRepo({ 'src/a.txt': 'a\n' });
    cleanup.push(
      () => removeDir(home),
      () => removeDir(repo),
    );
    const env = { AAS_DATABASE_URL: databaseUrl };

    const run = await runCli(
      ['run', '--repo', repo, '--task', 'x', '--agent-cmd', 'echo b > src/b.txt', '--json'],
      { home, env },
    );
    expect(run.code, run.stderr).toBe(0);
    const { sessionId, status } = jsonOf<{ sessionId: string; status: string }>(run);
    expect(status).toBe('ready_for_promotion');

    const list = await runCli(['sessions', 'list', '--json'], { home, env });
    expect(JSON.parse(list.stdout).map((s: { id: string }) => s.id)).toEqual([sessionId]);
    const verify = await runCli(['audit', 'verify', sessionId], { home, env });
    expect(verify.code).toBe(0);
    // Nothing went to SQLite, and a command that forgets AAS_DATABASE_URL in this home is
    // refused rather than answering from an empty SQLite database it would create.
    expect(existsSync(join(home, 'aas.db'))).toBe(false);
    const forgot = await runCli(['sessions', 'list'], { home });
    expect(forgot.code).toBe(2);
    expect(forgot.stderr).toMatch(
      /error \[CONFIG_INVALID\]: AAS_DATABASE_URL: .* is the home of a PostgreSQL deployment/,
    );
    expect(existsSync(join(home, 'aas.db'))).toBe(false);
  });
});

describe('a home and an unreachable PostgreSQL URL', () => {
  it('leaves no record that the home is PostgreSQL’s: SQLite commands still work there', async () => {
    const home = makeTempDir('aas-home-');
    cleanup.push(() => removeDir(home));
    const unreachable = await runCli(['sessions', 'list'], {
      home,
      env: { AAS_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere' },
    });
    expect(unreachable.code).not.toBe(0);
    expect(unreachable.stderr).toContain('STORE_UNAVAILABLE');
    expect(existsSync(join(home, 'database.json'))).toBe(false);
    const sqlite = await runCli(['sessions', 'list'], { home });
    expect(sqlite.code, sqlite.stderr).toBe(0);
  });
});
