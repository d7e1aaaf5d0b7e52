import type { Observation } from '../../features/normalize.js';

/** Branded ids: a patient id and a model version are never confused with other strings. */
export type PatientId = string & { readonly __brand: 'PatientId' };
export type ModelVersion = string & { readonly __brand: 'ModelVersion' };
export const patientId = (s: string): PatientId => s as PatientId;
export const modelVersion = (s: string): ModelVersion => s as ModelVersion;

export type AlertLevel = 'normal' | 'watch' | 'high' | 'acknowledged';

/** Where an event came from in Kafka: applied offsets make replays idempotent. */
export interface EventPosition {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
}

export interface RiskFactor {
  readonly feature: string;
  readonly value: number | null;
  readonly attribution: number;
}

// --- commands (imperative) --------------------------------------------------------------------------

/** One event as delivered from Kafka. */
export interface DeliveredEvent {
  readonly obs: Observation;
  readonly position: EventPosition;
}

export type PatientCommand =
  | { type: 'patient.event.apply'; obs: Observation; position: EventPosition }
  /** A Kafka batch's events of one patient, applied in one mailbox turn (in order). */
  | { type: 'patient.events.apply'; items: readonly DeliveredEvent[] }
  | { type: 'patient.score.request'; t: number }
  | { type: 'patient.alert.acknowledge'; t: number; by: string }
  | { type: 'patient.snapshot.take' };

// --- events (past tense) ----------------------------------------------------------------------------

export interface RiskScored {
  type: 'patient.risk.scored';
  patientId: PatientId;
  t: number;
  probability: number;
  riskLevel: 'low' | 'medium' | 'high';
  modelVersion: ModelVersion;
  featureSetHash: string;
  topRiskFactors: readonly RiskFactor[];
  /** The vector the model saw (float32 input), for audit hashing and replay comparisons. */
  features: Float32Array;
  /**
   * The actor's highest applied Kafka offset per "topic:partition" when it scored (decimal strings):
   * the events behind this score, for lineage (the prediction.served audit row's source_offsets).
   */
  sourceOffsets?: Readonly<Record<string, string>>;
}

export interface AlertChanged {
  type: 'patient.alert.raised' | 'patient.alert.cleared' | 'patient.alert.acknowledged';
  patientId: PatientId;
  t: number;
  from: AlertLevel;
  to: AlertLevel;
  probability: number;
  modelVersion: ModelVersion;
  topRiskFactors: readonly RiskFactor[];
}

export type PatientEvent =
  | RiskScored
  | AlertChanged
  | {
      type: 'patient.event.skipped';
      patientId: PatientId;
      position: EventPosition;
      reason: 'applied' | 'duplicate';
    };
