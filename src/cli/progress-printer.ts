import type { Writable } from 'node:stream';
import type { EventBus, StoredEvent } from '../sessions/index.js';
import { firstLine, formatMs, pad } from './format.js';
import { oneLine, terminalSafe } from './terminal-safe.js';

type Data = Record<string, unknown>;

/** Failed model calls shown one by one before the rest are summed up by `aas sessions show`. */
const MAX_FAILED_CALLS_SHOWN = 3;

/** Consumes one committed event; fed by the in-process bus or by a server's event stream. */
export type EventSink = (event: StoredEvent) => void;

/** Feeds the bus's events of one session (known once submitted) to a sink. */
function attachToSession(
  bus: EventBus,
  sessionIdRef: () => string | null,
  sink: EventSink,
): () => void {
  return bus.onAny((event: StoredEvent) => {
    if (event.sessionId === sessionIdRef()) sink(event);
  });
}

/**
 * Turns a run's events into phase lines a person can follow live: workspace, agent, each gate,
 * the decision. It reads only committed events, so what it prints is what history holds.
 */
export function attachProgressPrinter(
  bus: EventBus,
  stream: Writable,
  sessionIdRef: () => string | null,
): () => void {
  return attachToSession(bus, sessionIdRef, progressPrinter(stream));
}

/** The phase lines of `attachProgressPrinter`, for events from any source. */
export function progressPrinter(stream: Writable): EventSink {
  const out = { write: (text: string) => stream.write(terminalSafe(text)) };
  const line = (label: string, text: string, ms?: number) => {
    const body = `  ${pad(label, 10)}${text}`;
    out.write(ms === undefined ? `${body}\n` : `${pad(body, 78)} ${formatMs(ms)}\n`);
  };
  // A provider that refuses every call (a wrong key) shows at its first answers, not for each.
  let failedCallsShown = 0;
  return (event: StoredEvent) => {
    const data = (event.data ?? {}) as Data;
    const raw = (key: string) => String(data[key] ?? '');
    // One value, one line: a name with a newline in it cannot forge a line of this report.
    const str = (key: string) => oneLine(raw(key));
    switch (event.type) {
      case 'run.started':
        out.write(`run ${str('runId')} started\n`);
        break;
      case 'run.base.resolved':
        line(
          'base',
          `${str('baseCommit').slice(0, 12)} (${str('baseRef')}${data.snapshot ? ', snapshot of uncommitted changes' : ''})`,
        );
        break;
      case 'policy.resolved': {
        const layers = Array.isArray(data.layers)
          ? data.layers.map((l) => String((l as Data).name)).join(' → ')
          : '';
        line('policy', `${layers} (agent ${str('agentId')})`);
        break;
      }
      case 'sandbox.selected':
        line(
          'sandbox',
          `${str('backend')}${data.isolating ? '' : ' (no OS isolation)'}${processCapNote(data.limits)}`,
        );
        break;
      case 'run.fallback.started':
        out.write(
          `fallback to agent ${str('agentId')} after ${str('previousAgentId')}: ${firstLine(raw('reason'))}\n`,
        );
        break;
      case 'run.retry.scheduled':
        out.write(
          `retry: attempt ${str('nextAttempt')} gets feedback from ${Array.isArray(data.feedback) ? data.feedback.length : 0} failure(s)\n`,
        );
        break;
      case 'run.attempt.started':
        out.write(`attempt ${str('attempt')} · agent ${str('agentId')}\n`);
        break;
      case 'workspace.created':
        line(
          'workspace',
          `${data.strategy === undefined ? '' : `${str('strategy')} `}ready at ${str('dir')}`,
          Number(data.durationMs),
        );
        break;
      case 'network.refused':
        line(
          'network',
          `refused ${str('method')} ${str('host')}${data.port === null ? '' : `:${str('port')}`} (${str('phase')}): ${firstLine(raw('reason'), 50)}`,
        );
        break;
      case 'agent.finished': {
        const result = data.result as Data | null;
        const summary =
          result && typeof result.summary === 'string' ? `: ${firstLine(result.summary, 60)}` : '';
        line(
          'agent',
          data.ok ? `succeeded${summary}` : `${str('code')}: ${firstLine(raw('detail'), 60)}`,
          Number(data.durationMs),
        );
        break;
      }
      case 'patch.computed': {
        const stats = (data.stats ?? {}) as Data;
        const dropped = Array.isArray(data.runtimeDropped) ? data.runtimeDropped.length : 0;
        line(
          'patch',
          `${String(stats.filesChanged ?? 0)} file(s), +${String(stats.insertions ?? 0)} -${String(stats.deletions ?? 0)}${dropped ? `, ${dropped} runtime artifact(s) dropped` : ''}`,
          Number(data.durationMs),
        );
        break;
      }
      case 'gate.passed':
      case 'gate.failed':
        line(
          'gate',
          `${pad(str('gate'), 24)}${event.type === 'gate.passed' ? 'pass' : 'FAIL'}  ${firstLine(raw('detail'), 40)}`,
          Number(data.durationMs),
        );
        break;
      case 'run.attempt.finished':
        line('attempt', `${str('status')} (${str('code')})`, Number(data.durationMs));
        break;
      case 'agent.usage': {
        // The agent may carry on regardless; a failed call is said here, as it happens.
        const status = Number(data.status);
        if (!(status >= 400) || failedCallsShown > MAX_FAILED_CALLS_SHOWN) break;
        failedCallsShown += 1;
        line(
          'model',
          failedCallsShown > MAX_FAILED_CALLS_SHOWN
            ? 'further failed model calls are not shown here (aas sessions show counts them)'
            : `${str('provider')} ${data.model === null ? '' : `${str('model')} `}answered HTTP ${status}${data.refused ? ` (AAS refused it: ${firstLine(raw('refused'), 50)})` : ''}`,
        );
        break;
      }
      case 'budget.exceeded':
        line(
          'budget',
          `${firstLine(raw('detail'), 100)}${data.stage === 'before_attempt' ? `; attempt ${str('attempt')} not started` : '; agent stopped'}`,
        );
        break;
      // A queued run (on a server) can be given back and claimed again, or asked to stop.
      case 'run.requeued':
        out.write(
          `requeued: ${firstLine(raw('reason'), 200)}; claimable from ${str('notBefore')}\n`,
        );
        break;
      case 'run.cancel.requested':
        out.write(`cancel requested by ${str('by')}\n`);
        break;
      default:
        break;
    }
  };
}

/**
 * Warnings go to stderr whatever the output mode, so `--json` output stays parseable and a
 * run that lost its isolation is never silent.
 */
export function attachWarningPrinter(
  bus: EventBus,
  err: Writable,
  sessionIdRef: () => string | null,
): () => void {
  return attachToSession(bus, sessionIdRef, warningPrinter(err));
}

/** The warnings of `attachWarningPrinter`, for events from any source. */
export function warningPrinter(err: Writable): EventSink {
  return (event: StoredEvent) => {
    if (event.type !== 'sandbox.degraded') return;
    const data = (event.data ?? {}) as Data;
    err.write(
      `${oneLine(
        `warning: sandbox degraded, agent ${String(data.agentId ?? '')} runs without OS isolation: ${String(data.reason ?? '')}`,
      )}\n`,
    );
  };
}

/** Said on the sandbox line when this host cannot cap the number of processes or memory. */
function processCapNote(limits: unknown): string {
  if (typeof limits !== 'object' || limits === null) return '';
  const record = limits as Record<string, unknown>;
  const missing = [
    ...(record.processCap === 'none' ? ['process cap'] : []),
    ...(record.memory === 'none' ? ['memory limit'] : []),
  ];
  return missing.length === 0 ? '' : `; no ${missing.join(' or ')} on this host (see aas doctor)`;
}
