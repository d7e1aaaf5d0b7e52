/**
 * The config templates under ops/local/ use `{{name}}` placeholders filled from stack.yaml at
 * prepare time. An unknown placeholder is an error, never an empty string: a typo must not produce
 * a config that points at port "".
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { loadOrCreateTls } from '../security/tls.js';
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

/**
 * Where the stack's Prometheus and Alertmanager find the aepred service's certificate (to trust it)
 * and the operator key Alertmanager presents to its webhook: stack.yaml `aepred.tls_ca_file` and
 * `aepred.webhook_key_file`, relative to the local dir (.local/) unless absolute.
 */
export function servicePaths(config: import('./config.js').StackConfig): { caFile: string; keyFile: string } {
  const at = (p: string) => (isAbsolute(p) ? p : resolve(LOCAL_DIR, p));
  return { caFile: at(config.aepred.tls_ca_file), keyFile: at(config.aepred.webhook_key_file) };
}

/**
 * Prometheus and Alertmanager load the CA file when their config is loaded, so it must exist before
 * they start. The default (.local/tls/cert.pem) is the self-signed certificate `aepred serve` creates
 * and then reuses: created here first when missing, so the service started later serves exactly the
 * certificate they trust. Any other configured file must already exist.
 */
export function ensureServiceCa(config: import('./config.js').StackConfig): string {
  const { caFile } = servicePaths(config);
  if (existsSync(caFile)) return caFile;
  if (caFile === join(LOCAL_DIR, 'tls', 'cert.pem')) {
    loadOrCreateTls({ dir: dirname(caFile) });
    return caFile;
  }
  throw new AepredError(
    'AEP_STACK_BAD_SERVICE_CONFIG',
    `aepred.tls_ca_file ${caFile} does not exist: point it at the certificate (or its CA) that \`aepred serve --cert\` uses`,
    { kind: 'config' },
  );
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
    // Issue 8: the service is HTTPS with an API key on its webhook (servicePaths).
    aepred_tls_ca_file: servicePaths(config).caFile,
    aepred_webhook_key_file: servicePaths(config).keyFile,
    ...extra,
  };
}
