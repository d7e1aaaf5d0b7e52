import { describe, expect, it } from 'vitest';
import { uuidv5 } from './ids.js';

describe('uuidv5', () => {
  it('is RFC 4122 version 5 in the URL namespace (same as Python uuid.uuid5(NAMESPACE_URL, name))', () => {
    expect(uuidv5('CDISCPILOT01:AE:01-701-1015:1')).toBe('c5955b73-b1dd-53b7-b36a-2a2955ef79d1');
    expect(uuidv5('x')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(uuidv5('a')).not.toBe(uuidv5('b'));
  });
});
