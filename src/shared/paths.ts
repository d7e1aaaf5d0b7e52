import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root: two levels above this file in both src/ (tsx/vitest) and dist/ (compiled). */
function findRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return resolve(here, '..', '..');
}

export const REPO_ROOT = process.env.AEPRED_ROOT ?? findRoot();
/** Everything the local stack writes (data, logs, pid files) lives under here; ignored by git. */
export const LOCAL_DIR = process.env.AEPRED_LOCAL_DIR ?? resolve(REPO_ROOT, '.local');
