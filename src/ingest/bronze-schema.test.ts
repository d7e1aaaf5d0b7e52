import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TOPICS } from '../contracts/types.js';
import { REPO_ROOT } from '../shared/paths.js';
import { bronzeTable } from './bronze-file.js';
import { bronzeColumns, type ColumnKind, LINEAGE_COLUMNS } from './bronze-schema.js';

const doc = readFileSync(resolve(REPO_ROOT, 'contracts/bronze.md'), 'utf8');

/** The rows of the markdown table after `heading`: [column, arrow type, nullable]. */
function table(heading: string): Array<[string, string, string]> {
  const at = doc.indexOf(heading);
  if (at < 0) throw new Error(`contracts/bronze.md has no "${heading}"`);
  const rows: Array<[string, string, string]> = [];
  let inTable = false;
  for (const line of doc.slice(at + heading.length).split('\n')) {
    if (!line.startsWith('|')) {
      if (inTable) break;
      continue;
    }
    inTable = true;
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    const name = /^`([^`]+)`$/.exec(cells[0] ?? '')?.[1];
    if (name === undefined) continue; // header and separator rows
    rows.push([name, (cells[1] ?? '').replace(/`/g, ''), cells[2] ?? '']);
  }
  return rows;
}

const ARROW: Record<ColumnKind, string> = {
  utf8: 'utf8',
  timestamp_ms: 'timestamp[ms, tz=UTC]',
  float64: 'float64',
  int32: 'int32',
  int64: 'int64',
  bool: 'bool',
};

describe('bronze schema vs contracts/bronze.md', () => {
  for (const topic of TOPICS) {
    it(`${topic}: payload columns, order, types and nullability match the document`, () => {
      const payload = bronzeColumns(topic).slice(0, -LINEAGE_COLUMNS.length);
      expect(payload.map((c) => [c.name, ARROW[c.kind], c.nullable ? 'yes' : 'no'])).toEqual(
        table(`### ${topic}`),
      );
    });
  }

  it('lineage columns come last and match the document', () => {
    const lineage = table('## Kafka / lineage columns');
    expect(LINEAGE_COLUMNS.map((c) => [c.name, ARROW[c.kind], c.nullable ? 'yes' : 'no'])).toEqual(lineage);
    for (const topic of TOPICS) {
      expect(
        bronzeColumns(topic)
          .slice(-LINEAGE_COLUMNS.length)
          .map((c) => c.name),
      ).toEqual(lineage.map((r) => r[0]));
    }
  });

  it('the Arrow schema written to files has the same names, types and nullability', () => {
    for (const topic of TOPICS) {
      const schema = bronzeTable(topic, [], 0).schema;
      const specs = bronzeColumns(topic);
      expect(schema.fields.map((f) => f.name)).toEqual(specs.map((s) => s.name));
      schema.fields.forEach((f, i) => {
        const spec = specs[i];
        expect(f.nullable, f.name).toBe(spec?.nullable);
        const t = String(f.type);
        const want = {
          utf8: 'Utf8',
          timestamp_ms: 'Timestamp<MILLISECOND',
          float64: 'Float64',
          int32: 'Int32',
          int64: 'Int64',
          bool: 'Bool',
        }[spec?.kind ?? 'utf8'];
        expect(t.startsWith(want), `${f.name}: ${t}`).toBe(true);
      });
    }
  });
});
