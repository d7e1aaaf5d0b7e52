import { createHash } from 'node:crypto';
import type { PatientId } from '../../actors/patient/protocol.js';

/**
 * Sticky canary routing: a patient is in the canary when the first 32 bits of SHA-256(patient id),
 * as a fraction of 2^32, fall below the share. The same patient always lands on the same side, and
 * raising the share only adds patients.
 */
export function canaryBucket(patient: PatientId): number {
  return createHash('sha256').update(patient).digest().readUInt32BE(0) / 2 ** 32;
}

export function inCanary(patient: PatientId, share: number): boolean {
  return share > 0 && canaryBucket(patient) < share;
}

/** Why a model cannot serve the running definition, or null. */
export function refusal(meta: Readonly<Record<string, string>>, runningHash: string): string | null {
  if (!meta.feature_set_hash) return 'the model carries no feature_set_hash';
  if (meta.feature_set_hash !== runningHash) {
    return `feature-set hash ${meta.feature_set_hash.slice(0, 12)} differs from the running definition ${runningHash.slice(0, 12)}`;
  }
  return null;
}
