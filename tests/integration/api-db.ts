import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate } from '../../src/db/migrate.js';
import { LOCAL_DIR } from '../../src/shared/paths.js';
import { loadStackConfig } from '../../src/stack/config.js';
import { pgSocketDir } from '../../src/stack/services/postgres.js';

/**
 * A throw-away database on the stack's Postgres, migrated, owned by the service's role, so tests
 * (tampering included) never touch the shared `aepred` database. `superPool` connects as the
 * superuser over the unix socket, as a tamperer with full rights would.
 */
export interface TestDb {
  name: string;
  pool: pg.Pool;
  superPool: pg.Pool;
  drop(): Promise<void>;
}

export async function freshDatabase(): Promise<TestDb> {
  const cfg = loadStackConfig();
  const p = cfg.services.postgres;
  const superOpts = { host: pgSocketDir({ localDir: LOCAL_DIR }), port: p.port, user: 'postgres' };
  const name = `aepred_t_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ ...superOpts, database: 'postgres' });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name} OWNER ${p.user}`);
  await admin.end();
  const pool = new pg.Pool({
    host: cfg.host,
    port: p.port,
    user: p.user,
    password: p.password,
    database: name,
    max: 4,
  });
  await migrate(pool);
  const superPool = new pg.Pool({ ...superOpts, database: name, max: 1 });
  // An idle client still closing when drop() terminates the database's connections (57P01) reports
  // that on its pool; with no listener it was an uncaught exception that failed a CI run whose
  // tests had all passed (api-audit, 2026-11-27). Other idle-client errors are written out.
  for (const p of [pool, superPool])
    p.on('error', (e: Error & { code?: string }) => {
      if (e.code !== '57P01')
        process.stderr.write(`test database ${name}: idle client error: ${e.message}\n`);
    });
  return {
    name,
    pool,
    superPool,
    async drop() {
      await pool.end();
      await superPool.end();
      const c = new pg.Client({ ...superOpts, database: 'postgres' });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
