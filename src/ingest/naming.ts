import type { TopicName } from '../contracts/types.js';

/**
 * Bronze object keys: `bronze/<topic>/date=YYYY-MM-DD/part-pPPP-oFFFF...-LLLL....parquet`. The name
 * is a pure function of (topic, partition, batch first offset, batch last offset, event date), so a
 * replayed batch overwrites its own file instead of adding a second copy.
 */
export interface BronzeFileName {
  topic: string;
  date: string;
  partition: number;
  firstOffset: bigint;
  lastOffset: bigint;
}

const pad = (n: bigint | number, w: number): string => n.toString().padStart(w, '0');

export function bronzePrefix(topic: TopicName | string): string {
  return `bronze/${topic}/`;
}

export function bronzeKey(f: BronzeFileName): string {
  return `bronze/${f.topic}/date=${f.date}/part-p${pad(f.partition, 3)}-o${pad(f.firstOffset, 20)}-${pad(f.lastOffset, 20)}.parquet`;
}

const KEY_RE = /^bronze\/([^/]+)\/date=(\d{4}-\d{2}-\d{2})\/part-p(\d{3,})-o(\d{20})-(\d{20})\.parquet$/;

export function parseBronzeKey(key: string): BronzeFileName | undefined {
  const m = KEY_RE.exec(key);
  if (m === null) return undefined;
  const [, topic, date, p, f, l] = m as unknown as [string, string, string, string, string, string];
  return { topic, date, partition: Number(p), firstOffset: BigInt(f), lastOffset: BigInt(l) };
}

/** UTC calendar date of an epoch-ms instant. */
export function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

const DAY_MS = 86_400_000;

/**
 * utcDate for many instants of few days: formats each day once (Date + toISOString per row was 2 %
 * of the ingester's CPU at 100,000 events).
 */
export class UtcDates {
  readonly #byDay = new Map<number, string>();
  of(ms: number): string {
    const day = Math.floor(ms / DAY_MS);
    let d = this.#byDay.get(day);
    if (d === undefined) {
      if (this.#byDay.size > 10_000) this.#byDay.clear();
      d = utcDate(day * DAY_MS);
      this.#byDay.set(day, d);
    }
    return d;
  }
}
