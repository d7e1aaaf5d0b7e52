import type { RiskAlert } from './backend.js';

/**
 * alert.raised: an alert opened (or escalated watch -> high, superseding the patient's open one);
 * alert.acknowledged: a coordinator acknowledged it; alert.cleared: the patient's risk fell back and
 * the open alert closed (the alert carries clearedAtMs / clearedProbability / clearedModelVersion).
 */
export type AlertEventKind = 'alert.raised' | 'alert.acknowledged' | 'alert.cleared';

export interface HubEvent {
  /** `<stream epoch>.<sequence>`: the SSE id a client sends back as Last-Event-ID. */
  id: string;
  seq: number;
  kind: AlertEventKind;
  alert: RiskAlert;
}

export type Resume =
  | { events: HubEvent[]; reset: false }
  | { events: HubEvent[]; reset: true; reason: string };

/**
 * The alert stream's memory: a ring of the last `capacity` events so a reconnecting client resumes
 * after its Last-Event-ID. Ids carry the epoch of this process's stream; an id from another epoch (a
 * restart or another replica) or older than the ring gets a reset, and the client reloads open alerts.
 */
export class AlertHub {
  readonly epoch: string;
  readonly #capacity: number;
  readonly #ring: HubEvent[] = [];
  readonly #listeners = new Set<(e: HubEvent) => void>();
  #seq = 0;

  constructor(opts: { capacity: number; epoch: string }) {
    this.#capacity = opts.capacity;
    this.epoch = opts.epoch;
  }

  publish(kind: AlertEventKind, alert: RiskAlert): HubEvent {
    if (
      kind === 'alert.cleared' &&
      (!Number.isFinite(alert.clearedAtMs) || alert.clearedModelVersion === undefined)
    ) {
      throw new Error(
        `alert.cleared for alert ${alert.alertId} needs a finite clearedAtMs and a clearedModelVersion (the score that closed it)`,
      );
    }
    this.#seq += 1;
    const e: HubEvent = { id: `${this.epoch}.${this.#seq}`, seq: this.#seq, kind, alert };
    this.#ring.push(e);
    if (this.#ring.length > this.#capacity) this.#ring.shift();
    for (const l of this.#listeners) l(e);
    return e;
  }

  subscribe(listener: (e: HubEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get listeners(): number {
    return this.#listeners.size;
  }

  /** Events after `lastEventId`; a client without one starts live (it loads open alerts itself). */
  resume(lastEventId: string | undefined): Resume {
    if (lastEventId === undefined) return { events: [], reset: false };
    const dot = lastEventId.lastIndexOf('.');
    const epoch = lastEventId.slice(0, dot);
    const seq = Number(lastEventId.slice(dot + 1));
    if (dot < 0 || epoch !== this.epoch || !Number.isInteger(seq) || seq < 0 || seq > this.#seq) {
      return { events: [], reset: true, reason: 'unknown stream position (service restarted?)' };
    }
    const oldest = this.#ring[0]?.seq ?? this.#seq + 1;
    if (seq + 1 < oldest) return { events: [], reset: true, reason: 'position older than the replay buffer' };
    return { events: this.#ring.filter((e) => e.seq > seq), reset: false };
  }
}
