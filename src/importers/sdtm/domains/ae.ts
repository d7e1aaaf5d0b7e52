import type { AdverseEvent, Severity } from '../../../contracts/types.js';
import { imputeEnd, imputeStart } from '../../core/dates.js';
import { ImportError } from '../../core/errors.js';
import { uuidv5 } from '../../core/ids.js';
import { type DomainContext, eachRow, envelope, imputationFlags } from '../context.js';

const SEVERITY: Readonly<Record<string, Severity>> = { MILD: 'mild', MODERATE: 'moderate', SEVERE: 'severe' };
const GRADE = new Set([1, 2, 3, 4, 5]);

/**
 * AE -> adverse-events: AESTDTC -> event_timestamp (partial dates imputed, see dates.ts), AESEV ->
 * severity, AETOXGR -> ctcae_grade, AESER -> serious, AEDECOD -> event_type, AETERM -> term,
 * AEENDTC -> end_timestamp. The report time is the AE's collection date AEDTC, never before onset.
 */
export async function mapAe(ctx: DomainContext): Promise<void> {
  await eachRow(ctx, (c) => {
    const subject = c.subject(ctx.subjects);
    const seq = c.need('AESEQ');
    const startDate = c.date('AESTDTC');
    if (startDate === null) {
      ctx.run.drop('adverse-events.no_onset_date');
      return undefined;
    }
    const endDate = c.date('AEENDTC');
    const end = endDate === null ? undefined : imputeEnd(endDate);
    const start = imputeStart(startDate, subject.referenceStartMs, end?.ms);
    const sevText = c.need('AESEV');
    const severity = SEVERITY[sevText.toUpperCase()];
    if (severity === undefined) {
      throw new ImportError(
        'AEP_IMPORT_BAD_VALUE',
        c.where('AESEV'),
        `AESEV "${sevText}" is not MILD, MODERATE or SEVERE`,
      );
    }
    const serious = c.str('AESER');
    if (serious !== null && serious !== 'Y' && serious !== 'N') {
      throw new ImportError('AEP_IMPORT_BAD_VALUE', c.where('AESER'), `AESER "${serious}" is not Y or N`);
    }
    const collected = c.date('AEDTC');
    const reportMs = collected === null ? start.ms : Math.max(imputeStart(collected).ms, start.ms);
    const grade = c.num('AETOXGR');
    const env = envelope(subject, 'AE', seq);
    const ae: AdverseEvent = {
      event_id: uuidv5(env.correlation_id),
      ...env,
      ...imputationFlags(start),
      event_timestamp: start.iso,
      report_timestamp: `${new Date(reportMs).toISOString().slice(0, 19)}Z`,
      event_type: c.str('AEDECOD') ?? c.need('AETERM'),
      term: c.need('AETERM'),
      severity,
      reported_by: `site:${subject.siteId}:investigator`,
    };
    if (grade !== null) {
      if (!GRADE.has(grade))
        throw new ImportError('AEP_IMPORT_BAD_VALUE', c.where('AETOXGR'), `AETOXGR ${grade} is not 1-5`);
      ae.ctcae_grade = grade as 1 | 2 | 3 | 4 | 5;
    }
    if (serious !== null) ae.serious = serious === 'Y';
    if (end !== undefined) {
      ae.end_timestamp = end.iso;
      ae.end_date_imputation = end.imputation;
    }
    return ctx.run.emit('adverse-events', ae, c.where());
  });
}
