/** `aepred serve`'s drift reference for live monitoring: which file, and what is refused. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildFeatureReference } from '../monitoring/drift.js';
import { loadStackConfig } from '../stack/config.js';
import { loadDriftReference, type ServeConfig } from './server.js';

const quiet = { info: () => {} };
const doc = (hash: string) => ({
  schema_version: 1,
  feature_set_hash: hash,
  rows: 3,
  features: [buildFeatureReference('hr_mean_1h', [70, 80, 90], 10)],
});

function config(o: Partial<ServeConfig>): ServeConfig {
  return { stack: loadStackConfig(), ...o } as ServeConfig;
}

describe('loadDriftReference', () => {
  it('takes --drift-reference, else the file beside --model, else none (performance only)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aepred-ref-'));
    writeFileSync(join(dir, 'model.onnx'), '');
    expect(
      await loadDriftReference(config({ modelFile: join(dir, 'model.onnx') }), 'h', quiet),
    ).toBeUndefined();
    writeFileSync(join(dir, 'drift_reference.json'), JSON.stringify(doc('h')));
    const beside = await loadDriftReference(config({ modelFile: join(dir, 'model.onnx') }), 'h', quiet);
    expect(beside?.features[0]?.name).toBe('hr_mean_1h');
    const other = join(dir, 'other.json');
    writeFileSync(other, JSON.stringify({ ...doc('h'), rows: 7 }));
    const explicit = await loadDriftReference(
      config({ modelFile: join(dir, 'model.onnx'), driftReference: other }),
      'h',
      quiet,
    );
    expect(explicit?.rows).toBe(7);
  });

  it('refuses a reference of another feature set, and one that is not a drift reference, naming the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aepred-ref-'));
    const f = join(dir, 'ref.json');
    writeFileSync(f, JSON.stringify(doc('old')));
    await expect(loadDriftReference(config({ driftReference: f }), 'new', quiet)).rejects.toThrow(
      `drift reference ${f} was built for feature set old, the service computes new`,
    );
    writeFileSync(f, JSON.stringify({ schema_version: 1, features: [] }));
    await expect(loadDriftReference(config({ driftReference: f }), 'new', quiet)).rejects.toThrow(
      `drift reference ${f} is not a valid drift_reference.json`,
    );
  });
});
