import { statSync } from 'node:fs';
import { ImportError } from '../core/errors.js';
import type { ImportRun } from '../core/run.js';
import { DOMAIN_COLUMNS, DOMAIN_ORDER, type ImportedDomain } from './columns.js';
import type { DomainContext, Subject } from './context.js';
import { mapAe } from './domains/ae.js';
import { mapDm } from './domains/dm.js';
import { mapLb } from './domains/lb.js';
import { mapCm, mapEx } from './domains/medications.js';
import { mapVs } from './domains/vs.js';
import { findDomainFile, readTable, type Table, type TableFormat } from './table.js';

export type FormatChoice = 'auto' | TableFormat;

export function parseFormat(v: unknown): FormatChoice {
  if (v === undefined) return 'auto';
  if (v === 'auto' || v === 'parquet' || v === 'xpt') return v;
  throw new ImportError(
    'AEP_IMPORT_USAGE',
    { file: '--format' },
    `must be auto, parquet or xpt (got "${String(v)}")`,
  );
}

export interface SdtmOptions {
  format?: FormatChoice;
  /** Called with each domain file as it is read. */
  onDomain?: (domain: ImportedDomain, file: string) => void;
}

const MAPPERS: Readonly<Record<Exclude<ImportedDomain, 'DM'>, (ctx: DomainContext) => Promise<void>>> = {
  VS: mapVs,
  LB: mapLb,
  CM: mapCm,
  EX: mapEx,
  AE: mapAe,
};

function checkColumns(table: Table, domain: ImportedDomain): void {
  const spec = DOMAIN_COLUMNS[domain];
  for (const c of table.columns) {
    if (!spec.known.has(c)) {
      throw new ImportError(
        'AEP_IMPORT_UNKNOWN_COLUMN',
        { file: table.file, row: 0, column: c },
        `unknown ${domain} variable "${c}"`,
        {
          rowLevel: false,
        },
      );
    }
  }
  for (const c of spec.required) {
    if (!table.columns.includes(c)) {
      throw new ImportError(
        'AEP_IMPORT_MISSING_COLUMN',
        { file: table.file, row: 0, column: c },
        `${domain} lacks required variable "${c}"`,
        {
          rowLevel: false,
        },
      );
    }
  }
}

/**
 * Imports the SDTM domains found in `dir` (DM required; VS, LB, CM, EX, AE where present), each
 * from <domain>.parquet or <domain>.xpt. DM goes first: its subjects give every other message its
 * trial, site and reference start, and enrollment is written before any event.
 */
/** Checks the directory and finds the domain files, failing before any work when DM is missing. */
export function locateDomains(
  dir: string,
  format: FormatChoice,
): Array<{ domain: ImportedDomain; file: string; format: TableFormat }> {
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
  } catch (e) {
    throw new ImportError(
      'AEP_IMPORT_NO_DIR',
      { file: dir },
      `cannot read the input directory: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  const found = DOMAIN_ORDER.flatMap((domain) => {
    const f = findDomainFile(dir, domain, format);
    return f === undefined ? [] : [{ domain, ...f }];
  });
  if (found[0]?.domain !== 'DM') {
    throw new ImportError(
      'AEP_IMPORT_NO_INPUT',
      { file: dir },
      `no dm.${format === 'auto' ? 'parquet or dm.xpt' : format} here (DM is required)`,
    );
  }
  return found;
}

/**
 * Imports the SDTM domains found in `dir` (DM required; VS, LB, CM, EX, AE where present), each
 * from <domain>.parquet or <domain>.xpt. DM goes first: its subjects give every other message its
 * trial, site and reference start, and enrollment is written before any event.
 */
export async function importSdtm(dir: string, run: ImportRun, opts: SdtmOptions = {}): Promise<void> {
  const subjects = new Map<string, Subject>();
  for (const found of locateDomains(dir, opts.format ?? 'auto')) {
    const domain = found.domain;
    opts.onDomain?.(domain, found.file);
    run.summary.files++;
    let table: Table;
    try {
      table = await readTable(domain, found.file, found.format);
      checkColumns(table, domain);
    } catch (e) {
      // DM cannot be skipped: without subjects nothing else maps.
      if (!(e instanceof ImportError) || domain === 'DM') throw e;
      run.problem(e);
      continue;
    }
    const ctx: DomainContext = { run, table, subjects };
    if (domain === 'DM') {
      const records = await mapDm(ctx, subjects);
      await run.enroll(records, { file: found.file });
    } else {
      await MAPPERS[domain](ctx);
    }
  }
}
