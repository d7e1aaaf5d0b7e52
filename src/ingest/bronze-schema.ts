import type { TopicName } from '../contracts/types.js';

/**
 * The bronze column lists, one per topic: the single source of truth for contracts/bronze.md (a
 * unit test checks the document against these lists).
 */
export type ColumnKind = 'utf8' | 'timestamp_ms' | 'float64' | 'int32' | 'int64' | 'bool';

export interface ColumnSpec {
  readonly name: string;
  readonly kind: ColumnKind;
  readonly nullable: boolean;
  /** JSON path in the message ('reference_range.low' for flattened members); absent for lineage. */
  readonly path?: readonly [string] | readonly [string, string];
}

const col = (name: string, kind: ColumnKind, nullable: boolean): ColumnSpec => ({
  name,
  kind,
  nullable,
  path: [name],
});

const ENVELOPE_HEAD: readonly ColumnSpec[] = [
  col('event_id', 'utf8', false),
  col('correlation_id', 'utf8', false),
  col('schema_version', 'utf8', false),
  col('patient_id', 'utf8', false),
  col('trial_id', 'utf8', true),
  col('site_id', 'utf8', true),
  col('source', 'utf8', false),
  col('timestamp_imputed', 'bool', true),
  col('date_imputation', 'utf8', true),
];

export const LINEAGE_COLUMNS: readonly ColumnSpec[] = [
  { name: '_kafka_topic', kind: 'utf8', nullable: false },
  { name: '_kafka_partition', kind: 'int32', nullable: false },
  { name: '_kafka_offset', kind: 'int64', nullable: false },
  { name: '_kafka_timestamp', kind: 'timestamp_ms', nullable: false },
  { name: '_kafka_key', kind: 'utf8', nullable: true },
  { name: '_ingested_at', kind: 'timestamp_ms', nullable: false },
];

const PAYLOAD: Readonly<Record<TopicName, readonly ColumnSpec[]>> = {
  'patient-vitals': [
    col('timestamp', 'timestamp_ms', false),
    col('heart_rate', 'float64', true),
    col('blood_pressure_systolic', 'float64', true),
    col('blood_pressure_diastolic', 'float64', true),
    col('temperature', 'float64', true),
    col('temperature_unit', 'utf8', true),
    col('spo2', 'float64', true),
    col('respiratory_rate', 'float64', true),
    col('mean_arterial_pressure', 'float64', true),
    col('etco2', 'float64', true),
    col('weight', 'float64', true),
    col('weight_unit', 'utf8', true),
    col('height', 'float64', true),
    col('height_unit', 'utf8', true),
    col('position', 'utf8', true),
    col('visit', 'utf8', true),
  ],
  'lab-results': [
    col('timestamp', 'timestamp_ms', false),
    col('reported_at', 'timestamp_ms', true),
    col('test_name', 'utf8', false),
    col('test_description', 'utf8', true),
    col('value', 'float64', false),
    col('unit', 'utf8', false),
    { name: 'reference_range_low', kind: 'float64', nullable: true, path: ['reference_range', 'low'] },
    { name: 'reference_range_high', kind: 'float64', nullable: true, path: ['reference_range', 'high'] },
    col('lab_id', 'utf8', false),
    col('specimen', 'utf8', true),
    col('visit', 'utf8', true),
  ],
  medications: [
    col('timestamp', 'timestamp_ms', false),
    col('end_timestamp', 'timestamp_ms', true),
    col('end_date_imputation', 'utf8', true),
    col('drug_name', 'utf8', false),
    col('dosage', 'float64', true),
    col('unit', 'utf8', true),
    col('route', 'utf8', true),
    col('frequency', 'utf8', true),
    col('action', 'utf8', true),
    col('drug_class', 'utf8', true),
    col('indication', 'utf8', true),
    col('visit', 'utf8', true),
  ],
  'adverse-events': [
    col('event_timestamp', 'timestamp_ms', false),
    col('report_timestamp', 'timestamp_ms', false),
    col('end_timestamp', 'timestamp_ms', true),
    col('end_date_imputation', 'utf8', true),
    col('event_type', 'utf8', false),
    col('term', 'utf8', true),
    col('severity', 'utf8', false),
    col('ctcae_grade', 'int32', true),
    col('serious', 'bool', true),
    col('reported_by', 'utf8', false),
  ],
};

/** Payload columns (envelope first) then lineage columns, in file order. */
export function bronzeColumns(topic: TopicName): readonly ColumnSpec[] {
  return [...ENVELOPE_HEAD, ...PAYLOAD[topic], ...LINEAGE_COLUMNS];
}

export const BRONZE_VERSION = '1';
