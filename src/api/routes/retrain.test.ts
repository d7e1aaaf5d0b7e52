import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { CanaryController, CanaryResult } from '../../retrain/canary.js';
import type { RetrainingReport, RetrainingRunner } from '../../retrain/runner.js';
import { SimulatedClock } from '../../supervisors/clock.js';
import { TrainingSupervisor } from '../../supervisors/training/runtime.js';
import { testService } from '../testing.js';
import { retrainStatusThrough, retrainThrough } from '../training-adapter.js';

/** A report as RetrainingRunner writes it (the pipeline itself runs in the closed-loop integration test). */
/** The real TrainingSupervisor over a stubbed runner and canary (the training run itself is not under test). */
function supervisor(
  runner: RetrainingRunner,
  canary: CanaryController,
  clock: SimulatedClock,
): TrainingSupervisor {
  return new TrainingSupervisor({ runner, canary, clock, windowDays: 4, logger: pino({ level: 'silent' }) });
}

function report(reason: string, incident: string, registered: string | null): RetrainingReport {
  return {
    id: `retrain-${reason}-20250115T0600-1`,
    reason: reason as RetrainingReport['reason'],
    incident,
    requestedAt: '2025-01-15T06:00:00.000Z',
    data: { start: '2025-01-11T06:00:00.000Z', end: '2025-01-15T06:00:00.000Z', days: 4 },
    pipeline: 'local',
    outcome: registered ? 'staging' : 'rejected',
    steps: [],
    durationSeconds: 61,
    candidate: { runId: 'r1', auroc: 0.8, ece: 0.02, gatesPassed: true, gateReasons: [] },
    comparison: {
      promote: registered !== null,
      reason: registered ? 'AUROC gain +0.05 >= 0.02 over production' : 'AUROC gain -0.01 < 0.02',
      candidateAuroc: 0.8,
      productionAuroc: 0.75,
      gain: 0.05,
    },
    productionBefore: '1',
    registeredVersion: registered,
    dvc: { status: 'skipped', detail: 'retraining.dvc_stages is empty' },
    lineageTag: 'retrain-20250115-manual',
    links: {},
  };
}

describe('POST /retrain and GET /retrain/:id through the TrainingSupervisor', () => {
  it('dispatches a job, shows its state from running to the canary verdict, refuses a second, audits both', async () => {
    const s = await testService();
    const clock = new SimulatedClock(Date.parse('2025-01-15T06:00:00Z'));
    const started: Array<{ reason: string; incident: string; window: { start: number; end: number } }> = [];
    let finish: (r: RetrainingReport) => void = () => {};
    const runner = {
      run: (req: { reason: string; incident: string; window: { start: number; end: number } }) => {
        started.push(req);
        return new Promise<RetrainingReport>((resolve) => {
          finish = resolve;
        });
      },
    } as unknown as RetrainingRunner;
    const results: CanaryResult[] = [];
    let active = false;
    const canary = {
      get active() {
        return active;
      },
      results,
      start: async () => {
        active = true;
      },
    } as unknown as CanaryController;
    const training = supervisor(runner, canary, clock);
    s.backend.retrain = retrainThrough(training, clock);
    // the FakeBackend has no jobs: the real adapters are set on it (the routes read them per request)
    Object.assign(s.backend, { retrainStatus: retrainStatusThrough(training) });
    const h = { 'x-api-key': s.keys.operator };

    const post = await s.app.inject({
      method: 'POST',
      url: '/retrain',
      headers: h,
      payload: { detail: 'by hand' },
    });
    expect(post.statusCode).toBe(202);
    const ticket = post.json() as { id: string; accepted: boolean };
    expect(ticket.accepted).toBe(true);
    // the supervisor started a run of the last windowDays before the request, reason manual
    expect(started).toHaveLength(1);
    expect(started[0]?.reason).toBe('manual');
    expect(started[0]?.incident).toBe(ticket.id);
    expect((started[0]?.window.end ?? 0) - (started[0]?.window.start ?? 0)).toBe(4 * 86_400_000);

    const running = await s.app.inject({ method: 'GET', url: `/retrain/${ticket.id}`, headers: h });
    expect(running.statusCode).toBe(200);
    expect(running.json()).toMatchObject({ id: ticket.id, reason: 'manual', state: 'running' });

    // one run at a time: a second request while it runs is not accepted
    const second = await s.app.inject({ method: 'POST', url: '/retrain', headers: h, payload: {} });
    expect(second.json()).toMatchObject({ accepted: false });

    finish(report('manual', ticket.id, '2'));
    await training.idle;
    const canaried = (await s.app.inject({ method: 'GET', url: `/retrain/${ticket.id}`, headers: h })).json();
    expect(canaried).toMatchObject({
      state: 'canary',
      outcome: 'staging',
      registered_version: '2',
      lineage_tag: 'retrain-20250115-manual',
      data_window: { start: '2025-01-11T06:00:00.000Z', end: '2025-01-15T06:00:00.000Z' },
    });

    results.push({
      version: '2',
      incident: ticket.id,
      startedAt: clock.now(),
      decidedAt: clock.now() + 72 * 3_600_000,
      verdict: {
        decision: 'promote',
        checks: { evidence: true, auroc: true, calibration: true, error_rate: true },
        reasons: [],
      } as unknown as CanaryResult['verdict'],
    });
    active = false;
    const done = (await s.app.inject({ method: 'GET', url: `/retrain/${ticket.id}`, headers: h })).json();
    expect(done).toMatchObject({ state: 'promoted', verdict: 'promote' });

    const unknown = await s.app.inject({ method: 'GET', url: '/retrain/api-nope', headers: h });
    expect([unknown.statusCode, unknown.json().error.code]).toEqual([404, 'AEP_API_NOT_FOUND']);
    const reader = await s.app.inject({
      method: 'GET',
      url: `/retrain/${ticket.id}`,
      headers: { 'x-api-key': s.keys.reader },
    });
    expect(reader.statusCode).toBe(403);

    const audited = s.audit.rows.filter((r) => r.action === 'retrain.requested');
    expect(
      audited.map((r) => [r.subject, (JSON.parse(String(r.payload)) as { accepted: boolean }).accepted]),
    ).toEqual([
      [ticket.id, true],
      [(second.json() as { id: string }).id, false],
    ]);
  });

  it('a rejected candidate is a finished job with the comparison as its reason', async () => {
    const clock = new SimulatedClock(0);
    const runner = {
      run: async (req: { reason: string; incident: string }) => report(req.reason, req.incident, null),
    } as unknown as RetrainingRunner;
    const canary = { active: false, results: [], start: async () => {} } as unknown as CanaryController;
    const training = supervisor(runner, canary, clock);
    const t = await retrainThrough(training, clock)('performance', 'alert', 'key:x');
    await training.idle;
    expect(await retrainStatusThrough(training)(t.id)).toMatchObject({
      state: 'rejected',
      outcome: 'rejected',
      comparison: 'AUROC gain -0.01 < 0.02',
      registered_version: null,
    });
  });
});
