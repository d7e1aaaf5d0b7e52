/**
 * DriftSupervisor with the relative performance rule: the threshold follows the serving model's own
 * held-out AUROC (its baseline), and a promotion (`modelChanged`) brings the new model's baseline.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { buildFeatureReference, type TrainingReference } from '../../monitoring/drift.js';
import { DEFAULT_DECAY_PARAMS, type DecayDecision } from '../../monitoring/rules.js';
import { SimulatedClock } from '../clock.js';
import { DriftSupervisor } from './runtime.js';

const H = 3_600_000;

/** Labelled predictions at `at` whose AUROC is exactly `auroc` (one positive above k of 100 negatives). */
function feed(s: DriftSupervisor, at: number, auroc: number): void {
  const above = Math.round(auroc * 100);
  for (let i = 0; i < 100; i++) {
    const p = 0.01 + i * 0.009;
    s.observePrediction(at, p);
    s.observeOutcome(at, p, false);
  }
  // the positive scores above `above` of the 100 negatives
  const pos = 0.01 + (above - 0.5) * 0.009;
  s.observePrediction(at, pos);
  s.observeOutcome(at, pos, true);
}

function supervisor(baselineAuroc: number | null) {
  const clock = new SimulatedClock(0);
  const decisions: DecayDecision[] = [];
  const s = new DriftSupervisor({
    clock,
    rules: { ...DEFAULT_DECAY_PARAMS, aurocMaxDrop: 0.05, minLabelled: 50 },
    performance: { windowMs: 7 * 24 * H, bucketMs: H },
    drift: {},
    baselineAuroc,
    logger: pino({ level: 'silent' }),
    onDecision: (d) => decisions.push(d),
  });
  return { clock, s, decisions };
}

describe('DriftSupervisor, relative decay rule', () => {
  it('a model validated at 0.67 serving at ~0.70 is not decaying; a baseline of 0.90 makes 0.70 a decay', () => {
    const weak = supervisor(0.67);
    feed(weak.s, 0, 0.7);
    const c1 = weak.s.check();
    const c2 = weak.s.check();
    expect(c1.findings.auroc).toBeCloseTo(0.7, 2);
    expect(c1.findings.aurocThreshold).toBeCloseTo(0.62, 10);
    expect([...c1.decisions, ...c2.decisions]).toEqual([]);

    // a promotion to a model validated at 0.90: the same serving AUROC is now 0.2 below its baseline
    weak.s.modelChanged(undefined, 0.9);
    expect(weak.s.baselineAuroc).toBe(0.9);
    feed(weak.s, 0, 0.7);
    weak.s.check();
    const fired = weak.s.check();
    expect(fired.findings.aurocThreshold).toBeCloseTo(0.85, 10);
    expect(fired.decisions[0]).toMatchObject({ type: 'retrain.requested', reason: 'performance' });
    expect(weak.decisions.map((d) => d.type)).toEqual(['retrain.requested']);
  });

  it('without a baseline the absolute threshold (0.80) applies', () => {
    const none = supervisor(null);
    feed(none.s, 0, 0.7);
    none.s.check();
    const c = none.s.check();
    expect(c.findings.aurocThreshold).toBe(DEFAULT_DECAY_PARAMS.aurocThreshold);
    expect(c.decisions[0]).toMatchObject({ type: 'retrain.requested', reason: 'performance' });
    // a model change without a baseline falls back to the absolute threshold too
    none.s.modelChanged(undefined, undefined);
    expect(none.s.baselineAuroc).toBeNull();
  });
});

describe('DriftSupervisor, per-site drift windows', () => {
  const names = ['sbp', 'dbp', 'spo2', 'temp', 'days_since_enrollment'];
  /** Deterministic spread of values around `centre` (no RNG: a fixed quantile grid). */
  const grid = (centre: number, n: number) =>
    Array.from({ length: n }, (_, i) => centre + ((i % 50) - 25) / 5);
  const ref = (shift: number) =>
    names.map((n, j) => buildFeatureReference(n, grid(100 + 10 * j + shift, 500), 20));

  it('a shift confined to one site fires the drift rule against that site, not the pooled one', () => {
    const clock = new SimulatedClock(0);
    const decisions: DecayDecision[] = [];
    const reference: TrainingReference = {
      schema_version: 1,
      feature_set_hash: 'h',
      rows: 1500,
      features: ref(0),
      segments: {
        by: 'site_id',
        groups: ['S01', 'S02', 'S03'].map((key) => ({ key, patients: 10, rows: 500, features: ref(0) })),
      },
    };
    const s = new DriftSupervisor({
      clock,
      rules: {
        ...DEFAULT_DECAY_PARAMS,
        driftExclude: ['days_since_enrollment'],
        segmentKsThreshold: 0.25,
        segmentMaxDriftedFeatures: 2,
      },
      performance: { windowMs: 7 * 24 * H, bucketMs: H },
      drift: { windowMs: 24 * H, bucketMs: H },
      reference,
      logger: pino({ level: 'silent' }),
      onDecision: (d) => decisions.push(d),
    });
    expect(s.segments).toEqual(['S01', 'S02', 'S03']);
    s.start();
    // 24 h of data: S01 and S02 as in training, S03's device reads 3 higher on every vital;
    // days_since_enrollment moves at every site (time on study) and must not count
    for (let h = 0; h < 24; h++) {
      clock.advance(H);
      for (const site of ['S01', 'S02', 'S03', 'S99']) {
        const off = site === 'S03' ? 3 : 0;
        grid(0, 50).forEach((_, i) => {
          const v = (j: number) => 100 + 10 * j + ((i % 50) - 25) / 5;
          s.observePrediction(
            clock.now(),
            0.1,
            {
              sbp: v(0) + off,
              dbp: v(1) + off,
              spo2: v(2) + off,
              temp: v(3) + off,
              days_since_enrollment: v(4) + 20,
            },
            site,
          );
        });
      }
    }
    const c = s.checks.at(-1);
    expect(c?.findings.segments.map((x) => [x.segment, x.drifted])).toEqual([
      ['S01', []],
      ['S02', []],
      ['S03', ['sbp', 'dbp', 'spo2', 'temp']],
    ]);
    // pooled: a quarter of the values shifted (S99 has no reference of its own but counts in the
    // pooled window) stays under the trial's KS 0.2
    expect(c?.findings.drifted).toEqual([]);
    expect(c?.findings.driftedSegments).toEqual(['S03']);
    expect(decisions.map((d) => [d.type, d.reason])).toEqual([['retrain.requested', 'drift']]);
  });
});
