import type { ArmRole, EnrollmentRecord } from '../../../contracts/types.js';
import { calendarDate, imputeStart } from '../../core/dates.js';
import { ImportError } from '../../core/errors.js';
import { type DomainContext, eachRow, type Subject } from '../context.js';

const SEX: Readonly<Record<string, 'M' | 'F' | 'U'>> = { M: 'M', F: 'F', U: 'U', UNDIFFERENTIATED: 'U' };
const AGE_UNIT_YEARS: Readonly<Record<string, number>> = {
  YEARS: 1,
  MONTHS: 1 / 12,
  WEEKS: 7 / 365.25,
  DAYS: 1 / 365.25,
};

/** What the arm is, from ARMCD/ARM (SDTM's reserved codes for screen failures and unassigned). */
export function armRole(armcd: string | null, arm: string | null): ArmRole {
  const code = (armcd ?? '').toUpperCase();
  const name = (arm ?? '').toUpperCase();
  if (code === 'SCRNFAIL' || name === 'SCREEN FAILURE') return 'screen_failure';
  if (code === 'NOTASSGN' || code === 'NOTTRT' || name === '') return 'other';
  if (name.includes('PLACEBO') || code === 'PBO') return 'control';
  return 'treatment';
}

/**
 * DM -> subjects (for every other domain) and enrollment records. The enrollment date is RFSTDTC
 * (first study treatment); a subject without one (screen failures) is enrolled at the informed
 * consent date RFICDTC, else the DM collection date DMDTC (docs/importers.md).
 */
export async function mapDm(ctx: DomainContext, subjects: Map<string, Subject>): Promise<EnrollmentRecord[]> {
  const records: EnrollmentRecord[] = [];
  await eachRow(ctx, (c) => {
    const patientId = c.need('USUBJID');
    const trialId = c.need('STUDYID');
    const siteId = c.need('SITEID');
    const rfst = c.date('RFSTDTC');
    const candidates = [rfst, c.date('RFICDTC'), c.date('DMDTC')];
    let enrollment: string | undefined;
    for (const d of candidates) {
      enrollment = d === null ? undefined : calendarDate(d);
      if (enrollment !== undefined) break;
    }
    if (enrollment === undefined) {
      throw new ImportError(
        'AEP_IMPORT_BAD_DATE',
        c.where('RFSTDTC'),
        'no complete RFSTDTC, RFICDTC or DMDTC to enroll the subject on',
      );
    }
    const sexCode = c.need('SEX');
    const sex = SEX[sexCode];
    if (sex === undefined)
      throw new ImportError('AEP_IMPORT_BAD_VALUE', c.where('SEX'), `SEX "${sexCode}" is not M, F, U`);
    const ageRaw = c.num('AGE');
    const ageUnit = c.str('AGEU') ?? 'YEARS';
    const factor = AGE_UNIT_YEARS[ageUnit];
    if (factor === undefined)
      throw new ImportError('AEP_IMPORT_BAD_VALUE', c.where('AGEU'), `AGEU "${ageUnit}" is not a known unit`);
    if (ageRaw === null) throw new ImportError('AEP_IMPORT_BAD_VALUE', c.where('AGE'), 'AGE is empty');
    if (subjects.has(patientId))
      throw new ImportError(
        'AEP_IMPORT_BAD_VALUE',
        c.where('USUBJID'),
        `subject ${patientId} appears twice in DM`,
      );
    const subject: Subject = { patientId, trialId, siteId };
    if (rfst !== null) subject.referenceStartMs = imputeStart(rfst).ms;
    subjects.set(patientId, subject);
    const arm = c.str('ARM');
    records.push({
      patient_id: patientId,
      trial_id: trialId,
      site_id: siteId,
      arm,
      arm_role: armRole(c.str('ARMCD'), arm),
      enrollment_date: enrollment,
      age: Math.round(ageRaw * factor * 100) / 100,
      sex,
      height_cm: null,
      weight_kg: null,
      comorbidities: [],
      source: `${trialId.toLowerCase()}:dm`,
    });
    return undefined;
  });
  return records;
}
