import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTokenSecret } from '../../src/api/index.js';
import { type RunningServer, startServer } from '../../src/app/index.js';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/kernel/index.js';
import { openSse } from '../api/sse-client.js';
import { createTempRepo, makeTempDir, removeDir } from '../helpers/temp-repo.js';

/**
 * `aas start` serves the admin panel beside the API: the static build at /panel/ without a
 * token, and the live feed the panel's lists follow, fed by the server's own control plane.
 * The build is a stand-in in a temporary directory, never the real dist/panel.
 */

const TOKEN = newTokenSecret();
const INDEX = '<!doctype html><title>AAS panel</title>';
const cleanup: string[] = [];
let server: RunningServer;

beforeAll(async () => {
  const home = makeTempDir('aas-panel-server-');
  const panelDir = join(home, 'panel-build');
  mkdirSync(join(panelDir, 'assets'), { recursive: true });
  writeFileSync(join(panelDir, 'index.html'), INDEX);
  writeFileSync(join(panelDir, 'assets', 'main-0f0f.js'), 'export {};');
  cleanup.push(home);
  const config = parseConfig({
    env: { AAS_HOME: home, AAS_BOOTSTRAP_TOKEN: TOKEN },
    cwd: home,
    overrides: { port: 0, workers: 0 },
  });
  server = await startServer(config, {
    hostEnv: process.env,
    nodePath: process.execPath,
    log: silentLogger,
    panelDir,
  });
});

afterAll(async () => {
  await server?.close();
  for (const dir of cleanup) removeDir(dir);
});

describe('aas start and the admin panel', () => {
  it('serves the panel without a token, under its CSP', async () => {
    const redirect = await fetch(`${server.url}/panel`, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    const page = await fetch(`${server.url}/panel/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toBe(INDEX);
    expect(page.headers.get('content-security-policy')).toMatch(/^default-src 'self';/);
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const asset = await fetch(`${server.url}/panel/assets/main-0f0f.js`);
    expect(asset.headers.get('cache-control')).toMatch(/immutable/);
    await asset.arrayBuffer();
    const document = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(document.paths).some((path) => path.startsWith('/panel'))).toBe(false);
  });

  it('streams the status of a job submitted to the server, and verifies its chain', async () => {
    const repo = createTempRepo({ 'README.md': 'hello\n' });
    cleanup.push(repo);
    const auth = { authorization: `Bearer ${TOKEN}` };
    const feed = await openSse(`${server.url}/api/v1/stream`, auth);
    try {
      const response = await fetch(`${server.url}/api/v1/sessions`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ task: 'panel check', repo, agent: 'mock' }),
      });
      expect(response.status).toBe(201);
      const { sessionId, runId } = (await response.json()) as { sessionId: string; runId: string };
      const [frame] = await feed.take(1);
      expect(frame?.event).toBe('session');
      expect(JSON.parse(frame?.data ?? '{}')).toMatchObject({
        id: sessionId,
        runId,
        status: 'queued',
        task: 'panel check',
      });
      const verification = (await (
        await fetch(`${server.url}/api/v1/sessions/${sessionId}/verify`, { headers: auth })
      ).json()) as { ok: boolean; events: number };
      expect(verification).toMatchObject({ ok: true });
      expect(verification.events).toBeGreaterThan(0);
    } finally {
      feed.close();
    }
  });
});
