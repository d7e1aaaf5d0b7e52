import { numberToIbm, type SasMissing } from './ibm-float.js';

/**
 * A minimal SAS transport (XPT v5) writer: one member, numerics as 8-byte IBM floats, characters
 * blank padded. It exists so tests can build transport files with any content (bad dates, unknown
 * variables, special missing values) and check the reader against it; imports never write XPT.
 */
export interface XptColumn {
  name: string;
  label?: string;
  type: 'num' | 'char';
  /** Characters only: the fixed width (default: the longest value, at least 1). */
  length?: number;
}

export type XptCell = string | number | SasMissing | null;

const enc = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);

function record(s: string): Uint8Array {
  return enc(s.padEnd(80, ' ').slice(0, 80));
}

function padded(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(Math.ceil(total / 80) * 80).fill(0x20);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const STAMP = '01JAN24:00:00:00';

export function writeXpt(
  member: string,
  columns: readonly XptColumn[],
  rows: ReadonlyArray<Readonly<Record<string, XptCell>>>,
): Uint8Array {
  const widths = columns.map((c) => {
    if (c.type === 'num') return 8;
    if (c.length !== undefined) return c.length;
    return Math.max(1, ...rows.map((r) => String(r[c.name] ?? '').length));
  });
  const positions: number[] = [];
  let rowLength = 0;
  for (const w of widths) {
    positions.push(rowLength);
    rowLength += w;
  }
  const namestrs = columns.map((c, i) => {
    const b = new Uint8Array(140);
    const v = new DataView(b.buffer);
    v.setInt16(0, c.type === 'num' ? 1 : 2);
    v.setInt16(4, widths[i]!);
    v.setInt16(6, i + 1);
    b.set(enc(c.name.padEnd(8, ' ').slice(0, 8)), 8);
    b.set(enc((c.label ?? c.name).padEnd(40, ' ').slice(0, 40)), 16);
    b.set(enc(' '.repeat(8)), 56);
    b.set(enc(' '.repeat(8)), 72);
    v.setInt32(84, positions[i]!);
    return b;
  });
  const data = rows.map((r) => {
    const b = new Uint8Array(rowLength).fill(0x20);
    columns.forEach((c, i) => {
      const value = r[c.name] ?? null;
      if (c.type === 'num') {
        b.set(
          numberToIbm(value === null || typeof value === 'string' ? { missing: '.' } : value),
          positions[i]!,
        );
      } else {
        b.set(
          enc(
            String(typeof value === 'object' && value !== null ? '' : (value ?? ''))
              .padEnd(widths[i]!, ' ')
              .slice(0, widths[i]!),
          ),
          positions[i]!,
        );
      }
    });
    return b;
  });
  const count = String(columns.length).padStart(4, '0');
  return padded([
    record('HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!000000000000000000000000000000'),
    record(`SAS     SAS     SASLIB  9.4     X64_7PRO${' '.repeat(24)}${STAMP}`),
    record(STAMP),
    record('HEADER RECORD*******MEMBER  HEADER RECORD!!!!!!!000000000000000001600000000140'),
    record('HEADER RECORD*******DSCRPTR HEADER RECORD!!!!!!!000000000000000000000000000000'),
    record(`SAS     ${member.padEnd(8, ' ')}SASDATA 9.4     X64_7PRO${' '.repeat(24)}${STAMP}`),
    record(`${STAMP}${' '.repeat(16)}${member.padEnd(40, ' ')}DATA    `),
    record(`HEADER RECORD*******NAMESTR HEADER RECORD!!!!!!!000000${count}00000000000000000000`),
    padded(namestrs),
    record('HEADER RECORD*******OBS     HEADER RECORD!!!!!!!000000000000000000000000000000'),
    padded(data),
  ]);
}
