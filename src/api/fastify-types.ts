import type { Principal } from '../security/apikeys.js';
import type { Permission } from '../security/roles.js';

// Module augmentation is how fastify types request decorations and per-route config.
declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | undefined;
    /** A caller-supplied x-correlation-id (sanitized) or the request id. */
    correlationId: string;
  }
  interface FastifyContextConfig {
    /** The permission the route requires; absent: public (health, metrics, console assets). */
    permission?: Permission;
  }
}
