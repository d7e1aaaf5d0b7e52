/**
 * The ingest tests' input: the simulator's `faults` scenario (library API, same engine as
 * `aepred simulate --scenario faults`) and what its ground-truth manifest says the ingester must do
 * with each message.
 */
import { createHash } from 'node:crypto';
import { loadParams } from '../../src/config/params.js';
import { type EnrollmentRecord, TOPICS, type TopicName } from '../../src/contracts/types.js';
import { MemorySink } from '../../src/producers/memory-sink.js';
import type { FaultRecord } from '../../src/sim/faults.js';
import { type Manifest, simulate } from '../../src/sim/run.js';
import { SimulatedClock } from '../../src/sim/time.js';

export interface StreamMessage {
  topic: TopicName;
  key: string;
  value: string;
}

export interface SimStream {
  /** Every message, each topic in the simulator's order, topics interleaved in `chunk`-sized slices. */
  chunks: StreamMessage[][];
  total: number;
  enrollment: EnrollmentRecord[];
  manifest: Manifest;
  /** event_id -> how many valid copies bronze must hold (a `duplicate` fault is a valid second copy). */
  expectedValid: Map<string, number>;
  expectedValidRows: number;
  /** sha1 of the original bytes -> what the DLQ must hold for them. */
  expectedInvalid: Map<string, { count: number; reason: string; kind: string }>;
  expectedInvalidRecords: number;
}

/** Messages per simulated patient-day of the baseline engine (measured: ~160). */
const PER_PATIENT_DAY = 160;

export const sha1 = (b: Uint8Array | string): string => createHash('sha1').update(b).digest('hex');

/** Faults the ingester itself must reject: the contract ones and enrollment (`unknown_patient`). */
export function rejectedByIngest(f: FaultRecord): boolean {
  return f.detection === 'contract' || f.expected_reason === 'unknown_patient';
}

/** About `messages` messages of the `faults` scenario (patients scaled over `days` days). */
export async function simulateStream(o: {
  messages: number;
  seed: number;
  days?: number;
  chunk?: number;
}): Promise<SimStream> {
  const days = o.days ?? 2;
  const patients = Math.max(2, Math.ceil(o.messages / (PER_PATIENT_DAY * days)));
  const params = loadParams().simulator;
  const sink = new MemorySink({ keepKeys: true });
  const startMs = Date.parse(`${params.default_start}T00:00:00Z`);
  const manifest = await simulate(
    { patients, days, seed: o.seed, startMs, scenario: 'faults', rate: { kind: 'max' } },
    { params, sink, clock: new SimulatedClock() },
  );
  const faultAt = new Map<string, FaultRecord>();
  for (const f of manifest.faults) if (rejectedByIngest(f)) faultAt.set(`${f.topic}:${f.line}`, f);
  // A re-sent copy of a rejected message is rejected again (same bytes).
  for (const f of manifest.faults) {
    const original = faultAt.get(`${f.topic}:${f.original_line ?? 0}`);
    if (f.kind === 'duplicate' && original !== undefined) faultAt.set(`${f.topic}:${f.line}`, original);
  }
  const expectedValid = new Map<string, number>();
  const expectedInvalid = new Map<string, { count: number; reason: string; kind: string }>();
  let expectedValidRows = 0;
  let expectedInvalidRecords = 0;
  let total = 0;
  for (const topic of TOPICS) {
    sink.messages[topic].forEach((value, i) => {
      total++;
      const f = faultAt.get(`${topic}:${i + 1}`);
      if (f === undefined) {
        const id = /"event_id":"([^"]+)"/.exec(value)?.[1];
        if (id === undefined) throw new Error(`${topic}:${i + 1} has no event_id and no fault`);
        expectedValid.set(id, (expectedValid.get(id) ?? 0) + 1);
        expectedValidRows++;
      } else {
        const h = sha1(value);
        const e = expectedInvalid.get(h);
        if (e === undefined) expectedInvalid.set(h, { count: 1, reason: f.expected_reason, kind: f.kind });
        else e.count++;
        expectedInvalidRecords++;
      }
    });
  }
  const size = o.chunk ?? 2000;
  const slices = Math.max(1, Math.ceil(total / size));
  const chunks: StreamMessage[][] = [];
  for (let s = 0; s < slices; s++) {
    const part: StreamMessage[] = [];
    for (const topic of TOPICS) {
      const msgs = sink.messages[topic];
      const keys = sink.keys[topic];
      const from = Math.floor((s * msgs.length) / slices);
      const to = Math.floor(((s + 1) * msgs.length) / slices);
      for (let i = from; i < to; i++) part.push({ topic, key: keys[i] as string, value: msgs[i] as string });
    }
    chunks.push(part);
  }
  return {
    chunks,
    total,
    enrollment: sink.enrollment,
    manifest,
    expectedValid,
    expectedValidRows,
    expectedInvalid,
    expectedInvalidRecords,
  };
}
