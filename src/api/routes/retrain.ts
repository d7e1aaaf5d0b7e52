import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { AuditLog } from '../../audit/log.js';
import type { PredictionBackend, RetrainReason, RetrainTicket } from '../backend.js';
import { apiError } from '../errors.js';
import { auditFailure } from '../predicting.js';
import { errorResponses, SECURITY } from '../schemas.js';

interface Opts {
  backend: PredictionBackend;
  audit: AuditLog;
}

interface AlertmanagerAlert {
  status?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const TicketSchema = {
  type: 'object',
  properties: { id: { type: 'string' }, accepted: { type: 'boolean' }, detail: { type: 'string' } },
} as const;

const JobSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    reason: { type: 'string' },
    state: { type: 'string' },
    requested_at: { type: 'string' },
    updated_at: { type: 'string' },
    run: { type: 'string' },
    outcome: { type: 'string' },
    data_window: { type: 'object', properties: { start: { type: 'string' }, end: { type: 'string' } } },
    duration_seconds: { type: 'number' },
    registered_version: { type: ['string', 'null'] },
    comparison: { type: ['string', 'null'] },
    lineage_tag: { type: ['string', 'null'] },
    mlflow_run: { type: 'string' },
    verdict: { type: 'string' },
    verdict_reasons: { type: 'array', items: { type: 'string' } },
    error: { type: 'string' },
  },
} as const;

/** Which retraining an Alertmanager alert asks for: its `reason` label, else guessed from its name. */
export function reasonOf(a: AlertmanagerAlert): RetrainReason {
  const r = a.labels?.reason;
  if (r === 'drift' || r === 'performance' || r === 'manual') return r;
  return /drift|ks/i.test(a.labels?.alertname ?? '') ? 'drift' : 'performance';
}

/**
 * POST /retrain (manual trigger) and POST /alerts/webhook (Alertmanager: a firing alert labelled
 * action="retrain" triggers a retraining with its reason). Both audited as retrain.requested.
 */
export const retrainRoutes: FastifyPluginAsync<Opts> = async (app, opts) => {
  async function trigger(
    req: FastifyRequest,
    reason: RetrainReason,
    detail: string,
    source: string,
  ): Promise<RetrainTicket> {
    if (req.principal === undefined) throw apiError('AEP_API_UNAUTHENTICATED');
    const t = await opts.backend.retrain(reason, detail, req.principal.keyId);
    try {
      await opts.audit.append({
        actor: `key:${req.principal.keyId}`,
        action: 'retrain.requested',
        subject: t.id,
        correlationId: req.correlationId,
        payload: { reason, detail, source, accepted: t.accepted, outcome: t.detail ?? '' },
      });
    } catch (e) {
      throw auditFailure(e);
    }
    return t;
  }

  app.post<{ Body: { detail?: string } | undefined }>(
    '/retrain',
    {
      config: { permission: 'retrain' },
      schema: {
        tags: ['models'],
        summary: 'Trigger a retraining (reason manual); deduplicated with one already running',
        security: SECURITY,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { detail: { type: 'string', maxLength: 500 } },
        },
        response: { 202: TicketSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const t = await trigger(req, 'manual', req.body?.detail ?? '', 'api');
      return reply.code(202).send(t);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/retrain/:id',
    {
      config: { permission: 'retrain' },
      schema: {
        tags: ['models'],
        summary:
          'A retraining job by its ticket id: state (running, rejected, failed, canary, promoted, rolled_back) and report',
        security: SECURITY,
        params: {
          type: 'object',
          required: ['id'],
          properties: { id: { type: 'string', minLength: 1, maxLength: 200 } },
        },
        response: { 200: JobSchema, ...errorResponses },
      },
    },
    async (req) => {
      const job = await opts.backend.retrainStatus?.(req.params.id);
      if (job === undefined)
        throw apiError('AEP_API_NOT_FOUND', { method: 'GET', url: `/retrain/${req.params.id}` });
      return job;
    },
  );

  app.post<{ Body: { status: string; alerts: AlertmanagerAlert[] } }>(
    '/alerts/webhook',
    {
      config: { permission: 'retrain' },
      schema: {
        tags: ['alerts'],
        summary: 'Alertmanager webhook receiver (version 4 payload)',
        security: SECURITY,
        body: {
          type: 'object',
          required: ['status', 'alerts'],
          properties: {
            version: { type: 'string' },
            status: { type: 'string', enum: ['firing', 'resolved'] },
            alerts: {
              type: 'array',
              maxItems: 1000,
              items: {
                type: 'object',
                properties: {
                  status: { type: 'string' },
                  labels: { type: 'object', additionalProperties: { type: 'string', maxLength: 1000 } },
                  annotations: { type: 'object', additionalProperties: { type: 'string', maxLength: 10000 } },
                },
              },
            },
          },
        },
        response: {
          200: { type: 'object', properties: { triggered: { type: 'array', items: TicketSchema } } },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const firing = req.body.alerts.filter((a) => a.status === 'firing' && a.labels?.action === 'retrain');
      const triggered: RetrainTicket[] = [];
      for (const a of firing) {
        const name = a.labels?.alertname ?? 'unnamed';
        triggered.push(
          await trigger(req, reasonOf(a), `${name}: ${a.annotations?.summary ?? ''}`.trim(), 'alertmanager'),
        );
      }
      return { triggered };
    },
  );
};
