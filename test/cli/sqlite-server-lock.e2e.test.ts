import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';
import {
  newBootstrapToken,
  type ServerProcess,
  startServerProcess,
} from '../helpers/server-process.js';
import { makeTempDir, removeDir } from '../helpers/temp-repo.js';

/**
 * One `aas start` per SQLite database: a second on the same home is refused while the first
 * runs, other commands keep working beside it, and the database is free again once the first
 * stopped, or was killed.
 */
const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

function killOnExit(server: ServerProcess): void {
  cleanup.push(async () => {
    if (server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
  });
}

async function stop(server: ServerProcess): Promise<void> {
  server.child.kill('SIGTERM');
  expect(await server.exited).toBe(0);
}

describe('aas start on a SQLite home', () => {
  const home = makeTempDir('aas-sqlite-lock-');
  cleanup.push(() => removeDir(home));
  const database = join(home, 'aas.db');
  const lock = `${database}.server-lock`;
  const token = newBootstrapToken();
  const start = async () => {
    const server = await startServerProcess({ home, token, env: { AAS_WORKERS: '1' } });
    killOnExit(server);
    return server;
  };

  it('refuses a second server on the same database while the first runs', async () => {
    const first = await start();
    expect(existsSync(lock)).toBe(true);

    // Commands that open the database for a moment work beside the server.
    const listed = await runCli(['sessions', 'list', '--json'], { home });
    expect(listed.code, listed.stderr).toBe(0);

    const second = await runCli(['start', '--port', '0'], {
      home,
      env: { AAS_BOOTSTRAP_TOKEN: token },
    });
    expect(second.code, second.stderr).toBe(2);
    expect(second.stdout).not.toContain('AAS listening');
    expect(second.stderr).toContain(
      `another aas server (pid ${first.child.pid}) holds the SQLite database ${database}; waiting up to 15 s for it to stop`,
    );
    expect(second.stderr).toContain(
      `error [CONFIG_INVALID]: ${database}: another aas server (pid ${first.child.pid}) is running on the SQLite database ${database}; its lock stayed taken for 15 s`,
    );
    expect(second.stderr).toContain('stop that server first');
    expect(second.stderr).toContain('use PostgreSQL (AAS_DATABASE_URL)');
    // The refused start changed nothing: the first still serves.
    expect((await first.api('/api/v1/sessions')).status).toBe(200);

    await stop(first);
    expect(existsSync(lock)).toBe(false);
    expect(existsSync(`${lock}.json`)).toBe(false);
    const next = await start();
    expect((await next.api('/api/v1/sessions')).status).toBe(200);
    await stop(next);
  });

  it('starts after a server that was killed without stopping', async () => {
    const killed = await start();
    killed.child.kill('SIGKILL');
    expect(await killed.exited).toBeNull();
    // Its lock is left behind, and goes stale: the next start waits for that, then serves.
    expect(existsSync(lock)).toBe(true);
    const next = await start();
    expect((await next.api('/api/v1/sessions')).status).toBe(200);
    await stop(next);
  });

  it('stops a server whose lock was taken from it, with an error', async () => {
    const server = await start();
    rmSync(lock, { recursive: true });
    const code = await server.exited;
    const { stdout, stderr } = server.output();
    expect(code, stderr).toBe(1);
    expect(stdout).toContain('stopping: draining workers');
    expect(stderr).toContain('server lost the lock of its SQLite database; stopping');
    expect(stderr).toContain(
      `error [INTERRUPTED]: ${database}: the server stopped after losing the lock of the SQLite database ${database}`,
    );
    // The next start has the database to itself again.
    const next = await start();
    await stop(next);
  });
});
