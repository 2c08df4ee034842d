import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPanelDir } from '../../src/api/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-repo.js';
import { type StoreFixture, storeDialects } from '../store/dialects.js';
import { expectError, type RunningApi, startApi } from './api-fixture.js';

/**
 * The admin panel's static files at /panel/: public, hash-routed (so any view path gets
 * index.html), hashed assets cached for good, index.html always revalidated, a strict CSP on
 * every panel response. A fake build in a temporary directory stands in for dist/panel.
 */

const CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " +
  "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; " +
  "frame-ancestors 'none'";
const INDEX =
  '<!doctype html><title>AAS</title><script type="module" src="./assets/app-1a2b.js"></script>';
const SCRIPT = 'console.log("panel");';

const [sqlite] = await storeDialects();

function expectPanelHeaders(response: Response): void {
  expect(response.headers.get('content-security-policy')).toBe(CSP);
  expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  expect(response.headers.get('referrer-policy')).toBe('no-referrer');
}

describe('the admin panel at /panel/', () => {
  let fixture: StoreFixture;
  let api: RunningApi;
  let unbuilt: RunningApi;
  let dir: string;

  beforeAll(async () => {
    if (sqlite === undefined) throw new Error('no SQLite fixture');
    fixture = await sqlite.open();
    dir = makeTempDir('aas-panel-');
    const panelDir = join(dir, 'panel');
    mkdirSync(join(panelDir, 'assets'), { recursive: true });
    writeFileSync(join(panelDir, 'index.html'), INDEX);
    writeFileSync(join(panelDir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    writeFileSync(join(panelDir, 'assets', 'app-1a2b.js'), SCRIPT);
    writeFileSync(join(panelDir, 'assets', 'app-1a2b.css'), 'body{margin:0}');
    writeFileSync(join(panelDir, '.secret'), 'hidden');
    writeFileSync(join(dir, 'outside.txt'), 'outside the build');
    symlinkSync(join(dir, 'outside.txt'), join(panelDir, 'assets', 'link.js'));
    api = await startApi(fixture, { panelDir });
    unbuilt = await startApi(fixture, { panelDir: join(dir, 'not-built') });
  });
  afterAll(async () => {
    await api?.close();
    await unbuilt?.close();
    await fixture?.cleanup();
    if (dir !== undefined) removeDir(dir);
  });

  it('serves index.html at /panel/ without a token, revalidated every time', async () => {
    const response = await fetch(`${api.url}/panel/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expectPanelHeaders(response);
    expect(await response.text()).toBe(INDEX);
    // A token is no reason to refuse it either.
    const withToken = await api.request('/panel/', { secret: api.secrets.viewer });
    expect(withToken.status).toBe(200);
    await withToken.arrayBuffer();
  });

  it('answers a conditional request for index.html with 304', async () => {
    const first = await fetch(`${api.url}/panel/`);
    await first.arrayBuffer();
    const etag = first.headers.get('etag');
    expect(etag).toBeTruthy();
    // node:http, not fetch: fetch adds `cache-control: no-cache` to a conditional request.
    const again = await new Promise<IncomingMessage>((resolve, reject) => {
      const request = get(`${api.url}/panel/`, { headers: { 'if-none-match': etag ?? '' } });
      request.on('response', (response) => {
        response.resume();
        resolve(response);
      });
      request.on('error', reject);
    });
    expect(again.statusCode).toBe(304);
    expect(again.headers['content-security-policy']).toBe(CSP);
  });

  it('redirects /panel to /panel/', async () => {
    const response = await fetch(`${api.url}/panel`, { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(new URL(response.headers.get('location') ?? '', `${api.url}/panel`).pathname).toBe(
      '/panel/',
    );
    expectPanelHeaders(response);
    const followed = await fetch(`${api.url}/panel`);
    expect(followed.url).toBe(`${api.url}/panel/`);
    expect(await followed.text()).toBe(INDEX);
  });

  it('serves hashed assets with their type, cached for good', async () => {
    const script = await fetch(`${api.url}/panel/assets/app-1a2b.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/^(text|application)\/javascript/);
    expect(script.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expectPanelHeaders(script);
    expect(await script.text()).toBe(SCRIPT);
    const style = await fetch(`${api.url}/panel/assets/app-1a2b.css`);
    expect(style.headers.get('content-type')).toMatch(/^text\/css/);
    await style.arrayBuffer();
    const icon = await fetch(`${api.url}/panel/favicon.svg`);
    expect(icon.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    expect(icon.headers.get('cache-control')).toBe('no-cache');
    await icon.arrayBuffer();
  });

  it('answers other paths with index.html, but a missing asset with 404', async () => {
    for (const path of ['/panel/runs/run_1', '/panel/index.html', '/panel/x.js?y=1']) {
      const response = await fetch(`${api.url}${path}`);
      expect(response.status, path).toBe(200);
      expect(await response.text(), path).toBe(INDEX);
    }
    const missing = await fetch(`${api.url}/panel/assets/app-old.js`);
    expectPanelHeaders(missing);
    const body = await expectError(missing, 'NOT_FOUND');
    expect(String(body.details.hint)).toMatch(/reload/);
  });

  it('never serves dotfiles, symlinks or anything outside the build', async () => {
    for (const path of [
      '/panel/.secret',
      '/panel/assets/link.js',
      '/panel/../outside.txt',
      '/panel/%2e%2e/outside.txt',
      '/panel/assets/%2e%2e/%2e%2e/outside.txt',
      '/panel/assets/..%2f..%2foutside.txt',
    ]) {
      const response = await fetch(`${api.url}${path}`);
      const text = await response.text();
      expect(text, path).not.toMatch(/hidden|outside the build/);
      expect([200, 404], path).toContain(response.status);
      if (path.startsWith('/panel/assets/') && !path.includes('%2e%2e')) {
        expect(response.status, path).toBe(404);
      }
    }
  });

  it('says how to build the panel when it is not built', async () => {
    for (const path of ['/panel/', '/panel/runs', '/panel/assets/app-1a2b.js']) {
      const response = await fetch(`${unbuilt.url}${path}`);
      expectPanelHeaders(response);
      const body = await expectError(response, 'NOT_FOUND');
      expect(body.message).toMatch(/not built/);
      expect(String(body.details.hint)).toMatch(/npm run build/);
    }
  });

  it('leaves the API as it was: bearer tokens, JSON errors, no panel headers', async () => {
    const response = await fetch(`${api.url}/api/v1/sessions`);
    await expectError(response, 'UNAUTHENTICATED');
    expect(response.headers.get('content-security-policy')).toBeNull();
  });

  it('serves the API documentation page, which no other site may frame', async () => {
    for (const path of ['/docs', '/docs/static/index.html']) {
      const response = await fetch(`${api.url}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-security-policy'), path).toBe("frame-ancestors 'none'");
      expect(response.headers.get('x-frame-options'), path).toBe('DENY');
      await response.arrayBuffer();
    }
  });

  it('finds dist/panel of the package by default', () => {
    expect(defaultPanelDir()).toBe(join(process.cwd(), 'dist', 'panel/'));
  });
});
