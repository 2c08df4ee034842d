import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';
import { makeTempDir } from '../helpers/temp-repo.js';

const COMMANDS = [
  [],
  ['run'],
  ['sessions'],
  ['sessions', 'list'],
  ['sessions', 'show'],
  ['sessions', 'events'],
  ['cancel'],
  ['worker', 'enrolments'],
  ['schedules'],
  ['schedules', 'create'],
  ['audit'],
  ['audit', 'verify'],
  ['policy'],
  ['policy', 'explain'],
  ['agents'],
  ['gc'],
  ['doctor'],
  ['demo'],
  ['start'],
  ['token'],
  ['token', 'create'],
  ['token', 'list'],
  ['token', 'revoke'],
  ['worker'],
  ['worker', 'enrol'],
  ['worker', 'revoke'],
  ['worker', 'drain'],
  ['worker', 'resume'],
  ['workers'],
  ['approve'],
  ['approvals'],
  ['promote'],
  ['export'],
  ['verify'],
];

describe('--help', () => {
  it('every command has help that describes it, and exits 0', async () => {
    const home = makeTempDir('aas-home-');
    for (const command of COMMANDS) {
      const result = await runCli([...command, '--help'], { home });
      expect(result.code, command.join(' ')).toBe(0);
      expect(result.stdout, command.join(' ')).toMatch(/^Usage: aas/);
      expect(result.stdout.length, command.join(' ')).toBeGreaterThan(120);
    }
    const run = await runCli(['run', '--help'], { home });
    for (const flag of [
      '--repo',
      '--task',
      '--agent',
      '--agent-cmd',
      '--policy',
      '--validate',
      '--retries',
      '--json',
      'Exit codes',
    ]) {
      expect(run.stdout).toContain(flag);
    }
    // Running a worker takes --concurrency and --rebind; administering one does not.
    const worker = await runCli(['worker', '--help'], { home });
    expect(worker.stdout).toContain('--concurrency');
    expect(worker.stdout).toContain('--rebind');
    for (const sub of ['enrol', 'revoke', 'drain', 'resume', 'enrolments']) {
      const help = await runCli(['worker', sub, '--help'], { home });
      expect(help.stdout, sub).toContain('--home');
      expect(help.stdout, sub).not.toContain('--concurrency');
      expect(help.stdout, sub).not.toContain('--rebind');
    }
  });
});
