import type { TopicName } from '../contracts/types.js';

/**
 * Messages generated during one tick, in generation order, before they reach the sink (through the
 * fault injector when the scenario has one). Parallel arrays: no object per message.
 */
export class Outbox {
  topics: TopicName[] = [];
  keys: string[] = [];
  values: string[] = [];
  /** Simulated time at which each message is sent (its arrival time). */
  at: number[] = [];

  push(topic: TopicName, key: string, value: string, at: number): void {
    this.topics.push(topic);
    this.keys.push(key);
    this.values.push(value);
    this.at.push(at);
  }

  get length(): number {
    return this.values.length;
  }

  clear(): void {
    this.topics.length = 0;
    this.keys.length = 0;
    this.values.length = 0;
    this.at.length = 0;
  }
}
