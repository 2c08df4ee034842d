import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeInBrowser, haveChromium, launchChromium } from '../helpers/chromium.js';
import { REPO_ROOT } from '../helpers/run-cli.js';
import {
  newBootstrapToken,
  type ServerProcess,
  startServerProcess,
} from '../helpers/server-process.js';
import { createTempRepo, git, makeTempDir, removeDir } from '../helpers/temp-repo.js';

/**
 * The panel in a real browser (Debian's Chromium, headless, driven by playwright-core) against
 * a real `aas start` with a real repository whose `origin` is a bare repository: sign in, submit
 * a run with the mock agent, watch it reach ready_for_promotion without reloading, read the
 * diff, be told the requester cannot approve, approve as someone else, promote to the bare
 * remote, and verify the audit chain. Screenshots of the main pages go to docs/screenshots/.
 */

const SHOTS = join(REPO_ROOT, 'docs', 'screenshots');
// CI installs Chromium; a developer machine without it is told so instead of failing.
const describeInPanel = describeInBrowser('panel browser tests');

let server: ServerProcess;
let browser: Browser;
let home: string;
let repo: string;
let remote: string;
let remoteParent: string;
const secrets = { alice: '', bob: '', vera: '' };
const foreignRequests: string[] = [];
/** Uncaught exceptions and console errors other than failed HTTP requests the tests cause. */
const pageErrors: string[] = [];

async function issue(name: string, role: string): Promise<string> {
  const response = await server.api('/api/v1/tokens', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, role }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { secret: string }).secret;
}

async function newPage(width = 1280, height = 900): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  // The panel must never reach past the server that served it (fonts, icons, scripts).
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      pageErrors.push(message.text());
    }
  });
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(server.url) && !url.startsWith('data:') && !url.startsWith('blob:')) {
      foreignRequests.push(url);
    }
  });
  return page;
}

async function signIn(page: Page, secret: string): Promise<void> {
  await page.goto(`${server.url}/panel/`);
  await page.getByLabel('API token').fill(secret);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

beforeAll(async () => {
  home = makeTempDir('aas-panel-home-');
  repo = createTempRepo({ 'README.md': '# demo\n', 'src/app.js': 'export const answer = 41;\n' });
  remoteParent = makeTempDir('aas-panel-remote-');
  remote = join(remoteParent, 'origin.git');
  execFileSync('git', ['clone', '-q', '--bare', repo, remote]);
  git(repo, ['remote', 'add', 'origin', remote]);
  server = await startServerProcess({ home, token: newBootstrapToken() });
  secrets.alice = await issue('alice', 'admin');
  secrets.bob = await issue('bob', 'approver');
  secrets.vera = await issue('vera', 'viewer');
  mkdirSync(SHOTS, { recursive: true });
  if (haveChromium) browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  server?.child.kill('SIGTERM');
  await server?.exited;
  for (const dir of [home, repo, remoteParent]) if (dir) removeDir(dir);
});

describeInPanel('the panel at /panel, in a real browser', () => {
  let sessionId = '';

  it('a wrong token is refused with the reason, and nothing is kept', async () => {
    const page = await newPage();
    await page.goto(`${server.url}/panel/`);
    await page.screenshot({ path: join(SHOTS, 'sign-in.png') });
    await page.getByLabel('API token').fill('aas_not-a-real-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect
      .poll(() => page.locator('#token-error').textContent())
      .toContain('does not accept this token');
    // One message, the form's: not also the signed-in one about a token no longer accepted.
    expect(await page.getByText('no longer accepts').count()).toBe(0);
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await page.context().close();
  });

  it('signs in, submits a run with the mock agent, and watches it reach ready_for_promotion live', async () => {
    // A second window on the run list sees the new run appear and finish without a reload.
    const listPage = await newPage();
    await signIn(listPage, secrets.alice);
    await listPage.getByText('Live', { exact: true }).waitFor();
    const page = await newPage();
    await signIn(page, secrets.alice);
    await page.getByRole('link', { name: 'New run' }).first().click();
    // A field the server would refuse is flagged next to it before anything is sent.
    await page.getByLabel('Task').fill('Say hello from the panel');
    await page.getByLabel('Repository').fill('relative/path');
    await page.getByRole('button', { name: 'Submit run' }).click();
    await expect.poll(() => page.locator('#field-repo-error').textContent()).toContain('absolute');
    await page.getByLabel('Repository').fill(repo);
    // A validator, and a retry budget the server bounds: checked before anything is sent.
    await page.getByLabel('Validators').fill('grep -q hello hello.txt');
    await page.getByLabel('Retries').fill('11');
    await page.getByRole('button', { name: 'Submit run' }).click();
    await expect
      .poll(() => page.locator('#field-retries-error').textContent())
      .toContain('0 to 10');
    await page.getByLabel('Retries').fill('1');
    await page.getByLabel('Promote as').selectOption('branch');
    await page.getByLabel('Target branch').fill('main');
    await page.screenshot({ path: join(SHOTS, 'new-run.png') });
    await page.getByRole('button', { name: 'Submit run' }).click();
    await page.waitForURL(/#\/runs\/ses_[0-9a-f]{24}\/timeline$/);
    sessionId = /ses_[0-9a-f]{24}/.exec(page.url())?.[0] ?? '';
    // No reload: the status and the timeline arrive over the event stream.
    await page.locator('.page-head .badge', { hasText: 'ready for promotion' }).waitFor({
      timeout: 60_000,
    });
    await page.getByText('run.completed').waitFor();
    await page.screenshot({ path: join(SHOTS, 'run-timeline.png'), fullPage: true });

    const row = listPage.locator(`tr[data-session="${sessionId}"]`);
    await row.locator('.badge', { hasText: 'ready for promotion' }).waitFor({ timeout: 30_000 });
    expect(await row.textContent()).toContain('Say hello from the panel');
    await listPage.screenshot({ path: join(SHOTS, 'runs.png') });
    await listPage.context().close();
    await page.context().close();
  }, 90_000);

  it('shows the diff with the changed line, in unified and split views', async () => {
    const page = await newPage();
    await signIn(page, secrets.alice);
    await page.goto(`${server.url}/panel/#/runs/${sessionId}/diff`);
    const added = page.locator('tr.line.add', { hasText: 'hello from the panel' });
    await added.first().waitFor();
    expect(await page.locator('.file-tree').textContent()).toContain('hello.txt');
    expect(await page.locator('.file-tree').textContent()).toContain('new');
    await page.screenshot({ path: join(SHOTS, 'run-diff.png'), fullPage: true });
    await page.getByRole('button', { name: 'Split' }).click();
    await page.locator('table.split td.text.add', { hasText: 'hello from the panel' }).waitFor();
    await page.context().close();
  });

  it('explains the policy for any path, shows every gate, and tails the logs', async () => {
    const page = await newPage();
    await signIn(page, secrets.alice);
    await page.goto(`${server.url}/panel/#/runs/${sessionId}/policy`);
    // The patch's own file is explained without asking; any other path on request.
    await page.locator('tr[data-path="hello.txt"] .badge', { hasText: 'allow' }).waitFor();
    await page.getByLabel('Check a path').fill('.git/config');
    await page.getByRole('button', { name: 'Explain' }).click();
    await page.locator('tr[data-path=".git/config"] .badge', { hasText: 'deny' }).waitFor();
    expect(await page.locator('table.values').textContent()).toContain('limits.maxChangedFiles');
    await page.screenshot({ path: join(SHOTS, 'run-policy.png'), fullPage: true });

    await page.getByRole('tab', { name: 'Gates' }).click();
    await page.locator('table.gates tbody tr').nth(4).waitFor();
    expect(await page.locator('table.gates').textContent()).toContain('patch.applies');
    // The validator the form added ran on the patched workspace.
    expect(await page.locator('table.gates').textContent()).toContain('grep -q hello hello.txt');

    await page.getByRole('tab', { name: 'Logs' }).click();
    await page.getByLabel('Log', { exact: true }).waitFor();
    await page.locator('pre.log').waitFor();
    await page.context().close();
  });

  it('offers a viewer neither New run nor the approval buttons', async () => {
    const page = await newPage();
    await signIn(page, secrets.vera);
    await page.getByRole('heading', { name: 'Runs' }).waitFor();
    expect(await page.getByRole('link', { name: 'New run' }).count()).toBe(0);
    // By its run id, as the CLI prints it: the panel finds the session and opens its page.
    const session = await (
      await fetch(`${server.url}/api/v1/sessions/${sessionId}`, {
        headers: { authorization: `Bearer ${secrets.vera}` },
      })
    ).json();
    const runId = (session as { runs: { id: string }[] }).runs[0]?.id ?? '';
    await page.goto(`${server.url}/panel/#/runs/${runId}/promotion`);
    await page.waitForURL(`**/#/runs/${sessionId}/promotion`);
    await page.getByText('Your role (viewer) cannot approve').waitFor();
    expect(await page.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    await page.getByText('Your role (viewer) cannot promote').waitFor();
    expect(await page.getByRole('button', { name: 'Promote' }).count()).toBe(0);
    // A view that does not exist says so rather than showing nothing.
    await page.goto(`${server.url}/panel/#/runs/${sessionId}/bogus`);
    await page.getByText('There is no “bogus” view of a run').waitFor();
    await page.goto(`${server.url}/panel/#/new`);
    await page.getByText('Your role (viewer) cannot submit runs').waitFor();
    await page.context().close();
  });

  it('refuses the requester as approver, counts another approver, promotes to the bare remote', async () => {
    const asAlice = await newPage();
    await signIn(asAlice, secrets.alice);
    await asAlice.goto(`${server.url}/panel/#/runs/${sessionId}/promotion`);
    // The requester is told who decides instead of being offered buttons the server refuses.
    await asAlice.getByText('You requested this run, so you cannot approve or reject it').waitFor();
    expect(await asAlice.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    // Too few approvals: the button says so before the server has to refuse.
    await asAlice.getByText('One more approval is needed').waitFor();
    expect(await asAlice.getByRole('button', { name: 'Promote' }).isDisabled()).toBe(true);
    await asAlice.context().close();

    const asBob = await newPage();
    await signIn(asBob, secrets.bob);
    await asBob.getByRole('link', { name: 'Approvals' }).click();
    await asBob.locator('.inbox a', { hasText: 'Say hello from the panel' }).click();
    await asBob.getByLabel('Note (optional)').fill('Looks right.');
    await asBob.getByRole('button', { name: 'Approve' }).click();
    await asBob.locator('.approvals .counts').waitFor();
    // Deciding again would change nothing: no buttons, but what counts already.
    await asBob.getByText('You approved this patch').waitFor();
    expect(await asBob.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    // The remote refuses the first push: the promotion stops, says why, and is tried again.
    const hook = join(remote, 'hooks', 'pre-receive');
    writeFileSync(hook, '#!/bin/sh\necho "branches need a ticket" >&2\nexit 1\n', { mode: 0o755 });
    await asBob.getByLabel('Promote as').selectOption('branch');
    await asBob.getByRole('button', { name: 'Promote' }).click();
    const stopped = asBob.locator('.error-box', {
      hasText: 'The promotion stopped before the push',
    });
    await stopped.waitFor({ timeout: 30_000 });
    expect(await stopped.textContent()).toContain('branches need a ticket');
    // Its approvals are spent on the promotion under way: no deciding again.
    expect(await asBob.getByRole('button', { name: 'Reject' }).count()).toBe(0);
    expect(await asBob.getByLabel('Promote as').count()).toBe(0);
    rmSync(hook);
    await asBob.getByRole('button', { name: 'Promote again' }).click();
    // The branch's name is on record since the commit: done is when the attestation is there.
    await asBob.getByRole('button', { name: 'Download attestation' }).waitFor({ timeout: 30_000 });
    const branch = asBob.locator('.promoted-branch');
    await expect.poll(() => branch.textContent(), { timeout: 30_000 }).toMatch(/^aas\//);
    expect(await asBob.locator('.checks li.ok').count()).toBeGreaterThan(3);
    await asBob.screenshot({ path: join(SHOTS, 'promotion.png'), fullPage: true });
    const name = (await branch.textContent()) ?? '';
    const refs = execFileSync('git', ['-C', remote, 'for-each-ref', '--format=%(refname)'], {
      encoding: 'utf8',
    });
    expect(refs).toContain(`refs/heads/${name}`);
    await asBob.context().close();
  }, 60_000);

  it('verifies the audit chain from the page', async () => {
    const page = await newPage();
    await signIn(page, secrets.alice);
    await page.goto(`${server.url}/panel/#/runs/${sessionId}/audit`);
    await page.getByRole('button', { name: 'Verify the hash chain' }).click();
    await expect
      .poll(() => page.locator('.verdict').textContent())
      .toMatch(/Chain intact: \d+ events/);
    await page.screenshot({ path: join(SHOTS, 'audit.png') });
    await page.context().close();
  });

  async function submitAs(secret: string, job: Record<string, unknown>): Promise<string> {
    const response = await fetch(`${server.url}/api/v1/sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ repo, ...job }),
    });
    expect(response.status).toBe(201);
    return ((await response.json()) as { sessionId: string }).sessionId;
  }

  it('cancels a running run from its page, after asking once more', async () => {
    const running = await submitAs(secrets.alice, {
      task: 'Wait to be cancelled',
      agent: 'command',
      agentInput: { command: 'sleep 300' },
    });
    const page = await newPage();
    await signIn(page, secrets.alice);
    await page.goto(`${server.url}/panel/#/runs/${running}/timeline`);
    await page.locator('.page-head .badge', { hasText: 'running' }).waitFor({ timeout: 30_000 });
    // Still running, the last phase is under way rather than done in however long it took so far.
    await page.locator('.phase-time', { hasText: 'under way' }).last().waitFor();
    await page.getByRole('button', { name: 'Cancel run' }).click();
    await page.getByRole('button', { name: 'Keep it' }).click();
    await page.getByRole('button', { name: 'Cancel run' }).click();
    await page.getByRole('button', { name: 'Yes, cancel the run' }).click();
    await page.locator('.page-head .badge', { hasText: 'cancelled' }).waitFor({ timeout: 30_000 });
    expect(await page.getByRole('button', { name: 'Cancel run' }).count()).toBe(0);
    // A viewer is offered no such button.
    const asVera = await newPage();
    await signIn(asVera, secrets.vera);
    const queued = await submitAs(secrets.alice, {
      task: 'Never started',
      agent: 'command',
      agentInput: { command: 'true' },
      requireLabels: ['nowhere'],
    });
    await asVera.goto(`${server.url}/panel/#/runs/${queued}/timeline`);
    await asVera.locator('.page-head .badge', { hasText: 'queued' }).waitFor();
    expect(await asVera.getByRole('button', { name: 'Cancel run' }).count()).toBe(0);
    await asVera.context().close();
    await page.goto(`${server.url}/panel/#/runs/${queued}/timeline`);
    await page.getByRole('button', { name: 'Cancel run' }).click();
    await page.getByRole('button', { name: 'Yes, cancel the run' }).click();
    await page.locator('.page-head .badge', { hasText: 'cancelled' }).waitFor();
    await page.context().close();
  }, 60_000);

  it('asks for a reason and a second click before a rejection, which is final', async () => {
    const rejected = await submitAs(secrets.alice, {
      task: 'Change nobody wants',
      agent: 'mock',
      agentInput: { mock: { edits: [{ path: 'unwanted.txt', write: 'no\n' }] } },
    });
    const page = await newPage();
    await signIn(page, secrets.bob);
    await page.goto(`${server.url}/panel/#/runs/${rejected}/promotion`);
    await page
      .locator('.page-head .badge', { hasText: 'ready for promotion' })
      .waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: 'Reject…' }).click();
    await page.getByText('A rejection is final').waitFor();
    const confirm = page.getByRole('button', { name: 'Reject for good' });
    expect(await confirm.isDisabled()).toBe(true);
    await page.getByLabel('Why it is rejected (required)').fill('Not the change we need.');
    await confirm.click();
    await page.locator('.page-head .badge', { hasText: 'blocked' }).waitFor();
    await page.locator('.approvals', { hasText: 'Not the change we need.' }).waitFor();
    await page.context().close();
  }, 60_000);

  it('keeps the run filters in the URL: Back returns to the filtered list', async () => {
    const page = await newPage();
    await signIn(page, secrets.alice);
    expect(await page.title()).toBe('Runs · AAS panel');
    await page.getByLabel('Status').selectOption('blocked');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(/#\/runs\?status=blocked$/);
    const row = page.locator('tr[data-session]', { hasText: 'Change nobody wants' });
    // The unfiltered list may still be on screen for a moment: wait for the filtered one.
    await expect.poll(() => page.locator('tr[data-session]').count()).toBe(1);
    await row.waitFor();
    await row.getByRole('link').click();
    await page.waitForURL(/#\/runs\/ses_/);
    expect(await page.title()).toMatch(/^Run ses_\w+ · timeline · AAS panel$/);
    // The views are tabs: the arrow keys move between them.
    await page.getByRole('tab', { name: 'Timeline' }).focus();
    await page.keyboard.press('ArrowRight');
    await page.waitForURL(/\/diff$/);
    expect(await page.evaluate('document.activeElement.id')).toBe('tab-diff');
    await page.goBack();
    await page.goBack();
    await page.waitForURL(/#\/runs\?status=blocked$/);
    expect(await page.getByLabel('Status').inputValue()).toBe('blocked');
    await expect.poll(() => page.locator('tr[data-session]').count()).toBe(1);
    await page.context().close();

    // Nothing matches: the way back is offered, not a new run (a viewer could not start one).
    const asVera = await newPage();
    await signIn(asVera, secrets.vera);
    await asVera.goto(`${server.url}/panel/#/runs?agent=nobody`);
    await asVera.getByText('No runs match these filters').waitFor();
    expect(await asVera.getByLabel('Agent').inputValue()).toBe('nobody');
    expect(await asVera.getByRole('link', { name: 'Start one' }).count()).toBe(0);
    await asVera.getByRole('link', { name: 'Show all runs' }).click();
    await asVera.locator('tr[data-session]').first().waitFor();
    await asVera.context().close();
  }, 60_000);

  it('lists workers and schedules, with the next fire time, pause and run-now, drain and resume', async () => {
    // A remote worker, enrolled and registered (its program need not run to be drained).
    const enrolment = await server.api('/api/v1/workers/enrolments', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'panel-box', labels: ['linux'] }),
    });
    const { secret } = (await enrolment.json()) as { secret: string };
    const registered = await fetch(`${server.url}/api/v1/workers/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        enrolmentSecret: secret,
        capabilities: { agents: ['mock'], sandbox: [] },
      }),
    });
    expect(registered.status).toBe(201);
    const created = await server.api('/api/v1/schedules', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'nightly-hello',
        // Once a year: it never fires by itself during the test.
        timing: { kind: 'cron', cron: '0 3 1 1 *', timezone: 'Europe/Berlin' },
        job: {
          task: 'Scheduled hello',
          repo,
          agent: 'mock',
          agentInput: { mock: { edits: [{ path: 'scheduled.txt', write: 'hi\n' }] } },
        },
      }),
    });
    expect(created.status).toBe(201);
    const page = await newPage();
    await signIn(page, secrets.alice);
    await page.getByRole('link', { name: 'Workers & schedules' }).click();
    const row = page.locator('tr[data-schedule="nightly-hello"]');
    await row.waitFor();
    expect(await row.textContent()).toContain('cron 0 3 1 1 * (Europe/Berlin)');
    // Shown in the reader's time zone; the exact UTC moment is the element's own.
    expect(await row.locator('time').getAttribute('datetime')).toMatch(/20\d\d-01-01T02:00:00/);
    // The server's embedded worker, listed on its own (the two tables load independently).
    await page
      .locator('td.mono', { hasText: /^worker:/ })
      .first()
      .waitFor();
    const box = page.locator('tr[data-worker="panel-box"]');
    await box.getByRole('button', { name: 'Drain' }).click();
    await box.getByRole('button', { name: 'Resume' }).click();
    await box.getByRole('button', { name: 'Drain' }).waitFor();
    await row.getByRole('button', { name: 'Pause' }).click();
    await row.locator('.badge', { hasText: 'paused' }).waitFor();
    await row.getByRole('button', { name: 'Run now' }).click();
    await page.getByText('nightly-hello: a run was submitted now.').waitFor();
    await page.screenshot({ path: join(SHOTS, 'workers-schedules.png'), fullPage: true });
    await page.context().close();
  });

  it('works at phone width, and signing out forgets the token', async () => {
    const page = await newPage(390, 844);
    await signIn(page, secrets.alice);
    await page.locator(`tr[data-session="${sessionId}"]`).waitFor();
    await page.screenshot({ path: join(SHOTS, 'runs-phone.png'), fullPage: true });
    // Nothing wider than the screen: the page never scrolls sideways.
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').waitFor();
    expect(await page.evaluate("sessionStorage.getItem('aas.token')")).toBeNull();
    await page.context().close();
  });

  it('made no request to anything but its own server, and threw nothing', () => {
    expect(foreignRequests).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
