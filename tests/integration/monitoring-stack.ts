/**
 * Makes the running stack's Prometheus and Alertmanager use the current ops configs (issue 9's
 * rules and routes), without restarting them: a stack started before those files changed is
 * re-prepared (the same rendering `aepred stack up` does) and told to reload (both run with their
 * reload endpoint on). Idempotent; does nothing when the running config is already current.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LOCAL_DIR } from '../../src/shared/paths.js';
import type { StackConfig } from '../../src/stack/config.js';
import { alertmanager, alertmanagerUrl } from '../../src/stack/services/alertmanager.js';
import { prometheus, prometheusUrl } from '../../src/stack/services/prometheus.js';
import type { ServiceContext, ServiceDef } from '../../src/stack/types.js';

function context(config: StackConfig, def: ServiceDef): ServiceContext {
  return {
    config,
    localDir: LOCAL_DIR,
    dataDir: join(LOCAL_DIR, 'data', def.name),
    logFile: join(LOCAL_DIR, 'logs', `${def.name}.log`),
    isRoot: process.getuid?.() === 0,
    say: () => {},
  };
}

async function ensure(
  what: string,
  current: () => Promise<boolean>,
  def: ServiceDef,
  config: StackConfig,
  reloadUrl: string,
): Promise<void> {
  if (await current()) return;
  await def.prepare(context(config, def));
  const res = await fetch(reloadUrl, { method: 'POST' });
  if (!res.ok) throw new Error(`${what} reload answered ${res.status}: ${await res.text()}`);
  for (let i = 0; i < 40; i++) {
    if (await current()) return;
    await sleep(250);
  }
  throw new Error(`${what} did not pick up the current config after a reload`);
}

export async function ensurePrometheusRules(config: StackConfig): Promise<void> {
  const base = prometheusUrl(config);
  await ensure(
    'prometheus',
    async () => {
      const body = (await (await fetch(`${base}/api/v1/rules`)).json()) as {
        data: { groups: Array<{ name: string }> };
      };
      return body.data.groups.some((g) => g.name === 'aepred-alerts');
    },
    prometheus,
    config,
    `${base}/-/reload`,
  );
}

export async function ensureAlertmanagerRoutes(config: StackConfig): Promise<void> {
  const base = alertmanagerUrl(config);
  await ensure(
    'alertmanager',
    async () => {
      const body = (await (await fetch(`${base}/api/v2/status`)).json()) as { config: { original: string } };
      // Issue 9's routes, and issue 8's credentials and TLS for the service's webhook.
      return (
        body.config.original.includes('ml-team-slack') && body.config.original.includes('credentials_file')
      );
    },
    alertmanager,
    config,
    `${base}/-/reload`,
  );
}

/** Issue 8: the running Prometheus scrapes the service over HTTPS (its job has tls_config). */
export async function ensurePrometheusServiceScrape(config: StackConfig): Promise<void> {
  const base = prometheusUrl(config);
  await ensure(
    'prometheus',
    async () => {
      const body = (await (await fetch(`${base}/api/v1/status/config`)).json()) as { data: { yaml: string } };
      const job = body.data.yaml.split('- job_name: ').find((j) => j.startsWith('aepred\n'));
      return job?.includes('scheme: https') === true && job.includes('ca_file:');
    },
    prometheus,
    config,
    `${base}/-/reload`,
  );
}
