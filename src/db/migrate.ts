import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type pg from 'pg';
import { AepredError } from '../shared/errors.js';
import { REPO_ROOT } from '../shared/paths.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export function migrationsDir(): string {
  return resolve(REPO_ROOT, 'db/migrations');
}

const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** db/migrations/NNNN_name.sql in version order; versions must be unique and gap-free. */
export function loadMigrations(dir = migrationsDir()): Migration[] {
  const out: Migration[] = [];
  for (const f of readdirSync(dir).sort()) {
    const m = FILE.exec(f);
    if (m === null) continue;
    const sql = readFileSync(resolve(dir, f), 'utf8');
    out.push({
      version: Number(m[1]),
      name: m[2] ?? f,
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    });
  }
  out.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new AepredError(
        'AEP_MIGRATION_SEQUENCE',
        `migration ${m.version}_${m.name} out of sequence (expected ${i + 1})`,
        {
          kind: 'config',
        },
      );
    }
  });
  return out;
}

export interface MigrateResult {
  applied: Migration[];
  alreadyApplied: number;
}

// One fixed advisory-lock key so concurrent `db migrate` runs (two replicas starting) serialize.
const LOCK_KEY = 7_245_001;

/**
 * Applies pending migrations, each in its own transaction together with its schema_migrations row.
 * A changed checksum of an applied migration is an error: migrations are append-only.
 */
export async function migrate(pool: pg.Pool, migrations = loadMigrations()): Promise<MigrateResult> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: number; checksum: string }>(
      'SELECT version, checksum FROM schema_migrations ORDER BY version',
    );
    const done = new Map(rows.map((r) => [r.version, r.checksum]));
    const applied: Migration[] = [];
    for (const m of migrations) {
      const sum = done.get(m.version);
      if (sum !== undefined) {
        if (sum !== m.checksum) {
          throw new AepredError(
            'AEP_MIGRATION_CHANGED',
            `migration ${m.version}_${m.name} changed after it was applied`,
            {
              kind: 'config',
              detail: 'add a new migration instead of editing an applied one',
            },
          );
        }
        continue;
      }
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
          m.version,
          m.name,
          m.checksum,
        ]);
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK');
        throw new AepredError(
          'AEP_MIGRATION_FAILED',
          `migration ${m.version}_${m.name} failed: ${(e as Error).message}`,
          {
            cause: e,
          },
        );
      }
      applied.push(m);
    }
    return { applied, alreadyApplied: done.size };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined);
    client.release();
  }
}
