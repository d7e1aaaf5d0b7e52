import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type pg from 'pg';
import { apiError } from '../api/errors.js';
import { isRole, ROLES, type Role } from './roles.js';

/**
 * API keys: `aep_<key id>_<secret>`. The key id is public (it is what audit rows and logs name); only
 * sha256(secret) is stored. Secrets are 32 random bytes, so a fast hash suffices (nothing to brute
 * force), and comparison is constant-time.
 */
export interface ApiKeyRecord {
  keyId: string;
  name: string;
  role: Role;
  secretHash: Buffer;
  revoked: boolean;
}

export interface Principal {
  keyId: string;
  name: string;
  role: Role;
}

export interface ApiKeyStore {
  find(keyId: string): Promise<ApiKeyRecord | undefined>;
}

const KEY = /^aep_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

export function newKey(): { keyId: string; secret: string; key: string } {
  const keyId = randomBytes(9)
    .toString('base64url')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '0')
    .slice(0, 12);
  const secret = randomBytes(32).toString('base64url');
  return { keyId, secret, key: `aep_${keyId}_${secret}` };
}

export function parseKey(key: string): { keyId: string; secret: string } | undefined {
  const m = KEY.exec(key);
  return m?.[1] === undefined || m[2] === undefined ? undefined : { keyId: m[1], secret: m[2] };
}

export class PgApiKeyStore implements ApiKeyStore {
  readonly #pool: pg.Pool;
  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async create(name: string, role: string): Promise<{ key: string; record: ApiKeyRecord }> {
    if (!isRole(role))
      throw apiError('AEP_APIKEY_INVALID_ROLE', { role, roles: ROLES.join(', ') }, { field: 'role' });
    const k = newKey();
    const secretHash = hashSecret(k.secret);
    await this.#pool.query('INSERT INTO api_keys (key_id, name, role, secret_hash) VALUES ($1, $2, $3, $4)', [
      k.keyId,
      name,
      role,
      secretHash,
    ]);
    return { key: k.key, record: { keyId: k.keyId, name, role, secretHash, revoked: false } };
  }

  async revoke(keyId: string): Promise<boolean> {
    const r = await this.#pool.query(
      'UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL',
      [keyId],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async list(): Promise<
    Array<{ keyId: string; name: string; role: string; createdAt: Date; revokedAt: Date | null }>
  > {
    const { rows } = await this.#pool.query<{
      key_id: string;
      name: string;
      role: string;
      created_at: Date;
      revoked_at: Date | null;
    }>('SELECT key_id, name, role, created_at, revoked_at FROM api_keys ORDER BY created_at');
    return rows.map((r) => ({
      keyId: r.key_id,
      name: r.name,
      role: r.role,
      createdAt: r.created_at,
      revokedAt: r.revoked_at,
    }));
  }

  async find(keyId: string): Promise<ApiKeyRecord | undefined> {
    const { rows } = await this.#pool.query<{
      key_id: string;
      name: string;
      role: string;
      secret_hash: Buffer;
      revoked_at: Date | null;
    }>('SELECT key_id, name, role, secret_hash, revoked_at FROM api_keys WHERE key_id = $1', [keyId]);
    const r = rows[0];
    if (r === undefined || !isRole(r.role)) return undefined;
    return {
      keyId: r.key_id,
      name: r.name,
      role: r.role,
      secretHash: r.secret_hash,
      revoked: r.revoked_at !== null,
    };
  }
}

/** Keys held in memory (unit tests, and a one-off key for local demos). */
export class MemoryApiKeyStore implements ApiKeyStore {
  readonly #keys = new Map<string, ApiKeyRecord>();

  add(name: string, role: Role): string {
    const k = newKey();
    this.#keys.set(k.keyId, { keyId: k.keyId, name, role, secretHash: hashSecret(k.secret), revoked: false });
    return k.key;
  }

  revoke(keyId: string): void {
    const r = this.#keys.get(keyId);
    if (r !== undefined) this.#keys.set(keyId, { ...r, revoked: true });
  }

  async find(keyId: string): Promise<ApiKeyRecord | undefined> {
    return this.#keys.get(keyId);
  }
}

/**
 * Checks a presented key against the store, caching records for `cacheMs` so the hot path does not
 * query Postgres per request (a revocation takes effect within that time).
 */
export class Authenticator {
  readonly #store: ApiKeyStore;
  readonly #cacheMs: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, { record: ApiKeyRecord | undefined; until: number }>();

  constructor(store: ApiKeyStore, opts: { cacheMs: number; now?: () => number }) {
    this.#store = store;
    this.#cacheMs = opts.cacheMs;
    this.#now = opts.now ?? Date.now;
  }

  async authenticate(presented: string | undefined): Promise<Principal | undefined> {
    if (presented === undefined) return undefined;
    const parsed = parseKey(presented);
    if (parsed === undefined) return undefined;
    const record = await this.#lookup(parsed.keyId);
    if (record === undefined || record.revoked) return undefined;
    const given = hashSecret(parsed.secret);
    if (!timingSafeEqual(given, record.secretHash)) return undefined;
    return { keyId: record.keyId, name: record.name, role: record.role };
  }

  async #lookup(keyId: string): Promise<ApiKeyRecord | undefined> {
    const now = this.#now();
    const hit = this.#cache.get(keyId);
    if (hit !== undefined && hit.until > now) return hit.record;
    const record = await this.#store.find(keyId);
    if (this.#cache.size > 10_000) this.#cache.clear(); // unknown ids must not grow it without bound
    this.#cache.set(keyId, { record, until: now + this.#cacheMs });
    return record;
  }
}
