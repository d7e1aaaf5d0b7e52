/**
 * Issue 9's ops configs, checked offline with the real tools (promtool, amtool from the Debian
 * packages the stack installs): the local Prometheus template loads aepred's rule files, and the
 * deployment and local Alertmanager configs route every aepred alert to the same receivers:
 * critical decay to the service's webhook and Slack, other ML-team alerts to Slack only.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../../src/shared/paths.js';
import { loadStackConfig } from '../../src/stack/config.js';
import { renderTemplate, stackTemplateVars } from '../../src/stack/template.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'aepred-ops-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface AlertRule {
  alert?: string;
  labels?: Record<string, string>;
}

const RULES = join(REPO_ROOT, 'ops', 'prometheus', 'rules', 'aepred.yml');
const alerts = (parse(readFileSync(RULES, 'utf8')) as { groups: Array<{ rules: AlertRule[] }> }).groups
  .flatMap((g) => g.rules)
  .filter((r): r is Required<AlertRule> => r.alert !== undefined)
  .map((r): Record<string, string> & { alertname: string } => ({ alertname: r.alert, ...(r.labels ?? {}) }));

function render(rel: string, extra: Record<string, string> = {}): string {
  const src = join(REPO_ROOT, 'ops', 'local', rel);
  const out = join(dir, rel.replaceAll('/', '-'));
  writeFileSync(
    out,
    renderTemplate(readFileSync(src, 'utf8'), stackTemplateVars(loadStackConfig(), extra), src),
  );
  return out;
}

async function receivers(configFile: string, labels: Record<string, string>): Promise<string[]> {
  const args = [
    'config',
    'routes',
    'test',
    `--config.file=${configFile}`,
    ...Object.entries(labels).map(([k, v]) => `${k}=${v}`),
  ];
  const { stdout } = await run('amtool', args);
  return stdout.trim().split(',').sort();
}

describe('prometheus', () => {
  it('the local template loads aepred rules and promtool accepts it', async () => {
    const cfg = render('prometheus/prometheus.yml', {
      rules_dir: join(REPO_ROOT, 'ops', 'local', 'prometheus', 'rules'),
    });
    expect(readFileSync(cfg, 'utf8')).toContain(join(REPO_ROOT, 'ops', 'prometheus', 'rules'));
    const { stdout } = await run('promtool', ['check', 'config', cfg]);
    expect(stdout).toMatch(/aepred\.yml/);
  });

  it('declares the five FR-8.4 alerts', () => {
    expect(alerts.map((a) => a.alertname).sort()).toEqual([
      'AepredErrorRateHigh',
      'AepredFeatureDrift',
      'AepredModelAurocCritical',
      'AepredModelAurocLow',
      'AepredPredictionLatencyHigh',
    ]);
  });
});

describe('alertmanager', () => {
  const deployed = join(REPO_ROOT, 'ops', 'alertmanager', 'alertmanager.yml');
  const slackFile = join(dir, 'slack_api_url');
  writeFileSync(slackFile, 'http://127.0.0.1:1/slack');

  it.each([
    ['deployment', () => deployed],
    ['local stack', () => render('alertmanager/alertmanager.yml', { slack_api_url_file: slackFile })],
  ])(
    '%s config: amtool accepts it; critical decay -> webhook + Slack, other ML alerts -> Slack',
    async (_n, file) => {
      const cfg = file();
      await run('amtool', ['check-config', cfg]);
      for (const labels of alerts) {
        const expected =
          labels.action === 'retrain' && labels.severity === 'critical'
            ? ['aepred', 'ml-team-slack']
            : ['ml-team-slack'];
        expect(await receivers(cfg, labels), labels.alertname).toEqual(expected);
      }
      // Retraining needs the reason; every alert that retrains names one.
      for (const a of alerts.filter((x) => x.action === 'retrain'))
        expect(['performance', 'drift']).toContain(a.reason);
      // The stack's own test route still wins for its alerts.
      if (cfg !== deployed)
        expect(await receivers(cfg, { alertname: 'X', aepred_stack_test: 'true' })).toEqual(['stack-test']);
    },
  );

  it('keeps the Slack URL out of the configs (api_url_file only)', () => {
    for (const f of [deployed, join(REPO_ROOT, 'ops', 'local', 'alertmanager', 'alertmanager.yml')]) {
      const text = readFileSync(f, 'utf8');
      expect(text).toMatch(/api_url_file:/);
      expect(text).not.toMatch(/hooks\.slack\.com/);
      expect(text).not.toMatch(/^\s*api_url:/m);
    }
  });
});
