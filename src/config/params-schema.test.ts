import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  PARAMS_SCHEMA_PATH,
  paramsJsonSchema,
  REGENERATE_COMMAND,
  renderParamsSchema,
} from '../../scripts/params-schema.js';

// contracts/params.schema.json is the zod schema of params.yaml as JSON Schema, committed so that
// Python (tests/python/test_params_parity.py) can compare pydantic's model with it. A change to
// src/config/params.ts (or src/sim/params.ts) without regenerating the file fails here.
describe('contracts/params.schema.json', () => {
  it('is what the zod schema exports now', () => {
    const stale = `${PARAMS_SCHEMA_PATH} is out of date with src/config/params.ts; run \`${REGENERATE_COMMAND}\``;
    expect(
      existsSync(PARAMS_SCHEMA_PATH),
      `${PARAMS_SCHEMA_PATH} is missing; run \`${REGENERATE_COMMAND}\``,
    ).toBe(true);
    const committed = readFileSync(PARAMS_SCHEMA_PATH, 'utf8');
    expect(JSON.parse(committed), stale).toEqual(paramsJsonSchema());
    expect(committed, `${stale} (same schema, different formatting)`).toBe(renderParamsSchema());
  });

  it('describes every section of params.yaml, strictly', () => {
    const schema = paramsJsonSchema() as {
      additionalProperties: unknown;
      required: string[];
      properties: Record<string, { default?: unknown }>;
    };
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(expect.arrayContaining(['training', 'monitoring', 'simulator']));
    const monitoring = schema.properties.monitoring as {
      required: string[];
      properties: Record<string, { default?: unknown }>;
    };
    // Input side: a key with a default is optional and carries the default.
    expect(monitoring.required).not.toContain('min_positives');
    expect(monitoring.properties.min_positives?.default).toBe(10);
  });
});
