import { type EnrollmentRecord, TOPICS, type TopicName } from '../contracts/types.js';
import { contracts } from '../contracts/validator.js';
import type { EventSink } from '../producers/sink.js';
import { ImportRun, type OnError } from './core/run.js';

/** An in-memory EventSink for importer tests: keeps every serialized message, per topic, in order. */
export class MemorySink implements EventSink {
  readonly kind = 'dir' as const;
  readonly messages: Record<TopicName, string[]> = Object.fromEntries(
    TOPICS.map((t) => [t, []]),
  ) as unknown as Record<TopicName, string[]>;
  readonly keys: Array<[TopicName, string]> = [];
  readonly enrollment: EnrollmentRecord[] = [];
  /** Messages written before their patient's enrollment record (ingest would call them unknown). */
  writesBeforeEnrollment = 0;
  readonly #enrolled = new Set<string>();

  write(topic: TopicName, key: string, value: string): undefined {
    if (!this.#enrolled.has(key)) this.writesBeforeEnrollment++;
    this.messages[topic].push(value);
    this.keys.push([topic, key]);
    return undefined;
  }
  async writeEnrollment(records: readonly EnrollmentRecord[]): Promise<void> {
    this.enrollment.push(...records);
    for (const r of records) this.#enrolled.add(r.patient_id);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
  counts(): Readonly<Record<TopicName, number>> {
    return Object.fromEntries(TOPICS.map((t) => [t, this.messages[t].length])) as Record<TopicName, number>;
  }
}

/** A fixed check time, so tests do not depend on the wall clock. */
export const TEST_NOW_MS = Date.parse('2026-01-01T00:00:00Z');

export function memoryRun(importer: string, onError: OnError = 'stop'): { run: ImportRun; sink: MemorySink } {
  const sink = new MemorySink();
  return {
    sink,
    run: new ImportRun({ importer, sink, contracts: contracts(), nowMs: TEST_NOW_MS, onError }),
  };
}
