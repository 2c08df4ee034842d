import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/app/index.js';
import { parseConfig } from '../../src/config/index.js';
import { jsonOf, runCli } from '../helpers/run-cli.js';
import { createTempRepo, git, makeTempDir, removeDir } from '../helpers/temp-repo.js';

/**
 * The `aas` binary end to end for approvals and promotion, through a real server (tokens give
 * identities) and locally (the OS user is the identity): separation of duties, a branch pushed
 * to a bare remote, export, and offline verification that fails on any changed byte.
 */

const ADMIN = `aas_${'promo0123456789abcdefghijklmnopqrstuvwxyz'}`;
const FIX = "sed -i 's/answer = 41/answer = 42/' src/app.js";

const cleanup: string[] = [];
let server: RunningServer;
let clientHome: string;
let repo: string;
let remote: string;
const secrets: Record<string, string> = {};

beforeAll(async () => {
  const serverHome = makeTempDir('aas-promo-server-');
  clientHome = makeTempDir('aas-promo-client-');
  repo = createTempRepo({ 'README.md': '# demo\n', 'src/app.js': 'export const answer = 41;\n' });
  const remoteDir = makeTempDir('aas-promo-remote-');
  remote = join(remoteDir, 'origin.git');
  git(remoteDir, ['clone', '-q', '--bare', repo, remote]);
  git(repo, ['remote', 'add', 'origin', remote]);
  cleanup.push(serverHome, clientHome, repo, remoteDir);
  const config = parseConfig({
    env: { AAS_HOME: serverHome, AAS_BOOTSTRAP_TOKEN: ADMIN, AAS_LOG_LEVEL: 'error' },
    cwd: serverHome,
    overrides: { port: 0, workers: 1 },
  });
  server = await startServer(config, { hostEnv: process.env, nodePath: process.execPath });
  for (const [name, role] of [
    ['olivia', 'operator'],
    ['abe', 'approver'],
  ] as const) {
    const created = await client(
      ['token', 'create', '--name', name, '--role', role, '--json'],
      ADMIN,
    );
    secrets[name] = jsonOf<{ secret: string }>(created).secret;
  }
});

afterAll(async () => {
  await server?.close();
  for (const dir of cleanup) removeDir(dir);
});

function client(args: readonly string[], token: string) {
  return runCli(['--server', server.url, ...args], {
    home: clientHome,
    env: { AAS_TOKEN: token },
  });
}

describe('aas approve / promote / export / verify', () => {
  it('through a server: SoD, a pushed branch, an export that verifies and fails on any change', async () => {
    const submitted = await client(
      ['run', '--repo', repo, '--task', 'answer 42', '--agent-cmd', FIX, '--json'],
      ADMIN,
    );
    expect(submitted.code, submitted.stderr).toBe(0);
    const runId = jsonOf<{ runId: string }>(submitted).runId;

    const early = await client(['promote', runId, '--mode', 'branch'], secrets.olivia ?? '');
    expect(early.code).toBe(3);
    expect(early.stderr).toMatch(/^error \[APPROVAL_REQUIRED\]: .*0 of 1 required/m);
    // Through the server too, the refusal shows every check, and why the mode was not taken.
    expect(early.stdout).toMatch(/^ {2}ok {3}run\.status: ready_for_promotion$/m);
    expect(early.stdout).toMatch(/^ {2}FAIL approvals: 0 of 1 required/m);
    expect(early.stdout).toMatch(/^ {2}FAIL mode: .*: not taken, as a check above failed$/m);
    const refusal = await client(['promote', runId, '--json'], secrets.olivia ?? '');
    expect(
      jsonOf<{ error: { details: { checks: unknown[] } } }>(refusal).error.details.checks,
    ).toContainEqual({ name: 'approvals', ok: false, detail: expect.stringContaining('0 of 1') });

    // The admin may approve runs, but not one it requested; an operator may not approve at all.
    const self = await client(['approve', runId], ADMIN);
    expect(self.code).toBe(3);
    expect(self.stderr).toMatch(
      /^error \[APPROVAL_SELF\]: admin cannot decide on run .*: it requested the run/m,
    );
    const byOperator = await client(['approve', runId], secrets.olivia ?? '');
    expect(byOperator.code).toBe(2);
    expect(byOperator.stderr).toMatch(/FORBIDDEN/);

    // A decision is said, never assumed: an empty body approves nothing.
    const unsaid = await fetch(`${server.url}/api/v1/runs/${runId}/approvals`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secrets.abe}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(unsaid.status).toBe(400);
    expect(await unsaid.json()).toMatchObject({
      code: 'REQUEST_INVALID',
      details: { field: 'decision' },
    });

    const approved = await client(['approve', runId, '--note', 'looks right'], secrets.abe ?? '');
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toMatch(new RegExp(`^approved ${runId} \\(apr_[0-9a-f]{24}\\) as abe`));

    const listed = await client(['approvals', '--run', runId], secrets.olivia ?? '');
    expect(listed.stdout).toMatch(/1 of 1 approvals count/);

    // A remote that refuses the push stops the promotion; `sessions show` says where and why.
    const hook = join(remote, 'hooks', 'pre-receive');
    writeFileSync(hook, '#!/bin/sh\necho "pushes need a ticket" >&2\nexit 1\n', { mode: 0o755 });
    const refused = await client(['promote', runId, '--mode', 'branch'], secrets.olivia ?? '');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /error \[PROVIDER_ERROR\]: the remote refused the push of aas\/\S+: .*pushes need a ticket/,
    );
    const sessionId = jsonOf<{ sessionId: string }>(submitted).sessionId;
    const shown = await client(['sessions', 'show', sessionId], secrets.olivia ?? '');
    expect(shown.stdout).toMatch(/^run {7}run_\S+ {2}promoting/m);
    expect(shown.stdout).toMatch(
      /^promotion stopped at committed: \[PROVIDER_ERROR\] the remote refused the push .*pushes need a ticket$/m,
    );
    expect(shown.stdout).toContain(`once that is settled: aas promote ${runId}\n`);
    rmSync(hook);

    const promoted = await client(['promote', runId, '--mode', 'branch'], secrets.olivia ?? '');
    expect(promoted.code, promoted.stderr + promoted.stdout).toBe(0);
    expect(promoted.stdout).toMatch(/ok {3}approvals: granted when this promotion started \(abe\)/);
    const branch = /promoted run_\S+ to (aas\/[0-9a-f]{12}) at ([0-9a-f]{40})/.exec(
      promoted.stdout,
    );
    expect(branch, promoted.stdout).not.toBeNull();
    expect(git(repo, ['--git-dir', remote, 'rev-parse', branch?.[1] ?? '']).trim()).toBe(
      branch?.[2],
    );
    // Asked again as a patch, which the branch promotion gave too: the recorded promotion.
    const twice = await client(['promote', runId, '--mode', 'patch'], secrets.olivia ?? '');
    expect(twice.code, twice.stderr).toBe(0);
    expect(twice.stdout).toContain(`to ${branch?.[1]} at ${branch?.[2]}`);
    // As a pull request, which it did not give: refused, not answered as if it had been.
    const asPr = await client(['promote', runId, '--mode', 'draft_pr'], secrets.olivia ?? '');
    expect(asPr.code).toBe(3);
    expect(asPr.stderr).toMatch(
      new RegExp(
        `error \\[PREFLIGHT_FAILED\\]: --mode: run ${runId} was promoted as branch at \\S+; a run is promoted once, so --mode draft_pr cannot be had`,
      ),
    );
    // Said to be the recorded promotion, not a new one.
    expect(twice.stdout).toMatch(
      new RegExp(
        `^run ${runId} was promoted at \\S+ \\(asked by olivia\\); nothing was done now`,
        'm',
      ),
    );
    expect(promoted.stdout).not.toContain('nothing was done now');
    const twiceJson = await client(['promote', runId, '--json'], secrets.olivia ?? '');
    expect(jsonOf<{ alreadyPromoted: boolean }>(twiceJson).alreadyPromoted).toBe(true);

    const dir = join(clientHome, 'export');
    const exported = await client(['export', runId, dir], secrets.olivia ?? '');
    expect(exported.code, exported.stderr).toBe(0);
    // Never over an earlier export, unless asked.
    const again = await client(['export', runId, dir], secrets.olivia ?? '');
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`${dir} holds an export already (patch.diff`);
    const replaced = await client(['export', runId, dir, '--force'], secrets.olivia ?? '');
    expect(replaced.code, replaced.stderr).toBe(0);
    // The installation's key, as GET /api/v1/keys publishes it: a trust anchor of its own.
    const installationKey = join(server.runtime.config.paths.keys, 'signing-key.pub.pem');
    const verify = (args: readonly string[] = []) =>
      runCli(['verify', join(dir, 'attestation.json'), '--key', installationKey, ...args], {
        home: clientHome,
      });
    const ok = await verify();
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/attestation\.json: verified\n/);
    // With only the key the export ships beside it, anyone could have signed: not "verified".
    const besideKey = await runCli(['verify', join(dir, 'attestation.json')], {
      home: clientHome,
    });
    expect(besideKey.code, besideKey.stdout + besideKey.stderr).toBe(2);
    expect(besideKey.stdout).toMatch(
      /attestation\.json: partly verified \(signed by the key beside the attestation, which whoever wrote it could have made;/,
    );
    // Nor one planted as ./.aas/keys of the export, the default home of a verify run there.
    mkdirSync(join(dir, '.aas', 'keys'), { recursive: true });
    copyFileSync(
      join(dir, 'signing-key.pub.pem'),
      join(dir, '.aas', 'keys', 'signing-key.pub.pem'),
    );
    const planted = await runCli(['verify', 'attestation.json'], {
      home: clientHome,
      cwd: dir,
      env: { AAS_HOME: '' },
    });
    expect(planted.code, planted.stdout + planted.stderr).toBe(2);
    expect(planted.stdout).toMatch(
      /attestation\.json: partly verified \(signed by the key of the default home here \(\.\/\.aas\)/,
    );
    expect(ok.stdout).toMatch(/ok {3}chain_link/);
    expect(ok.stdout).toMatch(/approved by abe/);

    // Any changed byte of the attestation, the patch or the history fails verification.
    const attestation = readFileSync(join(dir, 'attestation.json'), 'utf8');
    const envelope = JSON.parse(attestation) as { payload: string };
    const payload = Buffer.from(envelope.payload, 'base64');
    const at = payload.length - 5;
    payload.writeUInt8(payload.readUInt8(at) ^ 1, at);
    writeFileSync(
      join(dir, 'tampered.json'),
      JSON.stringify({ ...envelope, payload: payload.toString('base64') }),
    );
    const tampered = await runCli(
      ['verify', join(dir, 'tampered.json'), '--key', installationKey],
      { home: clientHome },
    );
    expect(tampered.code).toBe(6);
    expect(tampered.stdout).toMatch(/FAIL signature/);

    const patchFile = join(dir, 'patch.diff');
    writeFileSync(join(dir, 'other.diff'), readFileSync(patchFile, 'utf8').replace('42', '43'));
    const badPatch = await verify(['--patch', join(dir, 'other.diff')]);
    expect(badPatch.code).toBe(6);
    expect(badPatch.stdout).toMatch(/FAIL patch_digest/);

    const events = readFileSync(join(dir, 'events.ndjson'), 'utf8').split('\n');
    events[1] = (events[1] ?? '').replace('"answer 42"', '"answer 43"');
    writeFileSync(join(dir, 'edited.ndjson'), events.join('\n'));
    const badEvents = await verify(['--events', join(dir, 'edited.ndjson')]);
    expect(badEvents.code).toBe(6);
    expect(badEvents.stdout).toMatch(/FAIL chain_link/);

    // Files missing from the export: what could not be checked is said, not a plain "verified".
    const bare = makeTempDir('aas-promo-bare-');
    cleanup.push(bare);
    writeFileSync(join(bare, 'attestation.json'), attestation);
    writeFileSync(
      join(bare, 'signing-key.pub.pem'),
      readFileSync(join(dir, 'signing-key.pub.pem')),
    );
    const partly = await runCli(['verify', join(bare, 'attestation.json')], { home: clientHome });
    // Not verified either: a script's `aas verify … && deploy` must not go ahead.
    expect(partly.code, partly.stdout + partly.stderr).toBe(2);
    expect(partly.stdout).toMatch(
      /attestation\.json: partly verified \(not checked: patch_digest, chain_link, history;/,
    );
  });

  it('a rejection after an approval: the listing says the run is not promoted, whatever counts', async () => {
    const submitted = await client(
      ['run', '--repo', repo, '--task', 'answer 42', '--agent-cmd', FIX, '--json'],
      secrets.olivia ?? '',
    );
    expect(submitted.code, submitted.stderr).toBe(0);
    const runId = jsonOf<{ runId: string }>(submitted).runId;
    expect((await client(['approve', runId], secrets.abe ?? '')).code).toBe(0);
    const rejected = await client(['approve', runId, '--reject', '--note', 'no'], ADMIN);
    expect(rejected.code, rejected.stderr).toBe(0);
    const listed = await client(['approvals', '--run', runId], secrets.olivia ?? '');
    expect(listed.stdout).toMatch(
      /rejected by admin \(apr_[0-9a-f]{24}\): final, the run is not promoted/,
    );
  });

  it('locally: the OS user who requested a run cannot approve it', async () => {
    const home = makeTempDir('aas-promo-local-');
    cleanup.push(home);
    const ran = await runCli(['run', '--repo', repo, '--task', 'x', '--agent-cmd', FIX, '--json'], {
      home,
    });
    expect(ran.code, ran.stderr).toBe(0);
    const runId = jsonOf<{ runId: string }>(ran).runId;
    const self = await runCli(['approve', runId], { home });
    expect(self.code).toBe(3);
    expect(self.stderr).toMatch(
      /^error \[APPROVAL_SELF\]: user:\S+ cannot decide on run .*: it requested the run/m,
    );
    const bad = await runCli(['approve', 'nope'], { home });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/is not a run id/);
    const missing = await runCli(['verify', join(home, 'none.json')], { home });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*none\.json \(ENOENT\)/);
    // Some other JSON file: the wrong file, said before any key is looked for.
    writeFileSync(join(home, 'other.json'), '{}');
    const other = await runCli(['verify', join(home, 'other.json')], { home });
    expect(other.code).toBe(2);
    expect(other.stderr).toContain(
      `error [INVALID_ARGUMENT]: ${join(home, 'other.json')}: FILE: this is not an attestation`,
    );
  });
});
