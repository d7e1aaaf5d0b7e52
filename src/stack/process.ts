/**
 * OS process plumbing for the stack: detached spawning with a pid file and a log file, process
 * groups, /proc scans and log tails. Linux only (reads /proc), like the stack itself.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Environment markers every stack process (and its descendants) carries, so a scan can find strays. */
export const MARK_DIR = 'AEPRED_STACK_DIR';
export const MARK_SERVICE = 'AEPRED_STACK_SERVICE';

/** The line written into a service's log before each start; the log tail on failure starts after it. */
export function startBanner(service: string, at: Date): string {
  return `==== aepred stack: starting ${service} at ${at.toISOString()} ====`;
}

export interface OsUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

/** Looks a user up in the passwd database (getent covers NSS, not only /etc/passwd). */
export function lookupUser(name: string): OsUser | undefined {
  try {
    const line = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim();
    const f = line.split(':');
    if (f.length < 7) return undefined;
    return { name, uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '/' };
  } catch {
    return undefined;
  }
}

export interface CommandResult {
  readonly code: number;
  readonly output: string;
}

/**
 * Runs a command to completion and captures stdout+stderr. Never throws: a command that cannot be
 * started resolves with code 127. `user` drops privileges (root only), like `runuser -u`.
 */
export function runCommand(
  command: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; user?: OsUser; input?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      ...(opts.user ? { uid: opts.user.uid, gid: opts.user.gid } : {}),
    });
    const chunks: Buffer[] = [];
    child.stdout?.on('data', (c: Buffer) => chunks.push(c));
    child.stderr?.on('data', (c: Buffer) => chunks.push(c));
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    child.once('error', (e) => resolve({ code: 127, output: `${command}: ${e.message}` }));
    child.once('close', (code, signal) => {
      resolve({ code: code ?? (signal ? 128 : 1), output: Buffer.concat(chunks).toString('utf8') });
    });
  });
}

export interface DetachedSpawn {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly user?: OsUser;
  readonly logFile: string;
  readonly pidFile: string;
}

export interface Spawned {
  readonly pid: number;
  /** Resolves with a description of how the process ended, if it ends while we still watch it. */
  readonly exited: Promise<string>;
}

/**
 * Starts a process in its own session and process group (setsid: pgid == pid), stdout and stderr
 * appended to the log file, the pid written to the pid file. The caller may exit right after: the
 * child is unreferenced and holds no pipe to us.
 */
export function spawnDetached(s: DetachedSpawn): Spawned {
  const fd = openSync(s.logFile, 'a');
  try {
    const child = spawn(s.command, s.args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: s.env,
      cwd: s.cwd,
      ...(s.user ? { uid: s.user.uid, gid: s.user.gid } : {}),
    });
    const exited = new Promise<string>((resolve) => {
      child.once('error', (e) => resolve(`could not start ${s.command}: ${e.message}`));
      child.once('exit', (code, signal) =>
        resolve(signal ? `killed by ${signal}` : `exited with code ${code}`),
      );
    });
    if (child.pid === undefined) {
      return { pid: -1, exited };
    }
    child.unref();
    writeFileSync(s.pidFile, `${child.pid}\n`);
    return { pid: child.pid, exited };
  } finally {
    closeSync(fd);
  }
}

export function readPidFile(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function removePidFile(path: string): void {
  rmSync(path, { force: true });
}

interface ProcStat {
  readonly state: string;
  readonly ppid: number;
  readonly pgrp: number;
}

function procStat(pid: number): ProcStat | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: parse after the last ')'.
    const rest = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0] ?? '?', ppid: Number(rest[1]), pgrp: Number(rest[2]) };
  } catch {
    return undefined;
  }
}

/** A process that exists and is not a zombie (a zombie is dead; only its parent has not reaped it). */
export function isAlive(pid: number): boolean {
  const st = procStat(pid);
  return st !== undefined && st.state !== 'Z' && st.state !== 'X';
}

export function procCmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .split('\0')
      .filter((s) => s.length > 0);
  } catch {
    return [];
  }
}

function procEnviron(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

/** Living members of a process group. */
export function groupMembers(pgid: number): number[] {
  return allPids().filter((pid) => {
    const st = procStat(pid);
    return st !== undefined && st.pgrp === pgid && st.state !== 'Z' && st.state !== 'X';
  });
}

/** This process and its ancestors: never to be signalled by a scan. */
function selfAndAncestors(): Set<number> {
  const out = new Set<number>();
  let pid = process.pid;
  while (pid > 1 && !out.has(pid)) {
    out.add(pid);
    pid = procStat(pid)?.ppid ?? 0;
  }
  return out;
}

/**
 * Living processes that belong to the stack rooted at localDir: those carrying our environment
 * markers (for `service`, only that service's) and those whose command line names one of
 * `pathMarkers` (data or config paths under localDir). Our own process and ancestors are excluded.
 */
export function findStackProcesses(
  localDir: string,
  service: string | undefined,
  pathMarkers: readonly string[],
): number[] {
  const skip = selfAndAncestors();
  const dirMark = `${MARK_DIR}=${localDir}`;
  const svcMark = service === undefined ? undefined : `${MARK_SERVICE}=${service}`;
  return allPids().filter((pid) => {
    if (skip.has(pid) || !isAlive(pid)) return false;
    const env = procEnviron(pid);
    if (env.includes(dirMark) && (svcMark === undefined || env.includes(svcMark))) return true;
    const cmd = procCmdline(pid).join(' ');
    return pathMarkers.some((m) => cmd.includes(m));
  });
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone (ESRCH), or not ours to signal (EPERM): the caller re-checks what is left.
  }
}

/**
 * Stops a process group: `sig` to the group, up to `graceMs` for it to empty, then SIGKILL.
 * Returns the pids that were still alive after SIGKILL (normally none).
 */
export async function stopGroup(pgid: number, sig: NodeJS.Signals, graceMs: number): Promise<number[]> {
  if (groupMembers(pgid).length === 0) return [];
  signal(-pgid, sig);
  if (await waitUntil(() => groupMembers(pgid).length === 0, graceMs)) return [];
  signal(-pgid, 'SIGKILL');
  await waitUntil(() => groupMembers(pgid).length === 0, 5_000);
  return groupMembers(pgid);
}

/** Stops loose processes (not a group): SIGTERM, grace, SIGKILL. Returns those that survived. */
export async function stopPids(pids: readonly number[], graceMs: number): Promise<number[]> {
  const alive = (): number[] => pids.filter(isAlive);
  for (const pid of alive()) signal(pid, 'SIGTERM');
  if (await waitUntil(() => alive().length === 0, graceMs)) return [];
  for (const pid of alive()) signal(pid, 'SIGKILL');
  await waitUntil(() => alive().length === 0, 5_000);
  return alive();
}

export async function waitUntil(cond: () => boolean, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (cond()) return true;
    if (performance.now() >= deadline) return false;
    await sleep(everyMs);
  }
}

/**
 * The last `n` lines of a file; with `afterLine`, only what follows the last occurrence of that
 * line (the start banner), so a failure shows this start's output and not an older run's.
 */
export function tailLines(path: string, n: number, afterLine?: string): string[] {
  if (!existsSync(path)) return [];
  let lines = readFileSync(path, 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (afterLine !== undefined) {
    const at = lines.lastIndexOf(afterLine);
    if (at >= 0) lines = lines.slice(at + 1);
  }
  return lines.slice(-n);
}

/**
 * Best effort: who listens on a TCP port (from /proc/net/tcp{,6} and the fd tables we can read).
 * Used only to make a "port in use" error name the culprit.
 */
export function portListener(port: number): { pid: number; command: string } | undefined {
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is field 1 (ADDR:PORT), st is field 3 (0A = LISTEN), inode is field 9.
      if (f[1]?.endsWith(`:${hexPort}`) && f[3] === '0A' && f[9]) inodes.add(f[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const pid of allPids()) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m?.[1] && inodes.has(m[1])) return { pid, command: procCmdline(pid).join(' ') };
    }
  }
  return undefined;
}
