/**
 * Installing Debian packages for the stack, only when their binary is missing.
 *
 * Debian's maintainer scripts start a package's daemon on its default port (postgresql on 5432,
 * redis on 6379, ...). The stack never wants those: while we install, a policy-rc.d that denies
 * every start is put in place (the standard container recipe) and removed afterwards.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { AepredError } from '../shared/errors.js';
import { runCommand } from './process.js';
import type { ServiceContext } from './types.js';

const POLICY_RC_D = '/usr/sbin/policy-rc.d';

/** True when `name` is an executable path, or found on PATH. */
export function haveBinary(name: string): boolean {
  if (name.includes('/')) return existsSync(name);
  return (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && existsSync(`${dir}/${name}`));
}

/** Installs `pkg` with apt-get when none of `binaries` exists. Idempotent and quick when present. */
export async function ensureAptPackage(
  ctx: ServiceContext,
  pkg: string,
  binaries: readonly string[],
): Promise<void> {
  if (binaries.some(haveBinary)) return;
  ctx.say(`installing Debian package ${pkg} (apt-get)`);
  const sudo = ctx.isRoot ? [] : ['sudo', '-n'];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args: string[]) => {
    const [cmd, ...rest] = [...sudo, 'apt-get', ...args];
    return runCommand(cmd ?? 'apt-get', rest, { env });
  };
  const placedPolicy = ctx.isRoot && !existsSync(POLICY_RC_D);
  if (placedPolicy)
    writeFileSync(POLICY_RC_D, '#!/bin/sh\n# placed by aepred stack while installing\nexit 101\n', {
      mode: 0o755,
    });
  try {
    const install = ['install', '-y', '--no-install-recommends', pkg];
    let r = await apt(install);
    if (r.code !== 0) {
      // A base image often ships without package lists: refresh once and retry.
      await apt(['update']);
      r = await apt(install);
    }
    if (r.code !== 0) {
      throw new AepredError('AEP_STACK_INSTALL_FAILED', `apt-get install ${pkg} failed (exit ${r.code})`, {
        detail: r.output.split('\n').slice(-30).join('\n'),
      });
    }
  } finally {
    if (placedPolicy) rmSync(POLICY_RC_D, { force: true });
  }
  if (!binaries.some(haveBinary)) {
    throw new AepredError(
      'AEP_STACK_INSTALL_FAILED',
      `installed ${pkg} but none of ${binaries.join(', ')} was found`,
    );
  }
}
