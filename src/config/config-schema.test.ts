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

  it('names the variable that is wrong', () => {
    try {
      parseConfig({ env: { AAS_DATABASE_URL: 'mysql://x' }, cwd: '/' });
      expect.unreachable();
    } catch (error) {
      expect(isAasError(error) && error.code).toBe('CONFIG_INVALID');
      expect(String(error)).toContain('AAS_DATABASE_URL');
    }
    expect(() => parseConfig({ env: { AAS_RUN_LEASE_MS: 'soon' }, cwd: '/' })).toThrow(
      /AAS_RUN_LEASE_MS/,
    );
  });
});
