import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { REPO_ROOT } from '../../shared/paths.js';

/**
 * `aepred lineage <prediction-id>`: prediction -> model version -> MLflow run -> DVC data version ->
 * git commit -> source Kafka offsets; and the prediction's own Kafka offsets -> bronze files. The walk lives in Python (pipelines/lineage.py), where the
 * MLflow and DVC clients are; this command runs it and passes its JSON and exit code through.
 */
export function registerLineage(program: Command): void {
  program
    .command('lineage')
    .description(
      'trace a prediction to its model, MLflow run, DVC data version, git commit and Kafka offsets',
    )
    .argument('<prediction-id>', 'the prediction_id of a /predict answer (audit_log seq)')
    .option(
      '--database-url <url>',
      'Postgres with the audit trail (default: AEPRED_DATABASE_URL or the stack)',
    )
    .option('--repo <path>', 'the git + DVC repository the model was trained from (default: this one)')
    .option(
      '--lake <uri>',
      "lake whose bronze files the prediction's Kafka offsets resolve to: a path, or s3://bucket[/prefix] on the stack's object store (default: .local/lake)",
    )
    .action(async (id: string, opts: { databaseUrl?: string; repo?: string; lake?: string }) => {
      if (!/^[1-9][0-9]*$/.test(id)) {
        program.error(`lineage: prediction id must be a positive integer, got ${JSON.stringify(id)}`, {
          exitCode: 2,
        });
      }
      const venv = resolve(REPO_ROOT, '.venv', 'bin', 'python');
      const python = existsSync(venv) ? venv : 'python3';
      const args = ['-m', 'pipelines.lineage', id];
      if (opts.databaseUrl) args.push('--database-url', opts.databaseUrl);
      if (opts.repo) args.push('--repo', resolve(opts.repo));
      // An s3:// (or s3a://) lake is listed on the stack's object store with the ingester's settings.
      if (opts.lake) args.push('--lake', /^s3a?:\/\//.test(opts.lake) ? opts.lake : resolve(opts.lake));
      const code = await new Promise<number>((done, fail) => {
        const child = spawn(python, args, { cwd: REPO_ROOT, stdio: 'inherit' });
        child.on('error', fail);
        child.on('close', (c) => done(c ?? 1));
      });
      process.exitCode = code;
    });
}
