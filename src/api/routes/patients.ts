import type { FastifyPluginAsync } from 'fastify';
import type { PredictionBackend } from '../backend.js';
import { errorResponses, PATIENT_ID, SECURITY } from '../schemas.js';

const LIMIT = { type: 'string', pattern: '^[0-9]{1,4}$' } as const;
const SITE = { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' } as const;

/** The coordinator console's reads: patients by risk, one patient's score trend. */
export const patientRoutes: FastifyPluginAsync<{ backend: PredictionBackend }> = async (app, opts) => {
  app.get<{ Querystring: { site?: string; limit?: string } }>(
    '/patients',
    {
      config: { permission: 'patients.read' },
      schema: {
        tags: ['console'],
        summary: 'Resident patients ordered by current risk, highest first',
        security: SECURITY,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { site: SITE, limit: LIMIT },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              patients: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    patient_id: { type: 'string' },
                    site_id: { type: 'string' },
                    adverse_event_probability: { type: 'number' },
                    risk_level: { type: 'string' },
                    at: { type: 'string' },
                    model_version: { type: 'string' },
                  },
                },
              },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const limit = Math.min(Number(req.query.limit ?? 100), 1000);
      const list = await opts.backend.patients(
        req.query.site === undefined ? { limit } : { siteId: req.query.site, limit },
      );
      return {
        patients: list.map((p) => ({
          patient_id: p.patientId,
          site_id: p.siteId,
          adverse_event_probability: p.probability,
          risk_level: p.riskLevel,
          at: new Date(p.atMs).toISOString(),
          model_version: p.modelVersion,
        })),
      };
    },
  );

  app.get<{ Params: { patient_id: string }; Querystring: { limit?: string } }>(
    '/patients/:patient_id/scores',
    {
      config: { permission: 'patients.read' },
      schema: {
        tags: ['console'],
        summary: "One patient's recent scores, oldest first",
        security: SECURITY,
        params: { type: 'object', properties: { patient_id: PATIENT_ID } },
        querystring: { type: 'object', additionalProperties: false, properties: { limit: LIMIT } },
        response: {
          200: {
            type: 'object',
            properties: {
              patient_id: { type: 'string' },
              scores: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    at: { type: 'string' },
                    adverse_event_probability: { type: 'number' },
                    risk_level: { type: 'string' },
                    model_version: { type: 'string' },
                  },
                },
              },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const limit = Math.min(Number(req.query.limit ?? 288), 5000);
      const scores = await opts.backend.history(req.params.patient_id, limit);
      return {
        patient_id: req.params.patient_id,
        scores: scores.map((s) => ({
          at: new Date(s.atMs).toISOString(),
          adverse_event_probability: s.probability,
          risk_level: s.riskLevel,
          model_version: s.modelVersion,
        })),
      };
    },
  );
};
