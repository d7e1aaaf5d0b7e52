/**
 * A run written from Python with the mlflow client is read back from TypeScript over REST,
 * against the stack's MLflow server (PostgreSQL backend store, S3 artifact store).
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { asRecord, MlflowClient } from '../../src/registry/mlflow.js';
import { REPO_ROOT } from '../../src/shared/paths.js';
import { loadStackConfig } from '../../src/stack/config.js';

const run = promisify(execFile);

describe('MLflow across languages', () => {
  it('reads a Python-logged run over REST', async () => {
    const cfg = loadStackConfig();
    const uri = `http://${cfg.host}:${cfg.services.mlflow.port}`;
    const experiment = `crosslang-${randomUUID()}`;
    const { stdout } = await run(
      resolve(REPO_ROOT, '.venv/bin/python'),
      ['-m', 'ml.tracking', 'smoke', '--experiment', experiment, '--run-name', 'crosslang'],
      { cwd: REPO_ROOT, env: { ...process.env, MLFLOW_TRACKING_URI: uri } },
    );
    const ids = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { run_id: string; mode: string };
    expect(ids.mode).toBe('server');

    const client = new MlflowClient(uri);
    const got = await client.getRun(ids.run_id);
    expect(got.info.run_id).toBe(ids.run_id);
    expect(got.info.status).toBe('FINISHED');
    expect(asRecord(got.data.params, (p) => p.value)).toMatchObject({ learning_rate: '0.001' });
    expect(asRecord(got.data.metrics, (m) => m.value).val_auroc).toBeCloseTo(0.81, 6);
    expect(asRecord(got.data.tags, (t) => t.value)['aepred.smoke']).toBe('true');
    // Artifacts go to the S3 object store through the server's proxied artifact root.
    expect(got.info.artifact_uri).toMatch(/^mlflow-artifacts:|^s3:/);
    const exp = await client.getExperimentByName(experiment);
    expect(exp?.experiment_id).toBe(got.info.experiment_id);
  });
});
