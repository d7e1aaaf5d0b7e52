import { createHash } from 'node:crypto';
import type { AlertChanged, PatientEvent, RiskScored } from '../actors/patient/protocol.js';
import { patientId as toPatientId } from '../actors/patient/protocol.js';
import type { ModelSupervisor } from '../supervisors/model/actor.js';
import type { PatientSupervisor } from '../supervisors/patient/actor.js';
import type {
  BackendHealth,
  Deployment,
  PatientSummary,
  Prediction,
  PredictionBackend,
  RetrainJobStatus,
  RetrainReason,
  RetrainTicket,
  RiskAlert,
  ScorePoint,
} from './backend.js';
import { apiError } from './errors.js';

/** Starts a retraining (the TrainingSupervisor of issue 9); absent, /retrain answers not accepted. */
export type RetrainHandler = (reason: RetrainReason, detail: string, by: string) => Promise<RetrainTicket>;

export interface ActorsBackendOptions {
  patients: PatientSupervisor;
  models: ModelSupervisor;
  /** A patient's site (the enrollment table); alerts are filtered by it. */
  siteOf: (patientId: string) => string;
  now: () => number;
  retrain?: RetrainHandler;
  /** `GET /retrain/:id` (the TrainingSupervisor's jobs), with `retrain`. */
  retrainStatus?: (id: string) => Promise<RetrainJobStatus | undefined>;
  /** Scores kept per patient for the console's trend (a day of 5-minute scores by default). */
  historyLength?: number;
}

interface Track {
  siteId: string;
  history: ScorePoint[];
}

function hashFeatures(f: Float32Array): string {
  return createHash('sha256')
    .update(new Uint8Array(f.buffer, f.byteOffset, f.byteLength))
    .digest('hex');
}

/**
 * The API's PredictionBackend over the real patient actors and model supervisor (issue 7). It is
 * also an event sink: wire `onEvent` into the PatientSupervisor's `emit` so scorings feed the console
 * (patients by risk, trends) and raised and cleared alerts reach /alerts/stream.
 */
export class ActorsBackend implements PredictionBackend {
  readonly #o: ActorsBackendOptions;
  readonly #tracks = new Map<string, Track>();
  readonly #alerts = new Map<string, RiskAlert>();
  /** The open alert of each patient (the actor has one alert state per patient). */
  readonly #openByPatient = new Map<string, string>();
  readonly #listeners = new Set<(a: RiskAlert) => void>();
  readonly #clearListeners = new Set<(a: RiskAlert) => void>();
  readonly #historyLength: number;
  #previous: string | null = null;

  constructor(o: ActorsBackendOptions) {
    this.#o = o;
    this.#historyLength = o.historyLength ?? 288;
  }

  onEvent(e: PatientEvent | { type: string }): void {
    if (e.type === 'patient.risk.scored') this.#scored(e as RiskScored);
    else if (e.type === 'patient.alert.raised') this.#raised(e as AlertChanged);
    else if (e.type === 'patient.alert.cleared') this.#cleared(e as AlertChanged);
  }

  #track(patientId: string): Track {
    let t = this.#tracks.get(patientId);
    if (t === undefined) {
      t = { siteId: this.#o.siteOf(patientId), history: [] };
      this.#tracks.set(patientId, t);
    }
    return t;
  }

  /** Kept in event-time order: a prediction as of an earlier time lands where it belongs. */
  #scored(e: RiskScored): void {
    const h = this.#track(e.patientId).history;
    const point = {
      atMs: e.t,
      probability: e.probability,
      riskLevel: e.riskLevel,
      modelVersion: e.modelVersion,
    };
    let i = h.length;
    while (i > 0 && (h[i - 1]?.atMs ?? 0) > e.t) i--;
    if (i > 0 && h[i - 1]?.atMs === e.t) h[i - 1] = point;
    else h.splice(i, 0, point);
    if (h.length > this.#historyLength) h.shift();
  }

  #raised(e: AlertChanged): void {
    if (e.to !== 'watch' && e.to !== 'high') return;
    const a: RiskAlert = {
      alertId: `${e.patientId}@${e.t}`,
      patientId: e.patientId,
      siteId: this.#track(e.patientId).siteId,
      level: e.to,
      probability: e.probability,
      modelVersion: e.modelVersion,
      atMs: e.t,
      topRiskFactors: e.topRiskFactors.map((f) => ({
        feature: f.feature,
        attribution: f.attribution,
        value: f.value,
      })),
    };
    const prior = this.#openByPatient.get(e.patientId);
    if (prior !== undefined) this.#alerts.delete(prior); // escalated watch -> high: one open alert
    this.#alerts.set(a.alertId, a);
    this.#openByPatient.set(e.patientId, a.alertId);
    for (const l of this.#listeners) l(a);
  }

  /**
   * The patient's open alert closes and clearance listeners get it. A patient without an open alert
   * (never alerted, or its alert was acknowledged and so is no longer open) publishes nothing.
   */
  #cleared(e: AlertChanged): void {
    const id = this.#openByPatient.get(e.patientId);
    if (id === undefined) return;
    const open = this.#alerts.get(id);
    this.#openByPatient.delete(e.patientId);
    this.#alerts.delete(id);
    if (open === undefined) return;
    const cleared: RiskAlert = {
      ...open,
      clearedAtMs: e.t,
      clearedProbability: e.probability,
      clearedModelVersion: e.modelVersion,
    };
    for (const l of this.#clearListeners) l(cleared);
  }

  #prediction(r: RiskScored): Prediction {
    return {
      patientId: r.patientId,
      probability: r.probability,
      riskLevel: r.riskLevel,
      asOfMs: r.t,
      modelVersion: r.modelVersion,
      topRiskFactors: r.topRiskFactors.map((f) => ({
        feature: f.feature,
        attribution: f.attribution,
        value: f.value,
      })),
      featureSetHash: r.featureSetHash,
      featureVectorHash: hashFeatures(r.features),
      ...(r.sourceOffsets === undefined ? {} : { sourceOffsets: r.sourceOffsets }),
    };
  }

  async predict(patientId: string, asOfMs: number): Promise<Prediction> {
    if (this.#o.models.production === undefined) throw apiError('AEP_API_NO_MODEL');
    const r = await this.#o.patients.score(toPatientId(patientId), asOfMs);
    if (r === null) throw apiError('AEP_API_NO_MODEL');
    return this.#prediction(r);
  }

  async predictBatch(
    rs: ReadonlyArray<{ patientId: string; asOfMs: number }>,
  ): Promise<Array<Prediction | Error>> {
    return Promise.all(rs.map((r) => this.predict(r.patientId, r.asOfMs).catch((e: unknown) => e as Error)));
  }

  async health(): Promise<BackendHealth> {
    const v = this.#o.models.production;
    return {
      model:
        v === undefined
          ? { ready: false, detail: 'no production model loaded' }
          : { ready: true, version: v },
    };
  }

  async deployment(): Promise<Deployment> {
    const m = this.#o.models;
    const versions = [
      ...(m.production === undefined ? [] : [{ version: m.production, aliases: ['production'] }]),
      ...(m.staging === undefined ? [] : [{ version: m.staging, aliases: ['staging'] }]),
      ...(this.#previous === null ? [] : [{ version: this.#previous, aliases: [] }]),
    ];
    return {
      production: m.production ?? null,
      staging: m.staging ?? null,
      canaryShare: m.canaryShare,
      previous: this.#previous,
      versions,
    };
  }

  async promote(version: string | undefined): Promise<Deployment> {
    const m = this.#o.models;
    if (version !== undefined && version !== m.staging) {
      throw apiError('AEP_API_MODEL_CONFLICT', {
        reason: `only the staging version (${m.staging ?? 'none'}) can be promoted; load ${version} as staging first`,
      });
    }
    const before = m.production ?? null;
    m.promoteStaging();
    this.#previous = before;
    return this.deployment();
  }

  async rollback(): Promise<Deployment> {
    this.#o.models.rollback();
    this.#previous = null;
    return this.deployment();
  }

  async setCanary(version: string, share: number): Promise<Deployment> {
    const m = this.#o.models;
    if (version !== m.staging) {
      throw apiError('AEP_API_MODEL_CONFLICT', {
        reason: `version ${version} is not the staging model (${m.staging ?? 'none'})`,
      });
    }
    m.setCanaryShare(share);
    return this.deployment();
  }

  async retrain(reason: RetrainReason, detail: string, by: string): Promise<RetrainTicket> {
    if (this.#o.retrain === undefined) {
      return { id: 'none', accepted: false, detail: 'no training supervisor is wired into this service' };
    }
    return this.#o.retrain(reason, detail, by);
  }

  async retrainStatus(id: string): Promise<RetrainJobStatus | undefined> {
    return this.#o.retrainStatus?.(id);
  }

  async patients(filter: { siteId?: string; limit: number }): Promise<PatientSummary[]> {
    const out: PatientSummary[] = [];
    for (const [id, t] of this.#tracks) {
      const last = t.history.at(-1);
      if (last === undefined || (filter.siteId !== undefined && t.siteId !== filter.siteId)) continue;
      out.push({ patientId: id, siteId: t.siteId, ...last });
    }
    return out.sort((a, b) => b.probability - a.probability).slice(0, filter.limit);
  }

  async history(patientId: string, limit: number): Promise<ScorePoint[]> {
    return (this.#tracks.get(patientId)?.history ?? []).slice(-limit);
  }

  async openAlerts(filter: { siteId?: string; limit: number }): Promise<RiskAlert[]> {
    return [...this.#alerts.values()]
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

  subscribeClearances(listener: (a: RiskAlert) => void): () => void {
    this.#clearListeners.add(listener);
    return () => this.#clearListeners.delete(listener);
  }

  async acknowledge(alertId: string, by: string): Promise<RiskAlert> {
    const a = this.#alerts.get(alertId);
    if (a === undefined)
      throw apiError('AEP_API_UNKNOWN_ALERT', { alert_id: alertId }, { field: 'alert_id' });
    if (a.acknowledgedBy !== undefined) {
      throw apiError('AEP_API_ALERT_ACKNOWLEDGED', { alert_id: alertId }, { field: 'alert_id' });
    }
    const at = this.#o.now();
    await this.#o.patients.acknowledge(toPatientId(a.patientId), at, by);
    const acked: RiskAlert = { ...a, acknowledgedBy: by, acknowledgedAtMs: at };
    this.#alerts.set(alertId, acked);
    this.#openByPatient.delete(a.patientId);
    return acked;
  }
}
