/**
 * The PhysioNet/CinC Challenge 2019 columns (training files, 41 columns) and where each goes.
 * Units are the challenge documentation's (physionet.org/content/challenge-2019/1.0.0, "Data
 * variables"), except three whose documented unit contradicts the values in the files; those carry
 * the unit the values are in, and docs/importers.md lists both.
 */
export type VitalField =
  | 'heart_rate'
  | 'spo2'
  | 'temperature'
  | 'blood_pressure_systolic'
  | 'mean_arterial_pressure'
  | 'blood_pressure_diastolic'
  | 'respiratory_rate'
  | 'etco2';

export interface VitalColumn {
  column: string;
  field: VitalField;
  unit: string;
  description: string;
}

export interface LabColumn {
  column: string;
  unit: string;
  /** The unit the challenge documentation states, where it differs from `unit`. */
  documentedUnit?: string;
  description: string;
}

export const VITALS: readonly VitalColumn[] = [
  { column: 'HR', field: 'heart_rate', unit: 'beats/min', description: 'Heart rate' },
  { column: 'O2Sat', field: 'spo2', unit: '%', description: 'Pulse oximetry' },
  { column: 'Temp', field: 'temperature', unit: 'C', description: 'Temperature (deg C)' },
  { column: 'SBP', field: 'blood_pressure_systolic', unit: 'mmHg', description: 'Systolic BP' },
  { column: 'MAP', field: 'mean_arterial_pressure', unit: 'mmHg', description: 'Mean arterial pressure' },
  { column: 'DBP', field: 'blood_pressure_diastolic', unit: 'mmHg', description: 'Diastolic BP' },
  { column: 'Resp', field: 'respiratory_rate', unit: 'breaths/min', description: 'Respiration rate' },
  { column: 'EtCO2', field: 'etco2', unit: 'mmHg', description: 'End tidal carbon dioxide' },
];

export const LABS: readonly LabColumn[] = [
  { column: 'BaseExcess', unit: 'mmol/L', description: 'Measure of excess bicarbonate' },
  { column: 'HCO3', unit: 'mmol/L', description: 'Bicarbonate' },
  { column: 'FiO2', unit: 'fraction', documentedUnit: '%', description: 'Fraction of inspired oxygen' },
  { column: 'pH', unit: 'pH', documentedUnit: 'N/A', description: 'pH' },
  { column: 'PaCO2', unit: 'mmHg', description: 'Partial pressure of carbon dioxide from arterial blood' },
  { column: 'SaO2', unit: '%', description: 'Oxygen saturation from arterial blood' },
  { column: 'AST', unit: 'IU/L', description: 'Aspartate transaminase' },
  { column: 'BUN', unit: 'mg/dL', description: 'Blood urea nitrogen' },
  { column: 'Alkalinephos', unit: 'IU/L', description: 'Alkaline phosphatase' },
  { column: 'Calcium', unit: 'mg/dL', description: 'Calcium' },
  { column: 'Chloride', unit: 'mmol/L', description: 'Chloride' },
  { column: 'Creatinine', unit: 'mg/dL', description: 'Creatinine' },
  { column: 'Bilirubin_direct', unit: 'mg/dL', description: 'Bilirubin direct' },
  { column: 'Glucose', unit: 'mg/dL', description: 'Serum glucose' },
  { column: 'Lactate', unit: 'mmol/L', documentedUnit: 'mg/dL', description: 'Lactic acid' },
  { column: 'Magnesium', unit: 'mg/dL', documentedUnit: 'mmol/dL', description: 'Magnesium' },
  { column: 'Phosphate', unit: 'mg/dL', description: 'Phosphate' },
  { column: 'Potassium', unit: 'mmol/L', description: 'Potassium' },
  { column: 'Bilirubin_total', unit: 'mg/dL', description: 'Total bilirubin' },
  { column: 'TroponinI', unit: 'ng/mL', description: 'Troponin I' },
  { column: 'Hct', unit: '%', description: 'Hematocrit' },
  { column: 'Hgb', unit: 'g/dL', description: 'Hemoglobin' },
  { column: 'PTT', unit: 's', description: 'Partial thromboplastin time' },
  { column: 'WBC', unit: '10^3/uL', description: 'Leukocyte count' },
  { column: 'Fibrinogen', unit: 'mg/dL', description: 'Fibrinogen' },
  { column: 'Platelets', unit: '10^3/uL', description: 'Platelet count' },
];

/** Demographics and bookkeeping; `Age` is 100 for patients aged 90 or above (de-identification). */
export const DEMOGRAPHICS = ['Age', 'Gender', 'Unit1', 'Unit2', 'HospAdmTime', 'ICULOS'] as const;
export const LABEL = 'SepsisLabel';

export const ALL_COLUMNS: readonly string[] = [
  ...VITALS.map((v) => v.column),
  ...LABS.map((l) => l.column),
  ...DEMOGRAPHICS,
  LABEL,
];

/** The challenge's definition: SepsisLabel turns 1 six hours before the clinical onset (Sepsis-3). */
export const SEPSIS_LABEL_LEAD_HOURS = 6;

/** Defaults, documented in docs/importers.md. */
export const DEFAULT_ANCHOR = '2019-01-01T00:00:00Z';
export const DEFAULT_REPORT_DELAY_HOURS = 6;
