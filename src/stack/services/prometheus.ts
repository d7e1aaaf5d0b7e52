/**
 * Prometheus from Debian's package. ops/local/prometheus/prometheus.yml is a template filled from
 * stack.yaml into .local/data/prometheus/ and checked with promtool before the server starts, so a
 * bad config fails with promtool's message rather than a crash loop.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AepredError } from '../../shared/errors.js';
import { REPO_ROOT } from '../../shared/paths.js';
import { ensureAptPackage } from '../apt.js';
import { httpOk } from '../probes.js';
import { runCommand } from '../process.js';
import { ensureServiceCa, renderTemplate, stackTemplateVars } from '../template.js';
import type { LaunchSpec, ServiceContext, ServiceDef } from '../types.js';

export const PROMETHEUS_OPS_DIR = join(REPO_ROOT, 'ops', 'local', 'prometheus');
const TEMPLATE = join(PROMETHEUS_OPS_DIR, 'prometheus.yml');

function configPath(ctx: ServiceContext): string {
  return join(ctx.dataDir, 'prometheus.yml');
}

export function prometheusUrl(config: ServiceContext['config']): string {
  return `http://${config.host}:${config.services.prometheus.port}`;
}

export const prometheus: ServiceDef = {
  name: 'prometheus',
  dependsOn: [],

  ports(config) {
    return [config.services.prometheus.port];
  },

  async ensureInstalled(ctx) {
    await ensureAptPackage(ctx, 'prometheus', ['prometheus']);
  },

  async prepare(ctx) {
    // The aepred job scrapes over HTTPS trusting the service's certificate (issue 8).
    ensureServiceCa(ctx.config);
    const vars = stackTemplateVars(ctx.config, { rules_dir: join(PROMETHEUS_OPS_DIR, 'rules') });
    writeFileSync(configPath(ctx), renderTemplate(readFileSync(TEMPLATE, 'utf8'), vars, TEMPLATE));
    const check = await runCommand('promtool', ['check', 'config', configPath(ctx)]);
    if (check.code !== 0) {
      throw new AepredError('AEP_STACK_BAD_SERVICE_CONFIG', `promtool rejects ${configPath(ctx)}`, {
        kind: 'config',
        detail: check.output,
      });
    }
  },

  launch(ctx): LaunchSpec {
    return {
      command: 'prometheus',
      args: [
        `--config.file=${configPath(ctx)}`,
        `--storage.tsdb.path=${join(ctx.dataDir, 'tsdb')}`,
        '--storage.tsdb.retention.time=7d',
        `--web.listen-address=${ctx.config.host}:${ctx.config.services.prometheus.port}`,
        '--web.enable-lifecycle',
      ],
    };
  },

  async probe(ctx) {
    return httpOk(`${prometheusUrl(ctx.config)}/-/ready`, 200);
  },
};
