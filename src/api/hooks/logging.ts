import type { FastifyInstance } from 'fastify';
import type { ApiMetrics } from '../metrics.js';
import { routeLabel } from './errors.js';

/**
 * One log line per request with the route pattern, never the URL, query or body: paths like
 * /patients/:patient_id carry patient ids, and docs/security.md keeps those out of logs.
 */
export function installRequestLog(app: FastifyInstance, metrics: ApiMetrics): void {
  app.addHook('onResponse', async (req, reply) => {
    const route = routeLabel(req);
    metrics.observe(route, reply.statusCode);
    req.log.info(
      {
        method: req.method,
        route,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 100) / 100,
        key: req.principal?.keyId,
        correlation: req.correlationId,
      },
      'request',
    );
  });
}
