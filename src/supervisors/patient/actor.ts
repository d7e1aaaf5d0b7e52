import type { Logger } from 'pino';
import { type ModelRouter, PatientActor, type PatientOutputs } from '../../actors/patient/actor.js';
import {
  type BehaviorConfig,
  fromSnapshot,
  initialState,
  type PatientSnapshot,
  type PatientState,
  toSnapshot,
} from '../../actors/patient/behavior.js';
import type {
  DeliveredEvent,
  EventPosition,
  PatientCommand,
  PatientEvent,
  PatientId,
  RiskScored,
} from '../../actors/patient/protocol.js';
import type { ActorsParams } from '../../config/params.js';
import type { PatientContext } from '../../features/engine.js';
import type { Observation } from '../../features/normalize.js';
import type { Clock, TimerHandle } from '../clock.js';
import { decide, type SupervisionSpec } from '../strategy.js';
import type { PatientSupervisorEvent } from './protocol.js';
import type { SnapshotStore } from './store.js';

export interface PatientSupervisorOptions {
  behavior: BehaviorConfig;
  models: ModelRouter;
  store: SnapshotStore;
  /** Enrollment context for a patient seen for the first time. */
  context: (p: PatientId) => PatientContext | Promise<PatientContext>;
  clock: Clock;
  params: ActorsParams;
  logger: Logger;
  /** Everything the actors emit (scorings, alerts) and the supervisor's own lifecycle events. */
  emit: (e: PatientEvent | PatientSupervisorEvent) => void;
  /**
   * The Kafka partition a patient's events land in (the producers' partitioner over the patient id).
   * With it, a request for a patient of a partition this replica does not own is answered from the
   * snapshot instead of activating a second live actor here.
   */
  partitionOf?: (p: PatientId) => number;
  /**
   * Events journaled across all actors before the supervisor snapshots the dirty actors on its own,
   * ahead of the periodic checkpoint. The journals (for restarts) hold every event since each actor's
   * last snapshot; the checkpoint comes every `actors.snapshot_interval_seconds` of processing time,
   * which during a catch-up at ~300,000 events/s is gigabytes of journal. Default JOURNAL_LIMIT.
   */
  journalLimit?: number;
}

interface Child {
  actor: PatientActor;
  lastActive: number;
  /** Commands since the last snapshot: replayed onto it when the actor is restarted. */
  journal: PatientCommand[];
  /** How many commands were dropped from the front of the journal so far (absolute positions). */
  journalBase: number;
  /** Events in the journal (a batch counts its events). */
  journalEvents: number;
  restarts: readonly number[];
  /**
   * Whether the store holds a snapshot of this actor (restored from one, or written since): a restart
   * reads it back from the store rather than keeping a second copy of every actor's state here.
   */
  snapshotted: boolean;
}

const NO_RESTARTS: readonly number[] = Object.freeze([]);

const eventsIn = (cmd: PatientCommand): number =>
  cmd.type === 'patient.events.apply' ? cmd.items.length : 1;

/** Default PatientSupervisorOptions.journalLimit (~30-70 MB of journaled events). */
export const JOURNAL_LIMIT = 100_000;

/**
 * PatientSupervisor: spawns an actor on a patient's first event (restoring its Redis snapshot when
 * there is one), snapshots dirty actors periodically, passivates idle ones, restarts failed ones
 * with backoff per the declared spec, and stops the actors of revoked partitions.
 */
export class PatientSupervisor {
  readonly #o: PatientSupervisorOptions;
  readonly #log: Logger;
  readonly #children = new Map<PatientId, Child>();
  readonly #activating = new Map<PatientId, Promise<Child>>();
  /** Patients whose actor failed and waits for its restart: commands queue here meanwhile. */
  readonly #restarting = new Map<PatientId, PatientCommand[]>();
  readonly #spec: SupervisionSpec;
  #timer: TimerHandle | undefined;
  #owned: Set<number> | undefined;
  /** Fence of the consumer-group generation the actors are fed under (store.ts). */
  #fence = 0;
  /** Events in all journals. */
  #journaled = 0;
  #early = false;
  /** Snapshot rounds run one after another (see snapshotAll). */
  #snapshots: Promise<unknown> = Promise.resolve();
  /** One for all actors (they pass their id): two closures per actor would be ~200 bytes each. */
  readonly #outputs: PatientOutputs = {
    emit: (e) => this.#o.emit(e),
    failed: (id, cmd, err) => this.#failed(id, cmd, err),
  };

  constructor(o: PatientSupervisorOptions) {
    this.#o = o;
    this.#log = o.logger.child({ supervisor: 'patients' });
    const r = o.params.restart;
    this.#spec = {
      directive: 'restart-with-backoff',
      maxRestarts: r.max_restarts,
      withinMs: r.within_seconds * 1000,
      backoff: { initialMs: r.initial_backoff_ms, maxMs: r.max_backoff_ms, factor: r.factor },
    };
  }

  get size(): number {
    return this.#children.size;
  }

  live(): PatientId[] {
    return [...this.#children.keys()];
  }

  actor(p: PatientId): PatientActor | undefined {
    return this.#children.get(p)?.actor;
  }

  /** Starts the periodic snapshot + passivation sweep on the injected clock. */
  start(): void {
    const every = this.#o.params.snapshot_interval_seconds * 1000;
    const tick = (): void => {
      this.#timer = this.#o.clock.setTimer(every, tick);
      // A failed sweep (store unreachable, fence lost to another replica) must not become an
      // unhandled rejection: it is logged, and the next tick tries again with the state still dirty.
      this.sweep().catch((e: unknown) =>
        this.#log.warn({ err: e instanceof Error ? e.message : String(e) }, 'snapshot sweep failed'),
      );
    };
    this.#timer = this.#o.clock.setTimer(every, tick);
  }

  async stop(): Promise<void> {
    if (this.#timer) this.#o.clock.clearTimer(this.#timer);
    this.#timer = undefined;
    await this.snapshotAll();
    for (const c of this.#children.values()) {
      c.actor.stop();
      this.#forget(c);
    }
    this.#children.clear();
  }

  get fence(): number {
    return this.#fence;
  }

  /** Snapshots written from now on carry this fence; set after each consumer-group join. */
  setFence(f: number): void {
    this.#fence = f;
  }

  async deliver(p: PatientId, obs: Observation, position: EventPosition): Promise<void> {
    return this.#deliver(p, { type: 'patient.event.apply', obs, position });
  }

  /** A Kafka batch's events of one patient, in order, in one mailbox turn. */
  async deliverBatch(p: PatientId, items: readonly DeliveredEvent[]): Promise<void> {
    if (items.length === 0) return;
    return this.#deliver(p, { type: 'patient.events.apply', items });
  }

  async #deliver(p: PatientId, cmd: PatientCommand): Promise<void> {
    const queued = this.#restarting.get(p);
    if (queued) {
      queued.push(cmd);
      return;
    }
    const c = this.#children.get(p) ?? (await this.#activate(p));
    c.lastActive = this.#o.clock.now();
    // Enqueue first: an early snapshot started by #journal waits for the mailbox including cmd.
    const done = c.actor.send(cmd);
    this.#journal(c, cmd);
    await done;
  }

  #journal(c: Child, cmd: PatientCommand): void {
    const n = eventsIn(cmd);
    c.journal.push(cmd);
    c.journalEvents += n;
    this.#journaled += n;
    if (this.#journaled > (this.#o.journalLimit ?? JOURNAL_LIMIT) && !this.#early) {
      this.#early = true;
      this.snapshotAll()
        .catch((e) => this.#log.warn({ err: e }, 'early snapshot failed; the journals are kept'))
        .finally(() => {
          this.#early = false;
        });
    }
  }

  /** A child leaves: its journal no longer counts. */
  #forget(c: Child): void {
    this.#journaled -= c.journalEvents;
    c.journalEvents = 0;
  }

  /** Drops the journal's commands before absolute position `upto` (they are in a stored snapshot). */
  #trim(c: Child, upto: number): void {
    const drop = upto - c.journalBase;
    if (drop <= 0) return;
    let n = 0;
    for (let i = 0; i < drop; i++) n += eventsIn(c.journal[i]!);
    c.journalEvents -= n;
    this.#journaled -= n;
    c.journal = c.journal.slice(drop);
    c.journalBase = upto;
  }

  /** Scores a patient at t: by its live actor, or from the snapshot when another replica owns it. */
  async score(p: PatientId, t: number): Promise<RiskScored | null> {
    if (!this.#children.has(p) && !this.ownsPatient(p)) return this.scoreFromSnapshot(p, t);
    const c = this.#children.get(p) ?? (await this.#activate(p));
    c.lastActive = this.#o.clock.now();
    const r = await c.actor.send({ type: 'patient.score.request', t });
    return r && 'type' in r && r.type === 'patient.risk.scored' ? r : null;
  }

  async acknowledge(p: PatientId, t: number, by: string): Promise<void> {
    const c = this.#children.get(p) ?? (await this.#activate(p));
    const cmd: PatientCommand = { type: 'patient.alert.acknowledge', t, by };
    const done = c.actor.send(cmd);
    this.#journal(c, cmd);
    await done;
  }

  /** Waits until every mailbox is empty. */
  async idle(): Promise<void> {
    await Promise.all([...this.#children.values()].map((c) => c.actor.idle()));
  }

  #activate(p: PatientId): Promise<Child> {
    const inflight = this.#activating.get(p);
    if (inflight) return inflight;
    const job = (async (): Promise<Child> => {
      const snap = await this.#o.store.get(p);
      const state = snap
        ? fromSnapshot(this.#o.behavior, snap)
        : initialState(this.#o.behavior, p, await this.#o.context(p));
      const child = this.#spawn(p, state, snap !== undefined);
      this.#o.emit({ type: 'patient.actor.spawned', patientId: p, restored: snap !== undefined });
      return child;
    })().finally(() => this.#activating.delete(p));
    this.#activating.set(p, job);
    return job;
  }

  #spawn(p: PatientId, state: PatientState, snapshotted: boolean, prev?: Child): Child {
    const actor = new PatientActor(this.#o.behavior, state, this.#o.models, this.#outputs, this.#log);
    const child: Child = {
      actor,
      lastActive: this.#o.clock.now(),
      journal: [],
      journalBase: 0,
      journalEvents: 0,
      restarts: prev?.restarts ?? NO_RESTARTS,
      snapshotted,
    };
    this.#children.set(p, child);
    return child;
  }

  /** supervisor.child.failed: the failed command is dropped (a poison message must not loop). */
  #failed(p: PatientId, cmd: PatientCommand, err: unknown): void {
    const c = this.#children.get(p);
    if (!c) return;
    const now = this.#o.clock.now();
    const d = decide(this.#spec, c.restarts, now);
    const error = err instanceof Error ? err.message : String(err);
    this.#log.warn({ patient_actor: p, decision: d.action, error }, 'patient actor failed');
    c.actor.stop();
    if (d.action !== 'restart') {
      this.#forget(c);
      this.#children.delete(p);
      this.#o.emit({ type: 'patient.actor.stopped', patientId: p, reason: error });
      if (d.action === 'escalate')
        this.#o.emit({ type: 'patients.escalated', patientId: p, reason: d.reason });
      return;
    }
    c.restarts = [...c.restarts, now];
    const replay = c.journal.filter((x) => x !== cmd);
    // Commands arriving until the restarted actor exists are appended to `replay` (#deliver).
    this.#restarting.set(p, replay);
    const restart = (): void => {
      void (async () => {
        let fresh: Child;
        try {
          const snap = c.snapshotted ? await this.#o.store.get(p) : undefined;
          const base = snap
            ? fromSnapshot(this.#o.behavior, snap)
            : initialState(this.#o.behavior, p, await this.#o.context(p));
          fresh = this.#spawn(p, base, snap !== undefined, c);
        } catch (e) {
          this.#restarting.delete(p);
          const reason = `restart failed: ${e instanceof Error ? e.message : String(e)}`;
          this.#log.warn({ patient_actor: p, err: e }, 'patient actor restart failed');
          this.#o.emit({ type: 'patient.actor.stopped', patientId: p, reason });
          this.#o.emit({ type: 'patients.escalated', patientId: p, reason });
          return;
        }
        this.#restarting.delete(p);
        fresh.journal = replay;
        fresh.journalEvents = replay.reduce((a, x) => a + eventsIn(x), 0);
        this.#journaled += fresh.journalEvents;
        for (const x of replay) void fresh.actor.send(x);
        this.#o.emit({ type: 'patient.actor.restarted', patientId: p, delayMs: d.delayMs });
      })();
    };
    // Until the restart, new events for the patient queue on the stopped actor's replacement.
    this.#forget(c);
    this.#children.delete(p);
    if (d.delayMs === 0) restart();
    else this.#o.clock.setTimer(d.delayMs, restart);
  }

  /** Snapshots every dirty actor, then passivates those idle longer than the limit. */
  async sweep(): Promise<void> {
    await this.snapshotAll();
    const idleMs = this.#o.params.passivate_idle_minutes * 60_000;
    const now = this.#o.clock.now();
    for (const [p, c] of this.#children) {
      if (now - c.lastActive >= idleMs && c.actor.pending === 0) {
        c.actor.stop();
        this.#forget(c);
        this.#children.delete(p);
        this.#o.emit({ type: 'patient.actor.passivated', patientId: p });
      }
    }
  }

  /**
   * Snapshots every dirty actor (that passes `filter`). Rounds run one after another: a round marks
   * what it snapshots clean before the write completes, so a concurrent round (the feed's checkpoint
   * next to an early one) would skip those actors and let the feed commit before they are stored.
   */
  snapshotAll(filter: (c: PatientActor) => boolean = () => true): Promise<number> {
    const round = this.#snapshots.then(() => this.#snapshotRound(filter));
    this.#snapshots = round.catch(() => undefined);
    return round;
  }

  async #snapshotRound(filter: (c: PatientActor) => boolean): Promise<number> {
    const snaps: PatientSnapshot[] = [];
    const kids: Array<{ c: Child; upto: number }> = [];
    for (const c of this.#children.values()) {
      if (!c.actor.dirty || !filter(c.actor)) continue;
      // Journal entries before `upto` are applied once idle() settles, so they are in the snapshot;
      // later ones (delivered while the snapshot is written) stay for a restart (replay is idempotent).
      const upto = c.journalBase + c.journal.length;
      await c.actor.idle();
      snaps.push(toSnapshot(c.actor.state as PatientState));
      c.actor.dirty = false;
      kids.push({ c, upto });
    }
    try {
      await this.#o.store.putMany(snaps, this.#fence);
    } catch (e) {
      // Not stored: still dirty, so the next checkpoint writes them before it commits anything.
      for (const { c } of kids) c.actor.dirty = true;
      throw e;
    }
    for (const { c, upto } of kids) {
      c.snapshotted = true;
      this.#trim(c, upto);
    }
    return snaps.length;
  }

  /** Placement: the consumer group moved partitions away; snapshot their actors and stop them. */
  async revoke(partitions: readonly number[]): Promise<void> {
    const gone = new Set(partitions);
    const of = this.#o.partitionOf;
    const part = (a: PatientActor): number => (of ? of(a.id) : a.state.partition);
    await this.snapshotAll((a) => gone.has(part(a)));
    for (const [p, c] of this.#children) {
      if (gone.has(part(c.actor))) {
        c.actor.stop();
        this.#forget(c);
        this.#children.delete(p);
        this.#o.emit({ type: 'patient.actor.stopped', patientId: p, reason: 'partition revoked' });
      }
    }
  }

  /** Assignment is lazy: actors of new partitions activate on their next event or request. */
  assign(partitions: readonly number[]): void {
    this.#owned = new Set(partitions);
  }

  /** Partitions this replica consumes (undefined until the first assignment: everything local). */
  owns(partition: number): boolean {
    return this.#owned === undefined || this.#owned.has(partition);
  }

  ownsPatient(p: PatientId): boolean {
    const of = this.#o.partitionOf;
    return this.#owned === undefined || of === undefined || this.#owned.has(of(p));
  }

  /** A request for a patient this replica does not hold: served read-only from the snapshot. */
  async scoreFromSnapshot(p: PatientId, t: number): Promise<RiskScored | null> {
    const snap = await this.#o.store.get(p);
    if (!snap) return null;
    const state = fromSnapshot(this.#o.behavior, snap);
    const noop: PatientOutputs = { emit: () => {}, failed: () => {} };
    const a = new PatientActor(this.#o.behavior, state, this.#o.models, noop, this.#log);
    const r = await a.send({ type: 'patient.score.request', t });
    return r && 'type' in r && r.type === 'patient.risk.scored' ? r : null;
  }
}
