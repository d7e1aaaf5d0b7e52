/**
 * One lab test's results, ordered by (event time, arrival time, value) like pipelines/ops.Series.
 * Labs arrive daily and late (report time), so the point-in-time filter needs the arrival column; the
 * series is small and kept in growable typed arrays.
 */
export interface LabState {
  ev: number[];
  arr: number[];
  val: number[];
  src: number[];
}

export class LabSeries {
  #ev = new Float64Array(4);
  #arr = new Float64Array(4);
  #val = new Float64Array(4);
  #src = new Uint8Array(4);
  #len = 0;

  get length(): number {
    return this.#len;
  }

  get bytes(): number {
    return this.#ev.byteLength + this.#arr.byteLength + this.#val.byteLength + this.#src.byteLength;
  }

  ev(i: number): number {
    return this.#ev[i]!;
  }
  arr(i: number): number {
    return this.#arr[i]!;
  }
  val(i: number): number {
    return this.#val[i]!;
  }

  /** Silver keeps the first-arrived copy of (event time, source, test); returns false for a duplicate. */
  insert(ev: number, arr: number, val: number, src: number): boolean {
    for (let i = this.#len - 1; i >= 0; i--) {
      if (this.#ev[i]! < ev) break;
      if (this.#ev[i] === ev && this.#src[i] === src) {
        if (this.#arr[i]! <= arr) return false;
        this.#remove(i);
        break;
      }
    }
    if (this.#len === this.#ev.length) this.#grow();
    let at = this.#len;
    while (
      at > 0 &&
      LabSeries.#after(this.#ev[at - 1]!, this.#arr[at - 1]!, this.#val[at - 1]!, ev, arr, val)
    )
      at--;
    this.#ev.copyWithin(at + 1, at, this.#len);
    this.#arr.copyWithin(at + 1, at, this.#len);
    this.#val.copyWithin(at + 1, at, this.#len);
    this.#src.copyWithin(at + 1, at, this.#len);
    this.#ev[at] = ev;
    this.#arr[at] = arr;
    this.#val[at] = val;
    this.#src[at] = src;
    this.#len++;
    return true;
  }

  static #after(e1: number, a1: number, v1: number, e2: number, a2: number, v2: number): boolean {
    return e1 > e2 || (e1 === e2 && (a1 > a2 || (a1 === a2 && v1 > v2)));
  }

  #remove(i: number): void {
    this.#ev.copyWithin(i, i + 1, this.#len);
    this.#arr.copyWithin(i, i + 1, this.#len);
    this.#val.copyWithin(i, i + 1, this.#len);
    this.#src.copyWithin(i, i + 1, this.#len);
    this.#len--;
  }

  #grow(): void {
    const cap = this.#ev.length * 2;
    const grow = <T extends Float64Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.#ev = grow(this.#ev, (n) => new Float64Array(n));
    this.#arr = grow(this.#arr, (n) => new Float64Array(n));
    this.#val = grow(this.#val, (n) => new Float64Array(n));
    this.#src = grow(this.#src, (n) => new Uint8Array(n));
  }

  /**
   * Forgets results older than `before` except the first two (the baseline of delta_from_baseline)
   * and the last `keepLast` (last and rate_of_change look back two visible results).
   */
  evict(before: number, keepLast: number): void {
    const end = this.#len - keepLast;
    let w = 2;
    let r = 2;
    for (; r < end; r++) {
      if (this.#ev[r]! >= before) break;
    }
    if (r === 2) return;
    for (let i = r; i < this.#len; i++, w++) {
      this.#ev[w] = this.#ev[i]!;
      this.#arr[w] = this.#arr[i]!;
      this.#val[w] = this.#val[i]!;
      this.#src[w] = this.#src[i]!;
    }
    this.#len = w;
  }

  toState(): LabState {
    const n = this.#len;
    return {
      ev: Array.from(this.#ev.subarray(0, n)),
      arr: Array.from(this.#arr.subarray(0, n)),
      val: Array.from(this.#val.subarray(0, n)),
      src: Array.from(this.#src.subarray(0, n)),
    };
  }

  static fromState(s: LabState): LabSeries {
    const l = new LabSeries();
    for (let i = 0; i < s.ev.length; i++) l.insert(s.ev[i]!, s.arr[i]!, s.val[i]!, s.src[i]!);
    return l;
  }
}
