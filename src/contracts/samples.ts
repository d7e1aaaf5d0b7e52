import type { AdverseEvent, EnrollmentRecord, LabResult, Medication, PatientVitals } from './types.js';

/**
 * One valid message per topic: documentation by example for producers, and the base that
 * contracts.test.ts mutates to prove each rule.
 */
const envelope = {
  event_id: '0b7c9f0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b',
  correlation_id: 'sim:seed-42',
  schema_version: '1.0',
  patient_id: 'T01-S01-0001',
  trial_id: 'T01',
  site_id: 'S01',
} as const;

export const SAMPLE_VITALS: PatientVitals = {
  ...envelope,
  source: 'sim:bedside-monitor',
  timestamp: '2024-03-01T08:05:00Z',
  heart_rate: 78,
  blood_pressure_systolic: 128,
  blood_pressure_diastolic: 79,
  temperature: 36.8,
  spo2: 97,
  respiratory_rate: 15,
  mean_arterial_pressure: 95,
};

export const SAMPLE_LAB: LabResult = {
  ...envelope,
  source: 'sim:central-lab',
  timestamp: '2024-03-01T06:00:00Z',
  reported_at: '2024-03-01T10:30:00Z',
  test_name: 'ALT',
  value: 24,
  unit: 'U/L',
  reference_range: { low: 6, high: 34 },
  lab_id: 'LAB-CENTRAL',
  specimen: 'SERUM',
};

export const SAMPLE_MEDICATION: Medication = {
  ...envelope,
  source: 'sim:emar',
  timestamp: '2024-03-01T08:00:00Z',
  drug_name: 'clarithromycin',
  dosage: 500,
  unit: 'mg',
  route: 'ORAL',
  frequency: 'BID',
  action: 'dose',
};

export const SAMPLE_ADVERSE_EVENT: AdverseEvent = {
  ...envelope,
  source: 'sim:edc',
  event_timestamp: '2024-03-02T14:00:00Z',
  report_timestamp: '2024-03-03T09:00:00Z',
  event_type: 'hepatotoxicity',
  term: 'ALT increased, CTCAE grade 3',
  severity: 'severe',
  ctcae_grade: 3,
  serious: false,
  reported_by: 'site:S01:investigator',
};

export const SAMPLE_ENROLLMENT: EnrollmentRecord = {
  patient_id: 'T01-S01-0001',
  trial_id: 'T01',
  site_id: 'S01',
  arm: 'treatment',
  arm_role: 'treatment',
  enrollment_date: '2024-02-28',
  age: 71,
  sex: 'F',
  height_cm: 162,
  weight_kg: 68.5,
  comorbidities: ['hypertension', 'diabetes'],
  source: 'sim',
};
