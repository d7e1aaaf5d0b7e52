import { randomUUID } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { checkKey, type LakeStorage } from './storage.js';

const TMP_MARK = '.tmp-';

/**
 * The lake on a local filesystem. put() writes `.<name>.tmp-<uuid>` beside the target, fsyncs it,
 * renames it over the target (atomic on POSIX) and fsyncs the directory, so a crash leaves either
 * the old file, the new file, or a dot-file that readers ignore.
 */
export class LocalFsLake implements LakeStorage {
  readonly uri: string;
  readonly #root: string;

  constructor(root: string) {
    this.#root = resolve(root);
    this.uri = this.#root;
  }

  #path(key: string): string {
    return join(this.#root, ...checkKey(key).split('/'));
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    const target = this.#path(key);
    const dir = dirname(target);
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `.${target.slice(dir.length + 1)}${TMP_MARK}${randomUUID()}`);
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(body);
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, target);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    const dh = await open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await readFile(this.#path(key)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const base = join(this.#root, ...prefix.split('/').filter((p) => p !== ''));
    let entries: Dirent[];
    try {
      entries = await readdir(base, { recursive: true, withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: string[] = [];
    for (const d of entries) {
      if (!d.isFile() || d.name.includes(TMP_MARK)) continue;
      out.push(relative(this.#root, join(d.parentPath, d.name)).split(sep).join('/'));
    }
    return out;
  }

  async delete(key: string): Promise<void> {
    await rm(this.#path(key), { force: true });
  }

  /** Removes temporary files left by a crash between write and rename. */
  async sweepTemporaries(prefix: string): Promise<number> {
    const base = join(this.#root, ...prefix.split('/').filter((p) => p !== ''));
    let entries: string[];
    try {
      entries = await readdir(base, { recursive: true });
    } catch {
      return 0;
    }
    let n = 0;
    for (const rel of entries) {
      if (rel.includes(TMP_MARK)) {
        await rm(join(base, rel), { force: true });
        n++;
      }
    }
    return n;
  }
}
