import { Command, CommanderError } from 'commander';
import { isAepredError } from '../shared/errors.js';
import { registerApiKey } from './commands/apikey.js';
import { registerAudit } from './commands/audit.js';
import { registerDb } from './commands/db.js';
import { registerImport } from './commands/import.js';
import { registerIngest } from './commands/ingest.js';
import { registerLineage } from './commands/lineage.js';
import { registerServe } from './commands/serve.js';
import { registerSimulate } from './commands/simulate.js';
import { registerStack } from './commands/stack.js';

/** Every command module adds itself here; the entry file only wires. */
const registrars: Array<(program: Command) => void> = [
  registerStack,
  registerDb,
  registerImport,
  registerIngest,
  registerSimulate,
  registerServe,
  registerAudit,
  registerApiKey,
  registerLineage,
];

export function buildProgram(): Command {
  const program = new Command('aepred')
    .description('Real-time adverse-event prediction for clinical trials')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => process.stdout.write(s),
      writeErr: (s) => process.stderr.write(s),
    });
  for (const register of registrars) register(program);
  // Sub-commands inherit exitOverride so a usage error anywhere maps to exit code 2.
  for (const cmd of program.commands) applyOverride(cmd);
  return program;
}

function applyOverride(cmd: Command): void {
  cmd.exitOverride().showHelpAfterError('(run with --help for usage)');
  for (const sub of cmd.commands) applyOverride(sub);
}

/** Runs the CLI; returns the process exit code (0 ok, 1 operational failure, 2 usage error). */
export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  if (argv.length <= 2) {
    program.outputHelp({ error: true });
    return 2;
  }
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version are "errors" to commander but successes to the user.
      if (
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.code === 'commander.help'
      ) {
        return 0;
      }
      return 2;
    }
    if (isAepredError(e)) {
      process.stderr.write(`aepred: error ${e.code}: ${e.message}\n`);
      if (e.detail) process.stderr.write(`${e.detail}\n`);
      return e.exitCode;
    }
    process.stderr.write(
      `aepred: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
    );
    return 1;
  }
}
