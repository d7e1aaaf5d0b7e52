import pg from 'pg';
import { loadStackConfig } from '../stack/config.js';

/** Connection settings for the stack's Postgres; AEPRED_DATABASE_URL overrides them. */
export function databaseConfig(): pg.PoolConfig {
  const url = process.env.AEPRED_DATABASE_URL;
  if (url !== undefined && url !== '') return { connectionString: url };
  const cfg = loadStackConfig();
  const p = cfg.services.postgres;
  return { host: cfg.host, port: p.port, database: p.database, user: p.user, password: p.password };
}

export function openPool(config: pg.PoolConfig = databaseConfig()): pg.Pool {
  return new pg.Pool({ max: 4, connectionTimeoutMillis: 10_000, ...config });
}
