import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertMachine } from '../../src/actors/patient/alerts.js';
import { patientId } from '../../src/actors/patient/protocol.js';
import { loadParams } from '../../src/config/params.js';
import { defaultFeatureSet } from '../../src/features/definition.js';
import { FeaturePlan } from '../../src/features/engine.js';
import { REPO_ROOT } from '../../src/shared/paths.js';
import { SimulatedClock } from '../../src/supervisors/clock.js';
import { ModelSupervisor } from '../../src/supervisors/model/actor.js';
import { inCanary } from '../../src/supervisors/model/behavior.js';
import type { ModelEvent } from '../../src/supervisors/model/protocol.js';
import { PatientSupervisor } from '../../src/supervisors/patient/actor.js';
import { MemorySnapshotStore } from '../../src/supervisors/patient/store.js';

/** Real ONNX models from issue 6's exporter (tests/fixtures/models/tiny_model.py), generated once. */
const dir = mkdtempSync(join(tmpdir(), 'aepred-models-'));
const fs = defaultFeatureSet();
const params = loadParams();
const log = pino({ level: 'silent' });
let v1: Uint8Array;
let v2: Uint8Array;
let bad: Uint8Array;

beforeAll(() => {
  const script = `
import sys; sys.argv = ['x']
from pathlib import Path
from tests.fixtures.models.tiny_model import main
main(Path('${dir}/v1.onnx'), '1', 1, None)
main(Path('${dir}/v2.onnx'), '2', 2, None)
main(Path('${dir}/bad.onnx'), '3', 3, '0' * 64)
`;
  execFileSync(resolve(REPO_ROOT, '.venv/bin/python'), ['-c', script], {
    cwd: REPO_ROOT,
    env: { ...process.env, PYTHONPATH: REPO_ROOT },
  });
  v1 = readFileSync(join(dir, 'v1.onnx'));
  v2 = readFileSync(join(dir, 'v2.onnx'));
  bad = readFileSync(join(dir, 'bad.onnx'));
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ModelSupervisor with real ONNX sessions', () => {
  it('refuses a model whose feature-set hash differs from the running definition', async () => {
    const events: ModelEvent[] = [];
    const m = new ModelSupervisor({
      featureSetHash: fs.hash,
      canaryShare: 0.1,
      logger: log,
      emit: (e) => events.push(e),
    });
    await expect(m.load('production', bad)).rejects.toThrow(/AEP_MODEL_HASH_MISMATCH|differs/);
    expect(events.map((e) => e.type)).toEqual(['model.version.refused']);
    expect(m.production).toBeUndefined();
  });

  it('hot-swaps under load: zero failed or lost scorings, old sessions released after their last scoring', async () => {
    const modelEvents: ModelEvent[] = [];
    const models = new ModelSupervisor({
      featureSetHash: fs.hash,
      canaryShare: 0,
      logger: log,
      emit: (e) => modelEvents.push(e),
    });
    await models.load('production', v1);
    const failures: string[] = [];
    const plan = new FeaturePlan(fs, []);
    const sup = new PatientSupervisor({
      behavior: { plan, machine: alertMachine(params.alerts), alerts: params.alerts, throttleMs: 0 },
      models,
      store: new MemorySnapshotStore(),
      context: () => ({ age: 50, sex: 'M' }),
      clock: new SimulatedClock(0),
      params: params.actors,
      logger: log,
      emit: (e) => {
        if (e.type === 'patient.actor.stopped' || e.type === 'patient.actor.restarted') failures.push(e.type);
      },
    });
    const hr = plan.vitalIndex('heart_rate');
    const results: Array<{ v: string } | null> = [];
    const N = 3000;
    let done = false;
    // Swap back and forth for as long as scorings are in flight.
    const swapper = (async () => {
      let k = 0;
      while (!done) {
        await models.load('production', k++ % 2 === 0 ? v2 : v1);
        await new Promise((r) => setImmediate(r));
      }
      return k;
    })();
    for (let b = 0; b < N / 150; b++) {
      const batch: Array<Promise<unknown>> = [];
      for (let i = b * 150; i < (b + 1) * 150; i++) {
        const p = patientId(`P${i % 200}`);
        const values = new Float64Array(plan.vitalSignals.length).fill(Number.NaN);
        values[hr] = 60 + (i % 50);
        const t = Math.floor(i / 200) * 300_000;
        batch.push(
          sup.deliver(
            p,
            { kind: 'vitals', time: t, source: 'm', values },
            { topic: 'v', partition: 0, offset: BigInt(i) },
          ),
        );
        batch.push(sup.score(p, t).then((r) => results.push(r ? { v: r.modelVersion } : null)));
      }
      await Promise.all(batch);
    }
    done = true;
    const swaps = await swapper;
    await sup.idle();
    expect(failures).toEqual([]);
    expect(results).toHaveLength(N);
    expect(results.filter((r) => r === null)).toHaveLength(0);
    expect(new Set(results.map((r) => r?.v))).toEqual(new Set(['1', '2']));
    const loads = modelEvents.filter((e) => e.type === 'model.version.loaded').length;
    expect(loads).toBe(swaps + 1);
    expect(swaps).toBeGreaterThan(5);
    await new Promise((r) => setImmediate(r));
    // All but the current and the rollback target are released.
    expect(modelEvents.filter((e) => e.type === 'model.session.released').length).toBe(loads - 2);
  }, 120_000);

  it('routes a sticky canary share to staging and rolls back', async () => {
    const models = new ModelSupervisor({
      featureSetHash: fs.hash,
      canaryShare: params.canary.share,
      logger: log,
    });
    await models.load('production', v1);
    await models.load('staging', v2);
    const ids = Array.from({ length: 5000 }, (_, i) => patientId(`S${i}`));
    const routed = ids.map((p) => {
      const l = models.acquire(p)!;
      l.done();
      return l.session.version;
    });
    const share = routed.filter((v) => v === '2').length / ids.length;
    expect(share).toBeGreaterThan(0.08);
    expect(share).toBeLessThan(0.12);
    expect(ids.filter((p, i) => (routed[i] === '2') !== inCanary(p, params.canary.share))).toEqual([]);
    models.promoteStaging();
    expect(models.production).toBe('2');
    models.rollback();
    expect(models.production).toBe('1');
    await models.close();
  });
});
