import type { EnrollmentRecord, TopicName } from '../contracts/types.js';

/**
 * Where producers (the simulator, the importers) put messages. Values arrive already serialized:
 * producers own their JSON (and the fault injector must be able to send bytes that are not JSON).
 * Kafka keys are the patient_id so one patient's events stay in one partition, in order.
 */
export interface EventSink {
  readonly kind: 'dir' | 'kafka';
  /**
   * Queues one message. Returns undefined when the caller may go on, or a promise the caller must
   * await before the next write (backpressure); the hot path allocates no promise per message.
   */
  write(topic: TopicName, key: string, value: string): Promise<void> | undefined;
  /** Upserts enrollment records (Postgres for Kafka, enrollment.ndjson for a directory). */
  writeEnrollment(records: readonly EnrollmentRecord[]): Promise<void>;
  /** Everything queued so far is durable when this resolves. */
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Messages accepted so far, per topic. */
  counts(): Readonly<Record<TopicName, number>>;
}

/** Parsed `--to kafka` | `--to dir PATH`. */
export type SinkTarget = { to: 'kafka' } | { to: 'dir'; path: string };
