import type { Migration, MigrationProvider } from 'kysely';
import * as initial from './0001-initial.js';

/**
 * Migrations are compiled into the program rather than read from a folder at run time, so a
 * bundled or globally installed `aas` cannot miss one. Names sort in application order.
 */
export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001-initial': initial,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => ({ ...MIGRATIONS }),
};
