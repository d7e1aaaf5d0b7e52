import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../src/shared/paths.js';

/**
 * Where the tests' tiny ONNX models (tests/fixtures/models/tiny_model.py) are cached between runs on
 * one machine, keyed by what they are made from: the feature definition and the exporter script. A
 * cache from an older feature set would hold models the service rightly refuses (feature-set hash
 * mismatch), so a changed definition gets a new folder.
 */
export function fixtureModelsDir(name: string): string {
  const key = createHash('sha256')
    .update(readFileSync(join(REPO_ROOT, 'contracts', 'features.yaml')))
    .update(readFileSync(join(REPO_ROOT, 'tests', 'fixtures', 'models', 'tiny_model.py')))
    .digest('hex')
    .slice(0, 16);
  return join(tmpdir(), `${name}-${key}`);
}
