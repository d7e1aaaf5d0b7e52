/**
 * The lineage repository (FR-9.3): every retraining commits its report there and tags the commit
 * `retrain-YYYYMMDD-{drift|performance|manual}` (the trial date of the trigger, UTC). A second
 * retraining with the same date and reason gets `-2`, `-3` ...: tags are never moved.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RetrainReason } from '../monitoring/rules.js';
import { runProcess } from './process.js';

export function retrainTagBase(at: number, reason: RetrainReason): string {
  const d = new Date(at).toISOString().slice(0, 10).replaceAll('-', '');
  return `retrain-${d}-${reason}`;
}

export class LineageRepo {
  readonly #path: string;
  readonly #env: NodeJS.ProcessEnv;

  constructor(path: string) {
    this.#path = path;
    // a fixed identity: the repository records what the loop did, not who ran the process
    this.#env = {
      ...process.env,
      GIT_AUTHOR_NAME: 'aepred retraining',
      GIT_AUTHOR_EMAIL: 'retraining@aepred.local',
      GIT_COMMITTER_NAME: 'aepred retraining',
      GIT_COMMITTER_EMAIL: 'retraining@aepred.local',
    };
  }

  get path(): string {
    return this.#path;
  }

  async #git(...args: string[]): Promise<string> {
    return (await runProcess('lineage', 'git', args, { cwd: this.#path, env: this.#env })).stdout.trim();
  }

  async #ensure(): Promise<void> {
    if (existsSync(join(this.#path, '.git'))) return;
    mkdirSync(this.#path, { recursive: true });
    await this.#git('init', '-q', '-b', 'main');
  }

  async tags(): Promise<string[]> {
    if (!existsSync(join(this.#path, '.git'))) return [];
    const out = await this.#git('tag', '--list', 'retrain-*');
    return out === '' ? [] : out.split('\n');
  }

  /** Commits the report as `retraining/<tag>.json`, tags the commit; returns the tag. */
  async record(at: number, reason: RetrainReason, report: unknown): Promise<string> {
    await this.#ensure();
    const base = retrainTagBase(at, reason);
    const existing = new Set(await this.tags());
    let tag = base;
    for (let i = 2; existing.has(tag); i++) tag = `${base}-${i}`;
    mkdirSync(join(this.#path, 'retraining'), { recursive: true });
    const file = join('retraining', `${tag}.json`);
    writeFileSync(join(this.#path, file), `${JSON.stringify(report, null, 1)}\n`);
    await this.#git('add', file);
    await this.#git('commit', '-q', '-m', `${tag}: retraining report`);
    await this.#git('tag', '-a', tag, '-m', `aepred retraining (${reason})`);
    return tag;
  }
}
