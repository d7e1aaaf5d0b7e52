import type { Interaction } from '../contracts/interactions.js';
import { SCHEMA_VERSION } from '../contracts/types.js';
import { AE, type Baseline, L, LAB_TESTS, type PatientProfile } from './model.js';
import type { Outbox } from './outbox.js';
import { AE_TYPES, type AeType, type SimulatorParams } from './params.js';
import type { LabRef, Reference } from './reference.js';
import { Rng } from './rng.js';
import { DAY, HOUR, IsoFormatter, iso, MINUTE } from './time.js';

/**
 * The trial's physiology, one 5-minute tick at a time. Each patient carries baselines, AR(1)
 * physiological variability, a monitor that goes on and off, medication regimens, and latent
 * pathological processes. A process ramps 24-48 h (the prodrome) until a clinical definition is met
 * (Hy's law / CTCAE ALT, KDIGO, CTCAE ANC, sustained vital-sign thresholds); some abort before,
 * some come with no prodrome. Events are only ever *detected* from the simulated values.
 */
export interface ScenarioRuntime {
  name: string;
  siteDrift?: {
    siteIndex: number;
    fromMs: number;
    offsets: { systolic: number; diastolic: number; spo2: number; temperature: number; heart_rate: number };
  };
  conceptDrift?: {
    fromMs: number;
    prodromeHours: [number, number];
    vitalScale: number;
    treatmentRrScale: Float64Array;
  };
}

export interface Episode {
  patient_id: string;
  type: AeType;
  onset: string;
  /** The process was meant to reach the clinical definition (false: a prodrome that resolves). */
  event_bound: boolean;
  abrupt: boolean;
  peak: number;
  /** Detected event time, when the definition was met. */
  event_timestamp?: string;
  ctcae_grade?: number;
}

const N_TYPES = AE_TYPES.length;
const TICK = 5 * MINUTE;
const TICKS_PER_DAY = DAY / TICK;
const HEP = AE.hepatotoxicity;
const AKI = AE.acute_kidney_injury;
const HYPO = AE.hypotension;
const TACHY = AE.tachyarrhythmia;
const NEUTRO = AE.neutropenia;
const HEMATOLOGY = new Set(['WBC', 'NEUT', 'HGB', 'PLAT']);
const SEVERITY = ['', 'mild', 'moderate', 'severe', 'life_threatening', 'fatal'] as const;

class Proc {
  constructor(
    readonly type: number,
    readonly onset: number,
    /** Prodrome length: s reaches 1 (the definition) this long after onset. */
    readonly length: number,
    readonly peak: number,
    readonly plateauEnd: number,
    readonly end: number,
    readonly vscale: number,
    readonly hys: boolean,
    readonly episode: Episode,
  ) {}
  get rampEnd(): number {
    return this.onset + this.length * this.peak ** (2 / 3);
  }
  s(t: number): number {
    if (t <= this.onset) return 0;
    const r = this.rampEnd;
    if (t < r) return ((t - this.onset) / this.length) ** 1.5;
    if (t < this.plateauEnd) return this.peak;
    if (t < this.end) return (this.peak * (this.end - t)) / (this.end - this.plateauEnd);
    return 0;
  }
}

interface Pending {
  at: number;
  topic: 'lab-results' | 'adverse-events';
  value: string;
}

interface Regimen {
  drug: number;
  name: string;
  dosage: number;
  unit: string;
  route: string;
  frequency: 'QD' | 'BID' | 'TID' | 'Q8H' | 'QW';
  /** Course end (ms), or Infinity for a chronic regimen. */
  until: number;
  weekday: number;
  drugClass?: string;
}

/** The mutable state of one patient. Fields, not maps: this is the hot path. */
class PatientState {
  readonly rng: Rng;
  readonly phaseMs: number;
  readonly vitalsHead: string;
  readonly labHead: string;
  readonly medHead: string;
  readonly scaleHead: string;
  readonly correlationId: string;
  arHr = 0;
  arSbp = 0;
  arDbp = 0;
  arTemp = 0;
  arSpo2 = 0;
  arRr = 0;
  monitorOffUntil = 0;
  enrolled = false;
  procs: Proc[] = [];
  readonly lastEvent = new Float64Array(N_TYPES).fill(Number.NEGATIVE_INFINITY);
  readonly activeType = new Uint8Array(N_TYPES);
  belowRun = 0;
  aboveRun = 0;
  readonly ddi = new Float64Array(N_TYPES).fill(1);
  readonly drugs: Uint8Array;
  regimens: Regimen[] = [];
  pending: Pending[] = [];
  /** Creatinine draws (time, value) for KDIGO: baseline and the last 48 h. */
  creatBaseline = Number.NaN;
  creatHist: number[] = [];
  // Vital-sign deltas of the active processes at the current tick.
  dHr = 0;
  dSbp = 0;
  dDbp = 0;
  dTemp = 0;
  dSpo2 = 0;
  dRr = 0;
  dWeight = 0;

  constructor(
    readonly prof: PatientProfile,
    seed: number,
    nDrugs: number,
    correlationId: string,
    trialId: string,
  ) {
    this.rng = new Rng(seed, 1000 + prof.index);
    this.correlationId = correlationId;
    this.phaseMs = this.rng.int(0, 299) * 1000;
    this.drugs = new Uint8Array(nDrugs);
    const env = `","correlation_id":"${correlationId}","schema_version":"${SCHEMA_VERSION}","patient_id":"${prof.id}","trial_id":"${trialId}","site_id":"${prof.site.id}","source":"`;
    this.vitalsHead = `${env}sim:bedside-monitor","timestamp":"`;
    this.labHead = `${env}sim:${prof.site.id.toLowerCase()}-lab","timestamp":"`;
    this.medHead = `${env}sim:emar","timestamp":"`;
    this.scaleHead = `${env}sim:scale","timestamp":"`;
  }
}

interface TypeSig {
  hr: number;
  sbp: number;
  dbp: number;
  temp: number;
  spo2: number;
  rr: number;
  weight: number;
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : Math.min(x, hi);
}

/** Deviation of a defining variable: linear to the target at s = 1, then `span` per unit beyond. */
function dev(s: number, base: number, target: number, span: number): number {
  return s <= 1 ? s * (target - base) : target - base + (s - 1) * span;
}

function sig3(x: number): number {
  if (x === 0) return 0;
  const mag = 10 ** (2 - Math.floor(Math.log10(Math.abs(x))));
  return Math.round(x * mag) / mag;
}

export interface EngineOptions {
  params: SimulatorParams;
  reference: Reference;
  interactions: readonly Interaction[];
  patients: readonly PatientProfile[];
  seed: number;
  startMs: number;
  endMs: number;
  scenario: ScenarioRuntime;
  correlationId: string;
}

export class Engine {
  readonly #p: SimulatorParams;
  readonly #ref: Reference;
  readonly #startMs: number;
  readonly #endMs: number;
  readonly #scenario: ScenarioRuntime;
  readonly #states: PatientState[];
  readonly #fmt = new IsoFormatter();
  readonly #drugIndex = new Map<string, number>();
  readonly #interactions: { drugs: number[]; effects: Float64Array }[];
  readonly #sigs: TypeSig[];
  readonly #triggers: Float64Array;
  /** Circadian deltas per site and UTC tick of day: [hr, sbp, dbp, temp, rr]. */
  readonly #circ: Float64Array[];
  readonly #arK: Float64Array;
  readonly #pOff: Float64Array;
  readonly #meanGapTicks: Float64Array;
  readonly episodes: Episode[] = [];
  readonly counts = { vitals: 0, labs: 0, medications: 0, adverse_events: 0 };

  constructor(o: EngineOptions) {
    this.#p = o.params;
    this.#ref = o.reference;
    this.#startMs = o.startMs;
    this.#endMs = o.endMs;
    this.#scenario = o.scenario;
    const p = o.params;
    const names = [
      p.study_drug.name,
      p.control_drug.name,
      ...Object.keys(p.chronic),
      ...Object.keys(p.courses),
    ];
    for (const n of names) if (!this.#drugIndex.has(n)) this.#drugIndex.set(n, this.#drugIndex.size);
    this.#interactions = o.interactions
      .filter((i) => i.drugs.every((d) => this.#drugIndex.has(d)))
      .map((i) => {
        const effects = new Float64Array(N_TYPES).fill(1);
        for (const [t, v] of Object.entries(i.effects)) {
          const k = AE[t as AeType];
          if (k !== undefined) effects[k] = v;
        }
        return { drugs: i.drugs.map((d) => this.#drugIndex.get(d)!), effects };
      });
    this.#sigs = AE_TYPES.map((t) => {
      const s = p.events.types[t].signature;
      return {
        hr: s.heart_rate ?? 0,
        sbp: s.systolic ?? 0,
        dbp: s.diastolic ?? 0,
        temp: s.temperature ?? 0,
        spo2: s.spo2 ?? 0,
        rr: s.respiratory_rate ?? 0,
        weight: s.weight ?? 0,
      };
    });
    this.#triggers = new Float64Array(N_TYPES * N_TYPES).fill(1);
    for (const [target, by] of Object.entries(p.events.triggers)) {
      for (const [cause, m] of Object.entries(by ?? {})) {
        this.#triggers[AE[target as AeType] * N_TYPES + AE[cause as AeType]] = m ?? 1;
      }
    }
    const c = p.vitals.circadian;
    this.#circ = p.sites.map((site) => {
      const a = new Float64Array(TICKS_PER_DAY * 5);
      for (let k = 0; k < TICKS_PER_DAY; k++) {
        const localHour = ((((k * 5) / 60 + site.tz_offset_hours) % 24) + 24) % 24;
        const w = (amp: number, peak: number) => amp * Math.cos((2 * Math.PI * (localHour - peak)) / 24);
        a[k * 5] = w(c.heart_rate.amplitude, c.heart_rate.peak_hour);
        a[k * 5 + 1] = w(c.systolic.amplitude, c.systolic.peak_hour);
        a[k * 5 + 2] = w(c.diastolic.amplitude, c.diastolic.peak_hour);
        a[k * 5 + 3] = w(c.temperature.amplitude, c.temperature.peak_hour);
        a[k * 5 + 4] = w(c.respiratory_rate.amplitude, c.respiratory_rate.peak_hour);
      }
      return a;
    });
    const k = Math.sqrt(1 - p.vitals.ar_phi ** 2);
    const ar = p.vitals.ar_sd;
    this.#arK = Float64Array.from(
      [ar.heart_rate, ar.systolic, ar.diastolic, ar.temperature, ar.spo2, ar.respiratory_rate],
      (x) => x * k,
    );
    this.#meanGapTicks = Float64Array.from(p.sites, (s) => s.monitor_gap_minutes / 5);
    this.#pOff = Float64Array.from(
      p.sites,
      (s) => s.monitor_off_fraction / (1 - s.monitor_off_fraction) / (s.monitor_gap_minutes / 5),
    );
    this.#states = o.patients.map(
      (prof) => new PatientState(prof, o.seed, this.#drugIndex.size, o.correlationId, p.trial_id),
    );
  }

  /** Generates everything that happens in [t, t + 5 min) into the outbox. */
  tick(t: number, out: Outbox): void {
    const tickOfDay = Math.floor((((t % DAY) + DAY) % DAY) / TICK);
    const topOfHour = tickOfDay % 12 === 0;
    for (const ps of this.#states) {
      if (!ps.enrolled) {
        if (ps.prof.enrollMs >= t + TICK) continue;
        this.#enroll(ps, ps.prof.enrollMs, out);
      }
      if (ps.pending.length > 0) this.#release(ps, t, out);
      if (topOfHour) this.#hourly(ps, t, out);
      this.#vitals(ps, t, tickOfDay, out);
    }
  }

  /** Reports whose time has come are sent; anything still pending at the end is never sent. */
  #release(ps: PatientState, t: number, out: Outbox): void {
    let i = 0;
    const q = ps.pending;
    while (i < q.length && q[i]!.at <= t) {
      const m = q[i]!;
      out.push(m.topic, ps.prof.id, m.value, m.at);
      if (m.topic === 'lab-results') this.counts.labs++;
      else this.counts.adverse_events++;
      i++;
    }
    if (i > 0) q.splice(0, i);
  }

  #queue(ps: PatientState, item: Pending): void {
    if (item.at >= this.#endMs) return;
    const q = ps.pending;
    let i = q.length;
    while (i > 0 && q[i - 1]!.at > item.at) i--;
    q.splice(i, 0, item);
  }

  #localHour(ps: PatientState, t: number): number {
    return Math.floor((((t / HOUR + ps.prof.site.tz_offset_hours) % 24) + 24) % 24);
  }

  #enroll(ps: PatientState, t: number, out: Outbox): void {
    ps.enrolled = true;
    const p = this.#p;
    const prof = ps.prof;
    const site = prof.site;
    const h =
      site.height_unit === 'IN'
        ? Math.round((prof.baseline.heightCm / 2.54) * 10) / 10
        : Math.round(prof.baseline.heightCm);
    out.push(
      'patient-vitals',
      prof.id,
      `{"event_id":"${ps.rng.uuid()}${ps.vitalsHead.replace('sim:bedside-monitor', 'sim:stadiometer')}${iso(t)}","heart_rate":null,"blood_pressure_systolic":null,"blood_pressure_diastolic":null,"temperature":null,"spo2":null,"height":${h},"height_unit":"${site.height_unit}","visit":"SCREENING"}`,
      t,
    );
    this.counts.vitals++;
    const weekday = Math.floor((t - this.#startMs) / DAY) % 7;
    const study = prof.arm === 'treatment' ? p.study_drug : p.control_drug;
    this.#startRegimen(
      ps,
      t,
      {
        ...study,
        drug: this.#drugIndex.get(study.name)!,
        until: Number.POSITIVE_INFINITY,
        weekday,
        drugClass: study.drug_class,
      },
      out,
    );
    const chronic = new Set<string>();
    for (const c of prof.comorbidities) for (const m of p.comorbidities[c]?.meds ?? []) chronic.add(m);
    for (const name of [...chronic].sort()) {
      const r = p.chronic[name];
      if (r === undefined) continue;
      this.#startRegimen(
        ps,
        t,
        { ...r, name, drug: this.#drugIndex.get(name)!, until: Number.POSITIVE_INFINITY, weekday },
        out,
      );
    }
    this.#drawLabs(ps, t);
  }

  #startRegimen(ps: PatientState, t: number, r: Regimen, out: Outbox): void {
    ps.regimens.push(r);
    ps.drugs[r.drug] = 1;
    this.#updateDdi(ps);
    out.push('medications', ps.prof.id, this.#medMessage(ps, t, r, 'start'), t);
  }

  #updateDdi(ps: PatientState): void {
    ps.ddi.fill(1);
    for (const i of this.#interactions) {
      if (i.drugs.every((d) => ps.drugs[d] === 1))
        for (let k = 0; k < N_TYPES; k++) ps.ddi[k]! *= i.effects[k]!;
    }
  }

  #medMessage(ps: PatientState, t: number, r: Regimen, action: 'start' | 'stop' | 'dose'): string {
    this.counts.medications++;
    const end = action === 'start' && Number.isFinite(r.until) ? `,"end_timestamp":"${iso(r.until)}"` : '';
    const cls = r.drugClass === undefined ? '' : `,"drug_class":${JSON.stringify(r.drugClass)}`;
    return `{"event_id":"${ps.rng.uuid()}${ps.medHead}${iso(t)}","drug_name":"${r.name}","dosage":${action === 'dose' ? r.dosage : r.dosage},"unit":"${r.unit}","route":"${r.route}","frequency":"${r.frequency}","action":"${action}"${end}${cls}}`;
  }

  #hourly(ps: PatientState, t: number, out: Outbox): void {
    const p = this.#p;
    const lh = this.#localHour(ps, t);
    // Medications: course ends, doses due this hour, new courses (decided once a day, 09:00 local).
    let changed = false;
    for (let i = ps.regimens.length - 1; i >= 0; i--) {
      const r = ps.regimens[i]!;
      if (t >= r.until) {
        ps.regimens.splice(i, 1);
        ps.drugs[r.drug] = 0;
        changed = true;
        out.push('medications', ps.prof.id, this.#medMessage(ps, t, r, 'stop'), t);
      }
    }
    if (changed) this.#updateDdi(ps);
    for (const r of ps.regimens) {
      if (!p.dosing_hours[r.frequency].includes(lh)) continue;
      if (r.frequency === 'QW' && Math.floor((t - this.#startMs) / DAY) % 7 !== r.weekday) continue;
      const doseAt = t + ps.phaseMs;
      out.push('medications', ps.prof.id, this.#medMessage(ps, doseAt, r, 'dose'), doseAt);
    }
    if (lh === 9) {
      for (const [name, c] of Object.entries(p.courses)) {
        const d = this.#drugIndex.get(name)!;
        if (ps.drugs[d] === 1) continue;
        if (!ps.rng.chance(c.start_per_day * (ps.prof.arm === 'treatment' ? c.treatment_rr : 1))) continue;
        const until = t + Math.round(ps.rng.uniform(c.days[0], c.days[1])) * DAY;
        this.#startRegimen(ps, t, { ...c, name, drug: d, until, weekday: 0 }, out);
      }
    }
    if (lh === ps.prof.site.lab_draw_hour) this.#drawLabs(ps, t + ps.phaseMs);
    if (lh === p.vitals.weigh_hour) this.#weigh(ps, t + ps.phaseMs, out);
    this.#hazards(ps, t);
  }

  #hazards(ps: PatientState, t: number): void {
    const p = this.#p;
    const cd = this.#scenario.conceptDrift;
    const drifted = cd !== undefined && t >= cd.fromMs;
    const refractory = p.events.refractory_days * DAY;
    for (let k = 0; k < N_TYPES; k++) {
      if (ps.activeType[k] === 1 || t - ps.lastEvent[k]! < refractory) continue;
      let h = ps.prof.hazardFixed[k]! * ps.ddi[k]!;
      for (const pr of ps.procs) h *= this.#triggers[k * N_TYPES + pr.type]!;
      if (drifted && ps.prof.arm === 'treatment') h *= cd.treatmentRrScale[k]!;
      if (!ps.rng.chance(h / 24)) continue;
      this.#startProcess(ps, k, t + ps.rng.int(0, 11) * TICK, drifted);
    }
  }

  #startProcess(ps: PatientState, k: number, onset: number, drifted: boolean): void {
    const e = this.#p.events;
    const rng = ps.rng;
    const cd = this.#scenario.conceptDrift;
    const aborted = rng.chance(e.abort_fraction);
    const abrupt = !aborted && rng.chance(e.abrupt_fraction);
    const [lo, hi] = abrupt
      ? e.abrupt_hours
      : drifted && cd !== undefined
        ? cd.prodromeHours
        : e.prodrome_hours;
    const length = rng.uniform(lo, hi) * HOUR;
    const peak = aborted
      ? rng.uniform(e.abort_peak[0], e.abort_peak[1])
      : rng.uniform(e.overshoot[0], e.overshoot[1]);
    const rampEnd = onset + length * peak ** (2 / 3);
    const plateauEnd = rampEnd + rng.uniform(e.plateau_hours[0], e.plateau_hours[1]) * HOUR;
    const end = plateauEnd + rng.uniform(e.recovery_hours[0], e.recovery_hours[1]) * HOUR;
    const hys = k === HEP && rng.chance(e.types.hepatotoxicity.hys_law_fraction);
    const episode: Episode = {
      patient_id: ps.prof.id,
      type: AE_TYPES[k]!,
      onset: iso(onset),
      event_bound: !aborted,
      abrupt,
      peak: Math.round(peak * 1000) / 1000,
    };
    this.episodes.push(episode);
    ps.procs.push(
      new Proc(
        k,
        onset,
        length,
        peak,
        plateauEnd,
        end,
        drifted && cd !== undefined ? cd.vitalScale : 1,
        hys,
        episode,
      ),
    );
    ps.activeType[k] = 1;
  }

  /** Sums the active processes' effects on the vital signs at time t; retires finished processes. */
  #vitalEffects(ps: PatientState, t: number): void {
    ps.dHr = ps.dSbp = ps.dDbp = ps.dTemp = ps.dSpo2 = ps.dRr = ps.dWeight = 0;
    if (ps.procs.length === 0) return;
    const types = this.#p.events.types;
    const b = ps.prof.baseline;
    for (let i = ps.procs.length - 1; i >= 0; i--) {
      const pr = ps.procs[i]!;
      if (t >= pr.end) {
        ps.procs.splice(i, 1);
        ps.activeType[pr.type] = 0;
        for (const q of ps.procs) if (q.type === pr.type) ps.activeType[pr.type] = 1;
        continue;
      }
      const s = pr.s(t);
      if (s === 0) continue;
      const g = this.#sigs[pr.type]!;
      const v = s * pr.vscale;
      ps.dHr += g.hr * v;
      ps.dSbp += g.sbp * v;
      ps.dDbp += g.dbp * v;
      ps.dTemp += g.temp * v;
      ps.dSpo2 += g.spo2 * v;
      ps.dRr += g.rr * v;
      ps.dWeight += g.weight * s;
      if (pr.type === HYPO) {
        const tp = types.hypotension;
        ps.dSbp += dev(s, b.sbp, Math.min(tp.target, b.sbp - 20), -tp.overshoot_span);
      } else if (pr.type === TACHY) {
        const tp = types.tachyarrhythmia;
        ps.dHr += dev(s, b.hr, Math.max(tp.target, b.hr + 20), tp.overshoot_span);
      }
    }
  }

  #vitals(ps: PatientState, t: number, tickOfDay: number, out: Outbox): void {
    const p = this.#p;
    const rng = ps.rng;
    const prof = ps.prof;
    const b = prof.baseline;
    const k = this.#arK;
    const phi = p.vitals.ar_phi;
    ps.arHr = phi * ps.arHr + k[0]! * rng.normal();
    ps.arSbp = phi * ps.arSbp + k[1]! * rng.normal();
    ps.arDbp = phi * ps.arDbp + k[2]! * rng.normal();
    ps.arTemp = phi * ps.arTemp + k[3]! * rng.normal();
    ps.arSpo2 = phi * ps.arSpo2 + k[4]! * rng.normal();
    ps.arRr = phi * ps.arRr + k[5]! * rng.normal();
    this.#vitalEffects(ps, t);
    const c = this.#circ[prof.siteIndex]!;
    const o = tickOfDay * 5;
    const hr = b.hr + c[o]! + ps.arHr + ps.dHr;
    const sbp = b.sbp + c[o + 1]! + ps.arSbp + ps.dSbp;
    const dbp = Math.min(b.dbp + c[o + 2]! + ps.arDbp + ps.dDbp, sbp - 15);
    const at = t + ps.phaseMs;
    this.#checkSustained(ps, at, sbp, hr);

    // The monitor: on/off episodes (device gaps).
    if (t < ps.monitorOffUntil) return;
    const si = prof.siteIndex;
    if (rng.chance(this.#pOff[si]!)) {
      ps.monitorOffUntil = t + Math.max(1, Math.round(rng.exponential(this.#meanGapTicks[si]!))) * TICK;
      return;
    }
    const site = prof.site;
    const ns = p.vitals.noise_sd;
    const sc = site.noise_scale;
    const miss = p.vitals.missing;
    const drift = this.#scenario.siteDrift;
    const dr = drift !== undefined && drift.siteIndex === si && t >= drift.fromMs ? drift.offsets : undefined;
    let mHr: string | number = clamp(
      Math.round(hr + ns.heart_rate * sc * rng.normal() + (dr?.heart_rate ?? 0)),
      20,
      250,
    );
    let mSbp: string | number = 'null';
    let mDbp: string | number = 'null';
    let mMap: string | number = 'null';
    if (!rng.chance(miss.blood_pressure)) {
      const s1 = clamp(Math.round(sbp + ns.systolic * sc * rng.normal() + (dr?.systolic ?? 0)), 40, 260);
      const d1 = clamp(Math.round(dbp + ns.diastolic * sc * rng.normal() + (dr?.diastolic ?? 0)), 20, s1 - 5);
      mSbp = s1;
      mDbp = d1;
      mMap = Math.round(d1 + (s1 - d1) / 3);
    }
    let mTemp: string | number = 'null';
    let n = mSbp === 'null' ? 1 : 2;
    if (!rng.chance(miss.temperature)) {
      const tc = clamp(
        b.tempC +
          c[o + 3]! +
          ps.arTemp +
          ps.dTemp +
          ns.temperature * sc * rng.normal() +
          (dr?.temperature ?? 0),
        30,
        43,
      );
      mTemp =
        site.temperature_unit === 'F' ? Math.round(((tc * 9) / 5) * 10 + 320) / 10 : Math.round(tc * 10) / 10;
      n++;
    }
    let mSpo2: string | number = 'null';
    if (!rng.chance(miss.spo2)) {
      mSpo2 = clamp(
        Math.round(b.spo2 + ps.arSpo2 + ps.dSpo2 + ns.spo2 * sc * rng.normal() + (dr?.spo2 ?? 0)),
        50,
        100,
      );
      n++;
    }
    let mRr: string | number = 'null';
    if (!rng.chance(miss.respiratory_rate))
      mRr = clamp(
        Math.round(b.rr + c[o + 4]! + ps.arRr + ps.dRr + ns.respiratory_rate * sc * rng.normal()),
        4,
        60,
      );
    if (rng.chance(miss.heart_rate) && n > 1) mHr = 'null';
    const tempUnit = site.temperature_unit === 'F' ? ',"temperature_unit":"F"' : '';
    out.push(
      'patient-vitals',
      prof.id,
      `{"event_id":"${rng.uuid()}${ps.vitalsHead}${this.#fmt.format(at)}","heart_rate":${mHr},"blood_pressure_systolic":${mSbp},"blood_pressure_diastolic":${mDbp},"mean_arterial_pressure":${mMap},"temperature":${mTemp}${tempUnit},"spo2":${mSpo2},"respiratory_rate":${mRr}}`,
      at,
    );
    this.counts.vitals++;
  }

  /** Hypotension and tachyarrhythmia: a threshold crossed and held for the sustained duration. */
  #checkSustained(ps: PatientState, at: number, sbp: number, hr: number): void {
    const types = this.#p.events.types;
    const hy = types.hypotension;
    if (sbp < hy.threshold) {
      ps.belowRun++;
      if (ps.belowRun * 5 === hy.sustained_minutes + 5) {
        const onset = at - hy.sustained_minutes * MINUTE;
        const nadir = this.#expectedExtreme(ps, HYPO, sbp);
        const grade = nadir < hy.grades[2] ? 4 : nadir < hy.grades[1] ? 3 : 2;
        this.#event(
          ps,
          HYPO,
          onset,
          onset,
          grade,
          grade >= 3,
          `sustained systolic BP < ${hy.threshold} mmHg (nadir ${Math.round(nadir)})`,
        );
      }
    } else ps.belowRun = 0;
    const ta = types.tachyarrhythmia;
    if (hr > ta.threshold) {
      ps.aboveRun++;
      if (ps.aboveRun * 5 === ta.sustained_minutes + 5) {
        const onset = at - ta.sustained_minutes * MINUTE;
        const peak = this.#expectedExtreme(ps, TACHY, hr);
        const grade = peak > ta.grades[2] ? 4 : peak > ta.grades[1] ? 3 : 2;
        this.#event(
          ps,
          TACHY,
          onset,
          onset,
          grade,
          grade >= 3,
          `sustained heart rate > ${ta.threshold} bpm (peak ${Math.round(peak)})`,
        );
      }
    } else ps.aboveRun = 0;
  }

  /** The episode's worst value (the grade is the worst of the episode), from the process's peak. */
  #expectedExtreme(ps: PatientState, k: number, now: number): number {
    const pr = ps.procs.find((q) => q.type === k);
    if (pr === undefined) return now;
    const b = ps.prof.baseline;
    const t = this.#p.events.types;
    if (k === HYPO)
      return Math.min(
        now,
        b.sbp +
          dev(pr.peak, b.sbp, Math.min(t.hypotension.target, b.sbp - 20), -t.hypotension.overshoot_span),
      );
    return Math.max(
      now,
      b.hr +
        dev(pr.peak, b.hr, Math.max(t.tachyarrhythmia.target, b.hr + 20), t.tachyarrhythmia.overshoot_span),
    );
  }

  /** True lab values at time t (conventional units), processes applied, before measurement noise. */
  #labValues(ps: PatientState, t: number): Float64Array {
    const b: Baseline = ps.prof.baseline;
    const v = Float64Array.from(b.labs);
    const types = this.#p.events.types;
    const uln = (test: string) => this.#range(ps, test, 'conventional')[1] ?? 1;
    for (const pr of ps.procs) {
      const s = pr.s(t);
      if (s === 0) continue;
      switch (pr.type) {
        case HEP: {
          const tp = types.hepatotoxicity;
          const u = uln('ALT');
          const alt =
            b.labs[L.ALT]! +
            dev(s, b.labs[L.ALT]!, Math.max(tp.target_uln * u, 2 * b.labs[L.ALT]!), tp.overshoot_span * u);
          const rise = alt / b.labs[L.ALT]! - 1;
          v[L.ALT] = v[L.ALT]! * (1 + rise);
          v[L.AST] = v[L.AST]! * (1 + (tp.signature.AST ?? 0) * rise);
          v[L.ALP] = v[L.ALP]! * (1 + (tp.signature.ALP ?? 0) * s);
          const ub = uln('BILI');
          v[L.BILI] = pr.hys
            ? v[L.BILI]! * (1 + s * Math.max(0, (2.4 * ub) / b.labs[L.BILI]! - 1))
            : v[L.BILI]! * (1 + 0.1 * s);
          break;
        }
        case AKI: {
          const tp = types.acute_kidney_injury;
          // Creatinine lags the fall in GFR: it rises late in the prodrome; BUN, potassium, blood
          // pressure and weight move first.
          const sc = s < 1 ? s ** tp.creatinine_lag_exponent : s;
          const ratio = 1 + dev(sc, 0, tp.target_ratio - 1, tp.overshoot_span);
          v[L.CREAT] = v[L.CREAT]! * ratio;
          v[L.BUN] = v[L.BUN]! * (1 + (tp.signature.BUN ?? 0) * s);
          v[L.K] = v[L.K]! + (tp.signature.K ?? 0) * s;
          break;
        }
        case TACHY:
          v[L.K] = v[L.K]! + (types.tachyarrhythmia.signature.K ?? 0) * s;
          break;
        case NEUTRO: {
          const tp = types.neutropenia;
          const base = b.labs[L.NEUT]!;
          const anc = Math.max(
            0.05,
            base + dev(s, base, Math.min(tp.target, base * 0.6), -tp.overshoot_span),
          );
          v[L.NEUT] = anc;
          v[L.WBC] = Math.max(0.1, v[L.WBC]! - (base - anc));
          v[L.PLAT] = v[L.PLAT]! * (1 + (tp.signature.PLAT ?? 0) * s);
          break;
        }
        default:
          break;
      }
    }
    return v;
  }

  #range(ps: PatientState, test: string, units: 'conventional' | 'si'): [number | null, number | null] {
    if (test === 'NEUT') return this.#p.labs.neut_reference_range;
    const r = this.#ref.labs[test]?.reference_range[ps.prof.sex];
    return r === undefined ? [null, null] : r[units];
  }

  /** The daily draw: 13 tests collected at t, reported together after the lab's turnaround. */
  #drawLabs(ps: PatientState, t: number): void {
    const p = this.#p;
    const rng = ps.rng;
    const prof = ps.prof;
    const site = prof.site;
    const v = this.#labValues(ps, t);
    const reportAt =
      t + Math.round(rng.uniform(p.labs.turnaround_hours[0], p.labs.turnaround_hours[1]) * 60) * MINUTE;
    const ts = iso(t);
    const rep = iso(reportAt);
    const measured = new Float64Array(LAB_TESTS.length);
    for (let i = 0; i < LAB_TESTS.length; i++) {
      const test = LAB_TESTS[i]!;
      const cv = Math.sqrt(p.labs.analytic_cv ** 2 + p.labs.day_to_day_cv ** 2);
      const x = Math.max(0, v[i]! * Math.exp(cv * rng.normal() - (cv * cv) / 2));
      measured[i] = x;
      const ref: LabRef | undefined = this.#ref.labs[test];
      const si = site.lab_units === 'si';
      const factor = si && ref !== undefined ? ref.si_factor : 1;
      const unit =
        test === 'NEUT'
          ? si
            ? 'GI/L'
            : 'THOU/uL'
          : si
            ? (ref?.unit_si ?? '')
            : (ref?.unit_conventional ?? '');
      const [lo, hi] = this.#range(ps, test, si ? 'si' : 'conventional');
      const value = sig3(x * factor);
      this.#queue(ps, {
        at: reportAt,
        topic: 'lab-results',
        value: `{"event_id":"${rng.uuid()}${ps.labHead}${ts}","reported_at":"${rep}","test_name":"${test}","value":${value},"unit":"${unit}","reference_range":{"low":${lo},"high":${hi}},"lab_id":"${site.id}-${p.labs.lab_id_suffix}","specimen":"${HEMATOLOGY.has(test) ? 'BLOOD' : 'SERUM'}"}`,
      });
    }
    this.#labDefinitions(ps, t, reportAt, measured);
  }

  /** Clinical definitions on the measured values: CTCAE ALT / Hy's law, KDIGO, CTCAE ANC. */
  #labDefinitions(ps: PatientState, t: number, reportAt: number, m: Float64Array): void {
    const uln = (test: string) => this.#range(ps, test, 'conventional')[1] ?? Number.POSITIVE_INFINITY;
    const altX = m[L.ALT]! / uln('ALT');
    const astX = m[L.AST]! / uln('AST');
    const biliX = m[L.BILI]! / uln('BILI');
    if (altX > 3 || astX > 3) {
      const hys = biliX > 2;
      const x = Math.max(altX, astX);
      let grade = x > 20 ? 4 : x > 5 ? 3 : 2;
      if (hys) grade = Math.max(grade, 3);
      const term = hys
        ? `Hy's law: ALT/AST ${x.toFixed(1)} x ULN with bilirubin ${biliX.toFixed(1)} x ULN`
        : `ALT/AST increased ${x.toFixed(1)} x ULN (CTCAE grade ${grade})`;
      this.#event(ps, HEP, t, reportAt, grade, hys, term);
    }
    const cr = m[L.CREAT]!;
    if (Number.isNaN(ps.creatBaseline)) ps.creatBaseline = cr;
    const hist = ps.creatHist;
    while (hist.length >= 2 && hist[0]! < t - 49 * HOUR) hist.splice(0, 2);
    let minRecent = Number.POSITIVE_INFINITY;
    for (let i = 1; i < hist.length; i += 2) minRecent = Math.min(minRecent, hist[i]!);
    hist.push(t, cr);
    const ratio = cr / ps.creatBaseline;
    if (ratio >= 1.5 || cr - minRecent >= 0.3) {
      const stage = ratio >= 3 || cr >= 4 ? 3 : ratio >= 2 ? 2 : 1;
      this.#event(
        ps,
        AKI,
        t,
        reportAt,
        stage + 1,
        stage >= 2,
        `KDIGO stage ${stage}: creatinine ${cr.toFixed(2)} mg/dL, ${ratio.toFixed(2)} x baseline`,
      );
    }
    const anc = m[L.NEUT]!;
    const g = this.#p.events.types.neutropenia.grades;
    if (anc < g[0]) {
      const grade = anc < g[2] ? 4 : anc < g[1] ? 3 : 2;
      this.#event(
        ps,
        NEUTRO,
        t,
        reportAt,
        grade,
        grade >= 4,
        `neutrophil count decreased: ANC ${anc.toFixed(2)} x 10^9/L (CTCAE grade ${grade})`,
      );
    }
  }

  #weigh(ps: PatientState, t: number, out: Outbox): void {
    const site = ps.prof.site;
    const kg = ps.prof.baseline.weightKg + ps.dWeight + 0.3 * ps.rng.normal();
    const w = site.weight_unit === 'LB' ? Math.round(kg * 2.20462 * 10) / 10 : Math.round(kg * 10) / 10;
    out.push(
      'patient-vitals',
      ps.prof.id,
      `{"event_id":"${ps.rng.uuid()}${ps.scaleHead}${iso(t)}","heart_rate":null,"blood_pressure_systolic":null,"blood_pressure_diastolic":null,"temperature":null,"spo2":null,"weight":${w},"weight_unit":"${site.weight_unit}"}`,
      t,
    );
    this.counts.vitals++;
  }

  /** An adverse event met its definition at eventMs, known from availableMs; reported after a delay. */
  #event(
    ps: PatientState,
    k: number,
    eventMs: number,
    availableMs: number,
    grade: number,
    serious: boolean,
    term: string,
  ): void {
    const e = this.#p.events;
    if (eventMs - ps.lastEvent[k]! < e.refractory_days * DAY) return;
    ps.lastEvent[k] = eventMs;
    const pr = ps.procs.find((q) => q.type === k);
    if (pr !== undefined && pr.episode.event_timestamp === undefined) {
      pr.episode.event_timestamp = iso(eventMs);
      pr.episode.ctcae_grade = grade;
    } else if (pr === undefined) {
      this.episodes.push({
        patient_id: ps.prof.id,
        type: AE_TYPES[k]!,
        onset: iso(eventMs),
        event_bound: false,
        abrupt: true,
        peak: 0,
        event_timestamp: iso(eventMs),
        ctcae_grade: grade,
      });
    }
    const rd = e.report_delay;
    let delayH = Math.max(
      rd.min_hours,
      ps.rng.logNormal(rd.median_hours * ps.prof.site.report_delay_scale, rd.sigma),
    );
    if (serious) delayH = Math.min(delayH, rd.serious_max_hours * ps.rng.uniform(0.3, 1));
    const report = Math.max(availableMs, eventMs) + Math.round(delayH * 60) * MINUTE;
    const msg = {
      event_id: ps.rng.uuid(),
      correlation_id: ps.correlationId,
      schema_version: SCHEMA_VERSION,
      patient_id: ps.prof.id,
      trial_id: this.#p.trial_id,
      site_id: ps.prof.site.id,
      source: 'sim:edc',
      event_timestamp: iso(eventMs),
      report_timestamp: iso(report),
      event_type: AE_TYPES[k],
      term,
      severity: SEVERITY[grade],
      ctcae_grade: grade,
      serious,
      reported_by: `site:${ps.prof.site.id}:investigator`,
    };
    this.#queue(ps, { at: report, topic: 'adverse-events', value: JSON.stringify(msg) });
  }
}
