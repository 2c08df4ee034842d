import { statSync } from 'node:fs';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/store/index.js';
import { runCli } from '../helpers/run-cli.js';
import {
  newBootstrapToken,
  type ServerProcess,
  startServerProcess,
  waitFor,
} from '../helpers/server-process.js';
import { createTempRepo, makeTempDir, removeDir } from '../helpers/temp-repo.js';

/** A real `aas start` process: runs, cancel through the heartbeat, drain on SIGTERM, bind guard. */
const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

interface RunView {
  readonly status: string;
  readonly reasonCode: string | null;
  readonly reasonDetail: string | null;
  readonly claimCount: number;
}

async function runOf(server: ServerProcess, runId: string): Promise<RunView> {
  const body = (await (await server.api(`/api/v1/runs/${runId}`)).json()) as {
    run?: RunView;
  } & RunView;
  return body.run ?? body;
}

async function submit(
  server: ServerProcess,
  repo: string,
  command: string,
  extra: Record<string, unknown> = {},
): Promise<{ sessionId: string; runId: string }> {
  const response = await server.api('/api/v1/sessions', {
    method: 'POST',
    body: JSON.stringify({
      task: 'edit',
      repo,
      agent: 'command',
      agentInput: { command },
      ...extra,
    }),
  });
  expect(response.status, await response.clone().text()).toBe(201);
  return (await response.json()) as { sessionId: string; runId: string };
}

async function eventTypes(server: ServerProcess, sessionId: string): Promise<string[]> {
  const page = (await (
    await server.api(`/api/v1/sessions/${sessionId}/events?limit=1000`)
  ).json()) as { items: StoredEvent[] };
  return page.items.map((event) => event.type);
}

function setup(env: NodeJS.ProcessEnv = {}) {
  const home = makeTempDir('aas-server-');
  const repo = createTempRepo({ 'README.md': 'hello\n' });
  cleanup.push(
    () => removeDir(home),
    () => removeDir(repo),
  );
  const token = newBootstrapToken();
  const start = async () => {
    const server = await startServerProcess({
      home,
      token,
      env: { AAS_RUN_LEASE_MS: '3000', ...env },
    });
    cleanup.push(async () => {
      if (server.child.exitCode === null && server.child.signalCode === null) {
        server.child.kill('SIGKILL');
        await server.exited;
      }
    });
    return server;
  };
  return { home, repo, token, start };
}

describe('aas start', () => {
  it('runs a submitted job to ready_for_promotion and serves its patch', async () => {
    const { repo, start } = setup();
    const server = await start();
    const { sessionId, runId } = await submit(server, repo, 'echo changed > README.md');
    const run = await waitFor('the run to finish', async () => {
      const current = await runOf(server, runId);
      return current.status === 'running' || current.status === 'queued' ? undefined : current;
    });
    expect(run).toMatchObject({ status: 'ready_for_promotion', reasonCode: 'GATES_PASSED' });
    const patch = await server.api(`/api/v1/runs/${runId}/patch`);
    expect(patch.headers.get('content-type')).toContain('text/x-diff');
    expect(await patch.text()).toContain('+changed');
    const types = await eventTypes(server, sessionId);
    expect(types.slice(0, 3)).toEqual(['session.created', 'run.queued', 'run.started']);
    expect(types.at(-1)).toBe('run.completed');
    // The requester is the token's identity, never something the body could claim.
    const session = (await (await server.api(`/api/v1/sessions/${sessionId}`)).json()) as {
      session?: { requestedBy: string };
      requestedBy?: string;
    };
    expect(session.session?.requestedBy ?? session.requestedBy).toBe('admin');
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('cancels a running run through the heartbeat: the sandbox stops, the run ends CANCELLED', async () => {
    const { repo, start } = setup();
    const server = await start();
    const { sessionId, runId } = await submit(server, repo, 'sleep 600');
    await waitFor('the run to start', async () =>
      (await runOf(server, runId)).status === 'running' ? true : undefined,
    );
    const cancel = await server.api(`/api/v1/runs/${runId}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(202);
    const run = await waitFor('the cancel to land', async () => {
      const current = await runOf(server, runId);
      return current.status === 'running' ? undefined : current;
    });
    expect(run).toMatchObject({ status: 'cancelled', reasonCode: 'CANCELLED' });
    expect(run.reasonDetail).toContain('admin');
    const types = await eventTypes(server, sessionId);
    expect(types).toContain('run.cancel.requested');
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('drains on SIGTERM: a run still going after the grace period is given back, and the next start finishes it', async () => {
    const { repo, start } = setup({ AAS_SHUTDOWN_GRACE_MS: '300' });
    const first = await start();
    const { sessionId, runId } = await submit(first, repo, 'sleep 3; echo done > README.md', {
      interruptRetries: 1,
    });
    await waitFor('the run to start', async () =>
      (await runOf(first, runId)).status === 'running' ? true : undefined,
    );
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.output().stdout).toContain('stopping: draining workers');

    const second = await start();
    const run = await waitFor('the run to finish after the restart', async () => {
      const current = await runOf(second, runId);
      return ['queued', 'running'].includes(current.status) ? undefined : current;
    });
    expect(run).toMatchObject({ status: 'ready_for_promotion', claimCount: 2 });
    const types = await eventTypes(second, sessionId);
    expect(types).toContain('run.requeued');
    // The first attempt was interrupted by the shutdown, not cancelled: nobody cancelled it.
    const page = (await (
      await second.api(`/api/v1/sessions/${sessionId}/events?limit=1000`)
    ).json()) as { items: StoredEvent[] };
    const dataOf = (type: string) => page.items.find((event) => event.type === type)?.data;
    expect(dataOf('run.attempt.finished')).toMatchObject({
      attempt: 1,
      status: 'interrupted',
      code: 'INTERRUPTED',
    });
    expect(dataOf('agent.finished')).toMatchObject({ code: 'INTERRUPTED' });
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('refuses a non-loopback bind without --public, saying why', async () => {
    const home = makeTempDir('aas-bind-');
    cleanup.push(() => removeDir(home));
    const result = await runCli(['start', '--host', '0.0.0.0', '--port', '0'], { home });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('CONFIG_INVALID');
    expect(result.stderr).toContain('--public');
  });

  it('prints a generated admin token once, on the first start only', async () => {
    const home = makeTempDir('aas-boot-');
    cleanup.push(() => removeDir(home));
    const { startServerProcess: startWithout } = await import('../helpers/server-process.js');
    // A first start that cannot listen creates no token it would never show.
    const taken = createNetServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const failed = await runCli(['start', '--port', String(port)], {
        home,
        env: { AAS_BOOTSTRAP_TOKEN: '' },
      });
      expect(failed.code).toBe(2);
      expect(failed.stderr).toContain(`cannot listen on 127.0.0.1:${port}`);
      expect(failed.stdout).not.toContain('admin token');
    } finally {
      taken.close();
    }
    const first = await startWithout({ home, token: '', env: { AAS_BOOTSTRAP_TOKEN: '' } });
    const match = /admin token \(shown once, store it now\): (aas_\S+)/.exec(first.output().stdout);
    expect(match?.[1]).toBeDefined();
    const secret = match?.[1] ?? '';
    const whoami = await fetch(`${first.url}/api/v1/whoami`, {
      headers: { authorization: `Bearer ${secret}` },
    });
    expect(whoami.status).toBe(200);
    // The signing key exists from the first start, private key 0600, and is published.
    const keys = (await (
      await fetch(`${first.url}/api/v1/keys`, { headers: { authorization: `Bearer ${secret}` } })
    ).json()) as { keys: { keyId: string; publicKeyPem: string }[] };
    expect(keys.keys).toHaveLength(1);
    expect(keys.keys[0]?.keyId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(statSync(join(home, 'keys', 'signing-key.pem')).mode & 0o777).toBe(0o600);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    const second = await startWithout({ home, token: '', env: { AAS_BOOTSTRAP_TOKEN: '' } });
    expect(second.output().stdout).not.toContain('admin token');
    const again = (await (
      await fetch(`${second.url}/api/v1/keys`, { headers: { authorization: `Bearer ${secret}` } })
    ).json()) as { keys: { keyId: string }[] };
    expect(again.keys[0]?.keyId).toBe(keys.keys[0]?.keyId);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});
