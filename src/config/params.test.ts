import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { scenarioParams } from '../retrain/scenario.js';
import { AepredError } from '../shared/errors.js';
import { REPO_ROOT } from '../shared/paths.js';
import { loadParams } from './params.js';

// The zod side of the rules tests/python/test_params_parity.py checks on pydantic and on the JSON
// Schema export (REJECTED / ACCEPTED there): the same values, through loadParams.
const PARAMS_YAML = resolve(REPO_ROOT, 'params.yaml');
const dir = mkdtempSync(join(tmpdir(), 'aepred-params-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Doc = Record<string, Record<string, unknown>>;
const DROP = Symbol('drop');

function writeWith(path: string, value: unknown): string {
  const doc = parse(readFileSync(PARAMS_YAML, 'utf8')) as Doc;
  const [section, key] = path.split('.') as [string, string];
  const node = doc[section] as Record<string, unknown>;
  if (value === DROP) delete node[key];
  else node[key] = value;
  const file = join(dir, `${path}-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, stringify(doc));
  return file;
}

function problems(file: string): string {
  try {
    loadParams(file);
  } catch (e) {
    expect(e).toBeInstanceOf(AepredError);
    expect((e as AepredError).code).toBe('AEP_PARAMS_INVALID');
    return (e as AepredError).detail ?? '';
  }
  return '';
}

const REJECTED: [string, unknown, string][] = [
  ['pipeline.start', '2024-01-01T00:00:00', 'naive'],
  ['pipeline.start', '2024-01-01', 'date only'],
  ['pipeline.end', '2024-01-22T00:00', 'no seconds'],
  ['pipeline.end', '2024-01-22 00:00:00+00:00', 'space instead of T'],
  ['pipeline.end', '2024-02-30T00:00:00Z', 'no such day'],
  ['pipeline.start', '2024-01-01T00:00:00+0100', 'offset without a colon'],
  ['pipeline.source', '', 'empty source'],
  ['training.hidden_sizes', [64, 0], 'zero-width layer'],
  ['training.hidden_sizes', [-8], 'negative layer'],
  ['monitoring.drift_rule_exclude', ['*_count_*', ''], 'empty pattern'],
  ['retraining.dvc_stages', ['train', ''], 'empty stage name'],
  ['retraining.max_epochs', 0, 'zero epochs'],
];

const ACCEPTED: [string, unknown, string][] = [
  ['pipeline.start', '2023-12-31T23:00:00-01:00', 'an offset'],
  ['pipeline.start', '2024-01-01T00:00:00Z', 'Z'],
  ['pipeline.end', '2024-01-22T00:00:00.250+00:00', 'a fraction'],
  ['pipeline.end', '2024-02-29T00:00:00Z', 'a leap day'],
  ['retraining.max_epochs', 3, 'max_epochs set'],
  ['monitoring.drift_rule_exclude', DROP, 'no exclusions'],
  ['retraining.dvc_stages', [], 'no stages'],
];

describe('params.yaml rules shared with ml/params.py', () => {
  it.each(REJECTED)('rejects %s = %j (%s), naming the key', (path, value) => {
    const detail = problems(writeWith(path, value));
    const lines = detail.split('\n').filter(Boolean);
    expect(lines.length, 'one problem reported').toBeGreaterThan(0);
    for (const line of lines) expect(line.trim().startsWith(`${path}`), detail).toBe(true);
  });

  it.each(ACCEPTED)('accepts %s = %j (%s)', (path, value) => {
    expect(problems(writeWith(path, value))).toBe('');
  });

  it('explains what a pipeline date-time needs', () => {
    const detail = problems(writeWith('pipeline.start', '2024-01-01T00:00:00'));
    expect(detail).toMatch(/pipeline\.start: .*Z or a UTC offset.*ambiguous/);
  });

  it('reads a missing retraining.max_epochs as null: training.max_epochs applies', () => {
    const p = loadParams(writeWith('retraining.max_epochs', DROP));
    expect(p.retraining.max_epochs).toBeNull();
    expect(loadParams(PARAMS_YAML).retraining.max_epochs).toBeNull();
  });
});

describe('params files the repository writes', () => {
  it("scenarioParams' re-dumped params.yaml keeps the pipeline window quoted and valid", () => {
    const shipped = loadParams(PARAMS_YAML);
    const file = scenarioParams(REPO_ROOT, dir, 'aepred-params-test', { days: 5, epochs: 2, patients: 8 });
    const text = readFileSync(file, 'utf8');
    // Quoted: PyYAML (ml/params.py) would otherwise be free to read a YAML 1.1 timestamp.
    expect(text).toContain(`start: '${shipped.pipeline.start}'`);
    expect(text).toContain(`end: '${shipped.pipeline.end}'`);
    const p = loadParams(file);
    expect(p.pipeline.start).toBe(shipped.pipeline.start);
    expect(p.pipeline.end).toBe(shipped.pipeline.end);
    expect(p.retraining.max_epochs).toBe(2);
  });
});
