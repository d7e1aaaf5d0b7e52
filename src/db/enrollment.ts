import type pg from 'pg';
import type { EnrollmentRecord } from '../contracts/types.js';
import type { EnrollmentWriter } from '../producers/kafka-sink.js';

const COLUMNS = [
  'patient_id',
  'trial_id',
  'site_id',
  'arm',
  'arm_role',
  'enrollment_date',
  'age',
  'sex',
  'height_cm',
  'weight_kg',
  'comorbidities',
  'source',
] as const;

const CHUNK = 1000;

/** The enrollment table. Upserts by patient_id, so re-running an import or a simulation is idempotent. */
export class PgEnrollmentStore implements EnrollmentWriter {
  readonly #pool: pg.Pool;
  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async upsert(records: readonly EnrollmentRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += CHUNK) {
      const chunk = records.slice(i, i + CHUNK);
      const values: unknown[] = [];
      const rows = chunk.map((r, j) => {
        values.push(
          r.patient_id,
          r.trial_id,
          r.site_id,
          r.arm,
          r.arm_role ?? null,
          r.enrollment_date,
          r.age,
          r.sex,
          r.height_cm,
          r.weight_kg,
          r.comorbidities,
          r.source,
        );
        const base = j * COLUMNS.length;
        return `(${COLUMNS.map((_, k) => `$${base + k + 1}`).join(', ')})`;
      });
      const updates = COLUMNS.filter((c) => c !== 'patient_id')
        .map((c) => `${c} = EXCLUDED.${c}`)
        .join(', ');
      await this.#pool.query(
        `INSERT INTO enrollment (${COLUMNS.join(', ')}) VALUES ${rows.join(', ')}
         ON CONFLICT (patient_id) DO UPDATE SET ${updates}, updated_at = now()`,
        values,
      );
    }
  }

  async get(patientId: string): Promise<EnrollmentRecord | undefined> {
    const { rows } = await this.#pool.query<
      EnrollmentRecord & { arm_role: EnrollmentRecord['arm_role'] | null }
    >(
      `SELECT ${COLUMNS.filter((c) => c !== 'enrollment_date').join(', ')},
              to_char(enrollment_date, 'YYYY-MM-DD') AS enrollment_date
         FROM enrollment WHERE patient_id = $1`,
      [patientId],
    );
    const r = rows[0];
    if (r === undefined) return undefined;
    const { arm_role, ...rest } = r;
    return arm_role === null ? rest : { ...rest, arm_role };
  }

  async has(patientId: string): Promise<boolean> {
    const { rowCount } = await this.#pool.query('SELECT 1 FROM enrollment WHERE patient_id = $1', [
      patientId,
    ]);
    return (rowCount ?? 0) > 0;
  }
}
