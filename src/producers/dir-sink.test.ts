import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SAMPLE_ENROLLMENT } from '../contracts/samples.js';
import { AepredError } from '../shared/errors.js';
import { DirSink } from './dir-sink.js';
import { parseSinkTarget } from './target.js';

describe('DirSink', () => {
  it('writes NDJSON per topic in order, and enrollment.ndjson', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aepred-sink-'));
    const sink = new DirSink(dir);
    for (let i = 0; i < 30_000; i++) sink.write('patient-vitals', 'p', `{"i":${i}}`);
    sink.write('lab-results', 'p', '{"lab":1}');
    await sink.writeEnrollment([SAMPLE_ENROLLMENT]);
    await sink.close();
    const lines = readFileSync(join(dir, 'patient-vitals.ndjson'), 'utf8').trimEnd().split('\n');
    expect(lines.length).toBe(30_000);
    expect(lines[29_999]).toBe('{"i":29999}');
    expect(readFileSync(join(dir, 'lab-results.ndjson'), 'utf8')).toBe('{"lab":1}\n');
    expect(readFileSync(join(dir, 'medications.ndjson'), 'utf8')).toBe('');
    expect(JSON.parse(readFileSync(join(dir, 'enrollment.ndjson'), 'utf8'))).toEqual(SAMPLE_ENROLLMENT);
    expect(sink.counts()['patient-vitals']).toBe(30_000);
  });

  it('parses --to targets and names the flag on bad ones', () => {
    expect(parseSinkTarget(undefined)).toEqual({ to: 'kafka' });
    expect(parseSinkTarget(['dir', 'out'])).toEqual({ to: 'dir', path: 'out' });
    expect(parseSinkTarget(['kafka'])).toEqual({ to: 'kafka' });
    for (const bad of [['dir'], ['s3', 'x'], ['kafka', 'x']]) {
      try {
        parseSinkTarget(bad);
        expect.fail('accepted');
      } catch (e) {
        expect(e).toBeInstanceOf(AepredError);
        expect((e as AepredError).kind).toBe('usage');
        expect((e as AepredError).message).toContain('--to');
      }
    }
  });
});
