import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalFsLake } from './local-fs.js';
import { checkKey } from './storage.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'aepred-lake-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined): string | undefined =>
  b === undefined ? undefined : new TextDecoder().decode(b);

describe('LocalFsLake', () => {
  it('puts, gets, lists recursively and deletes', async () => {
    const lake = new LocalFsLake(root);
    await lake.put('bronze/t/date=2024-01-01/a.parquet', bytes('A'));
    await lake.put('bronze/t/date=2024-01-02/b.parquet', bytes('B'));
    await lake.put('other/c', bytes('C'));
    expect(text(await lake.get('bronze/t/date=2024-01-01/a.parquet'))).toBe('A');
    expect((await lake.list('bronze/')).sort()).toEqual([
      'bronze/t/date=2024-01-01/a.parquet',
      'bronze/t/date=2024-01-02/b.parquet',
    ]);
    await lake.delete('bronze/t/date=2024-01-01/a.parquet');
    await lake.delete('bronze/t/date=2024-01-01/a.parquet'); // missing: not an error
    expect(await lake.get('bronze/t/date=2024-01-01/a.parquet')).toBeUndefined();
    expect(await lake.list('bronze/')).toEqual(['bronze/t/date=2024-01-02/b.parquet']);
    expect(await lake.list('nothing/here/')).toEqual([]);
  });

  it('a second put of the same key replaces the object (a replayed batch does not duplicate)', async () => {
    const lake = new LocalFsLake(root);
    await lake.put('bronze/t/x.parquet', bytes('first'));
    await lake.put('bronze/t/x.parquet', bytes('second'));
    expect(text(await lake.get('bronze/t/x.parquet'))).toBe('second');
    expect(await lake.list('bronze/')).toEqual(['bronze/t/x.parquet']);
    expect(readdirSync(join(root, 'bronze/t'))).toEqual(['x.parquet']); // no temporaries left
  });

  it('hides temporaries left by a crash from list() and sweeps them', async () => {
    const lake = new LocalFsLake(root);
    await lake.put('bronze/t/x.parquet', bytes('ok'));
    writeFileSync(join(root, 'bronze/t/.x.parquet.tmp-dead'), 'partial');
    expect(await lake.list('bronze/')).toEqual(['bronze/t/x.parquet']);
    expect(await lake.sweepTemporaries('bronze/')).toBe(1);
    expect(readdirSync(join(root, 'bronze/t'))).toEqual(['x.parquet']);
  });

  it('rejects keys that escape the root or that readers would skip', async () => {
    const lake = new LocalFsLake(root);
    for (const k of ['', '/abs', '../up', 'a/../../b', 'a//b', 'a/./b']) {
      expect(() => checkKey(k), k).toThrow(/invalid lake key/);
      await expect(lake.put(k, bytes('x')), k).rejects.toThrow(/invalid lake key/);
    }
  });
});
