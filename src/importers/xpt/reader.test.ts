import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../shared/paths.js';
import { readXpt, XptFormatError } from './reader.js';

/** One 80-byte record from text, blank padded. */
function rec(s: string): Uint8Array {
  if (s.length > 80) throw new Error('record too long');
  return Uint8Array.from(s.padEnd(80, ' '), (c) => c.charCodeAt(0));
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function padToRecord(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(b.length / 80) * 80).fill(0x20);
  out.set(b);
  return out;
}

/** A 140-byte NAMESTR, written field by field as SAS TS-140 lays it out. */
function namestr(type: 1 | 2, length: number, index: number, name: string, label: string, position: number) {
  const b = new Uint8Array(140);
  const v = new DataView(b.buffer);
  v.setInt16(0, type);
  v.setInt16(2, 0);
  v.setInt16(4, length);
  v.setInt16(6, index);
  b.set(rec(name).subarray(0, 8), 8);
  b.set(rec(label).subarray(0, 40), 16);
  b.set(rec('').subarray(0, 8), 56);
  b.set(rec('').subarray(0, 8), 72);
  v.setInt32(84, position);
  return b;
}

const header = (kind: string, tail = '000000000000000000000000000000') =>
  rec(`HEADER RECORD*******${kind.padEnd(8, ' ')}HEADER RECORD!!!!!!!${tail}`);

/**
 * A tiny dataset built byte by byte: USUBJID $8 and AGE 8, three observations: 63, missing '.',
 * special missing '.A'. 3 x 16 bytes of data leave 32 blank bytes of padding, which look like two
 * whole blank rows and must not be read as rows.
 */
function tinyXpt(): Uint8Array {
  const rows = new Uint8Array(48);
  const put = (row: number, id: string, num: number[]) => {
    rows.set(rec(id).subarray(0, 8), row * 16);
    rows.set(Uint8Array.from(num), row * 16 + 8);
  };
  put(0, 'S-1', [0x42, 0x3f, 0, 0, 0, 0, 0, 0]); // 63
  put(1, 'S-2', [0x2e, 0, 0, 0, 0, 0, 0, 0]); // .
  put(2, 'S-3', [0x41, 0, 0, 0, 0, 0, 0, 0]); // .A
  return concat([
    header('LIBRARY'),
    rec('SAS     SAS     SASLIB  9.4     X64_7PRO                        01JAN24:00:00:00'),
    rec('01JAN24:00:00:00'),
    rec('HEADER RECORD*******MEMBER  HEADER RECORD!!!!!!!000000000000000001600000000140'),
    header('DSCRPTR'),
    rec('SAS     TINY    SASDATA 9.4     X64_7PRO                        01JAN24:00:00:00'),
    rec(`01JAN24:00:00:00${' '.repeat(16)}${'Tiny test'.padEnd(40, ' ')}DATA    `),
    header('NAMESTR', '000000000200000000000000000000'),
    padToRecord(concat([namestr(2, 8, 1, 'USUBJID', 'Subject', 0), namestr(1, 8, 2, 'AGE', 'Age', 8)])),
    header('OBS'),
    padToRecord(rows),
  ]);
}

describe('readXpt on a hand-built file', () => {
  it('reads the header, the NAMESTRs and every observation, not the padding', () => {
    const lib = readXpt(tinyXpt());
    expect(lib.sasVersion).toBe('9.4');
    expect(lib.members).toHaveLength(1);
    const m = lib.members[0]!;
    expect(m.name).toBe('TINY');
    expect(m.label).toBe('Tiny test');
    expect(m.variables.map((v) => [v.name, v.type, v.length, v.position, v.label])).toEqual([
      ['USUBJID', 'char', 8, 0, 'Subject'],
      ['AGE', 'num', 8, 8, 'Age'],
    ]);
    expect(m.rowCount).toBe(3);
    expect([...m.rows()]).toEqual([
      { row: 1, values: { USUBJID: 'S-1', AGE: 63 } },
      { row: 2, values: { USUBJID: 'S-2', AGE: { missing: '.' } } },
      { row: 3, values: { USUBJID: 'S-3', AGE: { missing: 'A' } } },
    ]);
  });

  it('reads two members in one file', () => {
    const one = tinyXpt();
    const twice = concat([one, one.subarray(240)]);
    const lib = readXpt(twice);
    expect(lib.members.map((m) => [m.name, m.rowCount])).toEqual([
      ['TINY', 3],
      ['TINY', 3],
    ]);
  });

  it('refuses truncated, foreign and version 8 files with the offending offset', () => {
    const good = tinyXpt();
    expect(() => readXpt(good.subarray(0, good.length - 7))).toThrow(/not a multiple of 80/);
    expect(() => readXpt(new TextEncoder().encode('HR|O2Sat|Temp\n97|95|NaN\n'))).toThrow(XptFormatError);
    expect(() => readXpt(new Uint8Array())).toThrow(/empty/);
    const v8 = rec('HEADER RECORD*******LIBV8   HEADER RECORD!!!!!!!000000000000000000000000000000');
    expect(() => readXpt(concat([v8, v8, v8]))).toThrow(/version 8/);
    // A last record holding one row then blanks: the blanks are padding, not four empty rows.
    const cut = good.slice(0, good.length - 80);
    const partial = concat([cut, padToRecord(Uint8Array.from([0x53, 0x2d, 0x39]))]);
    const m = readXpt(partial).members[0]!;
    expect(m.rowCount).toBe(1);
    const badNamestr = tinyXpt();
    badNamestr[8 * 80 + 1] = 9; // type 9 is neither numeric nor character
    expect(() => readXpt(badNamestr)).toThrow(/type 9.*at byte 640/);
    const badHeader = tinyXpt();
    badHeader[12 * 80] = 0x58; // the OBS header, defaced
    expect(() => readXpt(badHeader)).toThrow(/expected the OBS header.*at byte 960/);
  });
});

describe('readXpt on the CDISC pilot files', () => {
  const dir = resolve(REPO_ROOT, '../shared/data/cdiscpilot01/sdtm-xpt');

  it('reads DM as the submission has it', () => {
    const lib = readXpt(readFileSync(resolve(dir, 'dm.xpt')));
    const dm = lib.members[0]!;
    expect(dm.name).toBe('DM');
    expect(dm.variables).toHaveLength(25);
    expect(dm.rowCount).toBe(306);
    const first = dm.rows().next().value!;
    expect(first.values).toMatchObject({
      USUBJID: '01-701-1015',
      AGE: 63,
      SEX: 'F',
      RFSTDTC: '2014-01-02',
      DMDY: -7,
    });
  });

  it('reads a true zero dose as 0 and an absent one as missing (CM row 7434)', () => {
    const cm = readXpt(readFileSync(resolve(dir, 'cm.xpt'))).members[0]!;
    let row7434: Record<string, unknown> | undefined;
    for (const r of cm.rows()) if (r.row === 7434) row7434 = r.values;
    expect(row7434).toMatchObject({ USUBJID: '01-718-1371', CMDOSE: 0, CMENDY: { missing: '.' } });
  });
});
