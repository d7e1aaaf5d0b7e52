import { describe, expect, it } from 'vitest';
import type { AlertChanged, RiskScored } from '../actors/patient/protocol.js';
import { patientId } from '../actors/patient/protocol.js';
import type { ModelSupervisor } from '../supervisors/model/actor.js';
import type { PatientSupervisor } from '../supervisors/patient/actor.js';
import { ActorsBackend } from './actors-adapter.js';
import type { RiskAlert } from './backend.js';

// The adapter's bookkeeping of actor events (the real supervisors are exercised in
// tests/integration/api-serve.test.ts); supervisors are not called here.
const unused = {} as PatientSupervisor;
const noModels = { production: undefined, staging: undefined, canaryShare: 0 } as unknown as ModelSupervisor;

function scored(p: string, t: number, probability: number): RiskScored {
  return {
    type: 'patient.risk.scored',
    patientId: patientId(p),
    t,
    probability,
    riskLevel: probability >= 0.6 ? 'high' : probability >= 0.3 ? 'medium' : 'low',
    modelVersion: '1' as RiskScored['modelVersion'],
    featureSetHash: 'h',
    topRiskFactors: [],
    features: new Float32Array(2),
  };
}

describe('ActorsBackend', () => {
  it('keeps each trend in event-time order and ranks patients by their latest score', async () => {
    const b = new ActorsBackend({ patients: unused, models: noModels, siteOf: () => 'S1', now: () => 0 });
    b.onEvent(scored('A', 3000, 0.2));
    b.onEvent(scored('A', 1000, 0.9)); // an as-of request for an earlier time
    b.onEvent(scored('A', 2000, 0.5));
    b.onEvent(scored('A', 2000, 0.6)); // the same time again replaces
    b.onEvent(scored('B', 1000, 0.4));
    expect((await b.history('A', 10)).map((p) => [p.atMs, p.probability])).toEqual([
      [1000, 0.9],
      [2000, 0.6],
      [3000, 0.2],
    ]);
    expect((await b.patients({ limit: 10 })).map((p) => [p.patientId, p.probability])).toEqual([
      ['B', 0.4],
      ['A', 0.2],
    ]);
  });

  it('one open alert per patient; cleared alerts leave the open list; no model is 503', async () => {
    const b = new ActorsBackend({ patients: unused, models: noModels, siteOf: () => 'S1', now: () => 0 });
    const seen: string[] = [];
    b.subscribeAlerts((a) => seen.push(`${a.patientId}:${a.level}`));
    const change = (type: string, to: string, t: number) => ({
      type,
      patientId: patientId('A'),
      t,
      from: 'normal',
      to,
      probability: 0.7,
      modelVersion: '1',
      topRiskFactors: [],
    });
    b.onEvent(change('patient.alert.raised', 'watch', 1));
    b.onEvent(change('patient.alert.raised', 'high', 2));
    expect((await b.openAlerts({ limit: 10 })).map((a) => a.level)).toEqual(['high']);
    b.onEvent(change('patient.alert.cleared', 'normal', 3));
    expect(await b.openAlerts({ limit: 10 })).toEqual([]);
    expect(seen).toEqual(['A:watch', 'A:high']);
    await expect(b.predict('A', 1)).rejects.toMatchObject({ code: 'AEP_API_NO_MODEL', status: 503 });
  });
});

describe('ActorsBackend clearances (alert.cleared)', () => {
  const change = (type: string, p: string, to: string, t: number, probability: number, modelVersion = '1') =>
    ({
      type,
      patientId: patientId(p),
      t,
      from: type === 'patient.alert.cleared' ? 'high' : 'normal',
      to,
      probability,
      modelVersion,
      topRiskFactors: [],
    }) as unknown as AlertChanged;
  const acking = { acknowledge: async () => {} } as unknown as PatientSupervisor;

  it("publishes the patient's open alert with the clearing score, once, and it leaves the open list", async () => {
    const b = new ActorsBackend({
      patients: unused,
      models: noModels,
      siteOf: (p) => `S-${p}`,
      now: () => 0,
    });
    const cleared: RiskAlert[] = [];
    b.subscribeClearances((a) => cleared.push(a));
    b.onEvent(change('patient.alert.raised', 'A', 'watch', 1000, 0.5));
    b.onEvent(change('patient.alert.raised', 'A', 'high', 2000, 0.8));
    b.onEvent(change('patient.alert.raised', 'B', 'watch', 2500, 0.45));
    b.onEvent(change('patient.alert.cleared', 'A', 'normal', 3000, 0.12, '2'));
    expect(cleared).toEqual([
      {
        alertId: 'A@2000',
        patientId: 'A',
        siteId: 'S-A',
        level: 'high',
        probability: 0.8,
        modelVersion: '1',
        atMs: 2000,
        topRiskFactors: [],
        clearedAtMs: 3000,
        clearedProbability: 0.12,
        clearedModelVersion: '2',
      },
    ]);
    expect((await b.openAlerts({ limit: 10 })).map((a) => a.alertId)).toEqual(['B@2500']);
    // A second clearance for A (no open alert any more) publishes nothing.
    b.onEvent(change('patient.alert.cleared', 'A', 'normal', 4000, 0.1));
    expect(cleared).toHaveLength(1);
  });

  it('a patient without an open alert (never alerted, or acknowledged) publishes no clearance', async () => {
    const b = new ActorsBackend({ patients: acking, models: noModels, siteOf: () => 'S1', now: () => 9 });
    const cleared: string[] = [];
    const unsubscribe = b.subscribeClearances((a) => cleared.push(a.alertId));
    b.onEvent(change('patient.alert.cleared', 'NEVER', 'normal', 1000, 0.1));
    b.onEvent(change('patient.alert.raised', 'A', 'high', 1000, 0.8));
    await b.acknowledge('A@1000', 'key:k1');
    b.onEvent(change('patient.alert.cleared', 'A', 'normal', 2000, 0.1));
    expect(cleared).toEqual([]);
    // Unsubscribed listeners hear nothing more; subscribed ones do.
    b.onEvent(change('patient.alert.raised', 'C', 'watch', 3000, 0.5));
    unsubscribe();
    const later: string[] = [];
    b.subscribeClearances((a) => later.push(a.alertId));
    b.onEvent(change('patient.alert.cleared', 'C', 'normal', 4000, 0.1));
    expect(cleared).toEqual([]);
    expect(later).toEqual(['C@3000']);
  });
});

describe('ActorsBackend.predict', () => {
  it("carries the actor's applied offsets at scoring time to the prediction (audit, lineage)", async () => {
    const offsets = { 'patient-vitals:0': '13', 'lab-results:2': '7' };
    const patients = {
      score: async (p: string, t: number) => ({ ...scored(p, t, 0.4), sourceOffsets: offsets }),
    } as unknown as PatientSupervisor;
    const models = { production: '1', staging: undefined, canaryShare: 0 } as unknown as ModelSupervisor;
    const b = new ActorsBackend({ patients, models, siteOf: () => 'S1', now: () => 0 });
    const p = await b.predict('A', 5000);
    expect(p).toMatchObject({ patientId: 'A', asOfMs: 5000, sourceOffsets: offsets });
    expect(p.featureVectorHash).toMatch(/^[0-9a-f]{64}$/);
  });
});
