import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { PgPatientDirectory, StaticPatientDirectory } from './enrollment-cache.js';

/** A pool double over an in-memory enrollment table that records every query. */
function fakePool(table: Set<string>): { pool: pg.Pool; queries: Array<string[] | undefined> } {
  const queries: Array<string[] | undefined> = [];
  const pool = {
    query: async (sql: string, params?: unknown[]) => {
      const ids = params?.[0] as string[] | undefined;
      queries.push(ids);
      const all = sql.includes('ANY') ? (ids ?? []).filter((id) => table.has(id)) : [...table];
      return { rows: all.map((patient_id) => ({ patient_id })) };
    },
  } as unknown as pg.Pool;
  return { pool, queries };
}

describe('PgPatientDirectory (enrollment cache)', () => {
  it('answers preloaded patients without a query', async () => {
    const { pool, queries } = fakePool(new Set(['P1', 'P2']));
    const dir = new PgPatientDirectory(pool, { negativeTtlMs: 30_000 });
    expect(await dir.preload()).toBe(2);
    expect(queries).toHaveLength(1);
    expect([...(await dir.enrolled(new Set(['P1', 'P2'])))].sort()).toEqual(['P1', 'P2']);
    expect(queries).toHaveLength(1);
  });

  it('looks all misses of a batch up in one query and remembers the hits', async () => {
    const table = new Set(['P1']);
    const { pool, queries } = fakePool(table);
    const dir = new PgPatientDirectory(pool, { negativeTtlMs: 30_000 });
    await dir.preload();
    table.add('P7');
    expect([...(await dir.enrolled(new Set(['P1', 'P7', 'X1'])))].sort()).toEqual(['P1', 'P7']);
    expect(queries.at(-1)?.sort()).toEqual(['P7', 'X1']);
    await dir.enrolled(new Set(['P7']));
    expect(queries).toHaveLength(2);
  });

  it('re-checks an unknown patient only after the negative TTL (late enrollment is picked up)', async () => {
    const table = new Set<string>();
    const { pool, queries } = fakePool(table);
    let now = 1_000;
    const dir = new PgPatientDirectory(pool, { negativeTtlMs: 30_000, now: () => now });
    expect((await dir.enrolled(new Set(['P9']))).size).toBe(0);
    table.add('P9');
    now += 29_999;
    expect((await dir.enrolled(new Set(['P9']))).size).toBe(0);
    expect(queries).toHaveLength(1);
    now += 1;
    expect([...(await dir.enrolled(new Set(['P9'])))]).toEqual(['P9']);
    expect(queries).toHaveLength(2);
  });
});

describe('StaticPatientDirectory', () => {
  it('returns the enrolled subset', async () => {
    const dir = new StaticPatientDirectory(['A', 'B']);
    expect([...(await dir.enrolled(new Set(['A', 'C'])))]).toEqual(['A']);
  });
});
