import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The service's metrics. Labels are route, outcome, status and risk level only: never a patient id
 * (docs/security.md). `error_rate` is a gauge of the error share over the last minute, kept next to the
 * counters so a dashboard without PromQL (and the PRD's wording) has it; Prometheus rules should use
 * the rate of the counters.
 */
export class ApiMetrics {
  readonly registry: Registry;
  readonly latency: Histogram<'route'>;
  readonly predictions: Counter<'risk_level'>;
  readonly requests: Counter<'route' | 'status'>;
  readonly errors: Counter<'route' | 'code'>;
  readonly errorRate: Gauge;
  readonly auditBatch: Histogram;
  readonly sseClients: Gauge;
  readonly #window: Array<{ at: number; total: number; errors: number }> = [];
  readonly #now: () => number;

  constructor(opts: { registry?: Registry; now?: () => number; defaultMetrics?: boolean } = {}) {
    this.registry = opts.registry ?? new Registry();
    this.#now = opts.now ?? Date.now;
    const registers = [this.registry];
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'aepred_' });
    this.latency = new Histogram({
      name: 'aepred_prediction_latency_seconds',
      help: 'Time from request to response for prediction routes, audit write included',
      labelNames: ['route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2.5],
      registers,
    });
    this.predictions = new Counter({
      name: 'aepred_prediction_count_total',
      help: 'Predictions served, by risk level',
      labelNames: ['risk_level'],
      registers,
    });
    this.requests = new Counter({
      name: 'aepred_http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['route', 'status'],
      registers,
    });
    this.errors = new Counter({
      name: 'aepred_http_errors_total',
      help: 'HTTP error answers by route and error code',
      labelNames: ['route', 'code'],
      registers,
    });
    const window = this.#window;
    const now = this.#now;
    this.errorRate = new Gauge({
      name: 'aepred_error_rate',
      help: 'Share of requests answered with a 5xx over the last 60 s',
      registers,
      collect() {
        const cut = now() - 60_000;
        let total = 0;
        let errors = 0;
        for (const b of window) {
          if (b.at < cut) continue;
          total += b.total;
          errors += b.errors;
        }
        this.set(total === 0 ? 0 : errors / total);
      },
    });
    this.auditBatch = new Histogram({
      name: 'aepred_audit_group_commit_rows',
      help: 'Audit rows written per commit',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500],
      registers,
    });
    this.sseClients = new Gauge({
      name: 'aepred_alert_stream_clients',
      help: 'Open alert streams',
      registers,
    });
  }

  /** Counts one answered request into the one-minute error window (1 s buckets). */
  observe(route: string, status: number): void {
    this.requests.inc({ route, status: String(status) });
    const at = Math.floor(this.#now() / 1000) * 1000;
    let last = this.#window.at(-1);
    if (last === undefined || last.at !== at) {
      last = { at, total: 0, errors: 0 };
      this.#window.push(last);
      while (this.#window.length > 61) this.#window.shift();
    }
    last.total += 1;
    if (status >= 500) last.errors += 1;
  }
}
