import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { loadParams } from '../../config/params.js';
import type { SinkTarget } from '../../producers/sink.js';
import { openSink, parseSinkTarget } from '../../producers/target.js';
import { AepredError } from '../../shared/errors.js';
import { LOCAL_DIR } from '../../shared/paths.js';
import { type Rate, simulate } from '../../sim/run.js';
import { isScenario, SCENARIOS, type ScenarioName } from '../../sim/scenario.js';
import { type Clock, parseStart } from '../../sim/time.js';
import { progress } from '../progress.js';

export interface SimulateArgs {
  patients: number;
  days: number;
  seed: number;
  startMs: number;
  scenario: ScenarioName;
  target: SinkTarget;
  rate: Rate;
  manifest: string;
}

function usage(flag: string, message: string): AepredError {
  return new AepredError('AEP_USAGE_SIMULATE', `${flag} ${message}`, { kind: 'usage' });
}

function intFlag(flag: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw usage(flag, `must be an integer from ${min} to ${max} (got "${raw}")`);
  }
  return n;
}

/** Validates every flag before any work starts; each error names its flag (exit code 2). */
export function parseSimulateArgs(o: Record<string, unknown>, defaultStart: string): SimulateArgs {
  const str = (k: string) => (o[k] === undefined ? undefined : String(o[k]));
  const patients = intFlag('--patients', str('patients') ?? '', 1, 1_000_000);
  const days = intFlag('--days', str('days') ?? '', 1, 3650);
  const seed = intFlag('--seed', str('seed') ?? '', 0, 4_294_967_295);
  const startRaw = str('start') ?? defaultStart;
  const startMs = parseStart(startRaw);
  if (Number.isNaN(startMs))
    throw usage('--start', `must be a date YYYY-MM-DD or an RFC 3339 instant (got "${startRaw}")`);
  if (startMs % 1000 !== 0) throw usage('--start', 'must be a whole second');
  const scenario = str('scenario') ?? 'baseline';
  if (!isScenario(scenario))
    throw usage('--scenario', `must be one of ${SCENARIOS.join(', ')} (got "${scenario}")`);
  const rateRaw = str('rate') ?? 'max';
  let rate: Rate;
  if (rateRaw === 'max') rate = { kind: 'max' };
  else if (rateRaw === 'realtime') rate = { kind: 'paced', factor: 1 };
  else {
    const m = /^x(\d+(\.\d+)?)$/.exec(rateRaw);
    const f = m === null ? Number.NaN : Number(m[1]);
    if (!(f > 0))
      throw usage('--rate', `must be realtime, max or xN with N > 0, e.g. x60 (got "${rateRaw}")`);
    rate = { kind: 'paced', factor: f };
  }
  const to = o.to as string[] | string | undefined;
  const target = parseSinkTarget(to, '--to');
  const manifest =
    str('manifest') ??
    (target.to === 'dir'
      ? resolve(target.path, 'manifest.json')
      : resolve(LOCAL_DIR, 'sim', `manifest-${scenario}-s${seed}.json`));
  return { patients, days, seed, startMs, scenario, target, rate, manifest: resolve(manifest) };
}

const realClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

export function registerSimulate(program: Command): void {
  program
    .command('simulate')
    .description('Simulate a clinical trial: vitals, labs, medications, adverse events (and enrollment)')
    .requiredOption('--patients <n>', 'number of patients')
    .requiredOption('--days <d>', 'days of trial time')
    .requiredOption('--seed <s>', 'random seed (same seed and arguments: byte-identical output)')
    .option(
      '--start <date>',
      'first day (YYYY-MM-DD or RFC 3339; default params.yaml simulator.default_start)',
    )
    .option('--scenario <name>', `one of ${SCENARIOS.join(', ')}`, 'baseline')
    .option('--to <target...>', 'kafka | dir PATH', ['kafka'])
    .option('--rate <rate>', 'realtime | max | xN (N times real time)', 'max')
    .option('--manifest <path>', 'ground-truth manifest (default: PATH/manifest.json for --to dir)')
    .action(async (opts: Record<string, unknown>) => {
      const params = loadParams().simulator;
      const args = parseSimulateArgs(opts, params.default_start);
      const sink = await openSink(args.target);
      const bar = progress('simulate', args.days);
      const t0 = performance.now();
      let manifest: Awaited<ReturnType<typeof simulate>>;
      try {
        manifest = await simulate(
          {
            patients: args.patients,
            days: args.days,
            seed: args.seed,
            startMs: args.startMs,
            scenario: args.scenario,
            rate: args.rate,
          },
          { params, sink, clock: realClock, onDay: () => bar.tick(1) },
        );
      } finally {
        bar.stop();
        await sink.close();
      }
      const seconds = (performance.now() - t0) / 1000;
      mkdirSync(dirname(args.manifest), { recursive: true });
      writeFileSync(args.manifest, `${JSON.stringify(manifest, null, 1)}\n`);
      const c = manifest.counts;
      const total = c['patient-vitals'] + c['lab-results'] + c.medications + c['adverse-events'];
      process.stdout.write(
        `simulate: ${total} events (vitals ${c['patient-vitals']}, labs ${c['lab-results']}, medications ${c.medications}, adverse events ${c['adverse-events']}), ${c.enrollment} patients, ${manifest.faults.length} faults, ${seconds.toFixed(1)} s (${Math.round(total / seconds)} events/s)\nmanifest: ${args.manifest}\n`,
      );
    });
}
