import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../shared/paths.js';
import { loadStackConfig } from '../config.js';
import { LAKE_BUCKET, stackBuckets } from '../s3-buckets.js';
import type { ServiceContext } from '../types.js';
import { builtModuleVersion, MINIO_MODULE_VERSION, minio, minioBinDir, newKmsSecretKey } from './minio.js';

const config = loadStackConfig(join(REPO_ROOT, 'ops/local/stack.yaml'));

function tempContext(): ServiceContext {
  const localDir = mkdtempSync(join(tmpdir(), 'aepred-minio-'));
  return {
    config,
    localDir,
    dataDir: join(localDir, 'data', 'minio'),
    logFile: join(localDir, 'logs', 'minio.log'),
    isRoot: false,
    say: () => {},
  };
}

describe('minio install', () => {
  it('reads the module version from `go version -m` output', () => {
    const out = [
      '/root/go/bin/minio: go1.26.8',
      '\tpath\tgithub.com/minio/minio',
      `\tmod\tgithub.com/minio/minio\t${MINIO_MODULE_VERSION}\th1:abc=`,
      '\tdep\taead.dev/mem\tv0.2.0\th1:def=',
    ].join('\n');
    expect(builtModuleVersion(out)).toBe(MINIO_MODULE_VERSION);
    expect(builtModuleVersion('/x: go1.26.8\n\tpath\tother\n')).toBeUndefined();
  });

  it('caches the binary outside the repository', () => {
    expect(minioBinDir('/cache/aepred')).toBe('/cache/aepred/bin');
  });

  it('makes a KMS secret key in MinIO format: name, colon, base64 of 32 bytes', () => {
    const key = newKmsSecretKey();
    const [name, b64] = key.split(':');
    expect(name).toBe('aepred-sse');
    expect(Buffer.from(b64 ?? '', 'base64')).toHaveLength(32);
  });
});

describe('minio launch', () => {
  it('binds API and console to 127.0.0.1 with the configured credentials and a kept KMS key file', async () => {
    const ctx = tempContext();
    await minio.prepare(ctx);
    const spec = minio.launch(ctx);
    const { port, console_port, access_key, secret_key } = config.services.minio;
    expect(spec.args).toEqual([
      'server',
      ctx.dataDir,
      '--address',
      `127.0.0.1:${port}`,
      '--console-address',
      `127.0.0.1:${console_port}`,
    ]);
    expect(spec.env?.MINIO_ROOT_USER).toBe(access_key);
    expect(spec.env?.MINIO_ROOT_PASSWORD).toBe(secret_key);
    const keyFile = spec.env?.MINIO_KMS_SECRET_KEY_FILE ?? '';
    expect(keyFile).toBe(join(ctx.localDir, 'secrets', 'minio-kms.key'));
    const key = readFileSync(keyFile, 'utf8');
    expect(key).toMatch(/^aepred-sse:[A-Za-z0-9+/]{43}=$/);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    // A second prepare keeps the key: a new one would make every encrypted object unreadable.
    await minio.prepare(ctx);
    expect(readFileSync(keyFile, 'utf8')).toBe(key);
  });

  it('creates the lake and the MLflow artifact bucket', () => {
    expect(stackBuckets(config)).toEqual([LAKE_BUCKET, config.services.mlflow.artifact_bucket]);
  });
});
