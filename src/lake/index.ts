import { loadStackConfig } from '../stack/config.js';
import { LAKE_BUCKET, stackS3Client } from '../stack/s3-buckets.js';
import { LocalFsLake } from './local-fs.js';
import { S3Lake } from './s3.js';
import type { LakeStorage } from './storage.js';

export { LocalFsLake } from './local-fs.js';
export { S3Lake, type S3LakeOptions } from './s3.js';
export { checkKey, type LakeStorage } from './storage.js';

/** Default embedded lake root. */
export const DEFAULT_LAKE = '.aepred/lake';

/**
 * Opens a lake from a URI: a local path (or file://...), or s3://bucket[/prefix] against the stack's
 * object store (endpoint and credentials from ops/local/stack.yaml).
 */
export function openLake(uri: string = process.env.AEPRED_LAKE ?? DEFAULT_LAKE): LakeStorage {
  if (uri.startsWith('s3://') || uri.startsWith('s3a://')) {
    const rest = uri.replace(/^s3a?:\/\//, '');
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const prefix = slash < 0 ? '' : rest.slice(slash + 1);
    return new S3Lake({ client: stackS3Client(loadStackConfig()), bucket: bucket || LAKE_BUCKET, prefix });
  }
  return new LocalFsLake(uri.startsWith('file://') ? new URL(uri).pathname : uri);
}
