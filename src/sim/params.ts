import { z } from 'zod';

/**
 * The `simulator:` section of params.yaml (docs/simulator.md explains every number). Strict objects
 * everywhere: a misspelt key fails at start-up. src/config/params.ts embeds it in the file's schema.
 */
const prob = z.number().min(0).max(1);
const pos = z.number().positive();
const nonneg = z.number().nonnegative();
const range = z
  .tuple([z.number(), z.number()])
  .refine(([a, b]) => a <= b, 'range must be [low, high] with low <= high');
const hour = z.number().int().min(0).max(23);
const frequency = z.enum(['QD', 'BID', 'TID', 'Q8H', 'QW']);
const drugName = z.string().regex(/^[a-z][a-z0-9_]*$/);
const ident = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/);

const Regimen = z.strictObject({
  dosage: nonneg,
  unit: z.string().min(1),
  route: z.string().min(1),
  frequency,
});
const Drug = Regimen.extend({ name: drugName, drug_class: z.string().min(1) });
const Course = Regimen.extend({ start_per_day: prob, days: range, treatment_rr: pos });
const Circ = z.strictObject({ amplitude: nonneg, peak_hour: z.number().min(0).max(24) });
const MeanSd = z.strictObject({ mean: z.number(), sd: nonneg });

export const AE_TYPES = [
  'hepatotoxicity',
  'acute_kidney_injury',
  'hypotension',
  'tachyarrhythmia',
  'neutropenia',
] as const;
export type AeType = (typeof AE_TYPES)[number];
const aeType = z.enum(AE_TYPES);

const Physiology = z.strictObject({ variable: z.string(), reference: pos, exponent: z.number() });
const Signature = z.record(z.string(), z.number());
const Grades = z.tuple([z.number(), z.number(), z.number()]);
const TypeBase = {
  base_hazard: prob,
  treatment_rr: pos,
  physiology: Physiology,
  signature: Signature,
  overshoot_span: pos,
};

const Site = z.strictObject({
  id: ident,
  name: z.string().min(1),
  tz_offset_hours: z.number().min(-12).max(14),
  weight: pos,
  activation: z.number().min(0).max(1),
  temperature_unit: z.enum(['C', 'F']),
  weight_unit: z.enum(['kg', 'LB']),
  height_unit: z.enum(['cm', 'IN']),
  lab_units: z.enum(['conventional', 'si']),
  lab_draw_hour: hour,
  noise_scale: pos,
  monitor_off_fraction: z.number().min(0).lt(1),
  monitor_gap_minutes: pos,
  report_delay_scale: pos,
});

export const FAULT_KINDS = [
  'malformed_json',
  'schema_violation',
  'out_of_range',
  'future_timestamp',
  'duplicate',
  'out_of_order',
  'late_event',
  'unknown_patient',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export const SimulatorParamsSchema = z.strictObject({
  trial_id: ident,
  default_start: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  tick_minutes: z.literal(5),
  treatment_fraction: prob,
  enrollment_window_fraction: prob,
  enrollment_window_max_days: nonneg,
  enrollment_hours: range,
  study_drug: Drug,
  control_drug: Drug,
  dosing_hours: z.strictObject({
    QD: z.array(hour).min(1),
    BID: z.array(hour).min(1),
    TID: z.array(hour).min(1),
    Q8H: z.array(hour).min(1),
    QW: z.array(hour).min(1),
  }),
  vitals: z.strictObject({
    spo2: MeanSd,
    respiratory_rate: MeanSd,
    circadian: z.strictObject({
      heart_rate: Circ,
      systolic: Circ,
      diastolic: Circ,
      temperature: Circ,
      respiratory_rate: Circ,
    }),
    ar_phi: z.number().min(0).lt(1),
    ar_sd: z.strictObject({
      heart_rate: nonneg,
      systolic: nonneg,
      diastolic: nonneg,
      temperature: nonneg,
      spo2: nonneg,
      respiratory_rate: nonneg,
    }),
    noise_sd: z.strictObject({
      heart_rate: nonneg,
      systolic: nonneg,
      diastolic: nonneg,
      temperature: nonneg,
      spo2: nonneg,
      respiratory_rate: nonneg,
    }),
    missing: z.strictObject({
      heart_rate: prob,
      blood_pressure: prob,
      temperature: prob,
      spo2: prob,
      respiratory_rate: prob,
    }),
    weigh_hour: hour,
  }),
  labs: z.strictObject({
    tests: z.array(z.string().regex(/^[A-Z]+$/)).min(1),
    analytic_cv: nonneg,
    day_to_day_cv: nonneg,
    neutrophil_fraction: MeanSd,
    neut_reference_range: range,
    turnaround_hours: range,
    lab_id_suffix: z.string().regex(/^[A-Z]+$/),
  }),
  comorbidities: z.record(
    z.string().regex(/^[a-z][a-z0-9_]*$/),
    z.strictObject({
      prevalence: prob,
      meds: z.array(drugName),
      baseline: z.record(z.string(), z.number()),
      hazard: z.partialRecord(aeType, pos),
    }),
  ),
  chronic: z.record(drugName, Regimen),
  courses: z.record(drugName, Course),
  events: z.strictObject({
    prodrome_hours: range,
    abrupt_fraction: prob,
    abrupt_hours: range,
    abort_fraction: prob,
    abort_peak: range,
    overshoot: range,
    plateau_hours: range,
    recovery_hours: range,
    refractory_days: nonneg,
    age_reference: pos,
    age_exponent: z.number(),
    report_delay: z.strictObject({
      median_hours: pos,
      sigma: nonneg,
      serious_max_hours: pos,
      min_hours: nonneg,
    }),
    types: z.strictObject({
      hepatotoxicity: z.strictObject({ ...TypeBase, hys_law_fraction: prob, target_uln: z.number().gt(3) }),
      acute_kidney_injury: z.strictObject({
        ...TypeBase,
        target_ratio: z.number().gt(1.5),
        creatinine_lag_exponent: z.number().min(1),
      }),
      hypotension: z.strictObject({
        ...TypeBase,
        threshold: pos,
        sustained_minutes: pos,
        target: pos,
        grades: Grades,
      }),
      tachyarrhythmia: z.strictObject({
        ...TypeBase,
        threshold: pos,
        sustained_minutes: pos,
        target: pos,
        grades: Grades,
      }),
      neutropenia: z.strictObject({ ...TypeBase, target: pos, grades: Grades }),
    }),
    triggers: z.partialRecord(aeType, z.partialRecord(aeType, pos)),
  }),
  sites: z.array(Site).min(5),
  scenarios: z.strictObject({
    site_drift: z.strictObject({
      site: ident,
      from_day_fraction: prob,
      offsets: z.strictObject({
        systolic: z.number(),
        diastolic: z.number(),
        spo2: z.number(),
        temperature: z.number(),
        heart_rate: z.number(),
      }),
    }),
    concept_drift: z.strictObject({
      from_day_fraction: prob,
      prodrome_hours: range,
      vital_signature_scale: z.number(),
      treatment_rr_scale: z.partialRecord(aeType, pos),
    }),
    faults: z.strictObject({
      rates: z.strictObject(
        Object.fromEntries(FAULT_KINDS.map((k) => [k, prob])) as Record<FaultKind, typeof prob>,
      ),
      future_shift_days: pos,
      out_of_order_minutes: range,
      late_hours: range,
    }),
  }),
});

export type SimulatorParams = z.infer<typeof SimulatorParamsSchema>;
export type SiteParams = SimulatorParams['sites'][number];
