import { describe, expect, it } from 'vitest';
import { installCacheDir, outputTail, requireTool } from './install.js';

describe('install cache', () => {
  it('prefers AEPRED_CACHE_DIR, then XDG_CACHE_HOME, then ~/.cache', () => {
    expect(installCacheDir({ AEPRED_CACHE_DIR: '/c', XDG_CACHE_HOME: '/x' })).toBe('/c');
    expect(installCacheDir({ XDG_CACHE_HOME: '/x' })).toBe('/x/aepred');
    expect(installCacheDir({})).toMatch(/\.cache\/aepred$/);
  });
});

describe('installer helpers', () => {
  it('names a missing tool and how to install it', () => {
    expect(() => requireTool('aepred-no-such-tool', 'for a test', 'apt-get install nothing')).toThrow(
      /'aepred-no-such-tool' is not installed/,
    );
    expect(() => requireTool(process.execPath, 'for a test', '-')).not.toThrow();
  });

  it('keeps only the tail of long output', () => {
    const tail = outputTail(`${'x'.repeat(10_000)}END`);
    expect(tail.length).toBeLessThan(4_100);
    expect(tail.startsWith('...\n')).toBe(true);
    expect(tail.endsWith('END')).toBe(true);
  });
});
