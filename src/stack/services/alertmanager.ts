/**
 * Alertmanager from Debian's package (binary `prometheus-alertmanager`). The template in
 * ops/local/alertmanager/ is filled from stack.yaml and checked with amtool before start.
 * Clustering is off: one local instance has no peers to gossip with, and a cluster listener would
 * only add a port and delay readiness while it waits for gossip to settle.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AepredError } from '../../shared/errors.js';
import { REPO_ROOT } from '../../shared/paths.js';
import { ensureAptPackage, haveBinary } from '../apt.js';
import { httpOk } from '../probes.js';
import { runCommand } from '../process.js';
import {
  ensureServiceCa,
  renderTemplate,
  servicePaths,
  stackTemplateVars,
  testSlackPort,
} from '../template.js';
import type { LaunchSpec, ServiceContext, ServiceDef } from '../types.js';

const TEMPLATE = join(REPO_ROOT, 'ops', 'local', 'alertmanager', 'alertmanager.yml');
/** Debian names the binary prometheus-alertmanager; upstream tarballs name it alertmanager. */
const BINARIES = ['prometheus-alertmanager', 'alertmanager'] as const;

function binary(): string {
  return BINARIES.find(haveBinary) ?? BINARIES[0];
}

function configPath(ctx: ServiceContext): string {
  return join(ctx.dataDir, 'alertmanager.yml');
}

/**
 * The ML team's Slack incoming-webhook URL (issue 9): from AEPRED_SLACK_WEBHOOK_URL, else the local
 * stand-in receiver on test_endpoints.slack_port. Alertmanager reads it from a file (api_url_file)
 * so the secret never sits in the rendered config.
 */
export function slackWebhookUrl(config: ServiceContext['config']): string {
  return process.env.AEPRED_SLACK_WEBHOOK_URL ?? `http://${config.host}:${testSlackPort(config)}/slack`;
}

export function alertmanagerUrl(config: ServiceContext['config']): string {
  return `http://${config.host}:${config.services.alertmanager.port}`;
}

export const alertmanager: ServiceDef = {
  name: 'alertmanager',
  dependsOn: [],

  ports(config) {
    return [config.services.alertmanager.port];
  },

  async ensureInstalled(ctx) {
    await ensureAptPackage(ctx, 'prometheus-alertmanager', BINARIES);
  },

  async prepare(ctx) {
    // Issue 8: the service's webhook is HTTPS (its certificate must exist when the config loads) and
    // needs an operator key, read from webhook_key_file at each notification: its folder is made
    // here (0700), the key is written by `aepred apikey create --role operator --out FILE`.
    ensureServiceCa(ctx.config);
    mkdirSync(dirname(servicePaths(ctx.config).keyFile), { recursive: true, mode: 0o700 });
    const slackUrlFile = join(ctx.dataDir, 'slack_api_url');
    writeFileSync(slackUrlFile, slackWebhookUrl(ctx.config), { mode: 0o600 });
    writeFileSync(
      configPath(ctx),
      renderTemplate(
        readFileSync(TEMPLATE, 'utf8'),
        stackTemplateVars(ctx.config, { slack_api_url_file: slackUrlFile }),
        TEMPLATE,
      ),
    );
    const check = await runCommand('amtool', ['check-config', configPath(ctx)]);
    if (check.code !== 0) {
      throw new AepredError('AEP_STACK_BAD_SERVICE_CONFIG', `amtool rejects ${configPath(ctx)}`, {
        kind: 'config',
        detail: check.output,
      });
    }
  },

  launch(ctx): LaunchSpec {
    const { host } = ctx.config;
    const { port } = ctx.config.services.alertmanager;
    return {
      command: binary(),
      args: [
        `--config.file=${configPath(ctx)}`,
        `--storage.path=${ctx.dataDir}`,
        `--web.listen-address=${host}:${port}`,
        `--web.external-url=http://${host}:${port}/`,
        // Empty disables the cluster listener (see above).
        '--cluster.listen-address=',
      ],
    };
  },

  async probe(ctx) {
    return httpOk(`${alertmanagerUrl(ctx.config)}/-/ready`, 200);
  },
};
