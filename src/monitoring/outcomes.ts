/**
 * Labels for live predictions, as adverse-event reports arrive (FR-8.1 "model performance as labels
 * arrive"). The label of a prediction made at `t` is the training label's definition
 * (pipelines/ops.py `labels`): an adverse event with event time in (t, t + horizon]. Reports come
 * late, so a prediction stays pending until either
 * - a report names an event in its horizon: positive, at once; or
 * - the data watermark (the latest event time seen: data time, so a trial replayed from Kafka and a
 *   live trial behave alike) passes t + horizon + grace with no such report: negative.
 * A report later than the grace cannot change a negative already counted (it is counted as
 * `lateReports`), as the training side drops right-censored negatives only up to its own cut.
 *
 * Memory: one {t, p} per pending prediction (predictions of the last horizon + grace of data time)
 * and the event times of the last 2 x (horizon + grace) per patient.
 */

export interface OutcomeJoinerOptions {
  readonly horizonMs: number;
  /** How long after a prediction's horizon a report may still arrive and count. */
  readonly graceMs: number;
  readonly onOutcome: (at: number, probability: number, label: boolean) => void;
}

interface Pending {
  readonly t: number;
  readonly p: number;
}

export class OutcomeJoiner {
  readonly #o: OutcomeJoinerOptions;
  readonly #pending = new Map<string, Pending[]>();
  readonly #events = new Map<string, number[]>();
  #watermark = Number.NEGATIVE_INFINITY;
  #pendingCount = 0;
  positives = 0;
  negatives = 0;
  /** Reports whose event fell in the horizon of a prediction already counted negative. */
  lateReports = 0;

  constructor(o: OutcomeJoinerOptions) {
    if (!(o.horizonMs > 0)) throw new RangeError(`horizonMs must be > 0, got ${o.horizonMs}`);
    if (!(o.graceMs >= 0)) throw new RangeError(`graceMs must be >= 0, got ${o.graceMs}`);
    this.#o = o;
  }

  get pending(): number {
    return this.#pendingCount;
  }

  get watermark(): number {
    return this.#watermark;
  }

  #final(t: number): boolean {
    return t + this.#o.horizonMs + this.#o.graceMs <= this.#watermark;
  }

  /** A prediction of `patient` at event time `t` with probability `p`. */
  prediction(patient: string, t: number, p: number): void {
    const h = this.#o.horizonMs;
    if ((this.#events.get(patient) ?? []).some((e) => e > t && e <= t + h)) {
      this.positives++;
      this.#o.onOutcome(t, p, true);
      return;
    }
    if (this.#final(t)) {
      this.negatives++;
      this.#o.onOutcome(t, p, false);
      return;
    }
    let list = this.#pending.get(patient);
    if (!list) {
      list = [];
      this.#pending.set(patient, list);
    }
    // keep each patient's list in time order (scores arrive in order; a replay may interleave)
    let i = list.length;
    while (i > 0 && (list[i - 1]?.t ?? 0) > t) i--;
    list.splice(i, 0, { t, p });
    this.#pendingCount++;
  }

  /** An adverse event of `patient` with event time `eventTime` (reported now). */
  adverseEvent(patient: string, eventTime: number): void {
    const events = this.#events.get(patient) ?? [];
    events.push(eventTime);
    this.#events.set(patient, events);
    const h = this.#o.horizonMs;
    const list = this.#pending.get(patient);
    if (list) {
      const keep: Pending[] = [];
      for (const x of list) {
        if (eventTime > x.t && eventTime <= x.t + h) {
          this.positives++;
          this.#pendingCount--;
          this.#o.onOutcome(x.t, x.p, true);
        } else keep.push(x);
      }
      this.#pending.set(patient, keep);
    }
    // an event whose window [eventTime - h, eventTime) holds only predictions already counted
    if (this.#final(eventTime - h)) this.lateReports++;
  }

  /** The data watermark moved to `at` (ignored when it does not move forward). */
  advance(at: number): void {
    if (!(at > this.#watermark)) return;
    this.#watermark = at;
    const keepEventsFrom = at - 2 * (this.#o.horizonMs + this.#o.graceMs);
    for (const [patient, list] of this.#pending) {
      let n = 0;
      while (n < list.length && this.#final(list[n]?.t ?? 0)) {
        const x = list[n] as Pending;
        this.negatives++;
        this.#o.onOutcome(x.t, x.p, false);
        n++;
      }
      if (n > 0) {
        list.splice(0, n);
        this.#pendingCount -= n;
      }
      if (list.length === 0) this.#pending.delete(patient);
    }
    for (const [patient, events] of this.#events) {
      const kept = events.filter((e) => e >= keepEventsFrom);
      if (kept.length === 0) this.#events.delete(patient);
      else if (kept.length !== events.length) this.#events.set(patient, kept);
    }
  }
}
