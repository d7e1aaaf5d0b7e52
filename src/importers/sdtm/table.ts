import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { ImportError } from '../core/errors.js';
import { readXpt } from '../xpt/reader.js';

/** A cell as the mappings see it: both formats normalise to this, so they map identically. */
export type Cell = string | number | null;
export type Row = Readonly<Record<string, Cell>>;

export type TableFormat = 'parquet' | 'xpt';

export interface Table {
  readonly domain: string;
  readonly file: string;
  readonly format: TableFormat;
  readonly columns: readonly string[];
  /** Rows in file order, `row` 1-based. */
  readonly rows: ReadonlyArray<{ row: number; values: Row }>;
}

/** The file for a domain in `dir` under the chosen format, or undefined when there is none. */
export function findDomainFile(
  dir: string,
  domain: string,
  format: 'auto' | TableFormat,
): { file: string; format: TableFormat } | undefined {
  const order: TableFormat[] = format === 'auto' ? ['parquet', 'xpt'] : [format];
  for (const f of order) {
    const file = resolve(dir, `${domain.toLowerCase()}.${f}`);
    if (existsSync(file)) return { file, format: f };
  }
  return undefined;
}

/**
 * Reads a whole domain (SDTM domains are small: the largest pilot domain, LB, is 60k rows). Empty
 * strings and SAS missing values (., .A-.Z, ._) become null; trailing blanks are padding.
 */
export async function readTable(domain: string, file: string, format: TableFormat): Promise<Table> {
  return format === 'xpt' ? readXptTable(domain, file) : readParquetTable(domain, file);
}

function normalise(v: unknown): Cell {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') {
    const s = v.trimEnd();
    return s === '' ? null : s;
  }
  if (typeof v === 'number') return Number.isNaN(v) ? null : v;
  if (typeof v === 'bigint') return Number(v);
  // A SAS missing value ({ missing: '.' }) or anything else a mapping cannot use.
  return null;
}

function readXptTable(domain: string, file: string): Table {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    throw new ImportError('AEP_IMPORT_CORRUPT_FILE', { file }, `cannot read: ${(e as Error).message}`, {
      rowLevel: false,
      cause: e,
    });
  }
  let lib: ReturnType<typeof readXpt>;
  try {
    lib = readXpt(buf);
  } catch (e) {
    throw new ImportError(
      'AEP_IMPORT_CORRUPT_FILE',
      { file },
      `not a readable SAS transport (XPT v5) file: ${(e as Error).message}`,
      {
        rowLevel: false,
        cause: e,
      },
    );
  }
  const member = lib.members.find((m) => m.name.toUpperCase() === domain) ?? lib.members[0]!;
  const rows: Array<{ row: number; values: Row }> = [];
  for (const r of member.rows()) {
    const values: Record<string, Cell> = {};
    for (const [k, v] of Object.entries(r.values)) values[k] = normalise(v);
    rows.push({ row: r.row, values });
  }
  return { domain, file, format: 'xpt', columns: member.variables.map((v) => v.name), rows };
}

async function readParquetTable(domain: string, file: string): Promise<Table> {
  try {
    const buffer = await asyncBufferFromFile(file);
    const metadata = await parquetMetadataAsync(buffer);
    const columns = metadata.schema.slice(1).map((s) => s.name);
    const objects = await parquetReadObjects({ file: buffer, metadata });
    const rows = objects.map((o, i) => {
      const values: Record<string, Cell> = {};
      for (const c of columns) values[c] = normalise(o[c]);
      return { row: i + 1, values };
    });
    return { domain, file, format: 'parquet', columns, rows };
  } catch (e) {
    if (e instanceof ImportError) throw e;
    throw new ImportError(
      'AEP_IMPORT_CORRUPT_FILE',
      { file },
      `not a readable Parquet file: ${(e as Error).message}`,
      {
        rowLevel: false,
        cause: e,
      },
    );
  }
}
