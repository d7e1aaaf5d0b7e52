import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../shared/paths.js';
import { MESSAGE_REASONS, REASONS } from './reasons.js';
import {
  SAMPLE_ADVERSE_EVENT,
  SAMPLE_ENROLLMENT,
  SAMPLE_LAB,
  SAMPLE_MEDICATION,
  SAMPLE_VITALS,
} from './samples.js';
import { TOPICS, type TopicName } from './types.js';
import { Contracts } from './validator.js';

const c = new Contracts();
const NOW = Date.parse('2024-06-01T00:00:00Z');
const codes = (topic: TopicName, msg: unknown): string[] => {
  const r = c.check(topic, msg, NOW);
  return r.ok ? [] : [...new Set(r.issues.map((i) => i.code))];
};
const schemaFile = (t: string) =>
  JSON.parse(readFileSync(resolve(REPO_ROOT, `contracts/topics/${t}.schema.json`), 'utf8')) as {
    $defs: Record<string, unknown>;
    properties: Record<string, unknown>;
    additionalProperties: boolean;
  };

describe('contracts', () => {
  it('accepts the sample of every topic and enrollment', () => {
    expect(codes('patient-vitals', SAMPLE_VITALS)).toEqual([]);
    expect(codes('lab-results', SAMPLE_LAB)).toEqual([]);
    expect(codes('medications', SAMPLE_MEDICATION)).toEqual([]);
    expect(codes('adverse-events', SAMPLE_ADVERSE_EVENT)).toEqual([]);
    expect(c.validateEnrollment(SAMPLE_ENROLLMENT).ok).toBe(true);
  });

  it('keeps the shared envelope identical in every topic schema', () => {
    const [first, ...rest] = TOPICS.map(schemaFile);
    for (const s of rest) {
      for (const k of [
        'event_id',
        'correlation_id',
        'schema_version',
        'patient_id',
        'trial_id',
        'site_id',
        'source',
      ]) {
        expect(s.properties[k]).toEqual(first?.properties[k]);
      }
      expect(s.$defs.timestamp).toEqual(first?.$defs.timestamp);
      expect(s.additionalProperties).toBe(false);
    }
  });

  it('rejects unknown fields, wrong types and bad formats', () => {
    expect(codes('patient-vitals', { ...SAMPLE_VITALS, pulse: 70 })).toEqual(['schema_violation']);
    expect(codes('patient-vitals', { ...SAMPLE_VITALS, heart_rate: '70' })).toEqual(['schema_violation']);
    expect(codes('patient-vitals', { ...SAMPLE_VITALS, event_id: 'not-a-uuid' })).toEqual([
      'schema_violation',
    ]);
    expect(codes('patient-vitals', { ...SAMPLE_VITALS, timestamp: '2024-03-01 08:05' })).toEqual([
      'schema_violation',
    ]);
    expect(codes('patient-vitals', { ...SAMPLE_VITALS, timestamp: '2024-03-01T08:05:00+01:00' })).toEqual([
      'schema_violation',
    ]);
    expect(codes('lab-results', { ...SAMPLE_LAB, reference_range: { low: 1 } })).toEqual([
      'schema_violation',
    ]);
    expect(codes('adverse-events', { ...SAMPLE_ADVERSE_EVENT, severity: 3 })).toEqual(['schema_violation']);
    expect(codes('adverse-events', { ...SAMPLE_ADVERSE_EVENT, schema_version: '2.0' })).toEqual([
      'schema_violation',
    ]);
  });

  it('takes null as not measured but needs one measurement', () => {
    const hrOnly = {
      ...SAMPLE_VITALS,
      blood_pressure_systolic: null,
      blood_pressure_diastolic: null,
      temperature: null,
      spo2: null,
      respiratory_rate: undefined,
      mean_arterial_pressure: undefined,
    };
    expect(codes('patient-vitals', hrOnly)).toEqual([]);
    expect(codes('patient-vitals', { ...hrOnly, heart_rate: null })).toEqual(['schema_violation']);
    // A clinic visit record carrying only a height, in inches.
    expect(
      codes('patient-vitals', {
        ...hrOnly,
        heart_rate: null,
        height: 64,
        height_unit: 'IN',
        visit: 'SCREENING 1',
      }),
    ).toEqual([]);
    expect(codes('patient-vitals', { ...hrOnly, heart_rate: null, height: 64 })).toEqual([
      'schema_violation',
    ]);
  });

  it('bounds temperature, weight and height by their unit', () => {
    expect(codes('patient-vitals', { ...SAMPLE_VITALS, temperature: 98.6 })).toEqual(['schema_violation']);
    expect(codes('patient-vitals', { ...SAMPLE_VITALS, temperature: 98.6, temperature_unit: 'F' })).toEqual(
      [],
    );
    expect(codes('patient-vitals', { ...SAMPLE_VITALS, temperature: 36.8, temperature_unit: 'F' })).toEqual([
      'schema_violation',
    ]);
    expect(codes('patient-vitals', { ...SAMPLE_VITALS, temperature: 36.8, temperature_unit: 'C' })).toEqual(
      [],
    );
    expect(codes('patient-vitals', { ...SAMPLE_VITALS, weight: 180, weight_unit: 'LB' })).toEqual([]);
    expect(codes('patient-vitals', { ...SAMPLE_VITALS, weight: 900, weight_unit: 'kg' })).toEqual([
      'schema_violation',
    ]);
    expect(codes('patient-vitals', { ...SAMPLE_VITALS, height: 300, height_unit: 'cm' })).toEqual([
      'schema_violation',
    ]);
    expect(codes('patient-vitals', { ...SAMPLE_VITALS, heart_rate: -5 })).toEqual(['schema_violation']);
    expect(codes('patient-vitals', { ...SAMPLE_VITALS, spo2: 101 })).toEqual(['schema_violation']);
  });

  it('lets only signed lab tests go negative', () => {
    expect(codes('lab-results', { ...SAMPLE_LAB, value: -3 })).toEqual(['schema_violation']);
    expect(
      codes('lab-results', { ...SAMPLE_LAB, test_name: 'BaseExcess', value: -3, unit: 'mmol/L' }),
    ).toEqual([]);
    expect(codes('lab-results', { ...SAMPLE_LAB, reference_range: { low: null, high: null } })).toEqual([]);
  });

  it('runs the semantic checks with stable codes', () => {
    expect(codes('patient-vitals', { ...SAMPLE_VITALS, timestamp: '2024-06-02T00:00:00Z' })).toEqual([
      'future_timestamp',
    ]);
    expect(codes('patient-vitals', { ...SAMPLE_VITALS, blood_pressure_diastolic: 140 })).toEqual([
      'diastolic_above_systolic',
    ]);
    expect(
      codes('adverse-events', { ...SAMPLE_ADVERSE_EVENT, report_timestamp: '2024-03-01T00:00:00Z' }),
    ).toEqual(['report_before_event']);
    expect(codes('adverse-events', { ...SAMPLE_ADVERSE_EVENT, ctcae_grade: 1 })).toEqual([
      'severity_grade_mismatch',
    ]);
    expect(codes('lab-results', { ...SAMPLE_LAB, reported_at: '2024-02-01T00:00:00Z' })).toEqual([
      'report_before_event',
    ]);
    expect(codes('lab-results', { ...SAMPLE_LAB, reference_range: { low: 40, high: 7 } })).toEqual([
      'reference_range_inverted',
    ]);
    expect(codes('medications', { ...SAMPLE_MEDICATION, end_timestamp: '2024-02-01T00:00:00Z' })).toEqual([
      'end_before_start',
    ]);
  });

  it('classifies raw bytes', () => {
    const raw = (s: string) => {
      const r = c.checkRaw('patient-vitals', s, NOW);
      return r.ok ? 'ok' : r.issues[0]?.code;
    };
    expect(raw(JSON.stringify(SAMPLE_VITALS))).toBe('ok');
    expect(raw('{"event_id": ')).toBe('malformed_json');
    expect(raw('[1,2]')).toBe('malformed_json');
    expect(c.checkRaw('vitals', '{}', NOW).ok).toBe(false);
  });

  it('documents every reason code in docs/contracts.md and nothing else', () => {
    const doc =
      readFileSync(resolve(REPO_ROOT, 'docs/contracts.md'), 'utf8').split('## Reason codes')[1] ?? '';
    const documented = new Set([...doc.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]));
    expect([...documented].sort()).toEqual(Object.keys(REASONS).sort());
    for (const r of MESSAGE_REASONS) expect(REASONS[r]).toBeDefined();
  });

  it('rejects bad enrollment records', () => {
    expect(c.validateEnrollment({ ...SAMPLE_ENROLLMENT, sex: 'X' }).ok).toBe(false);
    expect(c.validateEnrollment({ ...SAMPLE_ENROLLMENT, enrollment_date: '2024-13-01' }).ok).toBe(false);
    expect(
      c.validateEnrollment({ ...SAMPLE_ENROLLMENT, arm: null, height_cm: null, weight_kg: null }).ok,
    ).toBe(true);
  });
});
