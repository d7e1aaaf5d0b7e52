import type { ModelVersion } from '../../actors/patient/protocol.js';

export type ModelAlias = 'production' | 'staging';

export type ModelCommand =
  | { type: 'model.alias.load'; alias: ModelAlias; bytes: Uint8Array }
  | { type: 'model.canary.set'; share: number }
  | { type: 'model.staging.promote' }
  | { type: 'model.production.rollback' };

export type ModelEvent =
  | { type: 'model.version.loaded'; alias: ModelAlias; version: ModelVersion; featureSetHash: string }
  | { type: 'model.version.refused'; alias: ModelAlias; version: ModelVersion; reason: string }
  | { type: 'model.version.promoted'; version: ModelVersion; previous: ModelVersion | null }
  | { type: 'model.version.rolled_back'; version: ModelVersion; from: ModelVersion }
  | { type: 'model.session.released'; version: ModelVersion };
