/**
 * Stable reason codes for rejected or suspicious messages. They appear in DLQ records, metrics and
 * the simulator's fault manifest; a code is never reused for another meaning. docs/contracts.md lists
 * each one (a test checks both directions).
 */
export const REASONS = {
  malformed_json: 'the bytes are not one JSON object',
  schema_violation: 'the message breaks its topic JSON Schema (unknown field, wrong type, impossible value)',
  future_timestamp: 'an event or report time lies after the check time plus the allowed clock skew',
  report_before_event: 'a report time (report_timestamp, reported_at) precedes the event time',
  end_before_start: 'end_timestamp precedes the start/event time',
  diastolic_above_systolic: 'diastolic blood pressure exceeds systolic',
  reference_range_inverted: 'reference_range.low exceeds reference_range.high',
  severity_grade_mismatch: 'ctcae_grade disagrees with severity',
  unknown_topic: 'the topic has no contract',
  // Detectable downstream only (the ingester or the batch jobs, not a per-message check):
  unknown_patient: 'patient_id is not in the enrollment table (ingestion)',
  duplicate: 'an event_id seen before (bronze de-duplication)',
  out_of_order: 'event time earlier than an already-seen event of the same patient and topic (windows)',
  late_event: 'arrives after its event-time window closed (point-in-time / watermark logic)',
} as const;

export type ReasonCode = keyof typeof REASONS;

/** The codes a single message can be rejected with, without state. */
export const MESSAGE_REASONS: readonly ReasonCode[] = [
  'malformed_json',
  'schema_violation',
  'future_timestamp',
  'report_before_event',
  'end_before_start',
  'diastolic_above_systolic',
  'reference_range_inverted',
  'severity_grade_mismatch',
  'unknown_topic',
];
