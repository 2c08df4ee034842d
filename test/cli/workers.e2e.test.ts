import { describe, expect, it } from 'vitest';
import { jsonOf, runCli } from '../helpers/run-cli.js';
import { makeTempDir } from '../helpers/temp-repo.js';

/** `aas worker enrol`, `aas workers` and `aas worker revoke` on this host's database. */
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

    const unknown = await runCli(['worker', 'revoke', 'box-1'], { home });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^error \[NOT_FOUND\]/);

    const bad = await runCli(['worker', 'enrol', '--name', 'box-2', '--labels', 'GPU'], { home });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error \[INVALID_ARGUMENT\]/);
  });
});
