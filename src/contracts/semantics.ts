import type { ReasonCode } from './reasons.js';
import { SEVERITY_BY_GRADE, type TopicName } from './types.js';

/**
 * Checks JSON Schema cannot express. Run on a message that already passed its schema (so fields have
 * their types); returns the reason codes that apply, empty when the message is acceptable.
 */
export interface SemanticIssue {
  code: ReasonCode;
  field: string;
  message: string;
}

export interface SemanticOptions {
  /** Clock skew tolerated before a timestamp counts as future (ms). */
  maxFutureSkewMs?: number;
}

// end_timestamp is left out on purpose: a regimen's planned end may lie in the future.
const TIME_FIELDS = ['timestamp', 'event_timestamp', 'report_timestamp', 'reported_at'] as const;

function num(v: unknown): number | undefined {
  return typeof v === 'number' ? v : undefined;
}
function time(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

export function validateSemantics(
  topic: TopicName,
  msg: Readonly<Record<string, unknown>>,
  nowMs: number,
  opts: SemanticOptions = {},
): SemanticIssue[] {
  const issues: SemanticIssue[] = [];
  const limit = nowMs + (opts.maxFutureSkewMs ?? 5 * 60_000);
  for (const f of TIME_FIELDS) {
    const t = time(msg[f]);
    if (t !== undefined && t > limit) {
      issues.push({ code: 'future_timestamp', field: f, message: `${f} ${String(msg[f])} is in the future` });
    }
  }
  const start = time(msg[topic === 'adverse-events' ? 'event_timestamp' : 'timestamp']);
  const end = time(msg.end_timestamp);
  if (start !== undefined && end !== undefined && end < start) {
    issues.push({
      code: 'end_before_start',
      field: 'end_timestamp',
      message: 'end_timestamp precedes the start',
    });
  }
  switch (topic) {
    case 'patient-vitals': {
      const sbp = num(msg.blood_pressure_systolic);
      const dbp = num(msg.blood_pressure_diastolic);
      if (sbp !== undefined && dbp !== undefined && dbp > sbp) {
        issues.push({
          code: 'diastolic_above_systolic',
          field: 'blood_pressure_diastolic',
          message: `diastolic ${dbp} > systolic ${sbp}`,
        });
      }
      break;
    }
    case 'lab-results': {
      const rep = time(msg.reported_at);
      if (rep !== undefined && start !== undefined && rep < start) {
        issues.push({
          code: 'report_before_event',
          field: 'reported_at',
          message: 'reported_at precedes timestamp',
        });
      }
      const rr = msg.reference_range;
      if (rr !== null && typeof rr === 'object') {
        const { low, high } = rr as { low?: unknown; high?: unknown };
        if (typeof low === 'number' && typeof high === 'number' && low > high) {
          issues.push({
            code: 'reference_range_inverted',
            field: 'reference_range',
            message: `low ${low} > high ${high}`,
          });
        }
      }
      break;
    }
    case 'adverse-events': {
      const rep = time(msg.report_timestamp);
      if (rep !== undefined && start !== undefined && rep < start) {
        issues.push({
          code: 'report_before_event',
          field: 'report_timestamp',
          message: 'report_timestamp precedes event_timestamp',
        });
      }
      const g = msg.ctcae_grade;
      if (g === 1 || g === 2 || g === 3 || g === 4 || g === 5) {
        if (SEVERITY_BY_GRADE[g] !== msg.severity) {
          issues.push({
            code: 'severity_grade_mismatch',
            field: 'ctcae_grade',
            message: `grade ${g} is ${SEVERITY_BY_GRADE[g]}, not ${String(msg.severity)}`,
          });
        }
      }
      break;
    }
    case 'medications':
      break;
  }
  return issues;
}
