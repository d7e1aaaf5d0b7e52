import type { Redis } from 'ioredis';
import type { PatientSnapshot } from '../../actors/patient/behavior.js';

/** Where patient snapshots live between activations and across crashes (Redis in the service). */
export interface SnapshotStore {
  get(patient: string): Promise<PatientSnapshot | undefined>;
  putMany(snaps: readonly PatientSnapshot[]): Promise<void>;
  getMany(patients: readonly string[]): Promise<Array<PatientSnapshot | undefined>>;
}

export class MemorySnapshotStore implements SnapshotStore {
  readonly data = new Map<string, string>();
  async get(p: string): Promise<PatientSnapshot | undefined> {
    const s = this.data.get(p);
    return s === undefined ? undefined : (JSON.parse(s) as PatientSnapshot);
  }
  async getMany(ps: readonly string[]): Promise<Array<PatientSnapshot | undefined>> {
    return Promise.all(ps.map((p) => this.get(p)));
  }
  async putMany(snaps: readonly PatientSnapshot[]): Promise<void> {
    for (const s of snaps) this.data.set(s.id, JSON.stringify(s));
  }
}

/**
 * One Redis string per patient (`<prefix>:<patient id>`), JSON. JSON keeps every double exactly
 * (shortest round-trip form) and NaN as null, which the engine restores as NaN.
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
    const s = await this.#redis.get(this.#key(p));
    return s === null ? undefined : (JSON.parse(s) as PatientSnapshot);
  }
  async getMany(ps: readonly string[]): Promise<Array<PatientSnapshot | undefined>> {
    if (ps.length === 0) return [];
    const out: Array<PatientSnapshot | undefined> = [];
    for (let i = 0; i < ps.length; i += 1000) {
      const vals = await this.#redis.mget(ps.slice(i, i + 1000).map((p) => this.#key(p)));
      for (const v of vals) out.push(v === null ? undefined : (JSON.parse(v) as PatientSnapshot));
    }
    return out;
  }
  async putMany(snaps: readonly PatientSnapshot[]): Promise<void> {
    for (let i = 0; i < snaps.length; i += 1000) {
      const pipe = this.#redis.pipeline();
      for (const s of snaps.slice(i, i + 1000)) pipe.set(this.#key(s.id), JSON.stringify(s));
      const res = await pipe.exec();
      const err = res?.find(([e]) => e);
      if (err?.[0]) throw err[0];
    }
  }
}
