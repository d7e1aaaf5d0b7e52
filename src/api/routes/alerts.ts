import type { FastifyPluginAsync } from 'fastify';
import type { AuditLog } from '../../audit/log.js';
import type { AlertHub, HubEvent } from '../alert-hub.js';
import type { PredictionBackend, RiskAlert } from '../backend.js';
import { apiError } from '../errors.js';
import type { ApiMetrics } from '../metrics.js';
import { auditFailure } from '../predicting.js';
import { errorResponses, RiskFactorSchema, SECURITY } from '../schemas.js';

interface Opts {
  backend: PredictionBackend;
  audit: AuditLog;
  hub: AlertHub;
  metrics: ApiMetrics;
  heartbeatMs: number;
}

export function alertWire(a: RiskAlert) {
  return {
    alert_id: a.alertId,
    patient_id: a.patientId,
    site_id: a.siteId,
    level: a.level,
    probability: a.probability,
    model_version: a.modelVersion,
    at: new Date(a.atMs).toISOString(),
    top_risk_factors: a.topRiskFactors,
    acknowledged_by: a.acknowledgedBy ?? null,
    acknowledged_at: a.acknowledgedAtMs === undefined ? null : new Date(a.acknowledgedAtMs).toISOString(),
  };
}

/** A stream event's data: the alert as in GET /alerts; a clearance adds the score that closed it. */
export function eventWire(e: HubEvent) {
  const a = e.alert;
  if (e.kind !== 'alert.cleared') return alertWire(a);
  return {
    ...alertWire(a),
    cleared_at: new Date(a.clearedAtMs ?? Number.NaN).toISOString(),
    cleared_probability: a.clearedProbability ?? null,
    cleared_model_version: a.clearedModelVersion ?? null,
  };
}

const AlertSchema = {
  type: 'object',
  properties: {
    alert_id: { type: 'string' },
    patient_id: { type: 'string' },
    site_id: { type: 'string' },
    level: { type: 'string', enum: ['watch', 'high'] },
    probability: { type: 'number' },
    model_version: { type: 'string' },
    at: { type: 'string', format: 'date-time' },
    top_risk_factors: { type: 'array', items: RiskFactorSchema },
    acknowledged_by: { type: ['string', 'null'] },
    acknowledged_at: { type: ['string', 'null'] },
  },
} as const;

const SITES = { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}(,[A-Za-z0-9._-]{1,64}){0,99}$' } as const;
const LIMIT = { type: 'string', pattern: '^[0-9]{1,4}$' } as const;

export function siteFilter(site: string | undefined): (siteId: string) => boolean {
  if (site === undefined) return () => true;
  const set = new Set(site.split(','));
  return (s) => set.has(s);
}

/** A slow client that lets this much pile up is dropped; it reconnects with Last-Event-ID. */
const MAX_BUFFERED = 1 << 20;

/**
 * GET /alerts (open alerts), GET /alerts/stream (Server-Sent Events, ?site= filter, resumable with
 * Last-Event-ID), POST /alerts/:alert_id/acknowledge (audited). Clearances from the backend are
 * published on the hub here (raised alerts are published by buildApp).
 */
export const alertRoutes: FastifyPluginAsync<Opts> = async (app, opts) => {
  const unsubscribeCleared = opts.backend.subscribeClearances?.((a) => opts.hub.publish('alert.cleared', a));
  if (unsubscribeCleared !== undefined) app.addHook('onClose', async () => unsubscribeCleared());

  app.get<{ Querystring: { site?: string; limit?: string } }>(
    '/alerts',
    {
      config: { permission: 'alerts.read' },
      schema: {
        tags: ['alerts'],
        summary: 'Open (unacknowledged) alerts, newest first',
        security: SECURITY,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { site: SITES, limit: LIMIT },
        },
        response: {
          200: { type: 'object', properties: { alerts: { type: 'array', items: AlertSchema } } },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const limit = Math.min(Number(req.query.limit ?? 200), 1000);
      const sites = req.query.site?.split(',');
      const lists = await Promise.all(
        (sites ?? [undefined]).map((s) =>
          opts.backend.openAlerts(s === undefined ? { limit } : { siteId: s, limit }),
        ),
      );
      const alerts = lists
        .flat()
        .sort((a, b) => b.atMs - a.atMs)
        .slice(0, limit);
      return { alerts: alerts.map(alertWire) };
    },
  );

  app.get<{ Querystring: { site?: string; last_event_id?: string } }>(
    '/alerts/stream',
    {
      config: { permission: 'alerts.read' },
      schema: {
        tags: ['alerts'],
        summary: 'Server-Sent Events: alert.raised, alert.acknowledged, alert.cleared, reset',
        description:
          "Data is the alert as in GET /alerts; alert.cleared (the patient's risk fell back and the open alert closed) adds cleared_at, cleared_probability and cleared_model_version. Event ids are <stream epoch>.<seq>. Reconnect with the Last-Event-ID header (or ?last_event_id=) to receive what was missed; an unknown or too old id gets a `reset` event, after which the client reloads GET /alerts.",
        security: SECURITY,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { site: SITES, last_event_id: { type: 'string', maxLength: 100 } },
        },
      },
    },
    (req, reply) => {
      const match = siteFilter(req.query.site);
      const lastHeader = req.headers['last-event-id'];
      const last = typeof lastHeader === 'string' ? lastHeader : req.query.last_event_id;
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      const send = (e: HubEvent) => {
        if (!match(e.alert.siteId)) return;
        res.write(`id: ${e.id}\nevent: ${e.kind}\ndata: ${JSON.stringify(eventWire(e))}\n\n`);
        if (res.writableLength > MAX_BUFFERED) res.destroy();
      };
      res.write(`retry: 2000\n: stream ${opts.hub.epoch}\n\n`);
      const r = opts.hub.resume(last);
      if (r.reset) res.write(`event: reset\ndata: ${JSON.stringify({ reason: r.reason })}\n\n`);
      for (const e of r.events) send(e);
      const unsubscribe = opts.hub.subscribe(send);
      const heartbeat = setInterval(() => res.write(': ping\n\n'), opts.heartbeatMs);
      opts.metrics.sseClients.inc();
      res.on('close', () => {
        unsubscribe();
        clearInterval(heartbeat);
        opts.metrics.sseClients.dec();
      });
    },
  );

  app.post<{ Params: { alert_id: string } }>(
    '/alerts/:alert_id/acknowledge',
    {
      config: { permission: 'alerts.ack' },
      schema: {
        tags: ['alerts'],
        summary: 'Acknowledge an alert (audited: who, when, which alert)',
        security: SECURITY,
        params: {
          type: 'object',
          properties: { alert_id: { type: 'string', pattern: '^[A-Za-z0-9._:@-]{1,128}$' } },
        },
        response: { 200: AlertSchema, ...errorResponses, 409: { $ref: 'Error#' } },
      },
    },
    async (req) => {
      if (req.principal === undefined) throw apiError('AEP_API_UNAUTHENTICATED');
      const who = req.principal;
      const a = await opts.backend.acknowledge(req.params.alert_id, `key:${who.keyId}`);
      try {
        await opts.audit.append({
          actor: `key:${who.keyId}`,
          action: 'alert.acknowledged',
          subject: a.alertId,
          modelVersion: a.modelVersion,
          correlationId: req.correlationId,
          payload: {
            patient_id: a.patientId,
            site_id: a.siteId,
            level: a.level,
            probability: a.probability,
            alert_time: new Date(a.atMs).toISOString(),
            key_name: who.name,
          },
        });
      } catch (e) {
        throw auditFailure(e);
      }
      opts.hub.publish('alert.acknowledged', a);
      return alertWire(a);
    },
  );
};
