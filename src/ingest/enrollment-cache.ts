import type pg from 'pg';

/** Is this patient enrolled? Answers for a whole batch at once. */
export interface PatientDirectory {
  /** Returns the subset of ids that are enrolled. */
  enrolled(ids: ReadonlySet<string>): Promise<ReadonlySet<string>>;
}

/**
 * The enrollment table behind a cache: known patients are kept for the life of the process
 * (enrollment is never undone); unknown ids are re-checked after `negativeTtlMs` so a patient
 * enrolled after their first event is picked up. Misses are looked up in one query per batch.
 */
export class PgPatientDirectory implements PatientDirectory {
  readonly #pool: pg.Pool;
  readonly #known = new Set<string>();
  readonly #unknownUntil = new Map<string, number>();
  readonly #negativeTtlMs: number;
  readonly #now: () => number;

  constructor(pool: pg.Pool, opts: { negativeTtlMs: number; now?: () => number }) {
    this.#pool = pool;
    this.#negativeTtlMs = opts.negativeTtlMs;
    this.#now = opts.now ?? Date.now;
  }

  /** Loads every enrolled id (one query at start-up). */
  async preload(): Promise<number> {
    const { rows } = await this.#pool.query<{ patient_id: string }>('SELECT patient_id FROM enrollment');
    for (const r of rows) this.#known.add(r.patient_id);
    return rows.length;
  }

  async enrolled(ids: ReadonlySet<string>): Promise<ReadonlySet<string>> {
    const now = this.#now();
    const out = new Set<string>();
    const ask: string[] = [];
    for (const id of ids) {
      if (this.#known.has(id)) out.add(id);
      else if ((this.#unknownUntil.get(id) ?? 0) <= now) ask.push(id);
    }
    if (ask.length > 0) {
      const { rows } = await this.#pool.query<{ patient_id: string }>(
        'SELECT patient_id FROM enrollment WHERE patient_id = ANY($1::text[])',
        [ask],
      );
      for (const r of rows) {
        this.#known.add(r.patient_id);
        this.#unknownUntil.delete(r.patient_id);
        out.add(r.patient_id);
      }
      for (const id of ask) if (!this.#known.has(id)) this.#unknownUntil.set(id, now + this.#negativeTtlMs);
    }
    return out;
  }
}

/** A fixed set (tests, replays of an archived enrollment snapshot). */
export class StaticPatientDirectory implements PatientDirectory {
  readonly #ids: ReadonlySet<string>;
  constructor(ids: Iterable<string>) {
    this.#ids = new Set(ids);
  }
  async enrolled(ids: ReadonlySet<string>): Promise<ReadonlySet<string>> {
    return new Set([...ids].filter((id) => this.#ids.has(id)));
  }
}
