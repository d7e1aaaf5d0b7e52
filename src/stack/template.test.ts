import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../shared/paths.js';
import { loadStackConfig } from './config.js';
import { renderTemplate, stackTemplateVars } from './template.js';

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
