import { IdPrefix, newId } from '../src/kernel/index.js';
import type { NewEvent, Store } from '../src/store/index.js';

export const BENCH_ACTOR = 'runner:bench';

/** A fresh session (with its queued run and two opening events) to append to. */
export async function createBenchSession(
  store: Store,
): Promise<{ sessionId: string; runId: string }> {
  const nowMs = Date.now();
  const at = new Date(nowMs).toISOString();
  const sessionId = newId(IdPrefix.session, nowMs);
  const runId = newId(IdPrefix.run, nowMs);
  const jobSpec = {
    task: 'bench: append throughput',
    repo: '/srv/repos/bench',
    agent: 'mock',
    fallbackAgents: [],
    validators: [],
    promotion: { mode: 'patch' },
    retries: 0,
    labels: ['bench'],
    allowDirtyBase: false,
    keepWorkspace: false,
  };
  await store.createSession({
    session: {
      id: sessionId,
      createdAt: at,
      task: jobSpec.task,
      repo: jobSpec.repo,
      agent: jobSpec.agent,
      requestedBy: 'user:bench',
      labels: jobSpec.labels,
    },
    run: { id: runId, createdAt: at, jobSpec },
    events: [
      {
        type: 'session.created',
        at,
        actor: 'user:bench',
        data: {
          task: jobSpec.task,
          repo: jobSpec.repo,
          agent: jobSpec.agent,
          requestedBy: 'user:bench',
          labels: jobSpec.labels,
        },
      },
      { type: 'run.queued', at, actor: 'user:bench', data: { runId, jobSpec } },
    ],
  });
  return { sessionId, runId };
}

/** The payload of an `agent.event` as a real agent's tool call produces it: ~400 bytes of JSON. */
export function agentEventData(runId: string, index: number): unknown {
  const file = `src/feature-${index % 40}/handler-${index % 97}.ts`;
  return {
    runId,
    attempt: 1,
    type: 'tool.result',
    message: `edited ${file} (+${index % 23} −${index % 7})`,
    data: {
      tool: 'apply_patch',
      path: file,
      linesAdded: index % 23,
      linesRemoved: index % 7,
      durationMs: 12 + (index % 50),
      tokens: { input: 1_200 + (index % 300), output: 80 + (index % 40) },
      excerpt:
        'export function handler(request: Request): Response { return Response.json({ ok: true, id: request.url }); }',
    },
  };
}

export function agentEvents(runId: string, from: number, count: number): NewEvent[] {
  const at = new Date().toISOString();
  return Array.from({ length: count }, (_, offset) => ({
    type: 'agent.event',
    at,
    actor: BENCH_ACTOR,
    data: agentEventData(runId, from + offset),
  }));
}

export function averageDataBytes(events: readonly NewEvent[]): number {
  if (events.length === 0) return 0;
  const bytes = events.reduce(
    (sum, event) => sum + Buffer.byteLength(JSON.stringify(event.data)),
    0,
  );
  return Math.round(bytes / events.length);
}
