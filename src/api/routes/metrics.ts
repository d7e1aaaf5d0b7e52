import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';

/** GET /metrics: the service's registry merged with any others handed in (ingest, actors, drift). */
export const metricsRoutes: FastifyPluginAsync<{ registries: Registry[] }> = async (app, opts) => {
  app.get(
    '/metrics',
    { schema: { tags: ['metrics'], summary: 'Prometheus exposition' } },
    async (_req, reply) => {
      const parts = await Promise.all(opts.registries.map((r) => r.metrics()));
      void reply.header('content-type', opts.registries[0]?.contentType ?? 'text/plain; version=0.0.4');
      return parts.join('\n');
    },
  );
};
