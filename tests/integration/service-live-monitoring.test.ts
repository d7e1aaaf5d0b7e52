import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultFeatureSet } from '../../src/features/definition.js';
import { StaticPatientDirectory } from '../../src/ingest/enrollment-cache.js';
import { LiveMonitor } from '../../src/monitoring/live.js';
import { Service } from '../../src/service/service.js';
import { SystemClock } from '../../src/supervisors/clock.js';
import {
  brokers,
  caughtUp,
  contextsOf,
  createTopics,
  deleteTopics,
  endOffsets,
  log,
  params,
  produce,
  redisUrl,
  simulateTrial,
  type Trial,
  tinyModel,
} from './service-harness.js';

/**
 * Issue 9, live monitoring as `aepred serve` wires it (src/api/server.ts): the actors consume a
 * simulated trial from the stack's Kafka, every production scoring goes to the LiveMonitor, the
 * adverse-event reports the actors receive label those scorings late, and the DriftSupervisor checks
 * every 6 h of the trial's own time (it is replayed far faster than real time).
 */
const run = `live${Date.now().toString(36)}`;
const prefix = `${run}.`;
const DAYS = 6;
let trial: Trial;
let service: Service;
let monitor: LiveMonitor;
const registry = new Registry();
let reported = 0;

beforeAll(async () => {
  trial = await simulateTrial(40, DAYS, 11);
  reported = trial.messages.filter((m) => m.topic === 'adverse-events').length;
  await createTopics(prefix, 2);
  await produce(prefix, trial.messages);
  const fs = defaultFeatureSet();
  const sites = new Map(trial.enrollment.map((e) => [e.patient_id, e.site_id]));
  service = new Service({
    params,
    clock: new SystemClock(),
    logger: log,
    contexts: contextsOf(trial.enrollment),
    patients: new StaticPatientDirectory(trial.enrollment.map((e) => e.patient_id)),
    kafka: { brokers, groupId: `${run}-g`, topicPrefix: prefix, partitions: 2 },
    redis: { url: redisUrl, prefix: `aepred-test:${run}` },
    models: { local: { production: tinyModel(1) } },
    checkpointMs: 500,
    onDelivered: (p, items) =>
      monitor.delivered(
        p,
        items.map((i) => i.obs),
      ),
  });
  monitor = new LiveMonitor({
    params,
    names: fs.names,
    production: () => service.models.production,
    labelsHeld: () => !service.feedCaughtUp,
    siteOf: (p) => sites.get(p),
    registry,
    logger: log,
  });
  service.subscribe((e) => {
    if (e.type === 'patient.risk.scored') monitor.scored(e);
  });
  await service.start();
  await caughtUp([service], await endOffsets(prefix), `${run}-g`, 240_000);
}, 360_000);

afterAll(async () => {
  await service?.stop().catch(() => undefined);
  await deleteTopics(prefix);
});

describe('live monitoring in the service', () => {
  it('scores are labelled from the adverse-event reports and checked on trial time', async () => {
    expect(reported).toBeGreaterThan(0);
    expect(monitor.observed).toBeGreaterThan(100);
    const o = monitor.outcomes;
    // some predictions had an event in their next 24 h; most did not; the last 48 h are pending
    expect(o.positives).toBeGreaterThan(0);
    expect(o.negatives).toBeGreaterThan(o.positives);
    expect(o.positives + o.negatives + o.pending).toBe(monitor.observed);
    // negatives waited for the feed to catch up: no report arrived after its predictions were counted
    expect(o.lateReports).toBe(0);
    // the clock is the data's: checks every 6 h of the replayed days, not of the seconds it took
    const checks = monitor.drift?.checks ?? [];
    expect(checks.length).toBeGreaterThanOrEqual(DAYS * 4 - 6);
    const start = Date.parse('2024-01-01T00:00:00Z');
    expect(checks[0]?.at).toBeGreaterThanOrEqual(start);
    expect(checks.at(-1)?.at).toBeLessThanOrEqual(trial.endMs + 6 * 3_600_000);
    process.stdout.write(
      `[live-monitoring] ${monitor.observed} production scorings, ${reported} adverse-event reports: ${o.positives} positive, ${o.negatives} negative, ${o.pending} pending, ${o.lateReports} late; ${checks.length} checks, last AUROC ${checks.at(-1)?.findings.auroc?.toFixed(3) ?? 'n/a'}\n`,
    );
    const text = await registry.metrics();
    const labelled = Number(/aepred_model_labelled_predictions (\d+)/.exec(text)?.[1]);
    expect(labelled).toBeGreaterThan(0);
    expect(text).toMatch(/aepred_decay_last_check_timestamp_seconds 17\d{8}/);
  });
});
