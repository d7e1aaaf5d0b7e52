import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { openPool } from '../../db/pool.js';
import { PgApiKeyStore } from '../../security/apikeys.js';
import { ROLES } from '../../security/roles.js';

/** `aepred apikey create|revoke|list`: keys are shown once, stored only as a hash. */
export function registerApiKey(program: Command): void {
  const cmd = program.command('apikey').description(`API keys for the service (roles: ${ROLES.join(', ')})`);
  cmd
    .command('create')
    .description('create a key and print it once')
    .requiredOption('--name <name>', 'who or what holds it')
    .requiredOption('--role <role>', ROLES.join(' | '))
    .option(
      '--out <file>',
      'write the key to this file (mode 0600) instead of printing it, e.g. the file Alertmanager reads (stack.yaml aepred.webhook_key_file)',
    )
    .action(async (o: { name: string; role: string; out?: string }) => {
      const pool = openPool();
      try {
        const { key, record } = await new PgApiKeyStore(pool).create(o.name, o.role);
        if (o.out === undefined) {
          process.stdout.write(`${key}\n`);
          process.stderr.write(
            `apikey: ${record.keyId} (${record.role}) created; the key is not stored and is shown only now\n`,
          );
        } else {
          const file = resolve(o.out);
          mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
          writeFileSync(file, `${key}\n`, { mode: 0o600 });
          process.stderr.write(
            `apikey: ${record.keyId} (${record.role}) created; the key is in ${file} only\n`,
          );
        }
      } finally {
        await pool.end();
      }
    });
  cmd
    .command('revoke <keyId>')
    .description('revoke a key (effective within api.api_key_cache_seconds)')
    .action(async (keyId: string) => {
      const pool = openPool();
      try {
        const done = await new PgApiKeyStore(pool).revoke(keyId);
        process.stdout.write(
          done ? `apikey: ${keyId} revoked\n` : `apikey: ${keyId} not found or already revoked\n`,
        );
        if (!done) process.exitCode = 1;
      } finally {
        await pool.end();
      }
    });
  cmd
    .command('list')
    .description('key ids, names, roles, creation and revocation times')
    .action(async () => {
      const pool = openPool();
      try {
        for (const k of await new PgApiKeyStore(pool).list()) {
          process.stdout.write(
            `${k.keyId}\t${k.role}\t${k.name}\t${k.createdAt.toISOString()}\t${k.revokedAt?.toISOString() ?? '-'}\n`,
          );
        }
      } finally {
        await pool.end();
      }
    });
}
