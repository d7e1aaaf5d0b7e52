/**
 * One lab test's results, ordered by (event time, arrival time, value) like pipelines/ops.Series.
 * Labs arrive daily and late (report time), so the point-in-time filter needs the arrival column; the
 * series is small and kept in growable typed arrays.
 */
export interface LabState {
  n: number;
  /** (event time, arrival time, value, source) per result, four doubles each. */
  data: Float64Array;
}

const W = 4;

export class LabSeries {
  /** One typed array per series (not four): each typed array costs ~100 bytes of heap besides its data. */
  #d = new Float64Array(2 * W);
  #len = 0;

  get length(): number {
    return this.#len;
  }

  get bytes(): number {
    return this.#d.byteLength;
  }

  ev(i: number): number {
    return this.#d[i * W]!;
  }
  arr(i: number): number {
    return this.#d[i * W + 1]!;
  }
  val(i: number): number {
    return this.#d[i * W + 2]!;
  }
  #src(i: number): number {
    return this.#d[i * W + 3]!;
  }

  /** Silver keeps the first-arrived copy of (event time, source, test); returns false for a duplicate. */
  insert(ev: number, arr: number, val: number, src: number): boolean {
    for (let i = this.#len - 1; i >= 0; i--) {
      if (this.ev(i) < ev) break;
      if (this.ev(i) === ev && this.#src(i) === src) {
        if (this.arr(i) <= arr) return false;
        this.#remove(i);
        break;
      }
    }
    if ((this.#len + 1) * W > this.#d.length) {
      const b = new Float64Array(this.#d.length * 2);
      b.set(this.#d);
      this.#d = b;
    }
    let at = this.#len;
    while (at > 0 && LabSeries.#after(this.ev(at - 1), this.arr(at - 1), this.val(at - 1), ev, arr, val))
      at--;
    this.#d.copyWithin((at + 1) * W, at * W, this.#len * W);
    this.#d[at * W] = ev;
    this.#d[at * W + 1] = arr;
    this.#d[at * W + 2] = val;
    this.#d[at * W + 3] = src;
    this.#len++;
    return true;
  }

  static #after(e1: number, a1: number, v1: number, e2: number, a2: number, v2: number): boolean {
    return e1 > e2 || (e1 === e2 && (a1 > a2 || (a1 === a2 && v1 > v2)));
  }

  #remove(i: number): void {
    this.#d.copyWithin(i * W, (i + 1) * W, this.#len * W);
    this.#len--;
  }

  /**
   * Forgets results older than `before` except the first two (the baseline of delta_from_baseline)
   * and the last `keepLast` (last and rate_of_change look back two visible results).
   */
  evict(before: number, keepLast: number): void {
    const end = this.#len - keepLast;
    let r = 2;
    for (; r < end; r++) {
      if (this.ev(r) >= before) break;
    }
    if (r <= 2) return;
    this.#d.copyWithin(2 * W, r * W, this.#len * W);
    this.#len -= r - 2;
  }

  toState(): LabState {
    return { n: this.#len, data: this.#d.slice(0, this.#len * W) };
  }

  static fromState(s: LabState): LabSeries {
    const l = new LabSeries();
    l.#d = new Float64Array(Math.max(2, s.n) * W);
    l.#d.set(s.data.subarray(0, s.n * W));
    l.#len = s.n;
    return l;
  }
}
