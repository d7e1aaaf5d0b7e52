/**
 * PostgreSQL over a real connection: the role and database from stack.yaml with password auth on
 * 127.0.0.1, a SQL round trip, and the MLflow backend database. Assumes `aepred stack up` ran.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStackConfig } from '../../src/stack/config.js';
import { MLFLOW_DATABASE, postgresUrl } from '../../src/stack/services/postgres.js';

const config = loadStackConfig();
let client: pg.Client;

beforeAll(async () => {
  client = new pg.Client({ connectionString: postgresUrl(config), connectionTimeoutMillis: 5_000 });
  await client.connect();
});

afterAll(async () => {
  await client?.end();
});

describe('stack postgres', () => {
  it('round-trips rows through a table', async () => {
    await client.query('CREATE TEMP TABLE stack_roundtrip (id int PRIMARY KEY, note text, at timestamptz)');
    const at = new Date('2026-01-02T03:04:05.678Z');
    await client.query('INSERT INTO stack_roundtrip VALUES ($1, $2, $3), ($4, $5, $6)', [
      1,
      'héllo',
      at,
      2,
      null,
      at,
    ]);
    const r = await client.query<{ id: number; note: string | null; at: Date }>(
      'SELECT * FROM stack_roundtrip ORDER BY id',
    );
    expect(r.rows).toEqual([
      { id: 1, note: 'héllo', at },
      { id: 2, note: null, at },
    ]);
  });

  it('connects as the configured role over TCP with a password, not as a superuser', async () => {
    const r = await client.query<{ usr: string; db: string; addr: string; su: boolean }>(
      "SELECT current_user AS usr, current_database() AS db, host(inet_server_addr()) AS addr, current_setting('is_superuser') = 'on' AS su",
    );
    expect(r.rows[0]).toEqual({
      usr: config.services.postgres.user,
      db: config.services.postgres.database,
      addr: '127.0.0.1',
      su: false,
    });
  });

  it('rejects a wrong password', async () => {
    const bad = new pg.Client({
      connectionString: postgresUrl({
        ...config,
        services: { ...config.services, postgres: { ...config.services.postgres, password: 'wrong' } },
      }),
    });
    await expect(bad.connect()).rejects.toThrow(/password authentication failed/);
    await bad.end().catch(() => undefined);
  });

  it('has the database MLflow uses as its backend store', async () => {
    const r = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [MLFLOW_DATABASE]);
    expect(r.rowCount).toBe(1);
  });
});
