import { randomUUID } from 'node:crypto';
import type { Clock } from '../supervisors/clock.js';
import type { TrainingSupervisor } from '../supervisors/training/runtime.js';
import type { RetrainHandler } from './actors-adapter.js';

/**
 * `POST /retrain` and the Alertmanager webhook into the TrainingSupervisor of issue 9: a request is a
 * `retrain.requested` decision; one arriving while a run or its canary is in progress is not
 * accepted (the supervisor runs one retraining at a time).
 */
export function retrainThrough(training: TrainingSupervisor, clock: Clock): RetrainHandler {
  return async (reason) => {
    const id = `api-${randomUUID()}`;
    if (training.busy) return { id, accepted: false, detail: 'a retraining or its canary is in progress' };
    training.handle({ type: 'retrain.requested', reason, at: clock.now(), incident: id, rules: [reason] });
    return { id, accepted: true };
  };
}
