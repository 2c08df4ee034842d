import type { StoredEvent } from '../api';
import { shortDuration } from '../format';

interface Phase {
  readonly title: string;
  readonly events: StoredEvent[];
}

/** Which phase an event belongs to; attempts are numbered by the events that open them. */
function phaseTitle(event: StoredEvent, attempt: number): string {
  const type = event.type;
  if (type === 'session.created' || type === 'run.queued') return 'Submitted';
  if (type.startsWith('approval.')) return 'Approval';
  if (type.startsWith('promotion.')) return 'Promotion';
  if (
    type === 'run.started' ||
    type === 'run.base.resolved' ||
    type === 'policy.resolved' ||
    type.startsWith('sandbox.') ||
    type === 'run.requeued' ||
    type === 'run.interrupted' ||
    type === 'lease.fenced'
  ) {
    return attempt === 0 ? 'Preparing' : `Attempt ${attempt}`;
  }
  if (type === 'run.completed' || type === 'run.cancel.requested') return 'Outcome';
  return attempt === 0 ? 'Preparing' : `Attempt ${attempt}`;
}

function group(events: readonly StoredEvent[]): Phase[] {
  const phases: Phase[] = [];
  let attempt = 0;
  for (const event of events) {
    if (event.type === 'run.attempt.started') {
      const data = event.data as { attempt?: number };
      attempt = data.attempt ?? attempt + 1;
    }
    const title = phaseTitle(event, attempt);
    const last = phases.at(-1);
    if (last?.title === title) last.events.push(event);
    else phases.push({ title, events: [event] });
  }
  return phases;
}

/** One line that says what happened, from the event's own data. */
export function summarise(event: StoredEvent): string {
  const data = (event.data ?? {}) as Record<string, unknown>;
  const text = (value: unknown) => (typeof value === 'string' ? value : '');
  switch (event.type) {
    case 'session.created':
      return `${text(data.requestedBy)} asked ${text(data.agent)}: ${text(data.task)}`;
    case 'run.base.resolved':
      return `base ${text(data.baseRef)} at ${text(data.baseCommit).slice(0, 12)}`;
    case 'sandbox.selected':
      return `sandbox ${text(data.backend)}${data.isolating ? ' (isolating)' : ''}`;
    case 'agent.event': {
      const inner = text(data.type).replace(/^agent\./, '');
      return `${inner}${data.message ? `: ${text(data.message)}` : ''}`;
    }
    case 'agent.usage': {
      // A failed call costs nothing and shows no tokens: its status says why.
      const status = Number(data.status);
      const failed = status >= 400 ? `, HTTP ${status}` : '';
      return `${text(data.model)}: ${String(data.inputTokens ?? 0)} in / ${String(data.outputTokens ?? 0)} out tokens, $${Number(data.costUsd ?? 0).toFixed(4)}${failed}${data.refused ? ` (refused: ${text(data.refused)})` : ''}`;
    }
    case 'patch.computed': {
      const files = Array.isArray(data.files) ? data.files.length : 0;
      return `patch of ${files} file${files === 1 ? '' : 's'}`;
    }
    case 'gate.passed':
    case 'gate.failed':
      return `${text(data.gate)}: ${text(data.code)} — ${text(data.detail)}`;
    case 'run.attempt.finished':
    case 'run.completed':
      return `${text(data.status)} (${text(data.code ?? data.reasonCode)}) ${text(data.detail)}`;
    case 'approval.recorded':
      return `${text(data.decision)} by ${text(data.decidedBy)}${data.note ? `: ${text(data.note)}` : ''}`;
    case 'promotion.completed':
      return `${text(data.mode)} ${text(data.branch ?? '')} ${text(data.prUrl ?? '')}`.trim();
    default:
      return text(data.detail) || text(data.message) || '';
  }
}

export function Timeline({
  events,
  finished,
}: {
  events: readonly StoredEvent[];
  /** Whether the run has ended: until then its last phase is still under way, not done. */
  finished: boolean;
}) {
  if (events.length === 0) return <p className="loading">Waiting for the first event…</p>;
  const origin = Date.parse(events[0]?.at ?? '');
  const phases = group(events);
  return (
    <ol className="timeline">
      {phases.map((phase, index) => {
        const ongoing = !finished && index === phases.length - 1;
        const first = Date.parse(phase.events[0]?.at ?? '');
        const last = Date.parse(phase.events.at(-1)?.at ?? '');
        return (
          <li key={`${phase.title}-${phase.events[0]?.seq}`} className="phase">
            <h3>
              {phase.title}
              <span className="phase-time">
                +{shortDuration(first - origin)} ·{' '}
                {ongoing ? 'under way' : `took ${shortDuration(last - first)}`}
              </span>
            </h3>
            <ol>
              {phase.events.map((event) => (
                <li key={event.seq} className={`event event-${event.type.replaceAll('.', '-')}`}>
                  <span className="seq">#{event.seq}</span>
                  <time dateTime={event.at} title={event.at}>
                    +{((Date.parse(event.at) - origin) / 1000).toFixed(1)} s
                  </time>
                  <span className="type">{event.type}</span>
                  <span className="actor">{event.actor}</span>
                  <span className="summary">{summarise(event)}</span>
                </li>
              ))}
            </ol>
          </li>
        );
      })}
    </ol>
  );
}
