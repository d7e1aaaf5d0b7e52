/**
 * The lake: an object store with atomic whole-object writes. Keys are '/'-separated paths relative
 * to the lake root (e.g. `bronze/patient-vitals/date=2026-01-01/part-...parquet`). Two real
 * implementations: the local filesystem (embedded default) and S3.
 */
export interface LakeStorage {
  /** Human-readable root (a path or s3://bucket/prefix), for logs and docs. */
  readonly uri: string;
  /**
   * Writes the whole object atomically: a reader sees either the previous object or this one, never
   * a partial file. Returns once the object is durable (fsync'd / acknowledged by S3).
   */
  put(key: string, body: Uint8Array): Promise<void>;
  get(key: string): Promise<Uint8Array | undefined>;
  /** Every key under the prefix (recursive), excluding temporary files; order unspecified. */
  list(prefix: string): Promise<string[]>;
  /** Deletes the object; deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
}

/** Rejects keys that could escape the root or that readers would skip. */
export function checkKey(key: string): string {
  if (key === '' || key.startsWith('/') || key.split('/').some((p) => p === '' || p === '.' || p === '..')) {
    throw new Error(`invalid lake key: ${JSON.stringify(key)}`);
  }
  return key;
}
