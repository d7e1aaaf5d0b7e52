/**
 * DriftSupervisor with the relative performance rule: the threshold follows the serving model's own
 * held-out AUROC (its baseline), and a promotion (`modelChanged`) brings the new model's baseline.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
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
