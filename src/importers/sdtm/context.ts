import type { DateImputation } from '../../contracts/types.js';
import { type ImputedDate, type ParsedDate, parseDtc } from '../core/dates.js';
import { ImportError } from '../core/errors.js';
import type { ImportRun } from '../core/run.js';
import type { Row, Table } from './table.js';

/** What every domain needs to know about a subject, from DM. */
export interface Subject {
  patientId: string;
  trialId: string;
  siteId: string;
  /** RFSTDTC as an instant (first dose), when known. */
  referenceStartMs?: number;
}

export interface DomainContext {
  run: ImportRun;
  table: Table;
  subjects: ReadonlyMap<string, Subject>;
}

/** Typed access to one row's cells; every failure names file, row and column. */
export class Cells {
  readonly #row: Row;
  readonly #file: string;
  readonly #index: number;

  constructor(table: Table, row: number, values: Row) {
    this.#row = values;
    this.#file = table.file;
    this.#index = row;
  }

  get row(): number {
    return this.#index;
  }

  where(column?: string): { file: string; row: number; column?: string } {
    return column === undefined
      ? { file: this.#file, row: this.#index }
      : { file: this.#file, row: this.#index, column };
  }

  /** A string cell (numbers are formatted, as SAS would print an integer); null when empty. */
  str(column: string): string | null {
    const v = this.#row[column];
    if (v === null || v === undefined) return null;
    return typeof v === 'string' ? v : String(v);
  }

  need(column: string): string {
    const v = this.str(column);
    if (v === null) throw new ImportError('AEP_IMPORT_BAD_VALUE', this.where(column), `${column} is empty`);
    return v;
  }

  num(column: string): number | null {
    const v = this.#row[column];
    if (v === null || v === undefined) return null;
    if (typeof v === 'number') return v;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) {
      throw new ImportError('AEP_IMPORT_BAD_VALUE', this.where(column), `${column} "${v}" is not a number`);
    }
    return n;
  }

  /** A numeric result column that may hold text (LBORRES "N", "<0.2"): null when it is not a number. */
  maybeNum(column: string): number | null {
    const v = this.#row[column];
    if (typeof v === 'number') return v;
    if (typeof v !== 'string' || v.trim() === '') return null;
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  }

  date(column: string): ParsedDate | null {
    const v = this.str(column);
    if (v === null) return null;
    const p = parseDtc(v);
    if (typeof p === 'string') throw new ImportError('AEP_IMPORT_BAD_DATE', this.where(column), p);
    return p;
  }

  subject(subjects: ReadonlyMap<string, Subject>): Subject {
    const id = this.need('USUBJID');
    const s = subjects.get(id);
    if (s === undefined) {
      throw new ImportError(
        'AEP_IMPORT_UNKNOWN_PATIENT',
        this.where('USUBJID'),
        `subject ${id} is not in DM`,
      );
    }
    return s;
  }
}

/** The envelope fields an SDTM record gives every message. */
export function envelope(subject: Subject, domain: string, key: string) {
  return {
    correlation_id: `${subject.trialId}:${domain}:${subject.patientId}:${key}`,
    schema_version: '1.0' as const,
    patient_id: subject.patientId,
    source: `${subject.trialId.toLowerCase()}:${domain.toLowerCase()}`,
    trial_id: subject.trialId,
    site_id: subject.siteId,
  };
}

export function imputationFlags(d: ImputedDate): {
  timestamp_imputed: boolean;
  date_imputation: DateImputation;
} {
  return { timestamp_imputed: d.imputation !== 'none', date_imputation: d.imputation };
}

/** Iterates a table's rows as Cells, applying the --on-error policy to each failing row. */
export async function eachRow(
  ctx: DomainContext,
  body: (c: Cells) => Promise<void> | undefined,
): Promise<void> {
  for (const r of ctx.table.rows) {
    ctx.run.summary.rows++;
    try {
      const p = body(new Cells(ctx.table, r.row, r.values));
      if (p !== undefined) await p;
    } catch (e) {
      if (!(e instanceof ImportError)) throw e;
      ctx.run.problem(e);
    }
  }
}
