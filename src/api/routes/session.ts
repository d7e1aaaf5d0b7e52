import type { FastifyPluginAsync } from 'fastify';
import type { Authenticator } from '../../security/apikeys.js';
import { apiError } from '../errors.js';
import { SESSION_COOKIE } from '../hooks/auth.js';
import { errorResponses } from '../schemas.js';

/**
 * The console's sign-in: the key is checked and put in an HttpOnly, Secure, SameSite=Strict cookie, so
 * page scripts never hold it and EventSource (which cannot set headers) is authenticated.
 */
export const sessionRoutes: FastifyPluginAsync<{ auth: Authenticator; secure: boolean }> = async (
  app,
  opts,
) => {
  const attrs = `Path=/; HttpOnly; SameSite=Strict${opts.secure ? '; Secure' : ''}`;
  app.post<{ Body: { api_key: string } }>(
    '/session',
    {
      schema: {
        tags: ['console'],
        summary: 'Sign in to the console with an API key (sets an HttpOnly cookie)',
        body: {
          type: 'object',
          required: ['api_key'],
          additionalProperties: false,
          properties: { api_key: { type: 'string', maxLength: 200 } },
        },
        response: {
          200: {
            type: 'object',
            properties: { key_id: { type: 'string' }, name: { type: 'string' }, role: { type: 'string' } },
          },
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const p = await opts.auth.authenticate(req.body.api_key);
      if (p === undefined) throw apiError('AEP_API_UNAUTHENTICATED');
      void reply.header(
        'set-cookie',
        `${SESSION_COOKIE}=${encodeURIComponent(req.body.api_key)}; ${attrs}; Max-Age=43200`,
      );
      return { key_id: p.keyId, name: p.name, role: p.role };
    },
  );
  app.get('/session', { schema: { tags: ['console'], summary: 'Who the cookie or key is' } }, async (req) => {
    if (req.principal === undefined) throw apiError('AEP_API_UNAUTHENTICATED');
    return { key_id: req.principal.keyId, name: req.principal.name, role: req.principal.role };
  });
  app.delete('/session', { schema: { tags: ['console'], summary: 'Sign out' } }, async (_req, reply) => {
    void reply.header('set-cookie', `${SESSION_COOKIE}=; ${attrs}; Max-Age=0`);
    return { ok: true };
  });
};
