import { describe, expect, it } from 'vitest';
import { builtinManifests, createAgentRegistry } from '../drivers/index.js';
import { parseJobSpec } from '../runner/index.js';
import { checkSubmittable } from './check-job.js';

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
    await expect(
      checkSubmittable(registry, job('http://169.254.169.254/latest'), rule),
    ).rejects.toMatchObject({
      code: 'JOB_INVALID',
      details: { field: 'repo' },
      message: expect.stringMatching(/169\.254\.169\.254 is not among the allowed hosts/),
    });
  });
});
