/** Time helpers for the simulator: epoch milliseconds in, RFC 3339 UTC strings out, no wall clock. */
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

const TWO = Array.from({ length: 100 }, (_, i) => (i < 10 ? `0${i}` : `${i}`));

/**
 * Formats whole-second UTC instants as `YYYY-MM-DDTHH:MM:SSZ`. Caches the date prefix of the current
 * day, so formatting the 5-minute ticks of a day costs a few string concatenations.
 */
export class IsoFormatter {
  #dayStart = Number.NaN;
  #prefix = '';

  format(ms: number): string {
    const dayStart = ms - (((ms % DAY) + DAY) % DAY);
    if (dayStart !== this.#dayStart) {
      this.#dayStart = dayStart;
      this.#prefix = `${new Date(dayStart).toISOString().slice(0, 10)}T`;
    }
    const sec = Math.floor((ms - dayStart) / 1000);
    const h = Math.floor(sec / 3600);
    const m = Math.floor((sec % 3600) / 60);
    return `${this.#prefix}${TWO[h]}:${TWO[m]}:${TWO[sec % 60]}Z`;
  }
}

export function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

export function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Parses --start: YYYY-MM-DD or an RFC 3339 instant; NaN when invalid. */
export function parseStart(s: string): number {
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) {
    const t = Date.parse(`${s}T00:00:00Z`);
    return Number.isNaN(t) || isoDate(t) !== s ? Number.NaN : t;
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(s)) return Date.parse(s);
  return Number.NaN;
}

/** Injected time for pacing (--rate realtime|xN); simulation logic itself only uses simulated time. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** A clock that only moves when slept on: tests and `--rate max` never wait. */
export class SimulatedClock implements Clock {
  #t: number;
  constructor(startMs = 0) {
    this.#t = startMs;
  }
  now(): number {
    return this.#t;
  }
  async sleep(ms: number): Promise<void> {
    this.#t += Math.max(0, ms);
  }
}
