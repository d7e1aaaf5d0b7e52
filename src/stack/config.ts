import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { AepredError } from '../shared/errors.js';
import { REPO_ROOT } from '../shared/paths.js';

const port = z.number().int().min(1024).max(65535);

/** stack.yaml, validated at load; unknown keys are rejected so a typo fails at start, not later. */
export const StackConfigSchema = z.strictObject({
  host: z.literal('127.0.0.1'),
  services: z.strictObject({
    postgres: z.strictObject({ port, database: z.string(), user: z.string(), password: z.string() }),
    redis: z.strictObject({ port }),
    kafka: z.strictObject({ port, controller_port: port, version: z.string().regex(/^4\.\d+\.\d+$/) }),
    minio: z.strictObject({
      port,
      console_port: port,
      access_key: z.string().min(3),
      secret_key: z.string().min(8),
      region: z.string(),
    }),
    mlflow: z.strictObject({ port, artifact_bucket: z.string() }),
    prometheus: z.strictObject({ port }),
    alertmanager: z.strictObject({ port, cluster_port: port }),
  }),
  // The aepred service itself is not part of the stack, but Prometheus scrapes its /metrics and
  // Alertmanager posts to its /alerts/webhook, so the stack's configs need its port.
  // Issue 8: the service serves HTTPS, so Prometheus and Alertmanager trust its certificate
  // (tls_ca_file) and Alertmanager authenticates to its webhook with an operator key read from a
  // file (webhook_key_file, written by `aepred apikey create --role operator --out FILE`). Relative
  // paths are under the stack's local dir (.local/, AEPRED_LOCAL_DIR).
  aepred: z
    .strictObject({
      port,
      tls_ca_file: z.string().min(1).default('tls/cert.pem'),
      webhook_key_file: z.string().min(1).default('secrets/alertmanager-api-key'),
    })
    .default({ port: 58080, tls_ca_file: 'tls/cert.pem', webhook_key_file: 'secrets/alertmanager-api-key' }),
  // Endpoints only the stack's integration tests listen on: a scrape target Prometheus polls and a
  // webhook Alertmanager calls for alerts labelled aepred_stack_test="true". Kept apart from the
  // service's port so the tests never fight a running service.
  // slack_port (issue 9): the local receiver standing in for Slack; optional, 58097 when absent.
  test_endpoints: z
    .strictObject({ scrape_port: port, webhook_port: port, slack_port: port.optional() })
    .default({
      scrape_port: 58098,
      webhook_port: 58099,
    }),
  kafka: z.strictObject({
    default_partitions: z.number().int().min(1).max(256),
    replication_factor: z.literal(1),
    topics: z.array(z.string().regex(/^[a-z0-9._-]+$/)).min(1),
  }),
  startup_timeout_s: z.number().positive(),
});

export type StackConfig = z.infer<typeof StackConfigSchema>;

export function stackConfigPath(): string {
  return process.env.AEPRED_STACK_CONFIG ?? resolve(REPO_ROOT, 'ops/local/stack.yaml');
}

export function loadStackConfig(path = stackConfigPath()): StackConfig {
  let raw: unknown;
  try {
    raw = parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new AepredError(
      'AEP_CONFIG_UNREADABLE',
      `cannot read stack config ${path}: ${(e as Error).message}`,
      {
        kind: 'config',
      },
    );
  }
  const parsed = StackConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('\n');
    throw new AepredError('AEP_CONFIG_INVALID', `invalid stack config ${path}`, {
      kind: 'config',
      detail: issues,
    });
  }
  return parsed.data;
}
