import { AepredError, type ErrorKind, isAepredError } from '../shared/errors.js';

/**
 * The service's error catalogue: every code the API answers with, its HTTP status and its message
 * template. Codes are stable and never reused; docs/errors.md documents each (errors.test.ts checks
 * both directions). `{name}` placeholders are filled from the params given to `apiError`.
 */
interface Entry {
  readonly status: number;
  readonly template: string;
  readonly retryable?: boolean;
  readonly kind?: ErrorKind;
}

export const API_ERRORS = {
  AEP_API_MALFORMED_BODY: { status: 400, template: 'request body is not valid JSON: {reason}' },
  AEP_API_INVALID_FIELD: { status: 400, template: '{field}: {reason}' },
  AEP_API_BATCH_TOO_LARGE: { status: 400, template: 'patients: at most {max} per batch, got {count}' },
  AEP_API_FUTURE_TIMESTAMP: { status: 422, template: 'timestamp: {timestamp} is in the future' },
  AEP_API_BEFORE_ENROLLMENT: {
    status: 422,
    template: "timestamp: before the patient's enrollment date {enrollment_date}",
  },
  AEP_API_UNKNOWN_PATIENT: { status: 404, template: 'patient_id: no enrolled patient has this id' },
  AEP_API_UNKNOWN_MODEL_VERSION: { status: 404, template: 'version: no registered model version {version}' },
  AEP_API_UNKNOWN_ALERT: { status: 404, template: 'alert_id: no alert {alert_id}' },
  AEP_API_ALERT_ACKNOWLEDGED: { status: 409, template: 'alert_id: alert {alert_id} is already acknowledged' },
  AEP_API_MODEL_CONFLICT: { status: 409, template: '{reason}' },
  AEP_API_NOT_FOUND: { status: 404, template: 'no route {method} {url}' },
  AEP_API_BAD_URL: { status: 400, template: 'the URL is not valid: {reason}' },
  AEP_API_URL_TOO_LONG: { status: 414, template: 'a path parameter exceeds {limit} characters' },
  AEP_API_BODY_TOO_LARGE: { status: 413, template: 'request body exceeds {limit} bytes' },
  AEP_API_UNSUPPORTED_MEDIA_TYPE: { status: 415, template: 'content-type {type} is not accepted; send JSON' },
  AEP_API_UNAUTHENTICATED: {
    status: 401,
    template: 'a valid API key is required (header x-api-key or Authorization: Bearer)',
  },
  AEP_API_FORBIDDEN: { status: 403, template: 'role {role} may not {action}' },
  AEP_API_RATE_LIMITED: {
    status: 429,
    template: 'rate limit exceeded; retry after {retry_after}',
    retryable: true,
    kind: 'operational',
  },
  AEP_API_NO_MODEL: { status: 503, template: 'no model is loaded', retryable: true },
  AEP_API_NOT_READY: { status: 503, template: 'not ready: {components}', retryable: true },
  AEP_API_BACKEND_UNAVAILABLE: {
    status: 503,
    template: 'prediction backend unavailable: {reason}',
    retryable: true,
  },
  AEP_API_AUDIT_UNAVAILABLE: {
    status: 503,
    template: 'the audit trail cannot be written, so nothing is answered: {reason}',
    retryable: true,
  },
  AEP_API_INTERNAL: { status: 500, template: 'internal error (request {request_id})' },
  AEP_API_OPTIONS_INVALID: { status: 500, template: 'invalid service options: {reason}', kind: 'config' },
  AEP_API_TLS: { status: 500, template: 'TLS setup failed: {reason}', kind: 'config' },
  AEP_AUDIT_CHAIN_BROKEN: { status: 500, template: 'audit chain broken at seq {seq}: {reason}' },
  AEP_AUDIT_DIGEST: { status: 500, template: 'audit digest: {reason}' },
  AEP_APIKEY_INVALID_ROLE: { status: 400, template: 'role: {role} is not one of {roles}', kind: 'usage' },
} as const satisfies Record<string, Entry>;

export type ApiErrorCode = keyof typeof API_ERRORS;

/** Codes thrown elsewhere in the product that the API can surface, with the status it answers. */
const FOREIGN_STATUS: Readonly<Record<string, number>> = {
  AEP_DB_UNAVAILABLE: 503,
  AEP_KAFKA_UNAVAILABLE: 503,
  AEP_MLFLOW_UNREACHABLE: 503,
  AEP_MLFLOW_HTTP: 502,
  // ModelSupervisor refusals surfaced by /models/*: the request is fine, the deployment state forbids it.
  AEP_NO_STAGING: 409,
  AEP_NO_PREVIOUS_MODEL: 409,
  AEP_MODEL_HASH_MISMATCH: 409,
  AEP_CANARY_SHARE: 400,
  AEP_CANARY_ACTIVE: 409,
  // The actors' Service refusing to spawn an actor for a patient not in the enrollment table.
  AEP_UNKNOWN_PATIENT: 404,
};

export function isApiErrorCode(code: string): code is ApiErrorCode {
  return Object.hasOwn(API_ERRORS, code);
}

/** Fills `{name}` placeholders; a missing param stays visible as `{name}` rather than vanishing. */
export function formatTemplate(template: string, params: Readonly<Record<string, string | number>>): string {
  return template.replace(/\{([a-z_]+)\}/g, (whole, name: string) =>
    Object.hasOwn(params, name) ? String(params[name]) : whole,
  );
}

/** An error the API answers with; `field` names the request field at fault, when there is one. */
export class ApiError extends AepredError {
  readonly status: number;
  readonly field: string | undefined;

  constructor(
    code: ApiErrorCode,
    params: Readonly<Record<string, string | number>> = {},
    opts: { field?: string; cause?: unknown; detail?: string } = {},
  ) {
    const entry: Entry = API_ERRORS[code];
    super(code, formatTemplate(entry.template, params), {
      kind: entry.kind ?? (entry.status < 500 ? 'usage' : 'operational'),
      retryable: entry.retryable ?? false,
      cause: opts.cause,
      detail: opts.detail,
    });
    this.status = entry.status;
    this.field = opts.field ?? (typeof params.field === 'string' ? params.field : undefined);
  }
}

/** The one factory. */
export function apiError(
  code: ApiErrorCode,
  params: Readonly<Record<string, string | number>> = {},
  opts: { field?: string; cause?: unknown; detail?: string } = {},
): ApiError {
  return new ApiError(code, params, opts);
}

/** The HTTP status for any product error: catalogue first, then known foreign codes, then by kind. */
export function httpStatusOf(e: AepredError): number {
  if (e instanceof ApiError) return e.status;
  if (isApiErrorCode(e.code)) return API_ERRORS[e.code].status;
  const foreign = FOREIGN_STATUS[e.code];
  if (foreign !== undefined) return foreign;
  if (e.retryable) return 503;
  return e.kind === 'usage' ? 400 : 500;
}

export function foreignHttpStatus(code: string): number | undefined {
  return FOREIGN_STATUS[code];
}

export interface ErrorBody {
  error: { code: string; message: string; field?: string; retryable: boolean };
  request_id: string;
}

export function errorBody(e: AepredError, requestId: string): ErrorBody {
  const field = e instanceof ApiError ? e.field : undefined;
  return {
    error: {
      code: e.code,
      message: e.message,
      ...(field === undefined ? {} : { field }),
      retryable: e.retryable,
    },
    request_id: requestId,
  };
}

export { isAepredError };
