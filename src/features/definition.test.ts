import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../shared/paths.js';
import { canonicalJson, defaultFeatureSet, parseFeatureSet } from './definition.js';

describe('feature-set hash', () => {
  it('equals the hash pipelines.featureset computes in Python', () => {
    const py = execFileSync(
      resolve(REPO_ROOT, '.venv/bin/python'),
      ['-c', 'from pipelines.featureset import default_feature_set as d; print(d().hash)'],
      { cwd: REPO_ROOT },
    );
    expect(defaultFeatureSet().hash).toBe(py.toString().trim());
  });

  it('ignores descriptions and changes with anything else', () => {
    const fs = defaultFeatureSet();
    const raw = { version: fs.version, settings: fs.settings, features: fs.features.map((f) => ({ ...f })) };
    raw.features[0]!.description = 'reworded';
    expect(parseFeatureSet(raw).hash).toBe(fs.hash);
    raw.features[0]!.window = '2h';
    expect(parseFeatureSet(raw).hash).not.toBe(fs.hash);
  });

  it('refuses floats and unknown keys', () => {
    expect(() => canonicalJson({ a: 1.5 })).toThrow(/floats/);
    const fs = defaultFeatureSet();
    expect(() => parseFeatureSet({ version: 1, settings: fs.settings, features: [], extra: 1 })).toThrow();
  });
});
