import { type EnrollmentRecord, TOPICS, type TopicMessages, type TopicName } from '../../contracts/types.js';
import type { ContractIssue, Contracts } from '../../contracts/validator.js';
import type { EventSink } from '../../producers/sink.js';
import { ImportError, type Where } from './errors.js';

export type OnError = 'skip' | 'stop';

/** What an import did; printed by the CLI as JSON and asserted on by tests. */
export interface ImportSummary {
  importer: string;
  files: number;
  files_skipped: number;
  rows: number;
  rows_skipped: number;
  messages: Record<TopicName, number>;
  enrollment: number;
  /** Values set to null or fields dropped so a message meets its contract (docs/importers.md). */
  repairs: Record<string, number>;
  /** Source records that make no message, by reason (not errors: e.g. a non-numeric lab result). */
  dropped: Record<string, number>;
  /** The first skipped problems, code and message (all are counted above). */
  errors: Array<{ code: string; message: string }>;
  elapsed_ms: number;
}

const MAX_LISTED_ERRORS = 50;

/** Vital-sign measurements that become null ("not measured") when they break the contract. */
const NULLABLE_VITALS = new Set([
  'heart_rate',
  'blood_pressure_systolic',
  'blood_pressure_diastolic',
  'temperature',
  'spo2',
  'respiratory_rate',
  'mean_arterial_pressure',
  'etco2',
  'weight',
  'height',
]);

const MEASUREMENTS = [...NULLABLE_VITALS];

export interface ImportRunOptions {
  importer: string;
  sink: EventSink;
  contracts: Contracts;
  /** Check time for the contracts' future-timestamp rule (injected; tests pin it). */
  nowMs: number;
  onError: OnError;
}

/**
 * One import: checks every message against its contract (schema and semantic rules) before it is
 * written, applies the documented repairs, and applies the --on-error policy to input problems.
 */
export class ImportRun {
  readonly summary: ImportSummary;
  readonly #sink: EventSink;
  readonly #contracts: Contracts;
  readonly #nowMs: number;
  readonly #onError: OnError;
  readonly #started = performance.now();

  constructor(opts: ImportRunOptions) {
    this.#sink = opts.sink;
    this.#contracts = opts.contracts;
    this.#nowMs = opts.nowMs;
    this.#onError = opts.onError;
    this.summary = {
      importer: opts.importer,
      files: 0,
      files_skipped: 0,
      rows: 0,
      rows_skipped: 0,
      messages: Object.fromEntries(TOPICS.map((t) => [t, 0])) as Record<TopicName, number>,
      enrollment: 0,
      repairs: {},
      dropped: {},
      errors: [],
      elapsed_ms: 0,
    };
  }

  /**
   * Checks, repairs and writes one message. Returns a promise only when the sink asks the caller
   * to wait (backpressure); the hot path allocates none.
   */
  emit<T extends TopicName>(topic: T, msg: TopicMessages[T], at: Where): Promise<void> | undefined {
    let result = this.#contracts.check(topic, msg, this.#nowMs);
    if (!result.ok) {
      if (!this.#repair(topic, msg as unknown as Record<string, unknown>, result.issues)) return undefined;
      result = this.#contracts.check(topic, msg, this.#nowMs);
      if (!result.ok) {
        this.problem(
          new ImportError(
            'AEP_IMPORT_CONTRACT',
            at,
            `${topic} message breaks its contract: ${describe(result.issues)}`,
            {
              rowLevel: true,
            },
          ),
        );
        return undefined;
      }
    }
    this.summary.messages[topic]++;
    return this.#sink.write(topic, msg.patient_id, JSON.stringify(msg));
  }

  async enroll(records: readonly EnrollmentRecord[], at: Where): Promise<void> {
    const ok: EnrollmentRecord[] = [];
    for (const r of records) {
      const v = this.#contracts.validateEnrollment(r);
      if (v.ok) ok.push(r);
      else {
        this.problem(
          new ImportError(
            'AEP_IMPORT_CONTRACT',
            at,
            `enrollment record for ${r.patient_id} breaks its contract: ${describe(v.issues)}`,
            { rowLevel: true },
          ),
        );
      }
    }
    await this.#sink.writeEnrollment(ok);
    this.summary.enrollment += ok.length;
  }

  /**
   * An input problem: thrown under --on-error stop; counted (a skipped row, or a skipped file for a
   * file-level problem) under skip.
   */
  problem(e: ImportError): void {
    if (this.#onError === 'stop') throw e;
    if (e.rowLevel) this.summary.rows_skipped++;
    else this.summary.files_skipped++;
    if (this.summary.errors.length < MAX_LISTED_ERRORS)
      this.summary.errors.push({ code: e.code, message: e.message });
  }

  repaired(reason: string, n = 1): void {
    this.summary.repairs[reason] = (this.summary.repairs[reason] ?? 0) + n;
  }

  drop(reason: string, n = 1): void {
    this.summary.dropped[reason] = (this.summary.dropped[reason] ?? 0) + n;
  }

  async finish(): Promise<ImportSummary> {
    await this.#sink.flush();
    this.summary.elapsed_ms = Math.round(performance.now() - this.#started);
    return this.summary;
  }

  /** Applies the documented repairs; false when the message is dropped instead. */
  #repair(topic: TopicName, msg: Record<string, unknown>, issues: readonly ContractIssue[]): boolean {
    for (const issue of issues) {
      const field = issue.path.split('/')[1] ?? '';
      if (issue.code === 'diastolic_above_systolic') {
        msg.blood_pressure_systolic = null;
        msg.blood_pressure_diastolic = null;
        this.repaired(`${topic}.diastolic_above_systolic`);
      } else if (issue.code === 'end_before_start') {
        delete msg.end_timestamp;
        delete msg.end_date_imputation;
        this.repaired(`${topic}.end_before_start`);
      } else if (
        topic === 'patient-vitals' &&
        issue.code === 'schema_violation' &&
        NULLABLE_VITALS.has(field)
      ) {
        if (msg[field] !== null) this.repaired(`${topic}.${field}.implausible`);
        msg[field] = null;
      } else if (topic === 'lab-results' && issue.code === 'schema_violation' && field === 'value') {
        this.drop(`${topic}.value.implausible`);
        return false;
      }
    }
    if (topic === 'patient-vitals' && MEASUREMENTS.every((f) => msg[f] === null || msg[f] === undefined)) {
      this.drop('patient-vitals.nothing_plausible_left');
      return false;
    }
    return true;
  }
}

function describe(issues: readonly ContractIssue[]): string {
  return issues
    .slice(0, 3)
    .map((i) => `${i.code} at ${i.path || '/'} (${i.message})`)
    .join('; ');
}
