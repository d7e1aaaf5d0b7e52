import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { patientId } from '../../src/actors/patient/protocol.js';
import { verifyChain } from '../../src/audit/verify.js';
import { inCanary } from '../../src/supervisors/model/behavior.js';
import { call, openStream, type RealService, startRealService } from './api-harness.js';

// The service over HTTPS with the real patient actors and real ONNX models (no fake backend):
// predictions, batch, audit rows in Postgres, model actions, health, alerts over SSE with resume.
let svc: RealService;
const N = 40;
const now = Date.now();
const id = (i: number) => `API-${String(i).padStart(4, '0')}`;

interface Pred {
  patient_id: string;
  adverse_event_probability: number;
  risk_level: string;
  model_version: string;
  top_risk_factors: Array<{ feature: string; attribution: number; value: number | null }>;
  prediction_id?: number;
  error?: { code: string; field?: string };
}

beforeAll(async () => {
  svc = await startRealService({ patients: N, redis: true });
}, 300_000);
afterAll(async () => {
  await svc?.close();
});

describe('serving with the real actors and model', () => {
  it('POST /predict over HTTPS: the actor scores, the audit row is durable and chained first', async () => {
    await svc.feed(id(1), [72, 75, 80, 88, 95, 104, 110, 118], now - 60_000);
    const r = await call(svc, 'POST', '/predict', {
      key: svc.keys.reader,
      body: { patient_id: id(1), timestamp: new Date(now).toISOString() },
    });
    expect(r.status).toBe(200);
    const p = r.json<Pred>();
    expect(p).toMatchObject({ patient_id: id(1), model_version: '1' });
    expect(p.adverse_event_probability).toBeGreaterThanOrEqual(0);
    expect(p.adverse_event_probability).toBeLessThanOrEqual(1);
    expect(p.top_risk_factors.length).toBeGreaterThan(0);
    expect(String(r.headers['strict-transport-security'])).toMatch(/max-age/);
    const seq = Number(r.headers['x-prediction-id']);
    const { rows } = await svc.db.pool.query(
      'SELECT action, subject, model_version, input_hash, actor, payload FROM audit_log WHERE seq = $1',
      [seq],
    );
    expect(rows[0]).toMatchObject({ action: 'prediction.served', subject: id(1), model_version: '1' });
    expect(rows[0].input_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.parse(rows[0].payload)).toMatchObject({
      probability: p.adverse_event_probability,
      risk_level: p.risk_level,
    });
    // The events behind the score (lineage): the actor's applied offsets, in the audit row only.
    const applied = svc.patients.actor(patientId(id(1)))?.state.applied.get('patient-vitals:0');
    expect(applied).toBeDefined();
    expect(JSON.parse(rows[0].payload).source_offsets).toEqual({ 'patient-vitals:0': String(applied) });
    expect(Object.keys(p).sort()).toEqual(
      [
        'adverse_event_probability',
        'model_version',
        'patient_id',
        'prediction_timestamp',
        'risk_level',
        'top_risk_factors',
      ].sort(),
    );
    expect(await verifyChain(svc.db.pool)).toMatchObject({ ok: true });
  });

  it('the enrollment table decides unknown patient and before-enrollment', async () => {
    const unknown = await call(svc, 'POST', '/predict', {
      key: svc.keys.reader,
      body: { patient_id: 'NOPE-1', timestamp: new Date(now).toISOString() },
    });
    expect([unknown.status, unknown.json<{ error: { code: string } }>().error.code]).toEqual([
      404,
      'AEP_API_UNKNOWN_PATIENT',
    ]);
    const early = await call(svc, 'POST', '/predict', {
      key: svc.keys.reader,
      body: { patient_id: id(1), timestamp: '2023-06-01T00:00:00Z' },
    });
    expect(early.json()).toMatchObject({ error: { code: 'AEP_API_BEFORE_ENROLLMENT', field: 'timestamp' } });
  });

  it('POST /predict/batch answers every enrolled patient and names the unknown one', async () => {
    const ts = new Date(now).toISOString();
    const patients = [
      ...Array.from({ length: N }, (_, i) => ({ patient_id: id(i), timestamp: ts })),
      { patient_id: 'NOPE-2', timestamp: ts },
    ];
    const before = (await verifyChain(svc.db.pool)) as { rows: number };
    const r = await call(svc, 'POST', '/predict/batch', { key: svc.keys.reader, body: { patients } });
    expect(r.status).toBe(200);
    const preds = r.json<{ predictions: Pred[] }>().predictions;
    expect(preds).toHaveLength(N + 1);
    expect(preds.slice(0, N).filter((p) => p.error !== undefined)).toEqual([]);
    // The sticky canary (params canary.share) scores its patients with the staging model.
    const share = svc.models.canaryShare;
    expect(preds.slice(0, N).map((p) => p.model_version)).toEqual(
      preds.slice(0, N).map((p) => (inCanary(patientId(p.patient_id), share) ? '2' : '1')),
    );
    expect(preds[N]?.error).toMatchObject({
      code: 'AEP_API_UNKNOWN_PATIENT',
      field: `patients.${N}.patient_id`,
    });
    const after = await verifyChain(svc.db.pool);
    expect(after).toMatchObject({ ok: true, rows: before.rows + N });
  });

  it('401, 403 and no plain HTTP on the TLS port', async () => {
    expect((await call(svc, 'GET', '/models')).status).toBe(401);
    expect((await call(svc, 'POST', '/models/rollback', { key: svc.keys.coordinator })).status).toBe(403);
    const plain = await fetch(`${svc.url.replace('https:', 'http:')}/health/live`).then(
      (r) => r.status,
      () => 'refused',
    );
    expect(plain).not.toBe(200);
  });

  it('promote and roll back through the API switch the model that scores, and are audited', async () => {
    const op = svc.keys.operator;
    const predictVersion = async () =>
      (
        await call(svc, 'POST', '/predict', {
          key: svc.keys.reader,
          body: { patient_id: id(2), timestamp: new Date(now).toISOString() },
        })
      ).json<Pred>().model_version;
    expect((await call(svc, 'GET', '/models', { key: op })).json()).toMatchObject({
      production: '1',
      staging: '2',
    });
    expect((await call(svc, 'POST', '/models/promote', { key: op, body: { version: '7' } })).status).toBe(
      409,
    );
    const promoted = await call(svc, 'POST', '/models/promote', { key: op, body: {} });
    expect(promoted.json()).toMatchObject({ production: '2', previous: '1' });
    expect(await predictVersion()).toBe('2');
    const back = await call(svc, 'POST', '/models/rollback', { key: op });
    expect(back.json()).toMatchObject({ production: '1' });
    expect(await predictVersion()).toBe('1');
    const again = await call(svc, 'POST', '/models/rollback', { key: op });
    expect([again.status, again.json<{ error: { code: string } }>().error.code]).toEqual([
      409,
      'AEP_NO_PREVIOUS_MODEL',
    ]);
    const { rows } = await svc.db.pool.query(
      "SELECT action FROM audit_log WHERE action LIKE 'model.%' ORDER BY seq",
    );
    expect(rows.map((r) => r.action)).toEqual(['model.promoted', 'model.rolled_back']);
  });

  it('/health names what is not ready; /metrics carries prediction metrics without patient ids', async () => {
    const h = await call(svc, 'GET', '/health');
    expect(h.json()).toMatchObject({ components: { postgres: { ready: true }, model: { ready: true } } });
    expect([200, 503]).toContain(h.status); // 503 exactly when redis is down on this machine
    const redisUp = h.json<{ components: { redis: { ready: boolean } } }>().components.redis.ready;
    expect(h.status).toBe(redisUp ? 200 : 503);
    const m = await call(svc, 'GET', '/metrics');
    expect(m.body).toMatch(/aepred_prediction_latency_seconds_bucket\{le="0.01",route="\/predict"\} \d+/);
    expect(m.body).toMatch(/aepred_prediction_count_total\{risk_level="\w+"\} \d+/);
    expect(m.body).toMatch(/aepred_audit_group_commit_rows_count [1-9]\d*/);
    expect(m.body).not.toContain('API-00');
  });

  it('alerts raised by actors stream over SSE, filtered by site, and a reconnect with Last-Event-ID gets what was missed', async () => {
    const first = await openStream(svc, '/alerts/stream', svc.keys.coordinator);
    const s01 = await openStream(svc, '/alerts/stream?site=S01', svc.keys.coordinator);
    expect(first.status).toBe(200);
    // Drive every patient through a rising heart rate until alerts are raised (the actors decide).
    const risings = [80, 100, 120, 140, 160, 180, 200, 220];
    for (let i = 0; i < 20; i++)
      await svc.feed(
        id(i),
        risings.map((h) => h + i),
        now - 30_000,
      );
    const raised = (await svc.backend.openAlerts({ limit: 1000 })).length;
    expect(raised).toBeGreaterThanOrEqual(2);
    const got = await first.waitFor(2);
    expect(got.filter((e) => e.event === 'alert.raised').length).toBeGreaterThanOrEqual(2);
    const s01Got = await s01.waitFor(1, 2000);
    expect(s01Got.every((e) => JSON.parse(e.data).site_id === 'S01')).toBe(true);
    s01.close();
    const lastSeen = got[0]?.id ?? '';
    const total = got.length;
    first.close();
    // Missed while disconnected: everything after the first event, plus new alerts.
    for (let i = 20; i < N; i++)
      await svc.feed(
        id(i),
        risings.map((h) => h + i),
        now - 20_000,
      );
    const all = svc.hub.resume(lastSeen);
    expect(all.reset).toBe(false);
    const resumed = await openStream(svc, '/alerts/stream', svc.keys.coordinator, lastSeen);
    const replay = await resumed.waitFor(all.events.length);
    expect(replay.map((e) => e.id)).toEqual(all.events.map((e) => e.id));
    expect(replay.length).toBeGreaterThanOrEqual(total - 1);
    resumed.close();
    const stale = await openStream(svc, '/alerts/stream', svc.keys.coordinator, 'old-epoch.1');
    expect((await stale.waitFor(1))[0]?.event).toBe('reset');
    stale.close();
  });

  it('acknowledging an alert reaches the actor and is audited with who and when', async () => {
    const [a] = await svc.backend.openAlerts({ limit: 1 });
    if (a === undefined) throw new Error('no open alert to acknowledge');
    const r = await call(svc, 'POST', `/alerts/${encodeURIComponent(a.alertId)}/acknowledge`, {
      key: svc.keys.coordinator,
    });
    expect(r.status).toBe(200);
    const keyId = /^aep_([a-z0-9]{12})_/.exec(svc.keys.coordinator)?.[1];
    expect(r.json()).toMatchObject({ alert_id: a.alertId, acknowledged_by: `key:${keyId}` });
    const actor = svc.patients.live().find((p) => p === a.patientId);
    expect(actor).toBeDefined();
    if (actor !== undefined) expect(svc.patients.actor(actor)?.state.alert.value).toBe('acknowledged');
    const { rows } = await svc.db.pool.query(
      "SELECT actor, subject, payload FROM audit_log WHERE action = 'alert.acknowledged'",
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actor: `key:${keyId}`, subject: a.alertId });
    expect(JSON.parse(rows[0].payload)).toMatchObject({ patient_id: a.patientId });
  });
});
