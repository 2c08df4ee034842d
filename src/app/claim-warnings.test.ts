import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IdPrefix, ManualClock, newId } from '../kernel/index.js';
import { parseJobSpec } from '../runner/index.js';
import { openStore, type Store, type WorkerMatch } from '../store/index.js';
import { claimWarnings } from './claim-warnings.js';

/**
 * A job is queued whether or not a worker can take it; the submitter is told when none this
 * server knows of could (embedded loops, remote workers, unused enrolments), on a real SQLite file.
 */
describe('claimWarnings', () => {
  const dirs: string[] = [];
  const stores: Store[] = [];
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  async function freshStore(): Promise<Store> {
    const dir = mkdtempSync(join(tmpdir(), 'aas-claim-warnings-'));
    dirs.push(dir);
    const store = await openStore({ sqlitePath: join(dir, 'aas.db') });
    stores.push(store);
    return store;
  }

  const clock = new ManualClock();
  let secretCount = 0;

  async function enrol(store: Store, name: string, labels: string[], ttlMs = 3_600_000) {
    secretCount += 1;
    const secretSha256 = secretCount.toString(16).padStart(64, '0');
    await store.createWorkerEnrolment({
      id: newId(IdPrefix.enrolment, clock.nowMs()),
      name,
      labels,
      secretSha256,
      createdAt: clock.nowIso(),
      createdBy: 'admin',
      expiresAt: new Date(clock.nowMs() + ttlMs).toISOString(),
    });
    return secretSha256;
  }

  async function register(store: Store, name: string, labels: string[], agents: string[]) {
    const enrolmentSecretSha256 = await enrol(store, name, labels);
    return store.registerWorker({
      enrolmentSecretSha256,
      nowIso: clock.nowIso(),
      workerId: newId(IdPrefix.worker, clock.nowMs()),
      credentialSha256: `c${enrolmentSecretSha256.slice(1)}`,
      capabilities: { agents, sandbox: ['bwrap'] },
    });
  }

  const job = (fields: Record<string, unknown>) =>
    parseJobSpec({ task: 't', repo: '/r', agent: 'codex', ...fields });
  const check = (store: Store, embedded: WorkerMatch[], fields: Record<string, unknown>) =>
    claimWarnings({ store, embedded, nowIso: clock.nowIso() }, job(fields));

  it("says nothing when this server's own loops can take the run", async () => {
    const store = await freshStore();
    const embedded = [{ offers: ['label:linux', 'worker:slot-1'], anyAgent: true }];
    expect(await check(store, embedded, {})).toEqual([]);
    expect(await check(store, embedded, { requireLabels: ['linux'] })).toEqual([]);
    const [warning] = await check(store, embedded, { requireLabels: ['linux', 'gpu'] });
    expect(warning).toMatchObject({ field: 'requireLabels' });
    expect(warning?.message).toContain('(label:linux, label:gpu, agent:codex)');
  });

  it('looks for one remote worker that offers every label and agent the run needs', async () => {
    const store = await freshStore();
    await register(store, 'gpu-box', ['gpu'], ['claude-code']);
    await register(store, 'codex-box', ['linux'], ['codex']);
    // Labels from one worker and the agent from another are no match.
    const [split] = await check(store, [], { requireLabels: ['gpu'] });
    expect(split).toMatchObject({ field: 'requireLabels' });
    expect(await check(store, [], { requireLabels: ['gpu'], agent: 'claude-code' })).toEqual([]);
    expect(await check(store, [], { requireLabels: ['linux'] })).toEqual([]);
    // Only the named worker counts for a pin.
    expect(await check(store, [], { worker: 'codex-box' })).toEqual([]);
    const [pinned] = await check(store, [], { worker: 'gpu-box' });
    expect(pinned).toMatchObject({ field: 'worker' });
    // With no worker at all, even a job without requirements is told.
    const [none] = await check(await freshStore(), [], {});
    expect(none).toMatchObject({ field: 'agent' });
  });

  it('passes over revoked workers, and counts unused enrolments whatever their agents', async () => {
    const store = await freshStore();
    await register(store, 'gone', ['gpu'], ['codex']);
    await store.revokeWorker('gone', clock.nowIso());
    expect(await check(store, [], { requireLabels: ['gpu'] })).toHaveLength(1);
    await enrol(store, 'soon', ['gpu']);
    expect(await check(store, [], { requireLabels: ['gpu'] })).toEqual([]);
    expect(await check(store, [], { worker: 'soon' })).toEqual([]);
    // An expired enrolment registers no one.
    const late = await freshStore();
    await enrol(late, 'never', ['gpu'], 1_000);
    clock.advance(2_000);
    expect(await check(late, [], { requireLabels: ['gpu'] })).toHaveLength(1);
  });
});
