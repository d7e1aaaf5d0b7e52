import { AepredError } from '../../shared/errors.js';

/**
 * Every failure an importer reports, with a stable code (documented in docs/importers.md, checked by
 * errors.test.ts). Messages always name the file and, where one is to blame, the row (1-based data
 * row; row 0 means the header).
 */
export const IMPORT_ERRORS = {
  AEP_IMPORT_NO_DIR: 'the input directory does not exist or is not a directory',
  AEP_IMPORT_NO_INPUT: 'the input directory holds no file the importer reads',
  AEP_IMPORT_CORRUPT_FILE: 'a file cannot be parsed at all (truncated, not XPT/Parquet/PSV, unreadable)',
  AEP_IMPORT_UNKNOWN_COLUMN: 'a file has a column the mapping does not know',
  AEP_IMPORT_MISSING_COLUMN: 'a file lacks a column the mapping needs',
  AEP_IMPORT_BAD_DATE: 'a date is not ISO 8601 (complete or partial) or is impossible',
  AEP_IMPORT_BAD_VALUE: 'a value cannot be read as its column requires (number, code, unit)',
  AEP_IMPORT_UNKNOWN_PATIENT: 'a record names a subject that is not in DM',
  AEP_IMPORT_CONTRACT: 'a produced message still breaks its topic contract after the documented repairs',
  AEP_IMPORT_USAGE: 'an importer option is invalid',
} as const;

export type ImportErrorCode = keyof typeof IMPORT_ERRORS;

/** Where an input problem sits: the file and, for a row problem, the 1-based row (0 = header). */
export interface Where {
  file: string;
  row?: number;
  column?: string;
}

export function where(w: Where): string {
  const row = w.row === undefined ? '' : w.row === 0 ? ', header' : `, row ${w.row}`;
  const col = w.column === undefined ? '' : `, column ${w.column}`;
  return `${w.file}${row}${col}`;
}

/** An input problem in one row (skippable) or one whole file. */
export class ImportError extends AepredError {
  readonly where: Where;
  /** True when the rest of the file can still be read if the row is skipped. */
  readonly rowLevel: boolean;

  constructor(
    code: ImportErrorCode,
    w: Where,
    message: string,
    opts: { rowLevel?: boolean; cause?: unknown } = {},
  ) {
    super(code, `${where(w)}: ${message}`, {
      kind: code === 'AEP_IMPORT_NO_DIR' || code === 'AEP_IMPORT_USAGE' ? 'usage' : 'operational',
      ...(opts.cause === undefined ? {} : { cause: opts.cause }),
    });
    this.where = w;
    this.rowLevel = opts.rowLevel ?? w.row !== undefined;
  }
}

export function isImportError(e: unknown): e is ImportError {
  return e instanceof ImportError;
}
