import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openStore, type Store } from '../src/store/index.js';
import { benchPostgresUrl, withThrowawayPostgres } from './postgres.js';
import type { ResultRow, ResultTable } from './report.js';
import { agentEvents, averageDataBytes, createBenchSession } from './session-fixture.js';
import { median } from './stats.js';

export interface EventBenchOptions {
  /** Events appended per repetition, per mode. */
  readonly eventsPerRep: number;
  /** Single appends on PostgreSQL are a network round trip each: fewer per repetition. */
  readonly postgresSingleEventsPerRep: number;
  readonly reps: number;
  readonly warmups: number;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly progress: (line: string) => void;
}

const BATCHED_TARGET = { op: '>=' as const, value: 20_000 };

interface Mode {
  readonly label: string;
  readonly batch: number;
  readonly events: number;
}

export async function eventBench(options: EventBenchOptions): Promise<ResultTable[]> {
  const dir = await mkdtemp(join(tmpdir(), 'aas-bench-events-'));
  try {
    const sqlitePath = join(dir, 'aas.db');
    const sqlite = await openStore({ sqlitePath });
    let sqliteTable: ResultTable;
    try {
      sqliteTable = await measureStore(sqlite, 'sqlite', options, options.eventsPerRep);
    } finally {
      await sqlite.close();
    }
    const sqliteResult: ResultTable = {
      ...sqliteTable,
      title: `Event append throughput, SQLite (file in ${tmpdir()}, WAL, synchronous=NORMAL)`,
    };

    const adminUrl = benchPostgresUrl(options.env);
    const postgres = await withThrowawayPostgres(adminUrl, async (url) => {
      const store = await openStore({ databaseUrl: url, sqlitePath: join(dir, 'unused.db') });
      try {
        return await measureStore(store, 'postgres', options, options.postgresSingleEventsPerRep);
      } finally {
        await store.close();
      }
    });
    const postgresResult: ResultTable = postgres.ok
      ? { ...postgres.value, title: `Event append throughput, ${postgres.server}` }
      : {
          title: 'Event append throughput, PostgreSQL',
          rows: [],
          notes: [],
          skipped: postgres.reason,
        };
    return [sqliteResult, postgresResult];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function measureStore(
  store: Store,
  label: string,
  options: EventBenchOptions,
  singleEvents: number,
): Promise<ResultTable> {
  const modes: Mode[] = [
    { label: 'single (1 event / appendEvents)', batch: 1, events: singleEvents },
    { label: 'batched (100 / appendEvents)', batch: 100, events: options.eventsPerRep },
    { label: 'batched (1,000 / appendEvents)', batch: 1_000, events: options.eventsPerRep },
  ];
  const rows: ResultRow[] = [];
  let payloadBytes = 0;
  for (const mode of modes) {
    const rates: number[] = [];
    for (let rep = 0; rep < options.warmups + options.reps; rep += 1) {
      const { sessionId, runId } = await createBenchSession(store);
      const events = agentEvents(runId, 0, mode.events);
      payloadBytes = averageDataBytes(events);
      const started = performance.now();
      for (let offset = 0; offset < events.length; offset += mode.batch) {
        await store.appendEvents(sessionId, events.slice(offset, offset + mode.batch));
      }
      const seconds = (performance.now() - started) / 1000;
      if (rep >= options.warmups) rates.push(events.length / seconds);
    }
    options.progress(`events: ${label} ${mode.label}: ~${Math.round(median(rates))} events/s`);
    rows.push({
      metric: `${mode.label}, ${mode.events.toLocaleString('en-US')} events/rep`,
      unit: 'events/s',
      samples: rates,
      ...(mode.batch > 1 ? { target: BATCHED_TARGET } : {}),
    });
  }
  return {
    title: label,
    rows,
    notes: [
      `each repetition appends to a fresh session through Store.appendEvents; ${options.reps} repetitions after ${options.warmups} warm-up`,
      `payload: agent.event with ~${payloadBytes} bytes of JSON data (hash-chained, one transaction per call)`,
    ],
  };
}
