/** Redis over a real connection with ioredis. Assumes `aepred stack up` ran. */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStackConfig } from '../../src/stack/config.js';

const config = loadStackConfig();
const prefix = `tests:stack-redis:${process.pid}:${Date.now()}:`;
let redis: Redis;

beforeAll(async () => {
  redis = new Redis({
    host: config.host,
    port: config.services.redis.port,
    lazyConnect: true,
    maxRetriesPerRequest: 1,
  });
  await redis.connect();
});

afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe('stack redis', () => {
  it('sets and gets a value, binary-safe', async () => {
    const value = Buffer.from([0, 1, 2, 255, 0x7b]);
    expect(await redis.set(`${prefix}bin`, value)).toBe('OK');
    expect(await redis.getBuffer(`${prefix}bin`)).toEqual(value);
  });

  it('honours expiry and hashes', async () => {
    await redis.set(`${prefix}ttl`, 'x', 'EX', 60);
    const ttl = await redis.ttl(`${prefix}ttl`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60);
    await redis.hset(`${prefix}h`, { a: '1', b: '2' });
    expect(await redis.hgetall(`${prefix}h`)).toEqual({ a: '1', b: '2' });
  });

  it('persists with the append-only file enabled', async () => {
    const info = await redis.info('persistence');
    expect(info).toMatch(/aof_enabled:1/);
  });
});
