import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type AgentManifest,
  type AgentManifestInput,
  AgentManifestSchema,
  builtinManifests,
  runDriver,
  SAFE_DEFAULT_PATH,
} from '../../src/drivers/index.js';
import { isAasError } from '../../src/kernel/index.js';
import { type AttemptFixture, makeAttemptFixture } from './attempt-fixture.js';

const command = ((): AgentManifest => {
  const found = builtinManifests({ nodePath: process.execPath }).find((m) => m.id === 'command');
  if (found === undefined) throw new Error('command manifest missing');
  return found;
})();

function manifest(input: Omit<AgentManifestInput, 'id'> & { id?: string }): AgentManifest {
  return AgentManifestSchema.parse({ id: 'custom', ...input });
}

/** An agent that prints its whole environment, one variable per line. */
const envAgent = (env: Record<string, string> = {}): AgentManifest =>
  manifest({ entrypoint: '/usr/bin/env', result: 'exit-code', env });

function envOf(stdoutPath: string): Map<string, string> {
  const entries = readFileSync(stdoutPath, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line): [string, string] => {
      const at = line.indexOf('=');
      return [line.slice(0, at), line.slice(at + 1)];
    });
  return new Map(entries);
}

const HOST_ENV = {
  PATH: '/opt/host/bin:/usr/bin:/bin',
  HOME: '/root',
  GITHUB_TOKEN: 'ghp_secret',
  AWS_SECRET_ACCESS_KEY: 'aws-secret',
  SSH_AUTH_SOCK: '/tmp/ssh.sock',
  AEP_RUN_DIR: '/forged',
};

describe('runDriver with the command agent and custom manifests', () => {
  let fx: AttemptFixture;
  beforeEach(() => {
    fx = makeAttemptFixture();
  });
  afterEach(() => fx.dispose());

  const runCommand = (shell: string) =>
    runDriver(fx.options(command, { job: { input: { command: shell } } }));

  it('exit 0 succeeds with a synthesised result', async () => {
    const outcome = await runCommand('echo built > out.txt && exit 0');
    expect(outcome.ok).toBe(true);
    expect(outcome.code).toBeNull();
    expect(outcome.result).toEqual({
      status: 'succeeded',
      summary: 'the command exited with code 0',
      recommendedAction: 'promote',
    });
    expect(readFileSync(join(fx.workspace, 'out.txt'), 'utf8')).toBe('built\n');
  });

  it('exit 7 is AGENT_FAILED with a failed result', async () => {
    const outcome = await runCommand('exit 7');
    expect(outcome.ok).toBe(false);
    expect(outcome.code).toBe('AGENT_FAILED');
    expect(outcome.detail).toBe('the command exited with code 7');
    expect(outcome.result?.status).toBe('failed');
    expect(outcome.launch.exitCode).toBe(7);
  });

  it('ignores a result file for exit-code agents', async () => {
    const outcome = await runCommand(
      'echo \'{"status":"succeeded","summary":"lies"}\' > "$AEP_RESULT_PATH"; exit 1',
    );
    expect(outcome.code).toBe('AGENT_FAILED');
  });

  it('refuses a command job without input.command before starting anything', async () => {
    for (const input of [null, {}, { command: '' }, { command: 42 }]) {
      await expect(runDriver(fx.options(command, { job: { input } }))).rejects.toSatisfy(
        (error: unknown) =>
          isAasError(error) &&
          error.code === 'JOB_INVALID' &&
          error.details.field === 'agentInput.command',
      );
    }
    expect(existsSync(join(fx.attemptDir, 'stdout.log'))).toBe(false);
  });

  it('gives the agent only the scrubbed environment and the AEP variables', async () => {
    const outcome = await runDriver(
      fx.options(envAgent({ FIXED: 'from-manifest' }), {
        hostEnv: HOST_ENV,
        envAllow: null,
        baselineDir: join(fx.root, 'baseline'),
        job: { attempt: 3 },
      }),
    );
    expect(outcome.ok).toBe(true);
    const env = envOf(outcome.stdoutPath);
    expect([...env.keys()].sort()).toEqual(
      [
        'AEP_ARTIFACT_DIR',
        'AEP_ATTEMPT',
        'AEP_BASELINE',
        'AEP_EVENT_LOG',
        'AEP_JOB_SPEC',
        'AEP_RESULT_PATH',
        'AEP_RUN_DIR',
        'AEP_WORKSPACE',
        'FIXED',
        'HOME',
        'LANG',
        'PATH',
        'TMPDIR',
      ].sort(),
    );
    expect(env.get('PATH')).toBe(SAFE_DEFAULT_PATH);
    expect(env.get('HOME')).toBe(join(fx.attemptDir, 'aep', 'home'));
    expect(env.get('TMPDIR')).toBe(join(fx.attemptDir, 'aep', 'tmp'));
    expect(env.get('LANG')).toBe('C.UTF-8');
    expect(env.get('FIXED')).toBe('from-manifest');
    expect(env.get('AEP_RUN_DIR')).toBe(join(fx.attemptDir, 'aep'));
    expect(env.get('AEP_WORKSPACE')).toBe(fx.workspace);
    expect(env.get('AEP_ARTIFACT_DIR')).toBe(join(fx.attemptDir, 'aep', 'artifacts'));
    expect(env.get('AEP_JOB_SPEC')).toBe(join(fx.attemptDir, 'aep', 'job.json'));
    expect(env.get('AEP_RESULT_PATH')).toBe(join(fx.attemptDir, 'aep', 'driver_result.json'));
    expect(env.get('AEP_EVENT_LOG')).toBe(join(fx.attemptDir, 'aep', 'events.ndjson'));
    expect(env.get('AEP_BASELINE')).toBe(join(fx.root, 'baseline'));
    expect(env.get('AEP_ATTEMPT')).toBe('3');
    for (const dir of ['home', 'tmp', 'artifacts'])
      expect(existsSync(join(fx.attemptDir, 'aep', dir))).toBe(true);
  });

  it('passes host variables only when allowed, and never lets them shadow AEP_*', async () => {
    const outcome = await runDriver(
      fx.options(envAgent(), {
        hostEnv: HOST_ENV,
        envAllow: ['GITHUB_TOKEN', 'PATH', 'AEP_RUN_DIR', 'NOT_SET_ON_HOST'],
      }),
    );
    const env = envOf(outcome.stdoutPath);
    expect(env.get('GITHUB_TOKEN')).toBe('ghp_secret');
    expect(env.get('PATH')).toBe(HOST_ENV.PATH);
    expect(env.has('AWS_SECRET_ACCESS_KEY')).toBe(false);
    expect(env.has('SSH_AUTH_SOCK')).toBe(false);
    expect(env.has('NOT_SET_ON_HOST')).toBe(false);
    expect(env.get('HOME')).toBe(join(fx.attemptDir, 'aep', 'home'));
    expect(env.get('AEP_RUN_DIR')).toBe(join(fx.attemptDir, 'aep'));
    expect(env.get('AEP_BASELINE')).toBe('');
  });

  it('secrets never reach the agent unless allowed (checked from inside the agent)', async () => {
    const outcome = await runDriver(
      fx.options(command, {
        hostEnv: HOST_ENV,
        envAllow: ['AWS_SECRET_ACCESS_KEY'],
        job: {
          input: {
            command: 'echo "[$GITHUB_TOKEN] [$AWS_SECRET_ACCESS_KEY]" > seen.txt',
          },
        },
      }),
    );
    expect(outcome.ok).toBe(true);
    expect(readFileSync(join(fx.workspace, 'seen.txt'), 'utf8')).toBe('[] [aws-secret]\n');
  });

  it('streams events while the agent runs (the agent waits for our acknowledgement)', async () => {
    const script = [
      'echo \'{"type":"x.ping","message":"hello","data":{"n":1}}\' >> "$AEP_EVENT_LOG"',
      'i=0',
      'while [ ! -f "$AEP_WORKSPACE/ack" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done',
      'test -f "$AEP_WORKSPACE/ack"',
    ].join('\n');
    const outcome = await runDriver(
      fx.options(command, {
        job: { input: { command: script } },
        onEvent: (event) => {
          fx.events.push(event);
          if (event.type === 'x.ping') writeFileSync(join(fx.workspace, 'ack'), '');
        },
      }),
    );
    expect(outcome.ok).toBe(true);
    expect(fx.events).toEqual([{ type: 'x.ping', message: 'hello', data: { n: 1 } }]);
  });

  it('reads a final event line written without a newline', async () => {
    const outcome = await runCommand(
      'printf \'{"type":"x.first"}\\n{"type":"x.last"}\' >> "$AEP_EVENT_LOG"',
    );
    expect(outcome.ok).toBe(true);
    expect(fx.events.map((event) => event.type)).toEqual(['x.first', 'x.last']);
  });

  it('rejects forged protocol events and counts them', async () => {
    const outcome = await runCommand(
      'echo \'{"type":"aep.events.rejected","data":{"count":0}}\' >> "$AEP_EVENT_LOG"',
    );
    expect(outcome.rejectedEvents).toBe(1);
    expect(fx.events).toHaveLength(1);
    expect(fx.events[0]?.type).toBe('aep.events.rejected');
    expect(fx.events[0]?.data).toMatchObject({ count: 1, reasons: { invalid: 1 } });
  });

  it('does not follow an event log the agent replaced with a symlink or FIFO', async () => {
    const secret = join(fx.root, 'secret.txt');
    writeFileSync(secret, '{"type":"x.secret"}\n');
    const symlinked = await runCommand(`rm "$AEP_EVENT_LOG"; ln -s ${secret} "$AEP_EVENT_LOG"`);
    expect(symlinked.ok).toBe(true);
    expect(fx.events.map((event) => event.type)).toEqual(['aep.events.rejected']);
    expect(fx.events[0]?.data).toMatchObject({
      stoppedEarly: expect.stringMatching(/symbolic link/),
    });

    fx.events.length = 0;
    // The next attempt in the same directory must not write through the planted symlink.
    const fifo = await runCommand('rm "$AEP_EVENT_LOG"; mkfifo "$AEP_EVENT_LOG"');
    expect(fifo.ok).toBe(true);
    expect(fx.events[0]?.data).toMatchObject({
      stoppedEarly: expect.stringMatching(/not a regular file/),
    });
    expect(readFileSync(secret, 'utf8')).toBe('{"type":"x.secret"}\n');
  });

  it('rejects with the onEvent error after killing the agent', async () => {
    const started = Date.now();
    const failing = runDriver(
      fx.options(command, {
        job: { input: { command: 'echo \'{"type":"x.one"}\' >> "$AEP_EVENT_LOG"; sleep 60' } },
        onEvent: () => {
          throw new Error('store is down');
        },
      }),
    );
    await expect(failing).rejects.toThrow('store is down');
    // Well under the agent's 60 s sleep: the failure stopped the agent.
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('a missing entrypoint is AGENT_FAILED, not an exception', async () => {
    const outcome = await runDriver(
      fx.options(manifest({ entrypoint: 'aas-no-such-agent-binary' })),
    );
    expect(outcome.code).toBe('AGENT_FAILED');
    expect(outcome.detail).toMatch(/could not be started.*ENOENT/);
  });

  it('an invalid job or a job for another agent is an internal error', async () => {
    await expect(
      runDriver(
        fx.options(command, {
          job: { protocol: 'aep/v0' as 'aep/v1', input: { command: 'true' } },
        }),
      ),
    ).rejects.toSatisfy((error: unknown) => isAasError(error) && error.code === 'INTERNAL');
    await expect(
      runDriver(fx.options(command, { job: { agentId: 'mock', input: { command: 'true' } } })),
    ).rejects.toSatisfy(
      (error: unknown) =>
        isAasError(error) && error.code === 'INTERNAL' && error.details.field === 'job.agentId',
    );
  });
});
