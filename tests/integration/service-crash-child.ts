/**
 * The service process the crash test SIGKILLs: a Service over the test's topics, printing its feed
 * progress as one JSON line per Kafka batch. argv[2] is the JSON of ServiceSetup.
 */
import { makeService, type ServiceSetup } from './service-harness.js';

const setup = JSON.parse(process.argv[2] ?? '{}') as ServiceSetup;
const service = makeService({
  ...setup,
});
const svc = service;
await svc.start();
process.stdout.write(`${JSON.stringify({ started: true })}\n`);
let last = 0;
setInterval(() => {
  const p = svc.feedProgress;
  if (p && p.batches !== last) {
    last = p.batches;
    process.stdout.write(`${JSON.stringify(p)}\n`);
  }
}, 20);
