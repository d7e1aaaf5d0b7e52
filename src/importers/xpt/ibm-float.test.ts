import { describe, expect, it } from 'vitest';
import { ibmToNumber, numberToIbm } from './ibm-float.js';

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

describe('ibmToNumber', () => {
  it('decodes zero, including the all-zero pattern pandas misreads as 16^-65', () => {
    expect(ibmToNumber(bytes(0, 0, 0, 0, 0, 0, 0, 0), 0)).toBe(0);
    // A zero fraction is zero whatever the exponent says.
    expect(ibmToNumber(bytes(0x40, 0, 0, 0, 0, 0, 0, 0), 0)).toBe(0);
    expect(Object.is(ibmToNumber(bytes(0x80, 0, 0, 0, 0, 0, 0, 0), 0), -0)).toBe(true);
  });

  it('decodes textbook values', () => {
    // 1.0 = 0x41100000 00000000 (0.1 hex * 16^1)
    expect(ibmToNumber(bytes(0x41, 0x10, 0, 0, 0, 0, 0, 0), 0)).toBe(1);
    // -118.625 = 0xC276A000 (the IBM manual's example)
    expect(ibmToNumber(bytes(0xc2, 0x76, 0xa0, 0, 0, 0, 0, 0), 0)).toBe(-118.625);
    // 0.1 = 0x40199999 9999999A
    expect(ibmToNumber(bytes(0x40, 0x19, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a), 0)).toBeCloseTo(0.1, 15);
    expect(ibmToNumber(bytes(0x42, 0x3f, 0, 0, 0, 0, 0, 0), 0)).toBe(63);
  });

  it('decodes the extremes of the IBM range', () => {
    // Largest: 0x7FFFFFFF FFFFFFFF = (1 - 16^-14) * 16^63 ~ 7.237e75
    const largest = ibmToNumber(bytes(0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 0);
    expect(largest).toBeCloseTo(7.237005577332262e75, -60);
    // Smallest normalised positive: 0x00100000 00000000 = 16^-65 ~ 5.397605e-79
    expect(ibmToNumber(bytes(0x00, 0x10, 0, 0, 0, 0, 0, 0), 0)).toBe(16 ** -65);
    // Smallest unnormalised positive: 0x00000000 00000001 = 16^-64 * 2^-56
    expect(ibmToNumber(bytes(0, 0, 0, 0, 0, 0, 0, 1), 0)).toBe(2 ** (-256 - 56));
  });

  it('recognises ordinary and special missing values', () => {
    expect(ibmToNumber(bytes(0x2e, 0, 0, 0, 0, 0, 0, 0), 0)).toEqual({ missing: '.' });
    expect(ibmToNumber(bytes(0x41, 0, 0, 0, 0, 0, 0, 0), 0)).toEqual({ missing: 'A' });
    expect(ibmToNumber(bytes(0x5a, 0, 0, 0, 0, 0, 0, 0), 0)).toEqual({ missing: 'Z' });
    expect(ibmToNumber(bytes(0x5f, 0, 0, 0, 0, 0, 0, 0), 0)).toEqual({ missing: '_' });
    // 0x41 followed by a non-zero fraction is a number (1.0), not .A
    expect(ibmToNumber(bytes(0x41, 0x10, 0, 0, 0, 0, 0, 0), 0)).toBe(1);
  });

  it('reads truncated numerics (length 2..8) and rejects other lengths', () => {
    // 3-byte 1.0 and 4-byte -118.625
    expect(ibmToNumber(bytes(0x41, 0x10, 0), 0, 3)).toBe(1);
    expect(ibmToNumber(bytes(0xc2, 0x76, 0xa0, 0), 0, 4)).toBe(-118.625);
    expect(ibmToNumber(bytes(0x2e, 0), 0, 2)).toEqual({ missing: '.' });
    expect(() => ibmToNumber(bytes(0x41), 0, 1)).toThrow(RangeError);
  });

  it('reads at an offset', () => {
    expect(ibmToNumber(bytes(9, 9, 0x41, 0x10, 0, 0, 0, 0, 0, 0), 2)).toBe(1);
  });
});

describe('numberToIbm round trip', () => {
  const cases = [0, 1, -1, 0.5, 63, -118.625, 123456.789, 1e-10, -3.25e20, 1e75, 5.4e-79, 70.5, 0.1, 2 / 3];
  it.each(cases)('round-trips %d', (v) => {
    const back = ibmToNumber(numberToIbm(v), 0);
    expect(typeof back).toBe('number');
    // IBM keeps 53..56 fraction bits; small integers and dyadic fractions are exact.
    if (Number.isInteger(v) && Math.abs(v) < 2 ** 50) expect(back).toBe(v);
    expect(Math.abs((back as number) - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -52);
  });

  it('encodes missing values and refuses infinities', () => {
    expect(ibmToNumber(numberToIbm({ missing: 'B' }), 0)).toEqual({ missing: 'B' });
    expect(() => numberToIbm(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(() => numberToIbm(1e80)).toThrow(RangeError);
  });
});
