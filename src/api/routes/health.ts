import type { FastifyPluginAsync } from 'fastify';
import type { PredictionBackend } from '../backend.js';
import { apiError, errorBody } from '../errors.js';
import { type Probe, type ProbeResult, runProbe } from '../probes.js';

interface Opts {
  backend: PredictionBackend;
  probes: Probe[];
  readinessProbes: string[];
  timeoutMs: number;
  now: () => number;
}

type Components = Record<string, { ready: boolean; detail?: string }>;

const componentsSchema = {
  type: 'object',
  additionalProperties: {
    type: 'object',
    properties: { ready: { type: 'boolean' }, detail: { type: 'string' }, version: { type: 'string' } },
  },
} as const;

/**
 * /health: 200 only when a model is loaded and Kafka, Postgres and Redis answer; else 503 naming
 * what is not ready. /health/ready: what serving needs (model, Postgres for audit and enrollment).
 * /health/live: the event loop answers.
 */
export const healthRoutes: FastifyPluginAsync<Opts> = async (app, opts) => {
  async function check(names: readonly string[] | undefined): Promise<Components> {
    const probes = opts.probes.filter((p) => names === undefined || names.includes(p.name));
    const [results, backend] = await Promise.all([
      Promise.all(probes.map((p) => runProbe(p, opts.timeoutMs, opts.now))),
      opts.backend.health().catch((e: unknown) => ({
        model: { ready: false, detail: `backend: ${e instanceof Error ? e.message : String(e)}` },
        components: undefined,
      })),
    ]);
    const out: Components = {};
    probes.forEach((p, i) => {
      const r = results[i] as ProbeResult;
      out[p.name] = r.ready ? { ready: true } : { ready: false, detail: r.detail ?? 'not answering' };
    });
    out.model = backend.model;
    for (const [k, v] of Object.entries(backend.components ?? {})) out[k] = v;
    return out;
  }

  const answer = async (names: readonly string[] | undefined, reqId: string) => {
    const components = await check(names);
    const notReady = Object.entries(components)
      .filter(([, v]) => !v.ready)
      .map(([k]) => k);
    if (notReady.length === 0) return { code: 200 as const, body: { status: 'ok', components } };
    const e = apiError('AEP_API_NOT_READY', { components: notReady.join(', ') });
    return {
      code: 503 as const,
      body: { status: 'not_ready', not_ready: notReady, components, ...errorBody(e, reqId) },
    };
  };

  const schema = (summary: string) => ({
    tags: ['health'],
    summary,
    response: {
      200: { type: 'object', properties: { status: { type: 'string' }, components: componentsSchema } },
      503: {
        type: 'object',
        properties: {
          status: { type: 'string' },
          not_ready: { type: 'array', items: { type: 'string' } },
          components: componentsSchema,
          error: { type: 'object', additionalProperties: true },
          request_id: { type: 'string' },
        },
      },
    },
  });

  app.get(
    '/health',
    { schema: schema('Model loaded and Kafka, Postgres, Redis answering') },
    async (req, reply) => {
      const r = await answer(undefined, req.id);
      return reply.code(r.code).send(r.body);
    },
  );
  app.get(
    '/health/ready',
    { schema: schema('Kubernetes readiness: can serve and audit predictions') },
    async (req, reply) => {
      const r = await answer(opts.readinessProbes, req.id);
      return reply.code(r.code).send(r.body);
    },
  );
  app.get('/health/live', { schema: { tags: ['health'], summary: 'Kubernetes liveness' } }, async () => ({
    status: 'ok',
  }));
};
