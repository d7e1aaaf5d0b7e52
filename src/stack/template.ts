/**
 * The config templates under ops/local/ use `{{name}}` placeholders filled from stack.yaml at
 * prepare time. An unknown placeholder is an error, never an empty string: a typo must not produce
 * a config that points at port "".
 */
import { AepredError } from '../shared/errors.js';

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
    ...extra,
  };
}
