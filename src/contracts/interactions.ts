import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { AepredError } from '../shared/errors.js';
import { contractsDir } from './validator.js';

/** contracts/interactions.yaml: the documented drug-drug interaction table (one for all readers). */
const drug = z.string().regex(/^[a-z][a-z0-9_]*$/);
export const InteractionTableSchema = z
  .strictObject({
    version: z.literal(1),
    drugs: z.record(drug, z.strictObject({ class: z.string(), cyp3a4: z.string().optional() })),
    interactions: z.array(
      z.strictObject({
        id: z.string().regex(/^[a-z][a-z0-9_]*$/),
        drugs: z.array(drug).min(2),
        flag: z.string().regex(/^ddi_[a-z0-9_]+$/),
        mechanism: z.string().min(1),
        effects: z.record(z.string(), z.number().positive()),
        evidence: z.string().min(1),
      }),
    ),
  })
  .superRefine((t, ctx) => {
    for (const i of t.interactions) {
      for (const d of i.drugs) {
        if (!(d in t.drugs)) ctx.addIssue({ code: 'custom', message: `${i.id}: drug ${d} not in drugs` });
      }
    }
  });
export type InteractionTable = z.infer<typeof InteractionTableSchema>;
export type Interaction = InteractionTable['interactions'][number];

export function loadInteractions(path = resolve(contractsDir(), 'interactions.yaml')): InteractionTable {
  const parsed = InteractionTableSchema.safeParse(parse(readFileSync(path, 'utf8')));
  if (!parsed.success) {
    throw new AepredError('AEP_CONTRACT_INVALID', `invalid interaction table ${path}`, {
      kind: 'config',
      detail: parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n'),
    });
  }
  return parsed.data;
}
