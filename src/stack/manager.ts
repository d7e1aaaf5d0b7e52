/**
 * The stack manager: the generic life cycle every ServiceDef goes through. Services say what to
 * install, prepare, launch and probe; the manager orders them by dependency, checks ports, spawns
 * them detached with pid and log files, waits on the real probe, and stops whole process groups.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AepredError } from '../shared/errors.js';
import type { StackConfig } from './config.js';
import { portFree } from './probes.js';
import {
  findStackProcesses,
  isAlive,
  lookupUser,
  MARK_DIR,
  MARK_SERVICE,
  type OsUser,
  portListener,
  procCmdline,
  readPidFile,
  removePidFile,
  spawnDetached,
  startBanner,
  stopGroup,
  stopPids,
  tailLines,
} from './process.js';
import { formatReserved, reservePorts, stackPorts } from './reserved-ports.js';
import type { ServiceContext, ServiceDef, ServiceName } from './types.js';

const LOG_TAIL_LINES = 30;
const DEFAULT_STOP_GRACE_S = 20;
const PROGRESS_EVERY_MS = 10_000;

export type Health = 'healthy' | 'unhealthy' | 'stopped';

export interface ServiceStatus {
  readonly service: ServiceName;
  readonly port: number;
  readonly pid: number | null;
  readonly health: Health;
}

export interface UpResult {
  readonly service: ServiceName;
  readonly outcome: 'started' | 'already running';
  readonly seconds: number;
}

export interface StackManagerOptions {
  readonly config: StackConfig;
  readonly localDir: string;
  readonly services: readonly ServiceDef[];
  readonly say: (line: string) => void;
  readonly isRoot?: boolean;
}

/**
 * The services to start for `selected` (all when empty), dependencies first. Throws on an unknown
 * name (a usage error), an unknown dependency or a cycle (a programming error in a ServiceDef).
 */
export function startOrder(defs: readonly ServiceDef[], selected: readonly string[] = []): ServiceDef[] {
  const byName = new Map(defs.map((d) => [d.name as string, d]));
  for (const name of selected) {
    if (!byName.has(name)) {
      throw new AepredError('AEP_STACK_UNKNOWN_SERVICE', `unknown service '${name}'`, {
        kind: 'usage',
        detail: `known services: ${[...byName.keys()].join(', ')}`,
      });
    }
  }
  const roots = selected.length > 0 ? selected : defs.map((d) => d.name);
  const order: ServiceDef[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: readonly string[]): void => {
    const def = byName.get(name);
    if (!def) {
      throw new AepredError(
        'AEP_STACK_BAD_DEPENDENCY',
        `${path.at(-1)} depends on '${name}', which is not a known service`,
      );
    }
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') {
      throw new AepredError('AEP_STACK_BAD_DEPENDENCY', `dependency cycle: ${[...path, name].join(' -> ')}`);
    }
    state.set(name, 'visiting');
    for (const dep of def.dependsOn) visit(dep, [...path, name]);
    state.set(name, 'done');
    order.push(def);
  };
  for (const name of roots) visit(name, []);
  return order;
}

/**
 * The services to stop for `selected` (all when empty): each named service plus everything that
 * depends on it, dependents first.
 */
export function stopOrder(defs: readonly ServiceDef[], selected: readonly string[] = []): ServiceDef[] {
  const all = startOrder(defs);
  if (selected.length === 0) return all.reverse();
  startOrder(defs, selected); // validates names
  const doomed = new Set<string>(selected);
  // `all` is topological, so one forward pass sees every dependency before its dependents.
  for (const def of all) {
    if (def.dependsOn.some((d) => doomed.has(d))) doomed.add(def.name);
  }
  return all.filter((d) => doomed.has(d.name)).reverse();
}

export function formatStatusTable(rows: readonly ServiceStatus[]): string {
  const header = ['SERVICE', 'PORT', 'PID', 'HEALTH'];
  const cells = rows.map((r) => [r.service, String(r.port), r.pid === null ? '-' : String(r.pid), r.health]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: readonly string[]): string =>
    c
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...cells.map(line)].join('\n');
}

export class StackManager {
  readonly #opts: StackManagerOptions;
  readonly #isRoot: boolean;

  constructor(opts: StackManagerOptions) {
    // Absolute, so the /proc scans compare like with like whatever the caller's cwd.
    this.#opts = { ...opts, localDir: resolve(opts.localDir) };
    this.#isRoot = opts.isRoot ?? process.getuid?.() === 0;
  }

  get services(): readonly ServiceDef[] {
    return this.#opts.services;
  }

  logFile(name: string): string {
    return join(this.#opts.localDir, 'logs', `${name}.log`);
  }

  pidFile(name: string): string {
    return join(this.#opts.localDir, 'run', `${name}.pid`);
  }

  context(def: ServiceDef): ServiceContext {
    const { config, localDir } = this.#opts;
    return {
      config,
      localDir,
      dataDir: join(localDir, 'data', def.name),
      logFile: this.logFile(def.name),
      isRoot: this.#isRoot,
      say: (line) => this.#opts.say(`${def.name}: ${line}`),
    };
  }

  /** The pid from the pid file when that process is alive and still runs the service's command. */
  runningPid(def: ServiceDef): number | undefined {
    const pid = readPidFile(this.pidFile(def.name));
    if (pid === undefined || !isAlive(pid)) return undefined;
    // Guard against pid reuse after a reboot or a crash: the process must run our command.
    let expected: string;
    try {
      expected = def.launch(this.context(def)).command.split('/').at(-1) ?? '';
    } catch {
      return pid; // launch needs state that is gone; the living pid is the best evidence left
    }
    return procCmdline(pid).join(' ').includes(expected) ? pid : undefined;
  }

  async up(selected: readonly string[] = []): Promise<UpResult[]> {
    const order = startOrder(this.#opts.services, selected);
    for (const dir of ['logs', 'run', 'data']) mkdirSync(join(this.#opts.localDir, dir), { recursive: true });
    // the stack's ports are in the kernel's ephemeral range: keep them from being handed out
    const cfg = this.#opts.config;
    const r = reservePorts(
      stackPorts(
        cfg,
        this.#opts.services.flatMap((d) => [...d.ports(cfg)]),
      ),
    );
    if ('skipped' in r)
      this.#opts.say(
        `ports not reserved from the ephemeral range (${r.skipped}): a busy machine may take one`,
      );
    else if (r.added.length > 0)
      this.#opts.say(
        `reserved the stack's ports from the kernel's ephemeral range: ${formatReserved(r.added)}`,
      );
    const results: UpResult[] = [];
    for (const def of order) results.push(await this.#upOne(def));
    return results;
  }

  async #upOne(def: ServiceDef): Promise<UpResult> {
    const t0 = performance.now();
    const ctx = this.context(def);
    const seconds = (): number => Math.round((performance.now() - t0) / 100) / 10;
    const running = this.runningPid(def);
    if (running !== undefined) {
      if (await this.#probe(def, ctx)) {
        this.#opts.say(`${def.name}: already running (pid ${running})`);
        return { service: def.name, outcome: 'already running', seconds: seconds() };
      }
      // Started by someone else a moment ago, or hung: give it the normal start-up time.
      this.#opts.say(`${def.name}: running (pid ${running}) but not ready yet; waiting`);
      await this.#awaitReady(def, ctx, running, undefined);
      return { service: def.name, outcome: 'already running', seconds: seconds() };
    }
    removePidFile(this.pidFile(def.name));
    await this.#checkPorts(def);
    await def.ensureInstalled(ctx);
    mkdirSync(ctx.dataDir, { recursive: true });
    await def.prepare(ctx);
    const spec = def.launch(ctx);
    let user: OsUser | undefined;
    if (spec.user !== undefined) {
      user = lookupUser(spec.user);
      if (!user)
        throw new AepredError(
          'AEP_STACK_NO_USER',
          `${def.name} should run as '${spec.user}', which does not exist`,
        );
    }
    const banner = startBanner(def.name, new Date());
    appendFileSync(ctx.logFile, `${banner}\n`);
    const port = def.ports(this.#opts.config)[0];
    this.#opts.say(
      `${def.name}: starting${port === undefined ? '' : ` on ${this.#opts.config.host}:${port}`}`,
    );
    const spawned = spawnDetached({
      command: spec.command,
      args: spec.args,
      env: {
        ...process.env,
        ...spec.env,
        [MARK_DIR]: this.#opts.localDir,
        [MARK_SERVICE]: def.name,
        ...(user ? { HOME: user.home, USER: user.name, LOGNAME: user.name } : {}),
      },
      cwd: spec.cwd ?? ctx.dataDir,
      user,
      logFile: ctx.logFile,
      pidFile: this.pidFile(def.name),
    });
    await this.#awaitReady(def, ctx, spawned.pid, spawned.exited, banner);
    if (def.afterReady) {
      try {
        await def.afterReady(ctx);
      } catch (e) {
        throw new AepredError(
          'AEP_STACK_AFTER_READY_FAILED',
          `${def.name} is up but its set-up step failed`,
          {
            detail: e instanceof Error ? e.message : String(e),
            cause: e,
          },
        );
      }
    }
    this.#opts.say(`${def.name}: healthy in ${seconds()}s (pid ${spawned.pid})`);
    return { service: def.name, outcome: 'started', seconds: seconds() };
  }

  async #checkPorts(def: ServiceDef): Promise<void> {
    const { host } = this.#opts.config;
    for (const port of def.ports(this.#opts.config)) {
      if (await portFree(host, port)) continue;
      const owner = portListener(port);
      const who = owner ? ` by pid ${owner.pid} (${owner.command.slice(0, 120)})` : ' by another process';
      throw new AepredError(
        'AEP_STACK_PORT_IN_USE',
        `port ${port} on ${host}, needed by ${def.name}, is already in use${who}`,
        {
          detail:
            'stop that process, or give the service another port in ops/local/stack.yaml (AEPRED_STACK_CONFIG)',
        },
      );
    }
  }

  async #probe(def: ServiceDef, ctx: ServiceContext): Promise<boolean> {
    try {
      return await def.probe(ctx);
    } catch {
      return false;
    }
  }

  /** Polls the probe with a growing interval until healthy, the process dies, or the timeout. */
  async #awaitReady(
    def: ServiceDef,
    ctx: ServiceContext,
    pid: number,
    exited: Promise<string> | undefined,
    banner?: string,
  ): Promise<void> {
    const timeoutMs = this.#opts.config.startup_timeout_s * 1000;
    const t0 = performance.now();
    let died: string | undefined;
    void exited?.then((how) => {
      died = how;
    });
    let interval = 100;
    let nextProgress = PROGRESS_EVERY_MS;
    for (;;) {
      if (await this.#probe(def, ctx)) return;
      const elapsed = performance.now() - t0;
      if (died !== undefined || !isAlive(pid)) {
        throw this.#startFailure(
          def,
          `${def.name} stopped during start-up (${died ?? 'process gone'})`,
          banner,
        );
      }
      if (elapsed > timeoutMs) {
        // Do not leave a half-started service behind to hold the port.
        await stopGroup(pid, def.stopSignal ?? 'SIGTERM', (def.stopGraceS ?? DEFAULT_STOP_GRACE_S) * 1000);
        removePidFile(this.pidFile(def.name));
        throw this.#startFailure(
          def,
          `${def.name} did not become ready within ${this.#opts.config.startup_timeout_s}s; stopped it`,
          banner,
        );
      }
      if (elapsed > nextProgress) {
        this.#opts.say(`${def.name}: waiting for readiness (${Math.round(elapsed / 1000)}s)`);
        nextProgress += PROGRESS_EVERY_MS;
      }
      await sleep(interval);
      interval = Math.min(interval * 2, 1_000);
    }
  }

  #startFailure(def: ServiceDef, message: string, banner: string | undefined): AepredError {
    const log = this.logFile(def.name);
    const tail = tailLines(log, LOG_TAIL_LINES, banner);
    removePidFile(this.pidFile(def.name));
    return new AepredError('AEP_STACK_START_FAILED', message, {
      detail: [`--- last ${tail.length} lines of ${log} ---`, ...tail, '--- end of log ---'].join('\n'),
    });
  }

  /** Stops services (and their dependents), newest first; verifies nothing of theirs is left. */
  async down(selected: readonly string[] = []): Promise<ServiceName[]> {
    const order = stopOrder(this.#opts.services, selected);
    const stopped: ServiceName[] = [];
    for (const def of order) {
      if (await this.#downOne(def)) stopped.push(def.name);
    }
    if (selected.length === 0) {
      // Whole stack: anything still referencing our data or config paths is a stray of ours.
      const strays = findStackProcesses(this.#opts.localDir, undefined, this.#pathMarkers(undefined));
      if (strays.length > 0) {
        this.#opts.say(`stopping ${strays.length} stray stack process(es): ${strays.join(', ')}`);
        const left = await stopPids(strays, DEFAULT_STOP_GRACE_S * 1000);
        if (left.length > 0) {
          throw new AepredError('AEP_STACK_STOP_FAILED', `processes survived SIGKILL: ${left.join(', ')}`);
        }
      }
    }
    return stopped;
  }

  #pathMarkers(name: string | undefined): string[] {
    const { localDir } = this.#opts;
    return name === undefined
      ? [`${localDir}/data/`]
      : [`${join(localDir, 'data', name)}/`, join(localDir, 'data', name)];
  }

  async #downOne(def: ServiceDef): Promise<boolean> {
    const pidFile = this.pidFile(def.name);
    const pid = readPidFile(pidFile);
    const graceMs = (def.stopGraceS ?? DEFAULT_STOP_GRACE_S) * 1000;
    let acted = false;
    if (pid !== undefined) {
      this.#opts.say(`${def.name}: stopping (pid ${pid})`);
      // The pid is a session and group leader (spawned detached), so -pid reaches every child.
      const left = await stopGroup(pid, def.stopSignal ?? 'SIGTERM', graceMs);
      if (left.length > 0) {
        throw new AepredError(
          'AEP_STACK_STOP_FAILED',
          `${def.name}: processes survived SIGKILL: ${left.join(', ')}`,
        );
      }
      acted = true;
    }
    const strays = findStackProcesses(this.#opts.localDir, def.name, this.#pathMarkers(def.name));
    if (strays.length > 0) {
      this.#opts.say(`${def.name}: stopping stray process(es) ${strays.join(', ')}`);
      const left = await stopPids(strays, graceMs);
      if (left.length > 0) {
        throw new AepredError(
          'AEP_STACK_STOP_FAILED',
          `${def.name}: processes survived SIGKILL: ${left.join(', ')}`,
        );
      }
      acted = true;
    }
    removePidFile(pidFile);
    if (acted) this.#opts.say(`${def.name}: stopped`);
    return acted;
  }

  async status(): Promise<ServiceStatus[]> {
    const order = startOrder(this.#opts.services);
    return Promise.all(
      order.map(async (def): Promise<ServiceStatus> => {
        const pid = this.runningPid(def);
        const port = def.ports(this.#opts.config)[0] ?? 0;
        if (pid === undefined) return { service: def.name, port, pid: null, health: 'stopped' };
        const ok = await this.#probe(def, this.context(def));
        return { service: def.name, port, pid, health: ok ? 'healthy' : 'unhealthy' };
      }),
    );
  }
}
