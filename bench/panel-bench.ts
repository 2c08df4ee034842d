import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { issueToken } from '../src/api/index.js';
import { startServer } from '../src/app/index.js';
import { parseConfig } from '../src/config/index.js';
import { silentLogger } from '../src/kernel/index.js';
import { parseJobSpec, submitRun } from '../src/runner/index.js';
import type { ResultTable } from './report.js';

export interface PanelBenchOptions {
  readonly runs: number;
  readonly iterations: number;
  readonly progress: (line: string) => void;
}

const CHROMIUM = '/usr/bin/chromium';
const PANEL_DIR = resolve(import.meta.dirname, '..', 'dist', 'panel');

/** gzip -9 sizes of what a browser downloads for the panel: index.html, scripts, styles. */
function bundleSizes(): { js: number; css: number; html: number } {
  const sizes = { js: 0, css: 0, html: 0 };
  const gz = (path: string) => gzipSync(readFileSync(path), { level: 9 }).length;
  sizes.html = gz(join(PANEL_DIR, 'index.html'));
  for (const name of readdirSync(join(PANEL_DIR, 'assets'))) {
    const path = join(PANEL_DIR, 'assets', name);
    if (name.endsWith('.js')) sizes.js += gz(path);
    else if (name.endsWith('.css')) sizes.css += gz(path);
  }
  return sizes;
}

/**
 * The panel's weight, and how long the run list takes to become usable with `runs` runs in
 * the database: from navigation to the first page of rows rendered (a real server on
 * loopback, SQLite, Debian's Chromium headless, a fresh browser context each time so nothing
 * is cached).
 */
export async function panelBench(options: PanelBenchOptions): Promise<ResultTable[]> {
  if (!existsSync(join(PANEL_DIR, 'index.html'))) {
    return [
      { title: 'panel', rows: [], notes: [], skipped: 'dist/panel is missing: npm run build' },
    ];
  }
  const sizes = bundleSizes();
  const sizeTable: ResultTable = {
    title: 'panel bundle (gzip -9)',
    rows: [
      { metric: 'scripts', unit: 'KB', samples: [sizes.js / 1024] },
      { metric: 'styles', unit: 'KB', samples: [sizes.css / 1024] },
      { metric: 'index.html', unit: 'KB', samples: [sizes.html / 1024] },
      {
        metric: 'total',
        unit: 'KB',
        samples: [(sizes.js + sizes.css + sizes.html) / 1024],
        target: { op: '<=', value: 250 },
      },
    ],
    notes: ['everything the panel loads; it fetches nothing from anywhere but its server'],
  };
  if (!existsSync(CHROMIUM)) {
    return [
      sizeTable,
      { title: 'panel run list', rows: [], notes: [], skipped: `${CHROMIUM} is missing` },
    ];
  }

  const home = mkdtempSync(join(tmpdir(), 'aas-panel-bench-'));
  const repo = home; // Never run: the runs only need to exist.
  const server = await startServer(
    parseConfig({ env: { AAS_HOME: home, AAS_WORKERS: '0', AAS_PORT: '0' }, cwd: home }),
    { hostEnv: {}, nodePath: process.execPath, log: silentLogger },
  );
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const { runtime } = server;
    const { secret } = await issueToken(runtime.store, runtime.clock, {
      name: 'bench',
      role: 'viewer',
      createdBy: 'bench',
    });
    options.progress(`panel: recording ${options.runs} runs`);
    const deps = runtime.runnerDeps();
    for (let index = 0; index < options.runs; index += 1) {
      await submitRun(
        deps,
        parseJobSpec({ task: `Task number ${index}`, repo, agent: 'mock' }),
        index % 3 === 0 ? 'alice' : 'bob',
      );
    }
    const samples: number[] = [];
    for (let iteration = 0; iteration < options.iterations + 1; iteration += 1) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      await context.addInitScript(`sessionStorage.setItem('aas.token', ${JSON.stringify(secret)})`);
      const page = await context.newPage();
      const started = performance.now();
      await page.goto(`${server.url}/panel/#/runs`);
      await page.locator('table.runs tbody tr').nth(49).waitFor();
      const elapsed = performance.now() - started;
      // The first is a warm-up (the server's first queries, Chromium's first compile).
      if (iteration > 0) samples.push(elapsed);
      await context.close();
    }
    return [
      sizeTable,
      {
        title: `panel run list, ${options.runs} runs`,
        rows: [
          {
            metric: 'navigation → first 50 rows shown',
            unit: 'ms',
            samples,
            target: { op: '<=', value: 1_500 },
          },
        ],
        notes: ['fresh browser context each time (nothing cached), token already signed in'],
      },
    ];
  } finally {
    await browser.close();
    await server.close();
    rmSync(home, { recursive: true, force: true });
  }
}
