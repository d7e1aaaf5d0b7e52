// Runs the CLI from source (node --import tsx), so the ingest stress test needs no build step.
import { run } from '../../src/cli/main.js';

process.exitCode = await run(process.argv);
