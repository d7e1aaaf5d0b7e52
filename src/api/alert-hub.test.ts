import { describe, expect, it } from 'vitest';
import { AlertHub, type HubEvent } from './alert-hub.js';
import type { RiskAlert } from './backend.js';

function alert(patientId: string, atMs: number, cleared?: { atMs: number; modelVersion: string }): RiskAlert {
  return {
    alertId: `${patientId}@${atMs}`,
    patientId,
    siteId: 'S01',
    level: 'high',
    probability: 0.8,
    modelVersion: '1',
    atMs,
    topRiskFactors: [],
    ...(cleared === undefined
      ? {}
      : { clearedAtMs: cleared.atMs, clearedProbability: 0.1, clearedModelVersion: cleared.modelVersion }),
  };
}

describe('AlertHub with alert.cleared', () => {
  it('publishes clearances to listeners in sequence with the other kinds', () => {
    const hub = new AlertHub({ capacity: 10, epoch: 'e1' });
    const heard: Array<[string, string, string]> = [];
    hub.subscribe((e) => heard.push([e.id, e.kind, e.alert.alertId]));
    hub.publish('alert.raised', alert('A', 1000));
    const c = hub.publish('alert.cleared', alert('A', 1000, { atMs: 2000, modelVersion: '2' }));
    expect(c).toMatchObject({ id: 'e1.2', seq: 2, kind: 'alert.cleared' });
    expect(c.alert).toMatchObject({ alertId: 'A@1000', clearedAtMs: 2000, clearedModelVersion: '2' });
    expect(heard).toEqual([
      ['e1.1', 'alert.raised', 'A@1000'],
      ['e1.2', 'alert.cleared', 'A@1000'],
    ]);
  });

  it('refuses a clearance without the clearing time or model version, naming what is missing', () => {
    const hub = new AlertHub({ capacity: 10, epoch: 'e1' });
    const heard: HubEvent[] = [];
    hub.subscribe((e) => heard.push(e));
    expect(() => hub.publish('alert.cleared', alert('A', 1000))).toThrow(
      /alert\.cleared for alert A@1000 needs a finite clearedAtMs and a clearedModelVersion/,
    );
    expect(() =>
      hub.publish('alert.cleared', {
        ...alert('A', 1000),
        clearedAtMs: Number.NaN,
        clearedModelVersion: '1',
      }),
    ).toThrow(/clearedAtMs/);
    // Nothing was published or numbered: the next event is still seq 1.
    expect(heard).toEqual([]);
    expect(hub.publish('alert.raised', alert('B', 1)).id).toBe('e1.1');
  });

  it('a client resuming after Last-Event-ID gets the clearances it missed, in order', () => {
    const hub = new AlertHub({ capacity: 4, epoch: 'e1' });
    const seen = hub.publish('alert.raised', alert('A', 1000));
    hub.publish('alert.raised', alert('B', 1100));
    hub.publish('alert.cleared', alert('A', 1000, { atMs: 2000, modelVersion: '1' }));
    hub.publish('alert.acknowledged', {
      ...alert('B', 1100),
      acknowledgedBy: 'key:k',
      acknowledgedAtMs: 2100,
    });
    const r = hub.resume(seen.id);
    expect(r.reset).toBe(false);
    expect(r.events.map((e) => [e.id, e.kind, e.alert.alertId])).toEqual([
      ['e1.2', 'alert.raised', 'B@1100'],
      ['e1.3', 'alert.cleared', 'A@1000'],
      ['e1.4', 'alert.acknowledged', 'B@1100'],
    ]);
    // The ring holds 4 events: the fifth evicts seq 1, which the client has already seen; the sixth
    // evicts seq 2, which it has not, so it is told to reload.
    hub.publish('alert.cleared', alert('B', 1100, { atMs: 3000, modelVersion: '1' }));
    expect(hub.resume(seen.id).events.map((e) => e.seq)).toEqual([2, 3, 4, 5]);
    hub.publish('alert.raised', alert('C', 3100));
    expect(hub.resume(seen.id)).toMatchObject({ reset: true, reason: expect.stringMatching(/older/) });
    expect(hub.resume('e0.3')).toMatchObject({ reset: true, reason: expect.stringMatching(/unknown/) });
  });
});
