import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { LOCAL_DIR, REPO_ROOT } from '../shared/paths.js';
import { loadStackConfig } from './config.js';
import { ensureServiceCa, renderTemplate, servicePaths, stackTemplateVars } from './template.js';

describe('renderTemplate', () => {
  it('fills placeholders and rejects unknown ones', () => {
    expect(renderTemplate('a {{x}} b {{ y }}', { x: 1, y: 'z' }, 't')).toBe('a 1 b z');
    expect(() => renderTemplate('{{nope}}', { x: 1 }, 'the-template')).toThrow(
      /unknown placeholder \{\{nope\}\} in the-template/,
    );
  });

  it.each([
    ['prometheus/prometheus.yml', { rules_dir: '/rules' }],
    ['alertmanager/alertmanager.yml', {}],
  ])('ops/local/%s renders to YAML that points at the configured ports', (rel, extra) => {
    const config = loadStackConfig();
    const path = join(REPO_ROOT, 'ops', 'local', rel);
    const out = renderTemplate(readFileSync(path, 'utf8'), stackTemplateVars(config, extra), path);
    expect(out).not.toMatch(/\{\{\s*\w+\s*\}\}/);
    expect(() => parse(out)).not.toThrow();
    expect(out).toContain(`127.0.0.1:${config.aepred.port}`);
  });
});

function rendered(rel: string, extra: Record<string, string> = {}): Record<string, unknown> {
  const path = join(REPO_ROOT, 'ops', 'local', rel);
  return parse(renderTemplate(readFileSync(path, 'utf8'), stackTemplateVars(loadStackConfig(), extra), path));
}

describe('the service over HTTPS (issue 8)', () => {
  const config = loadStackConfig();

  it('stack.yaml paths resolve under the local dir unless absolute', () => {
    expect(servicePaths(config)).toEqual({
      caFile: join(LOCAL_DIR, 'tls', 'cert.pem'),
      keyFile: join(LOCAL_DIR, 'secrets', 'alertmanager-api-key'),
    });
    const abs = { ...config, aepred: { ...config.aepred, tls_ca_file: '/etc/ca.pem' } };
    expect(servicePaths(abs).caFile).toBe('/etc/ca.pem');
  });

  it('Prometheus scrapes the aepred job over https trusting the configured certificate', () => {
    const doc = rendered('prometheus/prometheus.yml', { rules_dir: '/rules' }) as {
      scrape_configs: Array<{ job_name: string; scheme?: string; tls_config?: { ca_file?: string } }>;
    };
    const job = doc.scrape_configs.find((j) => j.job_name === 'aepred');
    expect(job?.scheme).toBe('https');
    expect(job?.tls_config?.ca_file).toBe(servicePaths(config).caFile);
  });

  it("Alertmanager calls the service's webhook over https with the operator key file", () => {
    const doc = rendered('alertmanager/alertmanager.yml') as {
      receivers: Array<{ name: string; webhook_configs?: Array<Record<string, unknown>> }>;
    };
    const hook = doc.receivers.find((r) => r.name === 'aepred')?.webhook_configs?.[0] as {
      url: string;
      http_config: {
        authorization: { type: string; credentials_file: string };
        tls_config: { ca_file: string };
      };
    };
    expect(hook.url).toBe(`https://127.0.0.1:${config.aepred.port}/alerts/webhook`);
    expect(hook.http_config.authorization).toEqual({
      type: 'Bearer',
      credentials_file: servicePaths(config).keyFile,
    });
    expect(hook.http_config.tls_config.ca_file).toBe(servicePaths(config).caFile);
  });

  it('a configured certificate must exist; an existing one is used as is', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aepred-ca-'));
    const missing = { ...config, aepred: { ...config.aepred, tls_ca_file: join(dir, 'nope.pem') } };
    expect(() => ensureServiceCa(missing)).toThrow(/aepred.tls_ca_file .*nope.pem does not exist/);
    writeFileSync(join(dir, 'ca.pem'), 'x');
    const present = { ...config, aepred: { ...config.aepred, tls_ca_file: join(dir, 'ca.pem') } };
    expect(ensureServiceCa(present)).toBe(join(dir, 'ca.pem'));
  });
});
