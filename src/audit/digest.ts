import type pg from 'pg';
import type { LakeStorage } from '../lake/storage.js';

export interface HeadDigest {
  seq: number;
  hash: string;
  writtenAt: string;
}

const LATEST = 'audit/digests/latest.json';

/**
 * Writes the chain head outside the database (the lake: an S3 bucket in production), so that a
 * superuser who deletes the tail and rewinds audit_head is still caught by `aepred audit verify`.
 * One object per digest plus `latest.json`.
 */
export async function writeDigest(
  pool: pg.Pool,
  lake: LakeStorage,
  now: () => number = Date.now,
): Promise<HeadDigest> {
  const { rows } = await pool.query<{ seq: string; hash: Buffer }>('SELECT seq, hash FROM audit_head');
  const h = rows[0];
  const digest: HeadDigest = {
    seq: Number(h?.seq ?? 0),
    hash: h?.hash.toString('hex') ?? '',
    writtenAt: new Date(now()).toISOString(),
  };
  const body = new TextEncoder().encode(`${JSON.stringify(digest)}\n`);
  await lake.put(`audit/digests/${String(digest.seq).padStart(12, '0')}.json`, body);
  await lake.put(LATEST, body);
  return digest;
}

export async function readLatestDigest(lake: LakeStorage): Promise<HeadDigest | undefined> {
  const body = await lake.get(LATEST);
  if (body === undefined) return undefined;
  return JSON.parse(new TextDecoder().decode(body)) as HeadDigest;
}
