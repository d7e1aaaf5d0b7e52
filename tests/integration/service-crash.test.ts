import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PatientEvent } from '../../src/actors/patient/protocol.js';
import type { FeedProgress } from '../../src/service/feed.js';
import type { Service } from '../../src/service/service.js';
import { REPO_ROOT } from '../../src/shared/paths.js';
import {
  caughtUp,
  createTopics,
  deleteTopics,
  endOffsets,
  makeService,
  patientIds,
  produce,
  type ServiceSetup,
  simulateTrial,
  type Trial,
  tinyModel,
} from './service-harness.js';

/**
 * Issue 7, "must show": SIGKILL the service process mid-stream, restart it, and every patient's
 * feature vector and score equal those of an uninterrupted run, bit for bit. The restart restores
 * the Redis snapshots, replays Kafka from the group's committed offsets (the snapshot floor) and
 * skips what the snapshots already applied.
 */
const run = `crash${Date.now().toString(36)}`;
const prefix = `${run}.`;
const PARTITIONS = 3;
let trial: Trial;
let model: string;
const services: Service[] = [];

function setup(name: string): ServiceSetup {
  return {
    prefix,
    group: `${run}-${name}`,
    redisPrefix: `aepred-test:${run}:${name}`,
    partitions: PARTITIONS,
    enrollment: trial.enrollment,
    model,
    checkpointMs: 150,
    maxBytesPerPartition: 4096,
  };
}

beforeAll(async () => {
  model = tinyModel(1);
  trial = await simulateTrial(6, 2, 11);
  await createTopics(prefix, PARTITIONS);
  await produce(prefix, trial.messages);
}, 300_000);

afterAll(async () => {
  for (const s of services) await s.stop().catch(() => undefined);
  await deleteTopics(prefix);
});

describe('crash recovery', () => {
  it('SIGKILL mid-stream, restart: features and scores equal an uninterrupted run bit for bit', async () => {
    const ends = await endOffsets(prefix);
    const T = trial.endMs;
    const ids = patientIds(trial.enrollment);

    // Uninterrupted run.
    const ref = makeService(setup('ref'));
    services.push(ref);
    await ref.start();
    await caughtUp([ref], ends);
    const want = new Map<string, { x: Float64Array; f: Float32Array; p: number }>();
    for (const id of ids) {
      const r = await ref.score(id, T);
      const a = ref.patients.actor(id);
      expect(r, id).not.toBeNull();
      want.set(id, { x: a!.state.features.compute(T), f: r!.features, p: r!.probability });
    }
    await ref.stop();

    // The same stream in a child process, killed once it has checkpointed and gone on.
    const total = trial.messages.length;
    const child: ChildProcess = spawn(
      process.execPath,
      ['--import', 'tsx', 'tests/integration/service-crash-child.ts', JSON.stringify(setup('crash'))],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let atKill: FeedProgress | undefined;
    const exited = new Promise<NodeJS.Signals | null>((res) => child.on('exit', (_c, sig) => res(sig)));
    for await (const line of createInterface({ input: child.stdout! })) {
      const p = JSON.parse(line) as Partial<FeedProgress>;
      if ((p.checkpoints ?? 0) >= 1 && (p.delivered ?? 0) + (p.skipped ?? 0) >= total * 0.4) {
        atKill = p as FeedProgress;
        child.kill('SIGKILL');
        break;
      }
    }
    expect(await exited).toBe('SIGKILL');
    expect(atKill, 'the child never reached 40 % of the stream').toBeDefined();
    expect(atKill!.delivered + atKill!.skipped).toBeLessThan(total);

    // Restart: same group, same Redis prefix.
    const events: PatientEvent[] = [];
    const rec = makeService(setup('crash'));
    services.push(rec);
    rec.subscribe((e) => {
      if (e.type === 'patient.event.skipped' || e.type === 'patient.actor.spawned')
        events.push(e as PatientEvent);
    });
    await rec.start();
    await caughtUp([rec], ends, setup('crash').group);
    for (const id of ids) {
      const r = await rec.score(id, T);
      const a = rec.patients.actor(id);
      const w = want.get(id)!;
      const x = a!.state.features.compute(T);
      expect(Buffer.from(x.buffer).equals(Buffer.from(w.x.buffer)), `features of ${id}`).toBe(true);
      expect(Buffer.from(r!.features.buffer).equals(Buffer.from(w.f.buffer)), `model input of ${id}`).toBe(
        true,
      );
      expect(Object.is(r!.probability, w.p), `score of ${id}`).toBe(true);
    }
    // It really recovered: snapshots were restored, and the restart resumed from the committed
    // offsets (the snapshot floor), not from the beginning. Events between the floor and the
    // snapshots' applied offsets are skipped by the actors (counted, not required: a kill right
    // after a checkpoint leaves none).
    const restored = events.filter(
      (e) => e.type === ('patient.actor.spawned' as string) && 'restored' in e && e.restored,
    );
    expect(restored.length).toBeGreaterThan(0);
    const resumed = rec.feedProgress!;
    expect(resumed.delivered + resumed.skipped).toBeGreaterThan(0);
    expect(resumed.delivered + resumed.skipped).toBeLessThan(total);
    const skipped = events.filter((e) => e.type === 'patient.event.skipped' && e.reason === 'applied').length;
    console.info(
      `crash test: killed at ${atKill!.delivered + atKill!.skipped}/${total}, resumed with ${resumed.delivered + resumed.skipped}, ${restored.length} actors restored, ${skipped} replayed events skipped as applied`,
    );
    await rec.stop();
  }, 300_000);
});
