import { describe, expect, it } from 'vitest';
import { TOPICS, type TopicName } from '../contracts/types.js';
import { Contracts } from '../contracts/validator.js';
import type { FaultRecord } from './faults.js';
import { simulateToMemory } from './testing.js';

const contracts = new Contracts();
const parse = (line: string): Record<string, unknown> => {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return {}; // an injected malformed_json line
  }
};

describe('faults scenario', () => {
  it.each([11, 12, 13])(
    'every injected fault is caught by the contracts or is detectable downstream as the manifest says (seed %i)',
    async (seed) => {
      const { sink, manifest, endMs } = await simulateToMemory({
        patients: 60,
        days: 4,
        seed,
        scenario: 'faults',
      });
      const byLine = new Map<string, FaultRecord>();
      for (const f of manifest.faults) byLine.set(`${f.topic}:${f.line}`, f);
      const kinds = new Set(manifest.faults.map((f) => f.kind));
      expect([...kinds].sort()).toEqual([
        'duplicate',
        'future_timestamp',
        'late_event',
        'malformed_json',
        'out_of_order',
        'out_of_range',
        'schema_violation',
        'unknown_patient',
      ]);
      const enrolled = new Set(sink.enrollment.map((e) => e.patient_id));
      for (const topic of TOPICS) {
        const lines = sink.messages[topic];
        lines.forEach((line, i) => {
          const f = byLine.get(`${topic}:${i + 1}`);
          const r = contracts.checkRaw(topic, line, endMs, { maxFutureSkewMs: 0 });
          if (f === undefined || f.detection === 'downstream') {
            if (!r.ok)
              expect.fail(
                `${topic}:${i + 1} not in the manifest as a contract fault but rejected: ${JSON.stringify(r.issues)}`,
              );
            return;
          }
          expect(r.ok, `${topic}:${i + 1} ${f.kind}`).toBe(false);
          if (!r.ok) expect(r.issues.map((x) => x.code)).toContain(f.expected_reason);
        });
      }
      const field = (topic: TopicName, line: number, k: string) =>
        parse(sink.messages[topic][line - 1] ?? '{}')[k];
      for (const f of manifest.faults.filter((x) => x.detection === 'downstream')) {
        switch (f.kind) {
          case 'duplicate':
            expect(f.original_line).toBeLessThan(f.line);
            expect(field(f.topic, f.line, 'event_id')).toBe(field(f.topic, f.original_line ?? 0, 'event_id'));
            break;
          case 'unknown_patient':
            expect(enrolled.has(String(field(f.topic, f.line, 'patient_id')))).toBe(false);
            break;
          case 'out_of_order': {
            // Some message of the same patient sent earlier carries a later event time.
            const t = String(field(f.topic, f.line, 'timestamp'));
            const earlier = sink.messages[f.topic]
              .slice(0, f.line - 1)
              .some((l) => l.includes(`"patient_id":"${f.patient_id}"`) && String(parse(l).timestamp) > t);
            expect(earlier, `out_of_order ${f.topic}:${f.line}`).toBe(true);
            break;
          }
          case 'late_event':
            expect(
              Date.parse(f.sent_at) - Date.parse(String(field(f.topic, f.line, 'timestamp'))),
            ).toBeGreaterThan(24 * 3600_000);
            break;
          default:
            expect.fail(`unexpected downstream fault ${f.kind}`);
        }
      }
    },
    120_000,
  );
});
