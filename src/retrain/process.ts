import { execFile } from 'node:child_process';
import { AepredError } from '../shared/errors.js';

export interface ProcessResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion; a non-zero exit is an AEP_RETRAIN_STEP error carrying stderr's tail. */
export function runProcess(
  step: string,
  cmd: string,
  args: readonly string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      [...args],
      { cwd: opts.cwd, env: opts.env ?? process.env, maxBuffer: 64 << 20, timeout: opts.timeoutMs ?? 0 },
      (err, stdout, stderr) => {
        if (err) {
          reject(
            new AepredError('AEP_RETRAIN_STEP', `retraining step ${step} failed: ${cmd} ${args.join(' ')}`, {
              detail: `${String(stderr).slice(-4000)}`,
              cause: err,
            }),
          );
          return;
        }
        resolve({ stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** The last non-empty stdout line parsed as JSON (the project's CLIs end with one). */
export function lastJsonLine(step: string, stdout: string): Record<string, unknown> {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  const last = lines.at(-1);
  try {
    // Python's json.dumps writes NaN / Infinity (e.g. an AUROC on a one-class test split): read them as null
    const v: unknown = JSON.parse((last ?? '').replace(/-?\b(NaN|Infinity)\b/g, 'null'));
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new AepredError('AEP_RETRAIN_STEP', `retraining step ${step} did not end with a JSON line`, {
    detail: stdout.slice(-2000),
  });
}
