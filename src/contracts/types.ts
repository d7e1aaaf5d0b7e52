/**
 * Typed shapes of the topic messages. The JSON Schemas in contracts/ are the definition; these types
 * mirror them for producers and consumers (contracts.test.ts checks sample messages of each type
 * against the schemas, so a drift between the two fails a test).
 */
export const TOPICS = ['patient-vitals', 'lab-results', 'medications', 'adverse-events'] as const;
export type TopicName = (typeof TOPICS)[number];

export const SCHEMA_VERSION = '1.0';

export type DateImputation = 'none' | 'time' | 'day' | 'month';

export interface Envelope {
  event_id: string;
  correlation_id: string;
  schema_version: typeof SCHEMA_VERSION;
  patient_id: string;
  source: string;
  trial_id?: string;
  site_id?: string;
  timestamp_imputed?: boolean;
  date_imputation?: DateImputation;
}

export interface PatientVitals extends Envelope {
  timestamp: string;
  heart_rate: number | null;
  blood_pressure_systolic: number | null;
  blood_pressure_diastolic: number | null;
  temperature: number | null;
  spo2: number | null;
  temperature_unit?: 'C' | 'F';
  respiratory_rate?: number | null;
  mean_arterial_pressure?: number | null;
  etco2?: number | null;
  weight?: number | null;
  weight_unit?: 'kg' | 'LB';
  height?: number | null;
  height_unit?: 'cm' | 'IN';
  position?: string;
  visit?: string;
}

export interface LabResult extends Envelope {
  timestamp: string;
  reported_at?: string;
  test_name: string;
  test_description?: string;
  value: number;
  unit: string;
  reference_range: { low: number | null; high: number | null };
  lab_id: string;
  specimen?: string;
  visit?: string;
}

export interface Medication extends Envelope {
  timestamp: string;
  end_timestamp?: string;
  end_date_imputation?: DateImputation;
  drug_name: string;
  dosage: number | null;
  unit: string | null;
  route: string | null;
  frequency: string | null;
  action?: 'start' | 'stop' | 'dose' | 'change';
  drug_class?: string;
  indication?: string;
  visit?: string;
}

export type Severity = 'mild' | 'moderate' | 'severe' | 'life_threatening' | 'fatal';
/** CTCAE v5: grade 1 mild, 2 moderate, 3 severe, 4 life-threatening, 5 death. */
export const SEVERITY_BY_GRADE: Readonly<Record<1 | 2 | 3 | 4 | 5, Severity>> = {
  1: 'mild',
  2: 'moderate',
  3: 'severe',
  4: 'life_threatening',
  5: 'fatal',
};

export interface AdverseEvent extends Envelope {
  event_timestamp: string;
  report_timestamp: string;
  end_timestamp?: string;
  end_date_imputation?: DateImputation;
  event_type: string;
  term?: string;
  severity: Severity;
  ctcae_grade?: 1 | 2 | 3 | 4 | 5;
  serious?: boolean;
  reported_by: string;
}

export interface TopicMessages {
  'patient-vitals': PatientVitals;
  'lab-results': LabResult;
  medications: Medication;
  'adverse-events': AdverseEvent;
}
export type TopicMessage = TopicMessages[TopicName];

export type ArmRole = 'treatment' | 'control' | 'screen_failure' | 'other';

/** One row of the enrollment table (FR-2.2); contracts/enrollment.schema.json. */
export interface EnrollmentRecord {
  patient_id: string;
  trial_id: string;
  site_id: string;
  arm: string | null;
  arm_role?: ArmRole;
  enrollment_date: string;
  age: number;
  sex: 'M' | 'F' | 'U';
  height_cm: number | null;
  weight_kg: number | null;
  comorbidities: string[];
  source: string;
}

/** The field that carries event time: windows, labels and bronze date partitions use it. */
export function eventTimeField(topic: TopicName): 'timestamp' | 'event_timestamp' {
  return topic === 'adverse-events' ? 'event_timestamp' : 'timestamp';
}

export function isTopicName(s: string): s is TopicName {
  return (TOPICS as readonly string[]).includes(s);
}
