import { describe, expect, it } from 'vitest';
import { type ArmStats, CanaryJudge } from './judge.js';

const judge = new CanaryJudge({
  minLabelled: 50,
  aurocTolerance: 0.02,
  eceTolerance: 0.02,
  errorRateTolerance: 0.005,
});
const prod: ArmStats = {
  labelled: 500,
  positives: 50,
  auroc: 0.82,
  calibrationError: 0.03,
  requests: 1000,
  errors: 0,
};

describe('CanaryJudge', () => {
  it('promotes a canary that is no worse within the tolerances', () => {
    const v = judge.judge(prod, {
      ...prod,
      labelled: 60,
      positives: 6,
      auroc: 0.805,
      calibrationError: 0.049,
      requests: 100,
    });
    expect(v.decision).toBe('promote');
    expect(v.reasons).toEqual([]);
    expect(v.checks).toEqual({ evidence: true, auroc: true, calibration: true, error_rate: true });
  });

  it('rolls back on each failed check, naming it', () => {
    const worseAuroc = judge.judge(prod, { ...prod, auroc: 0.79 });
    expect(worseAuroc.decision).toBe('rollback');
    expect(worseAuroc.checks.auroc).toBe(false);
    expect(worseAuroc.reasons[0]).toMatch(/AUROC 0.7900 < production 0.8200/);
    const worseEce = judge.judge(prod, { ...prod, calibrationError: 0.06 });
    expect(worseEce.checks).toMatchObject({ auroc: true, calibration: false });
    const errors = judge.judge(prod, { ...prod, requests: 100, errors: 1 });
    expect(errors.checks.error_rate).toBe(false);
    expect(errors.decision).toBe('rollback');
  });

  it('treats exactly the tolerance as stable', () => {
    expect(judge.judge(prod, { ...prod, auroc: 0.8, calibrationError: 0.05 }).decision).toBe('promote');
  });

  it('rolls back without evidence: too few labels or one class only', () => {
    expect(judge.judge(prod, { ...prod, labelled: 49 }).checks.evidence).toBe(false);
    const oneClass = judge.judge(prod, { ...prod, positives: 0, auroc: null });
    expect(oneClass.decision).toBe('rollback');
    expect(oneClass.reasons[0]).toMatch(/too little evidence/);
  });

  it('refuses impossible tolerances at construction', () => {
    expect(
      () => new CanaryJudge({ minLabelled: -1, aurocTolerance: 1, eceTolerance: 0, errorRateTolerance: 0 }),
    ).toThrow(/minLabelled >= 0, 0 <= aurocTolerance < 1/);
  });
});
