/**
 * The config templates under ops/local/ use `{{name}}` placeholders filled from stack.yaml at
 * prepare time. An unknown placeholder is an error, never an empty string: a typo must not produce
 * a config that points at port "".
 */
import { join } from 'node:path';
import { AepredError } from '../shared/errors.js';
import { LOCAL_DIR, REPO_ROOT } from '../shared/paths.js';

export function renderTemplate(
  text: string,
  vars: Readonly<Record<string, string | number>>,
  source: string,
): string {
  return text.replace(/\{\{\s*([a-z0-9_]+)\s*\}\}/gi, (_m, name: string) => {
    const v = vars[name];
    if (v === undefined) {
      throw new AepredError('AEP_STACK_TEMPLATE', `unknown placeholder {{${name}}} in ${source}`, {
        kind: 'config',
        detail: `known: ${Object.keys(vars).sort().join(', ')}`,
      });
    }
    return String(v);
  });
}

/** Where the local Slack stand-in listens (test_endpoints.slack_port, 58097 when absent). */
export function testSlackPort(config: import('./config.js').StackConfig): number {
  return config.test_endpoints.slack_port ?? 58097;
}

/** The placeholders every stack template may use. */
export function stackTemplateVars(
  config: import('./config.js').StackConfig,
  extra: Readonly<Record<string, string | number>> = {},
): Record<string, string | number> {
  const s = config.services;
  return {
    host: config.host,
    postgres_port: s.postgres.port,
    redis_port: s.redis.port,
    kafka_port: s.kafka.port,
    minio_port: s.minio.port,
    mlflow_port: s.mlflow.port,
    prometheus_port: s.prometheus.port,
    alertmanager_port: s.alertmanager.port,
    aepred_port: config.aepred.port,
    test_scrape_port: config.test_endpoints.scrape_port,
    test_webhook_port: config.test_endpoints.webhook_port,
    // Issue 9: aepred's own rules (ops/prometheus/rules) and the Slack stand-in for the ML team's
    // notifications. The alertmanager service passes the real slack_api_url_file (in its data dir).
    test_slack_port: testSlackPort(config),
    aepred_rules_dir: join(REPO_ROOT, 'ops', 'prometheus', 'rules'),
    slack_api_url_file: join(LOCAL_DIR, 'data', 'alertmanager', 'slack_api_url'),
    ...extra,
  };
}
