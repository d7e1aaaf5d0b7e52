/**
 * IBM System/360 hexadecimal floating point, the number format of SAS transport (XPT v5) files.
 *
 * Layout (big-endian, 8 bytes; XPT allows 2..8, truncated on the right):
 *   bit 0      sign
 *   bits 1-7   exponent, base 16, excess 64
 *   bits 8-63  fraction, 0.f (not normalised to a hidden bit)
 * value = (-1)^sign * 0.f * 16^(exponent - 64)
 *
 * SAS missing values are stored with the first byte '.', '_' or 'A'..'Z' and every other byte 0.
 */

/** A SAS missing value: '.' (ordinary) or '_' / 'A'..'Z' (special missing, `.A` ... `.Z`, `._`). */
export interface SasMissing {
  readonly missing: '.' | '_' | string;
}

const TWO_32 = 2 ** 32;

function isMissingTag(b: number): boolean {
  return b === 0x2e || b === 0x5f || (b >= 0x41 && b <= 0x5a);
}

/**
 * Decodes `length` bytes at `offset` as an IBM float. Returns a number, or a `SasMissing` for SAS
 * missing values. The result is the correctly rounded IEEE double (the 56-bit fraction is rounded
 * once, to 53 bits; the power-of-two scaling is exact since IBM's range fits inside a double's).
 */
export function ibmToNumber(buf: Uint8Array, offset: number, length = 8): number | SasMissing {
  if (length < 2 || length > 8) throw new RangeError(`IBM float length ${length} is not in 2..8`);
  const b0 = buf[offset]!;
  let restZero = true;
  for (let i = 1; i < length; i++) {
    if (buf[offset + i] !== 0) {
      restZero = false;
      break;
    }
  }
  if (restZero && isMissingTag(b0)) return { missing: String.fromCharCode(b0) };
  // Truncated numerics keep the leading bytes; missing bytes are zero.
  const byte = (i: number): number => (i < length ? buf[offset + i]! : 0);
  const hi = (byte(1) << 16) | (byte(2) << 8) | byte(3);
  const lo = ((byte(4) << 24) >>> 0) + (byte(5) << 16) + (byte(6) << 8) + byte(7);
  if (hi === 0 && lo === 0) return (b0 & 0x80) !== 0 ? -0 : 0;
  const exponent = (b0 & 0x7f) - 64;
  const fraction = hi * TWO_32 + lo; // one rounding to 53 bits at most
  const magnitude = fraction * 2 ** (4 * exponent - 56);
  return (b0 & 0x80) !== 0 ? -magnitude : magnitude;
}

/**
 * Encodes a double as an 8-byte IBM float (used by tests to build XPT buffers by hand and by anyone
 * writing transport files). Values too small for IBM become 0; too large throws.
 */
export function numberToIbm(value: number | SasMissing): Uint8Array {
  const out = new Uint8Array(8);
  if (typeof value !== 'number') {
    out[0] = value.missing.charCodeAt(0);
    return out;
  }
  if (!Number.isFinite(value)) throw new RangeError(`cannot encode ${value} as an IBM float`);
  if (value === 0) {
    if (Object.is(value, -0)) out[0] = 0x80;
    return out;
  }
  const sign = value < 0 ? 0x80 : 0;
  let v = Math.abs(value);
  let exponent = 64;
  // Normalise so that 1/16 <= v < 1.
  while (v >= 1) {
    v /= 16;
    exponent++;
  }
  while (v < 1 / 16) {
    v *= 16;
    exponent--;
  }
  if (exponent > 127) throw new RangeError(`${value} overflows an IBM float`);
  if (exponent < 0) return out;
  // 56-bit fraction as hi (24 bits) and lo (32 bits); both fit exactly in doubles.
  const scaled = v * 2 ** 24;
  const hi = Math.floor(scaled);
  const lo = Math.round((scaled - hi) * TWO_32);
  let hiAdj = lo === TWO_32 ? hi + 1 : hi;
  const loAdj = lo === TWO_32 ? 0 : lo;
  if (hiAdj === 2 ** 24) {
    // Rounding carried out of the fraction: 0.fff...f + ulp = 1.0 = 0.1 (hex) * 16.
    hiAdj = 2 ** 20;
    exponent++;
    if (exponent > 127) throw new RangeError(`${value} overflows an IBM float`);
  }
  out[0] = sign | exponent;
  out[1] = (hiAdj >>> 16) & 0xff;
  out[2] = (hiAdj >>> 8) & 0xff;
  out[3] = hiAdj & 0xff;
  out[4] = (loAdj >>> 24) & 0xff;
  out[5] = (loAdj >>> 16) & 0xff;
  out[6] = (loAdj >>> 8) & 0xff;
  out[7] = loAdj & 0xff;
  return out;
}
