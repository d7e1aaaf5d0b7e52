import type { Redis } from 'ioredis';
import type { Admin } from 'kafkajs';
import type pg from 'pg';

/** One dependency /health asks. `check` rejects (or times out) when it is not answering. */
export interface Probe {
  name: string;
  check(): Promise<void>;
}

export function postgresProbe(pool: pg.Pool): Probe {
  return { name: 'postgres', check: async () => void (await pool.query('SELECT 1')) };
}

export function redisProbe(redis: Redis): Probe {
  return {
    name: 'redis',
    check: async () => {
      const r = await redis.ping();
      if (r !== 'PONG') throw new Error(`PING answered ${r}`);
    },
  };
}

export function kafkaProbe(admin: Admin): Probe {
  return {
    name: 'kafka',
    check: async () => {
      const c = await admin.describeCluster();
      if (c.brokers.length === 0) throw new Error('no brokers');
    },
  };
}

export interface ProbeResult {
  ready: boolean;
  detail?: string;
  ms: number;
}

export async function runProbe(p: Probe, timeoutMs: number, now: () => number): Promise<ProbeResult> {
  const start = now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      p.check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { ready: true, ms: now() - start };
  } catch (e) {
    return { ready: false, detail: e instanceof Error ? e.message : String(e), ms: now() - start };
  } finally {
    clearTimeout(timer);
  }
}
