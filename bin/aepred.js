#!/usr/bin/env node
// Entry for `npx aepred`: runs the compiled CLI (built by `make build` / `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('aepred: the CLI is not built yet; run `make build` (or `npm run build`) first.\n');
  process.exit(2);
}
const { run } = await import(main.href);
process.exitCode = await run(process.argv);
