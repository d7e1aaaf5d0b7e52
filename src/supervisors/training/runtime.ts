/**
 * TrainingSupervisor (issue 9): turns `retrain.requested` decisions into retraining runs, one at a
 * time (a request while a run or its canary is in progress is dropped and logged: the decay rules'
 * cooldown already spaces incidents by a retraining plus the canary), and hands a registered
 * `staging` candidate to the canary.
 */
import type { Logger } from 'pino';
import type { DecayDecision } from '../../monitoring/rules.js';
import type { CanaryController } from '../../retrain/canary.js';
import type { RetrainingReport, RetrainingRunner } from '../../retrain/runner.js';
import type { Clock } from '../clock.js';
import type { TrainingEvent } from './protocol.js';

export interface TrainingSupervisorOptions {
  readonly runner: RetrainingRunner;
  readonly canary: CanaryController;
  readonly clock: Clock;
  /** Data window: the last `windowDays` of trial time before the trigger (pipeline.training_days). */
  readonly windowDays: number;
  readonly logger: Logger;
  readonly emit?: (e: TrainingEvent) => void;
}

export class TrainingSupervisor {
  readonly #o: TrainingSupervisorOptions;
  readonly #log: Logger;
  #busy: Promise<void> | undefined;
  readonly reports: RetrainingReport[] = [];
  /** Requests dropped because a run or canary was in progress. */
  readonly dropped: DecayDecision[] = [];

  constructor(o: TrainingSupervisorOptions) {
    this.#o = o;
    this.#log = o.logger.child({ supervisor: 'training' });
  }

  /** Resolves when the run in progress (if any) has finished and its canary has started. */
  get idle(): Promise<void> {
    return this.#busy ?? Promise.resolve();
  }

  get busy(): boolean {
    return this.#busy !== undefined || this.#o.canary.active;
  }

  handle(d: DecayDecision): void {
    if (d.type !== 'retrain.requested') return;
    if (this.busy) {
      this.dropped.push(d);
      this.#log.warn({ incident: d.incident }, 'retraining already in progress; request dropped');
      return;
    }
    this.#busy = this.#run(d).finally(() => {
      this.#busy = undefined;
    });
  }

  async #run(d: Extract<DecayDecision, { type: 'retrain.requested' }>): Promise<void> {
    const end = d.at;
    const window = { start: end - this.#o.windowDays * 86_400_000, end };
    this.#o.emit?.({ type: 'training.run.started', runId: d.incident, reason: d.reason });
    let report: RetrainingReport;
    try {
      report = await this.#o.runner.run({ reason: d.reason, incident: d.incident, window, at: d.at });
    } catch (e) {
      this.#o.emit?.({ type: 'training.run.failed', runId: d.incident, error: (e as Error).message });
      this.#log.error({ err: (e as Error).message }, 'retraining run crashed');
      return;
    }
    this.reports.push(report);
    if (report.outcome === 'failed') {
      this.#o.emit?.({ type: 'training.run.failed', runId: report.id, error: report.error ?? 'failed' });
      return;
    }
    if (report.registeredVersion === null) {
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
    await this.#o.canary.start({ version: report.registeredVersion, incident: d.incident });
  }
}
