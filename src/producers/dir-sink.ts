import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { type EnrollmentRecord, TOPICS, type TopicName } from '../contracts/types.js';
import { AepredError } from '../shared/errors.js';
import type { EventSink } from './sink.js';

const FLUSH_BYTES = 1 << 20;

/**
 * NDJSON per topic: <dir>/<topic>.ndjson, one message per line, plus <dir>/enrollment.ndjson.
 * Files are truncated on open so a re-run with the same arguments gives byte-identical files.
 * Writes are buffered per topic and flushed synchronously in ~1 MiB chunks (fast, and ordered).
 */
export class DirSink implements EventSink {
  readonly kind = 'dir' as const;
  readonly dir: string;
  readonly #fds = new Map<TopicName, number>();
  readonly #buf = new Map<TopicName, string[]>();
  readonly #bufBytes = new Map<TopicName, number>();
  readonly #counts: Record<TopicName, number>;
  #enrollmentFd: number | undefined;
  #closed = false;

  constructor(dir: string) {
    this.dir = resolve(dir);
    try {
      mkdirSync(this.dir, { recursive: true });
      for (const t of TOPICS) {
        this.#fds.set(t, openSync(resolve(this.dir, `${t}.ndjson`), 'w'));
        this.#buf.set(t, []);
        this.#bufBytes.set(t, 0);
      }
    } catch (e) {
      throw new AepredError('AEP_SINK_DIR', `cannot write to ${this.dir}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    this.#counts = Object.fromEntries(TOPICS.map((t) => [t, 0])) as Record<TopicName, number>;
  }

  write(topic: TopicName, _key: string, value: string): undefined {
    const buf = this.#buf.get(topic);
    if (buf === undefined || this.#closed)
      throw new AepredError('AEP_SINK_CLOSED', `sink closed or no topic ${topic}`);
    buf.push(value);
    const bytes = (this.#bufBytes.get(topic) ?? 0) + value.length + 1;
    this.#counts[topic]++;
    if (bytes >= FLUSH_BYTES) this.#flushTopic(topic);
    else this.#bufBytes.set(topic, bytes);
    return undefined;
  }

  #flushTopic(topic: TopicName): void {
    const buf = this.#buf.get(topic);
    const fd = this.#fds.get(topic);
    if (buf === undefined || fd === undefined || buf.length === 0) return;
    writeSync(fd, `${buf.join('\n')}\n`);
    buf.length = 0;
    this.#bufBytes.set(topic, 0);
  }

  async writeEnrollment(records: readonly EnrollmentRecord[]): Promise<void> {
    this.#enrollmentFd ??= openSync(resolve(this.dir, 'enrollment.ndjson'), 'w');
    if (records.length > 0)
      writeSync(this.#enrollmentFd, `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
  }

  async flush(): Promise<void> {
    for (const t of TOPICS) this.#flushTopic(t);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    for (const fd of this.#fds.values()) closeSync(fd);
    if (this.#enrollmentFd !== undefined) closeSync(this.#enrollmentFd);
  }

  counts(): Readonly<Record<TopicName, number>> {
    return { ...this.#counts };
  }
}
