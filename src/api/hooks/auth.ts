import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Authenticator } from '../../security/apikeys.js';
import { allows } from '../../security/roles.js';
import { apiError } from '../errors.js';

export const SESSION_COOKIE = 'aepred_key';

/** The presented key: x-api-key, Authorization: Bearer, or the console's HttpOnly session cookie. */
export function presentedKey(req: FastifyRequest): string | undefined {
  const h = req.headers['x-api-key'];
  if (typeof h === 'string' && h !== '') return h;
  const a = req.headers.authorization;
  if (typeof a === 'string' && a.startsWith('Bearer ')) return a.slice(7).trim();
  const cookie = req.headers.cookie;
  if (typeof cookie === 'string') {
    for (const part of cookie.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE)
        return decodeURIComponent(part.slice(eq + 1).trim());
    }
  }
  return undefined;
}

const CORRELATION = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * Authentication and authorization in one onRequest hook: a route's `config.permission` names what it
 * needs; routes without one are public. 401 without a valid key, 403 when the role lacks it.
 */
export function installAuth(app: FastifyInstance, auth: Authenticator): void {
  app.decorateRequest('principal', undefined);
  app.decorateRequest('correlationId', '');
  app.addHook('onRequest', async (req) => {
    const c = req.headers['x-correlation-id'];
    req.correlationId = typeof c === 'string' && CORRELATION.test(c) ? c : req.id;
    const permission = req.routeOptions.config.permission;
    const key = presentedKey(req);
    req.principal = key === undefined ? undefined : await auth.authenticate(key);
    if (permission === undefined) return;
    if (req.principal === undefined) throw apiError('AEP_API_UNAUTHENTICATED');
    if (!allows(req.principal.role, permission)) {
      throw apiError('AEP_API_FORBIDDEN', { role: req.principal.role, action: permission });
    }
  });
}
