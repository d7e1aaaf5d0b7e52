import { describe, expect, it } from 'vitest';
import { OutcomeJoiner } from './outcomes.js';

const H = 3_600_000;

function joiner() {
  const out: Array<[number, number, boolean]> = [];
  const j = new OutcomeJoiner({
    horizonMs: 24 * H,
    graceMs: 12 * H,
    onOutcome: (at, p, label) => out.push([at / H, p, label]),
  });
  return { j, out };
}

describe('OutcomeJoiner: labels of live predictions from late adverse-event reports', () => {
  it('an event in (t, t + horizon] makes the prediction positive when its report arrives', () => {
    const { j, out } = joiner();
    j.prediction('P1', 10 * H, 0.7);
    j.prediction('P1', 20 * H, 0.6);
    j.prediction('P2', 10 * H, 0.1);
    j.advance(30 * H);
    expect(out).toEqual([]);
    // event at hour 34: inside (10, 34] and (20, 44]; reported at hour 40
    j.adverseEvent('P1', 34 * H);
    expect(out).toEqual([
      [10, 0.7, true],
      [20, 0.6, true],
    ]);
    expect(j.pending).toBe(1);
    expect(j.positives).toBe(2);
  });

  it('the horizon is (t, t + h]: an event at t or after t + h does not count', () => {
    const { j, out } = joiner();
    j.prediction('P1', 10 * H, 0.5);
    j.adverseEvent('P1', 10 * H);
    j.adverseEvent('P1', 34 * H + 1);
    expect(out).toEqual([]);
    j.adverseEvent('P1', 34 * H);
    expect(out).toEqual([[10, 0.5, true]]);
  });

  it('a prediction made after the report of an event in its horizon is positive at once', () => {
    const { j, out } = joiner();
    j.adverseEvent('P1', 30 * H);
    j.prediction('P1', 12 * H, 0.4);
    j.prediction('P1', 31 * H, 0.2);
    expect(out).toEqual([[12, 0.4, true]]);
    expect(j.pending).toBe(1);
  });

  it('negative once the watermark passes t + horizon + grace with no report; a later report is counted late', () => {
    const { j, out } = joiner();
    j.prediction('P1', 10 * H, 0.3);
    j.prediction('P1', 11 * H, 0.3);
    j.advance(10 * H + 36 * H - 1);
    expect(out).toEqual([]);
    j.advance(10 * H + 36 * H);
    expect(out).toEqual([[10, 0.3, false]]);
    expect(j.pending).toBe(1);
    // an event at hour 33.5 would have made hour 10's prediction positive: too late for it
    j.adverseEvent('P1', 33.5 * H);
    expect(out).toEqual([
      [10, 0.3, false],
      [11, 0.3, true],
    ]);
    expect(j.lateReports).toBe(1);
    expect([j.positives, j.negatives]).toEqual([1, 1]);
    // a prediction arriving with its horizon and grace already past is final at once
    j.prediction('P2', 1 * H, 0.9);
    expect(out.at(-1)).toEqual([1, 0.9, false]);
  });

  it('the watermark only moves forward; out-of-order predictions of a patient stay in time order', () => {
    const { j, out } = joiner();
    j.prediction('P1', 20 * H, 0.2);
    j.prediction('P1', 10 * H, 0.1);
    j.advance(50 * H);
    j.advance(40 * H);
    expect(j.watermark).toBe(50 * H);
    expect(out).toEqual([[10, 0.1, false]]);
    j.advance(56 * H);
    expect(out).toEqual([
      [10, 0.1, false],
      [20, 0.2, false],
    ]);
    expect(j.pending).toBe(0);
  });

  it('rejects a non-positive horizon and a negative grace', () => {
    expect(() => new OutcomeJoiner({ horizonMs: 0, graceMs: 0, onOutcome: () => {} })).toThrow(/horizonMs/);
    expect(() => new OutcomeJoiner({ horizonMs: H, graceMs: -1, onOutcome: () => {} })).toThrow(/graceMs/);
  });
});
