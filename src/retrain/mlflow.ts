/**
 * What the closed loop writes to MLflow over REST: alias moves (promote, canary rollback), the
 * retraining report on the training run (tags, metrics, an artifact through the tracking server's
 * artifact proxy), and the UI links printed for people. Reads go through src/registry/mlflow.ts.
 */
import { AepredError } from '../shared/errors.js';

export interface ModelVersionInfo {
  readonly name: string;
  readonly version: string;
  readonly runId: string;
  readonly aliases: readonly string[];
  readonly tags: Readonly<Record<string, string>>;
}

export class MlflowWriter {
  readonly #base: string;
  readonly #fetch: typeof fetch;

  constructor(trackingUri: string, fetchImpl: typeof fetch = fetch) {
    if (!/^https?:\/\//.test(trackingUri))
      throw new AepredError('AEP_MLFLOW_URI', `MLflow tracking URI must be http(s), got ${trackingUri}`, {
        kind: 'config',
      });
    this.#base = trackingUri.replace(/\/+$/, '');
    this.#fetch = fetchImpl;
  }

  get base(): string {
    return this.#base;
  }

  async #call(
    method: string,
    path: string,
    body?: unknown,
    query?: Record<string, string>,
  ): Promise<unknown> {
    const qs = query ? `?${new URLSearchParams(query).toString()}` : '';
    const url = `${this.#base}/api/2.0/mlflow/${path}${qs}`;
    let res: Response;
    try {
      res = await this.#fetch(url, {
        method,
        headers: { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (e) {
      throw new AepredError('AEP_MLFLOW_UNREACHABLE', `MLflow at ${this.#base} did not answer`, {
        retryable: true,
        cause: e,
      });
    }
    const text = await res.text();
    if (!res.ok)
      throw new AepredError(
        'AEP_MLFLOW_HTTP',
        `MLflow ${method} ${path} answered ${res.status}: ${text.slice(0, 300)}`,
        {
          retryable: res.status >= 500,
        },
      );
    return text ? (JSON.parse(text) as unknown) : {};
  }

  async versionByAlias(name: string, alias: string): Promise<ModelVersionInfo | undefined> {
    try {
      const body = (await this.#call('GET', 'registered-models/alias', undefined, { name, alias })) as {
        model_version: RawVersion;
      };
      return toInfo(body.model_version);
    } catch (e) {
      if (e instanceof AepredError && e.code === 'AEP_MLFLOW_HTTP' && /answered (404|400)/.test(e.message))
        return undefined;
      throw e;
    }
  }

  async getVersion(name: string, version: string): Promise<ModelVersionInfo> {
    const body = (await this.#call('GET', 'model-versions/get', undefined, { name, version })) as {
      model_version: RawVersion;
    };
    return toInfo(body.model_version);
  }

  async setAlias(name: string, alias: string, version: string): Promise<void> {
    await this.#call('POST', 'registered-models/alias', { name, alias, version });
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.#call('DELETE', 'registered-models/alias', { name, alias }, { name, alias });
  }

  async setVersionTag(name: string, version: string, key: string, value: string): Promise<void> {
    await this.#call('POST', 'model-versions/set-tag', { name, version, key, value });
  }

  async setRunTag(runId: string, key: string, value: string): Promise<void> {
    await this.#call('POST', 'runs/set-tag', { run_id: runId, key, value });
  }

  async logMetric(runId: string, key: string, value: number, timestamp: number): Promise<void> {
    await this.#call('POST', 'runs/log-metric', { run_id: runId, key, value, timestamp, step: 0 });
  }

  async runInfo(runId: string): Promise<{ experimentId: string; artifactUri: string }> {
    const body = (await this.#call('GET', 'runs/get', undefined, { run_id: runId })) as {
      run: { info: { experiment_id: string; artifact_uri: string } };
    };
    return { experimentId: body.run.info.experiment_id, artifactUri: body.run.info.artifact_uri };
  }

  /** Uploads a run artifact through the server's artifact proxy (`mlflow-artifacts:/` runs only). */
  async logArtifact(runId: string, path: string, content: string): Promise<string> {
    const { artifactUri } = await this.runInfo(runId);
    const prefix = 'mlflow-artifacts:/';
    if (!artifactUri.startsWith(prefix))
      throw new AepredError(
        'AEP_MLFLOW_ARTIFACTS',
        `run ${runId} stores artifacts at ${artifactUri}; only the server's artifact proxy is writable over REST`,
        { kind: 'config' },
      );
    const rel = `${artifactUri.slice(prefix.length).replace(/^\/+/, '')}/${path}`;
    const url = `${this.#base}/api/2.0/mlflow-artifacts/artifacts/${rel.split('/').map(encodeURIComponent).join('/')}`;
    const res = await this.#fetch(url, { method: 'PUT', body: content });
    if (!res.ok)
      throw new AepredError('AEP_MLFLOW_HTTP', `MLflow artifact upload ${path} answered ${res.status}`, {
        retryable: res.status >= 500,
      });
    return `${artifactUri}/${path}`;
  }

  runUrl(experimentId: string, runId: string): string {
    return `${this.#base}/#/experiments/${experimentId}/runs/${runId}`;
  }

  versionUrl(name: string, version: string): string {
    return `${this.#base}/#/models/${encodeURIComponent(name)}/versions/${version}`;
  }
}

interface RawVersion {
  name: string;
  version: string;
  run_id?: string;
  aliases?: string[];
  tags?: Array<{ key: string; value: string }>;
}

function toInfo(v: RawVersion): ModelVersionInfo {
  return {
    name: v.name,
    version: String(v.version),
    runId: v.run_id ?? '',
    aliases: v.aliases ?? [],
    tags: Object.fromEntries((v.tags ?? []).map((t) => [t.key, t.value])),
  };
}
