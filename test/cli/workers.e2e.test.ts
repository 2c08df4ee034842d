import { describe, expect, it } from 'vitest';
import { jsonOf, runCli } from '../helpers/run-cli.js';
import { makeTempDir } from '../helpers/temp-repo.js';

/** `aas worker enrol`, `revoke`, `drain`, `resume` and `aas workers` on this host's database. */
describe('aas worker (local)', () => {
  it('enrols (secret printed once), lists remote workers, refuses unknown and bad input', async () => {
    const home = makeTempDir('aas-home-');
    const empty = await runCli(['workers'], { home });
    expect(empty.code, empty.stderr).toBe(0);
    expect(empty.stdout).toBe('no workers\n');

    const enrolled = jsonOf<{ enrolment: { name: string; labels: string[] }; secret: string }>(
      await runCli(['worker', 'enrol', '--name', 'box-1', '--labels', 'linux, gpu', '--json'], {
        home,
      }),
    );
    expect(enrolled.enrolment).toMatchObject({ name: 'box-1', labels: ['linux', 'gpu'] });
    expect(enrolled.secret).toMatch(/^aase_/);

    // Enrolled is not registered: there is no worker to revoke, drain or resume yet.
    for (const action of ['revoke', 'drain', 'resume']) {
      const unknown = await runCli(['worker', action, 'box-1'], { home });
      expect(unknown.code, action).toBe(2);
      expect(unknown.stderr, action).toMatch(/^error \[NOT_FOUND\]/);
    }

    const bad = await runCli(['worker', 'enrol', '--name', 'box-2', '--labels', 'GPU'], { home });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error \[INVALID_ARGUMENT\]/);
  });
});
