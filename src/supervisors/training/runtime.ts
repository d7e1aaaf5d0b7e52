/**
 * TrainingSupervisor (issue 9): turns `retrain.requested` decisions into retraining runs, one at a
 * time (a request while a run or its canary is in progress is dropped and logged: the decay rules'
 * cooldown already spaces incidents by a retraining plus the canary), and hands a registered
 * `staging` candidate to the canary.
 */
import type { Logger } from 'pino';
import type { DecayDecision } from '../../monitoring/rules.js';
import type { CanaryController, CanaryResult } from '../../retrain/canary.js';
import type { RetrainingReport, RetrainingRunner } from '../../retrain/runner.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { TrainingEvent } from './protocol.js';

export interface TrainingSupervisorOptions {
  readonly runner: RetrainingRunner;
  readonly canary: CanaryController;
  readonly clock: Clock;
  /** Data window: the last `windowDays` of trial time before the trigger (pipeline.training_days). */
  readonly windowDays: number;
  /**
   * An automatic (drift / performance) request starts its run this long after the trigger, on the
   * clock, so that the data after the trigger is labelled when the run reads it (default 0: at
   * once). Labels arrive `labels.horizon_hours` late, so at the trigger the last labelled day lies
   * before it: after a concept drift detected a day in, a comparison day taken then is pre-drift
   * (docs/retraining.md). With `labels.horizon_hours + comparison hours` the comparison day is the
   * one right after the trigger. The run's data window ends when it starts; the request's time
   * still names it (lineage tag, report). Manual requests (an operator asked) start at once.
   */
  readonly dataWaitMs?: number;
  readonly logger: Logger;
  readonly emit?: (e: TrainingEvent) => void;
}

/**
 * One retraining request as a job (`GET /retrain/:id`): `waiting` (for labelled data after the
 * trigger, `dataWaitMs`), `running` (the pipeline), then `rejected`
 * (gates or comparison), `failed`, or `canary` (the candidate is staging and canaried) and finally
 * `promoted` / `rolled_back` from the canary's verdict.
 */
export type TrainingJobState =
  | 'waiting'
  | 'running'
  | 'rejected'
  | 'failed'
  | 'canary'
  | 'promoted'
  | 'rolled_back';

export interface TrainingJob {
  readonly id: string;
  readonly reason: string;
  readonly state: TrainingJobState;
  /** Clock time of the request and of the last state change (ms). */
  readonly requestedAt: number;
  readonly updatedAt: number;
  readonly report?: RetrainingReport;
  readonly verdict?: CanaryResult;
  readonly error?: string;
}

export class TrainingSupervisor {
  readonly #o: TrainingSupervisorOptions;
  readonly #log: Logger;
  #busy: Promise<void> | undefined;
  /** A request waiting (on the clock) for its data to be labelled, before its run starts. */
  #waiting: { readonly timer: TimerHandle; readonly incident: string } | undefined;
  readonly reports: RetrainingReport[] = [];
  /** Requests dropped because a run or canary was in progress. */
  readonly dropped: DecayDecision[] = [];
  readonly #jobs = new Map<string, TrainingJob>();

  constructor(o: TrainingSupervisorOptions) {
    this.#o = o;
    this.#log = o.logger.child({ supervisor: 'training' });
  }

  /**
   * Resolves when the run in progress (if any) has finished and its canary has started. A request
   * still waiting for its data is not a run in progress: its run starts from a clock timer, and a
   * caller that drives a simulated clock awaits `idle` after each advance (the replay's barrier:
   * trial time does not move while a run computes, however long it takes on the wall clock).
   */
  get idle(): Promise<void> {
    return this.#busy ?? Promise.resolve();
  }

  get busy(): boolean {
    return this.#busy !== undefined || this.#waiting !== undefined || this.#o.canary.active;
  }

  /** The incident whose run waits for its data (null when none waits). */
  get waiting(): string | null {
    return this.#waiting?.incident ?? null;
  }

  /** The job of a request (its incident id), with the canary's verdict once there is one. */
  job(id: string): TrainingJob | undefined {
    const j = this.#jobs.get(id);
    if (j === undefined || j.state !== 'canary') return j;
    const verdict = this.#o.canary.results.find((r) => r.incident === id);
    if (verdict === undefined) return j;
    const state = verdict.verdict.decision === 'promote' ? 'promoted' : 'rolled_back';
    const done = { ...j, state, verdict, updatedAt: verdict.decidedAt } as const;
    this.#jobs.set(id, done);
    return done;
  }

  #set(id: string, patch: Partial<TrainingJob>): void {
    const j = this.#jobs.get(id);
    if (j) this.#jobs.set(id, { ...j, ...patch, updatedAt: this.#o.clock.now() });
  }

  /** Accepts a `retrain.requested` decision: true when a run started, false when dropped (busy). */
  handle(d: DecayDecision): boolean {
    if (d.type !== 'retrain.requested') return false;
    if (this.busy) {
      this.dropped.push(d);
      this.#log.warn({ incident: d.incident }, 'retraining already in progress; request dropped');
      return false;
    }
    const now = this.#o.clock.now();
    const wait = d.reason === 'manual' ? 0 : (this.#o.dataWaitMs ?? 0);
    this.#jobs.set(d.incident, {
      id: d.incident,
      reason: d.reason,
      state: wait > 0 ? 'waiting' : 'running',
      requestedAt: now,
      updatedAt: now,
    });
    if (wait <= 0) {
      this.#start(d, 0);
      return true;
    }
    this.#log.info(
      { incident: d.incident, waitHours: wait / 3_600_000 },
      'retraining waits for labelled data after its trigger',
    );
    const timer = this.#o.clock.setTimer(wait, () => {
      this.#waiting = undefined;
      this.#set(d.incident, { state: 'running' });
      this.#start(d, wait);
    });
    this.#waiting = { timer, incident: d.incident };
    return true;
  }

  #start(d: Extract<DecayDecision, { type: 'retrain.requested' }>, waitedMs: number): void {
    this.#busy = this.#run(d, waitedMs).finally(() => {
      this.#busy = undefined;
    });
  }

  /** Drops a request still waiting for its data (shutdown); a run in progress is not interrupted. */
  cancelWaiting(): void {
    if (this.#waiting === undefined) return;
    this.#o.clock.clearTimer(this.#waiting.timer);
    this.#set(this.#waiting.incident, { state: 'failed', error: 'cancelled while waiting for data' });
    this.#waiting = undefined;
  }

  async #run(d: Extract<DecayDecision, { type: 'retrain.requested' }>, waitedMs: number): Promise<void> {
    // the data window ends when the run starts: at the trigger, or dataWaitMs after it
    const end = d.at + waitedMs;
    const window = { start: end - this.#o.windowDays * 86_400_000, end };
    this.#o.emit?.({ type: 'training.run.started', runId: d.incident, reason: d.reason });
    let report: RetrainingReport;
    try {
      report = await this.#o.runner.run({ reason: d.reason, incident: d.incident, window, at: d.at });
    } catch (e) {
      this.#o.emit?.({ type: 'training.run.failed', runId: d.incident, error: (e as Error).message });
      this.#log.error({ err: (e as Error).message }, 'retraining run crashed');
      this.#set(d.incident, { state: 'failed', error: (e as Error).message });
      return;
    }
    this.reports.push(report);
    if (report.outcome === 'failed') {
      this.#set(d.incident, { state: 'failed', report, error: report.error ?? 'failed' });
      this.#o.emit?.({ type: 'training.run.failed', runId: report.id, error: report.error ?? 'failed' });
      return;
    }
    if (report.registeredVersion === null) {
      this.#set(d.incident, { state: 'rejected', report });
      this.#o.emit?.({
        type: 'training.run.failed',
        runId: report.id,
        error: `rejected: ${report.comparison?.reason ?? ''}`,
      });
      return;
    }
    this.#o.emit?.({
      type: 'training.run.completed',
      runId: report.id,
      modelVersion: report.registeredVersion,
    });
    this.#set(d.incident, { state: 'canary', report });
    try {
      await this.#o.canary.start({ version: report.registeredVersion, incident: d.incident });
    } catch (e) {
      this.#set(d.incident, { state: 'failed', error: `canary did not start: ${(e as Error).message}` });
      this.#log.error(
        { err: (e as Error).message, version: report.registeredVersion },
        'canary did not start',
      );
    }
  }
}
