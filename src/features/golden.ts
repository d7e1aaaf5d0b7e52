import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { REPO_ROOT } from '../shared/paths.js';
import type { MedAction, PatientContext, PatientFeatures } from './engine.js';

/**
 * Golden vectors (contracts/golden/*.json, docs/features.md#golden-vectors) applied to the online
 * engine. A golden vital event carries one signal; events of one instant share a row, and a second
 * value of a signal at the same instant is a second source (the vectors' "two sources" ties).
 */
export type GoldenEvent =
  | { kind: 'vital'; signal: string; time: string; value: number }
  | { kind: 'lab'; signal: string; time: string; arrival: string; value: number }
  | { kind: 'medication'; drug: string; action: MedAction; time: string; end?: string | null }
  | { kind: 'adverse_event'; event_type: string; time: string; arrival: string };

export interface GoldenVector {
  name: string;
  description: string;
  patient: PatientContext & { patient_id: string };
  interactions: Array<{ drugs: string[]; flag: string }>;
  horizon_hours: number;
  events: GoldenEvent[];
  snapshots: Array<{ t: string; expected: Record<string, number | null>; label?: number }>;
}

export const GOLDEN_DIR = resolve(REPO_ROOT, 'contracts', 'golden');

export function loadGoldenVectors(dir = GOLDEN_DIR): GoldenVector[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(resolve(dir, f), 'utf8')) as GoldenVector);
}

export const isoMs = (s: string): number => Date.parse(s);

/**
 * Replays a vector the way the actor lives it: events in arrival order, each snapshot computed once
 * everything that had arrived by its time is applied (and nothing later). Returns values per snapshot.
 */
export function replayGolden(pf: PatientFeatures, v: GoldenVector): Map<string, Float64Array> {
  const steps = goldenSteps(pf, v.events);
  const snaps = [...v.snapshots].sort((a, b) => isoMs(a.t) - isoMs(b.t));
  const out = new Map<string, Float64Array>();
  let i = 0;
  for (const snap of snaps) {
    const t = isoMs(snap.t);
    for (; i < steps.length && steps[i]!.arrival <= t; i++) steps[i]!.apply();
    out.set(snap.t, pf.compute(t));
  }
  return out;
}

interface Step {
  arrival: number;
  apply: () => void;
}

function goldenSteps(pf: PatientFeatures, events: readonly GoldenEvent[]): Step[] {
  const plan = pf.plan;
  const rows = new Map<number, Float64Array[]>();
  const labSources = new Map<string, number>();
  const steps: Step[] = [];
  events.forEach((e, n) => {
    const t = isoMs(e.time);
    if (e.kind === 'vital') {
      const s = plan.vitalIndex(e.signal);
      if (s < 0) return;
      const list = rows.get(t) ?? [];
      rows.set(t, list);
      let row = list.find((r) => Number.isNaN(r[s]!));
      if (!row) {
        const fresh = new Float64Array(plan.vitalSignals.length).fill(Number.NaN);
        const k = list.length;
        list.push(fresh);
        steps.push({ arrival: t, apply: () => pf.addVitals(t, `golden#${k}`, fresh) });
        row = fresh;
      }
      row[s] = e.value;
    } else if (e.kind === 'lab') {
      const key = `${e.signal}@${t}`;
      const k = labSources.get(key) ?? 0;
      labSources.set(key, k + 1);
      const arrival = isoMs(e.arrival);
      steps.push({ arrival, apply: () => pf.addLab(e.signal, t, arrival, e.value, `golden#${k}`) });
    } else if (e.kind === 'medication') {
      const end = e.end ? isoMs(e.end) : null;
      steps.push({ arrival: t, apply: () => pf.addMedication(t, e.drug, e.action, end, 'golden') });
    } else {
      const arrival = isoMs(e.arrival);
      steps.push({ arrival, apply: () => pf.addAdverseEvent(t, arrival, e.event_type, `golden#${n}`) });
    }
  });
  // Stable: events of one arrival instant keep the file's order.
  return steps
    .map((s, i) => ({ s, i }))
    .sort((a, b) => a.s.arrival - b.s.arrival || a.i - b.i)
    .map((x) => x.s);
}
