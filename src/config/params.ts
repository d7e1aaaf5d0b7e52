import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { AepredError } from '../shared/errors.js';
import { REPO_ROOT } from '../shared/paths.js';

/**
 * params.yaml: every tunable number, validated when loaded; unknown keys are rejected so a typo
 * fails at boot. Sections are added here as the components that read them are built.
 */
export const ParamsSchema = z.strictObject({
  seed: z.number().int().nonnegative(),
});

export type Params = z.infer<typeof ParamsSchema>;

export function paramsPath(): string {
  return process.env.AEPRED_PARAMS ?? resolve(REPO_ROOT, 'params.yaml');
}

export function loadParams(path = paramsPath()): Params {
  let raw: unknown;
  try {
    raw = parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new AepredError('AEP_PARAMS_UNREADABLE', `cannot read ${path}: ${(e as Error).message}`, {
      kind: 'config',
    });
  }
  const parsed = ParamsSchema.safeParse(raw);
  if (!parsed.success) {
    const detail = parsed.error.issues
      .map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('\n');
    throw new AepredError('AEP_PARAMS_INVALID', `invalid parameters in ${path}`, { kind: 'config', detail });
  }
  return parsed.data;
}
