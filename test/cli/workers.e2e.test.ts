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

    // The secret was recorded in this host's database, and the command says so.
    const pending = await runCli(['worker', 'enrolments'], { home });
    expect(pending.code, pending.stderr).toBe(0);
    expect(pending.stdout).toMatch(/^ID +NAME +LABELS/);
    expect(pending.stdout).toContain('box-1');
    expect(pending.stdout).not.toContain(enrolled.secret);

    // Enrolled is not registered: there is no worker to drain or resume yet, and revoking the
    // name withdraws its unused secret.
    for (const action of ['drain', 'resume']) {
      const unknown = await runCli(['worker', action, 'box-1'], { home });
      expect(unknown.code, action).toBe(2);
      expect(unknown.stderr, action).toMatch(/^error \[NOT_FOUND\]/);
    }
    const withdrawn = await runCli(['worker', 'revoke', 'box-1'], { home });
    expect(withdrawn.code, withdrawn.stderr).toBe(0);
    expect(withdrawn.stdout).toMatch(/^withdrew 1 unused enrolment\(s\) for worker box-1/);
    expect((await runCli(['worker', 'enrolments'], { home })).stdout).toBe(
      'no unused enrolments\n',
    );
    const gone = await runCli(['worker', 'revoke', 'box-1'], { home });
    expect(gone.code).toBe(2);
    expect(gone.stderr).toMatch(
      /^error \[NOT_FOUND\]: worker: no worker with that id or name, and no unused/,
    );

    const bad = await runCli(['worker', 'enrol', '--name', 'box-2', '--labels', 'GPU'], { home });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error \[INVALID_ARGUMENT\]/);
    const badTtl = await runCli(['worker', 'enrol', '--name', 'box-2', '--ttl', 'abc'], { home });
    expect(badTtl.code).toBe(2);
    expect(badTtl.stderr).toMatch(
      /^error \[INVALID_ARGUMENT\]: --ttl: must be whole seconds from 60 to 604800/,
    );
    // Remote workers get credentials of their own, never an API token.
    const workerToken = await runCli(['token', 'create', '--name', 'w', '--role', 'worker'], {
      home,
    });
    expect(workerToken.code).toBe(2);
    expect(workerToken.stderr).toMatch(/the worker role is for remote workers only/);
  });
});
