/**
 * Time and timers are injected (CONVENTIONS "For this project" 4): actors and supervisors read this,
 * never Date.now or setTimeout, so tests drive days of trial time in milliseconds.
 */
export interface TimerHandle {
  readonly id: number;
}

export interface Clock {
  now(): number;
  setTimer(ms: number, fn: () => void): TimerHandle;
  clearTimer(h: TimerHandle): void;
}

/** The real clock, for the service process only. */
export class SystemClock implements Clock {
  readonly #timers = new Map<number, NodeJS.Timeout>();
  #next = 1;
  now(): number {
    return Date.now();
  }
  setTimer(ms: number, fn: () => void): TimerHandle {
    const id = this.#next++;
    const t = setTimeout(() => {
      this.#timers.delete(id);
      fn();
    }, ms);
    t.unref();
    this.#timers.set(id, t);
    return { id };
  }
  clearTimer(h: TimerHandle): void {
    clearTimeout(this.#timers.get(h.id));
    this.#timers.delete(h.id);
  }
}

/** A clock that moves only when told (xstate's SimulatedClock); due timers fire in time order. */
export class SimulatedClock implements Clock {
  #now: number;
  #next = 1;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();
  constructor(start = 0) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  setTimer(ms: number, fn: () => void): TimerHandle {
    const id = this.#next++;
    this.#timers.set(id, { at: this.#now + ms, fn });
    return { id };
  }
  clearTimer(h: TimerHandle): void {
    this.#timers.delete(h.id);
  }
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.#timers) if (e[1].at <= end && (!due || e[1].at < due[1].at)) due = e;
      if (!due) break;
      this.#timers.delete(due[0]);
      this.#now = due[1].at;
      due[1].fn();
    }
    this.#now = end;
  }
  get pending(): number {
    return this.#timers.size;
  }
}
