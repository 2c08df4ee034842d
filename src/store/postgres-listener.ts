import pg from 'pg';
import { type AasError, normaliseError } from '../kernel/index.js';
import { endClientQuietly } from './end-client-quietly.js';

export interface ListenerHandlers {
  onNotification(payload: string): void;
  /**
   * LISTEN is in place. `reconnected` when it was not all along since `start`: after a loss, or
   * after first tries that failed; notifications sent meanwhile were not heard.
   */
  onConnected(reconnected: boolean): void;
  /** The connection failed or was lost; the next try is in `retryInMs`. */
  onLost(error: AasError, retryInMs: number): void;
}

export interface ListenerTiming {
  /** First retry after a loss; doubled on every failed try, up to `maxBackoffMs`. */
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  /**
   * A connection that only listens receives nothing when its peer vanished without a word (a
   * dropped network path, a database host that died): a query this often finds out.
   */
  readonly probeEveryMs: number;
}

const DEFAULT_TIMING: ListenerTiming = {
  initialBackoffMs: 250,
  maxBackoffMs: 30_000,
  probeEveryMs: 30_000,
};

const CONNECT_TIMEOUT_MS = 10_000;
const PROBE_TIMEOUT_MS = 10_000;

/** Shown in pg_stat_activity, so an operator (or a test) can tell what the connection is. */
export const LISTENER_APPLICATION_NAME = 'aas-event-listener';

/** A channel name of ours, not input: quoted anyway, as LISTEN takes no bind parameter. */
function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * One dedicated connection LISTENing on one channel, outside the store's pool (a pooled
 * connection would stop listening the moment it went back to the pool). It reconnects after
 * any loss with jittered exponential backoff, so a database restart costs notifications only
 * for as long as the database is away; what was announced meanwhile is gone, and consumers
 * that must not miss anything poll the store besides.
 */
export class PostgresListener {
  readonly #databaseUrl: string;
  readonly #channel: string;
  readonly #handlers: ListenerHandlers;
  readonly #timing: ListenerTiming;
  #client: pg.Client | null = null;
  #retry: NodeJS.Timeout | null = null;
  #probe: NodeJS.Timeout | null = null;
  #failures = 0;
  #connectedBefore = false;
  #closed = false;
  #connecting: Promise<void> | null = null;

  constructor(
    databaseUrl: string,
    channel: string,
    handlers: ListenerHandlers,
    timing: Partial<ListenerTiming> = {},
  ) {
    this.#databaseUrl = databaseUrl;
    this.#channel = channel;
    this.#handlers = handlers;
    this.#timing = { ...DEFAULT_TIMING, ...timing };
  }

  /** Resolves once the first try ended, listening or not (a failure is retried regardless). */
  start(): Promise<void> {
    this.#connecting ??= this.#connect();
    return this.#connecting;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry !== null) clearTimeout(this.#retry);
    if (this.#probe !== null) clearInterval(this.#probe);
    await this.#connecting;
    const client = this.#client;
    this.#client = null;
    if (client !== null) await endClientQuietly(client);
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.#databaseUrl,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      application_name: LISTENER_APPLICATION_NAME,
      keepAlive: true,
      // Bounds the probe below: a query on a vanished peer would otherwise wait for TCP.
      query_timeout: PROBE_TIMEOUT_MS,
    });
    let lost = false;
    const lose = (thrown: unknown) => {
      if (lost) return;
      lost = true;
      this.#lost(client, thrown);
    };
    // Unhandled, a client's 'error' would crash the process; a loss is handled by reconnecting.
    client.on('error', lose);
    client.on('end', () => lose(new Error('the listening connection closed')));
    client.on('notification', (message) => {
      if (message.channel !== this.#channel || message.payload === undefined) return;
      const payload = message.payload;
      quietly(() => this.#handlers.onNotification(payload));
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${quoteIdentifier(this.#channel)}`);
    } catch (thrown) {
      lose(thrown);
      return;
    } finally {
      this.#connecting = null;
    }
    if (lost) return;
    if (this.#closed) {
      await endClientQuietly(client);
      return;
    }
    const reconnected = this.#connectedBefore || this.#failures > 0;
    this.#client = client;
    this.#failures = 0;
    this.#probe = setInterval(() => {
      client.query('SELECT 1').catch(lose);
    }, this.#timing.probeEveryMs);
    this.#probe.unref();
    this.#connectedBefore = true;
    quietly(() => this.#handlers.onConnected(reconnected));
  }

  #lost(client: pg.Client, thrown: unknown): void {
    if (this.#client === client) {
      this.#client = null;
      if (this.#probe !== null) clearInterval(this.#probe);
      this.#probe = null;
    }
    void endClientQuietly(client);
    if (this.#closed) return;
    const ceiling = Math.min(
      this.#timing.maxBackoffMs,
      this.#timing.initialBackoffMs * 2 ** Math.min(this.#failures, 30),
    );
    this.#failures += 1;
    // A random wait between half and all of the ceiling: replicas that lost the database together
    // do not all knock again at the same instant.
    const retryInMs = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    const error = normaliseError(thrown, 'STORE_UNAVAILABLE');
    quietly(() => this.#handlers.onLost(error, retryInMs));
    this.#retry = setTimeout(() => {
      this.#retry = null;
      if (!this.#closed) void this.start();
    }, retryInMs);
    this.#retry.unref();
  }
}

/** A handler's failure is its own: the connection keeps listening (and reconnecting). */
function quietly(call: () => void): void {
  try {
    call();
  } catch {
    // See above.
  }
}
