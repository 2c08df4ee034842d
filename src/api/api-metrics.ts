import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EventBus } from '../sessions/index.js';
import { RUN_STATUSES, type Store } from '../store/index.js';

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
  private readonly requestDuration = new Histogram({
    name: 'aas_http_request_duration_seconds',
    help: 'HTTP request durations by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: Store,
    bus: EventBus,
  ) {
    // Both verdicts are present from the first scrape, so a rate over them is defined at once.
    this.gateVerdicts.inc({ verdict: 'passed' }, 0);
    this.gateVerdicts.inc({ verdict: 'failed' }, 0);
    this.unsubscribe = bus.onAny((event) => {
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
        default:
          break;
      }
    });
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

/** The `cause` of a run.interrupted event; events recorded before the field counted as expiries. */
function interruptionCause(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const cause = (data as { cause?: unknown }).cause;
  return typeof cause === 'string' ? cause : undefined;
}
