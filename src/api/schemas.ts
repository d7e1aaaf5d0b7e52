/**
 * JSON Schemas of the API: ajv validates requests against them, fast-json-stringify serializes
 * responses with them, and @fastify/swagger publishes them at /openapi.json. Strings are bounded so a
 * huge value is a 400, not work.
 */
export const PATIENT_ID = {
  type: 'string',
  pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$',
  maxLength: 64,
  description: 'As in the enrollment table',
} as const;

export const TIMESTAMP = { type: 'string', format: 'date-time', maxLength: 40 } as const;

export const ErrorSchema = {
  $id: 'Error',
  type: 'object',
  required: ['error', 'request_id'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'retryable'],
      properties: {
        code: { type: 'string', description: 'Stable code, see docs/errors.md' },
        message: { type: 'string' },
        field: { type: 'string', description: 'The request field at fault, when one is' },
        retryable: { type: 'boolean' },
      },
    },
    request_id: { type: 'string' },
  },
} as const;

export const RiskFactorSchema = {
  type: 'object',
  required: ['feature', 'attribution', 'value'],
  properties: {
    feature: { type: 'string' },
    attribution: { type: 'number', description: 'Integrated-gradients attribution toward the probability' },
    value: { type: ['number', 'null'] },
  },
} as const;

export const PredictRequestSchema = {
  type: 'object',
  required: ['patient_id', 'timestamp'],
  additionalProperties: false,
  properties: {
    patient_id: PATIENT_ID,
    timestamp: { ...TIMESTAMP, description: 'Predict as of this time: only events up to it are used' },
  },
} as const;

export const PredictionSchema = {
  type: 'object',
  required: [
    'patient_id',
    'adverse_event_probability',
    'risk_level',
    'prediction_timestamp',
    'model_version',
    'top_risk_factors',
  ],
  properties: {
    patient_id: { type: 'string' },
    adverse_event_probability: { type: 'number', minimum: 0, maximum: 1 },
    risk_level: { type: 'string', enum: ['low', 'medium', 'high'] },
    prediction_timestamp: { type: 'string', format: 'date-time', description: 'When the service scored' },
    model_version: { type: 'string' },
    top_risk_factors: { type: 'array', items: RiskFactorSchema },
  },
} as const;

export const errorResponses = {
  400: { $ref: 'Error#' },
  401: { $ref: 'Error#' },
  403: { $ref: 'Error#' },
  404: { $ref: 'Error#' },
  422: { $ref: 'Error#' },
  429: { $ref: 'Error#' },
  503: { $ref: 'Error#' },
} as const;

export const SECURITY: Array<Record<string, string[]>> = [{ apiKey: [] }, { bearer: [] }];
