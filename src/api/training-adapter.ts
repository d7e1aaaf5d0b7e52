import { randomUUID } from 'node:crypto';
import type { Clock } from '../supervisors/clock.js';
import type { TrainingJob, TrainingSupervisor } from '../supervisors/training/runtime.js';
import type { RetrainHandler } from './actors-adapter.js';
import type { RetrainJobStatus } from './backend.js';

/**
 * `POST /retrain` and the Alertmanager webhook into the TrainingSupervisor of issue 9: a request is a
 * `retrain.requested` decision; one arriving while a run or its canary is in progress is not
 * accepted (the supervisor runs one retraining at a time). The ticket's id is the job's id.
 */
export function retrainThrough(training: TrainingSupervisor, clock: Clock): RetrainHandler {
  return async (reason) => {
    const id = `api-${randomUUID()}`;
    const accepted = training.handle({
      type: 'retrain.requested',
      reason,
      at: clock.now(),
      incident: id,
      rules: [reason],
    });
    return accepted
      ? { id, accepted: true }
      : { id, accepted: false, detail: 'a retraining or its canary is in progress' };
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

/** A job as `GET /retrain/:id` shows it. */
export function jobStatus(j: TrainingJob): RetrainJobStatus {
  const r = j.report;
  return {
    id: j.id,
    reason: j.reason,
    state: j.state,
    requested_at: iso(j.requestedAt),
    updated_at: iso(j.updatedAt),
    ...(r === undefined
      ? {}
      : {
          run: r.id,
          outcome: r.outcome,
          data_window: { start: r.data.start, end: r.data.end },
          duration_seconds: r.durationSeconds,
          registered_version: r.registeredVersion,
          comparison: r.comparison?.reason ?? null,
          lineage_tag: r.lineageTag,
          ...(r.links.run === undefined ? {} : { mlflow_run: r.links.run }),
        }),
    ...(j.verdict === undefined
      ? {}
      : { verdict: j.verdict.verdict.decision, verdict_reasons: [...j.verdict.verdict.reasons] }),
    ...(j.error === undefined ? {} : { error: j.error.split('\n')[0] ?? '' }),
  };
}

/** `GET /retrain/:id` over the TrainingSupervisor's jobs. */
export function retrainStatusThrough(
  training: TrainingSupervisor,
): (id: string) => Promise<RetrainJobStatus | undefined> {
  return async (id) => {
    const j = training.job(id);
    return j === undefined ? undefined : jobStatus(j);
  };
}
