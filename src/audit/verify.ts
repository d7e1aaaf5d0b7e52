import type pg from 'pg';
import { type AuditRow, GENESIS_HASH, rowHash } from './chain.js';

export type VerifyResult =
  | { ok: true; rows: number; headSeq: number; headHash: string }
  | { ok: false; rows: number; seq: number; reason: string };

interface DbRow {
  seq: string;
  at_ms: string;
  actor: string;
  action: string;
  subject: string;
  model_version: string;
  input_hash: string;
  correlation_id: string;
  payload: string;
  prev_hash: Buffer;
  hash: Buffer;
}

const PAGE = 5000;

export function toAuditRow(r: DbRow): AuditRow {
  return {
    seq: Number(r.seq),
    atMs: Number(r.at_ms),
    actor: r.actor,
    action: r.action,
    subject: r.subject,
    modelVersion: r.model_version,
    inputHash: r.input_hash,
    correlationId: r.correlation_id,
    payload: r.payload,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

export const SELECT_ROWS = `SELECT seq, (extract(epoch FROM at) * 1000)::bigint AS at_ms, actor, action, subject,
  model_version, input_hash, correlation_id, payload, prev_hash, hash FROM audit_log`;

/**
 * Walks the whole chain in seq order and names the first row that does not check out: a gap in seq
 * (a deleted row), a prev_hash that is not the previous row's hash (deleted or reordered), or a hash
 * that does not match the row's content (an edited row). Then checks the head row and, when given,
 * the last digest written outside the table (a truncated tail).
 */
export async function verifyChain(
  pool: pg.Pool,
  opts: { digest?: { seq: number; hash: string } } = {},
): Promise<VerifyResult> {
  let expectSeq = 1;
  let prev: Buffer = GENESIS_HASH;
  let rows = 0;
  for (;;) {
    const { rows: page } = await pool.query<DbRow>(`${SELECT_ROWS} WHERE seq >= $1 ORDER BY seq LIMIT $2`, [
      expectSeq,
      PAGE,
    ]);
    for (const db of page) {
      const r = toAuditRow(db);
      if (r.seq !== expectSeq) {
        return { ok: false, rows, seq: expectSeq, reason: `row ${expectSeq} is missing (next is ${r.seq})` };
      }
      if (!r.prevHash.equals(prev)) {
        return { ok: false, rows, seq: r.seq, reason: 'prev_hash is not the previous row’s hash' };
      }
      if (!rowHash(prev, r).equals(r.hash)) {
        return { ok: false, rows, seq: r.seq, reason: 'content does not match its hash (row altered)' };
      }
      prev = r.hash;
      expectSeq += 1;
      rows += 1;
    }
    if (page.length < PAGE) break;
  }
  const last = expectSeq - 1;
  const head = await pool.query<{ seq: string; hash: Buffer }>('SELECT seq, hash FROM audit_head');
  const h = head.rows[0];
  if (h === undefined || Number(h.seq) !== last || !h.hash.equals(prev)) {
    return {
      ok: false,
      rows,
      seq: last + 1,
      reason: `audit_head says seq ${h?.seq ?? 'none'} but the chain ends at ${last} (tail deleted?)`,
    };
  }
  const d = opts.digest;
  if (d !== undefined) {
    if (d.seq > last) {
      return {
        ok: false,
        rows,
        seq: last + 1,
        reason: `digest records seq ${d.seq}; the table ends at ${last} (truncated)`,
      };
    }
    const at = await pool.query<{ hash: Buffer }>('SELECT hash FROM audit_log WHERE seq = $1', [d.seq]);
    if (d.seq > 0 && at.rows[0]?.hash.toString('hex') !== d.hash) {
      return {
        ok: false,
        rows,
        seq: d.seq,
        reason: 'hash differs from the digest written outside the table',
      };
    }
  }
  return { ok: true, rows, headSeq: last, headHash: prev.toString('hex') };
}
