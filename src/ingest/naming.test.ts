import { describe, expect, it } from 'vitest';
import { bronzeKey, bronzePrefix, parseBronzeKey, UtcDates, utcDate } from './naming.js';

const f = {
  topic: 'patient-vitals',
  date: '2024-01-02',
  partition: 3,
  firstOffset: 1000n,
  lastOffset: 1999n,
};

describe('bronze file names', () => {
  it('are a pure function of topic, date, partition and the batch offsets', () => {
    expect(bronzeKey(f)).toBe(
      'bronze/patient-vitals/date=2024-01-02/part-p003-o00000000000000001000-00000000000000001999.parquet',
    );
    expect(bronzeKey({ ...f })).toBe(bronzeKey(f));
    expect(bronzeKey(f).startsWith(bronzePrefix('patient-vitals'))).toBe(true);
  });

  it('parse back to what made them, 64-bit offsets included', () => {
    expect(parseBronzeKey(bronzeKey(f))).toEqual(f);
    const big = {
      ...f,
      partition: 1234,
      firstOffset: 9_223_372_036_854_775_000n,
      lastOffset: 9_223_372_036_854_775_807n,
    };
    expect(parseBronzeKey(bronzeKey(big))).toEqual(big);
  });

  it('sort in offset order (zero padding)', () => {
    const keys = [90n, 1000n, 5n].map((o) => bronzeKey({ ...f, firstOffset: o, lastOffset: o + 1n }));
    expect([...keys].sort().map((k) => parseBronzeKey(k)?.firstOffset)).toEqual([5n, 90n, 1000n]);
  });

  it('reject what the ingester did not write (temporaries, other layouts)', () => {
    const k = bronzeKey(f);
    for (const bad of [
      `${k}.tmp-1`,
      k.replace('bronze/', 'silver/'),
      k.replace('date=2024-01-02', 'date=2024-1-2'),
      k.replace('-o0000', '-o000'),
      'bronze/patient-vitals/date=2024-01-02/.part-p003-o00000000000000001000-00000000000000001999.parquet',
      'bronze/patient-vitals/date=2024-01-02/part-p003.parquet',
    ]) {
      expect(parseBronzeKey(bad), bad).toBeUndefined();
    }
  });
});

describe('UTC event dates', () => {
  it('match utcDate at day boundaries and across a cache clear', () => {
    const d = new UtcDates();
    const instants = [
      Date.parse('2024-01-01T00:00:00.000Z'),
      Date.parse('2023-12-31T23:59:59.999Z'),
      Date.parse('2024-02-29T12:00:00Z'),
      Date.parse('1969-12-31T23:59:59.999Z'),
      0,
    ];
    for (const ms of instants) expect(d.of(ms), new Date(ms).toISOString()).toBe(utcDate(ms));
    for (let day = 0; day < 10_050; day++) d.of(day * 86_400_000);
    for (const ms of instants) expect(d.of(ms)).toBe(utcDate(ms));
  });
});
