import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { openStore } from '../src/store/index.js';
import type { ResultRow, ResultTable } from './report.js';
import { createBenchSession } from './session-fixture.js';

export interface ApiBenchOptions {
  /** Sessions in the database before the load starts. */
  readonly sessions: number;
  readonly rounds: number;
  readonly roundSec: number;
  readonly connections: number;
  readonly progress: (line: string) => void;
}

const CLI_PATH = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

/**
 * API throughput and latency against a real `aas start` process (SQLite, no embedded workers,
 * so only the API is measured), loaded by autocannon from this process: GET /sessions/{id} on
 * random ids among the seeded sessions, and POST /sessions (each one a durable submit).
 */
export async function apiBench(options: ApiBenchOptions): Promise<ResultTable[]> {
  const home = await mkdtemp(join(tmpdir(), 'aas-bench-api-'));
  let server: ChildProcess | undefined;
  try {
    const repo = join(home, 'repo');
    execFileSync('git', ['init', '-q', repo]);
    await writeFile(join(repo, 'README.md'), 'bench\n');
    execFileSync('git', ['-C', repo, 'add', '.']);
    execFileSync('git', [
      '-C',
      repo,
      '-c',
      'user.name=bench',
      '-c',
      'user.email=bench@example.invalid',
      'commit',
      '-qm',
      'base',
    ]);

    options.progress(`seeding ${options.sessions.toLocaleString('en-US')} sessions…`);
    const store = await openStore({ sqlitePath: join(home, 'aas.db') });
    const sessionIds: string[] = [];
    try {
      for (let i = 0; i < options.sessions; i += 1) {
        sessionIds.push((await createBenchSession(store)).sessionId);
      }
    } finally {
      await store.close();
    }

    const token = `aas_${randomBytes(32).toString('base64url')}`;
    const started = await startServer(home, token);
    server = started.child;
    const url = started.url;
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

    const get: Measured = { rate: [], p50: [], p99: [], errors: 0 };
    const post: Measured = { rate: [], p50: [], p99: [], errors: 0 };
    const body = JSON.stringify({
      task: 'bench',
      repo,
      agent: 'command',
      agentInput: { command: 'true' },
    });
    for (let round = 0; round < options.rounds; round += 1) {
      options.progress(`round ${round + 1}/${options.rounds}: GET /sessions/{id}`);
      record(
        get,
        await autocannon({
          url,
          connections: options.connections,
          duration: options.roundSec,
          headers,
          requests: [
            {
              method: 'GET',
              setupRequest: (request) => ({
                ...request,
                path: `/api/v1/sessions/${sessionIds[Math.floor(Math.random() * sessionIds.length)] ?? ''}`,
              }),
            },
          ],
        }),
      );
      options.progress(`round ${round + 1}/${options.rounds}: POST /sessions`);
      record(
        post,
        await autocannon({
          url: `${url}/api/v1/sessions`,
          method: 'POST',
          connections: options.connections,
          duration: options.roundSec,
          headers,
          body,
        }),
      );
    }
    const note = `${options.sessions.toLocaleString('en-US')} sessions seeded; ${options.connections} connections; ${options.rounds} rounds of ${options.roundSec} s each; server and load generator share this machine`;
    return [
      {
        title: 'API: GET /api/v1/sessions/{id} (SQLite)',
        rows: rowsOf(get, { rate: 3_000, p99: 20 }),
        notes: [note, errorsNote(get)],
      },
      {
        title: 'API: POST /api/v1/sessions (SQLite, durable submit)',
        rows: rowsOf(post),
        notes: [note, errorsNote(post)],
      },
    ];
  } finally {
    server?.kill('SIGKILL');
    await rm(home, { recursive: true, force: true });
  }
}

interface Measured {
  readonly rate: number[];
  readonly p50: number[];
  readonly p99: number[];
  errors: number;
}

function record(into: Measured, result: autocannon.Result): void {
  into.rate.push(result.requests.average);
  into.p50.push(result.latency.p50);
  into.p99.push(result.latency.p99);
  into.errors += result.errors + result.non2xx;
}

function rowsOf(measured: Measured, targets: { rate?: number; p99?: number } = {}): ResultRow[] {
  return [
    {
      metric: 'throughput',
      unit: 'req/s',
      samples: measured.rate,
      ...(targets.rate === undefined ? {} : { target: { op: '>=' as const, value: targets.rate } }),
    },
    { metric: 'latency p50', unit: 'ms', samples: measured.p50 },
    {
      metric: 'latency p99',
      unit: 'ms',
      samples: measured.p99,
      ...(targets.p99 === undefined ? {} : { target: { op: '<=' as const, value: targets.p99 } }),
    },
  ];
}

function errorsNote(measured: Measured): string {
  return measured.errors === 0
    ? 'every response was 2xx'
    : `${measured.errors} errors or non-2xx responses (the numbers above are not valid)`;
}

async function startServer(
  home: string,
  token: string,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [CLI_PATH, 'start', '--port', '0', '--workers', '0'], {
    env: {
      ...process.env,
      AAS_HOME: home,
      AAS_BOOTSTRAP_TOKEN: token,
      AAS_LOG_LEVEL: 'error',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const match = /AAS listening on (http:\/\/\S+?) /.exec(stdout);
      if (match?.[1]) resolve(match[1]);
    });
    child.on('exit', (code) => reject(new Error(`aas start exited with ${code}: ${stdout}`)));
  });
  return { child, url };
}
