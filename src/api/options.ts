import { z } from 'zod';
import type { AuditLog } from '../audit/log.js';
import { type ApiParams, ApiSchema } from '../config/params.js';
import type { Authenticator } from '../security/apikeys.js';
import type { AlertHub } from './alert-hub.js';
import type { PredictionBackend } from './backend.js';
import type { EnrollmentLookup } from './enrollment.js';
import { apiError } from './errors.js';
import type { ApiMetrics } from './metrics.js';
import type { Probe } from './probes.js';

/** Everything the routes use, built once by `buildApp` and handed to each route plugin. */
export interface ServiceDeps {
  backend: PredictionBackend;
  enrollment: EnrollmentLookup;
  audit: AuditLog;
  auth: Authenticator;
  /** Kafka, Postgres, Redis: /health is 200 only when all answer and a model is loaded. */
  probes: Probe[];
  /** The subset /health/ready needs to serve and audit a prediction. */
  readinessProbes: string[];
  metrics: ApiMetrics;
  hub: AlertHub;
  now: () => number;
}

export interface ServiceOptions {
  api: ApiParams;
  /** Absent: plain HTTP (only when configured explicitly; `aepred serve` defaults to HTTPS). */
  tls?: { cert: Buffer; key: Buffer };
  logLevel: 'silent' | 'fatal' | 'error' | 'warn' | 'info' | 'debug';
  /** Trust X-Forwarded-For from a proxy in front (rate limits by client IP for unauthenticated routes). */
  trustProxy: boolean;
  probeTimeoutMs: number;
}

const OptionsSchema = z.strictObject({
  // The same schema params.yaml is validated with: one definition of the serving limits.
  api: ApiSchema,
  tls: z.strictObject({ cert: z.instanceof(Buffer), key: z.instanceof(Buffer) }).optional(),
  logLevel: z.enum(['silent', 'fatal', 'error', 'warn', 'info', 'debug']),
  trustProxy: z.boolean(),
  probeTimeoutMs: z.number().int().min(10).max(60_000),
});

/** Options are checked when the app is built, so a bad config fails at boot, not at a request. */
export function validateOptions(o: ServiceOptions, deps: ServiceDeps): ServiceOptions {
  const r = OptionsSchema.safeParse(o);
  if (!r.success) {
    const reason = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw apiError('AEP_API_OPTIONS_INVALID', { reason });
  }
  const names = new Set(deps.probes.map((p) => p.name));
  const unknown = deps.readinessProbes.filter((n) => !names.has(n));
  if (unknown.length > 0) {
    throw apiError('AEP_API_OPTIONS_INVALID', {
      reason: `readinessProbes name no probe: ${unknown.join(', ')}`,
    });
  }
  return o;
}
