import type { Kafka, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { AlertChanged } from '../actors/patient/protocol.js';

/** The `risk-alerts` message (key = patient id). `alert_id` is stable, so a replayed alert dedupes. */
export interface RiskAlertMessage {
  schema_version: 1;
  alert_id: string;
  type: AlertChanged['type'];
  patient_id: string;
  from: string;
  to: string;
  probability: number;
  model_version: string;
  event_time: string;
  top_risk_factors: ReadonlyArray<{ feature: string; value: number | null; attribution: number }>;
}

export function alertMessage(a: AlertChanged): RiskAlertMessage {
  return {
    schema_version: 1,
    alert_id: `${a.patientId}@${a.t}:${a.to}`,
    type: a.type,
    patient_id: a.patientId,
    from: a.from,
    to: a.to,
    probability: a.probability,
    model_version: a.modelVersion,
    event_time: new Date(a.t).toISOString(),
    top_risk_factors: a.topRiskFactors,
  };
}

/**
 * Alert changes to the `risk-alerts` topic through an idempotent producer. At least once: after a
 * crash, events between the last checkpoint and the crash are replayed and their alerts sent again
 * under the same `alert_id`.
 */
export class RiskAlertsProducer {
  readonly #producer: Producer;
  readonly #topic: string;
  readonly #log: Logger;
  #pending = new Set<Promise<void>>();
  sent = 0;

  private constructor(producer: Producer, topic: string, log: Logger) {
    this.#producer = producer;
    this.#topic = topic;
    this.#log = log;
  }

  static async connect(kafka: Kafka, topic: string, log: Logger): Promise<RiskAlertsProducer> {
    const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await p.connect();
    return new RiskAlertsProducer(p, topic, log.child({ component: 'risk-alerts' }));
  }

  publish(a: AlertChanged): void {
    const m = alertMessage(a);
    const job = this.#producer
      .send({ topic: this.#topic, acks: -1, messages: [{ key: m.patient_id, value: JSON.stringify(m) }] })
      .then(() => {
        this.sent++;
      })
      .catch((e: unknown) => this.#log.error({ err: e, alert_id: m.alert_id }, 'risk alert not produced'))
      .finally(() => this.#pending.delete(job));
    this.#pending.add(job);
  }

  async flush(): Promise<void> {
    await Promise.all([...this.#pending]);
  }

  async close(): Promise<void> {
    await this.flush();
    await this.#producer.disconnect();
  }
}
