import { describe, expect, it } from 'vitest';
import { loadMigrations } from './migrate.js';

describe('migrations', () => {
  it('are numbered without gaps and carry checksums', () => {
    const ms = loadMigrations();
    expect(ms.length).toBeGreaterThan(0);
    ms.forEach((m, i) => {
      expect(m.version).toBe(i + 1);
      expect(m.checksum).toMatch(/^[0-9a-f]{64}$/);
    });
    expect(ms[0]?.sql).toContain('CREATE TABLE enrollment');
  });
});
