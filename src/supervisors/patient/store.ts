import { deserialize, serialize } from 'node:v8';
import type { Redis } from 'ioredis';
import type { PatientSnapshot } from '../../actors/patient/behavior.js';

/**
 * Binary snapshots: the V8 structured-clone format writes typed arrays as their raw bytes and keeps
 * NaN, infinities and -0, so a snapshot is compact (no number-to-text), fast, and restores the exact
 * doubles. Node reads older versions of the format, so a rolling upgrade can read what it wrote.
 */
export function encodeSnapshot(s: PatientSnapshot): Buffer {
  return serialize(s);
}

export function decodeSnapshot(b: Uint8Array): PatientSnapshot {
  const s = deserialize(b) as PatientSnapshot;
  if (s.v !== 2) throw new Error(`snapshot of ${String(s.id)} has version ${String(s.v)}, expected 2`);
  return s;
}

/**
 * Where patient snapshots live between activations and across crashes (Redis in the service).
 *
 * Writes are fenced: every write carries the fence of the consumer-group generation under which the
 * actor was fed, and a store keeps a patient's snapshot only against one with an equal or higher
 * fence. A replica that lost a partition in a rebalance and writes its revoke-time snapshot late
 * therefore cannot overwrite what the partition's new owner has written since.
 */
export interface SnapshotStore {
  get(patient: string): Promise<PatientSnapshot | undefined>;
  /** Returns how many snapshots were written (the others were fenced off by a newer owner). */
  putMany(snaps: readonly PatientSnapshot[], fence?: number): Promise<number>;
  getMany(patients: readonly string[]): Promise<Array<PatientSnapshot | undefined>>;
  /** A fence higher than every one handed out before, across all replicas. */
  nextFence(): Promise<number>;
}

export class MemorySnapshotStore implements SnapshotStore {
  readonly data = new Map<string, { fence: number; bytes: Buffer }>();
  #fence = 0;
  async get(p: string): Promise<PatientSnapshot | undefined> {
    const s = this.data.get(p);
    return s === undefined ? undefined : decodeSnapshot(s.bytes);
  }
  async getMany(ps: readonly string[]): Promise<Array<PatientSnapshot | undefined>> {
    return Promise.all(ps.map((p) => this.get(p)));
  }
  async putMany(snaps: readonly PatientSnapshot[], fence = 0): Promise<number> {
    let n = 0;
    for (const s of snaps) {
      const cur = this.data.get(s.id);
      if (cur !== undefined && cur.fence > fence) continue;
      this.data.set(s.id, { fence, bytes: encodeSnapshot(s) });
      n++;
    }
    return n;
  }
  async nextFence(): Promise<number> {
    return ++this.#fence;
  }
}

/** HSET key f <fence> d <bytes> unless the stored fence is higher; 1 when written. */
const FENCED_SET = `
local cur = redis.call('HGET', KEYS[1], 'f')
if cur and tonumber(cur) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'f', ARGV[1], 'd', ARGV[2])
return 1`;

/**
 * One Redis hash per patient (`<prefix>:<patient id>` = {f: fence, d: binary snapshot}); the fenced
 * write is one Lua script, so it is atomic against a concurrent writer. Fences come from INCR on
 * `<prefix>:fence`.
 */
export class RedisSnapshotStore implements SnapshotStore {
  readonly #redis: Redis;
  readonly #prefix: string;
  constructor(redis: Redis, prefix = 'aepred:actor') {
    this.#redis = redis;
    this.#prefix = prefix;
  }
  #key(p: string): string {
    return `${this.#prefix}:${p}`;
  }
  async get(p: string): Promise<PatientSnapshot | undefined> {
    const b = await this.#redis.hgetBuffer(this.#key(p), 'd');
    return b === null ? undefined : decodeSnapshot(b);
  }
  async getMany(ps: readonly string[]): Promise<Array<PatientSnapshot | undefined>> {
    const out: Array<PatientSnapshot | undefined> = [];
    for (let i = 0; i < ps.length; i += 1000) {
      const pipe = this.#redis.pipeline();
      for (const p of ps.slice(i, i + 1000)) pipe.hgetBuffer(this.#key(p), 'd');
      const res = (await pipe.exec()) ?? [];
      for (const [err, v] of res) {
        if (err) throw err;
        out.push(v === null ? undefined : decodeSnapshot(v as Buffer));
      }
    }
    return out;
  }
  async putMany(snaps: readonly PatientSnapshot[], fence = 0): Promise<number> {
    let written = 0;
    for (let i = 0; i < snaps.length; i += 1000) {
      const pipe = this.#redis.pipeline();
      for (const s of snaps.slice(i, i + 1000))
        pipe.eval(FENCED_SET, 1, this.#key(s.id), String(fence), encodeSnapshot(s));
      for (const [err, v] of (await pipe.exec()) ?? []) {
        if (err) throw err;
        written += Number(v);
      }
    }
    return written;
  }
  async nextFence(): Promise<number> {
    return this.#redis.incr(`${this.#prefix}:fence`);
  }
}
