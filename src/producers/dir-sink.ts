import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { type EnrollmentRecord, TOPICS, type TopicName } from '../contracts/types.js';
import { AepredError } from '../shared/errors.js';
import type { EventSink } from './sink.js';

const BUFFER_BYTES = 4 << 20;

/**
 * NDJSON per topic: <dir>/<topic>.ndjson, one message per line, plus <dir>/enrollment.ndjson.
 * Files are truncated on open so a re-run with the same arguments gives byte-identical files.
 * Messages are encoded straight into a 4 MiB buffer per topic, written synchronously when full: no
 * per-message allocation beyond the string itself, and the order of writes is the order of lines.
 */
export class DirSink implements EventSink {
  readonly kind = 'dir' as const;
  readonly dir: string;
  readonly #fds = new Map<TopicName, number>();
  readonly #buf = new Map<TopicName, Buffer>();
  readonly #used = new Map<TopicName, number>();
  readonly #counts: Record<TopicName, number>;
  #enrollmentFd: number | undefined;
  #closed = false;

  constructor(dir: string) {
    this.dir = resolve(dir);
    try {
      mkdirSync(this.dir, { recursive: true });
      for (const t of TOPICS) {
        this.#fds.set(t, openSync(resolve(this.dir, `${t}.ndjson`), 'w'));
        this.#buf.set(t, Buffer.allocUnsafe(BUFFER_BYTES));
        this.#used.set(t, 0);
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
    this.#counts[topic]++;
    let used = this.#used.get(topic) ?? 0;
    // A UTF-16 code unit never takes more than 3 UTF-8 bytes.
    if (used + value.length * 3 + 1 > BUFFER_BYTES) {
      this.#flushTopic(topic);
      used = 0;
      if (value.length * 3 + 1 > BUFFER_BYTES) {
        writeSync(this.#fds.get(topic) ?? -1, `${value}\n`);
        return undefined;
      }
    }
    used += buf.write(value, used);
    buf[used++] = 10;
    this.#used.set(topic, used);
    return undefined;
  }

  #flushTopic(topic: TopicName): void {
    const buf = this.#buf.get(topic);
    const fd = this.#fds.get(topic);
    const used = this.#used.get(topic) ?? 0;
    if (buf === undefined || fd === undefined || used === 0) return;
    let off = 0;
    while (off < used) off += writeSync(fd, buf, off, used - off);
    this.#used.set(topic, 0);
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
