import { CompressionTypes, Kafka, logLevel, type Message, type Producer } from 'kafkajs';
import { type EnrollmentRecord, TOPICS, type TopicName } from '../contracts/types.js';
import { AepredError } from '../shared/errors.js';
import type { EventSink } from './sink.js';

export interface EnrollmentWriter {
  upsert(records: readonly EnrollmentRecord[]): Promise<void>;
}

export interface KafkaSinkOptions {
  brokers: string[];
  clientId?: string;
  /** Messages per sendBatch; a full batch is sent while the next one fills. */
  batchSize?: number;
  enrollment: EnrollmentWriter;
  /** Prepended to every topic name (tests write to their own topics; default none). */
  topicPrefix?: string;
  /** Runs after the producer disconnects (e.g. closing the enrollment store's pool). */
  onClose?: () => Promise<void>;
}

/**
 * kafkajs idempotent producer (acks=all, one in-flight request per broker, infinite retries), keyed
 * by patient_id so a patient's events share a partition and keep their order. At most one batch is
 * in flight: write() hands back the pending send when the next batch is full (backpressure).
 */
export class KafkaSink implements EventSink {
  readonly kind = 'kafka' as const;
  readonly #producer: Producer;
  readonly #batchSize: number;
  readonly #enrollment: EnrollmentWriter;
  readonly #onClose: (() => Promise<void>) | undefined;
  readonly #prefix: string;
  readonly #pending = new Map<TopicName, Message[]>();
  readonly #counts: Record<TopicName, number>;
  #queued = 0;
  #inflight: Promise<void> | undefined;
  #failure: unknown;

  private constructor(producer: Producer, opts: KafkaSinkOptions) {
    this.#producer = producer;
    this.#batchSize = opts.batchSize ?? 5000;
    this.#enrollment = opts.enrollment;
    this.#onClose = opts.onClose;
    this.#prefix = opts.topicPrefix ?? '';
    for (const t of TOPICS) this.#pending.set(t, []);
    this.#counts = Object.fromEntries(TOPICS.map((t) => [t, 0])) as Record<TopicName, number>;
  }

  static async connect(opts: KafkaSinkOptions): Promise<KafkaSink> {
    const kafka = new Kafka({
      clientId: opts.clientId ?? 'aepred-producer',
      brokers: opts.brokers,
      logLevel: logLevel.WARN,
      retry: { retries: 8 },
    });
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    try {
      await producer.connect();
    } catch (e) {
      throw new AepredError('AEP_KAFKA_UNAVAILABLE', `cannot connect to Kafka at ${opts.brokers.join(',')}`, {
        cause: e,
        retryable: true,
        detail: 'is the stack up? (aepred stack up)',
      });
    }
    return new KafkaSink(producer, opts);
  }

  write(topic: TopicName, key: string, value: string): Promise<void> | undefined {
    if (this.#failure !== undefined) throw this.#failure;
    this.#pending.get(topic)?.push({ key, value });
    this.#counts[topic]++;
    if (++this.#queued < this.#batchSize) return undefined;
    return this.#send();
  }

  /** Waits for the batch in flight, then ships everything queued as the next one. */
  async #send(): Promise<void> {
    if (this.#inflight !== undefined) await this.#inflight;
    if (this.#failure !== undefined) throw this.#failure;
    const topicMessages = [];
    for (const [topic, messages] of this.#pending) {
      if (messages.length > 0)
        topicMessages.push({ topic: this.#prefix + topic, messages: messages.splice(0) });
    }
    this.#queued = 0;
    if (topicMessages.length === 0) return;
    this.#inflight = this.#producer
      .sendBatch({ topicMessages, acks: -1, compression: CompressionTypes.None })
      .then(
        () => undefined,
        (e: unknown) => {
          this.#failure = new AepredError('AEP_KAFKA_SEND', `Kafka send failed: ${(e as Error).message}`, {
            cause: e,
            retryable: true,
          });
        },
      )
      .finally(() => {
        this.#inflight = undefined;
      });
  }

  writeEnrollment(records: readonly EnrollmentRecord[]): Promise<void> {
    return this.#enrollment.upsert(records);
  }

  async flush(): Promise<void> {
    await this.#send();
    if (this.#inflight !== undefined) await this.#inflight;
    if (this.#failure !== undefined) throw this.#failure;
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      try {
        await this.#producer.disconnect();
      } finally {
        await this.#onClose?.();
      }
    }
  }

  counts(): Readonly<Record<TopicName, number>> {
    return { ...this.#counts };
  }
}
