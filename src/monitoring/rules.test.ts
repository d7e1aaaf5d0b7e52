import { describe, expect, it } from 'vitest';
import {
  aurocThresholdFor,
  countedFeature,
  DEFAULT_DECAY_PARAMS,
  type DecayObservation,
  type DecayState,
  evaluateDecay,
  globToRegExp,
  INITIAL_DECAY_STATE,
  nextCheckAt,
  onModelChanged,
  requestRetrain,
  validateDecayParams,
} from './rules.js';

const H = 3_600_000;
const P = DEFAULT_DECAY_PARAMS;
const every = P.checkIntervalMs;

function ks(drifted: number, total = 20): DecayObservation['ks'] {
  return Array.from({ length: total }, (_, i) => ({ feature: `f${i}`, ks: i < drifted ? 0.35 : 0.05 }));
}

function obs(at: number, auroc: number | null, drifted = 0, labelled = 1000): DecayObservation {
  return { at, auroc, labelled, ks: ks(drifted) };
}

/** Runs checks one interval apart and returns every decision with its check index. */
function run(observations: Array<(at: number) => DecayObservation>, start: DecayState = INITIAL_DECAY_STATE) {
  let state = start;
  const out: Array<{ i: number; type: string; reason: string; why?: string }> = [];
  observations.forEach((o, i) => {
    const step = evaluateDecay(state, o((i + 1) * every), P);
    state = step.state;
    for (const d of step.decisions)
      out.push({
        i,
        type: d.type,
        reason: d.reason,
        ...(d.type === 'retrain.suppressed' ? { why: d.why } : {}),
      });
  });
  return { state, decisions: out };
}

describe('performance rule', () => {
  it('needs AUROC below 0.80 on two consecutive checks', () => {
    const r = run([(t) => obs(t, 0.78), (t) => obs(t, 0.81), (t) => obs(t, 0.79), (t) => obs(t, 0.77)]);
    expect(r.decisions).toEqual([{ i: 3, type: 'retrain.requested', reason: 'performance' }]);
  });

  it('does not fire at exactly 0.80, nor on AUROC from too few labels', () => {
    expect(run([(t) => obs(t, 0.8), (t) => obs(t, 0.8)]).decisions).toEqual([]);
    expect(run([(t) => obs(t, 0.5, 0, 10), (t) => obs(t, 0.5, 0, 10)]).decisions).toEqual([]);
  });

  it('an AUROC on fewer than minPositives positives does not count, however many labels', () => {
    const PP = { ...P, minPositives: 10 };
    const few = (at: number): DecayObservation => ({ ...obs(at, 0.5), positives: 9 });
    const enough = (at: number): DecayObservation => ({ ...obs(at, 0.5), positives: 10 });
    const step = evaluateDecay(INITIAL_DECAY_STATE, few(every), PP);
    expect(step.findings.auroc).toBeNull();
    expect(step.findings.lowAurocStreak).toBe(0);
    let state = INITIAL_DECAY_STATE;
    const decisions = [];
    for (const [i, o] of [enough, enough].entries()) {
      const s = evaluateDecay(state, o((i + 1) * every), PP);
      state = s.state;
      decisions.push(...s.decisions);
    }
    expect(decisions.map((d) => d.reason)).toEqual(['performance']);
    expect(() => validateDecayParams({ ...P, minPositives: -1 })).toThrow(/minPositives >= 0/);
  });

  it('an unknown AUROC neither extends nor breaks the streak', () => {
    const r = run([(t) => obs(t, 0.7), (t) => obs(t, null), (t) => obs(t, 0.7)]);
    expect(r.decisions).toEqual([{ i: 2, type: 'retrain.requested', reason: 'performance' }]);
  });
});

describe("relative performance rule (aurocMaxDrop, baseline = the model's held-out AUROC)", () => {
  const R = validateDecayParams({ ...P, aurocMaxDrop: 0.05 });
  const at = (i: number) => (i + 1) * every;
  const steps = (baseline: number | null, aurocs: number[]) => {
    let state = INITIAL_DECAY_STATE;
    return aurocs.map((a, i) => {
      const step = evaluateDecay(
        state,
        { at: at(i), auroc: a, labelled: 1000, ks: [], baselineAuroc: baseline },
        R,
      );
      state = step.state;
      return step;
    });
  };

  it('a model validated at 0.67 serving at 0.68-0.70 (below the absolute 0.80) does not fire', () => {
    const s = steps(0.67, [0.7, 0.69, 0.68, 0.7]);
    expect(s.flatMap((x) => x.decisions)).toEqual([]);
    expect(s[0]?.findings.aurocThreshold).toBeCloseTo(0.62, 10);
  });

  it('fires on two consecutive checks more than the drop below the baseline, not at exactly the drop', () => {
    const at62 = aurocThresholdFor(R, 0.67);
    const s = steps(0.67, [at62, at62, 0.6, 0.64]);
    expect(s.flatMap((x) => x.decisions)).toEqual([]);
    const fired = steps(0.67, [0.6, 0.61, 0.6]);
    expect(fired.map((x) => x.decisions.map((d) => `${d.type}:${d.reason}`))).toEqual([
      [],
      ['retrain.requested:performance'],
      [],
    ]);
  });

  it('a strong model (0.95) decays to 0.85, above the absolute 0.80: the relative rule fires', () => {
    const s = steps(0.95, [0.85, 0.85]);
    expect(s[1]?.decisions[0]).toMatchObject({ type: 'retrain.requested', reason: 'performance' });
    expect(steps(null, [0.85, 0.85]).flatMap((x) => x.decisions)).toEqual([]);
  });

  it('without a baseline, or without aurocMaxDrop, the absolute threshold applies', () => {
    expect(aurocThresholdFor(R, null)).toBe(P.aurocThreshold);
    expect(aurocThresholdFor(R, undefined)).toBe(P.aurocThreshold);
    expect(aurocThresholdFor(P, 0.9)).toBe(P.aurocThreshold);
    expect(aurocThresholdFor({ ...P, aurocMaxDrop: null }, 0.9)).toBe(P.aurocThreshold);
    expect(aurocThresholdFor(R, 0.9)).toBeCloseTo(0.85, 10);
  });

  it('rejects a drop outside (0, 1) and a baseline outside (0, 1]', () => {
    expect(() => validateDecayParams({ ...P, aurocMaxDrop: 0 })).toThrow(/0 < aurocMaxDrop < 1/);
    expect(() => validateDecayParams({ ...P, aurocMaxDrop: 1.2 })).toThrow(/0 < aurocMaxDrop < 1/);
    expect(() => aurocThresholdFor(R, 1.5)).toThrow(/baseline AUROC must be in \(0, 1\]/);
  });
});

describe('drift rule', () => {
  it('fires on more than 5 features with KS > 0.2, not on exactly 5', () => {
    expect(run([(t) => obs(t, 0.9, 5)]).decisions).toEqual([]);
    expect(run([(t) => obs(t, 0.9, 6)]).decisions).toEqual([
      { i: 0, type: 'retrain.requested', reason: 'drift' },
    ]);
  });

  it('KS exactly at the threshold does not count', () => {
    const o: DecayObservation = {
      at: every,
      auroc: 0.9,
      labelled: 1000,
      ks: Array.from({ length: 8 }, (_, i) => ({ feature: `f${i}`, ks: 0.2 })),
    };
    expect(evaluateDecay(INITIAL_DECAY_STATE, o, P).findings.drifted).toEqual([]);
  });
});

describe('drift rule: time-on-study features and segments (sites)', () => {
  const SP = {
    ...P,
    driftExclude: ['days_since_enrollment', '*_delta_baseline'],
    segmentKsThreshold: 0.25,
    segmentMaxDriftedFeatures: 3,
  };
  const f = (feature: string, k: number | null) => ({ feature, ks: k });

  it('globs match whole names as fnmatch does; excluded features are measured but not counted', () => {
    expect(globToRegExp('*_delta_baseline').test('alt_delta_baseline')).toBe(true);
    expect(globToRegExp('*_delta_baseline').test('alt_delta_baseline_x')).toBe(false);
    expect(globToRegExp('hr_?').test('hr_1')).toBe(true);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
    const counted = countedFeature(SP.driftExclude);
    expect(['days_since_enrollment', 'alt_delta_baseline', 'alt_last'].filter(counted)).toEqual(['alt_last']);
    // six time-on-study features over 0.2 plus five counted ones: 5 counted, not more than 5
    const o: DecayObservation = {
      at: every,
      auroc: 0.9,
      labelled: 1000,
      ks: [
        f('days_since_enrollment', 0.9),
        ...['alt', 'ast', 'bili', 'creat', 'wbc'].map((n) => f(`${n}_delta_baseline`, 0.5)),
        ...['a', 'b', 'c', 'd', 'e'].map((n) => f(n, 0.3)),
      ],
    };
    const step = evaluateDecay(INITIAL_DECAY_STATE, o, SP);
    expect(step.findings.drifted).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(step.decisions).toEqual([]);
    // without the exclusion the same window would request a retraining
    expect(evaluateDecay(INITIAL_DECAY_STATE, o, P).decisions[0]).toMatchObject({ reason: 'drift' });
  });

  it('one site over its limit fires (reason drift) while the whole trial stays under its own', () => {
    const site = (segment: string, n: number, k = 0.3) => ({
      segment,
      ks: Array.from({ length: 10 }, (_, i) => f(`v${i}`, i < n ? k : 0.05)),
    });
    const o = (segments: DecayObservation['segments']): DecayObservation => ({
      at: every,
      auroc: 0.9,
      labelled: 1000,
      ks: ks(1),
      segments,
    });
    const quiet = evaluateDecay(INITIAL_DECAY_STATE, o([site('S01', 3), site('S02', 2)]), SP);
    expect(quiet.decisions).toEqual([]);
    expect(quiet.findings.segments.map((s) => s.drifted.length)).toEqual([3, 2]);
    expect(quiet.findings.driftedSegments).toEqual([]);
    // KS 0.22 is over the trial's 0.2 but not over the segment threshold 0.25
    expect(evaluateDecay(INITIAL_DECAY_STATE, o([site('S01', 8, 0.22)]), SP).decisions).toEqual([]);
    const fired = evaluateDecay(INITIAL_DECAY_STATE, o([site('S01', 1), site('S03', 4)]), SP);
    expect(fired.findings.driftedSegments).toEqual(['S03']);
    expect(fired.findings.drift).toBe(true);
    expect(fired.decisions[0]).toMatchObject({
      type: 'retrain.requested',
      reason: 'drift',
      rules: ['drift'],
    });
    // the incident stays open while the site drifts, and closes when it no longer does
    const again = evaluateDecay(fired.state, { ...o([site('S03', 5)]), at: 2 * every }, SP);
    expect(again.decisions).toEqual([]);
    expect(again.state.incidents).toHaveLength(1);
    const over = evaluateDecay(again.state, { ...o([site('S03', 0)]), at: 3 * every }, SP);
    expect(over.state.incidents).toEqual([]);
  });

  it('rejects a segment threshold outside (0, 1), a negative limit and an empty pattern', () => {
    expect(() =>
      validateDecayParams({ ...P, segmentKsThreshold: 1, segmentMaxDriftedFeatures: -1, driftExclude: [''] }),
    ).toThrow(/0 < segmentKsThreshold < 1, segmentMaxDriftedFeatures >= 0, driftExclude patterns non-empty/);
  });
});

describe('one incident, one retraining', () => {
  it('a persisting condition requests once; both rules at once request once, reason performance', () => {
    const r = run([
      (t) => obs(t, 0.7, 8),
      (t) => obs(t, 0.7, 8),
      (t) => obs(t, 0.7, 8),
      (t) => obs(t, 0.7, 8),
      (t) => obs(t, 0.7, 8),
    ]);
    expect(r.decisions).toEqual([
      { i: 0, type: 'retrain.requested', reason: 'drift' },
      { i: 1, type: 'retrain.suppressed', reason: 'performance', why: 'cooldown' },
      { i: 2, type: 'retrain.suppressed', reason: 'performance', why: 'cooldown' },
      { i: 3, type: 'retrain.suppressed', reason: 'performance', why: 'cooldown' },
      { i: 4, type: 'retrain.suppressed', reason: 'performance', why: 'cooldown' },
    ]);
    const both = evaluateDecay(
      evaluateDecay(INITIAL_DECAY_STATE, obs(every, 0.7, 8), { ...P, cooldownMs: 0 }).state,
      obs(2 * every, 0.7, 8),
      P,
    );
    expect(both.decisions).toHaveLength(1);
    const first = evaluateDecay({ ...INITIAL_DECAY_STATE, lowAurocStreak: 1 }, obs(every, 0.7, 8), P);
    expect(first.decisions).toMatchObject([
      { type: 'retrain.requested', reason: 'performance', rules: ['performance', 'drift'] },
    ]);
  });

  it('a condition pending through the cooldown is acted on at the first check after it', () => {
    const cooldownChecks = P.cooldownMs / every; // 8
    const checks = Array.from(
      { length: cooldownChecks + 2 },
      (_, i) => (t: number) => obs(t, i === 0 ? 0.9 : 0.7, i === 0 ? 8 : 0),
    );
    const r = run(checks);
    const requested = r.decisions.filter((d) => d.type === 'retrain.requested');
    expect(requested).toEqual([
      { i: 0, type: 'retrain.requested', reason: 'drift' },
      { i: cooldownChecks, type: 'retrain.requested', reason: 'performance' },
    ]);
  });

  it('an incident closes when its signal recovers; a later one is a new incident', () => {
    const p = { ...P, cooldownMs: 0 };
    let s = evaluateDecay(INITIAL_DECAY_STATE, obs(every, 0.9, 8), p);
    expect(s.decisions).toHaveLength(1);
    s = evaluateDecay(s.state, obs(2 * every, 0.9, 8), p);
    expect(s.decisions).toHaveLength(0);
    s = evaluateDecay(s.state, obs(3 * every, 0.9, 2), p);
    expect(s.state.incidents).toEqual([]);
    s = evaluateDecay(s.state, obs(4 * every, 0.9, 8), p);
    expect(s.decisions).toMatchObject([{ type: 'retrain.requested', reason: 'drift' }]);
  });

  it('a repeated critical alert joins the open performance incident; a short streak does not reopen it', () => {
    let state = INITIAL_DECAY_STATE;
    const a = requestRetrain(state, { at: H, reason: 'performance', source: 'alert' }, P);
    expect(a.decision.type).toBe('retrain.requested');
    state = a.state;
    expect(
      requestRetrain(state, { at: 5 * H, reason: 'performance', source: 'alert' }, P).decision,
    ).toMatchObject({
      type: 'retrain.suppressed',
      why: 'incident-open',
    });
    // The scheduled checks keep seeing low AUROC: the streak reaches 2 but the incident is the same.
    for (let i = 1; i <= 3; i++) {
      const step = evaluateDecay(state, obs(i * every, 0.72), { ...P, cooldownMs: 0 });
      expect(step.decisions).toEqual([]);
      state = step.state;
    }
  });

  it('manual always requests and starts the cooldown; a model change closes incidents', () => {
    const m = requestRetrain(INITIAL_DECAY_STATE, { at: H, reason: 'manual', source: 'manual' }, P);
    expect(m.decision).toMatchObject({ type: 'retrain.requested', reason: 'manual' });
    const again = requestRetrain(m.state, { at: 2 * H, reason: 'manual', source: 'manual' }, P);
    expect(again.decision.type).toBe('retrain.requested');
    const alert = requestRetrain(again.state, { at: 3 * H, reason: 'performance', source: 'alert' }, P);
    expect(alert.decision).toMatchObject({
      type: 'retrain.suppressed',
      why: 'cooldown',
      until: 2 * H + P.cooldownMs,
    });
    const withIncident: DecayState = {
      ...INITIAL_DECAY_STATE,
      lowAurocStreak: 3,
      incidents: [{ reason: 'drift', id: 'x', openedAt: 0 }],
    };
    expect(onModelChanged(withIncident)).toMatchObject({ lowAurocStreak: 0, incidents: [] });
  });
});

describe('schedule and params', () => {
  it('checks every 6 hours of injected time', () => {
    expect(nextCheckAt(INITIAL_DECAY_STATE, 1000, P)).toBe(1000 + 6 * H);
    expect(nextCheckAt({ ...INITIAL_DECAY_STATE, lastCheckAt: 7 * H }, 0, P)).toBe(13 * H);
  });

  it('rejects impossible params, naming them', () => {
    expect(() => validateDecayParams({ ...P, aurocThreshold: 1.2, consecutiveChecks: 0 })).toThrow(
      /aurocThreshold.*consecutiveChecks/,
    );
  });
});
