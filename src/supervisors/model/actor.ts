import type { Logger } from 'pino';
import type { ModelLease, ModelRouter } from '../../actors/patient/actor.js';
import type { ModelVersion, PatientId } from '../../actors/patient/protocol.js';
import { type ModelSession, OnnxModelSession } from '../../scoring/session.js';
import { AepredError } from '../../shared/errors.js';
import { inCanary, refusal } from './behavior.js';
import type { ModelAlias, ModelEvent } from './protocol.js';

/** A session with a count of scorings in flight: a swapped-out session is released at zero. */
class Held {
  inflight = 0;
  retired = false;
  constructor(readonly session: ModelSession) {}
}

/**
 * ModelSupervisor: owns the production and (optional) staging sessions, refuses a model whose
 * feature-set hash differs from the running definition, swaps without failing a scoring (a scoring in
 * flight keeps the session it started with), routes a sticky canary share to staging, rolls back.
 */
export class ModelSupervisor implements ModelRouter {
  readonly #hash: string;
  readonly #log: Logger;
  readonly #emit: (e: ModelEvent) => void;
  #production: Held | undefined;
  #staging: Held | undefined;
  #previous: Held | undefined;
  #share: number;

  constructor(opts: {
    featureSetHash: string;
    canaryShare: number;
    logger: Logger;
    emit?: (e: ModelEvent) => void;
  }) {
    this.#hash = opts.featureSetHash;
    this.#share = opts.canaryShare;
    this.#log = opts.logger.child({ supervisor: 'models' });
    this.#emit = opts.emit ?? (() => {});
  }

  get production(): ModelVersion | undefined {
    return this.#production?.session.version;
  }
  get staging(): ModelVersion | undefined {
    return this.#staging?.session.version;
  }
  get canaryShare(): number {
    return this.#share;
  }

  acquire(patient: PatientId): ModelLease | undefined {
    const h = this.#staging && inCanary(patient, this.#share) ? this.#staging : this.#production;
    if (!h) return undefined;
    h.inflight++;
    return { session: h.session, done: () => this.#done(h) };
  }

  #done(h: Held): void {
    h.inflight--;
    if (h.retired && h.inflight === 0) void this.#release(h);
  }

  async #release(h: Held): Promise<void> {
    try {
      await h.session.release();
    } catch (e) {
      // Called fire-and-forget: a failed release is logged rather than left as an unhandled rejection.
      this.#log.warn(
        { model_version: h.session.version, err: (e as Error).message },
        'model session release failed',
      );
      return;
    }
    this.#emit({ type: 'model.session.released', version: h.session.version });
  }

  #retire(h: Held | undefined, keepAsPrevious: boolean): void {
    if (!h) return;
    if (keepAsPrevious) {
      if (this.#previous && this.#previous !== h) this.#retire(this.#previous, false);
      this.#previous = h;
      return;
    }
    h.retired = true;
    if (h.inflight === 0) void this.#release(h);
  }

  /** Loads ONNX bytes for an alias; the previous production is kept for rollback. */
  async load(alias: ModelAlias, bytes: Uint8Array): Promise<ModelVersion> {
    const session = await OnnxModelSession.load(bytes, (meta) => {
      const why = refusal(meta, this.#hash);
      if (!why) return;
      const version = (meta.model_version ?? '') as ModelVersion;
      this.#emit({ type: 'model.version.refused', alias, version, reason: why });
      throw new AepredError('AEP_MODEL_HASH_MISMATCH', `model ${version} refused: ${why}`, {
        kind: 'config',
      });
    });
    this.#install(alias, session);
    return session.version;
  }

  /** Installs a session directly (already checked, or a test double); swaps atomically. */
  install(alias: ModelAlias, session: ModelSession): void {
    const why = refusal({ feature_set_hash: session.featureSetHash }, this.#hash);
    if (why) {
      this.#emit({ type: 'model.version.refused', alias, version: session.version, reason: why });
      throw new AepredError('AEP_MODEL_HASH_MISMATCH', `model ${session.version} refused: ${why}`, {
        kind: 'config',
      });
    }
    this.#install(alias, session);
  }

  #install(alias: ModelAlias, session: ModelSession): void {
    const held = new Held(session);
    if (alias === 'production') {
      const old = this.#production;
      this.#production = held;
      this.#retire(old, true);
    } else {
      const old = this.#staging;
      this.#staging = held;
      this.#retire(old, false);
    }
    this.#log.info({ alias, model_version: session.version }, 'model loaded');
    this.#emit({
      type: 'model.version.loaded',
      alias,
      version: session.version,
      featureSetHash: session.featureSetHash,
    });
  }

  setCanaryShare(share: number): void {
    if (!(share >= 0 && share <= 1))
      throw new AepredError('AEP_CANARY_SHARE', `canary share ${share} is not in [0, 1]`, { kind: 'usage' });
    this.#share = share;
  }

  promoteStaging(): void {
    const s = this.#staging;
    if (!s) throw new AepredError('AEP_NO_STAGING', 'no staging model to promote', { kind: 'usage' });
    const previous = this.#production?.session.version ?? null;
    this.#staging = undefined;
    const old = this.#production;
    this.#production = s;
    this.#retire(old, true);
    this.#emit({ type: 'model.version.promoted', version: s.session.version, previous });
  }

  rollback(): void {
    const prev = this.#previous;
    const cur = this.#production;
    if (!prev || !cur)
      throw new AepredError('AEP_NO_PREVIOUS_MODEL', 'no previous production model to roll back to', {
        kind: 'usage',
      });
    this.#previous = undefined;
    this.#production = prev;
    this.#retire(cur, false);
    this.#emit({
      type: 'model.version.rolled_back',
      version: prev.session.version,
      from: cur.session.version,
    });
  }

  async close(): Promise<void> {
    for (const h of [this.#production, this.#staging, this.#previous]) if (h) this.#retire(h, false);
    this.#production = this.#staging = this.#previous = undefined;
  }
}
