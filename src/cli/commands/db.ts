import type { Command } from 'commander';
import { migrate } from '../../db/migrate.js';
import { openPool } from '../../db/pool.js';
import { AepredError } from '../../shared/errors.js';

/** `aepred db migrate`: applies db/migrations/*.sql to the stack's Postgres. */
export function registerDb(program: Command): void {
  const db = program.command('db').description('Postgres schema (enrollment table, ...)');
  db.command('migrate')
    .description('apply pending migrations from db/migrations (idempotent)')
    .action(async () => {
      const pool = openPool();
      try {
        const r = await migrate(pool).catch((e: unknown) => {
          if (e instanceof AepredError) throw e;
          throw new AepredError('AEP_DB_UNAVAILABLE', `cannot migrate: ${(e as Error).message}`, {
            cause: e,
            retryable: true,
            detail: 'is the stack up? (aepred stack up)',
          });
        });
        const names = r.applied.map((m) => `${String(m.version).padStart(4, '0')}_${m.name}`);
        process.stdout.write(
          names.length === 0
            ? `db: up to date (${r.alreadyApplied} migrations)\n`
            : `db: applied ${names.join(', ')}\n`,
        );
      } finally {
        await pool.end();
      }
    });
}
