import type { ContractIssue } from '../contracts/validator.js';

/**
 * A dead-letter record, the JSON value written to `<topic>.dlq`. The original bytes travel base64
 * encoded so a malformed message is kept exactly; the source coordinates make the record traceable
 * and re-playable. Keyed by the source record's key, so a patient's rejects keep their order.
 */
export interface DlqRecord {
  dlq_version: 1;
  source_topic: string;
  source_partition: number;
  /** Decimal string: offsets are 64-bit. */
  source_offset: string;
  source_timestamp: string;
  key: string | null;
  correlation_id: string | null;
  event_id: string | null;
  /** First error's reason code (metrics label); every error is in `errors`. */
  reason: string;
  errors: ContractIssue[];
  original_base64: string;
  rejected_at: string;
}

/** Best-effort correlation and event ids from bytes that may not even be JSON. */
export function salvageIds(value: Uint8Array | null): {
  correlation_id: string | null;
  event_id: string | null;
} {
  if (value === null) return { correlation_id: null, event_id: null };
  try {
    const o: unknown = JSON.parse(
      Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8'),
    );
    if (o !== null && typeof o === 'object' && !Array.isArray(o)) {
      const r = o as Record<string, unknown>;
      return {
        correlation_id: typeof r.correlation_id === 'string' ? r.correlation_id.slice(0, 128) : null,
        event_id: typeof r.event_id === 'string' ? r.event_id.slice(0, 64) : null,
      };
    }
  } catch {
    // malformed: no ids to salvage
  }
  return { correlation_id: null, event_id: null };
}

export function dlqTopic(topic: string): string {
  return `${topic}.dlq`;
}
