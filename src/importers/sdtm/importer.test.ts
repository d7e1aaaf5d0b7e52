import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TOPICS } from '../../contracts/types.js';
import { contracts } from '../../contracts/validator.js';
import { REPO_ROOT } from '../../shared/paths.js';
import { type MemorySink, memoryRun, TEST_NOW_MS } from '../testing.js';
import { writeXpt, type XptCell, type XptColumn } from '../xpt/writer.js';
import { importSdtm } from './importer.js';

const PILOT = resolve(REPO_ROOT, '../shared/data/cdiscpilot01');
const PARQUET = join(PILOT, 'sdtm-parquet');
const XPT = join(PILOT, 'sdtm-xpt');

async function importDir(dir: string, format: 'auto' | 'parquet' | 'xpt' = 'auto') {
  const { run, sink } = memoryRun('sdtm');
  await importSdtm(dir, run, { format });
  return { summary: await run.finish(), sink };
}

describe('sdtm on the CDISC pilot', () => {
  let parquet: { summary: Awaited<ReturnType<typeof importDir>>['summary']; sink: MemorySink };
  let xpt: typeof parquet;
  beforeAll(async () => {
    parquet = await importDir(PARQUET);
    xpt = await importDir(XPT);
  }, 60_000);

  it('imports every domain it maps, and every message meets its contract', () => {
    const c = contracts();
    for (const { sink } of [parquet, xpt]) {
      for (const topic of TOPICS) {
        for (const raw of sink.messages[topic]) {
          const r = c.checkRaw(topic, raw, TEST_NOW_MS);
          if (!r.ok) throw new Error(`${topic} ${raw}: ${JSON.stringify(r.issues)}`);
        }
      }
      for (const rec of sink.enrollment) expect(c.validateEnrollment(rec)).toMatchObject({ ok: true });
    }
    const s = parquet.summary;
    expect(s.rows_skipped).toBe(0);
    expect(parquet.sink.writesBeforeEnrollment).toBe(0);
    expect(s.enrollment).toBe(306);
    expect(s.messages).toEqual({
      'patient-vitals': 10_939,
      'lab-results': 58_700,
      medications: 7510 + 591,
      'adverse-events': 1191,
    });
    // LB: 59,580 records less 874 coded ("N") and 6 censored ("<0.2") results the numeric contract cannot hold.
    expect(s.dropped).toEqual({
      'lab-results.non_numeric_result': 874,
      'lab-results.censored_result': 6,
      'patient-vitals.not_done': 8,
    });
  });

  it('reads the XPT and Parquet copies of DM, AE, CM and EX into identical messages', () => {
    expect(xpt.summary.files).toBe(4); // the XPT copy has no LB or VS
    expect(xpt.sink.enrollment).toEqual(parquet.sink.enrollment);
    expect(xpt.sink.messages['adverse-events']).toEqual(parquet.sink.messages['adverse-events']);
    expect(xpt.sink.messages.medications).toEqual(parquet.sink.messages.medications);
    expect(xpt.sink.messages.medications.length).toBe(8101);
  });

  it('keeps original VS units and imputes partial dates with a flag', () => {
    const vitals = parquet.sink.messages['patient-vitals'].map(
      (m) => JSON.parse(m) as Record<string, unknown>,
    );
    expect(new Set(vitals.map((v) => v.temperature_unit).filter(Boolean))).toEqual(new Set(['C', 'F']));
    expect(new Set(vitals.map((v) => v.weight_unit).filter(Boolean))).toEqual(new Set(['kg', 'LB']));
    expect(new Set(vitals.map((v) => v.height_unit).filter(Boolean))).toEqual(new Set(['cm', 'IN']));
    // No two measurement sets of a patient share a timestamp (the de-duplication key).
    const keys = new Set(vitals.map((v) => `${v.patient_id}|${v.timestamp}|${v.source}`));
    expect(keys.size).toBe(vitals.length);
    const meds = parquet.sink.messages.medications.map((m) => JSON.parse(m) as Record<string, unknown>);
    const yearOnly = meds.find((m) => m.correlation_id === 'CDISCPILOT01:CM:01-701-1015:1');
    expect(yearOnly).toMatchObject({
      timestamp: '2003-01-01T00:00:00Z',
      timestamp_imputed: true,
      date_imputation: 'month',
    });
    const aes = parquet.sink.messages['adverse-events'].map((m) => JSON.parse(m) as Record<string, unknown>);
    expect(aes.filter((a) => a.date_imputation === 'day')).toHaveLength(15);
    expect(aes.filter((a) => a.date_imputation === 'month')).toHaveLength(11);
  });
});

const DM_COLUMNS: XptColumn[] = [
  { name: 'STUDYID', type: 'char' },
  { name: 'DOMAIN', type: 'char' },
  { name: 'USUBJID', type: 'char' },
  { name: 'SITEID', type: 'char' },
  { name: 'RFSTDTC', type: 'char' },
  { name: 'AGE', type: 'num' },
  { name: 'SEX', type: 'char' },
  { name: 'ARMCD', type: 'char' },
  { name: 'ARM', type: 'char' },
];
const DM_ROWS = [
  {
    STUDYID: 'T1',
    DOMAIN: 'DM',
    USUBJID: 'T1-001',
    SITEID: '10',
    RFSTDTC: '2020-03-02',
    AGE: 70,
    SEX: 'F',
    ARMCD: 'PBO',
    ARM: 'Placebo',
  },
  {
    STUDYID: 'T1',
    DOMAIN: 'DM',
    USUBJID: 'T1-002',
    SITEID: '11',
    RFSTDTC: '2020-03-09',
    AGE: 66,
    SEX: 'M',
    ARMCD: 'DRUG',
    ARM: 'Drug 10 mg',
  },
];
const AE_COLUMNS: XptColumn[] = [
  'STUDYID',
  'DOMAIN',
  'USUBJID',
  'AETERM',
  'AEDECOD',
  'AESEV',
  'AESER',
  'AESTDTC',
  'AEDTC',
]
  .map((name): XptColumn => ({ name, type: 'char' }))
  .concat([{ name: 'AESEQ', type: 'num' }]);

function aeRow(seq: number, over: Record<string, XptCell> = {}): Record<string, XptCell> {
  return {
    STUDYID: 'T1',
    DOMAIN: 'AE',
    USUBJID: 'T1-001',
    AESEQ: seq,
    AETERM: 'HEADACHE',
    AEDECOD: 'Headache',
    AESEV: 'MILD',
    AESER: 'N',
    AESTDTC: '2020-03',
    AEDTC: '2020-03-20',
    ...over,
  };
}

function trial(files: Record<string, Uint8Array | string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'aepred-sdtm-'));
  for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
  return dir;
}

describe('sdtm on hand-made XPT files', () => {
  it('imputes a partial AE onset to the reference start in its month, flagged', async () => {
    const dir = trial({
      'dm.xpt': writeXpt('DM', DM_COLUMNS, DM_ROWS),
      'ae.xpt': writeXpt('AE', AE_COLUMNS, [aeRow(1)]),
    });
    const { sink } = await importDir(dir);
    expect(JSON.parse(sink.messages['adverse-events'][0]!)).toMatchObject({
      patient_id: 'T1-001',
      trial_id: 'T1',
      site_id: '10',
      event_timestamp: '2020-03-02T00:00:00Z',
      report_timestamp: '2020-03-20T00:00:00Z',
      timestamp_imputed: true,
      date_imputation: 'day',
      event_type: 'Headache',
      term: 'HEADACHE',
      severity: 'mild',
      serious: false,
      reported_by: 'site:10:investigator',
    });
    expect(sink.enrollment.map((e) => [e.patient_id, e.arm_role, e.enrollment_date])).toEqual([
      ['T1-001', 'control', '2020-03-02'],
      ['T1-002', 'treatment', '2020-03-09'],
    ]);
  });
});

describe('sdtm bad input', () => {
  it('a missing directory is a usage error (exit 2) naming it', async () => {
    const missing = join(tmpdir(), 'aepred-no-such-sdtm');
    await expect(importDir(missing)).rejects.toMatchObject({
      code: 'AEP_IMPORT_NO_DIR',
      exitCode: 2,
      message: expect.stringContaining(missing),
    });
  });

  it('a directory without DM says DM is required', async () => {
    await expect(
      importDir(trial({ 'ae.xpt': writeXpt('AE', AE_COLUMNS, [aeRow(1)]) })),
    ).rejects.toMatchObject({
      code: 'AEP_IMPORT_NO_INPUT',
    });
  });

  it('a corrupt file names the file and the byte where reading failed', async () => {
    const dm = writeXpt('DM', DM_COLUMNS, DM_ROWS);
    const dir = trial({ 'dm.xpt': dm.subarray(0, dm.length - 40) });
    await expect(importDir(dir)).rejects.toThrow(
      /dm\.xpt: not a readable SAS transport \(XPT v5\) file: file length \d+ is not a multiple of 80/,
    );
    const fakeParquet = trial({ 'dm.parquet': 'PAR1 this is not parquet PAR1' });
    await expect(importDir(fakeParquet)).rejects.toMatchObject({
      code: 'AEP_IMPORT_CORRUPT_FILE',
      message: expect.stringMatching(/dm\.parquet: not a readable Parquet file/),
    });
  });

  it('an unknown column names the file and column; under skip the domain is skipped and counted', async () => {
    const cols = [...AE_COLUMNS, { name: 'AESEVX', type: 'char' as const }];
    const dir = trial({
      'dm.xpt': writeXpt('DM', DM_COLUMNS, DM_ROWS),
      'ae.xpt': writeXpt('AE', cols, [aeRow(1, { AESEVX: 'x' })]),
    });
    await expect(importDir(dir)).rejects.toMatchObject({
      code: 'AEP_IMPORT_UNKNOWN_COLUMN',
      message: expect.stringMatching(/ae\.xpt, header, column AESEVX: unknown AE variable "AESEVX"/),
    });
    const { run } = memoryRun('sdtm', 'skip');
    await importSdtm(dir, run);
    expect(await run.finish()).toMatchObject({ files: 2, files_skipped: 1, enrollment: 2 });
  });

  it('a bad date, bad code and unknown subject name the file, row and column; skip counts the rows', async () => {
    const rows = [
      aeRow(1),
      aeRow(2, { AESTDTC: '2020-02-30' }),
      aeRow(3, { AESEV: 'HORRIBLE' }),
      aeRow(4, { USUBJID: 'T1-999' }),
      aeRow(5, { AESTDTC: '03/04/2020' }),
    ];
    const dir = trial({
      'dm.xpt': writeXpt('DM', DM_COLUMNS, DM_ROWS),
      'ae.xpt': writeXpt('AE', AE_COLUMNS, rows),
    });
    await expect(importDir(dir)).rejects.toMatchObject({
      code: 'AEP_IMPORT_BAD_DATE',
      message: expect.stringMatching(
        /ae\.xpt, row 2, column AESTDTC: "2020-02-30": day 30 does not exist in 2020-02/,
      ),
    });
    const { run, sink } = memoryRun('sdtm', 'skip');
    await importSdtm(dir, run);
    const s = await run.finish();
    expect(s.rows_skipped).toBe(4);
    expect(s.errors.map((e) => e.message.replace(/^.*ae\.xpt, /, ''))).toEqual([
      'row 2, column AESTDTC: "2020-02-30": day 30 does not exist in 2020-02',
      'row 3, column AESEV: AESEV "HORRIBLE" is not MILD, MODERATE or SEVERE',
      'row 4, column USUBJID: subject T1-999 is not in DM',
      'row 5, column AESTDTC: "03/04/2020" is not an ISO 8601 date (YYYY[-MM[-DD[Thh[:mm[:ss]]]]])',
    ]);
    expect(sink.messages['adverse-events']).toHaveLength(1);
  });

  it('reads Parquet where both formats are present unless told otherwise', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aepred-sdtm-both-'));
    copyFileSync(join(PARQUET, 'dm.parquet'), join(dir, 'dm.parquet'));
    writeFileSync(join(dir, 'dm.xpt'), readFileSync(join(XPT, 'dm.xpt')));
    const auto = await importDir(dir);
    const asXpt = await importDir(dir, 'xpt');
    expect(auto.sink.enrollment).toEqual(asXpt.sink.enrollment);
  });
});
