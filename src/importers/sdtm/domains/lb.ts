import type { LabResult } from '../../../contracts/types.js';
import { imputeStart } from '../../core/dates.js';
import { uuidv5 } from '../../core/ids.js';
import { type DomainContext, eachRow, envelope, imputationFlags } from '../context.js';

const SPECIMEN = /^[A-Z][A-Z _-]{0,39}$/;
const IDENTIFIER = /[^A-Za-z0-9._:-]/g;

/**
 * LB -> lab-results in the original units: LBTESTCD -> test_name, LBTEST -> test_description,
 * LBORRES -> value, LBORRESU -> unit, LBORNRLO/LBORNRHI -> reference_range, LBDTC -> timestamp,
 * LBNAM -> lab_id (else "<STUDYID>-central"), LBSPEC -> specimen. Results that are not numbers
 * ("N", "<0.2") have no place in the numeric contract: counted under dropped, not sent.
 */
export async function mapLb(ctx: DomainContext): Promise<void> {
  await eachRow(ctx, (c) => {
    const subject = c.subject(ctx.subjects);
    const raw = c.str('LBORRES');
    if (raw === null || c.str('LBSTAT') === 'NOT DONE') {
      ctx.run.drop('lab-results.not_done');
      return undefined;
    }
    const value = c.maybeNum('LBORRES');
    if (value === null) {
      ctx.run.drop(
        /^[<>]=?\s*[\d.]+$/.test(raw) ? 'lab-results.censored_result' : 'lab-results.non_numeric_result',
      );
      return undefined;
    }
    const unit = c.str('LBORRESU');
    if (unit === null) {
      ctx.run.drop('lab-results.no_unit');
      return undefined;
    }
    const date = c.date('LBDTC');
    if (date === null) {
      ctx.run.drop('lab-results.no_date');
      return undefined;
    }
    const at = imputeStart(date);
    const env = envelope(subject, 'LB', c.need('LBSEQ'));
    const lab = c.str('LBNAM');
    const msg: LabResult = {
      event_id: uuidv5(env.correlation_id),
      ...env,
      ...imputationFlags(at),
      timestamp: at.iso,
      test_name: c.need('LBTESTCD'),
      value,
      unit,
      reference_range: { low: c.maybeNum('LBORNRLO'), high: c.maybeNum('LBORNRHI') },
      lab_id: lab === null ? `${subject.trialId}-central` : lab.replace(IDENTIFIER, '-').slice(0, 64),
    };
    const description = c.str('LBTEST');
    if (description !== null) msg.test_description = description;
    const specimen = c.str('LBSPEC');
    if (specimen !== null && SPECIMEN.test(specimen)) msg.specimen = specimen;
    const visit = c.str('VISIT');
    if (visit !== null) msg.visit = visit;
    return ctx.run.emit('lab-results', msg, c.where());
  });
}
