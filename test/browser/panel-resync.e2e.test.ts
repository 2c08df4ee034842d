import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RunningApi, startApi } from '../api/api-fixture.js';
import { describeInBrowser, haveChromium, launchChromium } from '../helpers/chromium.js';
import { REPO_ROOT } from '../helpers/run-cli.js';
import { type StoreFixture, storeDialects } from '../store/dialects.js';
import { createQueuedRun } from '../store/queue-helpers.js';

/**
 * The run list in a real browser reloads when its server says it may have missed changes (a
 * `resync` frame on GET /stream): a session whose creation never reached the server's bus (it
 * was written by another process) appears without the page being reloaded. The server runs in
 * this process so that the test can make it say so; the panel is the build `npm run build`
 * makes.
 */

const PANEL_DIR = join(REPO_ROOT, 'dist', 'panel');
const describeInPanel = describeInBrowser('panel resync browser test');

const [sqlite] = await storeDialects();
let fixture: StoreFixture;
let api: RunningApi;
let browser: Browser;

beforeAll(async () => {
  if (sqlite === undefined) throw new Error('the SQLite dialect is always there');
  if (!existsSync(join(PANEL_DIR, 'index.html'))) {
    throw new Error(`${PANEL_DIR} has no panel build: run npm run build first`);
  }
  fixture = await sqlite.open();
  api = await startApi(fixture, { panelDir: PANEL_DIR });
  if (haveChromium) browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await api?.close();
  await fixture?.cleanup();
});

describeInPanel('the run list after a resync frame', () => {
  it('reloads and shows a session its server never heard of', async () => {
    const page = await (await browser.newContext()).newPage();
    // The list loads when the page opens and again when its feed connects; both must be over
    // before the session is written, or one of them could show it.
    let listLoads = 0;
    page.on('requestfinished', (request) => {
      if (new URL(request.url()).pathname === '/api/v1/sessions') listLoads += 1;
    });
    await page.goto(`${api.url}/panel/`);
    await page.getByLabel('API token').fill(api.secrets.viewer);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Live', { exact: true }).waitFor();
    await expect.poll(() => listLoads, { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
    await page.getByText('No runs yet.').waitFor();

    // Written by another process: nothing is published on this server's bus.
    const otherProcess = await fixture.openAnother();
    await createQueuedRun(otherProcess, 1);
    const row = page.locator('tr[data-session="ses_000000000000000000000001"]');
    api.bus.reportMissed();
    await row.waitFor({ timeout: 30_000 });
    await page.context().close();
  }, 60_000);
});
