import { readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import {
  type AdverseEvent,
  type EnrollmentRecord,
  type LabResult,
  type PatientVitals,
  SCHEMA_VERSION,
} from '../../contracts/types.js';
import { ImportError, type Where } from '../core/errors.js';
import { uuidv5 } from '../core/ids.js';
import type { ImportRun } from '../core/run.js';
import {
  ALL_COLUMNS,
  DEFAULT_ANCHOR,
  DEFAULT_REPORT_DELAY_HOURS,
  LABEL,
  LABS,
  SEPSIS_LABEL_LEAD_HOURS,
  VITALS,
  type VitalField,
} from './mapping.js';

export const SOURCE = 'physionet2019';
const HOUR_MS = 3_600_000;
const ENROLLMENT_BATCH = 500;
const READ_AHEAD = 32;

export interface PhysionetOptions {
  /** Import only the first N stays (files in name order). */
  limit?: number;
  /** Instant of ICU admission (ICULOS 0) for every stay. */
  anchor?: string;
  /** Hours from sepsis onset to its report. */
  reportDelayHours?: number;
  /** Called after each stay (progress bars). */
  onFile?: (file: string) => void;
}

const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z$/;

/** Validates the options up front (the CLI calls it before opening a sink). */
export function checkPhysionetOptions(opts: PhysionetOptions): { anchorMs: number; delay: number } {
  const anchor = opts.anchor ?? DEFAULT_ANCHOR;
  const anchorMs = Date.parse(anchor);
  if (!INSTANT.test(anchor) || Number.isNaN(anchorMs)) {
    throw new ImportError(
      'AEP_IMPORT_USAGE',
      { file: '--anchor' },
      `"${anchor}" is not a UTC instant like ${DEFAULT_ANCHOR}`,
    );
  }
  const delay = opts.reportDelayHours ?? DEFAULT_REPORT_DELAY_HOURS;
  if (!Number.isFinite(delay) || delay < 0) {
    throw new ImportError(
      'AEP_IMPORT_USAGE',
      { file: '--report-delay-hours' },
      `must be a number >= 0 (got ${delay})`,
    );
  }
  return { anchorMs, delay };
}

/** Lists the stays to import, in name order, failing clearly on a missing or empty directory. */
export function listStays(dir: string, limit?: number): string[] {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    names = readdirSync(dir);
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
  const files = names.filter((n) => n.endsWith('.psv')).sort();
  if (files.length === 0)
    throw new ImportError('AEP_IMPORT_NO_INPUT', { file: dir }, 'no .psv file (one per ICU stay) here');
  return limit === undefined ? files : files.slice(0, limit);
}

/** Column positions of one file's header; every column must be one of the challenge's 41. */
interface Layout {
  vitals: Array<{ index: number; field: VitalField }>;
  labs: Array<{ index: number; column: string; unit: string }>;
  age: number;
  gender: number;
  unit1: number;
  unit2: number;
  iculos: number;
  label: number;
  width: number;
}

const KNOWN = new Set(ALL_COLUMNS);

function layoutOf(header: string, file: string): Layout {
  const cols = header.split('|');
  const index = new Map<string, number>();
  cols.forEach((c, i) => {
    if (!KNOWN.has(c)) {
      throw new ImportError(
        'AEP_IMPORT_UNKNOWN_COLUMN',
        { file, row: 0, column: c },
        `unknown column "${c}" (the challenge's files have ${ALL_COLUMNS.length} known columns)`,
        { rowLevel: false },
      );
    }
    if (index.has(c)) {
      throw new ImportError(
        'AEP_IMPORT_CORRUPT_FILE',
        { file, row: 0, column: c },
        `column "${c}" appears twice`,
        {
          rowLevel: false,
        },
      );
    }
    index.set(c, i);
  });
  const need = (c: string): number => {
    const i = index.get(c);
    if (i === undefined) {
      throw new ImportError(
        'AEP_IMPORT_MISSING_COLUMN',
        { file, row: 0, column: c },
        `required column "${c}" is missing`,
        {
          rowLevel: false,
        },
      );
    }
    return i;
  };
  return {
    vitals: VITALS.flatMap((v) =>
      index.has(v.column) ? [{ index: index.get(v.column)!, field: v.field }] : [],
    ),
    labs: LABS.flatMap((l) =>
      index.has(l.column) ? [{ index: index.get(l.column)!, column: l.column, unit: l.unit }] : [],
    ),
    age: need('Age'),
    gender: need('Gender'),
    unit1: index.get('Unit1') ?? -1,
    unit2: index.get('Unit2') ?? -1,
    iculos: need('ICULOS'),
    label: need(LABEL),
    width: cols.length,
  };
}

/** 'NaN' (the challenge's missing value) and '' are null; anything else must be a finite number. */
function cell(
  fields: readonly string[],
  i: number,
  file: string,
  row: number,
  layoutCols: string,
): number | null {
  const s = fields[i];
  if (s === undefined || s === 'NaN' || s === '') return null;
  const v = Number(s);
  if (!Number.isFinite(v)) {
    throw new ImportError(
      'AEP_IMPORT_BAD_VALUE',
      { file, row, column: layoutCols },
      `"${s}" is not a number`,
    );
  }
  return v;
}

function isoAt(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

/** Site identifier: the training set (hospital system) and, where the file says, the ICU type. */
function siteOf(setName: string, unit1: number | null, unit2: number | null): string {
  if (unit1 === 1) return `${setName}-micu`;
  if (unit2 === 1) return `${setName}-sicu`;
  return setName;
}

export function setNameOf(dir: string): string {
  const m = /set([A-Za-z0-9]+)$/.exec(basename(resolve(dir)));
  if (m !== null) return `set${m[1]}`;
  return (
    basename(resolve(dir))
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '') || 'set'
  );
}

/**
 * Imports every stay (one .psv file each) in `dir`: vitals per hour to patient-vitals, each lab
 * value to lab-results, demographics to enrollment, sepsis onset to adverse-events.
 */
export async function importPhysionet(
  dir: string,
  run: ImportRun,
  opts: PhysionetOptions = {},
): Promise<void> {
  const { anchorMs, delay } = checkPhysionetOptions(opts);
  const files = listStays(dir, opts.limit);
  const setName = setNameOf(dir);
  // Stays go out in batches, enrollment first: a consumer that checks patients against the
  // enrollment table (ingest) never sees an event before its patient.
  const pending: EnrollmentRecord[] = [];
  const outbox: Outgoing[] = [];
  const send = async (): Promise<void> => {
    if (pending.length > 0) await run.enroll(pending.splice(0), { file: dir });
    await emitAll(run, outbox.splice(0));
  };
  // Reads run ahead of parsing so file I/O overlaps the CPU work (stays are small, a few kB each).
  const reads: Array<Promise<string | Error>> = [];
  const readAhead = (i: number): void => {
    const name = files[i];
    if (name !== undefined)
      reads.push(readFile(resolve(dir, name), 'utf8').catch((e: unknown) => e as Error));
  };
  for (let i = 0; i < READ_AHEAD; i++) readAhead(i);
  for (let i = 0; i < files.length; i++) {
    const name = files[i]!;
    const path = resolve(dir, name);
    const text = await reads.shift()!;
    readAhead(i + READ_AHEAD);
    run.summary.files++;
    try {
      if (text instanceof Error) {
        throw new ImportError('AEP_IMPORT_CORRUPT_FILE', { file: path }, `cannot read: ${text.message}`, {
          rowLevel: false,
          cause: text,
        });
      }
      const rec = importStay(path, name, text, run, { anchorMs, delayMs: delay * HOUR_MS, setName }, outbox);
      if (rec !== undefined) pending.push(rec);
    } catch (e) {
      if (!(e instanceof ImportError)) throw e;
      run.problem(e);
    }
    if (pending.length >= ENROLLMENT_BATCH) await send();
    opts.onFile?.(name);
  }
  await send();
}

/** A parsed message waiting for its patients' enrollment to be written first. */
type Outgoing =
  | { topic: 'patient-vitals'; msg: PatientVitals; at: Where }
  | { topic: 'lab-results'; msg: LabResult; at: Where }
  | { topic: 'adverse-events'; msg: AdverseEvent; at: Where };

async function emitAll(run: ImportRun, out: readonly Outgoing[]): Promise<void> {
  for (const o of out) {
    const p =
      o.topic === 'patient-vitals'
        ? run.emit(o.topic, o.msg, o.at)
        : o.topic === 'lab-results'
          ? run.emit(o.topic, o.msg, o.at)
          : run.emit(o.topic, o.msg, o.at);
    if (p !== undefined) await p;
  }
}

interface StayContext {
  anchorMs: number;
  delayMs: number;
  setName: string;
}

/** Parses one stay into `out`; returns its enrollment record (undefined for a stay without rows). */
function importStay(
  path: string,
  name: string,
  text: string,
  run: ImportRun,
  ctx: StayContext,
  out: Outgoing[],
): EnrollmentRecord | undefined {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const header = (lines[0] ?? '').replace(/\r$/, '');
  if (!header.includes('|')) {
    throw new ImportError(
      'AEP_IMPORT_CORRUPT_FILE',
      { file: path, row: 0 },
      'no pipe-separated header: not a PSV file',
      {
        rowLevel: false,
      },
    );
  }
  const layout = layoutOf(header, path);
  const columns = header.split('|');
  const patientId = name.replace(/\.psv$/, '');
  const correlation = `${SOURCE}:${patientId}`;
  let site: string | undefined;
  let demographics: { age: number; gender: number | null } | undefined;
  let onsetHour: number | undefined;
  let lastHour = Number.NEGATIVE_INFINITY;
  for (let r = 1; r < lines.length; r++) {
    const line = lines[r]!.replace(/\r$/, '');
    run.summary.rows++;
    try {
      const fields = line.split('|');
      if (fields.length !== layout.width) {
        throw new ImportError(
          'AEP_IMPORT_CORRUPT_FILE',
          { file: path, row: r },
          `${fields.length} fields where the header has ${layout.width}`,
        );
      }
      const num = (i: number): number | null => cell(fields, i, path, r, columns[i] ?? String(i));
      const hour = num(layout.iculos);
      if (hour === null || hour < 0 || hour <= lastHour) {
        throw new ImportError(
          'AEP_IMPORT_BAD_VALUE',
          { file: path, row: r, column: 'ICULOS' },
          `ICULOS "${fields[layout.iculos]}" must be a number of hours >= 0 that increases row by row`,
        );
      }
      lastHour = hour;
      if (site === undefined) {
        const age = num(layout.age);
        if (age === null) {
          throw new ImportError(
            'AEP_IMPORT_BAD_VALUE',
            { file: path, row: r, column: 'Age' },
            'Age is missing',
          );
        }
        demographics = { age, gender: num(layout.gender) };
        site = siteOf(
          ctx.setName,
          layout.unit1 >= 0 ? num(layout.unit1) : null,
          layout.unit2 >= 0 ? num(layout.unit2) : null,
        );
      }
      const atMs = ctx.anchorMs + hour * HOUR_MS;
      const timestamp = isoAt(atMs);
      const base = {
        correlation_id: correlation,
        schema_version: SCHEMA_VERSION,
        patient_id: patientId,
        source: SOURCE,
        trial_id: SOURCE,
        site_id: site,
      } as const;
      const vitals: PatientVitals = {
        event_id: uuidv5(`${correlation}:vitals:${hour}`),
        ...base,
        timestamp,
        heart_rate: null,
        blood_pressure_systolic: null,
        blood_pressure_diastolic: null,
        temperature: null,
        temperature_unit: 'C',
        spo2: null,
      };
      let anyVital = false;
      for (const v of layout.vitals) {
        const x = num(v.index);
        vitals[v.field] = x;
        if (x !== null) anyVital = true;
      }
      const labs: LabResult[] = [];
      for (const l of layout.labs) {
        const x = num(l.index);
        if (x === null) continue;
        labs.push({
          event_id: uuidv5(`${correlation}:lab:${hour}:${l.column}`),
          ...base,
          timestamp,
          test_name: l.column,
          value: x,
          unit: l.unit,
          reference_range: { low: null, high: null },
          lab_id: `${SOURCE}-${ctx.setName}`,
        });
      }
      const label = num(layout.label);
      if (label !== null && label !== 0 && label !== 1) {
        throw new ImportError(
          'AEP_IMPORT_BAD_VALUE',
          { file: path, row: r, column: LABEL },
          `SepsisLabel ${label} is not 0 or 1`,
        );
      }
      if (anyVital) out.push({ topic: 'patient-vitals', msg: vitals, at: { file: path, row: r } });
      for (const lab of labs) out.push({ topic: 'lab-results', msg: lab, at: { file: path, row: r } });
      if (label === 1 && onsetHour === undefined) onsetHour = hour + SEPSIS_LABEL_LEAD_HOURS;
    } catch (e) {
      if (!(e instanceof ImportError)) throw e;
      run.problem(e);
    }
  }
  if (site === undefined || demographics === undefined) {
    run.drop('physionet2019.stay_without_rows');
    return undefined;
  }
  if (onsetHour !== undefined) {
    const eventMs = ctx.anchorMs + onsetHour * HOUR_MS;
    const ae: AdverseEvent = {
      event_id: uuidv5(`${correlation}:sepsis`),
      correlation_id: correlation,
      schema_version: SCHEMA_VERSION,
      patient_id: patientId,
      source: SOURCE,
      trial_id: SOURCE,
      site_id: site,
      event_timestamp: isoAt(eventMs),
      report_timestamp: isoAt(eventMs + ctx.delayMs),
      event_type: 'sepsis',
      term: 'Sepsis-3 onset (PhysioNet 2019: first positive SepsisLabel hour + 6 h)',
      severity: 'life_threatening',
      ctcae_grade: 4,
      serious: true,
      reported_by: SOURCE,
    };
    out.push({ topic: 'adverse-events', msg: ae, at: { file: path } });
  }
  return {
    patient_id: patientId,
    trial_id: SOURCE,
    site_id: site,
    arm: null,
    enrollment_date: isoAt(ctx.anchorMs).slice(0, 10),
    age: demographics.age,
    sex: demographics.gender === 1 ? 'M' : demographics.gender === 0 ? 'F' : 'U',
    height_cm: null,
    weight_kg: null,
    comorbidities: [],
    source: SOURCE,
  };
}
