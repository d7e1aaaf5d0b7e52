import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { AuditLog } from '../../audit/log.js';
import type { Deployment, PredictionBackend } from '../backend.js';
import { apiError } from '../errors.js';
import { auditFailure } from '../predicting.js';
import { errorResponses, SECURITY } from '../schemas.js';

interface Opts {
  backend: PredictionBackend;
  audit: AuditLog;
}

const VERSION = { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' } as const;

const DeploymentSchema = {
  type: 'object',
  properties: {
    production: { type: ['string', 'null'] },
    staging: { type: ['string', 'null'] },
    canary_share: { type: 'number' },
    previous: { type: ['string', 'null'] },
    versions: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          version: { type: 'string' },
          aliases: { type: 'array', items: { type: 'string' } },
          run_id: { type: 'string' },
          feature_set_hash: { type: 'string' },
          metrics: { type: 'object', additionalProperties: { type: 'number' } },
        },
      },
    },
  },
} as const;

function wire(d: Deployment) {
  return {
    production: d.production,
    staging: d.staging,
    canary_share: d.canaryShare,
    previous: d.previous,
    versions: d.versions.map((v) => ({
      version: v.version,
      aliases: v.aliases,
      run_id: v.runId,
      feature_set_hash: v.featureSetHash,
      metrics: v.metrics,
    })),
  };
}

function who(req: FastifyRequest): string {
  if (req.principal === undefined) throw apiError('AEP_API_UNAUTHENTICATED');
  return req.principal.keyId;
}

/** GET /models, POST /models/promote, POST /models/rollback, PUT /models/canary; every change audited. */
export const modelRoutes: FastifyPluginAsync<Opts> = async (app, opts) => {
  async function audited(req: FastifyRequest, action: string, subject: string, d: Deployment, extra: object) {
    try {
      await opts.audit.append({
        actor: `key:${who(req)}`,
        action,
        subject,
        modelVersion: d.production ?? '',
        correlationId: req.correlationId,
        payload: { ...extra, production: d.production, staging: d.staging, canary_share: d.canaryShare },
      });
    } catch (e) {
      throw auditFailure(e);
    }
    return wire(d);
  }

  const response = { 200: DeploymentSchema, ...errorResponses, 409: { $ref: 'Error#' } };

  app.get(
    '/models',
    {
      config: { permission: 'models.read' },
      schema: {
        tags: ['models'],
        summary: 'Registered versions and what is deployed',
        security: SECURITY,
        response,
      },
    },
    async () => wire(await opts.backend.deployment()),
  );

  app.post<{ Body: { version?: string } | undefined }>(
    '/models/promote',
    {
      config: { permission: 'models.write' },
      schema: {
        tags: ['models'],
        summary: 'Promote a version (default: the staging one) to production',
        security: SECURITY,
        body: { type: 'object', additionalProperties: false, properties: { version: VERSION } },
        response,
      },
    },
    async (req) => {
      const d = await opts.backend.promote(req.body?.version, who(req));
      return audited(req, 'model.promoted', d.production ?? '', d, {
        requested: req.body?.version ?? 'staging',
      });
    },
  );

  app.post(
    '/models/rollback',
    {
      config: { permission: 'models.write' },
      schema: {
        tags: ['models'],
        summary: 'Back to the previous production version',
        security: SECURITY,
        response,
      },
    },
    async (req) => {
      const d = await opts.backend.rollback(who(req));
      return audited(req, 'model.rolled_back', d.production ?? '', d, {});
    },
  );

  app.put<{ Body: { version: string; share: number } }>(
    '/models/canary',
    {
      config: { permission: 'models.write' },
      schema: {
        tags: ['models'],
        summary: 'Route a sticky share of patients to a staging version (share 0 ends the canary)',
        security: SECURITY,
        body: {
          type: 'object',
          required: ['version', 'share'],
          additionalProperties: false,
          properties: { version: VERSION, share: { type: 'number', minimum: 0, maximum: 1 } },
        },
        response,
      },
    },
    async (req) => {
      const d = await opts.backend.setCanary(req.body.version, req.body.share, who(req));
      return audited(req, 'model.canary.set', req.body.version, d, { share: req.body.share });
    },
  );
};
