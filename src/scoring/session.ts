import * as ort from 'onnxruntime-node';
import { type ModelVersion, modelVersion } from '../actors/patient/protocol.js';
import { AepredError } from '../shared/errors.js';
import { onnxMetadata } from './onnx-metadata.js';

/**
 * One loaded ONNX serving graph (ml/onnx_export.py): input `features` float32 [N, F] in the
 * definition's order with NaN where missing; outputs `risk` [N] and `attribution` [N, F].
 * The metadata ties it to a feature-set hash; the ModelSupervisor refuses one that differs.
 */
export interface ScoreResult {
  risk: number;
  attribution: Float32Array;
}

export interface ModelSession {
  readonly version: ModelVersion;
  readonly featureSetHash: string;
  readonly featureNames: readonly string[];
  score(x: Float32Array): Promise<ScoreResult>;
  release(): Promise<void>;
}

export class OnnxModelSession implements ModelSession {
  readonly version: ModelVersion;
  readonly featureSetHash: string;
  readonly featureNames: readonly string[];
  readonly #session: ort.InferenceSession;

  private constructor(s: ort.InferenceSession, meta: Readonly<Record<string, string>>) {
    this.#session = s;
    this.version = modelVersion(meta.model_version ?? '');
    this.featureSetHash = meta.feature_set_hash ?? '';
    this.featureNames = JSON.parse(meta.feature_names ?? '[]') as string[];
  }

  /** Reads the metadata first, so `check` can refuse a model before a session is built. */
  static async load(
    bytes: Uint8Array,
    check: (meta: Readonly<Record<string, string>>) => void = () => {},
  ): Promise<OnnxModelSession> {
    const meta = onnxMetadata(bytes);
    if (!meta.feature_set_hash) {
      throw new AepredError('AEP_MODEL_NO_HASH', 'the model carries no feature_set_hash metadata', {
        kind: 'config',
      });
    }
    check(meta);
    const opts: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1 };
    return new OnnxModelSession(await ort.InferenceSession.create(bytes, opts), meta);
  }

  async score(x: Float32Array): Promise<ScoreResult> {
    const input = new ort.Tensor('float32', x, [1, x.length]);
    const out = await this.#session.run({ features: input });
    const risk = out.risk?.data as Float32Array | undefined;
    const attr = out.attribution?.data as Float32Array | undefined;
    if (!risk || !attr) throw new AepredError('AEP_MODEL_OUTPUT', 'model output lacks risk or attribution');
    return { risk: risk[0]!, attribution: attr };
  }

  async release(): Promise<void> {
    await this.#session.release();
  }
}
