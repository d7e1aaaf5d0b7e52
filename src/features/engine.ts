import { durationMs, type Feature, type FeatureSet, windowMs } from './definition.js';
import { type LabState, LabTable } from './labs.js';
import { DAY_MS, HOUR_MS, max, mean, min, slope, std, upperBound, variance } from './ops.js';
import { type RingState, VitalsRing } from './ring.js';

/**
 * A patient's point-in-time features, computed online exactly as pipelines/ops.compute computes them
 * offline (docs/actors.md#features). Events go in one at a time (O(1) amortized: a row appended to a
 * ring buffer); the feature vector is computed when asked, at any t the retained history covers.
 */

export interface DrugInteraction {
  readonly drugs: readonly string[];
  readonly flag: string;
}

export type MedAction = 'start' | 'stop' | 'dose' | 'change';
const ACTION_ORDER: Readonly<Record<MedAction, number>> = { start: 0, change: 1, dose: 2, stop: 3 };

/** Enrollment context (contracts/enrollment.schema.json); the static features read it. */
export interface PatientContext {
  readonly enrollment_date?: string | null;
  readonly age?: number | null;
  readonly sex?: string | null;
  readonly height_cm?: number | null;
  readonly weight_kg?: number | null;
  readonly comorbidities?: readonly string[] | null;
  readonly arm_role?: string | null;
}

enum K {
  VitalStat = 0,
  LabLast,
  LabDelta,
  LabRate,
  LabMissing,
  Instability,
  ActiveCount,
  InteractionCount,
  InteractionFlag,
  AeCount,
  Static,
  DaysSince,
}

interface Instr {
  readonly kind: K;
  readonly op: Feature['op'];
  /** Signal index (vitals or labs), or the interaction-flag's name. */
  readonly index: number;
  readonly windowMs: number;
  readonly name: string;
  readonly signal: string;
}

/** The feature set compiled once: which signals to keep, how long, and one instruction per feature. */
export class FeaturePlan {
  readonly fs: FeatureSet;
  readonly vitalSignals: readonly string[];
  readonly labCodes: readonly string[];
  readonly instr: readonly Instr[];
  readonly baselineMs: number;
  readonly doseMs: number;
  readonly vitalRetentionMs: number;
  readonly labRetentionMs: number;
  readonly instability: readonly number[];
  readonly interactions: readonly DrugInteraction[];
  /** Per vital signal: indices into instr of its window features, and its longest window. */
  readonly vitalInstr: ReadonlyArray<readonly number[]>;
  readonly vitalSpan: readonly number[];

  constructor(fs: FeatureSet, interactions: readonly DrugInteraction[], slackMs = 0) {
    this.fs = fs;
    this.interactions = interactions;
    this.baselineMs = durationMs(fs.settings.baseline_window);
    this.doseMs = durationMs(fs.settings.dose_active_window);
    const vitals: string[] = [];
    const labs: string[] = [];
    const add = (list: string[], s: string): number => {
      const i = list.indexOf(s);
      if (i >= 0) return i;
      list.push(s);
      return list.length - 1;
    };
    for (const s of fs.settings.instability_signals) add(vitals, s);
    const instr: Instr[] = [];
    let labWindow = 0;
    let vitalWindow = durationMs('1h');
    for (const f of fs.features) {
      const w = windowMs(fs, f) ?? 0;
      const base = { op: f.op, windowMs: w, name: f.name, signal: f.signal };
      if (f.source === 'vitals') {
        vitalWindow = Math.max(vitalWindow, w);
        instr.push({ ...base, kind: K.VitalStat, index: add(vitals, f.signal) });
      } else if (f.source === 'labs') {
        const index = add(labs, f.signal);
        labWindow = Math.max(labWindow, w);
        const kind = (
          { last: K.LabLast, delta_from_baseline: K.LabDelta, rate_of_change: K.LabRate } as const
        )[f.op as 'last'];
        if (f.op === 'missing_flag') instr.push({ ...base, kind: K.LabMissing, index });
        else if (kind !== undefined && w === 0) instr.push({ ...base, kind, index });
        else throw new Error(`${f.name}: op ${f.op} with window ${f.window} is not defined for labs`);
      } else if (f.source === 'medications') {
        const kind = { active_count: K.ActiveCount, interaction_count: K.InteractionCount }[
          f.op as 'active_count'
        ];
        if (f.op === 'interaction_flag') instr.push({ ...base, kind: K.InteractionFlag, index: -1 });
        else if (kind !== undefined) instr.push({ ...base, kind, index: -1 });
        else throw new Error(`${f.name}: op ${f.op} does not apply to medications`);
      } else if (f.source === 'adverse_events') {
        instr.push({ ...base, kind: K.AeCount, index: -1 });
      } else if (f.source === 'enrollment') {
        instr.push({ ...base, kind: f.op === 'days_since' ? K.DaysSince : K.Static, index: -1 });
      } else if (f.op === 'instability_score') {
        instr.push({ ...base, kind: K.Instability, index: -1 });
      } else {
        throw new Error(`${f.name}: op ${f.op} is not defined for source ${f.source}`);
      }
    }
    this.vitalSignals = vitals;
    this.labCodes = labs;
    this.instr = instr;
    this.instability = fs.settings.instability_signals.map((s) => vitals.indexOf(s));
    this.vitalInstr = vitals.map((_, s) =>
      instr.flatMap((x, i) => (x.kind === K.VitalStat && x.index === s ? [i] : [])),
    );
    this.vitalSpan = vitals.map((_, s) =>
      Math.max(
        HOUR_MS,
        ...instr.filter((x) => x.kind === K.VitalStat && x.index === s).map((x) => x.windowMs),
      ),
    );
    this.vitalRetentionMs = Math.max(vitalWindow, this.baselineMs) + slackMs;
    this.labRetentionMs = labWindow + slackMs;
  }

  vitalIndex(signal: string): number {
    return this.vitalSignals.indexOf(signal);
  }

  labIndex(code: string): number {
    return this.labCodes.indexOf(code);
  }
}

interface MedEvent {
  ev: number;
  drug: string;
  action: MedAction;
  end: number | null;
  src: number;
}

interface Baseline {
  mean: number;
  std: number;
  n: number;
}

/** Plain data with typed arrays and NaN kept as they are: snapshots are v8-serialized (binary). */
export interface PatientFeaturesState {
  v: 2;
  context: PatientContext;
  sources: string[];
  vitals: RingState;
  first: Float64Array;
  frozen: Array<Baseline | null>;
  labs: LabState[];
  meds: MedEvent[];
  ae: Array<[number, number, number, string]>;
  latest: number;
  latestVital: number;
  latestLab: number;
}

/** Scratch arrays shared by every patient of a thread: computing is synchronous, so one set suffices. */
let scratchT = new Float64Array(512);
let scratchV = new Float64Array(512);

export class PatientFeatures {
  readonly plan: FeaturePlan;
  context: PatientContext;
  #sources: string[] = [];
  #vitals: VitalsRing;
  /** First observation time per vital signal (the baseline window starts there). */
  #first: Float64Array;
  /** Baseline statistics, fixed once rows of the baseline window leave the ring. */
  #frozen: Array<Baseline | null>;
  #labs: LabTable;
  #meds: MedEvent[] = [];
  #ae: Array<[number, number, number, string]> = [];
  #latest = Number.NaN;
  /**
   * Eviction reads the latest time of its own topic only, so what a window retains depends on the
   * order of its own topic (one Kafka partition, ordered), never on how topics interleave: a replay
   * with different batch boundaries ends in the same state.
   */
  #latestVital = Number.NaN;
  #latestLab = Number.NaN;

  constructor(plan: FeaturePlan, context: PatientContext = {}) {
    this.plan = plan;
    this.context = context;
    this.#vitals = new VitalsRing(plan.vitalSignals.length);
    this.#first = new Float64Array(plan.vitalSignals.length).fill(Number.NaN);
    this.#frozen = plan.vitalSignals.map(() => null);
    this.#labs = new LabTable(plan.labCodes.length);
  }

  /** Latest event time applied (vitals, labs, medications); NaN before the first. */
  get latestEventTime(): number {
    return this.#latest;
  }

  get bytes(): number {
    let b = this.#vitals.bytes + this.#first.byteLength;
    b += this.#labs.bytes;
    return b + this.#meds.length * 64 + this.#ae.length * 48;
  }

  #source(name: string): number {
    let i = this.#sources.indexOf(name);
    if (i < 0) {
      i = this.#sources.length;
      this.#sources.push(name);
    }
    return i;
  }

  /**
   * One vital-sign set: `values` aligned to plan.vitalSignals, NaN where not measured. A second set
   * with the same instant and source is a duplicate (silver keeps the first); returns false then.
   */
  addVitals(time: number, source: string, values: ArrayLike<number>): boolean {
    const src = this.#source(source);
    const ring = this.#vitals;
    const hi = ring.upperBound(time);
    for (let i = hi - 1; i >= 0 && ring.time(i) === time; i--) if (ring.source(i) === src) return false;
    let any = false;
    for (let s = 0; s < ring.signals; s++) {
      const v = values[s]!;
      if (Number.isNaN(v)) continue;
      any = true;
      if (!(this.#first[s]! <= time)) this.#first[s] = time;
    }
    if (!any) return false;
    ring.insert(time, src, values);
    this.#touch(time);
    if (!(this.#latestVital >= time)) this.#latestVital = time;
    this.#evictVitals();
    return true;
  }

  addLab(code: string, ev: number, arrival: number, value: number, source: string): boolean {
    const i = this.plan.labIndex(code);
    if (i < 0) return false;
    const labs = this.#labs;
    if (!labs.insert(i, ev, arrival, value, this.#source(source))) return false;
    this.#touch(ev);
    if (!(this.#latestLab >= ev)) this.#latestLab = ev;
    labs.evict(i, this.#latestLab - this.plan.labRetentionMs, 4);
    return true;
  }

  addMedication(ev: number, drug: string, action: MedAction, end: number | null, source: string): boolean {
    const src = this.#source(source);
    const d = drug.trim().toLowerCase();
    if (this.#meds.some((m) => m.ev === ev && m.src === src && m.drug === d && m.action === action))
      return false;
    this.#meds.push({ ev, drug: d, action, end, src });
    this.#meds.sort((a, b) => a.ev - b.ev || ACTION_ORDER[a.action] - ACTION_ORDER[b.action]);
    // Only the latest event of a drug decides; a few older ones serve as-of queries slightly back in time.
    const perDrug = this.#meds.filter((m) => m.drug === d);
    if (perDrug.length > 4) this.#meds.splice(this.#meds.indexOf(perDrug[0]!), 1);
    this.#touch(ev);
    return true;
  }

  addAdverseEvent(ev: number, report: number, eventType: string, source: string): boolean {
    const src = this.#source(source);
    const dup = this.#ae.findIndex((a) => a[0] === ev && a[2] === src && a[3] === eventType);
    if (dup >= 0) {
      if (this.#ae[dup]![1] <= report) return false;
      this.#ae.splice(dup, 1);
    }
    this.#ae.push([ev, report, src, eventType]);
    return true;
  }

  #touch(t: number): void {
    if (!(this.#latest >= t)) this.#latest = t;
  }

  #evictVitals(): void {
    const ring = this.#vitals;
    const cut = this.#latestVital - this.plan.vitalRetentionMs;
    if (ring.length === 0 || ring.time(0) > cut) return;
    const n = ring.upperBound(cut);
    for (let s = 0; s < ring.signals; s++) {
      if (this.#frozen[s] === null && this.#first[s]! <= cut)
        this.#frozen[s] = this.#baseline(s, Number.POSITIVE_INFINITY);
    }
    ring.dropFront(n);
  }

  /** Mean and sample std of the signal over [first, first + baseline), visible at t. */
  #baseline(s: number, t: number): Baseline {
    const frozen = this.#frozen[s];
    if (frozen) return frozen;
    const first = this.#first[s]!;
    if (!(first <= t)) return { mean: Number.NaN, std: Number.NaN, n: 0 };
    const ring = this.#vitals;
    const end = Math.min(first + this.plan.baselineMs - 0.5, t);
    const lo = ring.upperBound(first - 0.5);
    const hi = ring.upperBound(end);
    let n = 0;
    let constant = true;
    for (let i = lo; i < hi; i++) {
      const v = ring.value(i, s);
      if (Number.isNaN(v)) continue;
      if (n > 0 && v !== scratchV[0]) constant = false;
      scratchV[n++] = v;
    }
    // A constant baseline has std 0, decided on the values (as pipelines/ops.py): the float std of seven
    // readings of 36.8 is 7.7e-15, and dividing by it would make the instability score 1e13.
    const sd = n >= 2 && constant ? 0 : std(scratchV, 0, n);
    return { mean: mean(scratchV, 0, n), std: sd, n };
  }

  /** Gathers the signal's observations with time in (t - span, t] into the scratch arrays. */
  #gather(s: number, t: number, span: number): number {
    const ring = this.#vitals;
    const hi = ring.upperBound(t);
    const lo = ring.upperBound(t - span);
    if (hi - lo > scratchT.length) {
      scratchT = new Float64Array((hi - lo) * 2);
      scratchV = new Float64Array((hi - lo) * 2);
    }
    let n = 0;
    for (let i = lo; i < hi; i++) {
      const v = ring.value(i, s);
      if (Number.isNaN(v)) continue;
      const tm = ring.time(i);
      // Same-instant observations are ordered by value (pipelines/ops.Series), so "last" agrees.
      let j = n;
      while (j > 0 && scratchT[j - 1] === tm && scratchV[j - 1]! > v) {
        scratchT[j] = scratchT[j - 1]!;
        scratchV[j] = scratchV[j - 1]!;
        j--;
      }
      scratchT[j] = tm;
      scratchV[j] = v;
      n++;
    }
    return n;
  }

  /** The feature vector at t, in the definition's order, written into `out` (NaN = null). */
  compute(t: number, out: Float64Array = new Float64Array(this.plan.instr.length)): Float64Array {
    const plan = this.plan;
    const instr = plan.instr;
    const hourMean = new Float64Array(plan.vitalSignals.length).fill(Number.NaN);
    for (let s = 0; s < plan.vitalSignals.length; s++) {
      const n = this.#gather(s, t, plan.vitalSpan[s]!);
      const lo1h = upperBound(scratchT, 0, n, t - HOUR_MS);
      hourMean[s] = mean(scratchV, lo1h, n);
      for (const k of plan.vitalInstr[s]!) {
        const x = instr[k]!;
        const lo = upperBound(scratchT, 0, n, t - x.windowMs);
        out[k] = vitalStat(x.op, lo, n, t);
      }
    }
    let active: Set<string> | undefined;
    let hits: DrugInteraction[] | undefined;
    for (let k = 0; k < instr.length; k++) {
      const x = instr[k]!;
      switch (x.kind) {
        case K.VitalStat:
          break;
        case K.LabLast:
        case K.LabDelta:
        case K.LabRate:
        case K.LabMissing:
          out[k] = labFeature(x, this.#labs, t);
          break;
        case K.Instability:
          out[k] = this.#instability(t, hourMean);
          break;
        case K.ActiveCount:
        case K.InteractionCount:
        case K.InteractionFlag: {
          active ??= this.activeDrugs(t);
          hits ??= plan.interactions.filter((ix) => ix.drugs.every((d) => active!.has(d)));
          if (x.kind === K.ActiveCount) out[k] = active.size;
          else if (x.kind === K.InteractionCount) out[k] = hits.length;
          else out[k] = hits.some((ix) => ix.flag === x.signal) ? 1 : 0;
          break;
        }
        case K.AeCount: {
          let c = 0;
          for (const a of this.#ae) if (a[0] <= t && a[1] <= t) c++;
          out[k] = c;
          break;
        }
        case K.Static:
          out[k] = staticFeature(x.signal, this.context);
          break;
        case K.DaysSince: {
          const start = enrollmentMs(this.context);
          out[k] = start === undefined ? Number.NaN : (t - start) / DAY_MS;
          break;
        }
      }
    }
    return out;
  }

  #instability(t: number, hourMean: Float64Array): number {
    let total = 0;
    let terms = 0;
    for (const s of this.plan.instability) {
      const b = this.#baseline(s, t);
      const recent = hourMean[s]!;
      if (b.n < 2 || !(b.std > 0) || Number.isNaN(recent)) continue;
      total += Math.abs(recent - b.mean) / b.std;
      terms++;
    }
    return terms ? total : Number.NaN;
  }

  /** Drugs active at t: the latest event at or before t decides (stop ends it, a dose lasts a window). */
  activeDrugs(t: number): Set<string> {
    const latest = new Map<string, MedEvent>();
    for (const m of this.#meds) if (m.ev <= t) latest.set(m.drug, m);
    const active = new Set<string>();
    for (const [drug, m] of latest) {
      if (m.action === 'stop') continue;
      const end = m.end ?? (m.action === 'dose' ? m.ev + this.plan.doseMs : null);
      if (end === null || end > t) active.add(drug);
    }
    return active;
  }

  toState(): PatientFeaturesState {
    return {
      v: 2,
      context: this.context,
      sources: [...this.#sources],
      vitals: this.#vitals.toState(),
      first: this.#first.slice(),
      frozen: this.#frozen.map((b) => (b ? { ...b } : null)),
      labs: this.#labs.toState(),
      meds: this.#meds.map((m) => ({ ...m })),
      ae: this.#ae.map((a) => [...a]),
      latest: this.#latest,
      latestVital: this.#latestVital,
      latestLab: this.#latestLab,
    };
  }

  static fromState(plan: FeaturePlan, s: PatientFeaturesState): PatientFeatures {
    const p = new PatientFeatures(plan, s.context);
    p.#sources = [...s.sources];
    p.#vitals = VitalsRing.fromState(s.vitals, plan.vitalSignals.length);
    p.#first = s.first.slice();
    p.#frozen = s.frozen.map((b) => (b ? { ...b } : null));
    p.#labs = LabTable.fromState(plan.labCodes.length, s.labs);
    p.#meds = s.meds.map((m) => ({ ...m }));
    p.#ae = s.ae.map((a) => [...a]);
    p.#latest = s.latest;
    p.#latestVital = s.latestVital;
    p.#latestLab = s.latestLab;
    return p;
  }
}

function vitalStat(op: Feature['op'], lo: number, n: number, t: number): number {
  switch (op) {
    case 'mean':
      return mean(scratchV, lo, n);
    case 'std':
      return std(scratchV, lo, n);
    case 'var':
      return variance(scratchV, lo, n);
    case 'min':
      return min(scratchV, lo, n);
    case 'max':
      return max(scratchV, lo, n);
    case 'slope':
      return slope(scratchT, scratchV, lo, n, t);
    case 'count':
      return n - lo;
    case 'last':
      return n > lo ? scratchV[n - 1]! : Number.NaN;
    case 'missing_flag':
      return n > lo ? 0 : 1;
    default:
      throw new Error(`op ${op} is not a window statistic`);
  }
}

function labFeature(x: Instr, s: LabTable, t: number): number {
  // Visible at t: event time <= t and arrived by t. The series is short (daily results).
  const c = x.index;
  const hi = upperBoundBy(s, c, t);
  if (x.kind === K.LabMissing) {
    for (let i = hi - 1; i >= 0 && s.ev(c, i) > t - x.windowMs; i--) if (s.arr(c, i) <= t) return 0;
    return 1;
  }
  let last = -1;
  let prev = -1;
  for (let i = hi - 1; i >= 0; i--) {
    if (s.arr(c, i) > t) continue;
    if (last < 0) last = i;
    else {
      prev = i;
      break;
    }
  }
  if (last < 0) return Number.NaN;
  if (x.kind === K.LabLast) return s.val(c, last);
  if (x.kind === K.LabDelta) {
    let first = 0;
    while (s.arr(c, first) > t) first++;
    return s.val(c, last) - s.val(c, first);
  }
  if (prev < 0) return Number.NaN;
  const dt = (s.ev(c, last) - s.ev(c, prev)) / HOUR_MS;
  return dt === 0 ? Number.NaN : (s.val(c, last) - s.val(c, prev)) / dt;
}

function upperBoundBy(s: LabTable, c: number, t: number): number {
  let a = 0;
  let b = s.length(c);
  while (a < b) {
    const m = (a + b) >>> 1;
    if (s.ev(c, m) <= t) a = m + 1;
    else b = m;
  }
  return a;
}

function staticFeature(name: string, ctx: PatientContext): number {
  const num = (v: unknown): number => (typeof v === 'number' ? v : Number.NaN);
  switch (name) {
    case 'age':
      return num(ctx.age);
    case 'sex':
      return ctx.sex === 'M' ? 1 : ctx.sex === 'F' ? 0 : Number.NaN;
    case 'bmi': {
      const h = num(ctx.height_cm);
      const w = num(ctx.weight_kg);
      return h > 0 && w > 0 ? w / (h / 100) ** 2 : Number.NaN;
    }
    case 'comorbidities':
      return Array.isArray(ctx.comorbidities) ? ctx.comorbidities.length : Number.NaN;
    case 'arm_role':
      return ctx.arm_role === 'treatment' ? 1 : ctx.arm_role === 'control' ? 0 : Number.NaN;
    default:
      throw new Error(`unknown static signal ${name}`);
  }
}

function enrollmentMs(ctx: PatientContext): number | undefined {
  const d = ctx.enrollment_date;
  if (!d) return undefined;
  const ms = Date.parse(d.length === 10 ? `${d}T00:00:00Z` : d);
  return Number.isNaN(ms) ? undefined : ms;
}
