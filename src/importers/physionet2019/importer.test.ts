import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TOPICS } from '../../contracts/types.js';
import { contracts } from '../../contracts/validator.js';
import { REPO_ROOT } from '../../shared/paths.js';
import { ImportError } from '../core/errors.js';
import { memoryRun, TEST_NOW_MS } from '../testing.js';
import { importPhysionet } from './importer.js';
import { ALL_COLUMNS } from './mapping.js';

const SET_A = resolve(REPO_ROOT, '../shared/data/physionet2019/training_setA');

/** A stay file from partial rows; every other column is NaN. */
function psv(rows: Array<Record<string, number | string>>, columns: readonly string[] = ALL_COLUMNS): string {
  const lines = rows.map((r) => columns.map((c) => (r[c] === undefined ? 'NaN' : String(r[c]))).join('|'));
  return `${columns.join('|')}\n${lines.join('\n')}\n`;
}

function stayDir(files: Record<string, string>): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'aepred-physionet-')), 'training_setT');
  mkdirSync(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const demo = { Age: 61.5, Gender: 1, Unit1: 0, Unit2: 1, HospAdmTime: -3.2 };

describe('physionet2019 on real stays', () => {
  it('turns 1,000 stays into messages that all meet their contracts', { timeout: 60_000 }, async () => {
    const { run, sink } = memoryRun('physionet2019');
    await importPhysionet(SET_A, run, { limit: 1000 });
    const summary = await run.finish();
    expect(summary.files).toBe(1000);
    expect(summary.rows_skipped).toBe(0);
    expect(sink.enrollment).toHaveLength(1000);
    expect(sink.writesBeforeEnrollment).toBe(0);
    const c = contracts();
    let total = 0;
    for (const topic of TOPICS) {
      for (const raw of sink.messages[topic]) {
        const r = c.checkRaw(topic, raw, TEST_NOW_MS);
        if (!r.ok) throw new Error(`${topic} ${raw}: ${JSON.stringify(r.issues)}`);
        total++;
      }
    }
    for (const rec of sink.enrollment) expect(c.validateEnrollment(rec).ok).toBe(true);
    expect(total).toBe(Object.values(summary.messages).reduce((a, b) => a + b, 0));
    expect(summary.messages['patient-vitals']).toBeGreaterThan(30_000);
    expect(summary.messages['lab-results']).toBeGreaterThan(50_000);
    // 8.8 % of set A stays have sepsis; the first 1,000 have 90.
    expect(summary.messages['adverse-events']).toBe(90);
    // Kafka key = patient_id, so one stay stays in one partition, in order.
    const first = JSON.parse(sink.messages['patient-vitals'][0]!) as { patient_id: string };
    expect(sink.keys[0]).toEqual(['patient-vitals', first.patient_id]);
  });

  it('gives the same event ids on a second import', async () => {
    const a = memoryRun('physionet2019');
    const b = memoryRun('physionet2019');
    await importPhysionet(SET_A, a.run, { limit: 20 });
    await importPhysionet(SET_A, b.run, { limit: 20 });
    expect(a.sink.messages).toEqual(b.sink.messages);
  });
});

describe('physionet2019 mapping', () => {
  it('maps vitals, labs, demographics and sepsis onset (first positive hour + 6 h, reported after the delay)', async () => {
    const dir = stayDir({
      'p900001.psv': psv([
        {
          ...demo,
          ICULOS: 1,
          HR: 88,
          SBP: 120,
          DBP: 70,
          MAP: 86,
          Temp: 37.2,
          O2Sat: 97,
          Resp: 18,
          SepsisLabel: 0,
        },
        { ...demo, ICULOS: 2, Lactate: 2.4, WBC: 14.1, BaseExcess: -3, SepsisLabel: 0 },
        { ...demo, ICULOS: 3, HR: 112, SepsisLabel: 1 },
        { ...demo, ICULOS: 4, HR: 115, SepsisLabel: 1 },
      ]),
    });
    const { run, sink } = memoryRun('physionet2019');
    await importPhysionet(dir, run, { reportDelayHours: 2, anchor: '2020-06-01T00:00:00Z' });
    const vitals = sink.messages['patient-vitals'].map((s) => JSON.parse(s) as Record<string, unknown>);
    expect(vitals).toHaveLength(3);
    expect(vitals[0]).toMatchObject({
      patient_id: 'p900001',
      site_id: 'setT-sicu',
      timestamp: '2020-06-01T01:00:00Z',
      heart_rate: 88,
      blood_pressure_systolic: 120,
      blood_pressure_diastolic: 70,
      mean_arterial_pressure: 86,
      temperature: 37.2,
      temperature_unit: 'C',
      spo2: 97,
      respiratory_rate: 18,
      etco2: null,
    });
    const labs = sink.messages['lab-results'].map((s) => JSON.parse(s) as Record<string, unknown>);
    expect(labs.map((l) => [l.test_name, l.value, l.unit, l.timestamp])).toEqual([
      ['BaseExcess', -3, 'mmol/L', '2020-06-01T02:00:00Z'],
      ['Lactate', 2.4, 'mmol/L', '2020-06-01T02:00:00Z'],
      ['WBC', 14.1, '10^3/uL', '2020-06-01T02:00:00Z'],
    ]);
    const [ae] = sink.messages['adverse-events'].map((s) => JSON.parse(s) as Record<string, unknown>);
    expect(ae).toMatchObject({
      event_type: 'sepsis',
      event_timestamp: '2020-06-01T09:00:00Z',
      report_timestamp: '2020-06-01T11:00:00Z',
      severity: 'life_threatening',
      serious: true,
    });
    expect(sink.enrollment).toEqual([
      expect.objectContaining({
        patient_id: 'p900001',
        age: 61.5,
        sex: 'M',
        site_id: 'setT-sicu',
        enrollment_date: '2020-06-01',
      }),
    ]);
  });

  it('nulls a diastolic above systolic (both) rather than send an impossible pair', async () => {
    const dir = stayDir({
      'p900002.psv': psv([{ ...demo, ICULOS: 1, HR: 80, SBP: 60, DBP: 90, SepsisLabel: 0 }]),
    });
    const { run, sink } = memoryRun('physionet2019');
    await importPhysionet(dir, run);
    const s = await run.finish();
    expect(JSON.parse(sink.messages['patient-vitals'][0]!)).toMatchObject({
      heart_rate: 80,
      blood_pressure_systolic: null,
      blood_pressure_diastolic: null,
    });
    expect(s.repairs).toEqual({ 'patient-vitals.diastolic_above_systolic': 1 });
  });
});

describe('physionet2019 bad input', () => {
  const good = psv([{ ...demo, ICULOS: 1, HR: 80, SepsisLabel: 0 }]);

  it('a missing directory is a usage error naming the directory', async () => {
    const { run } = memoryRun('physionet2019');
    const missing = join(tmpdir(), 'aepred-no-such-dir');
    await expect(importPhysionet(missing, run)).rejects.toMatchObject({
      code: 'AEP_IMPORT_NO_DIR',
      exitCode: 2,
      message: expect.stringContaining(missing),
    });
  });

  it('an unknown column names the file and the header', async () => {
    const cols = [...ALL_COLUMNS.slice(0, -1), 'Sepsislabel'];
    const dir = stayDir({ 'p900003.psv': psv([{ ICULOS: 1, Age: 50, Gender: 0 }], cols) });
    const { run } = memoryRun('physionet2019');
    const e = await importPhysionet(dir, run).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ImportError);
    expect(e).toMatchObject({ code: 'AEP_IMPORT_UNKNOWN_COLUMN', exitCode: 1 });
    expect((e as Error).message).toMatch(/p900003\.psv, header, column Sepsislabel: unknown column/);
  });

  it('a corrupt file and a bad value name the file and row; --on-error skip counts them and goes on', async () => {
    const dir = stayDir({
      'p900004.psv': `${good}97|95|NaN\n`,
      'p900005.psv': psv([
        { ...demo, ICULOS: 1, HR: 80, SepsisLabel: 0 },
        { ...demo, ICULOS: 2, HR: 'abc', SepsisLabel: 0 },
        { ...demo, ICULOS: 3, HR: 82, SepsisLabel: 0 },
      ]),
      'p900006.psv': '\u0000\u0001binary garbage',
      'p900007.psv': good,
    });
    const stop = memoryRun('physionet2019', 'stop');
    await expect(importPhysionet(dir, stop.run)).rejects.toThrow(
      /p900004\.psv, row 2: 3 fields where the header has 41/,
    );

    const skip = memoryRun('physionet2019', 'skip');
    await importPhysionet(dir, skip.run);
    const s = await skip.run.finish();
    expect(s.files).toBe(4);
    expect(s.files_skipped).toBe(1);
    expect(s.rows_skipped).toBe(2);
    expect(s.errors.map((e) => e.code)).toEqual([
      'AEP_IMPORT_CORRUPT_FILE',
      'AEP_IMPORT_BAD_VALUE',
      'AEP_IMPORT_CORRUPT_FILE',
    ]);
    expect(s.errors[1]!.message).toMatch(/p900005\.psv, row 2, column HR: "abc" is not a number/);
    expect(s.errors[2]!.message).toMatch(/p900006\.psv, header: no pipe-separated header/);
    // The good rows of the damaged files and the good file still arrive.
    expect(s.messages['patient-vitals']).toBe(4);
  });

  it('a directory with no stays says so', async () => {
    const { run } = memoryRun('physionet2019');
    await expect(importPhysionet(stayDir({ 'readme.txt': 'x' }), run)).rejects.toMatchObject({
      code: 'AEP_IMPORT_NO_INPUT',
    });
  });
});
