import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { alertMachine } from '../../src/actors/patient/alerts.js';
import {
  type BehaviorConfig,
  fromSnapshot,
  initialState,
  toSnapshot,
} from '../../src/actors/patient/behavior.js';
import { patientId } from '../../src/actors/patient/protocol.js';
import { defaultFeatureSet } from '../../src/features/definition.js';
import { FeaturePlan } from '../../src/features/engine.js';
import { RedisSnapshotStore } from '../../src/supervisors/patient/store.js';
import { params, redisUrl } from './service-harness.js';

const redis = new Redis(redisUrl);
const prefix = `aepred-test:store:${Date.now().toString(36)}`;
const plan = new FeaturePlan(defaultFeatureSet(), [], 3_600_000);
const cfg: BehaviorConfig = {
  plan,
  machine: alertMachine(params.alerts),
  alerts: params.alerts,
  throttleMs: 0,
};
const T0 = Date.parse('2024-01-01T00:00:00Z');

afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

function patient(id: string, rows: number, tempF: boolean) {
  const s = initialState(cfg, patientId(id), { age: 61, sex: 'F', enrollment_date: '2024-01-01' });
  const v = new Float64Array(plan.vitalSignals.length);
  for (let k = 0; k < rows; k++) {
    v.fill(Number.NaN);
    v[plan.vitalIndex('heart_rate')] = 70 + (k % 7);
    // A Fahrenheit conversion is not a tenth: the column turns Float64 and must survive exactly.
    if (tempF) v[plan.vitalIndex('temperature')] = ((98.6 + (k % 3) / 10 - 32) * 5) / 9;
    s.features.addVitals(T0 + k * 300_000, 'monitor', v);
  }
  s.features.addLab('ALT', T0, T0 + 3_600_000, 31.5, 'lab');
  s.applied.set('patient-vitals:0', BigInt(rows - 1));
  return s;
}

describe('RedisSnapshotStore against the stack Redis', () => {
  it('round-trips a full 24 h patient bit for bit (binary, typed arrays, NaN)', async () => {
    const store = new RedisSnapshotStore(redis, prefix);
    const a = patient('R1', 300, true);
    const b = patient('R2', 10, false);
    expect(await store.putMany([toSnapshot(a), toSnapshot(b)], 1)).toBe(2);
    const [ra, rb, none] = await store.getMany(['R1', 'R2', 'nobody']);
    expect(none).toBeUndefined();
    const T = T0 + 299 * 300_000;
    for (const [orig, snap] of [
      [a, ra],
      [b, rb],
    ] as const) {
      const back = fromSnapshot(cfg, snap!);
      const x = orig.features.compute(T);
      const y = back.features.compute(T);
      expect(Buffer.from(y.buffer).equals(Buffer.from(x.buffer))).toBe(true);
      expect(back.applied).toEqual(orig.applied);
    }
    // Compact: a full day is a few KB, not the ~15 KB of the JSON snapshots.
    const bytes = await redis.hstrlen(`${prefix}:R1`, 'd');
    expect(bytes).toBeLessThan(12_000);
  });

  it('fences: a write with a lower fence never overwrites a newer owner, and fences only grow', async () => {
    const store = new RedisSnapshotStore(redis, prefix);
    const f1 = await store.nextFence();
    const f2 = await store.nextFence();
    expect(f2).toBeGreaterThan(f1);
    const newer = patient('F1', 20, false);
    const older = patient('F1', 5, false);
    expect(await store.putMany([toSnapshot(newer)], f2)).toBe(1);
    expect(await store.putMany([toSnapshot(older)], f1)).toBe(0);
    expect((await store.get('F1'))!.features.vitals.n).toBe(20);
    expect(await store.putMany([toSnapshot(older)], f2)).toBe(1);
    expect((await store.get('F1'))!.features.vitals.n).toBe(5);
  });
});
