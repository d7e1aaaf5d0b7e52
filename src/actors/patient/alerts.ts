import { assign, initialTransition, type SnapshotFrom, setup, transition } from 'xstate';
import type { AlertsParams } from '../../config/params.js';
import type { AlertLevel } from './protocol.js';

/**
 * The alert statechart, normal -> watch -> high -> acknowledged, with hysteresis (a level is left only
 * when risk falls `hysteresis` below its threshold) and cooldown (after an alert at a level, that level
 * or a lower one is not raised again within `cooldown`), so a risk wobbling around a threshold pages
 * once. Pure: driven with xstate's transition(), its snapshot is plain JSON inside the actor snapshot.
 */
export type AlertInput =
  | { type: 'risk.observed'; p: number; t: number }
  | { type: 'alert.acknowledge'; t: number };

interface Ctx {
  watch: number;
  high: number;
  hysteresis: number;
  cooldownMs: number;
  /** Time of the last raised alert per level (cooldown). */
  raisedAt: { watch: number; high: number };
  /** What the last input changed, read by the caller after transition(). */
  changed: null | { from: AlertLevel; to: AlertLevel; raised: boolean };
}

const observed = (e: AlertInput): { p: number; t: number } =>
  e.type === 'risk.observed' ? { p: e.p, t: e.t } : { p: Number.NaN, t: e.t };

export function alertMachine(params: AlertsParams) {
  return setup({
    types: { context: {} as Ctx, events: {} as AlertInput },
    guards: {
      aboveHigh: ({ context, event }) => observed(event).p >= context.high,
      aboveWatch: ({ context, event }) => observed(event).p >= context.watch,
      belowWatch: ({ context, event }) => observed(event).p < context.watch - context.hysteresis,
      belowHigh: ({ context, event }) => observed(event).p < context.high - context.hysteresis,
      highCooled: ({ context, event }) => observed(event).t >= context.raisedAt.high + context.cooldownMs,
      watchCooled: ({ context, event }) =>
        observed(event).t >= Math.max(context.raisedAt.watch, context.raisedAt.high) + context.cooldownMs,
    },
    actions: {
      raise: assign(({ context, event }, to: 'watch' | 'high') => ({
        raisedAt: { ...context.raisedAt, [to]: observed(event).t },
        changed: { from: 'normal' as AlertLevel, to, raised: true },
      })),
      move: assign((_, p: { from: AlertLevel; to: AlertLevel }) => ({ changed: { ...p, raised: false } })),
      quiet: assign({ changed: null }),
    },
  }).createMachine({
    id: 'alert',
    initial: 'normal',
    context: {
      watch: params.watch_threshold,
      high: params.high_threshold,
      hysteresis: params.hysteresis,
      cooldownMs: params.cooldown_minutes * 60_000,
      raisedAt: { watch: Number.NEGATIVE_INFINITY, high: Number.NEGATIVE_INFINITY },
      changed: null,
    },
    states: {
      normal: {
        on: {
          'risk.observed': [
            { guard: 'aboveHigh', target: 'high', actions: [{ type: 'raise', params: 'high' }] },
            // Inside the cooldown the level still changes, only nobody is paged again.
            { guard: 'aboveWatch', target: 'watch', actions: [{ type: 'raise', params: 'watch' }] },
            { actions: 'quiet' },
          ],
          'alert.acknowledge': { actions: 'quiet' },
        },
      },
      watch: {
        on: {
          'risk.observed': [
            { guard: 'aboveHigh', target: 'high', actions: [{ type: 'raise', params: 'high' }] },
            {
              guard: 'belowWatch',
              target: 'normal',
              actions: [{ type: 'move', params: { from: 'watch', to: 'normal' } }],
            },
            { actions: 'quiet' },
          ],
          'alert.acknowledge': {
            target: 'acknowledged',
            actions: [{ type: 'move', params: { from: 'watch', to: 'acknowledged' } }],
          },
        },
      },
      high: {
        on: {
          'risk.observed': [
            {
              guard: 'belowWatch',
              target: 'normal',
              actions: [{ type: 'move', params: { from: 'high', to: 'normal' } }],
            },
            {
              guard: 'belowHigh',
              target: 'watch',
              actions: [{ type: 'move', params: { from: 'high', to: 'watch' } }],
            },
            { actions: 'quiet' },
          ],
          'alert.acknowledge': {
            target: 'acknowledged',
            actions: [{ type: 'move', params: { from: 'high', to: 'acknowledged' } }],
          },
        },
      },
      acknowledged: {
        on: {
          'risk.observed': [
            {
              guard: 'belowWatch',
              target: 'normal',
              actions: [{ type: 'move', params: { from: 'acknowledged', to: 'normal' } }],
            },
            { actions: 'quiet' },
          ],
          'alert.acknowledge': { actions: 'quiet' },
        },
      },
    },
  });
}

export type AlertMachine = ReturnType<typeof alertMachine>;
export type AlertSnapshot = SnapshotFrom<AlertMachine>;

export interface AlertStep {
  snapshot: AlertSnapshot;
  level: AlertLevel;
  change: null | { from: AlertLevel; to: AlertLevel; raised: boolean };
}

export function alertStart(m: AlertMachine): AlertSnapshot {
  return initialTransition(m)[0];
}

/**
 * One input through the chart. A raise within the cooldown of the same or a higher level is reported
 * as a level change without `raised`, so the caller updates state without paging anyone.
 */
export function alertStep(m: AlertMachine, s: AlertSnapshot, input: AlertInput): AlertStep {
  const before = s.value as AlertLevel;
  const cooled =
    input.type !== 'risk.observed' ||
    input.t >= Math.max(s.context.raisedAt.watch, s.context.raisedAt.high) + s.context.cooldownMs ||
    (input.p >= s.context.high && input.t >= s.context.raisedAt.high + s.context.cooldownMs);
  const [next] = transition(m, s, input);
  const level = next.value as AlertLevel;
  let change = next.context.changed;
  if (change) change = { ...change, from: before, raised: change.raised && cooled };
  // Raising inside the cooldown does not restart it.
  const snapshot =
    change && !change.raised && (level === 'watch' || level === 'high') && before === 'normal'
      ? { ...next, context: { ...next.context, raisedAt: s.context.raisedAt } }
      : next;
  return { snapshot: snapshot as AlertSnapshot, level, change };
}

/**
 * What an actor keeps of the chart between inputs: the level and the two cooldown times. An xstate
 * snapshot is ~600 bytes of heap per patient (context, machine references, status); this is ~50, and
 * the snapshot is resolved from it only for the step (docs/actors.md#measured).
 */
export interface AlertState {
  /** The level (named like the xstate snapshot's `value`). */
  readonly value: AlertLevel;
  readonly watchAt: number;
  readonly highAt: number;
}

export const ALERT_START: AlertState = Object.freeze({
  value: 'normal',
  watchAt: Number.NEGATIVE_INFINITY,
  highAt: Number.NEGATIVE_INFINITY,
});

const starts = new WeakMap<AlertMachine, AlertSnapshot>();

/** The chart's snapshot for a kept state (what a run of inputs ending in that state leaves). */
export function alertResolve(m: AlertMachine, a: AlertState): AlertSnapshot {
  let start = starts.get(m);
  if (!start) {
    start = alertStart(m);
    starts.set(m, start);
  }
  if (a === ALERT_START) return start;
  return m.resolveState({
    value: a.value,
    context: { ...start.context, raisedAt: { watch: a.watchAt, high: a.highAt } },
  });
}

/** One input from a kept state: the next kept state and what changed (alertStep). */
export function alertStepState(
  m: AlertMachine,
  a: AlertState,
  input: AlertInput,
): { state: AlertState; change: AlertStep['change'] } {
  const r = alertStep(m, alertResolve(m, a), input);
  const raised = r.snapshot.context.raisedAt;
  const state =
    r.level === a.value && raised.watch === a.watchAt && raised.high === a.highAt
      ? a
      : { value: r.level, watchAt: raised.watch, highAt: raised.high };
  return { state, change: r.change };
}
