/**
 * Event-time windows with bounded memory. Observations are added into fixed-width buckets keyed by
 * their event time (not arrival time), so a label that arrives days late still lands in the bucket of
 * the prediction it belongs to. A window query sums the buckets that start at or after now - span:
 * the window's edge moves in whole buckets. Older buckets are dropped, so memory is at most
 * span / width + 1 arrays (plus any future-dated ones).
 */
export interface EventTimeWindowOptions {
  /** Window length in ms (e.g. 7 days). */
  readonly spanMs: number;
  /** Bucket width in ms; the window's edge moves in steps of this. */
  readonly bucketMs: number;
  /** Length of each bucket's Float64Array. */
  readonly size: number;
}

export class EventTimeWindow {
  readonly #opts: EventTimeWindowOptions;
  readonly #buckets = new Map<number, Float64Array>();
  #dropped = 0;

  constructor(opts: EventTimeWindowOptions) {
    if (!(opts.bucketMs > 0) || !(opts.spanMs >= opts.bucketMs)) {
      throw new RangeError(
        `event-time window needs 0 < bucketMs <= spanMs (got ${opts.bucketMs}, ${opts.spanMs})`,
      );
    }
    if (!Number.isInteger(opts.size) || opts.size < 1)
      throw new RangeError(`bucket size must be a positive integer`);
    this.#opts = opts;
  }

  /** Observations refused because their event time was already outside the window when they arrived. */
  get dropped(): number {
    return this.#dropped;
  }

  get bucketCount(): number {
    return this.#buckets.size;
  }

  #oldestKey(now: number): number {
    return Math.ceil((now - this.#opts.spanMs) / this.#opts.bucketMs);
  }

  /**
   * The bucket for event time `at`, or undefined when `at` is already outside the window at `now`
   * (the observation is counted as dropped). Evicts expired buckets as a side effect.
   */
  bucket(at: number, now: number): Float64Array | undefined {
    this.evict(now);
    const key = Math.floor(at / this.#opts.bucketMs);
    if (key < this.#oldestKey(now)) {
      this.#dropped += 1;
      return undefined;
    }
    let b = this.#buckets.get(key);
    if (!b) {
      b = new Float64Array(this.#opts.size);
      this.#buckets.set(key, b);
    }
    return b;
  }

  evict(now: number): void {
    const oldest = this.#oldestKey(now);
    for (const key of this.#buckets.keys()) if (key < oldest) this.#buckets.delete(key);
  }

  /** Element-wise sum of the buckets inside the window at `now` (future buckets included). */
  sum(now: number): Float64Array {
    this.evict(now);
    const out = new Float64Array(this.#opts.size);
    for (const b of this.#buckets.values())
      for (let i = 0; i < out.length; i++) out[i] = (out[i] ?? 0) + (b[i] ?? 0);
    return out;
  }
}
