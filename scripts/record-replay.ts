/**
 * Records the replay fixtures of issue 7 (tests/fixtures/replay/): a simulated trial with a fixed
 * seed, a handful of its patients, each patient's topic messages in delivery order, replayed through
 * real actors (PatientSupervisor -> PatientActor -> features -> the committed tiny ONNX model) on a
 * simulated clock; the Float64 feature vectors and scores at set trial times, the throttled scorings
 * and the alert changes are stored next to the events. Deterministic: a second run writes the same
 * bytes (`--check` compares instead of writing and exits 1 on any difference).
 *
 *   npx tsx scripts/record-replay.ts [--check]
 *
 * Re-record (and review the diff) when a change is meant to move features or scores: the feature
 * set, the normaliser, the model. The model file is made once by tests/fixtures/models/tiny_model.py
 * (issue 6's exporter) and committed; delete it to make it again for a new feature-set hash.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { loadParams } from '../src/config/params.js';
import type { EnrollmentRecord, TopicName } from '../src/contracts/types.js';
import { defaultFeatureSet } from '../src/features/definition.js';
import type { PatientContext } from '../src/features/engine.js';
import { REPO_ROOT } from '../src/shared/paths.js';
import { simulateToMemory } from '../src/sim/testing.js';
import { ModelSupervisor } from '../src/supervisors/model/actor.js';
import { type ReplayFixture, replay, serviceBehavior } from '../src/supervisors/patient/replay.js';

const DIR = resolve(REPO_ROOT, 'tests/fixtures/replay');
const MODEL = 'model.onnx';
const MODEL_VERSION = 'replay-1';
const MODEL_SEED = 3;
const SIM = { seed: 7, patients: 40, days: 2, scenario: 'baseline' as const };
const PATIENTS = 4;
const CHECK_EVERY_MS = 6 * 3_600_000;
const TOPICS: TopicName[] = ['patient-vitals', 'lab-results', 'medications', 'adverse-events'];
/**
 * The message fields the actor's path reads (normalize.ts, silver's rules); the envelope (ids, trial,
 * site) and descriptive fields (dose, route, CTCAE grade ...) are left out to keep the fixtures small.
 * A change that makes the normaliser read another field means re-recording.
 */
const KEEP: Record<TopicName, readonly string[]> = {
  'patient-vitals': [
    'source',
    'timestamp',
    'heart_rate',
    'blood_pressure_systolic',
    'blood_pressure_diastolic',
    'mean_arterial_pressure',
    'temperature',
    'temperature_unit',
    'spo2',
    'respiratory_rate',
    'etco2',
    'weight',
    'weight_unit',
    'height',
    'height_unit',
  ],
  'lab-results': ['source', 'timestamp', 'reported_at', 'test_name', 'value', 'unit'],
  medications: ['source', 'timestamp', 'drug_name', 'action', 'end_timestamp'],
  'adverse-events': ['source', 'event_timestamp', 'report_timestamp', 'event_type'],
};

type Msg = Record<string, unknown>;

/** When a message becomes visible to the actor (normalize.ts arrivalOf, on the raw message). */
function arrival(topic: TopicName, m: Msg): number {
  const at = (k: string): number => Date.parse(String(m[k]));
  if (topic === 'lab-results') return at(typeof m.reported_at === 'string' ? 'reported_at' : 'timestamp');
  if (topic === 'adverse-events') return at('report_timestamp');
  return at('timestamp');
}

/** One JSON value per line where it helps a diff: the fixture's rows each on their own line. */
function format(fx: ReplayFixture): string {
  const lines = Object.entries(fx).map(([k, v]) => {
    const rows = Array.isArray(v) && v.some((x) => typeof x === 'object' && x !== null);
    const body = rows
      ? `[\n${(v as unknown[]).map((x) => `    ${JSON.stringify(x)}`).join(',\n')}\n  ]`
      : JSON.stringify(v);
    return `  ${JSON.stringify(k)}: ${body}`;
  });
  return `{\n${lines.join(',\n')}\n}\n`;
}

function ensureModel(): void {
  const out = join(DIR, MODEL);
  if (existsSync(out)) return;
  execFileSync(
    resolve(REPO_ROOT, '.venv/bin/python'),
    ['tests/fixtures/models/tiny_model.py', out, MODEL_VERSION, String(MODEL_SEED)],
    { cwd: REPO_ROOT, env: { ...process.env, PYTHONPATH: REPO_ROOT }, stdio: 'inherit' },
  );
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  mkdirSync(DIR, { recursive: true });
  if (!check) ensureModel();
  const params = loadParams();
  const fs = defaultFeatureSet();
  const behavior = serviceBehavior(fs, params);
  const models = new ModelSupervisor({
    featureSetHash: fs.hash,
    canaryShare: 0,
    logger: pino({ level: 'silent' }),
  });
  await models.load('production', readFileSync(join(DIR, MODEL)));

  const start = params.simulator.default_start;
  const { sink, startMs, endMs } = await simulateToMemory({ ...SIM, start });
  // Messages per patient and topic, with their offset in the whole topic (one partition).
  const by = new Map<string, Map<TopicName, Array<{ offset: number; msg: Msg }>>>();
  for (const topic of TOPICS) {
    sink.messages[topic].forEach((raw, offset) => {
      const msg = JSON.parse(raw) as Msg;
      const p = String(msg.patient_id);
      const topics = by.get(p) ?? new Map();
      by.set(p, topics);
      const list = topics.get(topic) ?? [];
      topics.set(topic, list);
      list.push({ offset, msg });
    });
  }
  const count = (p: string, t: TopicName): number => by.get(p)?.get(t)?.length ?? 0;
  // The patients with an adverse event first, then those with the most medication events.
  const chosen = [...by.keys()]
    .sort(
      (a, b) =>
        count(b, 'adverse-events') - count(a, 'adverse-events') ||
        count(b, 'medications') - count(a, 'medications') ||
        a.localeCompare(b),
    )
    .slice(0, PATIENTS)
    .sort();
  const enrollment = new Map<string, EnrollmentRecord>(sink.enrollment.map((e) => [e.patient_id, e]));
  const checkTimes: string[] = [];
  for (let t = startMs + CHECK_EVERY_MS; t <= endMs; t += CHECK_EVERY_MS)
    checkTimes.push(new Date(t).toISOString());

  const written: string[] = [];
  let differs = 0;
  for (const p of chosen) {
    const topics = by.get(p)!;
    const columns: Record<string, string[]> = {};
    for (const t of TOPICS) {
      // Only the fields this patient's messages carry (a column of nulls says nothing).
      const msgs = topics.get(t) ?? [];
      columns[t] = KEEP[t].filter((k) => msgs.some(({ msg }) => msg[k] !== undefined && msg[k] !== null));
    }
    // Delivery order: each topic in offset order (a partition is ordered), topics merged by arrival.
    const heads = TOPICS.map(() => 0);
    const events: ReplayFixture['events'] = [];
    for (;;) {
      let best = -1;
      let bestAt = Number.POSITIVE_INFINITY;
      TOPICS.forEach((t, i) => {
        const m = topics.get(t)?.[heads[i]!];
        if (m && arrival(t, m.msg) < bestAt) {
          best = i;
          bestAt = arrival(t, m.msg);
        }
      });
      if (best < 0) break;
      const t = TOPICS[best]!;
      const m = topics.get(t)![heads[best]!++]!;
      events.push([best, m.offset, ...columns[t]!.map((c) => (m.msg[c] ?? null) as string | number | null)]);
    }
    const e = enrollment.get(p);
    const context: PatientContext = e
      ? {
          enrollment_date: e.enrollment_date,
          age: e.age,
          sex: e.sex,
          height_cm: e.height_cm,
          weight_kg: e.weight_kg,
          comorbidities: e.comorbidities,
          arm_role: e.arm_role,
        }
      : {};
    const base: ReplayFixture = {
      about:
        'Recorded by scripts/record-replay.ts (do not edit); replayed by src/supervisors/patient/replay.test.ts. docs/actors.md#replay',
      simulator: { ...SIM, start },
      model: { file: MODEL, version: MODEL_VERSION, feature_set_hash: fs.hash },
      patient_id: p,
      context,
      topics: TOPICS,
      columns,
      events,
      check_times: checkTimes,
      checks: [],
      throttled: [],
      alerts: [],
      rejected: 0,
    };
    const r = await replay(base, { behavior, params, models, passivate: false });
    const fx: ReplayFixture = {
      ...base,
      checks: r.checks,
      throttled: r.throttled,
      alerts: r.alerts,
      rejected: r.rejected,
    };
    const file = join(DIR, `${p}.json`);
    const text = format(fx);
    written.push(file);
    if (check) {
      const same = existsSync(file) && readFileSync(file, 'utf8') === text;
      if (!same) differs++;
      console.log(`${same ? 'same' : 'DIFFERS'} ${file}`);
    } else {
      writeFileSync(file, text);
      console.log(
        `${file}: ${events.length} events, ${r.checks.length} checks, ${r.throttled.length} throttled scorings, ${r.alerts.length} alert changes, ${text.length} bytes`,
      );
    }
  }
  const stale = readdirSync(DIR).filter((f) => f.endsWith('.json') && !written.includes(join(DIR, f)));
  if (stale.length > 0) console.log(`not written by this run (remove them): ${stale.join(', ')}`);
  await models.close();
  if (check && (differs > 0 || stale.length > 0)) process.exit(1);
}

await main();
