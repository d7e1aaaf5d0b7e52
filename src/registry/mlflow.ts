/**
 * A small typed client for the MLflow REST API (2.0 paths, served by MLflow 3.x). The service
 * reads the registry over HTTP only; Python writes to it with the mlflow client.
 */
import { AepredError } from '../shared/errors.js';

export interface MlflowRunParam {
  key: string;
  value: string;
}
export interface MlflowMetric {
  key: string;
  value: number;
  step?: number;
  timestamp?: number;
}
export interface MlflowRun {
  info: { run_id: string; experiment_id: string; status: string; artifact_uri?: string; run_name?: string };
  data: { params?: MlflowRunParam[]; metrics?: MlflowMetric[]; tags?: MlflowRunParam[] };
}

export class MlflowClient {
  readonly #base: string;
  readonly #fetch: typeof fetch;

  constructor(trackingUri: string, fetchImpl: typeof fetch = fetch) {
    if (!/^https?:\/\//.test(trackingUri)) {
      throw new AepredError(
        'AEP_MLFLOW_URI',
        `MLflow tracking URI must be http(s) for the REST client, got ${trackingUri}`,
        { kind: 'config' },
      );
    }
    this.#base = trackingUri.replace(/\/+$/, '');
    this.#fetch = fetchImpl;
  }

  async #get<T>(path: string, query: Record<string, string>): Promise<T> {
    const url = `${this.#base}/api/2.0/mlflow/${path}?${new URLSearchParams(query).toString()}`;
    let res: Response;
    try {
      res = await this.#fetch(url);
    } catch (e) {
      throw new AepredError('AEP_MLFLOW_UNREACHABLE', `MLflow at ${this.#base} did not answer`, {
        retryable: true,
        cause: e,
      });
    }
    if (!res.ok) {
      const body = await res.text();
      throw new AepredError(
        'AEP_MLFLOW_HTTP',
        `MLflow ${path} answered ${res.status}: ${body.slice(0, 300)}`,
        {
          retryable: res.status >= 500,
        },
      );
    }
    return (await res.json()) as T;
  }

  async getRun(runId: string): Promise<MlflowRun> {
    const body = await this.#get<{ run: MlflowRun }>('runs/get', { run_id: runId });
    return body.run;
  }

  async getExperimentByName(name: string): Promise<{ experiment_id: string; name: string } | undefined> {
    try {
      const body = await this.#get<{ experiment: { experiment_id: string; name: string } }>(
        'experiments/get-by-name',
        { experiment_name: name },
      );
      return body.experiment;
    } catch (e) {
      if (e instanceof AepredError && e.code === 'AEP_MLFLOW_HTTP' && e.message.includes('404'))
        return undefined;
      throw e;
    }
  }
}

/** Flattens MLflow's key/value lists into a record. */
export function asRecord<T extends { key: string }, V>(
  items: readonly T[] | undefined,
  pick: (t: T) => V,
): Record<string, V> {
  const out: Record<string, V> = {};
  for (const it of items ?? []) out[it.key] = pick(it);
  return out;
}

export interface MlflowModelVersion {
  name: string;
  version: string;
  run_id?: string;
  source?: string;
  tags?: MlflowRunParam[];
}

/**
 * Registry reads for serving (issue 7): which version an alias points at, and the bytes of the
 * run's `model/model.onnx` (what `ml/registry.py` registers). Additive to MlflowClient above.
 */
export class MlflowRegistryReader {
  readonly #base: string;
  readonly #client: MlflowClient;
  readonly #fetch: typeof fetch;

  constructor(trackingUri: string, fetchImpl: typeof fetch = fetch) {
    this.#client = new MlflowClient(trackingUri, fetchImpl);
    this.#base = trackingUri.replace(/\/+$/, '');
    this.#fetch = fetchImpl;
  }

  get client(): MlflowClient {
    return this.#client;
  }

  /** The version holding `alias`, or undefined when no version holds it. */
  async versionByAlias(name: string, alias: string): Promise<MlflowModelVersion | undefined> {
    const url = `${this.#base}/api/2.0/mlflow/registered-models/alias?${new URLSearchParams({ name, alias })}`;
    const res = await this.#get(url);
    if (res.status === 404 || res.status === 400) return undefined;
    if (!res.ok) {
      throw new AepredError('AEP_MLFLOW_HTTP', `MLflow alias lookup answered ${res.status}`, {
        retryable: res.status >= 500,
      });
    }
    return ((await res.json()) as { model_version: MlflowModelVersion }).model_version;
  }

  /** A run artifact's bytes through the tracking server's artifact proxy. */
  async runArtifact(runId: string, path: string): Promise<Uint8Array> {
    const url = `${this.#base}/get-artifact?${new URLSearchParams({ path, run_uuid: runId })}`;
    const res = await this.#get(url);
    if (!res.ok) {
      throw new AepredError(
        'AEP_MLFLOW_HTTP',
        `MLflow artifact ${path} of run ${runId} answered ${res.status}`,
        {
          retryable: res.status >= 500,
        },
      );
    }
    return new Uint8Array(await res.arrayBuffer());
  }

  async #get(url: string): Promise<Response> {
    try {
      return await this.#fetch(url);
    } catch (e) {
      throw new AepredError('AEP_MLFLOW_UNREACHABLE', `MLflow at ${this.#base} did not answer`, {
        retryable: true,
        cause: e,
      });
    }
  }
}
