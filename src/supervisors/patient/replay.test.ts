import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadParams } from '../../config/params.js';
import { defaultFeatureSet } from '../../features/definition.js';
import { REPO_ROOT } from '../../shared/paths.js';
import { ModelSupervisor } from '../model/actor.js';
import { fromJsonNumber, type ReplayFixture, type ReplayOutcome, replay, serviceBehavior } from './replay.js';

/**
 * Replay test of issue 7: the recorded per-patient sequences of tests/fixtures/replay/ (written by
 * scripts/record-replay.ts) go through fresh actors on a simulated clock and must give back the stored
 * Float64 feature vectors (1e-9) and scores (1e-6) at the same trial times, the same throttled
 * scorings and alert changes; once with one live actor, once with the actor snapshotted and
 * passivated before every check (restored from its snapshot for what follows).
 */
const DIR = resolve(REPO_ROOT, 'tests/fixtures/replay');
const params = loadParams();
const fs = defaultFeatureSet();
const behavior = serviceBehavior(fs, params);
const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();
const fixtures: ReplayFixture[] = files.map((f) => JSON.parse(readFileSync(join(DIR, f), 'utf8')));
const models = new ModelSupervisor({
  featureSetHash: fs.hash,
  canaryShare: 0,
  logger: pino({ level: 'silent' }),
});

const close = (a: number, b: number, tol: number): boolean =>
  Number.isNaN(b) ? Number.isNaN(a) : a === b || Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

/** Every difference between a replay and the recording, as readable lines (empty: identical). */
function differences(fx: ReplayFixture, got: ReplayOutcome): string[] {
  const d: string[] = [];
  if (got.rejected !== fx.rejected) d.push(`rejected ${got.rejected} != ${fx.rejected}`);
  if (got.checks.length !== fx.checks.length) d.push(`checks ${got.checks.length} != ${fx.checks.length}`);
  fx.checks.forEach((want, i) => {
    const c = got.checks[i];
    if (!c) return;
    if (c.t !== want.t) d.push(`check ${i}: t ${c.t} != ${want.t}`);
    want.features.forEach((w, k) => {
      const a = fromJsonNumber(c.features[k] ?? null);
      if (!close(a, fromJsonNumber(w), 1e-9)) d.push(`${want.t} ${fs.names[k]}: ${a} != ${w}`);
    });
    if (!close(c.probability, want.probability, 1e-6))
      d.push(`${want.t} probability ${c.probability} != ${want.probability}`);
    if (c.risk_level !== want.risk_level)
      d.push(`${want.t} risk level ${c.risk_level} != ${want.risk_level}`);
    want.top_risk_factors.forEach(([name, attr], k) => {
      const f = c.top_risk_factors[k];
      if (!f || f[0] !== name || !close(f[1], attr, 1e-6))
        d.push(`${want.t} factor ${k}: ${JSON.stringify(f)} != ${JSON.stringify([name, attr])}`);
    });
  });
  if (got.throttled.length !== fx.throttled.length)
    d.push(`throttled scorings ${got.throttled.length} != ${fx.throttled.length}`);
  fx.throttled.forEach(([t, p], i) => {
    const g = got.throttled[i];
    if (!g || g[0] !== t || !close(g[1], p, 1e-6))
      d.push(`throttled ${i}: ${JSON.stringify(g)} != ${t} ${p}`);
  });
  if (JSON.stringify(got.alerts) !== JSON.stringify(fx.alerts))
    d.push(`alerts ${JSON.stringify(got.alerts)} != ${JSON.stringify(fx.alerts)}`);
  return d;
}

beforeAll(async () => {
  const model = fixtures[0]?.model;
  if (!model) throw new Error(`no fixtures in ${DIR}: run npx tsx scripts/record-replay.ts`);
  if (model.feature_set_hash !== fs.hash)
    throw new Error(
      `the replay fixtures were recorded for feature set ${model.feature_set_hash}, the definition is now ${fs.hash}: re-record them (docs/actors.md#replay)`,
    );
  await models.load('production', readFileSync(join(DIR, model.file)));
});

afterAll(async () => {
  await models.close();
});

describe('replay fixtures (tests/fixtures/replay)', () => {
  it('holds a handful of patients, small, with what the test compares', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(3);
    const bytes = readdirSync(DIR).reduce((a, f) => a + readFileSync(join(DIR, f)).length, 0);
    expect(bytes).toBeLessThan(300_000);
    for (const fx of fixtures) {
      expect(fx.checks.length).toBe(fx.check_times.length);
      expect(fx.checks[0]!.features).toHaveLength(fs.names.length);
      expect(fx.throttled.length).toBeGreaterThan(0);
    }
  });

  for (const [i, file] of files.entries()) {
    for (const passivate of [false, true]) {
      it(`${file}: ${passivate ? 'passivated and restored before every check' : 'one live actor'} gives the stored vectors and scores`, async () => {
        const fx = fixtures[i]!;
        const got = await replay(fx, { behavior, params, models, passivate });
        expect(differences(fx, got)).toEqual([]);
        // A patient with no events yet at a check has nothing to snapshot: fewer restores than checks.
        if (passivate) expect(got.restored).toBeGreaterThanOrEqual(fx.checks.length / 2);
        else expect(got.restored).toBe(0);
      });
    }
  }

  it('notices a changed event: one heart rate in the last hours moves the stored vectors', async () => {
    const fx = structuredClone(fixtures[0]!);
    const hr = fx.columns['patient-vitals']!.indexOf('heart_rate') + 2;
    const last = fx.check_times.at(-1)!;
    const row = fx.events.findLast(
      (e) =>
        e[0] === 0 &&
        typeof e[hr] === 'number' &&
        String(e[3]) < last &&
        String(e[3]) > fx.check_times.at(-2)!,
    );
    expect(row).toBeDefined();
    row![hr] = (row![hr] as number) + 7;
    const got = await replay(fx, { behavior, params, models, passivate: false });
    const d = differences(fixtures[0]!, got);
    expect(d.some((x) => x.startsWith(`${last} hr_`))).toBe(true);
  });

  it('refuses a fixture row naming a topic it does not list', async () => {
    const fx = structuredClone(fixtures[0]!);
    fx.events[0] = [9, 0];
    await expect(replay(fx, { behavior, params, models, passivate: false })).rejects.toThrow(/bad event row/);
  });
});
