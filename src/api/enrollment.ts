import type pg from 'pg';

export interface EnrollmentInfo {
  siteId: string;
  /** Midnight UTC of the enrollment date (ms since epoch). */
  enrolledAtMs: number;
}

/** The API's own check of patient_id and timestamp against the enrollment table, before any actor. */
export interface EnrollmentLookup {
  get(patientIds: readonly string[]): Promise<Map<string, EnrollmentInfo>>;
}

/** Postgres-backed, with known patients cached for the process (enrollment is never undone). */
export class PgEnrollmentLookup implements EnrollmentLookup {
  readonly #pool: pg.Pool;
  readonly #known = new Map<string, EnrollmentInfo>();

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async get(patientIds: readonly string[]): Promise<Map<string, EnrollmentInfo>> {
    const out = new Map<string, EnrollmentInfo>();
    const ask: string[] = [];
    for (const id of patientIds) {
      const hit = this.#known.get(id);
      if (hit === undefined) ask.push(id);
      else out.set(id, hit);
    }
    if (ask.length > 0) {
      const { rows } = await this.#pool.query<{ patient_id: string; site_id: string; enrolled_ms: string }>(
        `SELECT patient_id, site_id, (extract(epoch FROM enrollment_date::timestamp AT TIME ZONE 'UTC') * 1000)::bigint AS enrolled_ms
         FROM enrollment WHERE patient_id = ANY($1::text[])`,
        [ask],
      );
      for (const r of rows) {
        const info = { siteId: r.site_id, enrolledAtMs: Number(r.enrolled_ms) };
        this.#known.set(r.patient_id, info);
        out.set(r.patient_id, info);
      }
    }
    return out;
  }
}

export class StaticEnrollmentLookup implements EnrollmentLookup {
  readonly #m: ReadonlyMap<string, EnrollmentInfo>;
  constructor(entries: Iterable<[string, EnrollmentInfo]>) {
    this.#m = new Map(entries);
  }
  async get(patientIds: readonly string[]): Promise<Map<string, EnrollmentInfo>> {
    const out = new Map<string, EnrollmentInfo>();
    for (const id of patientIds) {
      const v = this.#m.get(id);
      if (v !== undefined) out.set(id, v);
    }
    return out;
  }
}
