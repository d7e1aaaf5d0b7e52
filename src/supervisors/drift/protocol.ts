import type { ModelVersion } from '../../actors/patient/protocol.js';

/** DriftSupervisor messages (issue 7 places it; issue 9 fills the rules). */
export type DriftCommand =
  | { type: 'drift.check.run'; at: number }
  | { type: 'drift.scoring.observe'; modelVersion: ModelVersion; probability: number; at: number };

export type DriftEvent =
  | { type: 'drift.detected'; reason: 'drift' | 'performance'; at: number; detail: string }
  | { type: 'drift.check.completed'; at: number };
