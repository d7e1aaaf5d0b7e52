import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../shared/paths.js';
import { IMPORT_ERRORS, ImportError } from './errors.js';

describe('import error codes', () => {
  const doc = readFileSync(resolve(REPO_ROOT, 'docs/importers.md'), 'utf8');
  const documented = new Set([...doc.matchAll(/^\| `(AEP_IMPORT_[A-Z_]+)` \|/gm)].map((m) => m[1]));

  it('every code is documented and every documented code exists', () => {
    expect([...documented].sort()).toEqual(Object.keys(IMPORT_ERRORS).sort());
  });

  it('names file, row and column, and maps usage problems to exit 2', () => {
    const e = new ImportError('AEP_IMPORT_BAD_DATE', { file: 'ae.xpt', row: 3, column: 'AESTDTC' }, 'bad');
    expect(e.message).toBe('ae.xpt, row 3, column AESTDTC: bad');
    expect(e.rowLevel).toBe(true);
    expect(e.exitCode).toBe(1);
    expect(new ImportError('AEP_IMPORT_NO_DIR', { file: '/x' }, 'gone').exitCode).toBe(2);
    expect(
      new ImportError('AEP_IMPORT_UNKNOWN_COLUMN', { file: 'f', row: 0, column: 'X' }, 'u').message,
    ).toBe('f, header, column X: u');
  });
});
