import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { run } from '../main.js';

function capture(): { text: () => string } {
  let out = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  return { text: () => out };
}

const base = ['node', 'aepred', 'simulate', '--patients', '3', '--days', '1', '--seed', '1'];

describe('aepred simulate', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it.each([
    [['--scenario', 'storm'], '--scenario'],
    [['--start', '2024-02-30'], '--start'],
    [['--start', 'yesterday'], '--start'],
    [['--rate', 'fast'], '--rate'],
    [['--to', 'dir'], '--to'],
  ])('rejects %j naming the flag, exit 2', async (extra, flag) => {
    const io = capture();
    expect(await run([...base, ...extra])).toBe(2);
    expect(io.text()).toContain(flag);
  });

  it.each([
    ['--patients', '-5'],
    ['--patients', '0'],
    ['--days', '1.5'],
    ['--seed', 'abc'],
  ])('rejects %s %s naming the flag, exit 2', async (flag, value) => {
    const io = capture();
    const args = [...base];
    args[args.indexOf(flag) + 1] = value;
    expect(await run(args)).toBe(2);
    expect(io.text()).toContain(flag);
  });

  it('requires --patients', async () => {
    const io = capture();
    expect(await run(['node', 'aepred', 'simulate', '--days', '1', '--seed', '1'])).toBe(2);
    expect(io.text()).toContain('--patients');
  });

  it('writes NDJSON per topic, enrollment and the manifest with --to dir', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aepred-cli-sim-'));
    const io = capture();
    expect(await run([...base, '--scenario', 'faults', '--to', 'dir', dir])).toBe(0);
    expect(io.text()).toContain('simulate:');
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
      args: { patients: number };
    };
    expect(manifest.args.patients).toBe(3);
    expect(readFileSync(join(dir, 'enrollment.ndjson'), 'utf8').trim().split('\n')).toHaveLength(3);
    expect(readFileSync(join(dir, 'patient-vitals.ndjson'), 'utf8').length).toBeGreaterThan(0);
  }, 30_000);
});
