import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/audit/chain.js';
import { readLatestDigest, writeDigest } from '../../src/audit/digest.js';
import { PgAuditLog } from '../../src/audit/log.js';
import { verifyChain } from '../../src/audit/verify.js';
import { LocalFsLake } from '../../src/lake/local-fs.js';
import { freshDatabase, type TestDb } from './api-db.js';

// The audit trail against the real Postgres: group commit, the chain, privileges, and tampering by a
// superuser (who can bypass triggers) caught by verify, naming the row.
let db: TestDb;
beforeEach(async () => {
  db = await freshDatabase();
});
afterEach(async () => {
  await db.drop();
});

async function fill(n: number): Promise<number[]> {
  const batchSizes: number[] = [];
  const log = new PgAuditLog(db.pool, { maxRows: 100, onBatch: (r) => batchSizes.push(r) });
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      log.append({
        actor: 'key:test0001',
        action: 'prediction.served',
        subject: `P-${i}`,
        modelVersion: '3',
        inputHash: sha256Hex(`features-${i}`),
        correlationId: `c-${i}`,
        payload: { probability: i / n, risk_level: 'low', z: { b: 1, a: [2, 'x\u001fy'] } },
      }),
    ),
  );
  return batchSizes;
}

async function asSuperuserBypassingTriggers(sql: string, params: unknown[] = []): Promise<void> {
  const c = await db.superPool.connect();
  try {
    await c.query('SET session_replication_role = replica'); // disables the guard triggers
    await c.query(sql, params);
  } finally {
    await c.query('RESET session_replication_role');
    c.release();
  }
}

describe('audit trail (Postgres)', () => {
  it('group-commits concurrent appends into one gap-free chain that verifies', async () => {
    const batchSizes = await fill(250);
    expect(batchSizes.reduce((a, b) => a + b, 0)).toBe(250);
    expect(batchSizes.length).toBeLessThan(250); // batched: fewer INSERTs than rows
    const r = await verifyChain(db.pool);
    expect(r).toMatchObject({ ok: true, rows: 250, headSeq: 250 });
  });

  it('the service role cannot UPDATE, DELETE or TRUNCATE, nor move the head', async () => {
    await fill(3);
    await expect(db.pool.query("UPDATE audit_log SET actor = 'x' WHERE seq = 2")).rejects.toThrow(
      /permission denied/,
    );
    await expect(db.pool.query('DELETE FROM audit_log WHERE seq = 2')).rejects.toThrow(/permission denied/);
    await expect(db.pool.query('TRUNCATE audit_log')).rejects.toThrow(/permission denied/);
    await expect(db.pool.query('UPDATE audit_head SET seq = 1')).rejects.toThrow(/append-only/);
    // The trigger stops even the superuser unless triggers are bypassed.
    await expect(db.superPool.query("UPDATE audit_log SET actor = 'x' WHERE seq = 2")).rejects.toThrow(
      /append-only/,
    );
  });

  it('catches an edited row and names it', async () => {
    await fill(20);
    await asSuperuserBypassingTriggers(
      `UPDATE audit_log SET payload = '{"probability":0.01,"risk_level":"low"}' WHERE seq = 7`,
    );
    expect(await verifyChain(db.pool)).toMatchObject({
      ok: false,
      seq: 7,
      reason: expect.stringMatching(/altered/),
    });
  });

  it('catches an edited row whose hash was recomputed: the next row no longer links', async () => {
    await fill(20);
    await asSuperuserBypassingTriggers("UPDATE audit_log SET actor = 'key:forged' WHERE seq = 11");
    await asSuperuserBypassingTriggers(
      "UPDATE audit_log SET hash = sha256(prev_hash || convert_to(audit_canonical(audit_log), 'UTF8')) WHERE seq = 11",
    );
    // Row 11 now checks out alone (which also shows TypeScript and SQL hash the same bytes); row 12
    // still points at the old hash.
    expect(await verifyChain(db.pool)).toMatchObject({
      ok: false,
      seq: 12,
      reason: expect.stringMatching(/prev_hash/),
    });
  });

  it('catches a deleted row', async () => {
    await fill(20);
    await asSuperuserBypassingTriggers('DELETE FROM audit_log WHERE seq = 5');
    expect(await verifyChain(db.pool)).toMatchObject({
      ok: false,
      seq: 5,
      reason: expect.stringMatching(/missing/),
    });
  });

  it('catches a truncated tail, even with the head rewound, through the digest outside the table', async () => {
    await fill(20);
    const lake = new LocalFsLake(mkdtempSync(join(tmpdir(), 'aepred-audit-lake-')));
    const digest = await writeDigest(db.pool, lake);
    expect(digest.seq).toBe(20);
    await asSuperuserBypassingTriggers('DELETE FROM audit_log WHERE seq > 15');
    expect(await verifyChain(db.pool)).toMatchObject({
      ok: false,
      seq: 16,
      reason: expect.stringMatching(/tail/),
    });
    await asSuperuserBypassingTriggers(
      'UPDATE audit_head SET seq = 15, hash = (SELECT hash FROM audit_log WHERE seq = 15)',
    );
    expect(await verifyChain(db.pool)).toMatchObject({ ok: true, rows: 15 }); // the table alone looks fine
    const latest = await readLatestDigest(lake);
    expect(await verifyChain(db.pool, latest === undefined ? {} : { digest: latest })).toMatchObject({
      ok: false,
      seq: 16,
      reason: expect.stringMatching(/truncated/),
    });
  });
});

describe('aepred audit verify (the CLI)', () => {
  it('exits 0 on an intact chain and 1 naming the row after tampering', async () => {
    const { execFile } = await import('node:child_process');
    const { resolve } = await import('node:path');
    const { loadStackConfig } = await import('../../src/stack/config.js');
    const { REPO_ROOT } = await import('../../src/shared/paths.js');
    await fill(12);
    const p = loadStackConfig().services.postgres;
    const env = {
      ...process.env,
      AEPRED_DATABASE_URL: `postgres://${p.user}:${p.password}@127.0.0.1:${p.port}/${db.name}`,
    };
    const cli = (args: string[]) =>
      new Promise<{ code: number; out: string; err: string }>((done) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', resolve(REPO_ROOT, 'tests/integration/aepred-cli.ts'), ...args],
          { env, cwd: REPO_ROOT },
          (e, out, err) => done({ code: e === null ? 0 : Number(e.code ?? 1), out, err }),
        );
      });
    const ok = await cli(['audit', 'verify', '--no-digest']);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/12 rows verified/);
    await asSuperuserBypassingTriggers(`UPDATE audit_log SET subject = 'P-forged' WHERE seq = 9`);
    const bad = await cli(['audit', 'verify', '--no-digest']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/AEP_AUDIT_CHAIN_BROKEN: audit chain broken at seq 9/);
  });
});
