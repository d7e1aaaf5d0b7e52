import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadStackConfig } from './config.js';
import { formatReserved, parseReserved, reservePorts, stackPorts } from './reserved-ports.js';

describe('reserving the stack ports from the ephemeral range', () => {
  it('parses and formats the kernel list of ports and ranges', () => {
    expect([...parseReserved('8080,55000-55002\n')]).toEqual([8080, 55000, 55001, 55002]);
    expect([...parseReserved('\n')]).toEqual([]);
    expect(formatReserved([59001, 55432, 59000, 8080, 59000])).toBe('8080,55432,59000-59001');
  });

  it("adds the stack's ports to what is reserved already, once", () => {
    const f = join(mkdtempSync(join(tmpdir(), 'aepred-ports-')), 'reserved');
    writeFileSync(f, '8080\n');
    const ports = stackPorts(loadStackConfig(), [55432, 56379]);
    expect(ports).toContain(58080);
    expect(reservePorts(ports, f)).toEqual({ added: [...new Set(ports)].sort((a, b) => a - b) });
    const now = parseReserved(readFileSync(f, 'utf8'));
    expect([now.has(8080), now.has(58080), now.has(55432)]).toEqual([true, true, true]);
    expect(reservePorts(ports, f)).toEqual({ added: [] });
  });

  it('says why when it cannot read the list', () => {
    expect(reservePorts([58080], '/nonexistent/reserved')).toMatchObject({
      skipped: expect.stringMatching(/^cannot read \/nonexistent\/reserved/),
    });
  });
});
