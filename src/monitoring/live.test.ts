/**
 * LiveMonitor: the service's production scorings and adverse-event reports drive the
 * DriftSupervisor on data time (a trial replayed fast is checked every 6 h of its own time).
 */
import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { loadParams } from '../config/params.js';
import { buildFeatureReference, type TrainingReference } from './drift.js';
import { LiveMonitor } from './live.js';
import type { DecayDecision } from './rules.js';

const H = 3_600_000;
const T0 = Date.parse('2025-03-01T00:00:00Z');
const names = ['sbp_mean_1h', 'spo2_last', 'days_since_enrollment'];
/** A fixed spread around `c` (no RNG). */
const spread = (c: number, i: number) => c + ((i * 7) % 20) - 10;

function reference(): TrainingReference {
  const values = (c: number) => Array.from({ length: 400 }, (_, i) => spread(c, i));
  const feats = () => [
    buildFeatureReference('sbp_mean_1h', values(120), 20),
    buildFeatureReference('spo2_last', values(95), 20),
    buildFeatureReference('days_since_enrollment', values(10), 20),
  ];
  return {
    schema_version: 1,
    feature_set_hash: 'h',
    rows: 800,
    features: feats(),
    segments: {
      by: 'site_id',
      groups: ['S01', 'S02'].map((key) => ({ key, patients: 10, rows: 400, features: feats() })),
    },
  };
}

function monitor(labelsHeld?: () => boolean) {
  const base = loadParams();
  const params = {
    ...base,
    monitoring: {
      ...base.monitoring,
      min_labelled: 50,
      min_positives: 5,
      segment_max_drifted_features: 0,
      auroc_threshold: 0.8,
    },
  };
  const registry = new Registry();
  const decisions: DecayDecision[] = [];
  let production = 'v1';
  const m = new LiveMonitor({
    params,
    names,
    reference: reference(),
    production: () => production,
    siteOf: (p) => (p.endsWith('A') ? 'S01' : 'S02'),
    registry,
    logger: pino({ level: 'silent' }),
    onDecision: (d) => decisions.push(d),
    ...(labelsHeld === undefined ? {} : { labelsHeld }),
  });
  return { m, registry, decisions, setProduction: (v: string) => (production = v) };
}

/** 20 patients scored hourly over `hours`; patients 0-3 have an adverse event at hour 30. */
function feed(
  m: LiveMonitor,
  hours: number,
  o: { s02SbpShiftFrom?: number; version?: string; reportEvents?: boolean } = {},
) {
  for (let h = 0; h < hours; h++) {
    const t = T0 + h * H;
    for (let k = 0; k < 20; k++) {
      const patient = `P${k}${k % 2 === 0 ? 'A' : 'B'}`;
      const sick = k < 4;
      const shift =
        o.s02SbpShiftFrom !== undefined && h >= o.s02SbpShiftFrom && !patient.endsWith('A') ? 8 : 0;
      const i = h * 20 + k;
      m.scored({
        patientId: patient,
        t,
        // sick patients score higher before their event; everyone else low, with overlap
        probability: sick && h >= 6 && h < 30 ? 0.6 + (k % 3) * 0.05 : 0.2 + ((i * 13) % 50) / 100,
        modelVersion: o.version ?? 'v1',
        features: Float32Array.from([spread(120, i) + shift, spread(95, i), 10 + h / 24]),
      });
      if (o.reportEvents !== false && sick && h === 36)
        m.delivered(patient, [
          { kind: 'adverse_event', time: T0 + 30 * H, report: t, eventType: 'hypotension', source: 'test' },
        ]);
    }
  }
}

describe('LiveMonitor', () => {
  it('labels production scorings from late reports, checks every 6 h of data time, exports the gauges', async () => {
    const { m, registry } = monitor();
    feed(m, 4 * 24);
    const drift = m.drift;
    expect(drift).toBeDefined();
    // 96 h of data from T0: checks at 6, 12, ... 90 h (the 96 h one is due when data time passes it)
    expect(drift?.checks.length).toBe(15);
    expect(m.observed).toBe(96 * 20);
    // labels: 4 patients x 24 h of predictions in (30 h - 24 h, 30 h] are positive
    expect(m.outcomes.positives).toBe(4 * 24);
    // negatives: predictions whose horizon + grace (24 + 24 h) has passed by data time 95 h and
    // hold no event: hours 0-47 x 20 patients, less the 96 positives
    expect(m.outcomes.negatives).toBe(48 * 20 - 96);
    expect(m.outcomes.pending).toBe(48 * 20);
    const last = drift?.checks.at(-1);
    expect(last?.findings.auroc).toBeGreaterThan(0.8);
    const text = await registry.metrics();
    expect(text).toMatch(/aepred_model_auroc\{window="7d"\} 0\.\d+/);
    expect(text).toMatch(/aepred_segment_drifted_features\{segment="S01"\} 0/);
    expect(text).toMatch(/aepred_feature_drift_ks\{feature="sbp_mean_1h"\}/);
  });

  it('a shift at one site fires the drift rule for that site; a time-on-study feature does not', () => {
    const { m, decisions } = monitor();
    feed(m, 3 * 24, { s02SbpShiftFrom: 24, reportEvents: false });
    const fired = decisions.find((d) => d.type === 'retrain.requested');
    expect(fired).toMatchObject({ reason: 'drift' });
    const check = m.drift?.checks.find((c) => c.decisions.length > 0);
    expect(check?.findings.driftedSegments).toEqual(['S02']);
    expect(check?.findings.segments.find((s) => s.segment === 'S02')?.drifted).toEqual(['sbp_mean_1h']);
  });

  it("counts only the production version's scorings; a model change restarts the windows", () => {
    const { m, setProduction } = monitor();
    feed(m, 10, { version: 'canary' });
    expect(m.drift).toBeUndefined();
    feed(m, 10);
    expect(m.observed).toBe(200);
    setProduction('v2');
    m.modelChanged(null);
    feed(m, 12, { version: 'v2' });
    expect(m.observed).toBe(440);
    // no drift window without a reference for v2: checks run, with no KS
    expect(m.drift?.checks.at(-1)?.findings.segments).toEqual([]);
  });

  it('while the feed catches up no negative is counted; when it has, the due ones are and a check runs', () => {
    let held = true;
    const { m } = monitor(() => held);
    feed(m, 4 * 24);
    // positives count at once (a report names its event), negatives wait for the other topics
    expect([m.outcomes.positives, m.outcomes.negatives]).toEqual([4 * 24, 0]);
    const checks = m.drift?.checks.length ?? 0;
    held = false;
    m.delivered('P0A', [{ kind: 'vitals', time: T0 + 95 * H, source: 'test', values: new Float64Array(0) }]);
    expect(m.outcomes.negatives).toBe(48 * 20 - 96);
    expect(m.drift?.checks.length).toBe(checks + 1);
    expect(m.drift?.checks.at(-1)?.findings.auroc).toBeGreaterThan(0.8);
  });

  it('refuses a reference naming features the model does not have', () => {
    const base = loadParams();
    expect(
      () =>
        new LiveMonitor({
          params: base,
          names: ['hr_mean_1h'],
          reference: reference(),
          production: () => 'v1',
          siteOf: () => undefined,
          registry: new Registry(),
          logger: pino({ level: 'silent' }),
        }),
    ).toThrow(/drift reference names features the model does not have: sbp_mean_1h, spo2_last/);
  });
});
