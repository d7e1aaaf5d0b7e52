import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { REPO_ROOT } from '../../shared/paths.js';
import { run } from '../main.js';

const DATA = resolve(REPO_ROOT, '../shared/data');

function capture(): { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    err += String(s);
    return true;
  });
  return { out: () => out, err: () => err };
}

describe('aepred import', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  });

  it('imports PhysioNet stays to a directory and prints the summary', async () => {
    const out = mkdtempSync(join(tmpdir(), 'aepred-cli-import-'));
    const io = capture();
    const code = await run([
      'node',
      'aepred',
      'import',
      'physionet2019',
      join(DATA, 'physionet2019/training_setA'),
      '--limit',
      '5',
      '--to',
      'dir',
      out,
      '--report-delay-hours',
      '1',
    ]);
    expect(code).toBe(0);
    const summary = JSON.parse(io.out()) as {
      files: number;
      enrollment: number;
      messages: Record<string, number>;
    };
    expect(summary.files).toBe(5);
    expect(summary.enrollment).toBe(5);
    const lines = readFileSync(join(out, 'patient-vitals.ndjson'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(summary.messages['patient-vitals']!);
    expect(readFileSync(join(out, 'enrollment.ndjson'), 'utf8').trim().split('\n')).toHaveLength(5);
  });

  it('imports the SDTM XPT files to a directory', async () => {
    const out = mkdtempSync(join(tmpdir(), 'aepred-cli-sdtm-'));
    const io = capture();
    const code = await run([
      'node',
      'aepred',
      'import',
      'sdtm',
      join(DATA, 'cdiscpilot01/sdtm-xpt'),
      '--format',
      'xpt',
      '--to',
      'dir',
      out,
    ]);
    expect(code).toBe(0);
    expect(JSON.parse(io.out())).toMatchObject({
      files: 4,
      enrollment: 306,
      messages: { 'adverse-events': 1191, medications: 8101 },
    });
  });

  it('exits 2 with a named error for a missing directory or a bad option, before any work', async () => {
    const io = capture();
    const missing = join(tmpdir(), 'aepred-cli-no-such-dir');
    expect(await run(['node', 'aepred', 'import', 'sdtm', missing, '--to', 'dir', join(tmpdir(), 'x')])).toBe(
      2,
    );
    expect(io.err()).toContain(`AEP_IMPORT_NO_DIR: ${missing}`);
    expect(await run(['node', 'aepred', 'import', 'physionet2019', missing, '--on-error', 'maybe'])).toBe(2);
    expect(io.err()).toContain('AEP_IMPORT_USAGE: --on-error: must be "skip" or "stop"');
    expect(await run(['node', 'aepred', 'import', 'physionet2019', missing, '--limit', '0'])).toBe(2);
    expect(await run(['node', 'aepred', 'import', 'sdtm', missing, '--format', 'sas7bdat'])).toBe(2);
    expect(await run(['node', 'aepred', 'import', 'sdtm'])).toBe(2);
  });
});
