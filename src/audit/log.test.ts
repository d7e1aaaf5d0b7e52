import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { PgAuditLog } from './log.js';

/** A stand-in for the pool: answers each INSERT after a macrotask, as the network would. */
function fakePool(): { pool: pg.Pool; inserts: number[] } {
  let seq = 0;
  const inserts: number[] = [];
  const pool = {
    query: async (_sql: string, params: unknown[]) => {
      await new Promise((r) => setImmediate(r));
      const n = params.length / 7;
      inserts.push(n);
      return { rows: Array.from({ length: n }, () => ({ seq: String(++seq), hash: Buffer.alloc(32, seq) })) };
    },
  };
  return { pool: pool as unknown as pg.Pool, inserts };
}

const entry = (i: number) => ({ actor: 'key:t', action: 'test.row', subject: String(i) });

describe('PgAuditLog group commit', () => {
  it('an append made by the continuation of the previous one is written (no stranded row)', async () => {
    const { pool } = fakePool();
    const log = new PgAuditLog(pool, { maxRows: 10 });
    const seqs: number[] = [];
    const run = (async () => {
      for (let i = 0; i < 5; i++) seqs.push((await log.append(entry(i))).seq);
    })();
    await Promise.race([
      run,
      new Promise((_, rej) => setTimeout(() => rej(new Error('stranded append')), 2000)),
    ]);
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
  });

  it('appends arriving while an INSERT is in flight share the next one', async () => {
    const { pool, inserts } = fakePool();
    const log = new PgAuditLog(pool, { maxRows: 100 });
    const all = await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(entry(i))));
    expect(all.map((a) => a.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(inserts.reduce((a, b) => a + b, 0)).toBe(50);
    expect(inserts.length).toBeLessThanOrEqual(2);
    await log.close();
    await expect(log.append(entry(0))).rejects.toThrow(/closed/);
  });
});
