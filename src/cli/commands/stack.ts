import type { Command } from 'commander';
import { AepredError } from '../../shared/errors.js';

// Placeholder wiring: the stack manager (src/stack/) is being built under issue #2.
export function registerStack(program: Command): void {
  const stack = program.command('stack').description('Run the local real-service stack (Kafka, Postgres, Redis, ...)');
  for (const verb of ['up', 'down', 'status']) {
    stack
      .command(verb)
      .description(`${verb} the local stack`)
      .action(() => {
        throw new AepredError('AEP_NOT_BUILT', `stack ${verb} is not implemented yet`);
      });
  }
}
