import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { AepredError } from '../shared/errors.js';
import { loadStackConfig, stackConfigPath } from './config.js';

const shipped = (): Record<string, unknown> =>
  parse(readFileSync(stackConfigPath(), 'utf8')) as Record<string, unknown>;

function writeConfig(doc: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), 'aepred-stack-config-')), 'stack.yaml');
  writeFileSync(file, typeof doc === 'string' ? doc : stringify(doc));
  return file;
}

function loadError(doc: unknown): AepredError {
  try {
    loadStackConfig(writeConfig(doc));
  } catch (e) {
    if (e instanceof AepredError) return e;
    throw e;
  }
  throw new Error('expected the config to be rejected');
}

describe('stack config', () => {
  it('loads the shipped ops/local/stack.yaml', () => {
    const c = loadStackConfig();
    expect(c.host).toBe('127.0.0.1');
    expect(c.services.postgres.port).toBe(55432);
    expect(c.aepred.port).toBeGreaterThan(1023);
    const ports = [
      ...Object.values(c.services).flatMap((s) =>
        Object.entries(s)
          .filter(([k]) => k.endsWith('port'))
          .map(([, v]) => v),
      ),
      c.aepred.port,
      c.test_endpoints.scrape_port,
      c.test_endpoints.webhook_port,
    ];
    expect(new Set(ports).size, 'every port in stack.yaml is distinct').toBe(ports.length);
  });

  it('rejects an unknown key, naming its path', () => {
    const doc = shipped();
    (doc.services as Record<string, Record<string, unknown>>).redis = { port: 56379, prot: 1 };
    const e = loadError(doc);
    expect(e.code).toBe('AEP_CONFIG_INVALID');
    expect(e.exitCode).toBe(1);
    expect(e.detail).toContain('services.redis');
  });

  it('rejects a privileged or out-of-range port', () => {
    const doc = shipped();
    (doc.services as Record<string, Record<string, unknown>>).prometheus = { port: 80 };
    expect(loadError(doc).detail).toContain('services.prometheus.port');
    (doc.services as Record<string, Record<string, unknown>>).prometheus = { port: 70000 };
    expect(loadError(doc).detail).toContain('services.prometheus.port');
  });

  it('rejects a missing service and a non-loopback host', () => {
    const doc = shipped();
    delete (doc.services as Record<string, unknown>).mlflow;
    doc.host = '0.0.0.0';
    const detail = loadError(doc).detail ?? '';
    expect(detail).toContain('services.mlflow');
    expect(detail).toContain('host');
  });

  it('reports unreadable YAML with its own code', () => {
    expect(loadError('services: [unclosed').code).toBe('AEP_CONFIG_UNREADABLE');
    expect(() => loadStackConfig('/nonexistent/stack.yaml')).toThrow(/cannot read stack config/);
  });

  it('fills defaults for the optional aepred and test endpoint ports', () => {
    const doc = shipped();
    delete doc.aepred;
    delete doc.test_endpoints;
    const c = loadStackConfig(writeConfig(doc));
    expect(c.aepred).toEqual({
      port: 58080,
      tls_ca_file: 'tls/cert.pem',
      webhook_key_file: 'secrets/alertmanager-api-key',
    });
    expect(c.test_endpoints).toEqual({ scrape_port: 58098, webhook_port: 58099 });
  });
});
