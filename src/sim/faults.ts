import type { ReasonCode } from '../contracts/reasons.js';
import type { TopicName } from '../contracts/types.js';
import type { EventSink } from '../producers/sink.js';
import { FAULT_KINDS, type FaultKind, type SimulatorParams } from './params.js';
import type { Rng } from './rng.js';
import { DAY, iso, MINUTE } from './time.js';

/**
 * The `faults` scenario: sits between the engine and the sink and, at the configured per-message
 * rates, corrupts, re-sends, holds back or re-addresses messages. Every fault is recorded with where
 * it landed (topic and 1-based line, i.e. the n-th message of that topic) and how it is meant to be
 * caught: by the contracts (schema or semantic checks) or downstream (ingestion, silver).
 */
export interface FaultRecord {
  kind: FaultKind;
  topic: TopicName;
  /** 1-based position among the messages of this topic (the line of <topic>.ndjson). */
  line: number;
  event_id: string | null;
  patient_id: string;
  detection: 'contract' | 'downstream';
  expected_reason: ReasonCode;
  sent_at: string;
  /** duplicate: line of the original; out_of_order/late_event: how long it was held. */
  original_line?: number;
  held_minutes?: number;
  detail?: string;
}

const EXPECTED: Record<FaultKind, { detection: 'contract' | 'downstream'; reason: ReasonCode }> = {
  malformed_json: { detection: 'contract', reason: 'malformed_json' },
  schema_violation: { detection: 'contract', reason: 'schema_violation' },
  out_of_range: { detection: 'contract', reason: 'schema_violation' },
  future_timestamp: { detection: 'contract', reason: 'future_timestamp' },
  duplicate: { detection: 'downstream', reason: 'duplicate' },
  out_of_order: { detection: 'downstream', reason: 'out_of_order' },
  late_event: { detection: 'downstream', reason: 'late_event' },
  unknown_patient: { detection: 'downstream', reason: 'unknown_patient' },
};

interface Held {
  releaseAt: number;
  heldFrom: number;
  topic: TopicName;
  key: string;
  value: string;
  kind: 'duplicate' | 'out_of_order' | 'late_event';
  originalLine?: number;
}

const TIME_FIELDS = [
  'timestamp',
  'reported_at',
  'event_timestamp',
  'report_timestamp',
  'end_timestamp',
] as const;
const EVENT_ID = /"event_id":"([0-9a-f-]{36})"/;
const PATIENT_ID = /"patient_id":"([^"]+)"/;

type Json = Record<string, unknown>;

export class FaultInjector {
  readonly records: FaultRecord[] = [];
  readonly #cfg: SimulatorParams['scenarios']['faults'];
  readonly #rng: Rng;
  readonly #sink: EventSink;
  readonly #trialId: string;
  readonly #cum: Float64Array;
  readonly #total: number;
  readonly #lines = new Map<TopicName, number>();
  #held: Held[] = [];
  #unknown = 0;

  readonly #endMs: number;

  /** `endMs`: end of the run; a message is only held back as long as the run lasts. */
  constructor(
    cfg: SimulatorParams['scenarios']['faults'],
    rng: Rng,
    sink: EventSink,
    trialId: string,
    endMs: number,
  ) {
    this.#endMs = endMs;
    this.#cfg = cfg;
    this.#rng = rng;
    this.#sink = sink;
    this.#trialId = trialId;
    let acc = 0;
    this.#cum = Float64Array.from(FAULT_KINDS, (k) => (acc += cfg.rates[k]));
    this.#total = acc;
  }

  #write(topic: TopicName, key: string, value: string): { line: number; wait: Promise<void> | undefined } {
    const line = (this.#lines.get(topic) ?? 0) + 1;
    this.#lines.set(topic, line);
    return { line, wait: this.#sink.write(topic, key, value) };
  }

  #record(
    kind: FaultKind,
    topic: TopicName,
    line: number,
    value: string,
    at: number,
    extra: Partial<FaultRecord> = {},
  ): void {
    const e = EXPECTED[kind];
    this.records.push({
      kind,
      topic,
      line,
      event_id: EVENT_ID.exec(value)?.[1] ?? null,
      patient_id: PATIENT_ID.exec(value)?.[1] ?? '',
      detection: e.detection,
      expected_reason: e.reason,
      sent_at: iso(at),
      ...extra,
    });
  }

  /** One message from the engine at simulated time `at`. */
  send(topic: TopicName, key: string, value: string, at: number): Promise<void> | undefined {
    const u = this.#rng.next();
    if (u >= this.#total) return this.#write(topic, key, value).wait;
    let i = 0;
    while (u >= this.#cum[i]!) i++;
    const kind = FAULT_KINDS[i]!;
    // Order and lateness are only defined against a regular stream: vitals (every 5 minutes). Labs
    // come in batches with one timestamp and adverse events are reported late by nature.
    if ((kind === 'out_of_order' || kind === 'late_event') && topic !== 'patient-vitals') {
      return this.#write(topic, key, value).wait;
    }
    const rng = this.#rng;
    switch (kind) {
      case 'malformed_json': {
        const bad = value.slice(0, rng.int(1, value.length - 1));
        const w = this.#write(topic, key, bad);
        this.#record(kind, topic, w.line, value, at, {
          detail: `truncated to ${bad.length} of ${value.length} chars`,
        });
        return w.wait;
      }
      case 'schema_violation':
      case 'out_of_range':
      case 'future_timestamp': {
        const msg = JSON.parse(value) as Json;
        const detail =
          kind === 'schema_violation'
            ? this.#violate(msg, topic)
            : kind === 'out_of_range'
              ? this.#outOfRange(msg, topic)
              : this.#future(msg);
        const w = this.#write(topic, key, JSON.stringify(msg));
        this.#record(kind, topic, w.line, value, at, { detail });
        return w.wait;
      }
      case 'unknown_patient': {
        const id = `${this.#trialId}-UNK-${String(++this.#unknown).padStart(4, '0')}`;
        const moved = value.replace(PATIENT_ID, `"patient_id":"${id}"`);
        const w = this.#write(topic, id, moved);
        this.#record(kind, topic, w.line, moved, at);
        return w.wait;
      }
      case 'duplicate': {
        const w = this.#write(topic, key, value);
        this.#hold({
          topic,
          key,
          value,
          kind,
          heldFrom: at,
          releaseAt: at + this.#minutes(this.#cfg.out_of_order_minutes),
          originalLine: w.line,
        });
        return w.wait;
      }
      case 'out_of_order':
      case 'late_event': {
        // Held back for its delay, but never past the end of the run (it must still arrive, and arrive
        // late enough to be what the manifest says); too close to the end, it goes out untouched.
        const [lo, hi] =
          kind === 'late_event'
            ? [this.#cfg.late_hours[0] * 60, this.#cfg.late_hours[1] * 60]
            : this.#cfg.out_of_order_minutes;
        const room = Math.floor((this.#endMs - 1000 - at) / MINUTE);
        if (room < lo) return this.#write(topic, key, value).wait;
        const hold = Math.min(room, Math.round(this.#rng.uniform(lo, hi)));
        this.#hold({ topic, key, value, kind, heldFrom: at, releaseAt: at + hold * MINUTE });
        return undefined;
      }
    }
  }

  #minutes([lo, hi]: readonly [number, number]): number {
    return Math.round(this.#rng.uniform(lo, hi)) * MINUTE;
  }

  #hold(h: Held): void {
    let i = this.#held.length;
    while (i > 0 && this.#held[i - 1]!.releaseAt > h.releaseAt) i--;
    this.#held.splice(i, 0, h);
  }

  /** Sends held messages due by simulated time t (all of them when t is +Infinity, at the end). */
  async advance(t: number, endMs: number): Promise<void> {
    while (this.#held.length > 0 && this.#held[0]!.releaseAt <= t) {
      const h = this.#held.shift()!;
      const at = Math.min(h.releaseAt, endMs);
      const w = this.#write(h.topic, h.key, h.value);
      this.#record(h.kind, h.topic, w.line, h.value, at, {
        ...(h.originalLine === undefined ? {} : { original_line: h.originalLine }),
        held_minutes: Math.round((at - h.heldFrom) / MINUTE),
      });
      if (w.wait !== undefined) await w.wait;
    }
  }

  #violate(msg: Json, topic: TopicName): string {
    switch (this.#rng.int(0, 2)) {
      case 0:
        msg.device_note = 'manual override';
        return 'unknown field device_note';
      case 1:
        msg.schema_version = 1;
        return 'schema_version as a number';
      default: {
        const f = topic === 'adverse-events' ? 'event_timestamp' : 'timestamp';
        delete msg[f];
        return `required field ${f} removed`;
      }
    }
  }

  #outOfRange(msg: Json, topic: TopicName): string {
    const rng = this.#rng;
    switch (topic) {
      case 'patient-vitals': {
        const which = rng.int(0, 2);
        if (which === 0) {
          msg.heart_rate = rng.int(400, 990);
          return `heart_rate ${String(msg.heart_rate)}`;
        }
        if (which === 1) {
          msg.spo2 = rng.int(101, 150);
          return `spo2 ${String(msg.spo2)}`;
        }
        msg.temperature = msg.temperature_unit === 'F' ? rng.int(120, 140) : rng.int(50, 60);
        return `temperature ${String(msg.temperature)} ${String(msg.temperature_unit ?? 'C')}`;
      }
      case 'lab-results':
        msg.value = -1 - Math.abs(Number(msg.value));
        return `negative ${String(msg.test_name)} ${String(msg.value)}`;
      case 'medications':
        msg.dosage = -1 - Math.abs(Number(msg.dosage ?? 0));
        return `negative dosage ${String(msg.dosage)}`;
      case 'adverse-events':
        msg.ctcae_grade = rng.int(6, 9);
        return `ctcae_grade ${String(msg.ctcae_grade)}`;
    }
  }

  #future(msg: Json): string {
    const shift = this.#cfg.future_shift_days * DAY;
    for (const f of TIME_FIELDS) {
      const v = msg[f];
      if (typeof v === 'string') msg[f] = iso(Date.parse(v) + shift);
    }
    return `timestamps shifted by ${this.#cfg.future_shift_days} days`;
  }

  get heldCount(): number {
    return this.#held.length;
  }
}
