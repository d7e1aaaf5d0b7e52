import { describe, expect, it } from 'vitest';
import { jobEnvironment, trainOptionArgs } from './pipeline.js';

describe('jobEnvironment', () => {
  const env = {
    PATH: '/usr/bin',
    MLFLOW_TRACKING_URI: 'http://127.0.0.1:55000',
    AEPRED_ENROLLMENT_JDBC_URL: 'jdbc:postgresql://127.0.0.1:55432/aepred?user=aepred',
  };

  it("with enrollment 'lake' the jobs never see the stack's enrollment URL (make demo exports it)", () => {
    const out = jobEnvironment(env, 'lake');
    expect(out).not.toHaveProperty('AEPRED_ENROLLMENT_JDBC_URL');
    expect(out).toEqual({ PATH: '/usr/bin', MLFLOW_TRACKING_URI: 'http://127.0.0.1:55000' });
    expect(env.AEPRED_ENROLLMENT_JDBC_URL).toMatch(/^jdbc:/); // the caller's environment is untouched
  });

  it("with enrollment 'environment' the jobs choose as they do by themselves", () => {
    expect(jobEnvironment(env, 'environment')).toEqual(env);
  });
});

describe('trainOptionArgs', () => {
  it('passes no drill flag unless a drill is asked for (a real retraining never inverts labels)', () => {
    expect(trainOptionArgs({ maxEpochs: 3 })).toEqual(['--epochs', '3']);
    expect(trainOptionArgs({ maxEpochs: null })).toEqual([]);
    expect(trainOptionArgs({ maxEpochs: null, drill: undefined })).not.toContain('--drill-inverted-labels');
  });

  it("the 'inverted-labels' drill asks ml train for a candidate trained on 1 - label", () => {
    expect(trainOptionArgs({ maxEpochs: 3, drill: 'inverted-labels' })).toEqual([
      '--epochs',
      '3',
      '--drill-inverted-labels',
    ]);
  });
});
