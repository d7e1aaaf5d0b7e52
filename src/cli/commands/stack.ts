import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { AepredError } from '../../shared/errors.js';
import { LOCAL_DIR } from '../../shared/paths.js';
import { loadStackConfig } from '../../stack/config.js';
import { formatStatusTable, StackManager } from '../../stack/manager.js';
import { tailLines } from '../../stack/process.js';
import type { ServiceName } from '../../stack/types.js';

/** For help texts only; the service definitions (and their heavy client libraries) load lazily. */
export const SERVICE_NAMES: readonly ServiceName[] = [
  'postgres',
  'redis',
  'kafka',
  'minio',
  'mlflow',
  'prometheus',
  'alertmanager',
];

async function manager(): Promise<StackManager> {
  // Loaded on use: the AWS SDK, kafkajs and pg would otherwise slow every aepred command's start.
  const { SERVICES } = await import('../../stack/services/index.js');
  return new StackManager({
    config: loadStackConfig(),
    localDir: LOCAL_DIR,
    services: SERVICES,
    say: (line) => process.stderr.write(`${line}\n`),
  });
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

const serviceNames = (): string => SERVICE_NAMES.join(', ');

export function registerStack(program: Command): void {
  const stack = program
    .command('stack')
    .description(`Run the local real-service stack (${serviceNames()}); state under .local/`);

  stack
    .command('up')
    .description('Start services (all, or the named ones and their dependencies); idempotent')
    .argument('[services...]', `any of: ${serviceNames()}`)
    .action(async (names: string[]) => {
      const t0 = performance.now();
      const results = await (await manager()).up(names);
      const started = results.filter((r) => r.outcome === 'started').length;
      process.stdout.write(
        `stack up: ${results.length} service(s) healthy (${started} started, ${results.length - started} already running) in ${((performance.now() - t0) / 1000).toFixed(1)}s\n`,
      );
    });

  stack
    .command('down')
    .description('Stop services (all, or the named ones and what depends on them); leaves no process behind')
    .argument('[services...]', `any of: ${serviceNames()}`)
    .action(async (names: string[]) => {
      const stopped = await (await manager()).down(names);
      process.stdout.write(
        stopped.length === 0
          ? 'stack down: nothing was running\n'
          : `stack down: stopped ${stopped.join(', ')}\n`,
      );
    });

  stack
    .command('status')
    .description('Print service, port, pid and health of every service (exit 0 even when stopped)')
    .option('--json', 'print JSON for machines')
    .action(async (opts: { json?: boolean }) => {
      const rows = await (await manager()).status();
      process.stdout.write(opts.json ? `${JSON.stringify(rows, null, 2)}\n` : `${formatStatusTable(rows)}\n`);
    });

  stack
    .command('logs')
    .description('Print the tail of a service log (all services when none is named)')
    .argument('[service]', `one of: ${serviceNames()}`)
    .addOption(new Option('-n, --lines <n>', 'lines to print per log').argParser(positiveInt).default(50))
    .option('-f, --follow', 'keep printing as the log grows (Ctrl-C to stop)')
    .action(async (service: string | undefined, opts: { lines: number; follow?: boolean }) => {
      const m = await manager();
      if (service !== undefined && !m.services.some((s) => s.name === service)) {
        throw new AepredError('AEP_STACK_UNKNOWN_SERVICE', `unknown service '${service}'`, {
          kind: 'usage',
          detail: `known services: ${serviceNames()}`,
        });
      }
      const names = service === undefined ? m.services.map((s) => s.name) : [service];
      const prefix = names.length > 1;
      for (const name of names) {
        const file = m.logFile(name);
        if (!existsSync(file)) {
          if (!prefix) process.stderr.write(`no log yet at ${file}\n`);
          continue;
        }
        if (prefix) process.stdout.write(`==> ${file} <==\n`);
        for (const line of tailLines(file, opts.lines)) process.stdout.write(`${line}\n`);
      }
      if (opts.follow)
        await follow(
          names.map((n) => ({ name: n, file: m.logFile(n) })),
          prefix,
        );
    });
}

/** Polls the logs for appended bytes; a log that shrinks (rotated, deleted) is read from the start. */
async function follow(logs: ReadonlyArray<{ name: string; file: string }>, prefix: boolean): Promise<never> {
  const offsets = new Map(logs.map((l) => [l.file, existsSync(l.file) ? statSync(l.file).size : 0]));
  for (;;) {
    for (const { name, file } of logs) {
      if (!existsSync(file)) continue;
      const size = statSync(file).size;
      let from = offsets.get(file) ?? 0;
      if (size < from) from = 0;
      if (size === from) continue;
      const buf = Buffer.alloc(size - from);
      const fd = openSync(file, 'r');
      try {
        readSync(fd, buf, 0, buf.length, from);
      } finally {
        closeSync(fd);
      }
      offsets.set(file, size);
      const text = buf.toString('utf8');
      process.stdout.write(prefix ? text.replace(/^(?=.)/gm, `${name} | `) : text);
    }
    await sleep(250);
  }
}
