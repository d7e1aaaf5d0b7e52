/**
 * S3Lake against the stack's MinIO (bucket `lake`, SSE-S3): a real bronze file is put, listed, read
 * back and decoded; every object is encrypted at rest (HeadObject); a replayed batch overwrites its
 * object instead of adding a second one. Assumes `aepred stack up minio` (make test does it).
 */
import {
  DeleteObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBronzeFile, encodeBronzeFile } from '../../src/ingest/bronze-file.js';
import { bronzeKey } from '../../src/ingest/naming.js';
import { openLake } from '../../src/lake/index.js';
import { S3Lake } from '../../src/lake/s3.js';
import { loadStackConfig } from '../../src/stack/config.js';
import { LAKE_BUCKET, stackS3Client } from '../../src/stack/s3-buckets.js';

const prefix = `tests/ingest-s3-lake/${process.pid}-${Date.now()}`;
let s3: S3Client;
let lake: S3Lake;

const vitals = (i: number) => ({
  msg: {
    event_id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    correlation_id: 'it:s3',
    schema_version: '1.0',
    patient_id: `P${i}`,
    source: 'test',
    timestamp: `2024-01-02T0${i}:00:00Z`,
    heart_rate: 60 + i,
  },
  partition: 2,
  offset: BigInt(100 + i),
  kafkaTimestamp: Date.parse('2024-01-02T12:00:00Z'),
  key: `P${i}`,
});
const meta = (ingestedAt: number) => ({
  topic: 'patient-vitals' as const,
  partition: 2,
  firstOffset: 100n,
  lastOffset: 102n,
  ingestedAt,
});
const key = bronzeKey({
  topic: 'patient-vitals',
  date: '2024-01-02',
  partition: 2,
  firstOffset: 100n,
  lastOffset: 102n,
});

beforeAll(() => {
  s3 = stackS3Client(loadStackConfig());
  lake = new S3Lake({ client: s3, bucket: LAKE_BUCKET, prefix });
});

afterAll(async () => {
  const left = await s3.send(new ListObjectsV2Command({ Bucket: LAKE_BUCKET, Prefix: `${prefix}/` }));
  for (const o of left.Contents ?? []) {
    if (o.Key !== undefined) await s3.send(new DeleteObjectCommand({ Bucket: LAKE_BUCKET, Key: o.Key }));
  }
  s3.destroy();
});

describe('S3Lake (MinIO)', () => {
  it('puts a bronze file, lists it under its prefix and reads back the same rows', async () => {
    const rows = [0, 1, 2].map(vitals);
    await lake.put(key, encodeBronzeFile(meta(1_000), rows));
    expect(await lake.list('bronze/')).toEqual([key]);
    expect(await lake.list('bronze/lab-results/')).toEqual([]);
    const t = decodeBronzeFile((await lake.get(key)) as Uint8Array);
    expect(t.numRows).toBe(3);
    expect([...Array(3).keys()].map((i) => t.getChild('event_id')?.get(i))).toEqual(
      rows.map((r) => r.msg.event_id),
    );
    expect([...Array(3).keys()].map((i) => t.getChild('_kafka_offset')?.get(i))).toEqual([100n, 101n, 102n]);
    expect(t.getChild('heart_rate')?.get(2)).toBe(62);
  });

  it('stores every object with server-side encryption (HeadObject)', async () => {
    const head = await s3.send(new HeadObjectCommand({ Bucket: LAKE_BUCKET, Key: `${prefix}/${key}` }));
    expect(head.ServerSideEncryption).toBe('AES256');
    expect(await lake.encryption(key)).toBe('AES256');
  });

  it('a replayed batch overwrites its object instead of duplicating it', async () => {
    await lake.put(key, encodeBronzeFile(meta(2_000), [0, 1, 2].map(vitals)));
    expect(await lake.list('bronze/')).toEqual([key]);
    const t = decodeBronzeFile((await lake.get(key)) as Uint8Array);
    expect(t.numRows).toBe(3);
    expect(Number(t.getChild('_ingested_at')?.get(0))).toBe(2_000);
  });

  it('get of a missing key is undefined, delete removes, openLake reaches the same objects', async () => {
    expect(await lake.get('bronze/none.parquet')).toBeUndefined();
    const viaUri = openLake(`s3://${LAKE_BUCKET}/${prefix}`);
    expect(viaUri.uri).toBe(`s3://${LAKE_BUCKET}/${prefix}`);
    expect(await viaUri.list('bronze/')).toEqual([key]);
    await viaUri.delete(key);
    expect(await lake.list('bronze/')).toEqual([]);
  });
});
