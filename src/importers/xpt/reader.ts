/**
 * SAS transport file reader, version 5 (the FDA's submission format; "XPORT", SAS TS-140).
 *
 * A file is a sequence of 80-byte records: a library header, then per member (dataset) a member
 * header, a descriptor, a NAMESTR header announcing the variable count, one NAMESTR (140 bytes, or
 * 136 on VAX/VMS) per variable padded to a record boundary, an OBS header, and the observations
 * back to back, padded with blanks to a record boundary. Numbers are IBM floats (ibm-float.ts);
 * characters are fixed width, blank padded, in no recorded encoding (read as Windows-1252, a
 * superset of ASCII and Latin-1 that SAS on Windows writes).
 *
 * Version 8/9 transport files ("LIBV8") are a different layout and are refused with a clear error.
 */
import { ibmToNumber, type SasMissing } from './ibm-float.js';

export const RECORD = 80;

export type XptValue = string | number | SasMissing;

export interface XptVariable {
  /** 1-based position in the NAMESTR list. */
  readonly index: number;
  readonly name: string;
  readonly label: string;
  readonly type: 'num' | 'char';
  readonly length: number;
  /** Byte offset of the value inside an observation. */
  readonly position: number;
  readonly format: string;
  readonly informat: string;
}

export interface XptMember {
  readonly name: string;
  readonly label: string;
  readonly type: string;
  readonly sasVersion: string;
  readonly os: string;
  readonly created: string;
  readonly modified: string;
  readonly variables: readonly XptVariable[];
  readonly rowLength: number;
  readonly rowCount: number;
  /** Observations in file order; `row` is 1-based. Values are decoded lazily, one row at a time. */
  rows(): Generator<{ row: number; values: Record<string, XptValue> }>;
}

export interface XptLibrary {
  readonly sasVersion: string;
  readonly os: string;
  readonly created: string;
  readonly modified: string;
  readonly members: readonly XptMember[];
}

/** A malformed transport file; `offset` is the byte offset where reading failed. */
export class XptFormatError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(`${message} (at byte ${offset})`);
    this.name = 'XptFormatError';
    this.offset = offset;
  }
}

const LIBRARY_HEADER = 'HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!000000000000000000000000000000  ';
const LIBV8_PREFIX = 'HEADER RECORD*******LIBV8   HEADER RECORD!!!!!!!';
const MEMBER_PREFIX = 'HEADER RECORD*******MEMBER  HEADER RECORD!!!!!!!';
const DSCRPTR_PREFIX = 'HEADER RECORD*******DSCRPTR HEADER RECORD!!!!!!!';
const NAMESTR_PREFIX = 'HEADER RECORD*******NAMESTR HEADER RECORD!!!!!!!';
const OBS_PREFIX = 'HEADER RECORD*******OBS     HEADER RECORD!!!!!!!';

const text = new TextDecoder('windows-1252');
const SPACE = 0x20;

function ascii(buf: Uint8Array, start: number, length: number): string {
  return text.decode(buf.subarray(start, start + length));
}

/** Fixed-width character field: trailing blanks (and NULs some writers leave) are padding. */
function charField(buf: Uint8Array, start: number, length: number): string {
  let end = start + length;
  while (end > start && (buf[end - 1] === SPACE || buf[end - 1] === 0)) end--;
  if (end === start) return '';
  let plain = true;
  for (let i = start; i < end; i++) {
    if (buf[i]! >= 0x80) {
      plain = false;
      break;
    }
  }
  if (plain) {
    // ASCII fast path: avoids a TextDecoder call per value.
    let s = '';
    for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]!);
    return s;
  }
  return text.decode(buf.subarray(start, end));
}

function startsWith(buf: Uint8Array, offset: number, prefix: string): boolean {
  if (offset + prefix.length > buf.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[offset + i] !== prefix.charCodeAt(i)) return false;
  return true;
}

function expectHeader(buf: Uint8Array, offset: number, prefix: string, what: string): void {
  if (offset + RECORD > buf.length) throw new XptFormatError(`file ends before the ${what} header`, offset);
  if (!startsWith(buf, offset, prefix)) {
    throw new XptFormatError(
      `expected the ${what} header, found ${JSON.stringify(ascii(buf, offset, 48))}`,
      offset,
    );
  }
}

function int16(view: DataView, offset: number): number {
  return view.getInt16(offset, false);
}

/** Parses a whole transport file held in memory. */
export function readXpt(buf: Uint8Array): XptLibrary {
  if (buf.length === 0) throw new XptFormatError('file is empty', 0);
  if (startsWith(buf, 0, LIBV8_PREFIX)) {
    throw new XptFormatError('this is a version 8/9 transport file (LIBV8); only version 5 is supported', 0);
  }
  expectHeader(buf, 0, LIBRARY_HEADER.slice(0, 48), 'library');
  if (buf.length % RECORD !== 0) {
    throw new XptFormatError(
      `file length ${buf.length} is not a multiple of 80 bytes: truncated or not XPT`,
      buf.length,
    );
  }
  if (buf.length < RECORD * 3) throw new XptFormatError('file ends inside the library header', buf.length);
  const sasVersion = ascii(buf, RECORD + 24, 8).trim();
  const os = ascii(buf, RECORD + 32, 8).trim();
  const created = ascii(buf, RECORD + 64, 16).trim();
  const modified = ascii(buf, RECORD * 2, 16).trim();
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const members: XptMember[] = [];
  let offset = RECORD * 3;
  while (offset < buf.length) {
    const parsed = readMember(buf, view, offset);
    members.push(parsed.member);
    offset = parsed.next;
  }
  if (members.length === 0) throw new XptFormatError('file holds no member (dataset)', offset);
  return { sasVersion, os, created, modified, members };
}

function readMember(buf: Uint8Array, view: DataView, start: number): { member: XptMember; next: number } {
  let offset = start;
  expectHeader(buf, offset, MEMBER_PREFIX, 'MEMBER');
  const namestrLength = Number.parseInt(ascii(buf, offset + 74, 4), 10);
  if (namestrLength !== 140 && namestrLength !== 136) {
    throw new XptFormatError(
      `NAMESTR length ${ascii(buf, offset + 74, 4)} is neither 140 nor 136`,
      offset + 74,
    );
  }
  offset += RECORD;
  expectHeader(buf, offset, DSCRPTR_PREFIX, 'DSCRPTR');
  offset += RECORD;
  if (offset + 2 * RECORD > buf.length)
    throw new XptFormatError('file ends inside a member descriptor', offset);
  if (!startsWith(buf, offset, 'SAS     '))
    throw new XptFormatError('member descriptor does not start with "SAS"', offset);
  const name = ascii(buf, offset + 8, 8).trim();
  const sasVersion = ascii(buf, offset + 24, 8).trim();
  const os = ascii(buf, offset + 32, 8).trim();
  const created = ascii(buf, offset + 64, 16).trim();
  offset += RECORD;
  const modified = ascii(buf, offset, 16).trim();
  const label = charField(buf, offset + 32, 40);
  const type = ascii(buf, offset + 72, 8).trim();
  offset += RECORD;
  expectHeader(buf, offset, NAMESTR_PREFIX, 'NAMESTR');
  const countText = ascii(buf, offset + 54, 4);
  const count = Number.parseInt(countText, 10);
  if (!/^\d{4}$/.test(countText) || count <= 0) {
    throw new XptFormatError(`member ${name}: bad variable count ${JSON.stringify(countText)}`, offset + 54);
  }
  offset += RECORD;
  const namestrBytes = count * namestrLength;
  if (offset + namestrBytes > buf.length)
    throw new XptFormatError(`member ${name}: file ends inside the NAMESTRs`, offset);
  const variables: XptVariable[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const at = offset + i * namestrLength;
    const v = readNamestr(buf, view, at, i + 1, name);
    if (seen.has(v.name)) throw new XptFormatError(`member ${name}: variable ${v.name} appears twice`, at);
    seen.add(v.name);
    variables.push(v);
  }
  offset += Math.ceil(namestrBytes / RECORD) * RECORD;
  expectHeader(buf, offset, OBS_PREFIX, 'OBS');
  offset += RECORD;
  const rowLength = variables.reduce((m, v) => Math.max(m, v.position + v.length), 0);
  for (const v of variables) {
    if (v.position + v.length > rowLength)
      throw new XptFormatError(`member ${name}: ${v.name} overflows the row`, offset);
  }
  // Observations run to the next MEMBER header (always on a record boundary) or the end of file.
  let end = offset;
  while (end < buf.length && !startsWith(buf, end, MEMBER_PREFIX)) end += RECORD;
  const dataStart = offset;
  const rowCount = countRows(buf, dataStart, end, rowLength, name);
  const member: XptMember = {
    name,
    label,
    type,
    sasVersion,
    os,
    created,
    modified,
    variables,
    rowLength,
    rowCount,
    *rows() {
      for (let r = 0; r < rowCount; r++) {
        const base = dataStart + r * rowLength;
        const values: Record<string, XptValue> = {};
        for (const v of variables) {
          values[v.name] =
            v.type === 'num'
              ? ibmToNumber(buf, base + v.position, v.length)
              : charField(buf, base + v.position, v.length);
        }
        yield { row: r + 1, values };
      }
    },
  };
  return { member, next: end };
}

function readNamestr(
  buf: Uint8Array,
  view: DataView,
  at: number,
  index: number,
  member: string,
): XptVariable {
  const ntype = int16(view, at);
  const length = int16(view, at + 4);
  const name = charField(buf, at + 8, 8);
  if (ntype !== 1 && ntype !== 2)
    throw new XptFormatError(`member ${member}: variable ${index} has type ${ntype}`, at);
  if (name === '') throw new XptFormatError(`member ${member}: variable ${index} has no name`, at + 8);
  if (ntype === 1 && (length < 2 || length > 8)) {
    throw new XptFormatError(`member ${member}: numeric ${name} has length ${length} (2..8 allowed)`, at + 4);
  }
  if (length <= 0) throw new XptFormatError(`member ${member}: ${name} has length ${length}`, at + 4);
  const position = view.getInt32(at + 84, false);
  if (position < 0) throw new XptFormatError(`member ${member}: ${name} has position ${position}`, at + 84);
  return {
    index,
    name,
    label: charField(buf, at + 16, 40),
    type: ntype === 1 ? 'num' : 'char',
    length,
    position,
    format: charField(buf, at + 56, 8),
    informat: charField(buf, at + 72, 8),
  };
}

/**
 * The observation area is padded with blanks to a record boundary, so up to 79 trailing bytes are
 * padding. When a row is shorter than 80 bytes the padding can look like whole rows: trailing rows
 * made only of blanks that start inside the last record are padding, not data (a real all-blank
 * row can only occur in a dataset without numerics, since a missing numeric is '.' followed by
 * zeros; readers such as ReadStat and pandas make the same call).
 */
function countRows(buf: Uint8Array, start: number, end: number, rowLength: number, member: string): number {
  if (rowLength === 0) return 0;
  const bytes = end - start;
  let rows = Math.floor(bytes / rowLength);
  for (let i = start + rows * rowLength; i < end; i++) {
    if (buf[i] !== SPACE) {
      throw new XptFormatError(
        `member ${member}: ${bytes - rows * rowLength} bytes after the last whole row are not blank padding: truncated file?`,
        i,
      );
    }
  }
  while (rows > 0) {
    const rowStart = start + (rows - 1) * rowLength;
    if (rowStart <= end - RECORD) break;
    let blank = true;
    for (let i = rowStart; i < rowStart + rowLength; i++) {
      if (buf[i] !== SPACE) {
        blank = false;
        break;
      }
    }
    if (!blank) break;
    rows--;
  }
  return rows;
}
