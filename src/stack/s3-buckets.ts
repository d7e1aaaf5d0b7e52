/**
 * S3 clients and buckets for the local stack's object store (MinIO). Everything that talks to the
 * store (the bronze writer, MLflow artifacts, tests) builds its client here, so endpoint, path-style
 * addressing and credentials are decided once.
 */
import {
  CreateBucketCommand,
  HeadBucketCommand,
  S3Client,
  type S3ClientConfig,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { StackConfig } from './config.js';

/** The data lake: bronze/silver/features prefixes live under it. */
export const LAKE_BUCKET = 'lake';

export function stackS3Endpoint(config: StackConfig): string {
  return `http://${config.host}:${config.services.minio.port}`;
}

export function stackS3Client(config: StackConfig, extra: Partial<S3ClientConfig> = {}): S3Client {
  // The SDK warns once per process that its 2027 releases will need Node 22. aepred pins Node 20
  // and the SDK version in its lock file, so the warning is noise in `stack up` and test output.
  // An explicit setting by the user wins.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const m = config.services.minio;
  return new S3Client({
    endpoint: stackS3Endpoint(config),
    region: m.region,
    // MinIO on 127.0.0.1 has no per-bucket DNS names: bucket goes in the path.
    forcePathStyle: true,
    credentials: { accessKeyId: m.access_key, secretAccessKey: m.secret_key },
    ...extra,
  });
}

/** The buckets the stack creates once MinIO is healthy. */
export function stackBuckets(config: StackConfig): string[] {
  return [...new Set([LAKE_BUCKET, config.services.mlflow.artifact_bucket])];
}

function isS3Error(e: unknown, ...names: string[]): boolean {
  return e instanceof S3ServiceException && names.includes(e.name);
}

async function bucketExists(client: S3Client, bucket: string): Promise<boolean> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
    return true;
  } catch (e) {
    if (isS3Error(e, 'NotFound', 'NoSuchBucket')) return false;
    throw e;
  }
}

/** Idempotent: creates each missing bucket; returns the ones it created. */
export async function ensureBuckets(
  client: S3Client,
  buckets: readonly string[],
  say: (line: string) => void = () => {},
): Promise<string[]> {
  const created: string[] = [];
  for (const bucket of buckets) {
    if (await bucketExists(client, bucket)) continue;
    try {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      created.push(bucket);
    } catch (e) {
      // A concurrent start may have won the race; that is the state we wanted.
      if (!isS3Error(e, 'BucketAlreadyOwnedByYou', 'BucketAlreadyExists')) throw e;
    }
  }
  if (created.length > 0) say(`created buckets ${created.join(', ')}`);
  return created;
}
