import { describe, expect, it } from 'vitest';
import { isAasError } from '../kernel/index.js';
import { parseConfig } from './config-schema.js';

describe('parseConfig', () => {
  it('defaults AAS_HOME to ./.aas under the working directory and SQLite inside it', () => {
    const config = parseConfig({ env: {}, cwd: '/srv/project' });
    expect(config.home).toBe('/srv/project/.aas');
    expect(config.paths.sqlite).toBe('/srv/project/.aas/aas.db');
    expect(config.databaseUrl).toBeUndefined();
    expect(config.agentsDirs[0]).toBe('/srv/project/.aas/agents');
  });

  it('lets flags win over the environment', () => {
    const config = parseConfig({ env: { AAS_HOME: '/a' }, cwd: '/', overrides: { home: '/b' } });
    expect(config.home).toBe('/b');
  });

  it('names the variable or flag that is wrong', () => {
    const failure = (sources: Parameters<typeof parseConfig>[0]) => {
      try {
        parseConfig(sources);
      } catch (error) {
        if (isAasError(error)) return error;
        throw error;
      }
      throw new Error('expected CONFIG_INVALID');
    };
    const fromEnv = failure({ env: { AAS_DATABASE_URL: 'mysql://x' }, cwd: '/' });
    expect(fromEnv.code).toBe('CONFIG_INVALID');
    expect(fromEnv.describe()).toMatch(/^AAS_DATABASE_URL: must start with postgres:\/\//);
    expect(
      failure({ env: {}, cwd: '/', overrides: { databaseUrl: 'mysql://x' } }).details.field,
    ).toBe('--database-url');
    expect(failure({ env: { AAS_RUN_LEASE_MS: 'soon' }, cwd: '/' }).details.field).toBe(
      'AAS_RUN_LEASE_MS',
    );
  });
});
