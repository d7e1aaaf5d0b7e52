/**
 * The local stack's object store over real S3 calls (@aws-sdk/client-s3 against MinIO): the buckets
 * the stack creates, and put/get/list/delete with server-side encryption (SSE-S3) requested, as the
 * bronze writer will request it for every object. Assumes `aepred stack up` (make test) ran.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStackConfig } from '../../src/stack/config.js';
import { LAKE_BUCKET, stackBuckets, stackS3Client } from '../../src/stack/s3-buckets.js';

const config = loadStackConfig();
const prefix = `tests/stack-s3/${process.pid}-${Date.now()}/`;
let s3: S3Client;

beforeAll(() => {
  s3 = stackS3Client(config);
});

afterAll(async () => {
  const left = await s3.send(new ListObjectsV2Command({ Bucket: LAKE_BUCKET, Prefix: prefix }));
  for (const o of left.Contents ?? []) {
    if (o.Key) await s3.send(new DeleteObjectCommand({ Bucket: LAKE_BUCKET, Key: o.Key }));
  }
  s3.destroy();
});

describe('object store (MinIO)', () => {
  it('has the stack buckets (lake and the MLflow artifact bucket)', async () => {
    for (const bucket of stackBuckets(config)) {
      await expect(s3.send(new HeadBucketCommand({ Bucket: bucket }))).resolves.toBeDefined();
    }
  });

  it('puts, heads, gets, lists and deletes an SSE-S3 encrypted object', async () => {
    const key = `${prefix}hello.json`;
    const body = JSON.stringify({ patient_id: 'P-0001', hr: 72 });

    const put = await s3.send(
      new PutObjectCommand({
        Bucket: LAKE_BUCKET,
        Key: key,
        Body: body,
        ContentType: 'application/json',
        ServerSideEncryption: 'AES256',
      }),
    );
    expect(put.ServerSideEncryption).toBe('AES256');

    const head = await s3.send(new HeadObjectCommand({ Bucket: LAKE_BUCKET, Key: key }));
    expect(head.ServerSideEncryption).toBe('AES256');
    expect(head.ContentLength).toBe(Buffer.byteLength(body));

    const got = await s3.send(new GetObjectCommand({ Bucket: LAKE_BUCKET, Key: key }));
    expect(got.ServerSideEncryption).toBe('AES256');
    expect(await got.Body?.transformToString()).toBe(body);

    const listed = await s3.send(new ListObjectsV2Command({ Bucket: LAKE_BUCKET, Prefix: prefix }));
    expect((listed.Contents ?? []).map((o) => o.Key)).toEqual([key]);

    await s3.send(new DeleteObjectCommand({ Bucket: LAKE_BUCKET, Key: key }));
    const after = await s3.send(new ListObjectsV2Command({ Bucket: LAKE_BUCKET, Prefix: prefix }));
    expect(after.KeyCount ?? 0).toBe(0);
  });

  it('stores an object without SSE as plain when none is requested', async () => {
    const key = `${prefix}plain.txt`;
    await s3.send(new PutObjectCommand({ Bucket: LAKE_BUCKET, Key: key, Body: 'plain' }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: LAKE_BUCKET, Key: key }));
    expect(head.ServerSideEncryption).toBeUndefined();
    await s3.send(new DeleteObjectCommand({ Bucket: LAKE_BUCKET, Key: key }));
  });
});
