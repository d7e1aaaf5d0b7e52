import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AepredError } from '../shared/errors.js';
import { loadStackConfig, type StackConfig } from './config.js';
import { formatStatusTable, StackManager, startOrder, stopOrder } from './manager.js';
import { httpOk } from './probes.js';
import { findStackProcesses, isAlive, readPidFile } from './process.js';
import type { ServiceDef, ServiceName } from './types.js';

function def(name: ServiceName, dependsOn: ServiceName[] = [], extra: Partial<ServiceDef> = {}): ServiceDef {
  return {
    name,
    dependsOn,
    ports: () => [],
    ensureInstalled: async () => undefined,
    prepare: async () => undefined,
    launch: () => ({ command: 'true', args: [] }),
    probe: async () => true,
    ...extra,
  };
}

describe('startOrder / stopOrder', () => {
  const defs = [
    def('mlflow', ['postgres', 'minio']),
    def('postgres'),
    def('minio'),
    def('redis'),
    def('alertmanager'),
    def('prometheus', ['alertmanager']),
  ];
  const names = (d: readonly ServiceDef[]) => d.map((s) => s.name);

  it('puts every dependency before its dependents', () => {
    const order = names(startOrder(defs));
    expect(order).toHaveLength(defs.length);
    for (const d of defs)
      for (const dep of d.dependsOn) expect(order.indexOf(dep)).toBeLessThan(order.indexOf(d.name));
  });

  it('starts a subset with its dependencies only', () => {
    expect(names(startOrder(defs, ['mlflow']))).toEqual(['postgres', 'minio', 'mlflow']);
    expect(names(startOrder(defs, ['redis']))).toEqual(['redis']);
  });

  it('stops dependents first, and with the service they depend on', () => {
    expect(names(stopOrder(defs, ['postgres']))).toEqual(['mlflow', 'postgres']);
    const all = names(stopOrder(defs));
    expect(all.indexOf('mlflow')).toBeLessThan(all.indexOf('minio'));
    expect(all.indexOf('prometheus')).toBeLessThan(all.indexOf('alertmanager'));
  });

  it('rejects an unknown service as a usage error', () => {
    try {
      startOrder(defs, ['kafak']);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(AepredError);
      expect((e as AepredError).exitCode).toBe(2);
      expect((e as AepredError).message).toContain("'kafak'");
    }
  });

  it('rejects a cycle and an unknown dependency', () => {
    expect(() => startOrder([def('redis', ['postgres']), def('postgres', ['redis'])])).toThrow(
      /cycle: .*redis -> postgres -> redis|cycle: .*postgres -> redis -> postgres/,
    );
    expect(() => startOrder([def('redis', ['kafka'])])).toThrow(/depends on 'kafka'/);
  });
});

describe('formatStatusTable', () => {
  it('aligns columns and shows a dash for no pid', () => {
    const table = formatStatusTable([
      { service: 'postgres', port: 55432, pid: 1234, health: 'healthy' },
      { service: 'alertmanager', port: 59094, pid: null, health: 'stopped' },
    ]);
    expect(table.split('\n')).toEqual([
      'SERVICE       PORT   PID   HEALTH',
      'postgres      55432  1234  healthy',
      'alertmanager  59094  -     stopped',
    ]);
  });
});

// Real processes, no real services: a tiny node HTTP server plays the service.
describe('StackManager life cycle', () => {
  const servers: Server[] = [];
  const managers: StackManager[] = [];
  afterEach(async () => {
    for (const m of managers.splice(0)) await m.down();
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  });

  async function freePort(): Promise<number> {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const addr = s.address();
    await new Promise((r) => s.close(r));
    if (addr === null || typeof addr === 'string') throw new Error('no port');
    return addr.port;
  }

  function setup(services: ServiceDef[], timeoutS = 20) {
    const localDir = mkdtempSync(join(tmpdir(), 'aepred-stack-unit-'));
    const config: StackConfig = { ...loadStackConfig(), startup_timeout_s: timeoutS };
    const lines: string[] = [];
    const m = new StackManager({ config, localDir, services, say: (l) => lines.push(l) });
    managers.push(m);
    return { m, localDir, lines };
  }

  /** A service that listens on `port` and also forks a grandchild, as real servers do. */
  function httpService(name: ServiceName, port: number): ServiceDef {
    const script = `
      require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      require('node:http').createServer((q, r) => r.end('ok')).listen(${port}, '127.0.0.1', () => console.log('listening'));`;
    return def(name, [], {
      ports: () => [port],
      launch: () => ({ command: process.execPath, args: ['-e', script] }),
      probe: () => httpOk(`http://127.0.0.1:${port}/`),
    });
  }

  it('starts, reports, leaves a running service alone, and stops every process', async () => {
    const port = await freePort();
    const { m, localDir, lines } = setup([httpService('redis', port)]);
    const [first] = await m.up();
    expect(first?.outcome).toBe('started');
    const pid = readPidFile(join(localDir, 'run', 'redis.pid'));
    expect(pid).toBeDefined();
    expect(readFileSync(join(localDir, 'logs', 'redis.log'), 'utf8')).toContain('listening');
    expect(await m.status()).toEqual([{ service: 'redis', port, pid, health: 'healthy' }]);

    const [second] = await m.up();
    expect(second?.outcome).toBe('already running');
    expect(lines.some((l) => l.includes('already running'))).toBe(true);

    expect(findStackProcesses(localDir, 'redis', []).length).toBeGreaterThanOrEqual(2);
    expect(await m.down()).toEqual(['redis']);
    expect(isAlive(pid ?? -1)).toBe(false);
    expect(findStackProcesses(localDir, undefined, [])).toEqual([]);
    expect(existsSync(join(localDir, 'run', 'redis.pid'))).toBe(false);
    expect((await m.status())[0]?.health).toBe('stopped');
  });

  it('refuses a port taken by something else, naming port and service', async () => {
    const taken = createServer();
    servers.push(taken);
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const addr = taken.address();
    if (addr === null || typeof addr === 'string') throw new Error('no port');
    const { m } = setup([httpService('prometheus', addr.port)]);
    const err = await m.up().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AepredError);
    expect((err as AepredError).code).toBe('AEP_STACK_PORT_IN_USE');
    expect((err as AepredError).message).toContain(`port ${addr.port}`);
    expect((err as AepredError).message).toContain('prometheus');
    expect((err as AepredError).message).toContain(`pid ${process.pid}`);
    expect((err as AepredError).exitCode).toBe(1);
  });

  it('prints the log tail of a service that dies during start-up', async () => {
    const script = `for (let i = 0; i < 50; i++) console.log('line ' + i); console.error('fatal: bad setting'); process.exit(3);`;
    const dying = def('redis', [], {
      launch: () => ({ command: process.execPath, args: ['-e', script] }),
      probe: async () => false,
    });
    const { m } = setup([dying]);
    const err = (await m.up().catch((e: unknown) => e)) as AepredError;
    expect(err.code).toBe('AEP_STACK_START_FAILED');
    expect(err.message).toContain('exited with code 3');
    expect(err.detail).toContain('fatal: bad setting');
    expect(err.detail).toContain('line 49');
    expect(err.detail).not.toContain('line 10\n');
  });

  it('stops a service that never becomes ready within the timeout', async () => {
    const hung = def('redis', [], {
      launch: () => ({ command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'] }),
      probe: async () => false,
    });
    const { m, localDir } = setup([hung], 1);
    const err = (await m.up().catch((e: unknown) => e)) as AepredError;
    expect(err.code).toBe('AEP_STACK_START_FAILED');
    expect(err.message).toContain('did not become ready within 1s');
    expect(findStackProcesses(localDir, undefined, [])).toEqual([]);
  });
});
