/**
 * The S3-compatible object store: MinIO, built from the Go module proxy at a pinned version and
 * cached outside the repository. MinIO is AGPLv3; aepred only runs it as a separate local process
 * and neither links nor distributes it. See docs/stack-kafka-s3.md.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ListBucketsCommand } from '@aws-sdk/client-s3';
import { AepredError } from '../../shared/errors.js';
import { installCacheDir, outputTail, requireTool } from '../install.js';
import { httpOk } from '../probes.js';
import { runCommand } from '../process.js';
import { ensureBuckets, stackBuckets, stackS3Client, stackS3Endpoint } from '../s3-buckets.js';
import type { LaunchSpec, ServiceContext, ServiceDef } from '../types.js';

export const MINIO_MODULE = 'github.com/minio/minio';
/** Pinned: a pseudo-version of the module (MinIO publishes no semver tags to the Go proxy). */
export const MINIO_MODULE_VERSION = 'v0.0.0-20260212201848-7aac2a2c5b7c';
/** Name of the key in MinIO's built-in single-key KMS; objects encrypted with SSE-S3 reference it. */
const KMS_KEY_NAME = 'aepred-sse';

export function minioBinDir(cacheDir = installCacheDir()): string {
  return join(cacheDir, 'bin');
}

function minioBinary(): string {
  return join(minioBinDir(), 'minio');
}

/** Beside the binary: the module version it was built from, written after a successful install. */
function versionMarker(): string {
  return `${minioBinary()}.version`;
}

/** Pure: the module version `go version -m <binary>` reports for github.com/minio/minio, if any. */
export function builtModuleVersion(goVersionOutput: string): string | undefined {
  for (const line of goVersionOutput.split('\n')) {
    const [kind, path, version] = line.trim().split(/\s+/);
    if (kind === 'mod' && path === MINIO_MODULE) return version;
  }
  return undefined;
}

/** A minio already built by `go install` into GOBIN / GOPATH/bin, if it is the pinned version. */
async function pinnedBinaryInGoBin(): Promise<string | undefined> {
  const env = await runCommand('go', ['env', 'GOBIN', 'GOPATH']);
  if (env.code !== 0) return undefined;
  const [gobin, gopath] = env.output.split('\n').map((s) => s.trim());
  const candidates = [gobin ? join(gobin, 'minio') : '', gopath ? join(gopath, 'bin', 'minio') : ''];
  for (const c of candidates.filter((c) => c && existsSync(c))) {
    const r = await runCommand('go', ['version', '-m', c]);
    if (r.code === 0 && builtModuleVersion(r.output) === MINIO_MODULE_VERSION) return c;
  }
  return undefined;
}

async function installMinio(ctx: ServiceContext): Promise<void> {
  requireTool('go', 'to build MinIO from the Go module proxy', 'Go 1.24 or newer from https://go.dev/dl/');
  await mkdir(minioBinDir(), { recursive: true });
  const existing = await pinnedBinaryInGoBin();
  if (existing) {
    ctx.say(`reusing ${existing} (${MINIO_MODULE_VERSION})`);
    const staging = `${minioBinary()}.partial-${process.pid}`;
    await copyFile(existing, staging);
    await chmod(staging, 0o755);
    await rename(staging, minioBinary());
  } else {
    ctx.say(
      `minio: building ${MINIO_MODULE}@${MINIO_MODULE_VERSION} with go install (first run only, a few minutes)`,
    );
    const r = await runCommand('go', ['install', `${MINIO_MODULE}@${MINIO_MODULE_VERSION}`], {
      env: { ...process.env, GOBIN: minioBinDir() },
    });
    if (r.code !== 0) {
      throw new AepredError(
        'AEP_STACK_MINIO_INSTALL_FAILED',
        `go install ${MINIO_MODULE} failed (exit ${r.code})`,
        {
          detail: outputTail(r.output),
          retryable: true,
        },
      );
    }
  }
  await writeFile(versionMarker(), `${MINIO_MODULE_VERSION}\n`);
}

/** The KMS secret key lives beside, not inside, MinIO's data folder; losing it loses SSE objects. */
function kmsKeyFile(ctx: ServiceContext): string {
  return join(ctx.localDir, 'secrets', 'minio-kms.key');
}

/** Pure: MINIO_KMS_SECRET_KEY's format, `<key name>:<base64 of 32 bytes>`. */
export function newKmsSecretKey(random: (n: number) => Buffer = randomBytes): string {
  return `${KMS_KEY_NAME}:${random(32).toString('base64')}`;
}

async function ensureKmsKey(ctx: ServiceContext): Promise<void> {
  const file = kmsKeyFile(ctx);
  if (existsSync(file)) return;
  await mkdir(join(ctx.localDir, 'secrets'), { recursive: true, mode: 0o700 });
  await writeFile(file, newKmsSecretKey(), { mode: 0o600, flag: 'wx' });
}

export const minio: ServiceDef = {
  name: 'minio',
  dependsOn: [],

  ports(config) {
    return [config.services.minio.port, config.services.minio.console_port];
  },

  async ensureInstalled(ctx) {
    if (existsSync(minioBinary()) && existsSync(versionMarker())) {
      const built = (await readFile(versionMarker(), 'utf8')).trim();
      if (built === MINIO_MODULE_VERSION) return;
    }
    await rm(versionMarker(), { force: true });
    await installMinio(ctx);
  },

  async prepare(ctx) {
    await mkdir(ctx.dataDir, { recursive: true });
    await ensureKmsKey(ctx);
  },

  launch(ctx): LaunchSpec {
    const m = ctx.config.services.minio;
    const host = ctx.config.host;
    return {
      command: minioBinary(),
      args: [
        'server',
        ctx.dataDir,
        '--address',
        `${host}:${m.port}`,
        '--console-address',
        `${host}:${m.console_port}`,
      ],
      env: {
        MINIO_ROOT_USER: m.access_key,
        MINIO_ROOT_PASSWORD: m.secret_key,
        MINIO_SITE_REGION: m.region,
        // SSE-S3 (x-amz-server-side-encryption: AES256) needs a KMS; MinIO's built-in one takes a
        // single static key. Objects are encrypted only when the client asks for it. The file form
        // keeps the key out of the process environment (and lets launch() stay a pure function).
        MINIO_KMS_SECRET_KEY_FILE: kmsKeyFile(ctx),
        MINIO_UPDATE: 'off',
      },
    };
  },

  async probe(ctx) {
    // Liveness of the HTTP server is not enough: also answer a signed S3 call with our credentials.
    if (!(await httpOk(`${stackS3Endpoint(ctx.config)}/minio/health/ready`, 200))) return false;
    const client = stackS3Client(ctx.config, { maxAttempts: 1 });
    try {
      const out = await client.send(new ListBucketsCommand({}), { abortSignal: AbortSignal.timeout(2_000) });
      return Array.isArray(out.Buckets ?? []);
    } catch {
      return false;
    } finally {
      client.destroy();
    }
  },

  async afterReady(ctx) {
    const client = stackS3Client(ctx.config);
    try {
      await ensureBuckets(client, stackBuckets(ctx.config), ctx.say);
    } finally {
      client.destroy();
    }
  },
};
