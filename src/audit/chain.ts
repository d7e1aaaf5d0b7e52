import { createHash } from 'node:crypto';

/**
 * The audit chain's hashing, done here independently of the database: `aepred audit verify` must not
 * trust functions a superuser could replace. It mirrors audit_canonical() in
 * db/migrations/0002_audit_trail_and_api_keys.sql byte for byte.
 */
export const GENESIS_HASH: Buffer = Buffer.alloc(32);
const SEP = '\x1f';

export interface AuditEntry {
  /** Who: an API key id (`key:<id>`) or a component (`system:<name>`). */
  actor: string;
  /** What, dotted: prediction.served, alert.acknowledged, model.promoted, retrain.requested ... */
  action: string;
  /** The object acted on: a patient id, an alert id, a model version. */
  subject?: string;
  modelVersion?: string;
  /** sha256 of the input the action depended on (the feature vector for a prediction). */
  inputHash?: string;
  correlationId?: string;
  /** Everything else, stored as canonical JSON. */
  payload?: Record<string, unknown>;
}

export interface AuditRow {
  seq: number;
  atMs: number;
  actor: string;
  action: string;
  subject: string;
  modelVersion: string;
  inputHash: string;
  correlationId: string;
  /** Canonical JSON text exactly as stored. */
  payload: string;
  prevHash: Buffer;
  hash: Buffer;
}

/** JSON with object keys sorted at every depth, so equal content gives equal bytes. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

export function canonicalRow(r: Omit<AuditRow, 'prevHash' | 'hash'>): string {
  return [
    String(r.seq),
    String(r.atMs),
    r.actor,
    r.action,
    r.subject,
    r.modelVersion,
    r.inputHash,
    r.correlationId,
    r.payload,
  ].join(SEP);
}

export function rowHash(prevHash: Buffer, r: Omit<AuditRow, 'prevHash' | 'hash'>): Buffer {
  return createHash('sha256').update(prevHash).update(canonicalRow(r), 'utf8').digest();
}

export function sha256Hex(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Fields may not carry the separator or other control characters (the table refuses them too). */
export function cleanField(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point.
  return s.replace(/[\x00-\x1f]/g, '?');
}
