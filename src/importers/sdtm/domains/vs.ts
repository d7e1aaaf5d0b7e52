import type { PatientVitals } from '../../../contracts/types.js';
import { imputeStart, type ParsedDate } from '../../core/dates.js';
import { ImportError } from '../../core/errors.js';
import { uuidv5 } from '../../core/ids.js';
import {
  type Cells,
  type DomainContext,
  eachRow,
  envelope,
  imputationFlags,
  type Subject,
} from '../context.js';

type Measurement =
  | {
      field:
        | 'heart_rate'
        | 'blood_pressure_systolic'
        | 'blood_pressure_diastolic'
        | 'spo2'
        | 'respiratory_rate';
    }
  | { field: 'temperature'; unitField: 'temperature_unit'; units: Readonly<Record<string, 'C' | 'F'>> }
  | { field: 'weight'; unitField: 'weight_unit'; units: Readonly<Record<string, 'kg' | 'LB'>> }
  | { field: 'height'; unitField: 'height_unit'; units: Readonly<Record<string, 'cm' | 'IN'>> };

/** VSTESTCD -> field, with the original units each accepts (CDISC unit codelist spellings). */
const TESTS: Readonly<Record<string, { m: Measurement; units?: readonly string[] }>> = {
  PULSE: { m: { field: 'heart_rate' }, units: ['BEATS/MIN', 'beats/min', 'bpm'] },
  HR: { m: { field: 'heart_rate' }, units: ['BEATS/MIN', 'beats/min', 'bpm'] },
  SYSBP: { m: { field: 'blood_pressure_systolic' }, units: ['mmHg'] },
  DIABP: { m: { field: 'blood_pressure_diastolic' }, units: ['mmHg'] },
  OXYSAT: { m: { field: 'spo2' }, units: ['%'] },
  RESP: { m: { field: 'respiratory_rate' }, units: ['BREATHS/MIN', 'breaths/min'] },
  TEMP: { m: { field: 'temperature', unitField: 'temperature_unit', units: { C: 'C', F: 'F' } } },
  WEIGHT: { m: { field: 'weight', unitField: 'weight_unit', units: { kg: 'kg', LB: 'LB' } } },
  HEIGHT: { m: { field: 'height', unitField: 'height_unit', units: { cm: 'cm', IN: 'IN' } } },
};

interface Group {
  key: string;
  subject: Subject;
  firstSeq: string;
  date: ParsedDate;
  dateText: string;
  visitNum: number;
  tptNum: number;
  position: string | null;
  visit: string | null;
  row: number;
  values: Array<{ m: Measurement; value: number; unit: string | null }>;
}

/**
 * VS -> patient-vitals. The rows of one measurement set (subject, visit, date, time point,
 * position) make one message, original units kept. VSDTC has no time in the pilot, so every set of
 * a day is given the imputed time 00:00 plus its rank that day in minutes (by visit, then time
 * point, untimed first): the order is the protocol's, and no two sets share a timestamp.
 */
export async function mapVs(ctx: DomainContext): Promise<void> {
  const groups = new Map<string, Group>();
  await eachRow(ctx, (c) => {
    collect(ctx, c, groups);
    return undefined;
  });
  const byDay = new Map<string, Group[]>();
  for (const g of groups.values()) {
    const day = `${g.subject.patientId}|${g.dateText.slice(0, 10)}`;
    const list = byDay.get(day) ?? [];
    list.push(g);
    byDay.set(day, list);
  }
  for (const list of byDay.values()) {
    list.sort(
      (a, b) =>
        a.visitNum - b.visitNum || a.tptNum - b.tptNum || (a.position ?? '').localeCompare(b.position ?? ''),
    );
    for (let rank = 0; rank < list.length; rank++) {
      const p = emitGroup(ctx, list[rank]!, rank);
      if (p !== undefined) await p;
    }
  }
}

function collect(ctx: DomainContext, c: Cells, groups: Map<string, Group>): void {
  const subject = c.subject(ctx.subjects);
  const test = c.need('VSTESTCD');
  const spec = TESTS[test];
  if (spec === undefined) {
    ctx.run.drop(`patient-vitals.unmapped_test.${test}`);
    return;
  }
  const raw = c.str('VSORRES');
  if (raw === null || c.str('VSSTAT') === 'NOT DONE') {
    ctx.run.drop('patient-vitals.not_done');
    return;
  }
  const value = c.num('VSORRES');
  if (value === null) return;
  const unit = c.str('VSORRESU');
  if ('units' in spec.m) {
    if (unit === null || spec.m.units[unit] === undefined) {
      throw new ImportError(
        'AEP_IMPORT_BAD_VALUE',
        c.where('VSORRESU'),
        `${test} unit "${unit ?? ''}" is not one of ${Object.keys(spec.m.units).join(', ')}`,
      );
    }
  } else if (unit !== null && spec.units !== undefined && !spec.units.includes(unit)) {
    throw new ImportError(
      'AEP_IMPORT_BAD_VALUE',
      c.where('VSORRESU'),
      `${test} unit "${unit}" is not one of ${spec.units.join(', ')}`,
    );
  }
  const dateText = c.str('VSDTC');
  const date = c.date('VSDTC');
  if (date === null || dateText === null) {
    ctx.run.drop('patient-vitals.no_date');
    return;
  }
  const visitNum = c.num('VISITNUM') ?? 0;
  const tptNum = c.num('VSTPTNUM') ?? -1;
  const position = c.str('VSPOS');
  const key = `${subject.patientId}|${visitNum}|${dateText}|${tptNum}|${position ?? ''}`;
  let g = groups.get(key);
  if (g === undefined) {
    g = {
      key,
      subject,
      firstSeq: c.need('VSSEQ'),
      date,
      dateText,
      visitNum,
      tptNum,
      position,
      visit: c.str('VISIT'),
      row: c.row,
      values: [],
    };
    groups.set(key, g);
  }
  if (g.values.some((v) => v.m.field === spec.m.field)) {
    throw new ImportError(
      'AEP_IMPORT_BAD_VALUE',
      c.where('VSTESTCD'),
      `${test} measured twice in one measurement set (${key})`,
    );
  }
  g.values.push({ m: spec.m, value, unit });
}

function emitGroup(ctx: DomainContext, g: Group, rank: number): Promise<void> | undefined {
  const at = imputeStart(g.date);
  const timed = at.imputation === 'none';
  const ms = timed ? at.ms : at.ms + rank * 60_000;
  const env = envelope(g.subject, 'VS', g.firstSeq);
  const msg: PatientVitals = {
    event_id: uuidv5(`${env.correlation_id}:${g.key}`),
    ...env,
    ...imputationFlags(at),
    timestamp: `${new Date(ms).toISOString().slice(0, 19)}Z`,
    heart_rate: null,
    blood_pressure_systolic: null,
    blood_pressure_diastolic: null,
    temperature: null,
    spo2: null,
  };
  for (const v of g.values) {
    const m = v.m;
    if (m.field === 'temperature') {
      msg.temperature = v.value;
      msg.temperature_unit = m.units[v.unit ?? '']!;
    } else if (m.field === 'weight') {
      msg.weight = v.value;
      msg.weight_unit = m.units[v.unit ?? '']!;
    } else if (m.field === 'height') {
      msg.height = v.value;
      msg.height_unit = m.units[v.unit ?? '']!;
    } else msg[m.field] = v.value;
  }
  if (g.position !== null && /^[A-Z][A-Z -]{0,39}$/.test(g.position)) msg.position = g.position;
  if (g.visit !== null) msg.visit = g.visit;
  return ctx.run.emit('patient-vitals', msg, { file: ctx.table.file, row: g.row });
}
