import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { AepredError, isAepredError } from '../../shared/errors.js';
import { apiError, errorBody, httpStatusOf } from '../errors.js';
import type { ApiMetrics } from '../metrics.js';

interface AjvIssue {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** The request field an ajv issue is about, as a dotted path (`patients.3.timestamp`). */
export function fieldOf(issue: AjvIssue, context: string | undefined): string {
  const path = (issue.instancePath ?? '').split('/').filter((s) => s !== '');
  const p = issue.params ?? {};
  if (typeof p.missingProperty === 'string') path.push(p.missingProperty);
  else if (typeof p.additionalProperty === 'string') path.push(p.additionalProperty);
  if (path.length > 0) return path.join('.');
  return context === 'body' ? '(body)' : `(${context ?? 'request'})`;
}

function reasonOf(issue: AjvIssue): string {
  if (issue.keyword === 'additionalProperties') return 'is not an accepted field';
  if (issue.keyword === 'required') return 'is required';
  if (issue.keyword === 'format' && issue.params?.format === 'date-time') {
    return 'must be an ISO 8601 date-time with a time zone';
  }
  return issue.message ?? 'is invalid';
}

/** Anything thrown in a request becomes a catalogue error. */
export function toAepredError(err: FastifyError | Error, req: FastifyRequest): AepredError {
  if (isAepredError(err)) return err;
  const fe = err as FastifyError & { validation?: AjvIssue[]; validationContext?: string };
  if (Array.isArray(fe.validation) && fe.validation.length > 0) {
    const issue = fe.validation[0] ?? {};
    const field = fieldOf(issue, fe.validationContext);
    return apiError('AEP_API_INVALID_FIELD', { field, reason: reasonOf(issue) }, { field });
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return apiError('AEP_API_MALFORMED_BODY', { reason: fe.message });
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return apiError('AEP_API_BODY_TOO_LARGE', { limit: req.routeOptions.bodyLimit ?? 0 });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return apiError('AEP_API_UNSUPPORTED_MEDIA_TYPE', {
        type: String(req.headers['content-type'] ?? 'none'),
      });
  }
  const status = fe.statusCode ?? 500;
  // Other 4xx from fastify's parsers (bad content-length, prototype poisoning ...): the body is at fault.
  if (status >= 400 && status < 500) return apiError('AEP_API_MALFORMED_BODY', { reason: fe.message });
  return apiError('AEP_API_INTERNAL', { request_id: req.id }, { cause: err });
}

export function routeLabel(req: FastifyRequest): string {
  return req.routeOptions.url ?? 'unmatched';
}

export function installErrorHandling(app: FastifyInstance, metrics: ApiMetrics): void {
  app.setErrorHandler((err, req, reply) => {
    const e = toAepredError(err instanceof Error ? err : new Error(String(err)), req);
    const status = httpStatusOf(e);
    metrics.errors.inc({ route: routeLabel(req), code: e.code });
    if (status >= 500) {
      // The cause's stack for bugs; the message of a catalogue error carries no patient data.
      const cause = e.cause instanceof Error ? e.cause : e;
      req.log.error({ code: e.code, err: { message: cause.message, stack: cause.stack } }, 'request failed');
    }
    if (e.code === 'AEP_API_RATE_LIMITED') void reply.header('retry-after', String(e.detail ?? '1'));
    void reply.code(status).send(errorBody(e, req.id));
  });
  app.setNotFoundHandler((req, reply) => {
    const e = apiError('AEP_API_NOT_FOUND', { method: req.method, url: req.url.split('?')[0] ?? '' });
    void reply.code(404).send(errorBody(e, req.id));
  });
}

export { AepredError };
