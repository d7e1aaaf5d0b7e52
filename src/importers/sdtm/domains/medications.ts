import type { Medication } from '../../../contracts/types.js';
import { imputeEnd, imputeStart } from '../../core/dates.js';
import { uuidv5 } from '../../core/ids.js';
import { type Cells, type DomainContext, eachRow, envelope, imputationFlags } from '../context.js';

/** Coding placeholders that are not a drug name or class. */
const UNCODED = new Set(['UNCODED', 'NOT CODED', 'UNKNOWN']);

function coded(v: string | null): string | null {
  return v === null || UNCODED.has(v.toUpperCase()) ? null : v;
}

function withEnd(msg: Medication, c: Cells, column: string): void {
  const d = c.date(column);
  if (d === null) return;
  const end = imputeEnd(d);
  msg.end_timestamp = end.iso;
  msg.end_date_imputation = end.imputation;
}

/**
 * CM -> medications: CMDECOD (CMTRT where uncoded) -> drug_name, CMDOSE/CMDOSU/CMROUTE/CMDOSFRQ as
 * given (null where empty), CMSTDTC -> timestamp, CMENDTC -> end_timestamp, CMCLAS, CMINDC. A
 * record without CMSTDTC starts at its collection date CMDTC, flagged timestamp_imputed.
 */
export async function mapCm(ctx: DomainContext): Promise<void> {
  await eachRow(ctx, (c) => {
    const subject = c.subject(ctx.subjects);
    const env = envelope(subject, 'CM', c.need('CMSEQ'));
    const startDate = c.date('CMSTDTC');
    const collected = startDate === null ? c.date('CMDTC') : null;
    if (startDate === null && collected === null) {
      ctx.run.drop('medications.no_start_or_collection_date');
      return undefined;
    }
    const msg: Medication = {
      event_id: uuidv5(env.correlation_id),
      ...env,
      timestamp: '',
      drug_name: coded(c.str('CMDECOD')) ?? c.need('CMTRT'),
      dosage: c.num('CMDOSE'),
      unit: c.str('CMDOSU'),
      route: c.str('CMROUTE'),
      frequency: c.str('CMDOSFRQ'),
      action: 'start',
    };
    if (startDate !== null) {
      const start = imputeStart(startDate);
      msg.timestamp = start.iso;
      Object.assign(msg, imputationFlags(start));
    } else if (collected !== null) {
      msg.timestamp = imputeStart(collected).iso;
      msg.timestamp_imputed = true;
      ctx.run.repaired('medications.start_from_collection_date');
    }
    withEnd(msg, c, 'CMENDTC');
    const cls = coded(c.str('CMCLAS'));
    if (cls !== null) msg.drug_class = cls;
    const indication = c.str('CMINDC');
    if (indication !== null) msg.indication = indication;
    const visit = c.str('VISIT');
    if (visit !== null) msg.visit = visit;
    return ctx.run.emit('medications', msg, c.where());
  });
}

/**
 * EX -> medications: one message per exposure record (a dosing period): EXTRT -> drug_name,
 * EXDOSE/EXDOSU/EXROUTE/EXDOSFRQ, EXSTDTC -> timestamp, EXENDTC -> end_timestamp.
 */
export async function mapEx(ctx: DomainContext): Promise<void> {
  await eachRow(ctx, (c) => {
    const subject = c.subject(ctx.subjects);
    const env = envelope(subject, 'EX', c.need('EXSEQ'));
    const startDate = c.date('EXSTDTC');
    if (startDate === null) {
      ctx.run.drop('medications.no_start_date');
      return undefined;
    }
    const start = imputeStart(startDate);
    const msg: Medication = {
      event_id: uuidv5(env.correlation_id),
      ...env,
      ...imputationFlags(start),
      timestamp: start.iso,
      drug_name: c.need('EXTRT'),
      dosage: c.num('EXDOSE'),
      unit: c.str('EXDOSU'),
      route: c.str('EXROUTE'),
      frequency: c.str('EXDOSFRQ'),
      action: 'start',
    };
    withEnd(msg, c, 'EXENDTC');
    const visit = c.str('VISIT');
    if (visit !== null) msg.visit = visit;
    return ctx.run.emit('medications', msg, c.where());
  });
}
