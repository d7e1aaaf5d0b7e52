/**
 * Where the stack's built artifacts are cached, and the checks its installers share.
 *
 * Jars (Kafka, via Maven) and binaries (MinIO, via `go install`) are cached outside the repository,
 * under ~/.cache/aepred (or $XDG_CACHE_HOME/aepred, or $AEPRED_CACHE_DIR), so a fresh clone or a
 * `git clean` does not pay the build again and the 150 MB MinIO binary never sits in the work tree.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { AepredError } from '../shared/errors.js';
import { haveBinary } from './apt.js';

export function installCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.AEPRED_CACHE_DIR) return env.AEPRED_CACHE_DIR;
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'aepred');
}

const OUTPUT_TAIL_CHARS = 4_000;

/** The last few thousand characters of a tool's output, for an error's detail. */
export function outputTail(output: string): string {
  return output.length <= OUTPUT_TAIL_CHARS ? output : `...\n${output.slice(-OUTPUT_TAIL_CHARS)}`;
}

/** Throws a clear, non-retryable error when a required build tool is not installed. */
export function requireTool(command: string, purpose: string, howToInstall: string): void {
  if (haveBinary(command)) return;
  throw new AepredError(
    'AEP_STACK_TOOL_MISSING',
    `'${command}' is not installed or not on PATH; it is needed ${purpose}`,
    { detail: `install it: ${howToInstall}` },
  );
}
