import { type EnrollmentRecord, TOPICS, type TopicName } from '../contracts/types.js';
import type { EventSink } from './sink.js';

/** Keeps everything in memory: for tests and benchmarks that inspect what a producer wrote. */
export class MemorySink implements EventSink {
  readonly kind = 'dir' as const;
  readonly messages: Record<TopicName, string[]> = Object.fromEntries(
    TOPICS.map((t) => [t, []]),
  ) as unknown as Record<TopicName, string[]>;
  readonly keys: Record<TopicName, string[]> = Object.fromEntries(
    TOPICS.map((t) => [t, []]),
  ) as unknown as Record<TopicName, string[]>;
  readonly enrollment: EnrollmentRecord[] = [];
  readonly #keepKeys: boolean;

  constructor(opts: { keepKeys?: boolean } = {}) {
    this.#keepKeys = opts.keepKeys ?? false;
  }

  write(topic: TopicName, key: string, value: string): undefined {
    this.messages[topic].push(value);
    if (this.#keepKeys) this.keys[topic].push(key);
    return undefined;
  }
  async writeEnrollment(records: readonly EnrollmentRecord[]): Promise<void> {
    this.enrollment.push(...records);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
  counts(): Readonly<Record<TopicName, number>> {
    return Object.fromEntries(TOPICS.map((t) => [t, this.messages[t].length])) as unknown as Record<
      TopicName,
      number
    >;
  }
}
