import type { Command } from 'commander';
import { apiError } from '../../api/errors.js';
import { readLatestDigest, writeDigest } from '../../audit/digest.js';
import { verifyChain } from '../../audit/verify.js';
import { openPool } from '../../db/pool.js';
import { DEFAULT_LAKE, openLake } from '../../lake/index.js';

/** `aepred audit verify|digest`: walk the hash chain; write the head digest outside the table. */
export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('the Part 11 audit trail (hash-chained, append-only)');
  const lakeOpt = [
    '--lake <uri>',
    'where head digests are kept',
    process.env.AEPRED_LAKE ?? DEFAULT_LAKE,
  ] as const;
  audit
    .command('verify')
    .description('recompute every row hash; name the first bad row; compare the head with the last digest')
    .option(...lakeOpt)
    .option('--no-digest', 'check the table alone')
    .action(async (o: { lake: string; digest: boolean }) => {
      const pool = openPool();
      try {
        const digest = o.digest ? await readLatestDigest(openLake(o.lake)) : undefined;
        const r = await verifyChain(pool, digest === undefined ? {} : { digest });
        if (!r.ok) throw apiError('AEP_AUDIT_CHAIN_BROKEN', { seq: r.seq, reason: r.reason });
        process.stdout.write(
          `audit: ${r.rows} rows verified, head seq ${r.headSeq} ${r.headHash.slice(0, 16)}…${digest === undefined ? ' (no digest compared)' : `; digest at seq ${digest.seq} matches`}\n`,
        );
      } finally {
        await pool.end();
      }
    });
  audit
    .command('digest')
    .description('write the chain head to the lake now (the service does it periodically)')
    .option(...lakeOpt)
    .action(async (o: { lake: string }) => {
      const pool = openPool();
      try {
        const d = await writeDigest(pool, openLake(o.lake));
        process.stdout.write(`audit: digest seq ${d.seq} ${d.hash.slice(0, 16)}… written\n`);
      } finally {
        await pool.end();
      }
    });
}
