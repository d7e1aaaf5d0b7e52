/**
 * A patient's lab results, every test in one table: per test, results ordered by (event time,
 * arrival time, value) like pipelines/ops.Series. Labs arrive daily and late (report time), so the
 * point-in-time filter needs the arrival column.
 *
 * One Float64Array for all tests, not one per test: each typed array costs ~200 bytes of heap besides
 * its data (object, buffer, backing store), which for a patient's 9 tests was 2.4 KB, more than the
 * results themselves. Layout: a header of `codes + 1` row indices (test c's rows are
 * [start[c], start[c + 1])), then the rows, four doubles each (event, arrival, value, source).
 */
export interface LabState {
  n: number;
  /** (event time, arrival time, value, source) per result, four doubles each. */
  data: Float64Array;
}

const W = 4;
/** Spare rows added when the table is full (results are few: daily, kept for the lab window). */
const GROW = 4;

export class LabTable {
  readonly codes: number;
  #d: Float64Array;

  constructor(codes: number, rows = 0) {
    this.codes = codes;
    this.#d = new Float64Array(codes + 1 + rows * W);
  }

  get bytes(): number {
    return this.#d.byteLength;
  }

  /** Results held for test `c`. */
  length(c: number): number {
    return this.#d[c + 1]! - this.#d[c]!;
  }

  #at(c: number, i: number): number {
    return this.codes + 1 + (this.#d[c]! + i) * W;
  }

  ev(c: number, i: number): number {
    return this.#d[this.#at(c, i)]!;
  }
  arr(c: number, i: number): number {
    return this.#d[this.#at(c, i) + 1]!;
  }
  val(c: number, i: number): number {
    return this.#d[this.#at(c, i) + 2]!;
  }
  #src(c: number, i: number): number {
    return this.#d[this.#at(c, i) + 3]!;
  }

  /** Silver keeps the first-arrived copy of (event time, source, test); returns false for a duplicate. */
  insert(c: number, ev: number, arr: number, val: number, src: number): boolean {
    for (let i = this.length(c) - 1; i >= 0; i--) {
      if (this.ev(c, i) < ev) break;
      if (this.ev(c, i) === ev && this.#src(c, i) === src) {
        if (this.arr(c, i) <= arr) return false;
        this.#remove(c, i, 1);
        break;
      }
    }
    const h = this.codes + 1;
    const total = this.#d[this.codes]!;
    if (h + (total + 1) * W > this.#d.length) {
      const b = new Float64Array(h + (total + Math.max(GROW, total >> 2)) * W);
      b.set(this.#d.subarray(0, h + total * W));
      this.#d = b;
    }
    let at = this.length(c);
    while (
      at > 0 &&
      LabTable.#after(this.ev(c, at - 1), this.arr(c, at - 1), this.val(c, at - 1), ev, arr, val)
    )
      at--;
    const p = this.#at(c, at);
    this.#d.copyWithin(p + W, p, h + total * W);
    this.#d[p] = ev;
    this.#d[p + 1] = arr;
    this.#d[p + 2] = val;
    this.#d[p + 3] = src;
    for (let k = c + 1; k <= this.codes; k++) this.#d[k] = this.#d[k]! + 1;
    return true;
  }

  static #after(e1: number, a1: number, v1: number, e2: number, a2: number, v2: number): boolean {
    return e1 > e2 || (e1 === e2 && (a1 > a2 || (a1 === a2 && v1 > v2)));
  }

  /** Removes k results of test c from index i. */
  #remove(c: number, i: number, k: number): void {
    const total = this.#d[this.codes]!;
    const p = this.#at(c, i);
    this.#d.copyWithin(p, p + k * W, this.codes + 1 + total * W);
    for (let j = c + 1; j <= this.codes; j++) this.#d[j] = this.#d[j]! - k;
  }

  /**
   * Forgets results of test c older than `before` except the first two (the baseline of
   * delta_from_baseline) and the last `keepLast` (last and rate_of_change look back two visible results).
   */
  evict(c: number, before: number, keepLast: number): void {
    const end = this.length(c) - keepLast;
    let r = 2;
    for (; r < end; r++) {
      if (this.ev(c, r) >= before) break;
    }
    if (r <= 2) return;
    this.#remove(c, 2, r - 2);
  }

  /** Per test, as the snapshot stores it (the format of the one-array-per-test layout before). */
  toState(): LabState[] {
    return Array.from({ length: this.codes }, (_, c) => {
      const p = this.#at(c, 0);
      return { n: this.length(c), data: this.#d.slice(p, p + this.length(c) * W) };
    });
  }

  static fromState(codes: number, states: readonly LabState[]): LabTable {
    const total = states.reduce((a, s) => a + s.n, 0);
    const t = new LabTable(codes, total);
    let row = 0;
    for (let c = 0; c < codes; c++) {
      t.#d[c] = row;
      const s = states[c];
      if (s && s.n > 0) {
        t.#d.set(s.data.subarray(0, s.n * W), codes + 1 + row * W);
        row += s.n;
      }
    }
    t.#d[codes] = row;
    return t;
  }
}
