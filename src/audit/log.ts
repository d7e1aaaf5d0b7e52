import type pg from 'pg';
import { type AuditEntry, type AuditRow, canonicalJson, cleanField, GENESIS_HASH, rowHash } from './chain.js';

export interface Appended {
  seq: number;
  hash: string;
}

/** Where audit rows go. `append` resolves only once the row is durable. */
export interface AuditLog {
  append(entry: AuditEntry): Promise<Appended>;
  close(): Promise<void>;
}

interface Pending {
  entry: AuditEntry;
  resolve: (a: Appended) => void;
  reject: (e: unknown) => void;
}

const COLS = 7;

function values(e: AuditEntry): string[] {
  return [
    cleanField(e.actor),
    e.action,
    cleanField(e.subject ?? ''),
    cleanField(e.modelVersion ?? ''),
    cleanField(e.inputHash ?? ''),
    cleanField(e.correlationId ?? ''),
    canonicalJson(e.payload ?? {}),
  ];
}

/**
 * Group commit: appends queue while one INSERT is in flight, and the next INSERT takes them all (up to
 * `maxRows`) in one statement and one commit, so the fsync is shared. The database assigns seq, time
 * and hash (audit_chain trigger), so replicas append to the one chain.
 */
export class PgAuditLog implements AuditLog {
  readonly #pool: pg.Pool;
  readonly #maxRows: number;
  #queue: Pending[] = [];
  /** Set and cleared synchronously inside #drain, so an append never finds a drain that has ended. */
  #draining = false;
  #current: Promise<void> = Promise.resolve();
  #closed = false;
  /** Told the rows written by each INSERT (the group-commit histogram, tests). */
  readonly #onBatch: (rows: number) => void;

  constructor(pool: pg.Pool, opts: { maxRows: number; onBatch?: (rows: number) => void }) {
    this.#pool = pool;
    this.#maxRows = opts.maxRows;
    this.#onBatch = opts.onBatch ?? (() => {});
  }

  append(entry: AuditEntry): Promise<Appended> {
    if (this.#closed) return Promise.reject(new Error('audit log closed'));
    return new Promise<Appended>((resolve, reject) => {
      this.#queue.push({ entry, resolve, reject });
      if (!this.#draining) this.#current = this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    // One async function: when the loop finds the queue empty, the flag drops in the same
    // synchronous step, before any resolved append's continuation can queue another row.
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.#maxRows);
        try {
          const params: string[] = [];
          const tuples = batch.map((p, i) => {
            params.push(...values(p.entry));
            const b = i * COLS;
            return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7})`;
          });
          // The trigger runs per row in VALUES order, so seq order is batch order.
          const { rows } = await this.#pool.query<{ seq: string; hash: Buffer }>(
            `INSERT INTO audit_log (actor, action, subject, model_version, input_hash, correlation_id, payload)
             VALUES ${tuples.join(', ')} RETURNING seq, hash`,
            params,
          );
          rows.sort((a, b) => Number(a.seq) - Number(b.seq));
          this.#onBatch(batch.length);
          batch.forEach((p, i) => {
            const r = rows[i];
            if (r === undefined) p.reject(new Error('audit insert returned fewer rows'));
            else p.resolve({ seq: Number(r.seq), hash: r.hash.toString('hex') });
          });
        } catch (e) {
          for (const p of batch) p.reject(e);
        }
      }
    } finally {
      this.#draining = false;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#current;
  }
}

/** The same chain in memory (unit tests; the hashing is chain.ts's, as verify uses). */
export class MemoryAuditLog implements AuditLog {
  readonly rows: AuditRow[] = [];
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  async append(entry: AuditEntry): Promise<Appended> {
    const [actor, action, subject, modelVersion, inputHash, correlationId, payload] = values(entry) as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const prevHash = this.rows.at(-1)?.hash ?? GENESIS_HASH;
    const base = {
      seq: this.rows.length + 1,
      atMs: this.#now(),
      actor,
      action,
      subject,
      modelVersion,
      inputHash,
      correlationId,
      payload,
    };
    const hash = rowHash(prevHash, base);
    this.rows.push({ ...base, prevHash, hash });
    return { seq: base.seq, hash: hash.toString('hex') };
  }

  async close(): Promise<void> {}
}
