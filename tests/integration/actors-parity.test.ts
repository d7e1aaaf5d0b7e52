import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import { loadParams } from '../../src/config/params.js';
import { loadInteractions } from '../../src/contracts/interactions.js';
import { defaultFeatureSet } from '../../src/features/definition.js';
import { FeaturePlan, type PatientContext, PatientFeatures } from '../../src/features/engine.js';
import {
  applyObservation,
  arrivalOf,
  Normalizer,
  type Observation,
  UnitsTable,
} from '../../src/features/normalize.js';
import { REPO_ROOT } from '../../src/shared/paths.js';

/**
 * Online (TypeScript actor engine, events one at a time in arrival order) against offline
 * (pipelines.ops.compute, what the Spark job applies per patient) on real data: all of the CDISC
 * pilot and a PhysioNet 2019 sample, imported by the real importers. Every feature within 1e-6.
 */
const PYTHON = resolve(REPO_ROOT, '.venv/bin/python');
const fs = defaultFeatureSet();
const plan = new FeaturePlan(fs, loadInteractions().interactions);
const normalizer = new Normalizer(plan, UnitsTable.load(), loadParams().silver.ranges);
const TOPICS = ['patient-vitals', 'lab-results', 'medications', 'adverse-events'] as const;
const work = mkdtempSync(join(tmpdir(), 'aepred-parity-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Reference {
  feature_set_hash: string;
  patients: Record<string, { t: number[]; values: Array<Array<number | null>> }>;
}

const ndjson = (p: string): Array<Record<string, unknown>> =>
  readFileSync(p, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);

async function importTo(args: string[], dir: string): Promise<void> {
  const code = await run(['node', 'aepred', 'import', ...args, '--to', 'dir', dir]);
  expect(code).toBe(0);
}

function online(dir: string, ref: Reference): { compared: number; worst: number; bad: string[] } {
  const enrollment = new Map(ndjson(join(dir, 'enrollment.ndjson')).map((r) => [String(r.patient_id), r]));
  const perPatient = new Map<string, Observation[]>();
  for (const topic of TOPICS) {
    for (const m of ndjson(join(dir, `${topic}.ndjson`))) {
      const n = normalizer.normalize(topic, m);
      if (!n.ok) continue;
      const pid = String(m.patient_id);
      const list = perPatient.get(pid) ?? [];
      list.push(n.obs);
      perPatient.set(pid, list);
    }
  }
  let compared = 0;
  let worst = 0;
  const bad: string[] = [];
  for (const [pid, r] of Object.entries(ref.patients)) {
    const pf = new PatientFeatures(plan, enrollment.get(pid) as PatientContext);
    const obs = (perPatient.get(pid) ?? []).map((o, i) => ({ o, i }));
    obs.sort((a, b) => arrivalOf(a.o) - arrivalOf(b.o) || topicRank(a.o) - topicRank(b.o) || a.i - b.i);
    const order = r.t.map((t, i) => ({ t, i })).sort((a, b) => a.t - b.t);
    let k = 0;
    for (const { t, i } of order) {
      for (; k < obs.length && arrivalOf(obs[k]!.o) <= t; k++) applyObservation(pf, obs[k]!.o);
      const got = pf.compute(t);
      const want = r.values[i]!;
      for (let f = 0; f < fs.names.length; f++) {
        const w = want[f] ?? null;
        const g = got[f]!;
        compared++;
        if (w === null ? Number.isNaN(g) : Math.abs(g - w) <= 1e-6) {
          if (w !== null) worst = Math.max(worst, Math.abs(g - w));
          continue;
        }
        if (bad.length < 20)
          bad.push(`${pid} t=${new Date(t).toISOString()} ${fs.names[f]}: want ${w} got ${g}`);
      }
    }
  }
  return { compared, worst, bad };
}

// Python dedupes topic by topic; the order between topics never matters for the values.
const topicRank = (o: Observation): number =>
  ['vitals', 'lab', 'medication', 'adverse_event'].indexOf(o.kind);

function reference(dir: string, cadenceHours: number, limit?: number): Reference {
  const args = [resolve(REPO_ROOT, 'tests/fixtures/parity/reference.py'), dir, String(cadenceHours)];
  if (limit) args.push(String(limit));
  const out = execFileSync(PYTHON, args, {
    cwd: REPO_ROOT,
    maxBuffer: 1 << 30,
    env: { ...process.env, PYTHONPATH: REPO_ROOT },
  });
  return JSON.parse(out.toString('utf8')) as Reference;
}

describe('feature parity, online actor engine vs pipelines.ops (real data)', () => {
  it('PhysioNet 2019 sample (60 stays, hourly snapshots)', async () => {
    const dir = join(work, 'physionet');
    await importTo(
      ['physionet2019', resolve(REPO_ROOT, '../shared/data/physionet2019/training_setA'), '--limit', '60'],
      dir,
    );
    const ref = reference(dir, 1);
    expect(ref.feature_set_hash).toBe(fs.hash);
    const res = online(dir, ref);
    expect(res.bad).toEqual([]);
    expect(Object.keys(ref.patients).length).toBe(60);
    expect(res.compared).toBeGreaterThan(100_000);
  }, 300_000);

  it('CDISC pilot, every subject', async () => {
    const dir = join(work, 'cdisc');
    await importTo(['sdtm', resolve(REPO_ROOT, '../shared/data/cdiscpilot01/sdtm-parquet')], dir);
    const ref = reference(dir, 24);
    expect(ref.feature_set_hash).toBe(fs.hash);
    const res = online(dir, ref);
    expect(res.bad).toEqual([]);
    expect(Object.keys(ref.patients).length).toBeGreaterThan(250);
  }, 600_000);
});
