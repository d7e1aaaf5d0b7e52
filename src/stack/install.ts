/**
 * Where the stack's installed artifacts live and how installer commands are run.
 *
 * Jars (Kafka, via Maven) and binaries (MinIO, via `go install`) are cached outside the repository,
 * under ~/.cache/aepred (or $XDG_CACHE_HOME/aepred, or $AEPRED_CACHE_DIR), so a fresh clone or a
 * `git clean` does not pay the build again and the 150 MB MinIO binary never sits in the work tree.
 */
import { spawn } from 'node:child_process';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { AepredError } from '../shared/errors.js';

export function installCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.AEPRED_CACHE_DIR) return env.AEPRED_CACHE_DIR;
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'aepred');
}

export interface ToolResult {
  readonly code: number;
  readonly output: string;
}

const OUTPUT_TAIL_CHARS = 4_000;

/**
 * Runs a command to completion, stdout and stderr interleaved into one captured string.
 * Resolves with the exit code rather than throwing, so callers decide what a failure means;
 * a command that cannot be started at all (not on PATH) resolves with code 127.
 */
export function runTool(
  command: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => chunks.push(c));
    child.once('error', (e) => resolve({ code: 127, output: `${command}: ${e.message}` }));
    child.once('close', (code, signal) => {
      const output = Buffer.concat(chunks).toString('utf8');
      resolve({ code: code ?? (signal ? 128 : 1), output });
    });
  });
}

/** The last few thousand characters of a tool's output, for an error's detail. */
export function outputTail(output: string): string {
  return output.length <= OUTPUT_TAIL_CHARS ? output : `...\n${output.slice(-OUTPUT_TAIL_CHARS)}`;
}

/** Throws a clear, non-retryable error when a required tool is not on PATH. */
export async function requireTool(
  command: string,
  versionArgs: readonly string[],
  purpose: string,
): Promise<void> {
  const r = await runTool(command, versionArgs);
  if (r.code === 127) {
    throw new AepredError(
      'AEP_STACK_TOOL_MISSING',
      `'${command}' is not installed or not on PATH; it is needed ${purpose}`,
      {
        kind: 'operational',
      },
    );
  }
}
