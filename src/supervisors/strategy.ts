/**
 * Supervision as declared data (Erlang/Akka style; xstate ships none): what a supervisor does when a
 * child fails. The decision is a pure function of the spec, the child's recent restarts and the time.
 */
export type Directive = 'stop' | 'restart' | 'restart-with-backoff' | 'escalate';

export interface SupervisionSpec {
  readonly directive: Directive;
  /** More restarts than this within `withinMs` and the supervisor stops the child and escalates. */
  readonly maxRestarts: number;
  readonly withinMs: number;
  readonly backoff: { readonly initialMs: number; readonly maxMs: number; readonly factor: number };
}

/** A child's failure as it reaches its supervisor: a message, not an exception. */
export interface ChildFailed {
  readonly type: 'supervisor.child.failed';
  readonly child: string;
  readonly error: string;
  readonly at: number;
}

export type Decision =
  | { action: 'restart'; delayMs: number }
  | { action: 'stop' }
  | { action: 'escalate'; reason: string };

export function decide(spec: SupervisionSpec, restarts: readonly number[], now: number): Decision {
  if (spec.directive === 'stop') return { action: 'stop' };
  if (spec.directive === 'escalate') return { action: 'escalate', reason: 'directive' };
  const recent = restarts.filter((t) => t > now - spec.withinMs).length;
  if (recent >= spec.maxRestarts)
    return { action: 'escalate', reason: `${recent} restarts within ${spec.withinMs} ms` };
  if (spec.directive === 'restart') return { action: 'restart', delayMs: 0 };
  const delay = Math.min(spec.backoff.maxMs, spec.backoff.initialMs * spec.backoff.factor ** recent);
  return { action: 'restart', delayMs: delay };
}

/** The tree, declared: which supervisor owns what and how it handles a failed child. */
export const SUPERVISION_TREE = {
  root: {
    children: ['patients', 'models', 'drift', 'training'] as const,
    directive: 'escalate' as Directive,
  },
  patients: { child: 'PatientActor', directive: 'restart-with-backoff' as Directive },
  models: { child: 'ModelSession load', directive: 'restart-with-backoff' as Directive },
  drift: { child: 'drift checks (issue 9)', directive: 'restart' as Directive },
  training: { child: 'pipeline runs (issue 9)', directive: 'stop' as Directive },
} as const;
