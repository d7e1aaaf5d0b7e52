import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runStress } from './ingest-stress.js';

describe('ingest stress (PRD 7.4): the faults scenario, SIGKILLs, a rebalance and a broker restart', () => {
  it('leaves every valid event in bronze exactly once and exactly the manifest faults in the DLQ', async () => {
    const r = await runStress({
      messages: 10_000,
      seed: 7,
      kills: 3,
      batchMaxRecords: 200,
      workDir: join(tmpdir(), 'aepred-ingest-stress'),
    });
    expect(r.kills).toBeGreaterThanOrEqual(3);
    expect(r.rebalances).toBe(1);
    expect(r.brokerRestarts).toBe(1);
    expect(r.manifestFaults).toBeGreaterThan(0);
    expect(r.expectedInvalid).toBeGreaterThan(0);
    // Bronze: exactly the valid messages, once each by offset; by event_id once per copy sent.
    expect(r.missingValid).toBe(0);
    expect(r.duplicatedValid).toBe(0);
    expect(r.unexpectedBronze).toBe(0);
    expect(r.bronzeRows).toBe(r.expectedValid);
    expect(r.bronzeDistinctOffsets).toBe(r.expectedValid);
    expect(r.bronzeDistinctEventIds).toBe(r.expectedDistinctValid);
    // DLQ: exactly the manifest's contract faults and unknown patients, once each, with its reason.
    expect(r.missingInvalid).toBe(0);
    expect(r.duplicatedDlq).toBe(0);
    expect(r.unexpectedDlq).toBe(0);
    expect(r.wrongReason).toBe(0);
    expect(r.dlqRecords).toBe(r.expectedInvalid);
    expect(r.dlqDistinctSources).toBe(r.expectedInvalid);
    expect(r.dlqReasons.unknown_patient ?? 0).toBeGreaterThan(0);
  }, 900_000);
});
