import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Ingestion metrics. Labels are topic, partition and reason only: never a patient id. The registry is
 * exported so the API's /metrics can merge it (prom-client Registry.merge).
 */
export class IngestMetrics {
  readonly registry: Registry;
  readonly consumed: Counter<'topic'>;
  readonly valid: Counter<'topic'>;
  readonly invalid: Counter<'topic' | 'reason'>;
  readonly lag: Gauge<'topic' | 'partition'>;
  readonly batchWriteSeconds: Histogram<'topic'>;
  readonly endToEndSeconds: Histogram<'topic'>;
  readonly bufferedBytes: Gauge;
  readonly paused: Gauge;
  readonly orphansRemoved: Counter<'topic'>;

  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    const registers = [registry];
    this.consumed = new Counter({
      name: 'aepred_ingest_consumed_total',
      help: 'Kafka records consumed',
      labelNames: ['topic'],
      registers,
    });
    this.valid = new Counter({
      name: 'aepred_ingest_valid_total',
      help: 'Records committed to bronze',
      labelNames: ['topic'],
      registers,
    });
    this.invalid = new Counter({
      name: 'aepred_ingest_invalid_total',
      help: 'Records committed to the DLQ, by first reason code',
      labelNames: ['topic', 'reason'],
      registers,
    });
    this.lag = new Gauge({
      name: 'aepred_ingest_consumer_lag',
      help: 'High watermark minus the next offset to consume, per partition',
      labelNames: ['topic', 'partition'],
      registers,
    });
    this.batchWriteSeconds = new Histogram({
      name: 'aepred_ingest_batch_write_seconds',
      help: 'Closing a micro-batch: encode Parquet, write bronze, commit the Kafka transaction',
      labelNames: ['topic'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.endToEndSeconds = new Histogram({
      name: 'aepred_ingest_end_to_end_seconds',
      help: 'Kafka record timestamp to offset commit, per record',
      labelNames: ['topic'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    });
    this.bufferedBytes = new Gauge({
      name: 'aepred_ingest_buffered_bytes',
      help: 'Bytes held in open and in-flight micro-batches and undelivered event hooks',
      registers,
    });
    this.paused = new Gauge({
      name: 'aepred_ingest_paused',
      help: '1 while the consumer is paused for backpressure',
      registers,
    });
    this.orphansRemoved = new Counter({
      name: 'aepred_ingest_orphan_files_removed_total',
      help: 'Bronze files of uncommitted batches removed when a partition was taken over',
      labelNames: ['topic'],
      registers,
    });
  }
}
