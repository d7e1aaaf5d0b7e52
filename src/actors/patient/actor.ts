import type { Logger } from 'pino';
import type { Observation } from '../../features/normalize.js';
import type { ModelSession } from '../../scoring/session.js';
import {
  acknowledge,
  applyEvent,
  type BehaviorConfig,
  type PatientSnapshot,
  type PatientState,
  scored,
  toSnapshot,
} from './behavior.js';
import type {
  AlertChanged,
  EventPosition,
  PatientCommand,
  PatientEvent,
  PatientId,
  RiskScored,
} from './protocol.js';

/** A model session lent for one scoring; done() lets a hot swap release the old one safely. */
export interface ModelLease {
  readonly session: ModelSession;
  done(): void;
}

/** The ModelSupervisor as a patient actor sees it: which session scores this patient now. */
export interface ModelRouter {
  acquire(patient: PatientId): ModelLease | undefined;
}

export interface PatientOutputs {
  /** Scorings, alert changes and skips, in order. */
  emit(e: PatientEvent): void;
  /** A failure while handling a command: the supervisor decides (supervisor.child.failed). */
  failed(patient: PatientId, command: PatientCommand, error: unknown): void;
}

const SETTLED: Promise<void> = Promise.resolve();

/**
 * The patient actor: one mailbox, commands handled strictly one after another (scoring is async, so
 * the mailbox is a promise chain), state changed only through behavior.ts.
 */
export class PatientActor {
  readonly id: PatientId;
  readonly #cfg: BehaviorConfig;
  readonly #models: ModelRouter;
  readonly #out: PatientOutputs;
  readonly #log: Logger;
  #state: PatientState;
  #tail: Promise<void> = SETTLED;
  #pending = 0;
  #stopped = false;
  /** Changed since the last snapshot. */
  dirty = false;

  constructor(
    cfg: BehaviorConfig,
    state: PatientState,
    models: ModelRouter,
    out: PatientOutputs,
    log: Logger,
  ) {
    this.id = state.id;
    this.#cfg = cfg;
    this.#state = state;
    this.#models = models;
    this.#out = out;
    // The parent logger, not a child per actor: a pino child costs ~330 bytes, and actors rarely log.
    this.#log = log;
  }

  get state(): Readonly<PatientState> {
    return this.#state;
  }

  get pending(): number {
    return this.#pending;
  }

  /** Enqueues a command; the promise settles when it has been handled (never rejects). */
  send(cmd: PatientCommand): Promise<RiskScored | AlertChanged | PatientSnapshot | null> {
    this.#pending++;
    let result: RiskScored | AlertChanged | PatientSnapshot | null = null;
    const run = async (): Promise<void> => {
      if (this.#stopped) return;
      try {
        result = await this.#handle(cmd);
      } catch (e) {
        this.#log.warn(
          { actor: 'patient', patient_actor: this.id, err: e, command: cmd.type },
          'patient actor failed',
        );
        this.#out.failed(this.id, cmd, e);
      } finally {
        this.#pending--;
      }
    };
    const done = this.#tail.then(run);
    this.#tail = done;
    return done.then(() => {
      // An empty mailbox holds the shared settled promise, not the last chain link (~100 bytes each).
      if (this.#pending === 0 && this.#tail === done) this.#tail = SETTLED;
      return result;
    });
  }

  /** Settles when the mailbox is empty. */
  idle(): Promise<void> {
    return this.#tail;
  }

  stop(): void {
    this.#stopped = true;
  }

  async #handle(cmd: PatientCommand): Promise<RiskScored | AlertChanged | PatientSnapshot | null> {
    switch (cmd.type) {
      case 'patient.event.apply':
        return this.#apply(cmd.obs, cmd.position);
      case 'patient.events.apply': {
        let last: RiskScored | null = null;
        for (const it of cmd.items) {
          const due = this.#apply(it.obs, it.position);
          if (due) last = (await due) ?? last;
        }
        return last;
      }
      case 'patient.score.request':
        return this.#score(cmd.t, false);
      case 'patient.alert.acknowledge': {
        const a = acknowledge(this.#cfg, this.#state, cmd.t);
        this.dirty = true;
        if (a) this.#out.emit(a);
        return a;
      }
      case 'patient.snapshot.take':
        this.dirty = false;
        return toSnapshot(this.#state);
    }
  }

  /** Synchronous unless a throttled scoring is due: a batch costs one promise, not one per event. */
  #apply(obs: Observation, position: EventPosition): Promise<RiskScored | null> | null {
    const r = applyEvent(this.#cfg, this.#state, obs, position);
    if (r.kind === 'skipped') {
      this.#out.emit({ type: 'patient.event.skipped', patientId: this.id, position, reason: r.reason });
      if (r.reason === 'duplicate') this.dirty = true;
      return null;
    }
    this.dirty = true;
    return r.scoreAt === null ? null : this.#score(r.scoreAt, true);
  }

  async #score(t: number, throttled: boolean): Promise<RiskScored | null> {
    const lease = this.#models.acquire(this.id);
    if (!lease) return null; // no model loaded yet: features still update, scoring resumes on load
    try {
      const x = Float32Array.from(this.#state.features.compute(t));
      const r = await lease.session.score(x);
      const { scoring, alert } = scored(this.#cfg, this.#state, t, x, r, lease.session, throttled);
      this.#out.emit(scoring);
      if (alert) this.#out.emit(alert);
      return scoring;
    } finally {
      lease.done();
    }
  }
}
