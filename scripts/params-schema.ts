/**
 * Writes contracts/params.schema.json: the zod schema of params.yaml (src/config/params.ts) exported
 * as JSON Schema (draft 2020-12, input side: keys with a default are optional and carry it).
 * tests/python/test_params_parity.py compares it with pydantic's model (ml/params.py), and
 * src/config/params-schema.test.ts fails when the committed file is older than the zod schema.
 *
 *   npx tsx scripts/params-schema.ts          # (re)write the file
 *   npx tsx scripts/params-schema.ts --check  # exit 1 when the committed file differs
 *
 * Refinements (split sums to 1, watch < high, start < end ...) have no JSON Schema form and are
 * left out; both hand-written schemas keep them.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { ParamsSchema } from '../src/config/params.js';
import { REPO_ROOT } from '../src/shared/paths.js';

export const PARAMS_SCHEMA_PATH = resolve(REPO_ROOT, 'contracts', 'params.schema.json');
export const REGENERATE_COMMAND = 'npx tsx scripts/params-schema.ts';

/** The schema as a plain object (what the committed file parses to). */
export function paramsJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ParamsSchema, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'throw',
  });
  const withComment = {
    $schema: schema.$schema,
    $comment: `Generated from src/config/params.ts by \`${REGENERATE_COMMAND}\`; do not edit by hand.`,
    title: 'params.yaml',
    ...schema,
  };
  return withComment;
}

/** The file's exact text, formatted by the repository's Biome so that `npx biome check` accepts it. */
export function renderParamsSchema(): string {
  const biome = resolve(REPO_ROOT, 'node_modules', '.bin', 'biome');
  return execFileSync(biome, ['format', `--stdin-file-path=${PARAMS_SCHEMA_PATH}`], {
    cwd: REPO_ROOT,
    input: JSON.stringify(paramsJsonSchema(), null, 2),
    encoding: 'utf8',
  });
}

function main(argv: string[]): number {
  const text = renderParamsSchema();
  if (argv.includes('--check')) {
    let committed = '';
    try {
      committed = readFileSync(PARAMS_SCHEMA_PATH, 'utf8');
    } catch (e) {
      process.stderr.write(`cannot read ${PARAMS_SCHEMA_PATH}: ${(e as Error).message}\n`);
      return 1;
    }
    if (committed !== text) {
      process.stderr.write(`${PARAMS_SCHEMA_PATH} is out of date; run \`${REGENERATE_COMMAND}\`\n`);
      return 1;
    }
    process.stdout.write(`${PARAMS_SCHEMA_PATH} is up to date\n`);
    return 0;
  }
  writeFileSync(PARAMS_SCHEMA_PATH, text);
  process.stdout.write(`wrote ${PARAMS_SCHEMA_PATH}\n`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
