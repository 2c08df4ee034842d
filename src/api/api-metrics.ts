import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EventBus } from '../sessions/index.js';
import { RUN_STATUSES, type Store } from '../store/index.js';

/** Which limit refused an event stream (StreamSlots). */
export const STREAM_LIMITS = ['token', 'server'] as const;

/**
 * Prometheus metrics of one server. A registry per server, never prom-client's global one, so
 * two servers in one process (tests, a restart in place) never count into each other.
 */
export class ApiMetrics {
  readonly registry = new Registry();
  private readonly runs = new Gauge({
    name: 'aas_runs',
    help: 'Runs in each status, read from the database at scrape time',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  private readonly queueDepth = new Gauge({
    name: 'aas_queue_depth',
    help: 'Runs waiting in the queue (status queued), read at scrape time',
    registers: [this.registry],
  });
  private readonly leaseExpiries = new Counter({
    name: 'aas_lease_expiries_total',
    help: 'Leases and reservations that expired because their holder stopped (run.interrupted events seen by this server, graceful give-backs on shutdown excluded)',
    registers: [this.registry],
  });
  private readonly gateVerdicts = new Counter({
    name: 'aas_gate_verdicts_total',
    help: 'Gate verdicts seen by this server, by verdict',
    labelNames: ['verdict'] as const,
    registers: [this.registry],
  });
  private readonly modelCalls = new Counter({
    name: 'aas_model_calls_total',
    help: 'Model calls through the gateway of runs this server executed or saw recorded, by provider, model and the status the agent got (refusals included)',
    labelNames: ['provider', 'model', 'status'] as const,
    registers: [this.registry],
  });
  private readonly modelTokens = new Counter({
    name: 'aas_model_tokens_total',
    help: 'Model tokens of calls through the gateway, by provider and direction (input includes cached_input)',
    labelNames: ['provider', 'direction'] as const,
    registers: [this.registry],
  });
  private readonly modelCostUsd = new Counter({
    name: 'aas_model_cost_usd_total',
    help: 'US dollars of model calls through the gateway, from the price table, by provider',
    labelNames: ['provider'] as const,
    registers: [this.registry],
  });
  private readonly budgetsExceeded = new Counter({
    name: 'aas_budget_exceeded_total',
    help: 'Model budgets found spent (an agent stopped, or an attempt not started), by scope: run, session or repository-day',
    labelNames: ['scope'] as const,
    registers: [this.registry],
  });
  /** Model names come from agents' requests: past this many, new ones count as `other`. */
  private readonly modelLabels = new Set<string>();
  private readonly requestDuration = new Histogram({
    name: 'aas_http_request_duration_seconds',
    help: 'HTTP request durations by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  private readonly streamsRefused = new Counter({
    name: 'aas_event_streams_refused_total',
    help: 'Event streams (SSE) refused with TOO_MANY_STREAMS, by the limit reached: token or server',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });
  private readonly eventStreams: Gauge = new Gauge({
    name: 'aas_event_streams',
    help: 'Event streams (SSE, both kinds) this server holds open, read at scrape time',
    registers: [this.registry],
    // Read when scraped, after construction: the field below is set by then.
    collect: () => this.eventStreams.set(this.openStreams()),
  });
  private readonly unsubscribe: () => void;

  /** `openStreams` is read at scrape time: the event streams (SSE) this server holds open. */
  constructor(
    private readonly store: Store,
    bus: EventBus,
    private readonly openStreams: () => number = () => 0,
  ) {
    for (const limit of STREAM_LIMITS) this.streamsRefused.inc({ limit }, 0);
    // Both verdicts are present from the first scrape, so a rate over them is defined at once.
    this.gateVerdicts.inc({ verdict: 'passed' }, 0);
    this.gateVerdicts.inc({ verdict: 'failed' }, 0);
    for (const scope of BUDGET_SCOPES) this.budgetsExceeded.inc({ scope }, 0);
    // Every run whose events this process publishes is counted: embedded workers and `aas run`
    // share the server's bus, and the bus carries committed events only. Events relayed from
    // other replicas are theirs to count: summed over replicas, each event counts once.
    this.unsubscribe = bus.onAny((event, origin) => {
      if (origin !== 'local') return;
      switch (event.type) {
        // Only run.interrupted: the queue records every interruption with exactly one, and a
        // requeue adds run.requeued to the same write (src/queue/run-queue.ts), so counting
        // both would count a requeued expiry twice.
        case 'run.interrupted':
          if (interruptionCause(event.data) !== 'released') this.leaseExpiries.inc();
          break;
        case 'gate.passed':
          this.gateVerdicts.inc({ verdict: 'passed' });
          break;
        case 'gate.failed':
          this.gateVerdicts.inc({ verdict: 'failed' });
          break;
        case 'agent.usage':
          this.countModelCall(event.data);
          break;
        case 'budget.exceeded':
          this.budgetsExceeded.inc({ scope: budgetScope(event.data) });
          break;
        default:
          break;
      }
    });
  }

  private countModelCall(data: unknown): void {
    const usage = recordOf(data);
    const provider = label(usage.provider, 'unknown');
    let model = label(usage.model, 'unknown');
    if (!this.modelLabels.has(model)) {
      if (this.modelLabels.size >= MAX_MODEL_LABELS) model = 'other';
      else this.modelLabels.add(model);
    }
    const status = typeof usage.status === 'number' ? String(usage.status) : 'unknown';
    this.modelCalls.inc({ provider, model, status });
    const tokens: readonly [direction: string, value: unknown][] = [
      ['input', usage.inputTokens],
      ['output', usage.outputTokens],
      ['cached_input', usage.cachedInputTokens],
    ];
    for (const [direction, value] of tokens) {
      this.modelTokens.inc({ provider, direction }, countOf(value));
    }
    this.modelCostUsd.inc({ provider }, countOf(usage.costUsd));
  }

  /** A stream refused because `limit` was reached (StreamSlots). */
  streamRefused(limit: (typeof STREAM_LIMITS)[number]): void {
    this.streamsRefused.inc({ limit });
  }

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.requestDuration.observe({ method, route, status: String(status) }, seconds);
  }

  /** The exposition text; run gauges are refreshed from the store first. */
  async scrape(): Promise<{ contentType: string; text: string }> {
    const counts = await this.store.countRunsByStatus();
    for (const status of RUN_STATUSES) this.runs.set({ status }, counts[status] ?? 0);
    this.queueDepth.set(counts.queued ?? 0);
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }

  close(): void {
    this.unsubscribe();
  }
}

const BUDGET_SCOPES = ['run', 'session', 'repository-day'] as const;
const MAX_MODEL_LABELS = 100;
const MAX_LABEL_CHARS = 100;

function recordOf(data: unknown): Record<string, unknown> {
  return typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {};
}

/** A label value from event data; bounded, since an agent chose the model name. */
function label(value: unknown, fallback: string): string {
  return typeof value === 'string' && value !== '' ? value.slice(0, MAX_LABEL_CHARS) : fallback;
}

/** Counters only go up: anything but a finite number ≥ 0 adds nothing. */
function countOf(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}

/** Events recorded before budgets had scopes were always the run's. */
function budgetScope(data: unknown): string {
  const scope = recordOf(data).scope;
  return BUDGET_SCOPES.find((known) => known === scope) ?? 'run';
}

/** The `cause` of a run.interrupted event; events recorded before the field counted as expiries. */
function interruptionCause(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const cause = (data as { cause?: unknown }).cause;
  return typeof cause === 'string' ? cause : undefined;
}
