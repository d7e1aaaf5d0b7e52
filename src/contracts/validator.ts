import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';
import { AepredError } from '../shared/errors.js';
import { REPO_ROOT } from '../shared/paths.js';
import type { ReasonCode } from './reasons.js';
import { type SemanticOptions, validateSemantics } from './semantics.js';
import { type EnrollmentRecord, isTopicName, TOPICS, type TopicMessages, type TopicName } from './types.js';

// ajv-formats is CommonJS (module.exports = plugin, plugin.default = plugin); NodeNext types the
// default import as the module, whose .default is the plugin at both type and run time.
const addFormats = ajvFormats.default;

export interface ContractIssue {
  code: ReasonCode;
  /** JSON pointer of the offending value ('' for the whole message). */
  path: string;
  message: string;
}

export type CheckResult<T> = { ok: true; value: T } | { ok: false; issues: ContractIssue[] };

export function contractsDir(): string {
  return process.env.AEPRED_CONTRACTS_DIR ?? resolve(REPO_ROOT, 'contracts');
}

function schemaIssues(errors: readonly ErrorObject[] | null | undefined): ContractIssue[] {
  return (errors ?? []).map((e) => ({
    code: 'schema_violation' as const,
    path: e.instancePath,
    message: `${e.keyword}: ${e.message ?? 'invalid'}${e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty?: string }).additionalProperty)})` : ''}`,
  }));
}

/**
 * The compiled contracts: one ajv validator per topic plus enrollment, built from the same schema
 * files Python reads. Build once per process (compilation takes tens of milliseconds).
 */
export class Contracts {
  readonly #topics: Map<TopicName, ValidateFunction>;
  readonly #enrollment: ValidateFunction;

  constructor(dir = contractsDir()) {
    const ajv = new Ajv2020({ strict: true, allErrors: true, strictRequired: false, allowUnionTypes: true });
    addFormats(ajv);
    const load = (file: string): ValidateFunction => {
      const path = resolve(dir, file);
      try {
        return ajv.compile(JSON.parse(readFileSync(path, 'utf8')) as object);
      } catch (e) {
        throw new AepredError(
          'AEP_CONTRACT_INVALID',
          `cannot load contract ${path}: ${(e as Error).message}`,
          {
            kind: 'config',
          },
        );
      }
    };
    this.#topics = new Map(TOPICS.map((t) => [t, load(`topics/${t}.schema.json`)]));
    this.#enrollment = load('enrollment.schema.json');
  }

  /** JSON Schema only. */
  validate<T extends TopicName>(topic: T, msg: unknown): CheckResult<TopicMessages[T]> {
    const v = this.#topics.get(topic);
    if (v === undefined) return { ok: false, issues: [{ code: 'unknown_topic', path: '', message: topic }] };
    if (v(msg)) return { ok: true, value: msg as TopicMessages[T] };
    return { ok: false, issues: schemaIssues(v.errors) };
  }

  /** Schema, then the semantic checks at `nowMs` (future timestamps, report before event, ...). */
  check<T extends TopicName>(
    topic: T,
    msg: unknown,
    nowMs: number,
    opts?: SemanticOptions,
  ): CheckResult<TopicMessages[T]> {
    const r = this.validate(topic, msg);
    if (!r.ok) return r;
    const sem = validateSemantics(topic, r.value as unknown as Record<string, unknown>, nowMs, opts);
    if (sem.length === 0) return r;
    return { ok: false, issues: sem.map((s) => ({ code: s.code, path: `/${s.field}`, message: s.message })) };
  }

  /** Raw bytes as they come off a topic: JSON parse, schema, semantics. */
  checkRaw(
    topic: string,
    raw: string | Uint8Array,
    nowMs: number,
    opts?: SemanticOptions,
  ): CheckResult<TopicMessages[TopicName]> {
    if (!isTopicName(topic))
      return { ok: false, issues: [{ code: 'unknown_topic', path: '', message: topic }] };
    let msg: unknown;
    try {
      msg = JSON.parse(typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8'));
    } catch (e) {
      return { ok: false, issues: [{ code: 'malformed_json', path: '', message: (e as Error).message }] };
    }
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
      return { ok: false, issues: [{ code: 'malformed_json', path: '', message: 'not a JSON object' }] };
    }
    return this.check(topic, msg, nowMs, opts);
  }

  validateEnrollment(rec: unknown): CheckResult<EnrollmentRecord> {
    if (this.#enrollment(rec)) return { ok: true, value: rec as EnrollmentRecord };
    return { ok: false, issues: schemaIssues(this.#enrollment.errors) };
  }
}

let shared: Contracts | undefined;
/** A process-wide instance over the repository's contracts/ directory. */
export function contracts(): Contracts {
  shared ??= new Contracts();
  return shared;
}
