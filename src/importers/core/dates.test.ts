import { describe, expect, it } from 'vitest';
import { calendarDate, imputeEnd, imputeStart, type ParsedDate, parseDtc } from './dates.js';

function parsed(s: string): ParsedDate {
  const p = parseDtc(s);
  if (typeof p === 'string') throw new Error(p);
  return p;
}

describe('SDTM dates', () => {
  it.each([
    ['2014-01-02T14:45:30', '2014-01-02T14:45:30Z', '2014-01-02T14:45:30Z', 'none'],
    ['2014-01-02T14:45', '2014-01-02T14:45:00Z', '2014-01-02T14:45:00Z', 'none'],
    ['2014-01-02T14', '2014-01-02T14:00:00Z', '2014-01-02T14:59:59Z', 'time'],
    ['2014-01-02', '2014-01-02T00:00:00Z', '2014-01-02T23:59:59Z', 'time'],
    ['2014-02', '2014-02-01T00:00:00Z', '2014-02-28T23:59:59Z', 'day'],
    ['2016-02', '2016-02-01T00:00:00Z', '2016-02-29T23:59:59Z', 'day'],
    ['2014', '2014-01-01T00:00:00Z', '2014-12-31T23:59:59Z', 'month'],
  ])('%s: start %s, end %s, imputed %s', (text, start, end, imputation) => {
    const p = parsed(text);
    expect(imputeStart(p)).toMatchObject({ iso: start, imputation });
    expect(imputeEnd(p)).toMatchObject({ iso: end, imputation });
  });

  it('moves a partial AE onset to the reference start when it falls inside the period', () => {
    const ref = Date.parse('2014-01-15T00:00:00Z');
    expect(imputeStart(parsed('2014-01'), ref).iso).toBe('2014-01-15T00:00:00Z');
    expect(imputeStart(parsed('2014'), ref).iso).toBe('2014-01-15T00:00:00Z');
    // Outside the period, or a complete date: the reference does not apply.
    expect(imputeStart(parsed('2014-02'), ref).iso).toBe('2014-02-01T00:00:00Z');
    expect(imputeStart(parsed('2013'), ref).iso).toBe('2013-01-01T00:00:00Z');
    expect(imputeStart(parsed('2014-01-03'), ref).iso).toBe('2014-01-03T00:00:00Z');
    // Never after the event's own end.
    expect(imputeStart(parsed('2014-01'), ref, Date.parse('2014-01-10T23:59:59Z')).iso).toBe(
      '2014-01-01T00:00:00Z',
    );
  });

  it.each([
    ['2014-13-01', /month 13/],
    ['2014-02-30', /day 30 does not exist/],
    ['2013-02-29', /day 29/],
    ['2014-01-02T24:00', /hour 24/],
    ['02/01/2014', /not an ISO 8601 date/],
    ['2014---15', /not an ISO 8601 date/],
    ['UNK', /not an ISO 8601 date/],
  ])('rejects %s', (text, reason) => {
    expect(parseDtc(text)).toMatch(reason);
  });

  it('gives the calendar date only for a complete date', () => {
    expect(calendarDate(parsed('2014-01-02T10:00'))).toBe('2014-01-02');
    expect(calendarDate(parsed('2014-01'))).toBeUndefined();
  });
});
