import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { LineageRepo, retrainTagBase } from './lineage.js';
import type { LoopNotice, Notifier } from './notify.js';
import type { PipelineResult, TrainingPipeline } from './pipeline.js';
import { RetrainingRunner } from './runner.js';

const DAY = 86_400_000;
const AT = Date.parse('2025-02-03T06:00:00Z');

/** A pipeline double (unit test): writes the summary `ml train` writes and returns its final line. */
class FakePipeline implements TrainingPipeline {
  readonly kind = 'local' as const;
  readonly calls: Array<{ start: number; end: number }> = [];
  readonly segmentsFrom: Array<number | undefined> = [];
  constructor(readonly registered: string | null) {}
  async run(input: {
    window: { start: number; end: number };
    runName: string;
    outDir: string;
    segmentsFrom?: number;
  }): Promise<PipelineResult> {
    this.calls.push(input.window);
    this.segmentsFrom.push(input.segmentsFrom);
    writeFileSync(
      join(input.outDir, 'summary.json'),
      JSON.stringify({
        decision: {
          promote: this.registered !== null,
          reason: this.registered
            ? 'AUROC gain +0.0300 >= 0.02 over production'
            : 'AUROC gain +0.0010 < 0.02 over production',
          candidate_auroc: 0.85,
          production_auroc: 0.82,
          gain: this.registered ? 0.03 : 0.001,
        },
      }),
    );
    return {
      steps: [{ step: 'train+evaluate+compare+register', seconds: 1 }],
      train: {
        test_auroc: 0.85,
        test_ece: 0.03,
        gates_passed: true,
        gate_reasons: [],
        run_id: null,
        decision: 'x',
        registered_version: this.registered,
        seed: 42,
        rows: { train: 10 },
        epochs_run: 2,
        seconds: 1,
      },
      driftReference: null,
      outDir: input.outDir,
    };
  }
}

class Recorder implements Notifier {
  readonly sent: LoopNotice[] = [];
  async notify(n: LoopNotice): Promise<void> {
    this.sent.push(n);
  }
}

function runner(pipeline: TrainingPipeline, notifier: Notifier, lineage: LineageRepo): RetrainingRunner {
  let t = 0;
  return new RetrainingRunner({
    pipeline,
    notifier,
    lineage,
    modelName: 'm',
    dvc: { stages: [], repoRoot: '/nonexistent', binDir: '/nonexistent' },
    workDir: mkdtempSync(join(tmpdir(), 'aepred-retrain-')),
    logger: pino({ level: 'silent' }),
    wall: () => (t += 500),
  });
}

describe('RetrainingRunner', () => {
  it('runs the window, reports the comparison and tags the lineage repository', async () => {
    const repo = new LineageRepo(mkdtempSync(join(tmpdir(), 'aepred-lineage-')));
    const notes = new Recorder();
    const pipe = new FakePipeline('7');
    const r = await runner(pipe, notes, repo).run({
      reason: 'drift',
      incident: 'drift-2025-02-03T06:00:00.000Z',
      window: { start: AT - 90 * DAY, end: AT },
      at: AT,
    });
    expect(pipe.calls).toEqual([{ start: AT - 90 * DAY, end: AT }]);
    // no day after the trigger in the window: site references from the whole window
    expect(pipe.segmentsFrom).toEqual([undefined]);
    expect(r.outcome).toBe('staging');
    expect(r.registeredVersion).toBe('7');
    expect(r.data.days).toBe(90);
    expect(r.comparison).toMatchObject({ promote: true, productionAuroc: 0.82, gain: 0.03 });
    expect(r.dvc).toEqual({ status: 'skipped', detail: 'retraining.dvc_stages is empty' });
    expect(r.lineageTag).toBe('retrain-20250203-drift');
    expect(r.durationSeconds).toBeGreaterThan(0);
    expect(notes.sent.map((n) => n.action)).toEqual(['retrain.started', 'retrain.completed']);
    const log = execFileSync('git', [
      '-C',
      repo.path,
      'show',
      'retrain-20250203-drift:retraining/retrain-20250203-drift.json',
    ]);
    expect(JSON.parse(log.toString())).toMatchObject({
      reason: 'drift',
      outcome: 'staging',
      registeredVersion: '7',
    });
  });

  it("a drift-triggered run's site references start at the trigger when a day of data follows it", async () => {
    const pipe = new FakePipeline('8');
    const run = runner(pipe, new Recorder(), new LineageRepo(mkdtempSync(join(tmpdir(), 'aepred-lineage-'))));
    const window = { start: AT - 4 * DAY, end: AT + 2 * DAY };
    await run.run({ reason: 'drift', incident: 'drift-a', window, at: AT });
    await run.run({ reason: 'performance', incident: 'performance-a', window, at: AT });
    expect(pipe.segmentsFrom).toEqual([AT, undefined]);
  });

  it('a rejected candidate is reported, and a second tag of the same day and reason is suffixed', async () => {
    const repo = new LineageRepo(mkdtempSync(join(tmpdir(), 'aepred-lineage-')));
    const notes = new Recorder();
    const run = runner(new FakePipeline(null), notes, repo);
    const req = {
      reason: 'manual' as const,
      incident: 'manual-1',
      window: { start: AT - DAY, end: AT },
      at: AT,
    };
    const a = await run.run(req);
    const b = await run.run(req);
    expect(a.outcome).toBe('rejected');
    expect(notes.sent.at(-1)?.action).toBe('retrain.rejected');
    expect([a.lineageTag, b.lineageTag]).toEqual(['retrain-20250203-manual', 'retrain-20250203-manual-2']);
    expect((await repo.tags()).sort()).toEqual(['retrain-20250203-manual', 'retrain-20250203-manual-2']);
  });

  it('a failing pipeline is a failed report, not a crash', async () => {
    const repo = new LineageRepo(mkdtempSync(join(tmpdir(), 'aepred-lineage-')));
    const failing: TrainingPipeline = { kind: 'local', run: () => Promise.reject(new Error('spark died')) };
    const r = await runner(failing, new Recorder(), repo).run({
      reason: 'performance',
      incident: 'p',
      window: { start: AT - DAY, end: AT },
      at: AT,
    });
    expect(r.outcome).toBe('failed');
    expect(r.error).toMatch(/spark died/);
    expect(readFileSync(join(repo.path, 'retraining', `${r.lineageTag}.json`), 'utf8')).toMatch(/spark died/);
  });

  it('tag names follow retrain-YYYYMMDD-reason in UTC', () => {
    expect(retrainTagBase(Date.parse('2025-12-31T23:59:00Z'), 'performance')).toBe(
      'retrain-20251231-performance',
    );
  });
});
