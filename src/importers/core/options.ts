import { ImportError } from './errors.js';
import type { OnError } from './run.js';

/** Options are checked before any work starts, so a typo never leaves a half-written import. */
export function parseOnError(v: unknown): OnError {
  if (v === undefined) return 'stop';
  if (v === 'skip' || v === 'stop') return v;
  throw new ImportError(
    'AEP_IMPORT_USAGE',
    { file: '--on-error' },
    `must be "skip" or "stop" (got "${String(v)}")`,
  );
}

export function parseCount(v: unknown, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new ImportError('AEP_IMPORT_USAGE', { file: flag }, `must be an integer >= 1 (got "${String(v)}")`);
  return n;
}

export function parseHours(v: unknown, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0)
    throw new ImportError(
      'AEP_IMPORT_USAGE',
      { file: flag },
      `must be a number of hours >= 0 (got "${String(v)}")`,
    );
  return n;
}
