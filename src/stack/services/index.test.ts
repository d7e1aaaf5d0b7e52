import { describe, expect, it } from 'vitest';
import { SERVICE_NAMES } from '../../cli/commands/stack.js';
import { loadStackConfig } from '../config.js';
import { startOrder } from '../manager.js';
import { SERVICES } from './index.js';

describe('the stack services', () => {
  it('are each registered once, and the CLI help names them all', () => {
    const names = SERVICES.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    expect([...SERVICE_NAMES].sort()).toEqual([...names].sort());
  });

  it('form a dependency graph without cycles or unknown names', () => {
    expect(startOrder(SERVICES)).toHaveLength(SERVICES.length);
    expect(startOrder(SERVICES, ['mlflow']).map((s) => s.name)).toEqual(['postgres', 'minio', 'mlflow']);
  });

  it('bind distinct ports from stack.yaml', () => {
    const config = loadStackConfig();
    const ports = SERVICES.flatMap((s) => s.ports(config));
    expect(new Set(ports).size).toBe(ports.length);
    expect(ports).not.toContain(config.aepred.port);
  });
});
