/**
 * Vital-sign rows in one circular buffer of typed arrays: a shared Float64 time column, one value
 * column per signal and a source column. A vital-sign message carries several signals at one instant,
 * so one time per row instead of one per value halves the memory of a full 24 h window.
 *
 * Value columns start as Int16 fixed-point (tenths) because monitors report integers or one decimal,
 * and a value is stored that way only when it decodes to exactly the same double; the first value
 * that does not (a converted Fahrenheit temperature, say) turns that column into Float64 for good.
 * So what comes out is always bit-for-bit what went in.
 */
const MISSING = -32768;
const SCALE = 10;
const MIN_CAPACITY = 16;

type Column = { kind: 'q'; data: Int16Array } | { kind: 'f'; data: Float64Array };

export interface RingState {
  times: number[];
  sources: number[];
  columns: Array<Array<number | null>>;
}

export class VitalsRing {
  readonly signals: number;
  #cap: number;
  #head = 0;
  #len = 0;
  #times: Float64Array;
  #src: Uint8Array;
  #cols: Column[];

  constructor(signals: number, capacity = MIN_CAPACITY) {
    this.signals = signals;
    this.#cap = capacity;
    this.#times = new Float64Array(capacity);
    this.#src = new Uint8Array(capacity);
    this.#cols = Array.from(
      { length: signals },
      () => ({ kind: 'q', data: new Int16Array(capacity) }) as Column,
    );
  }

  get length(): number {
    return this.#len;
  }

  /** Bytes held by the typed arrays (what the memory target is about). */
  get bytes(): number {
    let b = this.#times.byteLength + this.#src.byteLength;
    for (const c of this.#cols) b += c.data.byteLength;
    return b;
  }

  #phys(i: number): number {
    const p = this.#head + i;
    return p >= this.#cap ? p - this.#cap : p;
  }

  time(i: number): number {
    return this.#times[this.#phys(i)]!;
  }

  source(i: number): number {
    return this.#src[this.#phys(i)]!;
  }

  /** NaN when the row does not carry this signal. */
  value(i: number, s: number): number {
    const p = this.#phys(i);
    const c = this.#cols[s]!;
    if (c.kind === 'f') return c.data[p]!;
    const q = c.data[p]!;
    return q === MISSING ? Number.NaN : q / SCALE;
  }

  /** First logical index whose time is > t. */
  upperBound(t: number): number {
    let a = 0;
    let b = this.#len;
    while (a < b) {
      const m = (a + b) >>> 1;
      if (this.time(m) <= t) a = m + 1;
      else b = m;
    }
    return a;
  }

  /** Inserts a row keeping time order (after rows of the same time); returns its logical index. */
  insert(time: number, source: number, values: ArrayLike<number>): number {
    if (this.#len === this.#cap) this.#grow();
    let at = this.#len;
    if (at > 0 && this.time(at - 1) > time) at = this.upperBound(time);
    // Shift the tail right by one (out-of-order arrivals are rare and recent, so the tail is short).
    for (let i = this.#len; i > at; i--) this.#copy(this.#phys(i - 1), this.#phys(i));
    this.#len++;
    const p = this.#phys(at);
    this.#times[p] = time;
    this.#src[p] = source;
    for (let s = 0; s < this.signals; s++) this.#set(s, p, values[s]!);
    return at;
  }

  /** Drops the oldest n rows. */
  dropFront(n: number): void {
    const k = Math.min(n, this.#len);
    this.#head = this.#phys(k);
    this.#len -= k;
    if (this.#len === 0) this.#head = 0;
    if (this.#cap > MIN_CAPACITY && this.#len * 4 < this.#cap)
      this.#resize(Math.max(MIN_CAPACITY, this.#len * 2));
  }

  #copy(from: number, to: number): void {
    this.#times[to] = this.#times[from]!;
    this.#src[to] = this.#src[from]!;
    for (const c of this.#cols) c.data[to] = c.data[from]!;
  }

  #set(s: number, p: number, v: number): void {
    const c = this.#cols[s]!;
    if (c.kind === 'f') {
      c.data[p] = v;
      return;
    }
    if (Number.isNaN(v)) {
      c.data[p] = MISSING;
      return;
    }
    const q = Math.round(v * SCALE);
    if (q > MISSING && q <= 32767 && q / SCALE === v) {
      c.data[p] = q;
      return;
    }
    const wide = new Float64Array(this.#cap);
    for (let i = 0; i < this.#cap; i++) {
      const x = c.data[i]!;
      wide[i] = x === MISSING ? Number.NaN : x / SCALE;
    }
    wide[p] = v;
    this.#cols[s] = { kind: 'f', data: wide };
  }

  #grow(): void {
    // 1.5x keeps the slack of a full 24 h window small (the per-patient memory target is 10 KB).
    this.#resize(Math.max(MIN_CAPACITY, Math.ceil(this.#cap * 1.5)));
  }

  #resize(cap: number): void {
    const times = new Float64Array(cap);
    const src = new Uint8Array(cap);
    const cols: Column[] = this.#cols.map((c) =>
      c.kind === 'q' ? { kind: 'q', data: new Int16Array(cap) } : { kind: 'f', data: new Float64Array(cap) },
    );
    for (let i = 0; i < this.#len; i++) {
      const p = this.#phys(i);
      times[i] = this.#times[p]!;
      src[i] = this.#src[p]!;
      for (let s = 0; s < cols.length; s++) cols[s]!.data[i] = this.#cols[s]!.data[p]!;
    }
    this.#times = times;
    this.#src = src;
    this.#cols = cols;
    this.#cap = cap;
    this.#head = 0;
  }

  toState(): RingState {
    const times: number[] = [];
    const sources: number[] = [];
    const columns: Array<Array<number | null>> = Array.from({ length: this.signals }, () => []);
    for (let i = 0; i < this.#len; i++) {
      times.push(this.time(i));
      sources.push(this.source(i));
      for (let s = 0; s < this.signals; s++) {
        const v = this.value(i, s);
        columns[s]!.push(Number.isNaN(v) ? null : v);
      }
    }
    return { times, sources, columns };
  }

  static fromState(state: RingState, signals: number): VitalsRing {
    const r = new VitalsRing(signals, Math.max(MIN_CAPACITY, state.times.length));
    const row = new Float64Array(signals);
    for (let i = 0; i < state.times.length; i++) {
      for (let s = 0; s < signals; s++) row[s] = state.columns[s]?.[i] ?? Number.NaN;
      r.insert(state.times[i]!, state.sources[i]!, row);
    }
    return r;
  }
}
