import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  type S3Client,
  type ServerSideEncryption,
} from '@aws-sdk/client-s3';
import { checkKey, type LakeStorage } from './storage.js';

export interface S3LakeOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix inside the bucket ('' for the bucket root). */
  prefix?: string;
  /** Server-side encryption requested on every object (default AES256 = SSE-S3). */
  sse?: ServerSideEncryption;
  sseKmsKeyId?: string;
}

/**
 * The lake on S3 (MinIO in the stack). A PutObject is atomic - the object appears whole or not at
 * all - so no temporary object is needed; a replayed put of the same key replaces it. Every put
 * requests server-side encryption, and put() checks that the store applied it.
 */
export class S3Lake implements LakeStorage {
  readonly uri: string;
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #sse: ServerSideEncryption;
  readonly #kmsKeyId: string | undefined;

  constructor(opts: S3LakeOptions) {
    this.#client = opts.client;
    this.#bucket = opts.bucket;
    this.#prefix = (opts.prefix ?? '').replace(/^\/+|\/+$/g, '');
    this.#sse = opts.sse ?? 'AES256';
    this.#kmsKeyId = opts.sseKmsKeyId;
    this.uri = `s3://${this.#bucket}${this.#prefix === '' ? '' : `/${this.#prefix}`}`;
  }

  #key(key: string): string {
    checkKey(key);
    return this.#prefix === '' ? key : `${this.#prefix}/${key}`;
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    const out = await this.#client.send(
      new PutObjectCommand({
        Bucket: this.#bucket,
        Key: this.#key(key),
        Body: body,
        ContentType: 'application/vnd.apache.parquet',
        ServerSideEncryption: this.#sse,
        ...(this.#kmsKeyId === undefined ? {} : { SSEKMSKeyId: this.#kmsKeyId }),
      }),
    );
    if (out.ServerSideEncryption === undefined) {
      throw new Error(`S3 did not apply server-side encryption to ${this.uri}/${key}`);
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const out = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#bucket, Key: this.#key(key) }),
      );
      return out.Body === undefined ? new Uint8Array() : await out.Body.transformToByteArray();
    } catch (e) {
      if (e instanceof NoSuchKey) return undefined;
      throw e;
    }
  }

  /** Server-side encryption of a stored object (for tests and audits). */
  async encryption(key: string): Promise<string | undefined> {
    const out = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: this.#key(key) }));
    await out.Body?.transformToByteArray();
    return out.ServerSideEncryption;
  }

  async list(prefix: string): Promise<string[]> {
    const full = this.#prefix === '' ? prefix : `${this.#prefix}/${prefix}`;
    const strip = this.#prefix === '' ? 0 : this.#prefix.length + 1;
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.#client.send(
        new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: full, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) if (o.Key !== undefined) out.push(o.Key.slice(strip));
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return out;
  }

  async delete(key: string): Promise<void> {
    await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#key(key) }));
  }
}
