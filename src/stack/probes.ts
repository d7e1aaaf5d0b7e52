/**
 * Small network probes shared by the stack manager and the service definitions. Each answers one
 * question with a bounded wait and never throws: a probe that cannot reach its target says false.
 */
import { createConnection, createServer } from 'node:net';

const DEFAULT_TIMEOUT_MS = 2_000;

/** True when something accepts a TCP connection on host:port within the timeout. */
export function tcpOpen(host: string, port: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean): void => {
      socket.removeAllListeners();
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * True when a GET of `url` answers with `expectStatus` (default: any 2xx) within the timeout.
 * The body is drained so the connection is released.
 */
export async function httpOk(
  url: string,
  expectStatus?: number,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return expectStatus === undefined ? res.ok : res.status === expectStatus;
  } catch {
    return false;
  }
}

/**
 * True when nothing listens on host:port: we can bind it ourselves. Binding (not connecting) is the
 * honest test, since a port can be taken by a listener that refuses or ignores connections.
 */
export function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}
