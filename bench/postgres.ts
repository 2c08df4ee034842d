import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const DEFAULT_BENCH_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';
const CONNECT_TIMEOUT_MS = 3_000;

export type Throwaway<T> =
  | { readonly ok: true; readonly value: T; readonly server: string }
  | { readonly ok: false; readonly reason: string };

/** The admin URL: AAS_BENCH_DATABASE_URL, else the local test server. */
export function benchPostgresUrl(env: Readonly<Record<string, string | undefined>>): string {
  const fromEnv = env.AAS_BENCH_DATABASE_URL?.trim();
  return fromEnv === undefined || fromEnv === '' ? DEFAULT_BENCH_POSTGRES_URL : fromEnv;
}

/** host:port/db without credentials, for messages. */
export function describePostgresUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
  } catch {
    return '(unparseable URL)';
  }
}

/**
 * Creates `aas_bench_<random>` on the server behind `adminUrl`, hands its URL to `body`, and
 * drops it afterwards whatever happens. An unreachable server is not an error: the result
 * says why it was skipped.
 */
export async function withThrowawayPostgres<T>(
  adminUrl: string,
  body: (url: string) => Promise<T>,
): Promise<Throwaway<T>> {
  const where = describePostgresUrl(adminUrl);
  const admin = new pg.Client({
    connectionString: adminUrl,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  admin.on('error', () => undefined);
  try {
    await admin.connect();
  } catch (error) {
    await admin.end().catch(() => undefined);
    return { ok: false, reason: `PostgreSQL at ${where} unreachable: ${messageOf(error)}` };
  }
  const name = `aas_bench_${randomBytes(6).toString('hex')}`;
  try {
    const version = await admin.query<{ server_version: string; server_version_num: string }>(
      "SELECT current_setting('server_version') AS server_version, current_setting('server_version_num') AS server_version_num",
    );
    const row = version.rows[0];
    try {
      await admin.query(`CREATE DATABASE ${name}`);
    } catch (error) {
      return { ok: false, reason: `cannot create a database on ${where}: ${messageOf(error)}` };
    }
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    try {
      const value = await body(url.toString());
      return { ok: true, value, server: `PostgreSQL ${row?.server_version ?? '?'} at ${where}` };
    } finally {
      // FORCE (13+) ends connections a failed body may have left open.
      const force = Number(row?.server_version_num ?? 0) >= 130_000 ? ' WITH (FORCE)' : '';
      await admin.query(`DROP DATABASE IF EXISTS ${name}${force}`);
    }
  } finally {
    await admin.end();
  }
}

function messageOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return error.errors.map(messageOf).join('; ');
  }
  return error instanceof Error ? error.message || error.name : String(error);
}
