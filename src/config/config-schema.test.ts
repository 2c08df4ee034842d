import { describe, expect, it } from 'vitest';
import { isAasError } from '../kernel/index.js';
import { parseConfig } from './config-schema.js';

/** The error parsing `sources` fails with (the test fails if it does not). */
function failure(sources: Parameters<typeof parseConfig>[0]) {
  try {
    parseConfig(sources);
  } catch (error) {
    if (isAasError(error)) return error;
    throw error;
  }
  throw new Error('expected CONFIG_INVALID');
}

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
    const fromEnv = failure({ env: { AAS_DATABASE_URL: 'mysql://x' }, cwd: '/' });
    expect(fromEnv.code).toBe('CONFIG_INVALID');
    expect(fromEnv.describe()).toMatch(/^AAS_DATABASE_URL: must start with postgres:\/\//);
    expect(
      failure({ env: {}, cwd: '/', overrides: { databaseUrl: 'mysql://x' } }).details.field,
    ).toBe('--database-url');
    expect(failure({ env: { AAS_RUN_LEASE_MS: 'soon' }, cwd: '/' }).details.field).toBe(
      'AAS_RUN_LEASE_MS',
    );
    // What was typed, rather than the NaN it became.
    expect(failure({ env: { AAS_PORT: ' abc ' }, cwd: '/' }).describe()).toMatch(
      /^AAS_PORT: must be a number, got "abc"\n/,
    );
  });

  it('says a model upstream must be http(s), whatever else the URL is', () => {
    const refused = failure({ env: { AAS_ANTHROPIC_BASE_URL: 'file:///etc/passwd' }, cwd: '/' });
    expect(refused.describe()).toMatch(
      /^AAS_ANTHROPIC_BASE_URL: must be an http:\/\/ or https:\/\/ URL/,
    );
  });

  it('takes a promotion branch prefix only if git would take the branch name', () => {
    for (const prefix of ['aas/', 'bots/aas', 'team.x/aas-', 'x']) {
      const config = parseConfig({ env: { AAS_PROMOTION_BRANCH_PREFIX: prefix }, cwd: '/' });
      expect(config.promotion.branchPrefix).toBe(prefix);
    }
    for (const prefix of ['bad..x', '.hidden/', 'aas/.x', 'refs.lock/', 'a b', 'a//b']) {
      const refused = failure({ env: { AAS_PROMOTION_BRANCH_PREFIX: prefix }, cwd: '/' });
      expect(refused.details.field, prefix).toBe('AAS_PROMOTION_BRANCH_PREFIX');
    }
  });

  it('reads which repository URLs jobs may name: any public host by default', () => {
    expect(parseConfig({ env: {}, cwd: '/' }).repoUrls).toEqual({
      hosts: ['*'],
      privateNetworks: false,
    });
    expect(
      parseConfig({
        env: {
          AAS_REPO_URL_HOSTS: 'github.com, *.corp.example',
          AAS_REPO_URL_PRIVATE_NETWORKS: 'allow',
        },
        cwd: '/',
      }).repoUrls,
    ).toEqual({ hosts: ['github.com', '*.corp.example'], privateNetworks: true });
    for (const [name, value, why] of [
      ['AAS_REPO_URL_HOSTS', 'github.com,https://gitlab.com', /host name or glob/],
      ['AAS_REPO_URL_HOSTS', ' , ', /at least one host/],
      ['AAS_REPO_URL_PRIVATE_NETWORKS', 'yes', /refuse|allow/],
    ] as const) {
      const thrown = failure({ env: { [name]: value }, cwd: '/' });
      expect(thrown.code, value).toBe('CONFIG_INVALID');
      expect(thrown.details.field, value).toBe(name);
      expect(thrown.message, value).toMatch(why);
    }
  });

  it('reads where jobs may name local repositories: anywhere by default', () => {
    expect(parseConfig({ env: {}, cwd: '/' }).repoPaths).toEqual({ roots: ['*'] });
    expect(
      parseConfig({
        env: { AAS_REPO_PATHS: '/srv/repos/ , /opt/code/../checkouts' },
        cwd: '/',
      }).repoPaths,
    ).toEqual({ roots: ['/srv/repos', '/opt/checkouts'] });
    for (const [value, why] of [
      ['repos,/srv/repos', /absolute directory/],
      [' , ', /at least one directory/],
    ] as const) {
      const thrown = failure({ env: { AAS_REPO_PATHS: value }, cwd: '/' });
      expect(thrown.code, value).toBe('CONFIG_INVALID');
      expect(thrown.details.field, value).toBe('AAS_REPO_PATHS');
      expect(thrown.message, value).toMatch(why);
    }
  });

  it('refuses a misfire grace shorter than two scheduler ticks, which would make every slot late', () => {
    const short = failure({
      env: { AAS_SCHEDULER_TICK_MS: '1000', AAS_SCHEDULER_MISFIRE_GRACE_MS: '1500' },
      cwd: '/',
    });
    expect(short.code).toBe('CONFIG_INVALID');
    expect(short.details.field).toBe('AAS_SCHEDULER_MISFIRE_GRACE_MS');
    expect(short.describe()).toMatch(/at least twice AAS_SCHEDULER_TICK_MS/);
    const env = { AAS_SCHEDULER_TICK_MS: '1000', AAS_SCHEDULER_MISFIRE_GRACE_MS: '2000' };
    expect(parseConfig({ env, cwd: '/' }).scheduler.misfireGraceMs).toBe(2_000);
    // A replica that fires nothing has no ticks to be late by.
    const off = { AAS_SCHEDULER_TICK_MS: '0', AAS_SCHEDULER_MISFIRE_GRACE_MS: '0' };
    expect(parseConfig({ env: off, cwd: '/' }).scheduler.misfireGraceMs).toBe(0);
  });

  it('reads the session and repository-day model budgets, none by default', () => {
    expect(parseConfig({ env: {}, cwd: '/' }).budgets).toEqual({});
    const config = parseConfig({
      env: { AAS_SESSION_MAX_COST_USD: '2.5', AAS_REPO_DAILY_MAX_COST_USD: '40' },
      cwd: '/',
    });
    expect(config.budgets).toEqual({ sessionMaxCostUsd: 2.5, repoDailyMaxCostUsd: 40 });
    for (const [name, value] of [
      ['AAS_SESSION_MAX_COST_USD', 'lots'],
      ['AAS_SESSION_MAX_COST_USD', 'Infinity'],
      ['AAS_REPO_DAILY_MAX_COST_USD', '-1'],
    ] as const) {
      const thrown = failure({ env: { [name]: value }, cwd: '/' });
      expect(thrown.code).toBe('CONFIG_INVALID');
      expect(thrown.details.field).toBe(name);
    }
  });
});
