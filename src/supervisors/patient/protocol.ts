import type { PatientId } from '../../actors/patient/protocol.js';
import type { ChildFailed } from '../strategy.js';

export type PatientSupervisorMessage =
  | ChildFailed
  | { type: 'patients.partitions.assigned'; partitions: readonly number[] }
  | { type: 'patients.partitions.revoked'; partitions: readonly number[] };

export type PatientSupervisorEvent =
  | { type: 'patient.actor.spawned'; patientId: PatientId; restored: boolean }
  | { type: 'patient.actor.passivated'; patientId: PatientId }
  | { type: 'patient.actor.restarted'; patientId: PatientId; delayMs: number }
  | { type: 'patient.actor.stopped'; patientId: PatientId; reason: string }
  | { type: 'patients.escalated'; patientId: PatientId; reason: string };
