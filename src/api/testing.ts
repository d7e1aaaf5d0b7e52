import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { MemoryAuditLog } from '../audit/log.js';
import type { ApiParams } from '../config/params.js';
import { Authenticator, MemoryApiKeyStore } from '../security/apikeys.js';
import type { Role } from '../security/roles.js';
import { AlertHub } from './alert-hub.js';
import { buildApp } from './app.js';
import type {
  Deployment,
  Prediction,
  PredictionBackend,
  RetrainReason,
  RetrainTicket,
  RiskAlert,
  RiskLevel,
  ScorePoint,
} from './backend.js';
import { StaticEnrollmentLookup } from './enrollment.js';
import { apiError } from './errors.js';
import { ApiMetrics } from './metrics.js';
import type { Probe } from './probes.js';

/**
 * A stand-in backend for UNIT tests of the HTTP layer only: deterministic scores from the patient id
 * and time. Integration and end-to-end tests use the real actors (actors-adapter.ts).
 */
export class FakeBackend implements PredictionBackend {
  modelLoaded = true;
  failPredict: Error | undefined;
  readonly patientsById: Map<string, { siteId: string }>;
  readonly alerts = new Map<string, RiskAlert>();
  readonly retrains: Array<{ reason: RetrainReason; detail: string; by: string }> = [];
  #listeners = new Set<(a: RiskAlert) => void>();
  #deployment: Deployment = {
    production: '1',
    staging: '2',
    canaryShare: 0,
    previous: null,
    versions: [
      { version: '1', aliases: ['production'] },
      { version: '2', aliases: ['staging'] },
    ],
  };

  constructor(patients: Array<[string, string]>) {
    this.patientsById = new Map(patients.map(([id, site]) => [id, { siteId: site }]));
  }

  static score(patientId: string, t: number): number {
    const h = createHash('sha256')
      .update(`${patientId}@${Math.floor(t / 3_600_000)}`)
      .digest();
    return (h.readUInt16BE(0) % 1000) / 1000;
  }

  static level(p: number): RiskLevel {
    return p >= 0.7 ? 'high' : p >= 0.3 ? 'medium' : 'low';
  }

  async predict(patientId: string, asOfMs: number): Promise<Prediction> {
    if (this.failPredict !== undefined) throw this.failPredict;
    if (!this.modelLoaded || this.#deployment.production === null) throw apiError('AEP_API_NO_MODEL');
    const probability = FakeBackend.score(patientId, asOfMs);
    return {
      patientId,
      probability,
      riskLevel: FakeBackend.level(probability),
      asOfMs,
      modelVersion: this.#deployment.production,
      topRiskFactors: [
        { feature: 'heart_rate_mean_6h', attribution: 0.12, value: 104 },
        { feature: 'creatinine_delta_from_baseline', attribution: 0.08, value: 0.4 },
        { feature: 'sbp_min_6h', attribution: 0.03, value: null },
      ],
      featureSetHash: 'fs-test',
      featureVectorHash: createHash('sha256').update(`${patientId}${asOfMs}`).digest('hex'),
      sourceOffsets: { 'patient-vitals:0': '41', 'lab-results:2': '7' },
    };
  }

  async predictBatch(
    rs: ReadonlyArray<{ patientId: string; asOfMs: number }>,
  ): Promise<Array<Prediction | Error>> {
    return Promise.all(rs.map((r) => this.predict(r.patientId, r.asOfMs).catch((e: unknown) => e as Error)));
  }

  async health() {
    return {
      model: {
        ready: this.modelLoaded,
        ...(this.modelLoaded ? { version: '1' } : { detail: 'no model loaded' }),
      },
    };
  }

  async deployment(): Promise<Deployment> {
    return this.#deployment;
  }

  async promote(version: string | undefined): Promise<Deployment> {
    const v = version ?? this.#deployment.staging;
    if (v === null) throw apiError('AEP_API_MODEL_CONFLICT', { reason: 'no staging model to promote' });
    if (!this.#deployment.versions.some((x) => x.version === v))
      throw apiError('AEP_API_UNKNOWN_MODEL_VERSION', { version: v });
    this.#deployment = {
      ...this.#deployment,
      previous: this.#deployment.production,
      production: v,
      staging: null,
      canaryShare: 0,
    };
    return this.#deployment;
  }

  async rollback(): Promise<Deployment> {
    const prev = this.#deployment.previous;
    if (prev === null)
      throw apiError('AEP_API_MODEL_CONFLICT', { reason: 'no previous version to roll back to' });
    this.#deployment = { ...this.#deployment, production: prev, previous: this.#deployment.production };
    return this.#deployment;
  }

  async setCanary(version: string, share: number): Promise<Deployment> {
    if (!this.#deployment.versions.some((x) => x.version === version)) {
      throw apiError('AEP_API_UNKNOWN_MODEL_VERSION', { version });
    }
    this.#deployment = { ...this.#deployment, staging: version, canaryShare: share };
    return this.#deployment;
  }

  async retrain(reason: RetrainReason, detail: string, by: string): Promise<RetrainTicket> {
    this.retrains.push({ reason, detail, by });
    return {
      id: `rt-${this.retrains.length}`,
      accepted: this.retrains.length === 1,
      ...(this.retrains.length > 1 ? { detail: 'deduplicated' } : {}),
    };
  }

  async patients(filter: { siteId?: string; limit: number }) {
    const now = Date.now();
    return [...this.patientsById]
      .filter(([, p]) => filter.siteId === undefined || p.siteId === filter.siteId)
      .map(([id, p]) => {
        const probability = FakeBackend.score(id, now);
        return {
          patientId: id,
          siteId: p.siteId,
          probability,
          riskLevel: FakeBackend.level(probability),
          atMs: now,
          modelVersion: '1',
        };
      })
      .sort((a, b) => b.probability - a.probability)
      .slice(0, filter.limit);
  }

  async history(patientId: string, limit: number): Promise<ScorePoint[]> {
    const now = Date.now();
    return Array.from({ length: Math.min(limit, 24) }, (_, i) => {
      const atMs = now - (23 - i) * 3_600_000;
      const probability = FakeBackend.score(patientId, atMs);
      return { atMs, probability, riskLevel: FakeBackend.level(probability), modelVersion: '1' };
    });
  }

  async openAlerts(filter: { siteId?: string; limit: number }): Promise<RiskAlert[]> {
    return [...this.alerts.values()]
      .filter(
        (a) => a.acknowledgedBy === undefined && (filter.siteId === undefined || a.siteId === filter.siteId),
      )
      .sort((a, b) => b.atMs - a.atMs)
      .slice(0, filter.limit);
  }

  subscribeAlerts(listener: (a: RiskAlert) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Test hook: raise an alert as an actor would. */
  raise(patientId: string, level: 'watch' | 'high', atMs: number): RiskAlert {
    const siteId = this.patientsById.get(patientId)?.siteId ?? 'unknown';
    const a: RiskAlert = {
      alertId: `${patientId}:${atMs}`,
      patientId,
      siteId,
      level,
      probability: level === 'high' ? 0.91 : 0.55,
      modelVersion: '1',
      atMs,
      topRiskFactors: [{ feature: 'heart_rate_mean_6h', attribution: 0.2, value: 121 }],
    };
    this.alerts.set(a.alertId, a);
    for (const l of this.#listeners) l(a);
    return a;
  }

  async acknowledge(alertId: string, by: string): Promise<RiskAlert> {
    const a = this.alerts.get(alertId);
    if (a === undefined)
      throw apiError('AEP_API_UNKNOWN_ALERT', { alert_id: alertId }, { field: 'alert_id' });
    if (a.acknowledgedBy !== undefined)
      throw apiError('AEP_API_ALERT_ACKNOWLEDGED', { alert_id: alertId }, { field: 'alert_id' });
    const acked = { ...a, acknowledgedBy: by, acknowledgedAtMs: Date.now() };
    this.alerts.set(alertId, acked);
    return acked;
  }
}

export const TEST_API_PARAMS: ApiParams = {
  batch_max: 1000,
  body_limit_bytes: 262_144,
  max_future_skew_seconds: 60,
  request_timeout_seconds: 2,
  rate_limit: { max: 100_000, window_seconds: 1 },
  sse_buffer: 50,
  sse_heartbeat_seconds: 15,
  api_key_cache_seconds: 30,
  audit: { group_commit_max_rows: 100, digest_interval_seconds: 300 },
};

export interface TestService {
  app: FastifyInstance;
  backend: FakeBackend;
  audit: MemoryAuditLog;
  keys: Record<Role, string>;
  keyStore: MemoryApiKeyStore;
  hub: AlertHub;
  probes: Map<string, boolean>;
}

/** The real app (every hook and route) over the fake backend, in-memory audit and keys. */
export async function testService(
  opts: { api?: Partial<ApiParams>; patients?: Array<[string, string]>; enrolledAtMs?: number } = {},
): Promise<TestService> {
  const patients = opts.patients ?? [
    ['P-001', 'S01'],
    ['P-002', 'S01'],
    ['P-003', 'S02'],
  ];
  const backend = new FakeBackend(patients);
  const enrolledAtMs = opts.enrolledAtMs ?? Date.parse('2024-01-01T00:00:00Z');
  const enrollment = new StaticEnrollmentLookup(
    patients.map(([id, site]) => [id, { siteId: site, enrolledAtMs }]),
  );
  const keyStore = new MemoryApiKeyStore();
  const keys = {
    reader: keyStore.add('reader', 'reader'),
    coordinator: keyStore.add('coord', 'coordinator'),
    operator: keyStore.add('ops', 'operator'),
    admin: keyStore.add('admin', 'admin'),
  };
  const probeState = new Map([
    ['postgres', true],
    ['kafka', true],
    ['redis', true],
  ]);
  const probes: Probe[] = [...probeState.keys()].map((name) => ({
    name,
    check: async () => {
      if (probeState.get(name) !== true) throw new Error('connection refused');
    },
  }));
  const audit = new MemoryAuditLog();
  const hub = new AlertHub({ capacity: opts.api?.sse_buffer ?? TEST_API_PARAMS.sse_buffer, epoch: 'test' });
  const app = await buildApp(
    {
      backend,
      enrollment,
      audit,
      auth: new Authenticator(keyStore, { cacheMs: 0 }),
      probes,
      readinessProbes: ['postgres'],
      metrics: new ApiMetrics({ defaultMetrics: true }),
      hub,
      now: Date.now,
    },
    { api: { ...TEST_API_PARAMS, ...opts.api }, logLevel: 'silent', trustProxy: false, probeTimeoutMs: 200 },
  );
  return { app, backend, audit, keys, keyStore, hub, probes: probeState };
}
