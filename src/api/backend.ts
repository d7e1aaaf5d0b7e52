/**
 * What the API needs from the running system (the patient actors and supervisors of issue 7), and
 * nothing more. Routes are written against this interface; `actors-adapter.ts` binds it to the real
 * service and `testing.ts` holds a fake for unit tests only.
 */

export type RiskLevel = 'low' | 'medium' | 'high';

export interface RiskFactor {
  /** A feature name from contracts/features.yaml. */
  feature: string;
  /** Attribution toward the probability (integrated gradients, as in training). */
  attribution: number;
  /** The feature's value at the prediction time, null when missing. */
  value: number | null;
}

export interface Prediction {
  patientId: string;
  probability: number;
  riskLevel: RiskLevel;
  /** Event time the prediction is as of: only events up to it were used (ms since epoch). */
  asOfMs: number;
  modelVersion: string;
  topRiskFactors: RiskFactor[];
  /** Identifies the feature definition the model was trained on (audit). */
  featureSetHash: string;
  /** sha256 of the feature vector the model scored (audit: the input, without the data). */
  featureVectorHash: string;
  /**
   * Highest applied Kafka offset per "topic:partition" (decimal strings) of the state that was scored:
   * audit only (the prediction.served row's source_offsets, `aepred lineage`), never in the response.
   */
  sourceOffsets?: Readonly<Record<string, string>>;
}

export interface ComponentStatus {
  ready: boolean;
  detail?: string;
}

export interface BackendHealth {
  model: ComponentStatus & { version?: string };
  /** Anything else the backend wants reported (actors restored, consumer assigned ...). */
  components?: Record<string, ComponentStatus>;
}

export interface ModelVersionInfo {
  version: string;
  /** Registry aliases currently pointing at it: production, staging. */
  aliases: string[];
  runId?: string;
  featureSetHash?: string;
  metrics?: Record<string, number>;
}

export interface Deployment {
  production: string | null;
  staging: string | null;
  /** Share of patients (sticky by patient hash) scored by the staging model. */
  canaryShare: number;
  previous: string | null;
  versions: ModelVersionInfo[];
}

export type RetrainReason = 'manual' | 'drift' | 'performance';

export interface RetrainTicket {
  id: string;
  accepted: boolean;
  /** Why not accepted: deduplicated into a running retraining, in cooldown ... */
  detail?: string;
}

/** A retraining job (`GET /retrain/:id`): the TrainingSupervisor's view of one request. */
export interface RetrainJobStatus {
  id: string;
  reason: string;
  /** running | rejected | failed | canary | promoted | rolled_back */
  state: string;
  requested_at: string;
  updated_at: string;
  run?: string;
  outcome?: string;
  data_window?: { start: string; end: string };
  duration_seconds?: number;
  registered_version?: string | null;
  comparison?: string | null;
  lineage_tag?: string | null;
  mlflow_run?: string;
  verdict?: string;
  verdict_reasons?: string[];
  error?: string;
}

export type AlertLevel = 'watch' | 'high';

export interface RiskAlert {
  alertId: string;
  patientId: string;
  siteId: string;
  level: AlertLevel;
  probability: number;
  modelVersion: string;
  /** Event time of the score that raised it. */
  atMs: number;
  topRiskFactors: RiskFactor[];
  acknowledgedBy?: string;
  acknowledgedAtMs?: number;
  /**
   * Set only on the alert of a clearance (`subscribeClearances`, the `alert.cleared` stream event):
   * the event time, probability and model version of the score that closed the open alert.
   */
  clearedAtMs?: number;
  clearedProbability?: number;
  clearedModelVersion?: string;
}

export interface PatientSummary {
  patientId: string;
  siteId: string;
  probability: number;
  riskLevel: RiskLevel;
  atMs: number;
  modelVersion: string;
}

export interface ScorePoint {
  atMs: number;
  probability: number;
  riskLevel: RiskLevel;
  modelVersion: string;
}

export interface PredictionBackend {
  /** Throws ApiError AEP_API_NO_MODEL / AEP_API_BACKEND_UNAVAILABLE; the API has checked enrollment. */
  predict(patientId: string, asOfMs: number): Promise<Prediction>;
  /** Same order as the input; a failure for one patient does not fail the others. */
  predictBatch(
    requests: ReadonlyArray<{ patientId: string; asOfMs: number }>,
  ): Promise<Array<Prediction | Error>>;
  health(): Promise<BackendHealth>;
  deployment(): Promise<Deployment>;
  promote(version: string | undefined, by: string): Promise<Deployment>;
  rollback(by: string): Promise<Deployment>;
  setCanary(version: string, share: number, by: string): Promise<Deployment>;
  retrain(reason: RetrainReason, detail: string, by: string): Promise<RetrainTicket>;
  /** A retraining job by its ticket id; undefined when unknown. Absent: no training is wired. */
  retrainStatus?(id: string): Promise<RetrainJobStatus | undefined>;
  /** Resident patients ordered by current risk, highest first. */
  patients(filter: { siteId?: string; limit: number }): Promise<PatientSummary[]>;
  /** One patient's recent scores, oldest first. */
  history(patientId: string, limit: number): Promise<ScorePoint[]>;
  /** Open (unacknowledged) alerts, newest first. */
  openAlerts(filter: { siteId?: string; limit: number }): Promise<RiskAlert[]>;
  /** Every alert raised from now on; returns the unsubscribe function. */
  subscribeAlerts(listener: (alert: RiskAlert) => void): () => void;
  /**
   * Every open alert closed from now on because the patient's risk fell back (the actor's
   * `patient.alert.cleared`): the alert as it was open, with `clearedAtMs`, `clearedProbability`
   * and `clearedModelVersion` set. Returns the unsubscribe function. Absent: alerts are never cleared.
   */
  subscribeClearances?(listener: (alert: RiskAlert) => void): () => void;
  /** Throws AEP_API_UNKNOWN_ALERT or AEP_API_ALERT_ACKNOWLEDGED. */
  acknowledge(alertId: string, by: string): Promise<RiskAlert>;
}
