import { createHash } from 'node:crypto';

/** RFC 4122 URL namespace; the names we hash are `aepred:import:` URNs, so any fixed namespace works. */
const NAMESPACE = Buffer.from('6ba7b8119dad11d180b400c04fd430c8', 'hex');

/**
 * A name-based UUID, version 5 (SHA-1 of namespace + name): the same upstream record always gets
 * the same event_id, whichever file format it was read from, so re-imports are idempotent and
 * duplicates are detectable downstream.
 */
export function uuidv5(name: string): string {
  const h = createHash('sha1').update(NAMESPACE).update(name, 'utf8').digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.toString('hex', 0, 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
