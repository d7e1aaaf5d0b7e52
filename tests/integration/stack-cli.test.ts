/**
 * `aepred stack` as a user runs it (node bin/aepred.js), each case in its own temporary .local
 * (AEPRED_LOCAL_DIR) with a stack.yaml on free ports (AEPRED_STACK_CONFIG), so it neither needs nor
 * disturbs the stack `make test` started: start and stop leave no process behind, a taken port and
 * a service that cannot start fail clearly with a non-zero exit, bad usage exits 2.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { REPO_ROOT } from '../../src/shared/paths.js';
import { stackConfigPath } from '../../src/stack/config.js';

interface Cli {
  code: number;
  stdout: string;
  stderr: string;
}

const dirs: string[] = [];

function aepred(localDir: string, configPath: string, ...args: string[]): Cli {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'aepred.js'), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, AEPRED_LOCAL_DIR: localDir, AEPRED_STACK_CONFIG: configPath },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const addr = s.address();
  await new Promise((r) => s.close(r));
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

/** A temporary .local and a stack.yaml whose postgres and redis ports are free right now. */
async function sandbox(): Promise<{ localDir: string; config: string; redisPort: number; pgPort: number }> {
  const root = mkdtempSync(join(tmpdir(), 'aepred-stack-cli-'));
  dirs.push(root);
  const doc = parse(readFileSync(stackConfigPath(), 'utf8')) as {
    services: Record<string, Record<string, unknown>>;
  };
  const redisPort = await freePort();
  const pgPort = await freePort();
  doc.services.redis = { ...doc.services.redis, port: redisPort };
  doc.services.postgres = { ...doc.services.postgres, port: pgPort };
  const config = join(root, 'stack.yaml');
  writeFileSync(config, stringify(doc));
  const localDir = join(root, '.local');
  return { localDir, config, redisPort, pgPort };
}

/** Living processes (zombies excluded) that mention dir in their command line or environment. */
function processesReferencing(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    if (Number(pid) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (/\) [ZX] /.test(stat)) continue;
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (cmd.includes(dir) || env.includes(`AEPRED_STACK_DIR=${dir}`)) found.push(`${pid}: ${cmd}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

beforeAll(() => {
  const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, encoding: 'utf8' });
  // A type error elsewhere in the tree still emits JavaScript; only a missing CLI stops us here.
  if (!existsSync(join(REPO_ROOT, 'dist', 'cli', 'main.js')))
    throw new Error(`build failed:\n${r.stdout}${r.stderr}`);
});

afterAll(() => {
  for (const d of dirs) {
    const left = processesReferencing(d);
    if (left.length === 0) rmSync(d, { recursive: true, force: true });
  }
});

describe('aepred stack (CLI)', () => {
  it('up, status, up again, down: idempotent, and down leaves no process behind', async () => {
    const sb = await sandbox();
    const up = aepred(sb.localDir, sb.config, 'stack', 'up', 'redis');
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toContain('redis: healthy');
    expect(existsSync(join(sb.localDir, 'logs', 'redis.log'))).toBe(true);
    const pid = Number(readFileSync(join(sb.localDir, 'run', 'redis.pid'), 'utf8'));

    const status = aepred(sb.localDir, sb.config, 'stack', 'status', '--json');
    expect(status.code).toBe(0);
    const rows = JSON.parse(status.stdout) as Array<{
      service: string;
      port: number;
      pid: number | null;
      health: string;
    }>;
    expect(rows.find((r) => r.service === 'redis')).toEqual({
      service: 'redis',
      port: sb.redisPort,
      pid,
      health: 'healthy',
    });
    expect(rows.find((r) => r.service === 'postgres')?.health).toBe('stopped');

    const again = aepred(sb.localDir, sb.config, 'stack', 'up', 'redis');
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('already running');
    expect(Number(readFileSync(join(sb.localDir, 'run', 'redis.pid'), 'utf8'))).toBe(pid);

    const table = aepred(sb.localDir, sb.config, 'stack', 'status');
    expect(table.stdout).toMatch(new RegExp(`redis\\s+${sb.redisPort}\\s+${pid}\\s+healthy`));

    const logs = aepred(sb.localDir, sb.config, 'stack', 'logs', 'redis', '-n', '5');
    expect(logs.code).toBe(0);
    expect(logs.stdout.trim().split('\n').length).toBeLessThanOrEqual(5);

    const down = aepred(sb.localDir, sb.config, 'stack', 'down');
    expect(down.code, down.stderr).toBe(0);
    expect(processesReferencing(sb.localDir)).toEqual([]);
    expect(existsSync(join(sb.localDir, 'run', 'redis.pid'))).toBe(false);
    expect(aepred(sb.localDir, sb.config, 'stack', 'down').stdout).toContain('nothing was running');
  });

  it('runs PostgreSQL (unprivileged when root), serves the configured role, and stops every backend', async () => {
    const sb = await sandbox();
    const up = aepred(sb.localDir, sb.config, 'stack', 'up', 'postgres');
    expect(up.code, up.stderr).toBe(0);
    const cfg = parse(readFileSync(sb.config, 'utf8')) as {
      services: { postgres: { user: string; password: string; database: string } };
    };
    const p = cfg.services.postgres;
    const client = new pg.Client({
      host: '127.0.0.1',
      port: sb.pgPort,
      user: p.user,
      password: p.password,
      database: p.database,
    });
    // The server terminating our session at `down` is expected, not a test failure.
    client.on('error', () => undefined);
    await client.connect();
    // An open client keeps a backend (its own session, outside the postmaster's group) alive.
    const who = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const backend = who.rows[0]?.pid ?? -1;
    if (process.getuid?.() === 0) {
      const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${backend}/status`, 'utf8'))?.[1];
      expect(Number(uid)).not.toBe(0);
    }
    const down = aepred(sb.localDir, sb.config, 'stack', 'down', 'postgres');
    await client.end().catch(() => undefined);
    expect(down.code, down.stderr).toBe(0);
    expect(
      existsSync(`/proc/${backend}`) && !/\) Z /.test(readFileSync(`/proc/${backend}/stat`, 'utf8')),
    ).toBe(false);
    expect(processesReferencing(sb.localDir)).toEqual([]);
  });

  it('refuses a port that something else holds, naming port and service', async () => {
    const sb = await sandbox();
    const squatter: Server = createServer();
    await new Promise<void>((r) => squatter.listen(sb.redisPort, '127.0.0.1', r));
    try {
      const up = aepred(sb.localDir, sb.config, 'stack', 'up', 'redis');
      expect(up.code).toBe(1);
      expect(up.stderr).toContain('AEP_STACK_PORT_IN_USE');
      expect(up.stderr).toContain(`port ${sb.redisPort}`);
      expect(up.stderr).toContain('needed by redis');
    } finally {
      await new Promise((r) => squatter.close(r));
    }
    expect(processesReferencing(sb.localDir)).toEqual([]);
  });

  it('prints the log tail of a service that fails to start, and exits non-zero', async () => {
    const sb = await sandbox();
    // A corrupt append-only manifest: Redis refuses to start, as it would after disk damage.
    const aof = join(sb.localDir, 'data', 'redis', 'appendonlydir');
    mkdirSync(aof, { recursive: true });
    writeFileSync(join(aof, 'appendonly.aof.manifest'), 'this is not a manifest\n');
    const up = aepred(sb.localDir, sb.config, 'stack', 'up', 'redis');
    expect(up.code).toBe(1);
    expect(up.stderr).toContain('AEP_STACK_START_FAILED');
    expect(up.stderr).toMatch(/redis stopped during start-up/);
    expect(up.stderr).toContain(`last `);
    expect(up.stderr).toMatch(/manifest/i);
    expect(existsSync(join(sb.localDir, 'run', 'redis.pid'))).toBe(false);
    expect(processesReferencing(sb.localDir)).toEqual([]);
  });

  it('exits 2 on an unknown service, command or flag', async () => {
    const sb = await sandbox();
    const unknown = aepred(sb.localDir, sb.config, 'stack', 'up', 'kafak');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown service 'kafak'");
    expect(aepred(sb.localDir, sb.config, 'stack', 'frobnicate').code).toBe(2);
    expect(aepred(sb.localDir, sb.config, 'stack', 'status', '--jsn').code).toBe(2);
    expect(aepred(sb.localDir, sb.config, 'stack', 'logs', 'redis', '-n', 'zero').code).toBe(2);
  });
});
