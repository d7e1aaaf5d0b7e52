import { randomUUID } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyReply, LogController } from 'fastify';
import type { Registry } from 'prom-client';
import './fastify-types.js';
import { apiError, errorBody } from './errors.js';
import { installAuth } from './hooks/auth.js';
import { installErrorHandling } from './hooks/errors.js';
import { installRequestLog } from './hooks/logging.js';
import { type ServiceDeps, type ServiceOptions, validateOptions } from './options.js';
import { Predictor } from './predicting.js';
import { alertRoutes } from './routes/alerts.js';
import { consoleRoutes } from './routes/console.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { modelRoutes } from './routes/models.js';
import { patientRoutes } from './routes/patients.js';
import { predictRoutes } from './routes/predict.js';
import { retrainRoutes } from './routes/retrain.js';
import { sessionRoutes } from './routes/session.js';
import { ErrorSchema } from './schemas.js';

const MAX_PARAM_LENGTH = 200;

/**
 * The service: wiring only. Options are validated here, before anything listens; each route group is
 * its own plugin under routes/; cross-cutting concerns are the hooks under hooks/.
 */
export async function buildApp(
  deps: ServiceDeps,
  options: ServiceOptions,
  extra: { registries?: Registry[] } = {},
): Promise<FastifyInstance> {
  const o = validateOptions(options, deps);
  const api = o.api;
  const app = Fastify({
    ...(o.tls === undefined ? {} : { https: { cert: o.tls.cert, key: o.tls.key } }),
    logger: o.logLevel === 'silent' ? false : { level: o.logLevel },
    // Our own one-line-per-request log carries the route pattern, never the URL (patient ids).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: api.body_limit_bytes,
    trustProxy: o.trustProxy,
    genReqId: () => randomUUID(),
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // The router's own refusals (bad percent-encoding, over-long parameters) in the catalogue's shape.
    frameworkErrors: (err, req, reply) => {
      const e =
        err.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? apiError('AEP_API_URL_TOO_LONG', { limit: MAX_PARAM_LENGTH })
          : apiError('AEP_API_BAD_URL', { reason: err.code });
      const r: FastifyReply = reply;
      void r.code(e.status).send(errorBody(e, req.id));
    },
    requestTimeout: Math.ceil(api.request_timeout_seconds * 1000) + 5000,
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false },
    },
  });
  app.addSchema(ErrorSchema);
  // JSON only: a text/plain body is a 415, not a string handed to the schema.
  app.removeContentTypeParser('text/plain');

  installErrorHandling(app, deps.metrics);
  installAuth(app, deps.auth);
  installRequestLog(app, deps.metrics);
  if (o.tls !== undefined) {
    app.addHook('onSend', async (_req, reply) => {
      void reply.header('strict-transport-security', 'max-age=31536000');
    });
  }

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'aepred',
        version: '0.1.0',
        description: 'Adverse-event prediction service (docs/api.md)',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
    },
  });
  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler', // after auth (onRequest), so the limit is per key
    max: api.rate_limit.max,
    timeWindow: Math.round(api.rate_limit.window_seconds * 1000),
    keyGenerator: (req) => (req.principal === undefined ? `ip:${req.ip}` : `key:${req.principal.keyId}`),
    allowList: (req) => req.url.startsWith('/health') || req.url === '/metrics',
    errorResponseBuilder: (_req, ctx) => {
      const e = apiError('AEP_API_RATE_LIMITED', { retry_after: ctx.after });
      return Object.assign(e, { statusCode: 429, detail: String(Math.ceil(ctx.ttl / 1000)) });
    },
  });

  const predictor = new Predictor(deps, {
    maxFutureSkewSeconds: api.max_future_skew_seconds,
    requestTimeoutSeconds: api.request_timeout_seconds,
  });
  const observe = (route: string, s: number) => deps.metrics.latency.observe({ route }, s);

  await app.register(predictRoutes, { predictor, batchMax: api.batch_max, observe });
  await app.register(healthRoutes, {
    backend: deps.backend,
    probes: deps.probes,
    readinessProbes: deps.readinessProbes,
    timeoutMs: o.probeTimeoutMs,
    now: deps.now,
  });
  await app.register(metricsRoutes, { registries: [deps.metrics.registry, ...(extra.registries ?? [])] });
  await app.register(modelRoutes, { backend: deps.backend, audit: deps.audit });
  await app.register(retrainRoutes, { backend: deps.backend, audit: deps.audit });
  await app.register(alertRoutes, {
    backend: deps.backend,
    audit: deps.audit,
    hub: deps.hub,
    metrics: deps.metrics,
    heartbeatMs: api.sse_heartbeat_seconds * 1000,
  });
  await app.register(patientRoutes, { backend: deps.backend });
  await app.register(sessionRoutes, { auth: deps.auth, secure: o.tls !== undefined });
  await app.register(consoleRoutes);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const unsubscribe = deps.backend.subscribeAlerts((a) => deps.hub.publish('alert.raised', a));
  app.addHook('onClose', async () => unsubscribe());
  return app;
}
