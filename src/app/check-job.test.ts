import { describe, expect, it } from 'vitest';
import { builtinManifests, createAgentRegistry } from '../drivers/index.js';
import { AasError } from '../kernel/index.js';
import { parseJobSpec } from '../runner/index.js';
import { checkSubmittable } from './check-job.js';

async function refusal(promise: Promise<unknown>): Promise<AasError> {
  const error = await promise.then(
    () => null,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(AasError);
  return error as AasError;
}

describe('checkSubmittable', () => {
  it('refuses at submission a repository URL whose host the rule leaves out', async () => {
    const registry = await createAgentRegistry({
      builtins: builtinManifests({ nodePath: process.execPath }),
      dirs: [],
    });
    const job = (repo: string) => parseJobSpec({ task: 't', repo, agent: 'mock' });
    const rule = { hosts: ['github.com'], privateNetworks: false };
    await checkSubmittable(registry, job('https://github.com/o/r.git'), rule);
    // file:// names this host's files, as a path does: no host to allow.
    await checkSubmittable(registry, job('file:///srv/r'), rule);
    const refused = await refusal(
      checkSubmittable(registry, job('http://169.254.169.254/latest'), rule),
    );
    expect(refused.code).toBe('JOB_INVALID');
    expect(refused.details).toMatchObject({ field: 'repo' });
    expect(refused.message).toMatch(/169\.254\.169\.254 is not among the allowed hosts/);
  });
});
