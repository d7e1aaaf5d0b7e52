import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowHash } from '../audit/chain.js';
import { type TestService, testService } from './testing.js';

// Contract tests of every route over the real fastify app (hooks, schemas, error handler) with the
// unit-test backend. Real-actor behaviour is covered in tests/integration and tests/e2e.
let s: TestService;
beforeAll(async () => {
  s = await testService();
});
afterAll(async () => {
  await s.app.close();
});

const hdr = (key: string) => ({ 'x-api-key': key });
const past = '2024-06-01T12:00:00Z';

describe('POST /predict (FR-7.1)', () => {
  it('answers exactly the FR-7.1 fields and audits before answering', async () => {
    const before = s.audit.rows.length;
    const r = await s.app.inject({
      method: 'POST',
      url: '/predict',
      headers: hdr(s.keys.reader),
      payload: { patient_id: 'P-001', timestamp: past },
    });
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(Object.keys(body).sort()).toEqual(
      [
        'adverse_event_probability',
        'model_version',
        'patient_id',
        'prediction_timestamp',
        'risk_level',
        'top_risk_factors',
      ].sort(),
    );
    expect(body.patient_id).toBe('P-001');
    expect(body.adverse_event_probability).toBeCloseTo(0, 0);
    expect(['low', 'medium', 'high']).toContain(body.risk_level);
    expect(body.top_risk_factors[0]).toEqual({
      feature: 'heart_rate_mean_6h',
      attribution: 0.12,
      value: 104,
    });
    expect(body.top_risk_factors[2].value).toBeNull();
    const row = s.audit.rows.at(-1);
    expect(s.audit.rows.length).toBe(before + 1);
    expect(r.headers['x-prediction-id']).toBe(String(row?.seq));
    expect(row).toMatchObject({ action: 'prediction.served', subject: 'P-001', modelVersion: '1' });
    expect(row?.inputHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.parse(row?.payload ?? '{}')).toMatchObject({
      request_time: '2024-06-01T12:00:00.000Z',
      risk_level: body.risk_level,
      // The events behind the score, for `aepred lineage`: in the audit row, not in the answer.
      source_offsets: { 'patient-vitals:0': '41', 'lab-results:2': '7' },
    });
    expect(row?.payload).toContain('"source_offsets":{"lab-results:2":"7","patient-vitals:0":"41"}');
  });

  const cases: Array<[Record<string, unknown>, number, string, string]> = [
    [{ timestamp: past }, 400, 'AEP_API_INVALID_FIELD', 'patient_id'],
    [{ patient_id: 'P-001' }, 400, 'AEP_API_INVALID_FIELD', 'timestamp'],
    [{ patient_id: 'P-001', timestamp: 'yesterday' }, 400, 'AEP_API_INVALID_FIELD', 'timestamp'],
    [{ patient_id: 42, timestamp: past }, 400, 'AEP_API_INVALID_FIELD', 'patient_id'],
    [{ patient_id: 'P-001', timestamp: past, extra: 1 }, 400, 'AEP_API_INVALID_FIELD', 'extra'],
    [{ patient_id: 'x'.repeat(10_000), timestamp: past }, 400, 'AEP_API_INVALID_FIELD', 'patient_id'],
    [{ patient_id: 'P-999', timestamp: past }, 404, 'AEP_API_UNKNOWN_PATIENT', 'patient_id'],
    [
      { patient_id: 'P-001', timestamp: '2023-12-31T23:59:59Z' },
      422,
      'AEP_API_BEFORE_ENROLLMENT',
      'timestamp',
    ],
    [
      { patient_id: 'P-001', timestamp: '2999-01-01T00:00:00Z' },
      422,
      'AEP_API_FUTURE_TIMESTAMP',
      'timestamp',
    ],
  ];
  it.each(cases.map(([p, ...rest]) => [JSON.stringify(p).slice(0, 70), p, ...rest] as const))(
    '%s → %i %s naming %s',
    async (_label, payload, status, code, field) => {
      const r = await s.app.inject({ method: 'POST', url: '/predict', headers: hdr(s.keys.reader), payload });
      expect(r.statusCode).toBe(status);
      expect(r.json().error).toMatchObject({ code, field });
      expect(r.json().error.message).not.toContain('P-999');
    },
  );

  it('malformed JSON, wrong media type and oversized bodies are 4xx with their codes', async () => {
    const bad = await s.app.inject({
      method: 'POST',
      url: '/predict',
      headers: { ...hdr(s.keys.reader), 'content-type': 'application/json' },
      payload: '{"patient_id": ',
    });
    expect([bad.statusCode, bad.json().error.code]).toEqual([400, 'AEP_API_MALFORMED_BODY']);
    const media = await s.app.inject({
      method: 'POST',
      url: '/predict',
      headers: { ...hdr(s.keys.reader), 'content-type': 'text/plain' },
      payload: 'hello',
    });
    expect([media.statusCode, media.json().error.code]).toEqual([415, 'AEP_API_UNSUPPORTED_MEDIA_TYPE']);
    const big = await s.app.inject({
      method: 'POST',
      url: '/predict',
      headers: { ...hdr(s.keys.reader), 'content-type': 'application/json' },
      payload: JSON.stringify({ patient_id: 'P-001', timestamp: past, pad: 'x'.repeat(300_000) }),
    });
    expect([big.statusCode, big.json().error.code]).toEqual([413, 'AEP_API_BODY_TOO_LARGE']);
  });

  it('no model: 503 AEP_API_NO_MODEL, retryable; a backend crash: 503, never a hang', async () => {
    s.backend.modelLoaded = false;
    const r = await s.app.inject({
      method: 'POST',
      url: '/predict',
      headers: hdr(s.keys.reader),
      payload: { patient_id: 'P-001', timestamp: past },
    });
    s.backend.modelLoaded = true;
    expect([r.statusCode, r.json().error.code, r.json().error.retryable]).toEqual([
      503,
      'AEP_API_NO_MODEL',
      true,
    ]);
    s.backend.failPredict = new Error('actor crashed');
    const c = await s.app.inject({
      method: 'POST',
      url: '/predict',
      headers: hdr(s.keys.reader),
      payload: { patient_id: 'P-001', timestamp: past },
    });
    s.backend.failPredict = undefined;
    expect([c.statusCode, c.json().error.code]).toEqual([503, 'AEP_API_BACKEND_UNAVAILABLE']);
  });
});

describe('POST /predict/batch', () => {
  it('answers each patient in order, errors per item, audits each prediction', async () => {
    const before = s.audit.rows.length;
    const r = await s.app.inject({
      method: 'POST',
      url: '/predict/batch',
      headers: hdr(s.keys.reader),
      payload: {
        patients: [
          { patient_id: 'P-001', timestamp: past },
          { patient_id: 'P-404', timestamp: past },
          { patient_id: 'P-003', timestamp: '2999-01-01T00:00:00Z' },
          { patient_id: 'P-002', timestamp: past },
        ],
      },
    });
    expect(r.statusCode).toBe(200);
    const p = r.json().predictions;
    expect(p.map((x: { patient_id: string }) => x.patient_id)).toEqual(['P-001', 'P-404', 'P-003', 'P-002']);
    expect(p[0].prediction_id).toBeGreaterThan(0);
    expect(p[1].error).toMatchObject({ code: 'AEP_API_UNKNOWN_PATIENT', field: 'patients.1.patient_id' });
    expect(p[2].error).toMatchObject({ code: 'AEP_API_FUTURE_TIMESTAMP', field: 'patients.2.timestamp' });
    expect(s.audit.rows.length).toBe(before + 2);
  });

  it('1,000 patients are accepted; 1,001 are refused naming the field', async () => {
    const many = (n: number) => ({
      patients: Array.from({ length: n }, (_, i) => ({ patient_id: `P-00${(i % 3) + 1}`, timestamp: past })),
    });
    const ok = await s.app.inject({
      method: 'POST',
      url: '/predict/batch',
      headers: hdr(s.keys.reader),
      payload: many(1000),
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().predictions.filter((x: { error?: unknown }) => x.error === undefined)).toHaveLength(
      1000,
    );
    const no = await s.app.inject({
      method: 'POST',
      url: '/predict/batch',
      headers: hdr(s.keys.reader),
      payload: many(1001),
    });
    expect([no.statusCode, no.json().error.code, no.json().error.field]).toEqual([
      400,
      'AEP_API_BATCH_TOO_LARGE',
      'patients',
    ]);
  });
});

describe('auth', () => {
  it('401 without or with a bad/revoked key, 403 for the wrong role', async () => {
    const none = await s.app.inject({ method: 'GET', url: '/models' });
    expect([none.statusCode, none.json().error.code]).toEqual([401, 'AEP_API_UNAUTHENTICATED']);
    const bad = await s.app.inject({
      method: 'GET',
      url: '/models',
      headers: hdr(`${s.keys.reader.slice(0, -3)}abc`),
    });
    expect(bad.statusCode).toBe(401);
    const bearer = await s.app.inject({
      method: 'GET',
      url: '/models',
      headers: { authorization: `Bearer ${s.keys.reader}` },
    });
    expect(bearer.statusCode).toBe(200);
    const forbidden = await s.app.inject({
      method: 'POST',
      url: '/models/rollback',
      headers: hdr(s.keys.coordinator),
    });
    expect([forbidden.statusCode, forbidden.json().error.code]).toEqual([403, 'AEP_API_FORBIDDEN']);
    const readerAlerts = await s.app.inject({ method: 'GET', url: '/alerts', headers: hdr(s.keys.reader) });
    expect(readerAlerts.statusCode).toBe(403);
    const opsAlerts = await s.app.inject({ method: 'GET', url: '/alerts', headers: hdr(s.keys.operator) });
    expect(opsAlerts.statusCode).toBe(403);
    const extra = await testService();
    const key = extra.keys.reader;
    extra.keyStore.revoke(/^aep_([a-z0-9]{12})_/.exec(key)?.[1] ?? '');
    const revoked = await extra.app.inject({ method: 'GET', url: '/models', headers: hdr(key) });
    expect(revoked.statusCode).toBe(401);
    await extra.app.close();
  });

  it('the console signs in with an HttpOnly cookie that authenticates later requests', async () => {
    const r = await s.app.inject({
      method: 'POST',
      url: '/session',
      payload: { api_key: s.keys.coordinator },
    });
    expect(r.statusCode).toBe(200);
    const cookie = String(r.headers['set-cookie']);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const who = await s.app.inject({
      method: 'GET',
      url: '/session',
      headers: { cookie: cookie.split(';')[0] ?? '' },
    });
    expect(who.json()).toMatchObject({ role: 'coordinator' });
    const wrong = await s.app.inject({ method: 'POST', url: '/session', payload: { api_key: 'aep_nope' } });
    expect(wrong.statusCode).toBe(401);
  });

  it('rate limits per key with 429 and retry-after', async () => {
    const limited = await testService({ api: { rate_limit: { max: 3, window_seconds: 60 } } });
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await limited.app.inject({
        method: 'GET',
        url: '/models',
        headers: hdr(limited.keys.reader),
      });
      codes.push(r.statusCode);
      if (r.statusCode === 429) {
        expect(r.json().error.code).toBe('AEP_API_RATE_LIMITED');
        expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
      }
    }
    expect(codes).toEqual([200, 200, 200, 429, 429]);
    const other = await limited.app.inject({
      method: 'GET',
      url: '/models',
      headers: hdr(limited.keys.admin),
    });
    expect(other.statusCode).toBe(200);
    await limited.app.close();
  });
});

describe('health and metrics', () => {
  it('/health is 200 only when the model and every probe are ready; 503 names what is not', async () => {
    expect((await s.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    s.probes.set('kafka', false);
    s.backend.modelLoaded = false;
    const r = await s.app.inject({ method: 'GET', url: '/health' });
    expect(r.statusCode).toBe(503);
    expect(r.json().not_ready.sort()).toEqual(['kafka', 'model']);
    expect(r.json().error.code).toBe('AEP_API_NOT_READY');
    // readiness only needs Postgres and the model
    expect((await s.app.inject({ method: 'GET', url: '/health/ready' })).json().not_ready).toEqual(['model']);
    s.backend.modelLoaded = true;
    expect((await s.app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
    expect((await s.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(503);
    s.probes.set('kafka', true);
    expect((await s.app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
  });

  it('/metrics has the latency histogram, counts, error rate, process metrics and no patient id', async () => {
    const r = await s.app.inject({ method: 'GET', url: '/metrics' });
    expect(r.statusCode).toBe(200);
    for (const m of [
      'aepred_prediction_latency_seconds_bucket',
      'aepred_prediction_count_total',
      'aepred_error_rate',
      'aepred_process_resident_memory_bytes',
      'aepred_process_cpu_seconds_total',
      'aepred_http_requests_total',
    ]) {
      expect(r.body).toContain(m);
    }
    expect(r.body).not.toMatch(/P-00\d/);
  });
});

describe('models and retraining (audited)', () => {
  it('promote, canary, rollback change the deployment and each is audited', async () => {
    const h = hdr(s.keys.operator);
    const list = await s.app.inject({ method: 'GET', url: '/models', headers: h });
    expect(list.json()).toMatchObject({ production: '1', staging: '2' });
    const canary = await s.app.inject({
      method: 'PUT',
      url: '/models/canary',
      headers: h,
      payload: { version: '2', share: 0.1 },
    });
    expect(canary.json()).toMatchObject({ staging: '2', canary_share: 0.1 });
    const badShare = await s.app.inject({
      method: 'PUT',
      url: '/models/canary',
      headers: h,
      payload: { version: '2', share: 3 },
    });
    expect([badShare.statusCode, badShare.json().error.field]).toEqual([400, 'share']);
    const unknown = await s.app.inject({
      method: 'POST',
      url: '/models/promote',
      headers: h,
      payload: { version: '9' },
    });
    expect([unknown.statusCode, unknown.json().error.code]).toEqual([404, 'AEP_API_UNKNOWN_MODEL_VERSION']);
    const promoted = await s.app.inject({ method: 'POST', url: '/models/promote', headers: h, payload: {} });
    expect(promoted.json()).toMatchObject({ production: '2', previous: '1' });
    const back = await s.app.inject({ method: 'POST', url: '/models/rollback', headers: h });
    expect(back.json()).toMatchObject({ production: '1' });
    const actions = s.audit.rows.map((r) => r.action);
    expect(actions).toEqual(
      expect.arrayContaining(['model.canary.set', 'model.promoted', 'model.rolled_back']),
    );
  });

  it('POST /retrain and the Alertmanager webhook trigger retraining with their reason', async () => {
    const r = await s.app.inject({
      method: 'POST',
      url: '/retrain',
      headers: hdr(s.keys.operator),
      payload: { detail: 'by hand' },
    });
    expect(r.statusCode).toBe(202);
    expect(r.json()).toMatchObject({ accepted: true });
    const w = await s.app.inject({
      method: 'POST',
      url: '/alerts/webhook',
      headers: hdr(s.keys.operator),
      payload: {
        version: '4',
        status: 'firing',
        alerts: [
          {
            status: 'firing',
            labels: { alertname: 'ModelAurocCritical', action: 'retrain', severity: 'critical' },
            annotations: { summary: 'AUROC 0.71' },
          },
          { status: 'firing', labels: { alertname: 'FeatureDriftWarning', severity: 'warning' } },
        ],
      },
    });
    expect(w.statusCode).toBe(200);
    expect(w.json().triggered).toHaveLength(1);
    expect(s.backend.retrains.map((x) => x.reason)).toEqual(['manual', 'performance']);
    expect(s.audit.rows.filter((x) => x.action === 'retrain.requested')).toHaveLength(2);
  });
});

describe('alerts', () => {
  it('acknowledging is audited, a second acknowledgement is 409, an unknown alert 404', async () => {
    const a = s.backend.raise('P-002', 'high', Date.parse(past));
    const r = await s.app.inject({
      method: 'POST',
      url: `/alerts/${encodeURIComponent(a.alertId)}/acknowledge`,
      headers: hdr(s.keys.coordinator),
    });
    expect(r.statusCode).toBe(200);
    expect(r.json().acknowledged_by).toMatch(/^key:/);
    const row = s.audit.rows.at(-1);
    expect(row).toMatchObject({ action: 'alert.acknowledged', subject: a.alertId });
    const again = await s.app.inject({
      method: 'POST',
      url: `/alerts/${encodeURIComponent(a.alertId)}/acknowledge`,
      headers: hdr(s.keys.coordinator),
    });
    expect([again.statusCode, again.json().error.code]).toEqual([409, 'AEP_API_ALERT_ACKNOWLEDGED']);
    const none = await s.app.inject({
      method: 'POST',
      url: '/alerts/nope/acknowledge',
      headers: hdr(s.keys.coordinator),
    });
    expect(none.statusCode).toBe(404);
  });

  it('the alert hub resumes after Last-Event-ID and resets on an unknown or evicted position', async () => {
    const first = s.hub.publish('alert.raised', s.backend.raise('P-001', 'watch', 1));
    s.backend.raise('P-003', 'high', 2);
    const r = s.hub.resume(first.id);
    expect(r.reset).toBe(false);
    expect(r.events.map((e) => e.alert.patientId)).toContain('P-003');
    expect(s.hub.resume('other-epoch.3').reset).toBe(true);
    for (let i = 0; i < 60; i++) s.hub.publish('alert.raised', s.backend.raise('P-001', 'watch', 100 + i));
    expect(s.hub.resume(first.id)).toMatchObject({ reset: true, reason: expect.stringMatching(/older/) });
  });
});

describe('audit chain (memory)', () => {
  it('the in-memory rows chain with the same hashing verify uses', () => {
    let prev: Buffer = Buffer.alloc(32);
    for (const r of s.audit.rows) {
      expect(r.prevHash.equals(prev)).toBe(true);
      expect(rowHash(prev, r).equals(r.hash)).toBe(true);
      prev = r.hash;
    }
    expect(s.audit.rows.length).toBeGreaterThan(5);
  });
});

describe('OpenAPI and unknown routes', () => {
  it('documents every route group and answers unknown routes with the catalogue', async () => {
    const doc = (await s.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    for (const p of [
      '/predict',
      '/predict/batch',
      '/health',
      '/metrics',
      '/retrain',
      '/models',
      '/models/promote',
      '/models/rollback',
      '/models/canary',
      '/alerts/stream',
      '/alerts/webhook',
      '/alerts/{alert_id}/acknowledge',
    ]) {
      expect(Object.keys(doc.paths)).toContain(p);
    }
    const nf = await s.app.inject({ method: 'GET', url: '/nope?patient=P-001' });
    expect([nf.statusCode, nf.json().error.code]).toEqual([404, 'AEP_API_NOT_FOUND']);
    expect(nf.json().error.message).not.toContain('P-001');
  });
});
