import type { FastifyPluginAsync } from 'fastify';
import { CONSOLE_CSS, CONSOLE_HTML, CONSOLE_JS } from '../console/page.js';

/** GET /console and its assets. Public: the data behind it needs a key (the page signs in). */
export const consoleRoutes: FastifyPluginAsync = async (app) => {
  const csp =
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";
  const asset =
    (type: string, body: string) => async (_req: unknown, reply: import('fastify').FastifyReply) => {
      void reply
        .header('content-type', type)
        .header('content-security-policy', csp)
        .header('x-content-type-options', 'nosniff');
      return body;
    };
  const hide = { schema: { hide: true } };
  app.get('/', hide, async (_req, reply) => reply.redirect('/console'));
  app.get('/console', hide, asset('text/html; charset=utf-8', CONSOLE_HTML));
  app.get('/console/app.js', hide, asset('text/javascript; charset=utf-8', CONSOLE_JS));
  app.get('/console/app.css', hide, asset('text/css; charset=utf-8', CONSOLE_CSS));
};
