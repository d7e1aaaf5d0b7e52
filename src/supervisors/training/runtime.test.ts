import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { DecayDecision } from '../../monitoring/rules.js';
import type { CanaryController } from '../../retrain/canary.js';
import type { RetrainingReport, RetrainingRunner, RetrainRequestInput } from '../../retrain/runner.js';
import { SimulatedClock } from '../clock.js';
import { TrainingSupervisor } from './runtime.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2025-01-12T00:00:00Z');

const requested = (
  at: number,
  reason: 'performance' | 'drift' | 'manual',
  incident: string,
): DecayDecision => ({
  type: 'retrain.requested',
  reason,
  at,
  incident,
  rules: [reason],
});

/**
 * The real TrainingSupervisor over a runner that takes `wallMs` of real time (a training job on a
 * loaded or an idle machine) and a canary that records when (in trial time) it was started.
 */
function setup(wallMs: number, dataWaitMs = 0) {
  const clock = new SimulatedClock(T0);
  const runs: Array<{ reason: string; start: number; end: number; at: number; trialNowAtRun: number }> = [];
  const canaryStarts: number[] = [];
  const runner = {
    run: async (req: RetrainRequestInput): Promise<RetrainingReport> => {
      runs.push({
        reason: req.reason,
        start: req.window.start,
        end: req.window.end,
        at: req.at,
        trialNowAtRun: clock.now(),
      });
      await new Promise((r) => setTimeout(r, wallMs));
      return {
        id: req.incident,
        reason: req.reason,
        outcome: 'staging',
        registeredVersion: String(runs.length + 1),
      } as unknown as RetrainingReport;
    },
  } as unknown as RetrainingRunner;
  let active = false;
  const canary = {
    get active() {
      return active;
    },
    results: [],
    start: async () => {
      await new Promise((r) => setTimeout(r, wallMs));
      canaryStarts.push(clock.now());
      active = true;
    },
  } as unknown as CanaryController;
  const training = new TrainingSupervisor({
    runner,
    canary,
    clock,
    windowDays: 4,
    ...(dataWaitMs > 0 ? { dataWaitMs } : {}),
    logger: pino({ level: 'silent' }),
  });
  return { clock, training, runs, canaryStarts };
}

/**
 * The closed-loop replay's barrier (src/retrain/replay.ts): advance one trial hour, then await the
 * supervisor's run. A check every 6 h hands the supervisor a performance decision at the first one.
 */
async function drive(s: ReturnType<typeof setup>, hours: number): Promise<string[]> {
  const trail: string[] = [];
  let asked = false;
  for (let h = 0; h < hours; h++) {
    s.clock.advance(HOUR);
    const now = s.clock.now();
    if (!asked && (now - T0) % (6 * HOUR) === 0) {
      asked = true;
      const took = s.training.handle(requested(now, 'performance', `performance-${now}`));
      trail.push(
        `${new Date(now).toISOString()} requested ${took} ${s.training.job(`performance-${now}`)?.state}`,
      );
    }
    await s.training.idle;
    trail.push(`${new Date(now).toISOString()} busy=${s.training.busy} waiting=${s.training.waiting ?? '-'}`);
  }
  for (const r of s.runs)
    trail.push(
      `run ${r.reason} window ${new Date(r.start).toISOString()}..${new Date(r.end).toISOString()} at ${new Date(r.at).toISOString()} trial-now ${new Date(r.trialNowAtRun).toISOString()}`,
    );
  for (const c of s.canaryStarts) trail.push(`canary started at ${new Date(c).toISOString()}`);
  return trail;
}

describe('TrainingSupervisor on a simulated clock', () => {
  it('tells the same trial-time story however long the run takes on the wall clock', async () => {
    // the make demo question: does a run that takes longer (CPU contention) move anything in trial time?
    const fast = await drive(setup(1, 48 * HOUR), 60);
    const slow = await drive(setup(40, 48 * HOUR), 60);
    expect(slow).toEqual(fast);
    // and the story is the one the wait defines: requested at 06:00, run at 06:00 + 48 h on the
    // 4 days before it, canary started when the run finished, with no trial time spent meanwhile
    expect(fast).toContain('2025-01-12T06:00:00.000Z requested true waiting');
    expect(fast).toContain(
      'run performance window 2025-01-10T06:00:00.000Z..2025-01-14T06:00:00.000Z at 2025-01-12T06:00:00.000Z trial-now 2025-01-14T06:00:00.000Z',
    );
    expect(fast).toContain('canary started at 2025-01-14T06:00:00.000Z');
  });

  it('without a wait, runs at the trigger on the window that ends there', async () => {
    const s = setup(1);
    const trail = await drive(s, 12);
    expect(trail).toContain('2025-01-12T06:00:00.000Z requested true running');
    expect(s.runs).toEqual([
      {
        reason: 'performance',
        start: T0 + 6 * HOUR - 4 * 24 * HOUR,
        end: T0 + 6 * HOUR,
        at: T0 + 6 * HOUR,
        trialNowAtRun: T0 + 6 * HOUR,
      },
    ]);
  });

  it('a waiting request is busy (a second one is dropped) but not a run (idle resolves); manual requests do not wait', async () => {
    const s = setup(1, 24 * HOUR);
    expect(s.training.handle(requested(T0, 'drift', 'drift-1'))).toBe(true);
    expect(s.training.waiting).toBe('drift-1');
    expect(s.training.job('drift-1')?.state).toBe('waiting');
    expect(s.training.busy).toBe(true);
    await s.training.idle; // resolves: nothing runs yet
    expect(s.runs).toEqual([]);
    expect(s.training.handle(requested(T0 + HOUR, 'performance', 'performance-2'))).toBe(false);
    expect(s.training.dropped.map((d) => (d.type === 'retrain.requested' ? d.incident : ''))).toEqual([
      'performance-2',
    ]);
    s.training.cancelWaiting();
    expect(s.training.job('drift-1')).toMatchObject({
      state: 'failed',
      error: 'cancelled while waiting for data',
    });
    expect(s.training.busy).toBe(false);
    s.clock.advance(48 * HOUR); // the cancelled timer does not fire
    expect(s.runs).toEqual([]);

    const at = s.clock.now();
    expect(s.training.handle(requested(at, 'manual', 'manual-3'))).toBe(true);
    expect(s.training.waiting).toBeNull();
    await s.training.idle;
    expect(s.runs).toEqual([{ reason: 'manual', start: at - 4 * 24 * HOUR, end: at, at, trialNowAtRun: at }]);
  });
});
