/**
 * The MLflow tracking server from the project's virtual environment: backend store in the stack's
 * PostgreSQL (database `mlflow`), artifacts proxied by the server to the S3 object store (bucket
 * from stack.yaml; the minio service creates it once healthy). One worker keeps memory low on a
 * small machine; clients reach artifacts through the server (mlflow-artifacts:/), so they need no
 * S3 credentials of their own.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AepredError } from '../../shared/errors.js';
import { REPO_ROOT } from '../../shared/paths.js';
import { haveBinary } from '../apt.js';
import type { StackConfig } from '../config.js';
import { httpOk } from '../probes.js';
import { runCommand } from '../process.js';
import type { LaunchSpec, ServiceDef } from '../types.js';
import { MLFLOW_DATABASE, postgresUrl } from './postgres.js';

function mlflowBinary(): string {
  return join(REPO_ROOT, '.venv', 'bin', 'mlflow');
}

export function mlflowUrl(config: StackConfig): string {
  return `http://${config.host}:${config.services.mlflow.port}`;
}

export const mlflow: ServiceDef = {
  name: 'mlflow',
  dependsOn: ['postgres', 'minio'],

  ports(config) {
    return [config.services.mlflow.port];
  },

  async ensureInstalled(ctx) {
    if (existsSync(mlflowBinary())) return;
    if (!haveBinary('uv')) {
      throw new AepredError(
        'AEP_STACK_TOOL_MISSING',
        `${mlflowBinary()} is missing and uv is not installed`,
        {
          detail: 'install uv (https://docs.astral.sh/uv/) or run `make` to create the virtual environment',
        },
      );
    }
    ctx.say('creating the Python virtual environment (uv sync --frozen)');
    const r = await runCommand('uv', ['sync', '--frozen'], { cwd: REPO_ROOT });
    if (r.code !== 0 || !existsSync(mlflowBinary())) {
      throw new AepredError('AEP_STACK_INSTALL_FAILED', `uv sync --frozen failed (exit ${r.code})`, {
        detail: r.output.split('\n').slice(-30).join('\n'),
      });
    }
  },

  async prepare() {
    // Nothing to prepare: the database comes from postgres' set-up, the bucket from minio's.
  },

  launch(ctx): LaunchSpec {
    const { config } = ctx;
    const m = config.services.minio;
    return {
      command: mlflowBinary(),
      args: [
        'server',
        '--backend-store-uri',
        // SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3; the venv ships psycopg2.
        postgresUrl(config, MLFLOW_DATABASE).replace(/^postgresql:/, 'postgresql+psycopg2:'),
        '--artifacts-destination',
        `s3://${config.services.mlflow.artifact_bucket}/`,
        '--host',
        config.host,
        '--port',
        String(config.services.mlflow.port),
        '--workers',
        '1',
      ],
      env: {
        MLFLOW_S3_ENDPOINT_URL: `http://${config.host}:${m.port}`,
        AWS_ACCESS_KEY_ID: m.access_key,
        AWS_SECRET_ACCESS_KEY: m.secret_key,
        AWS_DEFAULT_REGION: m.region,
        // The job runner (GenAI scorers, prompt optimisation) forks a dozen huey workers, about
        // 700 MB together; aepred uses none of it.
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false',
        // The server's own telemetry would try the internet; this machine may not reach it.
        MLFLOW_DISABLE_TELEMETRY: 'true',
        DO_NOT_TRACK: 'true',
      },
    };
  },

  async probe(ctx) {
    const base = mlflowUrl(ctx.config);
    // /health answers before the store is usable; a real API call proves the backend works.
    return (
      (await httpOk(`${base}/health`, 200)) &&
      (await httpOk(`${base}/api/2.0/mlflow/experiments/search?max_results=1`, 200, 5_000))
    );
  },
};
