import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { CanaryController } from '../retrain/canary.js';
import type { RetrainingRunner } from '../retrain/runner.js';
import { SimulatedClock } from '../supervisors/clock.js';
import { TrainingSupervisor } from '../supervisors/training/runtime.js';
import { retrainThrough } from './training-adapter.js';

describe('retrainThrough', () => {
  it('hands /retrain to the real TrainingSupervisor, one run at a time', async () => {
    const asked: Array<{ reason: string }> = [];
    let finish: () => void = () => {};
    const runner = {
      run: (req: { reason: string }) => {
        asked.push(req);
        return new Promise((_, reject) => {
          finish = () => reject(new Error('stopped by the test'));
        });
      },
    } as unknown as RetrainingRunner;
    const canary = { active: false } as unknown as CanaryController;
    const training = new TrainingSupervisor({
      runner,
      canary,
      clock: new SimulatedClock(1000),
      windowDays: 90,
      logger: pino({ level: 'silent' }),
    });
    const retrain = retrainThrough(training, new SimulatedClock(1000));
    const first = await retrain('manual', 'by hand', 'key:x');
    expect(first.accepted).toBe(true);
    expect(asked.map((a) => a.reason)).toEqual(['manual']);
    const second = await retrain('drift', 'alert', 'key:x');
    expect(second).toMatchObject({ accepted: false });
    finish();
    await training.idle;
    expect((await retrain('performance', 'alert', 'key:x')).accepted).toBe(true);
  });
});
