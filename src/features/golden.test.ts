import { describe, expect, it } from 'vitest';
import { defaultFeatureSet } from './definition.js';
import { FeaturePlan, PatientFeatures } from './engine.js';
import { loadGoldenVectors, replayGolden } from './golden.js';

const fs = defaultFeatureSet();
const vectors = loadGoldenVectors();

describe('golden vectors (contracts/golden)', () => {
  it('covers every op of the definition', () => {
    const named = new Set(vectors.flatMap((v) => v.snapshots.flatMap((s) => Object.keys(s.expected))));
    const ops = new Set(fs.features.filter((f) => named.has(f.name)).map((f) => f.op));
    expect([...new Set(fs.features.map((f) => f.op))].filter((op) => !ops.has(op))).toEqual([]);
  });

  for (const v of vectors) {
    it(`${v.name}: ${v.description}`, () => {
      const plan = new FeaturePlan(fs, v.interactions);
      const pf = new PatientFeatures(plan, v.patient);
      const values = replayGolden(pf, v);
      const bad: string[] = [];
      for (const snap of v.snapshots) {
        const out = values.get(snap.t)!;
        for (const [name, want] of Object.entries(snap.expected)) {
          const got = out[fs.names.indexOf(name)]!;
          const ok = want === null ? Number.isNaN(got) : Math.abs(got - want) <= 1e-9;
          if (!ok) bad.push(`${snap.t} ${name}: want ${want} got ${got}`);
        }
      }
      expect(bad).toEqual([]);
    });
  }
});
