/**
 * `aepred apikey create --out FILE` (issue 8): the key Alertmanager presents to the service's
 * webhook is written to a 0600 file instead of stdout, and is a working operator key. Runs the CLI
 * from source against a throw-away database on the stack's Postgres.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator, PgApiKeyStore } from '../../src/security/apikeys.js';
import { REPO_ROOT } from '../../src/shared/paths.js';
import { loadStackConfig } from '../../src/stack/config.js';
import { freshDatabase, type TestDb } from './api-db.js';

let db: TestDb;
beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  await db?.drop();
});

function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = loadStackConfig().services.postgres;
  const env = {
    ...process.env,
    AEPRED_DATABASE_URL: `postgres://${p.user}:${p.password}@127.0.0.1:${p.port}/${db.name}`,
  };
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', resolve(REPO_ROOT, 'tests/integration/aepred-cli.ts'), ...args],
      { env, cwd: REPO_ROOT },
      (e, out, err) => done({ code: e === null ? 0 : Number(e.code ?? 1), out, err }),
    );
  });
}

describe('aepred apikey create --out', () => {
  it('writes a working operator key to a 0600 file (in a new folder) and prints no key', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'aepred-key-')), 'secrets', 'alertmanager-api-key');
    const r = await cli(['apikey', 'create', '--name', 'alertmanager', '--role', 'operator', '--out', file]);
    expect(r.code).toBe(0);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/\(operator\) created; the key is in .*alertmanager-api-key only/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const key = readFileSync(file, 'utf8').trim();
    expect(key).toMatch(/^aep_[a-z0-9]+_[A-Za-z0-9_-]+$/);
    const who = await new Authenticator(new PgApiKeyStore(db.pool), { cacheMs: 0 }).authenticate(key);
    expect(who).toMatchObject({ name: 'alertmanager', role: 'operator' });
  });

  it('an unknown role is refused and writes nothing', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'aepred-key-')), 'k');
    const r = await cli(['apikey', 'create', '--name', 'x', '--role', 'root', '--out', file]);
    expect(r.code).not.toBe(0);
    expect(() => statSync(file)).toThrow();
  });
});
