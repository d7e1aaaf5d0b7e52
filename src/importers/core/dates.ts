import type { DateImputation } from '../../contracts/types.js';

/**
 * ISO 8601 dates as SDTM writes them (--DTC): complete or right-truncated, no time zone.
 *
 *   2014-01-02T14:45:30  2014-01-02T14:45  2014-01-02T14  2014-01-02  2014-01  2014
 *
 * Times carry no zone in SDTM; we read them as UTC (the study's local clock, kept as is).
 * Imputation rule for a partial date (docs/importers.md, "Partial dates"):
 *   - a start (onset, first dose, collection) takes the earliest instant the partial date allows:
 *     missing seconds/minutes/time -> 00, missing day -> 1st, missing month -> January;
 *     for an AE onset, when the subject's reference start (RFSTDTC) falls inside the partial
 *     period and after its first instant, the reference start is used instead (the usual ADaM rule:
 *     an event in the month treatment started is counted as treatment-emergent), unless that would
 *     put the onset after the AE's own end;
 *   - an end takes the latest instant: 23:59:59 of the last day of the period.
 * The flag says what was imputed: 'none' (minutes or better were known), 'time' (the date was
 * known), 'day' (year and month), 'month' (only the year).
 */
export interface ParsedDate {
  year: number;
  month?: number;
  day?: number;
  hour?: number;
  minute?: number;
  second?: number;
}

export interface ImputedDate {
  /** RFC 3339 UTC, seconds precision: 2014-01-02T00:00:00Z. */
  iso: string;
  ms: number;
  imputation: DateImputation;
}

const DTC = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.\d+)?)?)?)?)?)?$/;

/** Parses an SDTM date; returns a reason string when it is not one. */
export function parseDtc(text: string): ParsedDate | string {
  const m = DTC.exec(text);
  if (m === null) return `"${text}" is not an ISO 8601 date (YYYY[-MM[-DD[Thh[:mm[:ss]]]]])`;
  const p: ParsedDate = { year: Number(m[1]) };
  if (m[2] !== undefined) p.month = Number(m[2]);
  if (m[3] !== undefined) p.day = Number(m[3]);
  if (m[4] !== undefined) p.hour = Number(m[4]);
  if (m[5] !== undefined) p.minute = Number(m[5]);
  if (m[6] !== undefined) p.second = Number(m[6]);
  if (p.year < 1800) return `"${text}": year ${p.year} is before 1800`;
  if (p.month !== undefined && (p.month < 1 || p.month > 12))
    return `"${text}": month ${p.month} does not exist`;
  if (p.day !== undefined && p.month !== undefined && (p.day < 1 || p.day > daysIn(p.year, p.month))) {
    return `"${text}": day ${p.day} does not exist in ${p.year}-${pad(p.month)}`;
  }
  if (p.hour !== undefined && p.hour > 23) return `"${text}": hour ${p.hour} does not exist`;
  if (p.minute !== undefined && p.minute > 59) return `"${text}": minute ${p.minute} does not exist`;
  if (p.second !== undefined && p.second > 59) return `"${text}": second ${p.second} does not exist`;
  return p;
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function imputationOf(p: ParsedDate): DateImputation {
  if (p.month === undefined) return 'month';
  if (p.day === undefined) return 'day';
  if (p.minute === undefined) return 'time';
  return 'none';
}

function toIso(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

/** Earliest instant of the period; `reference` (ms) replaces it when it lies inside the period. */
export function imputeStart(p: ParsedDate, reference?: number, notAfter?: number): ImputedDate {
  const first = Date.UTC(p.year, (p.month ?? 1) - 1, p.day ?? 1, p.hour ?? 0, p.minute ?? 0, p.second ?? 0);
  let ms = first;
  const imputation = imputationOf(p);
  if (reference !== undefined && imputation !== 'none' && imputation !== 'time') {
    const last = imputeEnd(p).ms;
    if (reference > first && reference <= last && (notAfter === undefined || reference <= notAfter))
      ms = reference;
  }
  return { iso: toIso(ms), ms, imputation };
}

/** Latest instant of the period (23:59:59 of its last day). */
export function imputeEnd(p: ParsedDate): ImputedDate {
  const month = p.month ?? 12;
  const day = p.day ?? daysIn(p.year, month);
  const hour = p.hour ?? 23;
  // Minute precision counts as complete (imputation 'none'): seconds stay 00 as for a start.
  const minute = p.minute ?? 59;
  const second = p.second ?? (p.minute === undefined ? 59 : 0);
  const ms = Date.UTC(p.year, month - 1, day, hour, minute, second);
  return { iso: toIso(ms), ms, imputation: imputationOf(p) };
}

/** The calendar date (YYYY-MM-DD) of a complete-enough date, for the enrollment table. */
export function calendarDate(p: ParsedDate): string | undefined {
  if (p.month === undefined || p.day === undefined) return undefined;
  return `${p.year}-${pad(p.month)}-${pad(p.day)}`;
}
