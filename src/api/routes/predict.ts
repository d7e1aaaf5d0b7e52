import type { FastifyPluginAsync } from 'fastify';
import { apiError } from '../errors.js';
import type { Predictor } from '../predicting.js';
import {
  errorResponses,
  PATIENT_ID,
  PredictionSchema,
  PredictRequestSchema,
  SECURITY,
  TIMESTAMP,
} from '../schemas.js';

interface Opts {
  predictor: Predictor;
  batchMax: number;
  observe: (route: string, seconds: number) => void;
}

interface PredictBody {
  patient_id: string;
  timestamp: string;
}

/** POST /predict (FR-7.1) and POST /predict/batch. */
export const predictRoutes: FastifyPluginAsync<Opts> = async (app, opts) => {
  app.post<{ Body: PredictBody }>(
    '/predict',
    {
      config: { permission: 'predict' },
      schema: {
        tags: ['predict'],
        summary: "One patient's adverse-event risk as of a time (FR-7.1)",
        security: SECURITY,
        body: PredictRequestSchema,
        response: {
          200: {
            ...PredictionSchema,
            description: 'The x-prediction-id header carries the audit row of this prediction',
          },
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const start = process.hrtime.bigint();
      const principal = req.principal;
      if (principal === undefined) throw apiError('AEP_API_UNAUTHENTICATED');
      const s = await opts.predictor.one(
        { patientId: req.body.patient_id, timestamp: req.body.timestamp },
        principal,
        req.correlationId,
      );
      void reply.header('x-prediction-id', String(s.predictionId));
      opts.observe('/predict', Number(process.hrtime.bigint() - start) / 1e9);
      return s.wire;
    },
  );

  app.post<{ Body: { patients: PredictBody[] } }>(
    '/predict/batch',
    {
      config: { permission: 'predict' },
      schema: {
        tags: ['predict'],
        summary: `Up to api.batch_max (${opts.batchMax}) patients in one request`,
        description:
          'Always 200 when the request itself is valid; each item is a prediction (with prediction_id) or an error for that patient.',
        security: SECURITY,
        body: {
          type: 'object',
          required: ['patients'],
          additionalProperties: false,
          properties: {
            patients: {
              type: 'array',
              minItems: 1,
              items: {
                type: 'object',
                required: ['patient_id', 'timestamp'],
                additionalProperties: false,
                properties: { patient_id: PATIENT_ID, timestamp: TIMESTAMP },
              },
            },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              predictions: {
                type: 'array',
                items: {
                  anyOf: [
                    {
                      ...PredictionSchema,
                      required: [...PredictionSchema.required, 'prediction_id'],
                      properties: { ...PredictionSchema.properties, prediction_id: { type: 'integer' } },
                    },
                    {
                      type: 'object',
                      required: ['patient_id', 'error'],
                      properties: {
                        patient_id: { type: 'string' },
                        error: {
                          type: 'object',
                          properties: {
                            code: { type: 'string' },
                            message: { type: 'string' },
                            field: { type: 'string' },
                            retryable: { type: 'boolean' },
                          },
                        },
                      },
                    },
                  ],
                },
              },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const start = process.hrtime.bigint();
      const principal = req.principal;
      if (principal === undefined) throw apiError('AEP_API_UNAUTHENTICATED');
      const n = req.body.patients.length;
      if (n > opts.batchMax) {
        throw apiError('AEP_API_BATCH_TOO_LARGE', { max: opts.batchMax, count: n }, { field: 'patients' });
      }
      const predictions = await opts.predictor.batch(
        req.body.patients.map((p) => ({ patientId: p.patient_id, timestamp: p.timestamp })),
        principal,
        req.correlationId,
      );
      opts.observe('/predict/batch', Number(process.hrtime.bigint() - start) / 1e9);
      return { predictions };
    },
  );
};
