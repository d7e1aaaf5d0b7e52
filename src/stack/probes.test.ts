import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { httpOk, portFree, tcpOpen } from './probes.js';

async function listen(server: Server | ReturnType<typeof createHttpServer>): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

describe('probes', () => {
  it('tcpOpen and portFree see a listener, and its absence once closed', async () => {
    const server = createServer();
    const port = await listen(server);
    expect(await tcpOpen('127.0.0.1', port)).toBe(true);
    expect(await portFree('127.0.0.1', port)).toBe(false);
    await new Promise((r) => server.close(r));
    expect(await tcpOpen('127.0.0.1', port)).toBe(false);
    expect(await portFree('127.0.0.1', port)).toBe(true);
  });

  it('httpOk checks the status', async () => {
    const server = createHttpServer((req, res) => {
      res.statusCode = req.url === '/ready' ? 200 : 503;
      res.end();
    });
    const port = await listen(server);
    try {
      expect(await httpOk(`http://127.0.0.1:${port}/ready`)).toBe(true);
      expect(await httpOk(`http://127.0.0.1:${port}/other`)).toBe(false);
      expect(await httpOk(`http://127.0.0.1:${port}/other`, 503)).toBe(true);
    } finally {
      await new Promise((r) => server.close(r));
    }
    expect(await httpOk(`http://127.0.0.1:${port}/ready`)).toBe(false);
  });
});
