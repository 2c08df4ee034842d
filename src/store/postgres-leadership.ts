import { createHash } from 'node:crypto';
import pg from 'pg';
import { type AasError, normaliseError } from '../kernel/index.js';
import { endClientQuietly } from './end-client-quietly.js';
import type { Leadership, LeadershipOptions } from './leadership.js';

const CONNECT_TIMEOUT_MS = 10_000;
const QUERY_TIMEOUT_MS = 10_000;
/** Below this the database would end a healthy leader's session between two pings. */
const MIN_IDLE_TIMEOUT_MS = 10_000;

/** Shown in pg_stat_activity, so an operator (or a test) can tell what the connection is. */
export const LEADERSHIP_APPLICATION_NAME = 'aas-leadership';

/**
 * The session-level advisory-lock key of a leadership: the first 64 bits of a SHA-256, as a
 * signed decimal, like the per-repository claim keys (repoLockKey), from its own namespace.
 */
export function leadershipLockKey(name: string): string {
  return createHash('sha256').update(`aas:leader:${name}`).digest().readBigInt64BE(0).toString();
}

/**
 * Leadership as a session-level advisory lock held on a dedicated connection: the lock lives
 * exactly as long as that session, so a leader that exits, crashes or loses the database loses
 * the lead with it, and nothing needs expiring. Two more safeguards: a ping every
 * `checkEveryMs` notices a connection that died silently, and the session is created with
 * `idle_session_timeout` at three times that, so the database itself ends the session (and
 * frees the lock) of a leader that froze or vanished without closing its socket.
 */
export class PostgresLeadership implements Leadership {
  readonly #databaseUrl: string;
  readonly #key: string;
  readonly #options: LeadershipOptions;
  #client: pg.Client | null = null;
  #leading = false;
  #released = false;
  #checking: Promise<boolean> | null = null;
  #ping: NodeJS.Timeout | null = null;

  constructor(databaseUrl: string, name: string, options: LeadershipOptions) {
    this.#databaseUrl = databaseUrl;
    this.#key = leadershipLockKey(name);
    this.#options = options;
  }

  check(): Promise<boolean> {
    this.#checking ??= this.#check().finally(() => {
      this.#checking = null;
    });
    return this.#checking;
  }

  async release(): Promise<void> {
    this.#released = true;
    await this.#checking;
    const client = this.#client;
    // Ending the session is what frees the lock; wait for it so the next contender finds it free.
    if (client !== null) await this.#drop(client);
  }

  async #check(): Promise<boolean> {
    if (this.#released) return false;
    try {
      const client = this.#client ?? (await this.#open());
      if (this.#leading) return true;
      // Never asked again while held: session-level advisory locks count their acquisitions.
      const result = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock(cast($1 as bigint)) AS locked',
        [this.#key],
      );
      if (this.#client !== client) return false;
      this.#leading = result.rows[0]?.locked === true;
      return this.#leading;
    } catch (thrown) {
      const client = this.#client;
      if (client !== null) void this.#drop(client);
      this.#report(normaliseError(thrown, 'STORE_UNAVAILABLE'));
      return false;
    }
  }

  async #open(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.#databaseUrl,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: QUERY_TIMEOUT_MS,
      application_name: LEADERSHIP_APPLICATION_NAME,
      keepAlive: true,
    });
    // Unhandled, a client's 'error' would crash the process; a loss only ends the lead.
    client.on('error', () => void this.#drop(client));
    client.on('end', () => void this.#drop(client));
    try {
      await client.connect();
    } catch (thrown) {
      void endClientQuietly(client);
      throw thrown;
    }
    const idleTimeoutMs = Math.max(MIN_IDLE_TIMEOUT_MS, 3 * this.#options.checkEveryMs);
    try {
      await client.query(`SET idle_session_timeout = ${Math.round(idleTimeoutMs)}`);
    } catch {
      // Before PostgreSQL 14: only the TCP keep-alive notices a vanished leader.
    }
    this.#client = client;
    this.#ping = setInterval(() => {
      if (this.#checking !== null) return;
      client.query('SELECT 1').catch((thrown: unknown) => {
        void this.#drop(client);
        this.#report(normaliseError(thrown, 'STORE_UNAVAILABLE'));
      });
    }, this.#options.checkEveryMs);
    this.#ping.unref();
    return client;
  }

  #drop(client: pg.Client): Promise<void> {
    if (this.#client === client) {
      this.#client = null;
      this.#leading = false;
      if (this.#ping !== null) clearInterval(this.#ping);
      this.#ping = null;
    }
    return endClientQuietly(client);
  }

  #report(error: AasError): void {
    try {
      this.#options.onTrouble?.(error);
    } catch {
      // A reporter's failure changes nothing about the lead.
    }
  }
}
