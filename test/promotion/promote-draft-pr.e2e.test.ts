import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AasError } from '../../src/kernel/index.js';
import { promoteRun, recordDecision } from '../../src/promotion/index.js';
import { git } from '../helpers/temp-repo.js';
import { createPromotionFixture, FIX, type PromotionFixture } from './promotion-fixture.js';

/**
 * draft_pr end to end: a real branch pushed to a bare remote, then the GitHub provider against a
 * local HTTP server that implements only the REST calls it makes and records their bodies.
 */

const TOKEN = 'ghs_promotionTestToken0123456789';

interface Recorded {
  method: string;
  url: string;
  authorization: string | undefined;
  body: Record<string, unknown> | null;
}

class FakeGitHub {
  readonly requests: Recorded[] = [];
  readonly pulls: {
    number: number;
    head: string;
    base: string;
    html_url: string;
    draft: boolean;
  }[] = [];
  failCreate: number | null = null;
  server: Server;
  constructor() {
    this.server = createServer((request, response) => {
      void this.handle(request).then(({ status, body }) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      });
    });
  }
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api/v3`;
  }
  async handle(request: IncomingMessage): Promise<{ status: number; body: unknown }> {
    let text = '';
    for await (const chunk of request) text += String(chunk);
    const body = text === '' ? null : (JSON.parse(text) as Record<string, unknown>);
    this.requests.push({
      method: request.method ?? '',
      url: request.url ?? '',
      authorization: request.headers.authorization,
      body,
    });
    const url = new URL(request.url ?? '/', 'http://x');
    const match = /^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/pulls$/.exec(url.pathname);
    if (match === null) return { status: 404, body: { message: 'Not Found' } };
    const [, owner, repo] = match;
    const shape = (pull: FakeGitHub['pulls'][number]) => ({
      number: pull.number,
      html_url: pull.html_url,
      draft: pull.draft,
      state: 'open',
      head: { ref: pull.head, label: `${owner}:${pull.head}`, repo: { owner: { login: owner } } },
      base: { ref: pull.base },
    });
    if (request.method === 'GET') {
      const head = url.searchParams.get('head') ?? '';
      return {
        status: 200,
        body: this.pulls.filter((pull) => `${owner}:${pull.head}` === head).map(shape),
      };
    }
    if (this.failCreate !== null) {
      return {
        status: this.failCreate,
        body: { message: 'Resource not accessible by integration' },
      };
    }
    const pull = {
      number: this.pulls.length + 1,
      head: String(body?.head),
      base: String(body?.base),
      draft: body?.draft === true,
      html_url: `https://github.example/${owner}/${repo}/pull/${this.pulls.length + 1}`,
    };
    this.pulls.push(pull);
    return { status: 201, body: shape(pull) };
  }
}

describe('promotion to a draft pull request', () => {
  const github = new FakeGitHub();
  let fixture: PromotionFixture;
  beforeAll(async () => {
    await new Promise<void>((resolve) => github.server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => github.server.close(resolve));
  });
  afterEach(async () => {
    await fixture?.cleanup();
  });

  async function approvedRun(job: Record<string, unknown>) {
    const run = await fixture.runJob(FIX, job);
    await recordDecision(fixture.runtime.promotion.approvals, {
      runId: run.runId,
      decider: { name: 'bob', tokenId: null },
      decision: 'approved',
      note: 'ship it',
    });
    return run;
  }

  it('pushes the branch, opens one draft PR with the summary, gates and approvers, and never a second', async () => {
    fixture = await createPromotionFixture({
      env: {
        AAS_GITHUB_TOKEN: TOKEN,
        AAS_GITHUB_API_URL: github.url,
        AAS_GITHUB_REPOSITORIES: 'acme/widgets',
      },
    });
    const { runId, sessionId } = await approvedRun({
      promotion: { mode: 'draft_pr', targetBranch: 'main', repository: 'acme/widgets' },
    });
    const result = await promoteRun(fixture.runtime.promotion.promotion, { runId, by: 'alice' });
    const branch = `aas/${sessionId.slice(-12)}`;
    expect(result).toMatchObject({
      status: 'promoted',
      mode: 'draft_pr',
      branch,
      prUrl: 'https://github.example/acme/widgets/pull/1',
      prError: null,
    });
    expect(fixture.remoteBranches()[branch]).toBe(result.commitSha);

    const [list, create] = github.requests;
    expect(list).toMatchObject({ method: 'GET', authorization: `token ${TOKEN}` });
    expect(new URL(list?.url ?? '', 'http://x').searchParams.get('head')).toBe(`acme:${branch}`);
    expect(create).toMatchObject({ method: 'POST', url: '/api/v3/repos/acme/widgets/pulls' });
    expect(create?.body).toMatchObject({ head: branch, base: 'main', draft: true });
    expect(String(create?.body?.title)).toBe('[AAS] answer 42');
    const body = String(create?.body?.body);
    expect(body).toContain(`session \`${sessionId}\``);
    expect(body).toContain(`run \`${runId}\``);
    expect(body).toMatch(/\| patch\.applies \| passed \|/);
    // Nothing about the server's file system reaches the forge.
    expect(body).not.toContain(fixture.home);
    expect(body).not.toContain(fixture.repo);
    expect(body).not.toContain(fixture.remote);
    expect(body).toMatch(/\*\*approvals\*\*: 1 of 1 required \(bob\)/);
    // The token is the control plane's: it never reaches the history.
    const events = await fixture.runtime.store.readEvents(sessionId);
    expect(JSON.stringify(events)).not.toContain(TOKEN);
    expect(events.map((event) => event.type)).toContain('promotion.pr.opened');

    const again = await promoteRun(fixture.runtime.promotion.promotion, { runId, by: 'alice' });
    expect(again.prUrl).toBe(result.prUrl);
    expect(github.requests.filter((request) => request.method === 'POST')).toHaveLength(1);
    expect(github.pulls).toHaveLength(1);
  });

  it('a PR refused after the push stops the promotion, pushed: a retry opens it, or --mode branch settles; no token falls back before', async () => {
    github.failCreate = 403;
    fixture = await createPromotionFixture({
      env: {
        AAS_GITHUB_TOKEN: TOKEN,
        AAS_GITHUB_API_URL: github.url,
        AAS_GITHUB_REPOSITORIES: 'acme/widgets',
      },
    });
    const service = fixture.runtime.promotion.promotion;
    const job = {
      promotion: { mode: 'draft_pr', targetBranch: 'main', repository: 'acme/widgets' },
    };
    const refused = await approvedRun(job);
    const failure = await promoteRun(service, { runId: refused.runId, by: 'alice' }).then(
      () => null,
      (thrown: unknown) => thrown as AasError,
    );
    expect(failure?.code).toBe('PROVIDER_ERROR');
    expect(failure?.message).toMatch(/was pushed, but the pull request could not be opened: .*403/);
    expect(failure?.details.hint).toMatch(
      /Promote the run again to open the pull request on the branch pushed, or .*--mode branch/,
    );
    const stopped = await fixture.runtime.store.getPromotion(refused.runId);
    expect(stopped).toMatchObject({ state: 'pushed', mode: 'draft_pr', prUrl: null });
    expect((await fixture.runtime.store.getRun(refused.runId))?.status).toBe('promoting');
    expect(fixture.remoteBranches()[stopped?.branch ?? '']).toBe(stopped?.commitSha);
    const types = (await fixture.runtime.store.readEvents(refused.sessionId)).map((e) => e.type);
    expect(types).toContain('promotion.pr.failed');
    expect(types.at(-1)).toBe('promotion.failed');
    // A failure is left for a person: the server's sweep does not finish it.
    expect(await fixture.runtime.promotion.service.resumeAbandoned()).toEqual([]);

    // While it waited the branch moved: no pull request goes on a head the promotion did not
    // attest. Deleted instead, the retry pushes it again.
    github.failCreate = null;
    const branchRef = `refs/heads/${stopped?.branch ?? ''}`;
    git(fixture.repo, ['push', '-q', '--force', 'origin', `main:${branchRef}`]);
    const postsWhileMoved = github.requests.filter((request) => request.method === 'POST').length;
    await expect(promoteRun(service, { runId: refused.runId, by: 'alice' })).rejects.toMatchObject({
      code: 'BRANCH_EXISTS',
    });
    expect(github.requests.filter((request) => request.method === 'POST')).toHaveLength(
      postsWhileMoved,
    );
    git(fixture.repo, ['push', '-q', 'origin', `:${branchRef}`]);

    // The forge answers again: the retry opens the pull request on the branch it pushed,
    // even where the branch prefix is configured otherwise by now.
    const elsewhereConfigured = {
      ...service,
      settings: { ...service.settings, branchPrefix: 'moved/' },
    };
    const opened = await promoteRun(elsewhereConfigured, { runId: refused.runId, by: 'alice' });
    expect(github.requests.at(-1)?.body?.head).toBe(stopped?.branch);
    expect(opened).toMatchObject({ status: 'promoted', mode: 'draft_pr', prError: null });
    expect(opened.prUrl).toMatch(/\/pull\/\d+$/);
    expect(opened.branch).toBe(stopped?.branch);
    expect(opened.commitSha).toBe(stopped?.commitSha);
    expect(fixture.remoteBranches()[opened.branch ?? '']).toBe(opened.commitSha);

    // Or a person settles for the branch.
    github.failCreate = 502;
    const settled = await approvedRun(job);
    await expect(promoteRun(service, { runId: settled.runId, by: 'alice' })).rejects.toMatchObject({
      code: 'PROVIDER_ERROR',
    });
    github.failCreate = null;
    const postsBefore = github.requests.filter((request) => request.method === 'POST').length;
    const branchOnly = await promoteRun(service, {
      runId: settled.runId,
      by: 'alice',
      mode: 'branch',
    });
    expect(branchOnly).toMatchObject({ status: 'promoted', mode: 'branch', prUrl: null });
    expect(branchOnly.prError).toMatch(/502|not accessible/i);
    expect(branchOnly.fallbacks).toContainEqual(
      expect.objectContaining({ from: 'draft_pr', to: 'branch' }),
    );
    expect(branchOnly.fallbacks.at(-1)?.reason).toMatch(
      /^finished without a pull request, as asked/,
    );
    expect(github.requests.filter((request) => request.method === 'POST')).toHaveLength(
      postsBefore,
    );
    await fixture.cleanup();

    fixture = await createPromotionFixture();
    const noToken = await approvedRun({
      promotion: { mode: 'draft_pr', targetBranch: 'main', repository: 'acme/widgets' },
    });
    const plain = await promoteRun(fixture.runtime.promotion.promotion, {
      runId: noToken.runId,
      by: 'alice',
    });
    expect(plain).toMatchObject({ mode: 'branch', requestedMode: 'draft_pr' });
    expect(plain.fallbacks[0]?.reason).toMatch(/AAS_GITHUB_TOKEN/);
    await fixture.cleanup();

    // A job may not point the server's token at a repository the operator did not list.
    fixture = await createPromotionFixture({
      env: { AAS_GITHUB_TOKEN: TOKEN, AAS_GITHUB_API_URL: github.url },
    });
    const elsewhere = await approvedRun({
      promotion: { mode: 'draft_pr', targetBranch: 'main', repository: 'victim/repo' },
    });
    const posts = github.requests.filter((request) => request.method === 'POST').length;
    const notListed = await promoteRun(fixture.runtime.promotion.promotion, {
      runId: elsewhere.runId,
      by: 'alice',
    });
    expect(notListed).toMatchObject({ mode: 'branch', prUrl: null });
    expect(notListed.fallbacks[0]?.reason).toMatch(
      /victim\/repo is not in AAS_GITHUB_REPOSITORIES/,
    );
    expect(github.requests.filter((request) => request.method === 'POST')).toHaveLength(posts);
  });
});
