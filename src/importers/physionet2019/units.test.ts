import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadParams } from '../../config/params.js';
import { defaultFeatureSet } from '../../features/definition.js';
import { FeaturePlan } from '../../features/engine.js';
import { Normalizer, UnitsTable } from '../../features/normalize.js';
import { memoryRun } from '../testing.js';
import { importPhysionet } from './importer.js';
import { ALL_COLUMNS, LABS } from './mapping.js';

/**
 * Every lab the PhysioNet importer sends is accepted by contracts/units.yaml in the unit it sends, and
 * is read by a feature of contracts/features.yaml (issue 6: before, FiO2 and pH were rejected as
 * unit_unknown and 17 other labs reached silver but no feature).
 */

// A plausible value per lab column (the challenge's own units; FiO2 a fraction, BaseExcess signed).
const VALUE: Record<string, number> = {
  BaseExcess: -4,
  HCO3: 21,
  FiO2: 0.4,
  pH: 7.31,
  PaCO2: 38,
  SaO2: 96,
  AST: 40,
  BUN: 22,
  Alkalinephos: 90,
  Calcium: 8.6,
  Chloride: 104,
  Creatinine: 1.2,
  Bilirubin_direct: 0.3,
  Glucose: 140,
  Lactate: 2.1,
  Magnesium: 2.0,
  Phosphate: 3.4,
  Potassium: 4.2,
  Bilirubin_total: 0.9,
  TroponinI: 0.05,
  Hct: 31,
  Hgb: 10.4,
  PTT: 32,
  WBC: 11.2,
  Fibrinogen: 250,
  Platelets: 210,
};

describe('physionet2019 labs through the units table into the feature set', () => {
  it('accepts every lab in the unit the importer sends and a feature reads each', async () => {
    expect(Object.keys(VALUE).sort()).toEqual(LABS.map((l) => l.column).sort());
    const row: Record<string, number> = { Age: 60, Gender: 0, Unit1: 1, Unit2: 0, ICULOS: 1, SepsisLabel: 0 };
    Object.assign(row, VALUE);
    const dir = join(mkdtempSync(join(tmpdir(), 'aepred-physionet-units-')), 'training_setU');
    mkdirSync(dir);
    const line = ALL_COLUMNS.map((c) => (row[c] === undefined ? 'NaN' : String(row[c]))).join('|');
    writeFileSync(join(dir, 'p900100.psv'), `${ALL_COLUMNS.join('|')}\n${line}\n`);
    const { run, sink } = memoryRun('physionet2019');
    await importPhysionet(dir, run, {});
    await run.finish();

    const fs = defaultFeatureSet();
    const plan = new FeaturePlan(fs, []);
    const normalizer = new Normalizer(plan, UnitsTable.load(), loadParams().silver.ranges);
    const labs = sink.messages['lab-results'].map((s) => JSON.parse(s) as Record<string, unknown>);
    expect(labs).toHaveLength(LABS.length);
    const codeOf: Record<string, string> = {};
    const canonical: Record<string, number> = {};
    for (const m of labs) {
      const r = normalizer.normalize('lab-results', m);
      if (!r.ok) throw new Error(`${String(m.test_name)} ${String(m.unit)}: ${r.reason}`);
      if (r.obs.kind !== 'lab') throw new Error('not a lab observation');
      codeOf[String(m.test_name)] = r.obs.code;
      canonical[r.obs.code] = r.obs.value;
    }
    // Every PhysioNet lab reaches at least one feature.
    const unread = Object.entries(codeOf).filter(([, code]) => plan.labIndex(code) < 0);
    expect(unread).toEqual([]);
    // Blood-gas pH is its own code (the CDISC pilot's PH is urine pH); FiO2 fraction -> %.
    expect(codeOf.pH).toBe('PHART');
    expect(canonical.PHART).toBe(7.31);
    expect(canonical.FIO2).toBeCloseTo(40, 12);
    expect(canonical.BE).toBe(-4);
  });
});
