import type { AuditEntry } from '../audit/chain.js';
import type { Principal } from '../security/apikeys.js';
import { AepredError, isAepredError } from '../shared/errors.js';
import type { Prediction } from './backend.js';
import type { EnrollmentInfo } from './enrollment.js';
import { type ApiError, apiError, errorBody } from './errors.js';
import type { ServiceDeps } from './options.js';

/** FR-7.1's response body, field for field. */
export interface PredictionWire {
  patient_id: string;
  adverse_event_probability: number;
  risk_level: 'low' | 'medium' | 'high';
  prediction_timestamp: string;
  model_version: string;
  top_risk_factors: Array<{ feature: string; attribution: number; value: number | null }>;
}

export interface Served {
  wire: PredictionWire;
  /** The audit row's seq: the prediction's id (`x-prediction-id`, `aepred lineage`). */
  predictionId: number;
}

export type BatchItem =
  | (PredictionWire & { prediction_id: number })
  | { patient_id: string; error: ReturnType<typeof errorBody>['error'] };

interface Ask {
  patientId: string;
  timestamp: string;
}

/**
 * The prediction flow behind /predict and /predict/batch: check the request against the clock and the
 * enrollment table, ask the backend as of the timestamp, and make the audit row durable before
 * anything is answered (an unaudited prediction never leaves the service).
 */
export class Predictor {
  readonly #d: ServiceDeps;
  readonly #skewMs: number;
  readonly #timeoutMs: number;

  constructor(deps: ServiceDeps, opts: { maxFutureSkewSeconds: number; requestTimeoutSeconds: number }) {
    this.#d = deps;
    this.#skewMs = opts.maxFutureSkewSeconds * 1000;
    this.#timeoutMs = opts.requestTimeoutSeconds * 1000;
  }

  async one(ask: Ask, who: Principal, correlationId: string): Promise<Served> {
    const asOf = this.#checkTime(ask.timestamp, 'timestamp');
    const info = (await this.#enrollment([ask.patientId])).get(ask.patientId);
    this.#checkEnrollment(info, asOf, 'patient_id', 'timestamp');
    const p = await this.#withTimeout(this.#d.backend.predict(ask.patientId, asOf));
    return this.#audited(p, asOf, who, correlationId);
  }

  async batch(asks: readonly Ask[], who: Principal, correlationId: string): Promise<BatchItem[]> {
    const known = await this.#enrollment(asks.map((a) => a.patientId));
    const out: Array<BatchItem | undefined> = new Array(asks.length);
    const todo: Array<{ i: number; patientId: string; asOfMs: number }> = [];
    asks.forEach((a, i) => {
      try {
        const asOf = this.#checkTime(a.timestamp, `patients.${i}.timestamp`);
        this.#checkEnrollment(
          known.get(a.patientId),
          asOf,
          `patients.${i}.patient_id`,
          `patients.${i}.timestamp`,
        );
        todo.push({ i, patientId: a.patientId, asOfMs: asOf });
      } catch (e) {
        out[i] = this.#itemError(a.patientId, e, correlationId);
      }
    });
    const results = await this.#withTimeout(this.#d.backend.predictBatch(todo));
    await Promise.all(
      todo.map(async (t, k) => {
        const r = results[k];
        try {
          if (r === undefined || r instanceof Error) throw r ?? new Error('backend returned no result');
          const s = await this.#audited(r, t.asOfMs, who, correlationId);
          out[t.i] = { ...s.wire, prediction_id: s.predictionId };
        } catch (e) {
          out[t.i] = this.#itemError(t.patientId, this.#asBackendError(e), correlationId);
        }
      }),
    );
    return out.map(
      (o, i) => o ?? this.#itemError(asks[i]?.patientId ?? '', new Error('unanswered'), correlationId),
    );
  }

  #itemError(patientId: string, e: unknown, requestId: string): BatchItem {
    const err = isAepredError(e) ? e : apiError('AEP_API_INTERNAL', { request_id: requestId });
    return { patient_id: patientId, error: errorBody(err, requestId).error };
  }

  #checkTime(timestamp: string, field: string): number {
    const t = Date.parse(timestamp);
    if (!Number.isFinite(t)) {
      throw apiError('AEP_API_INVALID_FIELD', { field, reason: 'must be an ISO 8601 date-time' }, { field });
    }
    if (t > this.#d.now() + this.#skewMs)
      throw apiError('AEP_API_FUTURE_TIMESTAMP', { timestamp }, { field });
    return t;
  }

  #checkEnrollment(info: EnrollmentInfo | undefined, asOf: number, idField: string, tsField: string): void {
    if (info === undefined) throw apiError('AEP_API_UNKNOWN_PATIENT', {}, { field: idField });
    if (asOf < info.enrolledAtMs) {
      throw apiError(
        'AEP_API_BEFORE_ENROLLMENT',
        { enrollment_date: new Date(info.enrolledAtMs).toISOString().slice(0, 10) },
        { field: tsField },
      );
    }
  }

  async #enrollment(ids: string[]): Promise<Map<string, EnrollmentInfo>> {
    try {
      return await this.#d.enrollment.get(ids);
    } catch (e) {
      throw new AepredError('AEP_DB_UNAVAILABLE', 'the enrollment table cannot be read', {
        cause: e,
        retryable: true,
      });
    }
  }

  async #withTimeout<T>(p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        p,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                apiError('AEP_API_BACKEND_UNAVAILABLE', { reason: `no answer in ${this.#timeoutMs} ms` }),
              ),
            this.#timeoutMs,
          );
        }),
      ]);
    } catch (e) {
      throw this.#asBackendError(e);
    } finally {
      clearTimeout(timer);
    }
  }

  #asBackendError(e: unknown): AepredError {
    if (isAepredError(e)) return e;
    return apiError(
      'AEP_API_BACKEND_UNAVAILABLE',
      { reason: e instanceof Error ? e.message : String(e) },
      { cause: e },
    );
  }

  async #audited(p: Prediction, asOfMs: number, who: Principal, correlationId: string): Promise<Served> {
    const servedAt = new Date(this.#d.now()).toISOString();
    const entry: AuditEntry = {
      actor: `key:${who.keyId}`,
      action: 'prediction.served',
      subject: p.patientId,
      modelVersion: p.modelVersion,
      inputHash: p.featureVectorHash,
      correlationId,
      payload: {
        request_time: new Date(asOfMs).toISOString(),
        prediction_timestamp: servedAt,
        probability: p.probability,
        risk_level: p.riskLevel,
        feature_set_hash: p.featureSetHash,
        api_key_id: who.keyId,
        // The events behind the score ("topic:partition" -> highest applied offset): `aepred lineage`
        // resolves them to bronze files. Inside the canonical JSON payload, so the chain covers it.
        ...(p.sourceOffsets === undefined ? {} : { source_offsets: { ...p.sourceOffsets } }),
      },
    };
    let seq: number;
    try {
      seq = (await this.#d.audit.append(entry)).seq;
    } catch (e) {
      throw auditFailure(e);
    }
    this.#d.metrics.predictions.inc({ risk_level: p.riskLevel });
    return {
      predictionId: seq,
      wire: {
        patient_id: p.patientId,
        adverse_event_probability: p.probability,
        risk_level: p.riskLevel,
        prediction_timestamp: servedAt,
        model_version: p.modelVersion,
        top_risk_factors: p.topRiskFactors.map((f) => ({
          feature: f.feature,
          attribution: f.attribution,
          value: f.value,
        })),
      },
    };
  }
}

export function auditFailure(e: unknown): ApiError {
  return apiError(
    'AEP_API_AUDIT_UNAVAILABLE',
    { reason: e instanceof Error ? e.message : String(e) },
    { cause: e },
  );
}
