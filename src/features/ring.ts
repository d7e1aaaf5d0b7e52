/**
 * Vital-sign rows in one circular buffer of typed arrays: a shared time column, one block of value
 * columns (row-major, `signals` values per row) and a source column. A vital-sign message carries
 * several signals at one instant, so one time per row instead of one per value halves the memory.
 *
 * Compact but exact: what comes out is always bit-for-bit what went in.
 * - Times are Int32 seconds relative to the first row's time while every time is a whole number of
 *   seconds from it (monitors report on the minute); the first one that is not turns the column
 *   into Float64 for good.
 * - Values are Int16 fixed point (tenths) because monitors report integers or one decimal; a value is
 *   stored that way only when it decodes to exactly the same double, and the first value of a signal
 *   that does not (a converted Fahrenheit temperature, say) moves that signal to its own Float64
 *   column for good.
 * - Capacity grows in small steps (not by a factor), so a full 24 h window at a 5-minute cadence
 *   (300 rows with the retention slack) holds ~300 rows, not the ~450 a 1.5x growth would leave.
 * Few typed arrays per patient matters as much as their size: each costs ~100 bytes of heap besides
 * its data, so the columns live in three arrays, not one per signal.
 */
const MISSING = -32768;
const SCALE = 10;
const MIN_CAPACITY = 16;
const STEP = 32;
const INT32_MAX = 2 ** 31 - 1;

/** Rows in logical (time) order, trimmed to `n`: the binary snapshot stores these arrays as they are. */
export interface RingState {
  n: number;
  base: number;
  /** Seconds from `base` (null once the column is Float64). */
  tq: Int32Array | null;
  tf: Float64Array | null;
  src: Uint8Array;
  /** Row-major tenths, `signals` per row; MISSING where a row lacks the signal. */
  q: Int16Array;
  /** Per signal: its Float64 column when it left fixed point, else null. */
  wide: Array<Float64Array | null>;
}

export class VitalsRing {
  readonly signals: number;
  #cap: number;
  #head = 0;
  #len = 0;
  #base = Number.NaN;
  #tq: Int32Array | null;
  #tf: Float64Array | null = null;
  #src: Uint8Array;
  #q: Int16Array;
  #wide: Array<Float64Array | null>;

  constructor(signals: number, capacity = MIN_CAPACITY) {
    this.signals = signals;
    this.#cap = capacity;
    this.#tq = new Int32Array(capacity);
    this.#src = new Uint8Array(capacity);
    this.#q = new Int16Array(capacity * signals);
    this.#wide = Array.from({ length: signals }, () => null);
  }

  get length(): number {
    return this.#len;
  }

  get capacity(): number {
    return this.#cap;
  }

  /** Bytes held by the typed arrays (what the memory target is about). */
  get bytes(): number {
    let b = (this.#tq ?? this.#tf)!.byteLength + this.#src.byteLength + this.#q.byteLength;
    for (const w of this.#wide) if (w) b += w.byteLength;
    return b;
  }

  #phys(i: number): number {
    const p = this.#head + i;
    return p >= this.#cap ? p - this.#cap : p;
  }

  #timeAt(p: number): number {
    const tq = this.#tq;
    return tq ? this.#base + tq[p]! * 1000 : this.#tf![p]!;
  }

  time(i: number): number {
    return this.#timeAt(this.#phys(i));
  }

  source(i: number): number {
    return this.#src[this.#phys(i)]!;
  }

  /** NaN when the row does not carry this signal. */
  value(i: number, s: number): number {
    const p = this.#phys(i);
    const w = this.#wide[s];
    if (w) return w[p]!;
    const q = this.#q[p * this.signals + s]!;
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
    if (this.#len === this.#cap) this.#resize(this.#cap + Math.max(STEP, this.#cap >> 4));
    let at = this.#len;
    if (at > 0 && this.time(at - 1) > time) at = this.upperBound(time);
    // Shift the tail right by one (out-of-order arrivals are rare and recent, so the tail is short).
    for (let i = this.#len; i > at; i--) this.#copy(this.#phys(i - 1), this.#phys(i));
    this.#len++;
    const p = this.#phys(at);
    this.#setTime(p, time);
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

  #setTime(p: number, time: number): void {
    const tq = this.#tq;
    if (!tq) {
      this.#tf![p] = time;
      return;
    }
    if (Number.isNaN(this.#base)) this.#base = time;
    const q = (time - this.#base) / 1000;
    if (Number.isInteger(q) && q >= -INT32_MAX && q <= INT32_MAX && this.#base + q * 1000 === time) {
      tq[p] = q;
      return;
    }
    const tf = new Float64Array(this.#cap);
    for (let i = 0; i < this.#cap; i++) tf[i] = this.#base + tq[i]! * 1000;
    tf[p] = time;
    this.#tf = tf;
    this.#tq = null;
  }

  #copy(from: number, to: number): void {
    if (this.#tq) this.#tq[to] = this.#tq[from]!;
    else this.#tf![to] = this.#tf![from]!;
    this.#src[to] = this.#src[from]!;
    const k = this.signals;
    this.#q.copyWithin(to * k, from * k, from * k + k);
    for (const w of this.#wide) if (w) w[to] = w[from]!;
  }

  #set(s: number, p: number, v: number): void {
    const w = this.#wide[s];
    if (w) {
      w[p] = v;
      return;
    }
    const at = p * this.signals + s;
    if (Number.isNaN(v)) {
      this.#q[at] = MISSING;
      return;
    }
    const q = Math.round(v * SCALE);
    if (q > MISSING && q <= 32767 && q / SCALE === v) {
      this.#q[at] = q;
      return;
    }
    const wide = new Float64Array(this.#cap);
    for (let i = 0; i < this.#cap; i++) {
      const x = this.#q[i * this.signals + s]!;
      wide[i] = x === MISSING ? Number.NaN : x / SCALE;
    }
    wide[p] = v;
    this.#wide[s] = wide;
  }

  /** Copies the rows into fresh arrays of `cap` rows, oldest first at index 0. */
  #resize(cap: number): void {
    const st = this.#logical(cap);
    this.#tq = st.tq;
    this.#tf = st.tf;
    this.#src = st.src;
    this.#q = st.q;
    this.#wide = st.wide;
    this.#cap = cap;
    this.#head = 0;
  }

  #logical(cap: number): RingState {
    const k = this.signals;
    const n = this.#len;
    const tq = this.#tq ? new Int32Array(cap) : null;
    const tf = this.#tf ? new Float64Array(cap) : null;
    const src = new Uint8Array(cap);
    const q = new Int16Array(cap * k);
    const wide = this.#wide.map((w) => (w ? new Float64Array(cap) : null));
    for (let i = 0; i < n; i++) {
      const p = this.#phys(i);
      if (tq) tq[i] = this.#tq![p]!;
      else tf![i] = this.#tf![p]!;
      src[i] = this.#src[p]!;
      q.set(this.#q.subarray(p * k, p * k + k), i * k);
      for (let s = 0; s < k; s++) if (wide[s]) wide[s]![i] = this.#wide[s]![p]!;
    }
    return { n, base: this.#base, tq, tf, src, q, wide };
  }

  toState(): RingState {
    return this.#logical(this.#len);
  }

  static fromState(state: RingState, signals: number): VitalsRing {
    const r = new VitalsRing(signals, 0);
    const n = state.n;
    const cap = Math.max(MIN_CAPACITY, n);
    r.#cap = cap;
    r.#len = n;
    r.#base = state.base;
    const grow = <T extends Int32Array | Float64Array | Uint8Array | Int16Array>(a: T, make: T): T => {
      make.set(a.subarray(0, Math.min(a.length, make.length)));
      return make;
    };
    r.#tq = state.tq ? grow(state.tq, new Int32Array(cap)) : null;
    r.#tf = state.tf ? grow(state.tf, new Float64Array(cap)) : null;
    r.#src = grow(state.src, new Uint8Array(cap));
    r.#q = grow(state.q, new Int16Array(cap * signals));
    r.#wide = state.wide.map((w) => (w ? grow(w, new Float64Array(cap)) : null));
    return r;
  }
}
